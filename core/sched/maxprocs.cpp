// maxprocs.cpp: the automatic maxprocs (Go's GOMAXPROCS default, made
// container-aware). Owns the policy, the pin state, the once-a-second
// re-evaluation hung on sysmon, the GORO_DEBUG=maxprocs log and the
// goro:maxprocs_change probe. The cgroup reading itself is os/cgroup.cpp.
//
// Policy (docs/maxprocs.md has the measurements behind it):
//   auto = min(affinity CPUs, cpuset CPUs, round(tightest quota over the
//          cgroup and its ancestors)), at least maxprocs_min.
//   The default rounding (kDefaultRounding) was chosen by measurement:
//   see docs/maxprocs.md, "Rounding".
//
// Invariants:
//   - mu serializes everything here: the Reader, the pin state, the last
//     snapshot. Lock order: mu, then proc.cpp's resize_lock (inside
//     rt_procresize). Nothing here is called with a runtime lock held.
//   - While pinned, nothing changes maxprocs but goro_maxprocs(n); the
//     sysmon hook returns before reading anything.
//   - The sysmon hook's steady path allocates nothing: the Reader preads
//     kept-open fds into stack buffers, sched_getaffinity fills a stack
//     cpu_set_t, logging uses stderr (unbuffered). A cgroup move (re-open)
//     and growing past every P ever created (new P) allocate.
#include "sched/maxprocs.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "os/cgroup.h"
#include "os/futex.h"
#include "os/godebug.h"
#include "sched/probes.h"
#include "sched/sched.h"
#include "sched/stats.h"
#include "sched/sysmon.h"

