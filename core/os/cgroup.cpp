// cgroup.cpp: the cgroup reader (see cgroup.h for what it owns and its
// invariants; docs/maxprocs.md for the policy built on it).
//
// Finding the files, once per open:
//   1. /proc/self/cgroup: "ID:CONTROLLERS:PATH" lines. v1 lines name their
//      controllers ("4:cpu,cpuacct:/a"); the v2 line is "0::/a". The cpu
//      controller can sit on one hierarchy only, so a v1 line naming "cpu"
//      wins over the v2 line (hybrid layouts such as this machine's, where
//      the unified hierarchy has no controllers).
//   2. /proc/self/mountinfo: the mounts of that hierarchy (fstype "cgroup"
//      with "cpu" among the super options, or "cgroup2"). A mount shows the
//      subtree rooted at its field 4 ("root"); inside containers that is the
//      container's own cgroup, not "/". Of the mounts whose root is PATH or
//      an ancestor of it, the shortest root wins (it shows the most
//      ancestors), and the directory is mountpoint + (PATH - root).
//   3. The leaf directory and every ancestor up to the mount's root: v1
//      cpu.cfs_quota_us + cpu.cfs_period_us, v2 cpu.max. Ancestors above the
//      mount root are invisible to the process and cannot be read.
//   4. The effective cpuset of the leaf (v1 cpuset.effective_cpus or
//      cpuset.cpus on the cpuset hierarchy, v2 cpuset.cpus.effective).
// Steady reads pread those fds plus /proc/self/cgroup (to see moves).
#include "os/cgroup.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "goro/goro.h"

