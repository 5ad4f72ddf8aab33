// cgroup.h: what the kernel lets this process use, read from cgroups.
//
// Reader finds the process's cpu cgroup (v1, v2 or hybrid), maps it through
// /proc/self/mountinfo to a directory (also when the hierarchy is mounted
// from a non-root cgroup, as inside containers), keeps the quota files of
// that cgroup and of every ancestor visible under the mount open, and reads
// them with pread. The tightest quota over all levels wins.
//
// Invariants:
//   - Every path read is root_ + an absolute path ("/proc/self/cgroup",
//     mount points from mountinfo), so a fixture tree can stand in for /proc
//     and /sys/fs/cgroup. The real system uses root "".
//   - read() does not allocate as long as /proc/self/cgroup reads the same as
//     at the last open (the steady path: preads of kept-open fds into stack
//     buffers). A change there (the process moved) or a fork re-opens, which
//     does allocate.
//   - Nothing here fails hard: a missing, unreadable or malformed file means
//     "no limit at that level" plus a warning in the Snapshot.
//   - A Reader is not thread-safe; its owner serializes (maxprocs.cpp).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace goro::rt::cgroup {

constexpr int kMaxLevels = 32;     // cgroup levels (leaf + ancestors) followed
constexpr size_t kPathMax = 1024;  // hierarchy path of the leaf cgroup
constexpr size_t kSelfMax = 8192;  // /proc/self/cgroup content compared for moves
constexpr size_t kNameMax = 256;   // paths reported in a Snapshot (truncated)
constexpr size_t kWarnMax = 256;

// One reading of the limits.
struct Snapshot {
  int version = 0;                   // hierarchy of the cpu controller: 1 or 2; 0 none found
  int64_t quota_us = -1;             // the tightest quota per period; -1: no quota anywhere
  int64_t period_us = 0;             // its period (0 when quota_us is -1)
  int cpuset_cpus = 0;               // CPUs in the cgroup's effective cpuset; 0: unknown
  int levels = 0;                    // cgroup levels whose quota files are open
  char cgroup[kNameMax] = {};        // the process's cpu cgroup, /proc/self/cgroup notation
  char limit_cgroup[kNameMax] = {};  // the level the quota came from ("" when none)
  int warnings = 0;                  // problems met (open time + this read)
  char warning[kWarnMax] = {};       // the first of them
};

class Reader {
 public:
  Reader() = default;
  ~Reader() { close(); }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // Sets the prefix of every path (nullptr or "": the real system) and
  // closes everything; the next read() re-opens.
  void set_root(const char* root);
  // Reads the current limits into *out. Opens on first use and re-opens
  // after a move or a fork. Returns true when it (re)opened.
  bool read(Snapshot* out);
  // Closes every fd.
  void close();
  // Number of fds held (tests).
  int fds() const;

 private:
  struct Level {
    int quota_fd = -1;    // v1 cpu.cfs_quota_us, v2 cpu.max
    int period_fd = -1;   // v1 cpu.cfs_period_us
    size_t path_len = 0;  // this level's path is leaf_[0, path_len) ("/" if 0)
  };
  void open_all();
  void warn_open(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  bool self_changed();

  char root_[512] = {};
  bool opened_ = false;
  pid_t pid_ = 0;
  int self_fd_ = -1;
  size_t self_len_ = 0;
  char self_[kSelfMax] = {};
  int version_ = 0;
  char leaf_[kPathMax] = {};  // hierarchy path of the cpu cgroup
  Level levels_[kMaxLevels];
  int nlevels_ = 0;
  int cpuset_fd_ = -1;
  int open_warnings_ = 0;
  char open_warning_[kWarnMax] = {};
};

// Why the automatic maxprocs has its value (goro_cpu_limits_t.limited_by).
enum LimitedBy : int { kByAffinity = 1, kByCpuset = 2, kByQuota = 3, kByMin = 4 };

// auto_procs is the automatic maxprocs: min(affinity, cpuset, quota rounded
// per `rounding` (1 ceil, 2 floor; a quota below one CPU counts as 1)), then
// at least `min`, clamped to 1..GORO_MAXPROCS_MAX. *by says which bound won.
int auto_procs(int affinity, const Snapshot& s, int rounding, int min, int* by);

// Counts the CPUs in a cpu list ("0-3,8,10-11"). -1 if malformed.
int count_cpu_list(const char* s, size_t n);

}  // namespace goro::rt::cgroup