namespace goro::rt {

namespace {

constexpr int kDefaultRounding = GORO_MAXPROCS_ROUND_FLOOR;
constexpr int64_t kPeriodNs = 1000000000;  // re-evaluation period

struct State {
  Mutex mu;
  cgroup::Reader reader;
  cgroup::Snapshot snap;  // the last reading
  int affinity = 0;       // the last affinity count
  int rounding = kDefaultRounding;
  int min = 1;
  int pinned = GORO_MAXPROCS_PIN_NONE;
  int autov = 0;  // the last automatic value
  int by = cgroup::kByAffinity;
  bool hooked = false;
  uint64_t auto_changes = 0;           // automatic changes while running
  char warned[cgroup::kWarnMax] = {};  // the last warning printed
};

// Never destroyed: at exit() a running sysmon may still be reading it (a
// program need not call goro_shutdown), so no static destructor may close
// its fds or free its state underneath. The kernel closes the fds.
alignas(State) unsigned char st_storage[sizeof(State)];
State& st = *new (st_storage) State;  // (st.mu)

int affinity_count() {
  cpu_set_t set;
  CPU_ZERO(&set);
  int n = 0;
  if (sched_getaffinity(getpid(), sizeof set, &set) == 0) n = CPU_COUNT(&set);
  if (n <= 0) n = int(sysconf(_SC_NPROCESSORS_ONLN));
  return std::max(n, 1);
}

const char* reason_name(int reason) {
  switch (reason) {
    case kMaxprocsApi:
      return "api";
    case kMaxprocsEnv:
      return "GORO_MAXPROCS";
    default:
      return "auto";
  }
}

const char* by_name(int by) {
  switch (by) {
    case cgroup::kByCpuset:
      return "cpuset";
    case cgroup::kByQuota:
      return "quota";
    case cgroup::kByMin:
      return "min";
    default:
      return "affinity";
  }
}

// evaluate re-reads the limits and recomputes the automatic value. st.mu held.
void evaluate() {
  bool reopened = st.reader.read(&st.snap);
  st.affinity = affinity_count();
  st.autov = cgroup::auto_procs(st.affinity, st.snap, st.rounding, st.min, &st.by);
  if (st.snap.warnings > 0 && strcmp(st.snap.warning, st.warned) != 0) {
    fprintf(stderr, "goro: maxprocs: %s (that level counts as unlimited)\n", st.snap.warning);
    memcpy(st.warned, st.snap.warning, sizeof st.warned);
  } else if (st.snap.warnings == 0) {
    st.warned[0] = 0;
  }
  if (reopened && g_debug.maxprocs && st.snap.version)
    fprintf(stderr, "goro: maxprocs: cpu cgroup v%d %s (%d levels read)\n", st.snap.version,
            st.snap.cgroup, st.snap.levels);
}

// announce logs and fires the probe for a change old -> now. st.mu held.
void announce(int old, int now, int reason) {
  if (old == now) return;
  GORO_PROBE3(maxprocs_change, old, now, reason);
  if (old > 0) {
    stat_add(g_counters.maxprocs_changes);
    if (reason == kMaxprocsAuto) st.auto_changes++;
  }
  if (!g_debug.maxprocs) return;
  if (reason != kMaxprocsAuto) {
    fprintf(stderr, "goro: maxprocs %d -> %d (%s, pinned)\n", old, now, reason_name(reason));
    return;
  }
  char quota[384] = "no quota";
  if (st.snap.quota_us > 0)
    snprintf(quota, sizeof quota, "quota %lld/%lldus (%.2f CPUs) from %s",
             (long long)st.snap.quota_us, (long long)st.snap.period_us,
             double(st.snap.quota_us) / double(st.snap.period_us), st.snap.limit_cgroup);
  fprintf(stderr,
          "goro: maxprocs %d -> %d (auto, limited by %s): affinity %d, cpuset %d, %s, "
          "rounding %s, min %d\n",
          old, now, by_name(st.by), st.affinity, st.snap.cpuset_cpus, quota,
          st.rounding == GORO_MAXPROCS_ROUND_CEIL ? "ceil" : "floor", st.min);
}

void sysmon_hook(int64_t) {
  ApiRef ref;
  if (!ref.ok()) return;
  maxprocs_reevaluate();
}

// GORO_MAXPROCS: 0 when unset or invalid (with a warning).
int env_maxprocs() {
  const char* env = getenv("GORO_MAXPROCS");
  if (!env) return 0;
  char* end;
  errno = 0;
  long v = strtol(env, &end, 10);
  if (*env && !*end && errno == 0 && v >= 1 && v <= GORO_MAXPROCS_MAX) return int(v);
  fprintf(stderr, "goro: ignoring GORO_MAXPROCS=%s (want 1..%d)\n", env, GORO_MAXPROCS_MAX);
  return 0;
}

}  // namespace

int maxprocs_init(const goro_config_t& c) {
  LockGuard lg(st.mu);
  st.rounding = c.maxprocs_rounding ? c.maxprocs_rounding : kDefaultRounding;
  st.min = c.maxprocs_min ? c.maxprocs_min : 1;
  // A restart re-reads everything (the process may have moved meanwhile).
  st.reader.close();
  if (!st.hooked && sysmon_add_hook(sysmon_hook, kPeriodNs) == 0) st.hooked = true;
  evaluate();
  int n, reason;
  if (c.maxprocs > 0) {
    n = c.maxprocs;
    st.pinned = GORO_MAXPROCS_PIN_CONFIG;
    reason = kMaxprocsApi;
  } else if (int e = env_maxprocs()) {
    n = e;
    st.pinned = GORO_MAXPROCS_PIN_ENV;
    reason = kMaxprocsEnv;
  } else {
    n = st.autov;
    st.pinned = GORO_MAXPROCS_PIN_NONE;
    reason = kMaxprocsAuto;
  }
  announce(0, n, reason);
  return n;
}

int maxprocs_pin(int n) {
  LockGuard lg(st.mu);
  st.pinned = GORO_MAXPROCS_PIN_API;
  int old = rt_procresize(n);
  announce(old, n, kMaxprocsApi);
  return old;
}

int maxprocs_unpin() {
  LockGuard lg(st.mu);
  st.pinned = GORO_MAXPROCS_PIN_NONE;
  evaluate();
  int old = rt_procresize(st.autov);
  announce(old, st.autov, kMaxprocsAuto);
  return st.autov;
}

int maxprocs_reevaluate() {
  LockGuard lg(st.mu);
  if (st.pinned != GORO_MAXPROCS_PIN_NONE) return rt_procresize(0);
  evaluate();
  int old = rt_procresize(st.autov);
  announce(old, st.autov, kMaxprocsAuto);
  return st.autov;
}

void maxprocs_limits(goro_cpu_limits_t* o) {
  memset(o, 0, sizeof *o);
  o->size = sizeof *o;
  {
    ApiRef ref;
    o->maxprocs = ref.ok() ? rt_procresize(0) : 0;
  }
  LockGuard lg(st.mu);
  evaluate();
  const cgroup::Snapshot& s = st.snap;
  o->affinity_cpus = st.affinity;
  o->cpuset_cpus = s.cpuset_cpus;
  o->quota_us = s.quota_us > 0 ? s.quota_us : -1;
  o->period_us = s.quota_us > 0 ? s.period_us : 0;
  o->quota_milli = s.quota_us > 0 ? int64_t(__int128(s.quota_us) * 1000 / s.period_us) : -1;
  o->cgroup_version = s.version;
  o->auto_maxprocs = st.autov;
  o->pinned = st.pinned;
  o->limited_by = st.by;
  o->rounding = st.rounding;
  o->min = st.min;
  o->auto_changes = st.auto_changes;
  memcpy(o->cgroup, s.cgroup, sizeof o->cgroup);
  memcpy(o->limit_cgroup, s.limit_cgroup, sizeof o->limit_cgroup);
  memcpy(o->warning, s.warning, sizeof o->warning);
}

}  // namespace goro::rt