namespace goro::rt::cgroup {

namespace {

// Strict decimal int64, optionally negative, spanning [s, s+n) exactly.
bool parse_i64(const char* s, size_t n, int64_t* out) {
  if (n == 0 || n > 19) return false;
  bool neg = false;
  size_t i = 0;
  if (s[0] == '-') {
    neg = true;
    i = 1;
    if (n == 1) return false;
  }
  int64_t v = 0;
  for (; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    if (v > (INT64_MAX - (s[i] - '0')) / 10) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = neg ? -v : v;
  return true;
}

// pread()s a small file from offset 0 into buf (NUL-terminated, trailing
// whitespace stripped). Returns the length, or -errno. -EFBIG if it fills buf.
ssize_t pread_small(int fd, char* buf, size_t cap) {
  ssize_t n;
  do {
    n = pread(fd, buf, cap - 1, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  if (size_t(n) == cap - 1) return -EFBIG;
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\t')) n--;
  buf[n] = 0;
  return n;
}

bool read_whole(const std::string& path, std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out->clear();
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return n == 0;
    }
    out->append(buf, size_t(n));
  }
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> v;
  size_t b = 0;
  for (;;) {
    size_t e = s.find(sep, b);
    v.push_back(s.substr(b, e == std::string::npos ? std::string::npos : e - b));
    if (e == std::string::npos) return v;
    b = e + 1;
  }
}

bool has_item(const std::string& list, const char* item) {
  for (const std::string& x : split(list, ','))
    if (x == item) return true;
  return false;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(const std::string& s) {
  std::string o;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      o += char((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      o += s[i];
    }
  }
  return o;
}

struct Mount {
  std::string root, point, fstype, super;
};

std::vector<Mount> parse_mountinfo(const std::string& text) {
  std::vector<Mount> ms;
  for (const std::string& line : split(text, '\n')) {
    if (line.empty()) continue;
    std::vector<std::string> f = split(line, ' ');
    size_t dash = 0;
    for (size_t i = 6; i < f.size(); i++)
      if (f[i] == "-") {
        dash = i;
        break;
      }
    if (dash == 0 || dash + 3 >= f.size()) continue;
    Mount m;
    m.root = unescape(f[3]);
    m.point = unescape(f[4]);
    m.fstype = f[dash + 1];
    m.super = f[dash + 3];
    ms.push_back(std::move(m));
  }
  return ms;
}

// Whether `root` is `path` or an ancestor of it, by whole components.
bool is_prefix(const std::string& root, const std::string& path) {
  if (root == "/") return !path.empty() && path[0] == '/';
  if (path.compare(0, root.size(), root) != 0) return false;
  return path.size() == root.size() || path[root.size()] == '/';
}

void copy_trunc(char* dst, size_t cap, const char* src, size_t n) {
  n = std::min(n, cap - 1);
  memcpy(dst, src, n);
  dst[n] = 0;
}

}  // namespace

int count_cpu_list(const char* s, size_t n) {
  int count = 0;
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    while (j < n && s[j] != ',') j++;
    // [i, j) is "A" or "A-B"
    const char* dash = static_cast<const char*>(memchr(s + i, '-', j - i));
    int64_t a, b;
    if (dash) {
      if (!parse_i64(s + i, size_t(dash - (s + i)), &a) ||
          !parse_i64(dash + 1, size_t(s + j - dash - 1), &b))
        return -1;
    } else {
      if (!parse_i64(s + i, j - i, &a)) return -1;
      b = a;
    }
    if (a < 0 || b < a || b - a > 1 << 20) return -1;
    count += int(b - a + 1);
    if (count > 1 << 20) return -1;
    i = j + 1;
    if (j < n && i == n) return -1;  // trailing comma
  }
  return count;
}

void Reader::set_root(const char* root) {
  close();
  copy_trunc(root_, sizeof root_, root ? root : "", root ? strlen(root) : 0);
}

int Reader::fds() const {
  int n = (self_fd_ >= 0) + (cpuset_fd_ >= 0);
  for (int i = 0; i < nlevels_; i++) n += (levels_[i].quota_fd >= 0) + (levels_[i].period_fd >= 0);
  return n;
}

void Reader::close() {
  if (self_fd_ >= 0) ::close(self_fd_);
  if (cpuset_fd_ >= 0) ::close(cpuset_fd_);
  for (int i = 0; i < nlevels_; i++) {
    if (levels_[i].quota_fd >= 0) ::close(levels_[i].quota_fd);
    if (levels_[i].period_fd >= 0) ::close(levels_[i].period_fd);
    levels_[i] = Level{};
  }
  self_fd_ = cpuset_fd_ = -1;
  nlevels_ = 0;
  self_len_ = 0;
  version_ = 0;
  leaf_[0] = 0;
  open_warnings_ = 0;
  open_warning_[0] = 0;
  opened_ = false;
}

void Reader::warn_open(const char* fmt, ...) {
  if (open_warnings_++ > 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(open_warning_, sizeof open_warning_, fmt, ap);
  va_end(ap);
}

// open_all finds the cgroup and opens its files. Allocates.
void Reader::open_all() {
  close();
  opened_ = true;
  pid_ = getpid();
  std::string root(root_);

  // /proc/self/cgroup: kept open to notice moves.
  std::string selfpath = root + "/proc/self/cgroup";
  self_fd_ = ::open(selfpath.c_str(), O_RDONLY | O_CLOEXEC);
  if (self_fd_ < 0) {
    if (errno != ENOENT) warn_open("%s: %s", selfpath.c_str(), strerror(errno));
    return;  // no cgroups at all (or no /proc): no limits
  }
  ssize_t n = pread_small(self_fd_, self_, sizeof self_);
  if (n < 0) {
    warn_open("%s: %s", selfpath.c_str(), strerror(int(-n)));
    self_[0] = 0;
    n = 0;
  }
  self_len_ = size_t(n);

  std::string v1cpu, v1cpuset, v2;
  bool have_v1cpu = false, have_v1cpuset = false, have_v2 = false, bad = false;
  for (const std::string& line : split(std::string(self_, self_len_), '\n')) {
    if (line.empty()) continue;
    size_t c1 = line.find(':');
    size_t c2 = c1 == std::string::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string::npos || line.size() == c2 + 1 || line[c2 + 1] != '/') {
      bad = true;
      continue;
    }
    std::string id = line.substr(0, c1), ctl = line.substr(c1 + 1, c2 - c1 - 1),
                path = line.substr(c2 + 1);
    if (ctl.empty()) {
      if (id == "0") {
        have_v2 = true;
        v2 = path;
      } else {
        bad = true;
      }
      continue;
    }
    if (has_item(ctl, "cpu")) {
      have_v1cpu = true;
      v1cpu = path;
    }
    if (has_item(ctl, "cpuset")) {
      have_v1cpuset = true;
      v1cpuset = path;
    }
  }
  if (bad) warn_open("%s: malformed line(s) ignored", selfpath.c_str());

  std::string mi;
  std::string mipath = root + "/proc/self/mountinfo";
  if (!read_whole(mipath, &mi)) {
    warn_open("%s: %s", mipath.c_str(), strerror(errno));
    return;
  }
  std::vector<Mount> mounts = parse_mountinfo(mi);

  // find(): the directory of cgroup `path` on the hierarchy, and the mount root.
  auto find = [&](bool isv2, const char* ctl, const std::string& path, std::string* dir,
                  std::string* mroot) {
    const Mount* best = nullptr;
    const Mount* any = nullptr;
    for (const Mount& m : mounts) {
      if (isv2 ? m.fstype != "cgroup2" : (m.fstype != "cgroup" || !has_item(m.super, ctl)))
        continue;
      if (!any) any = &m;
      // Several mounts may show the hierarchy (bind mounts, a host view next
      // to the container's): the one with the shortest root shows the most
      // ancestors.
      if (is_prefix(m.root, path) && (!best || m.root.size() < best->root.size())) best = &m;
    }
    if (!best && any) {
      // The cgroup is outside what any mount shows (e.g. a cgroup namespace
      // whose mount shows only its own subtree): the mount point is the
      // closest we can read.
      warn_open("cgroup %s is outside the %s mount root %s; reading %s", path.c_str(),
                isv2 ? "cgroup2" : ctl, any->root.c_str(), any->point.c_str());
      *dir = root + any->point;
      *mroot = path;  // treat the mount point as this cgroup, no ancestors
      return true;
    }
    if (!best) return false;
    *mroot = best->root;
    *dir = root + best->point + (best->root == "/" ? path : path.substr(best->root.size()));
    return true;
  };

  std::string dir, mroot, leaf;
  if (have_v1cpu && find(false, "cpu", v1cpu, &dir, &mroot)) {
    version_ = 1;
    leaf = v1cpu;
  } else if (have_v2 && find(true, nullptr, v2, &dir, &mroot)) {
    version_ = 2;
    leaf = v2;
  } else if (have_v1cpu || have_v2) {
    warn_open("no mount of the cpu cgroup hierarchy in %s", mipath.c_str());
  }
  // A cgroup path ends in " (deleted)" when its directory was removed.
  if (version_) {
    if (leaf.size() >= sizeof leaf_) {
      warn_open("cgroup path too long (%zu bytes)", leaf.size());
      version_ = 0;
    }
  }
  if (version_) {
    memcpy(leaf_, leaf.c_str(), leaf.size() + 1);
    // Walk up from the leaf to the mount root.
    std::string lvl = leaf;
    std::string d = dir;
    for (;;) {
      if (nlevels_ == kMaxLevels) {
        warn_open("cgroup %s: more than %d levels; ancestors above ignored", leaf_, kMaxLevels);
        break;
      }
      Level& L = levels_[nlevels_];
      L.path_len = lvl == "/" ? 0 : lvl.size();
      const char* qname = version_ == 1 ? "/cpu.cfs_quota_us" : "/cpu.max";
      std::string q = d + qname;
      L.quota_fd = ::open(q.c_str(), O_RDONLY | O_CLOEXEC);
      if (L.quota_fd < 0 && errno != ENOENT) warn_open("%s: %s", q.c_str(), strerror(errno));
      if (version_ == 1 && L.quota_fd >= 0) {
        std::string p = d + "/cpu.cfs_period_us";
        L.period_fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
        if (L.period_fd < 0) {
          warn_open("%s: %s", p.c_str(), strerror(errno));
          ::close(L.quota_fd);
          L.quota_fd = -1;
        }
      }
      if (L.quota_fd >= 0) nlevels_++;
      if (lvl.size() <= mroot.size() || lvl == "/") break;
      size_t cut = lvl.rfind('/');
      size_t dcut = d.rfind('/');
      lvl = cut == 0 ? "/" : lvl.substr(0, cut);
      d = d.substr(0, dcut);
    }
  }

  // The effective cpuset of the leaf.
  std::string cdir, croot;
  if (have_v1cpuset && find(false, "cpuset", v1cpuset, &cdir, &croot)) {
    cpuset_fd_ = ::open((cdir + "/cpuset.effective_cpus").c_str(), O_RDONLY | O_CLOEXEC);
    if (cpuset_fd_ < 0) cpuset_fd_ = ::open((cdir + "/cpuset.cpus").c_str(), O_RDONLY | O_CLOEXEC);
  } else if (have_v2 && find(true, nullptr, v2, &cdir, &croot)) {
    cpuset_fd_ = ::open((cdir + "/cpuset.cpus.effective").c_str(), O_RDONLY | O_CLOEXEC);
  }
}

// self_changed: whether /proc/self/cgroup differs from what open_all saw.
// No allocation.
bool Reader::self_changed() {
  if (getpid() != pid_) return true;  // forked: our fds describe the parent
  if (self_fd_ < 0) return false;
  char buf[kSelfMax];
  ssize_t n = pread_small(self_fd_, buf, sizeof buf);
  if (n < 0) return false;  // keep what we have; open_all would fail the same way
  return size_t(n) != self_len_ || memcmp(buf, self_, self_len_) != 0;
}

bool Reader::read(Snapshot* s) {
  bool reopened = false;
  if (!opened_ || self_changed()) {
    open_all();
    reopened = true;
  }
  *s = Snapshot{};
  s->version = version_;
  s->levels = nlevels_;
  s->warnings = open_warnings_;
  memcpy(s->warning, open_warning_, sizeof s->warning);
  if (version_) copy_trunc(s->cgroup, sizeof s->cgroup, leaf_, strlen(leaf_));

  auto warn = [s](const char* what, const char* path, size_t plen, const char* file) {
    if (s->warnings++ > 0) return;
    snprintf(s->warning, sizeof s->warning, "cgroup %.*s: %s: %s", int(plen ? plen : 1),
             plen ? path : "/", file, what);
  };

  int best = -1;
  for (int i = 0; i < nlevels_; i++) {
    const Level& L = levels_[i];
    char buf[128];
    int64_t q = -1, p = 0;
    const char* qname = version_ == 1 ? "cpu.cfs_quota_us" : "cpu.max";
    ssize_t n = pread_small(L.quota_fd, buf, sizeof buf);
    if (n < 0) {
      warn(strerror(int(-n)), leaf_, L.path_len, qname);
      continue;
    }
    if (version_ == 1) {
      char pb[64];
      ssize_t pn = pread_small(L.period_fd, pb, sizeof pb);
      if (pn < 0) {
        warn(strerror(int(-pn)), leaf_, L.path_len, "cpu.cfs_period_us");
        continue;
      }
      if (!parse_i64(buf, size_t(n), &q) || q < -1 || q == 0) {
        warn("malformed quota", leaf_, L.path_len, qname);
        continue;
      }
      if (q == -1) continue;
      if (!parse_i64(pb, size_t(pn), &p) || p <= 0) {
        warn("malformed period", leaf_, L.path_len, "cpu.cfs_period_us");
        continue;
      }
    } else {
      // "max 100000" or "50000 100000"
      const char* sp = static_cast<const char*>(memchr(buf, ' ', size_t(n)));
      if (!sp || !parse_i64(sp + 1, size_t(buf + n - sp - 1), &p) || p <= 0) {
        warn("malformed cpu.max", leaf_, L.path_len, qname);
        continue;
      }
      size_t ql = size_t(sp - buf);
      if (ql == 3 && memcmp(buf, "max", 3) == 0) continue;
      if (!parse_i64(buf, ql, &q) || q <= 0) {
        warn("malformed cpu.max", leaf_, L.path_len, qname);
        continue;
      }
    }
    // Tighter when q/p < best_q/best_p.
    if (best < 0 || __int128(q) * s->period_us < __int128(s->quota_us) * p) {
      best = i;
      s->quota_us = q;
      s->period_us = p;
    }
  }
  if (best >= 0) {
    size_t len = levels_[best].path_len;
    if (len == 0)
      copy_trunc(s->limit_cgroup, sizeof s->limit_cgroup, "/", 1);
    else
      copy_trunc(s->limit_cgroup, sizeof s->limit_cgroup, leaf_, len);
  }

  if (cpuset_fd_ >= 0) {
    char buf[1024];
    ssize_t n = pread_small(cpuset_fd_, buf, sizeof buf);
    int c = n > 0 ? count_cpu_list(buf, size_t(n)) : n == 0 ? 0 : -1;
    if (c < 0) {
      if (s->warnings++ == 0)
        snprintf(s->warning, sizeof s->warning, "cgroup %.200s: cpuset: %s", leaf_,
                 n < 0 ? strerror(int(-n)) : "malformed cpu list");
    } else {
      s->cpuset_cpus = c;  // an empty v1 cpuset.cpus counts as unknown (0)
    }
  }
  return reopened;
}

int auto_procs(int affinity, const Snapshot& s, int rounding, int min, int* by) {
  int n = affinity > 0 ? affinity : 1;
  int why = kByAffinity;
  if (s.cpuset_cpus > 0 && s.cpuset_cpus < n) {
    n = s.cpuset_cpus;
    why = kByCpuset;
  }
  if (s.quota_us > 0 && s.period_us > 0) {
    int64_t q = rounding == GORO_MAXPROCS_ROUND_FLOOR
                    ? s.quota_us / s.period_us
                    : (s.quota_us + s.period_us - 1) / s.period_us;
    if (q < 1) q = 1;  // a fraction of a CPU still needs one P
    if (q < n) {
      n = int(q);
      why = kByQuota;
    }
  }
  if (min > n) {
    n = min;
    why = kByMin;
  }
  n = std::clamp(n, 1, GORO_MAXPROCS_MAX);
  if (by) *by = why;
  return n;
}

}  // namespace goro::rt::cgroup

#ifdef GORO_CGROUP_TEST_HOOKS
// Test-only C entry points, compiled into tests/test_cgroup only (never into
// libgoro: the macro is defined by that test's build alone).
extern "C" {
struct goro_test_cg_snapshot {
  int version;
  int64_t quota_us, period_us;
  int cpuset_cpus, levels, warnings;
  char cgroup[256], limit_cgroup[256], warning[256];
};
static_assert(sizeof(goro_test_cg_snapshot::cgroup) == goro::rt::cgroup::kNameMax &&
                  sizeof(goro_test_cg_snapshot::warning) == goro::rt::cgroup::kWarnMax,
              "the test snapshot mirrors Snapshot's buffers");
void* goro_test_cg_new(const char* root) {
  auto* r = new goro::rt::cgroup::Reader;
  r->set_root(root);
  return r;
}
void goro_test_cg_free(void* r) { delete static_cast<goro::rt::cgroup::Reader*>(r); }
int goro_test_cg_fds(void* r) { return static_cast<goro::rt::cgroup::Reader*>(r)->fds(); }
int goro_test_cg_read(void* r, goro_test_cg_snapshot* o) {
  goro::rt::cgroup::Snapshot s;
  bool re = static_cast<goro::rt::cgroup::Reader*>(r)->read(&s);
  o->version = s.version;
  o->quota_us = s.quota_us;
  o->period_us = s.period_us;
  o->cpuset_cpus = s.cpuset_cpus;
  o->levels = s.levels;
  o->warnings = s.warnings;
  memcpy(o->cgroup, s.cgroup, sizeof o->cgroup);
  memcpy(o->limit_cgroup, s.limit_cgroup, sizeof o->limit_cgroup);
  memcpy(o->warning, s.warning, sizeof o->warning);
  return re;
}
int goro_test_cg_auto(int affinity, int64_t quota, int64_t period, int cpuset, int rounding,
                      int min, int* by) {
  goro::rt::cgroup::Snapshot s;
  s.quota_us = quota;
  s.period_us = period;
  s.cpuset_cpus = cpuset;
  return goro::rt::cgroup::auto_procs(affinity, s, rounding, min, by);
}
int goro_test_cg_count(const char* s) { return goro::rt::cgroup::count_cpu_list(s, strlen(s)); }
}
#endif
