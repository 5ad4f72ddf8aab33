// sysmon.cpp: sysmon, the runtime's monitor thread (Go's sysmon in proc.go).
//
// Owns: the sysmon thread, its sleep policy and the hook table of sysmon.h.
// Each round sysmon
//   - asks Gs that have run a whole slice while work waits to yield, and
//     retakes Ps stuck in syscalls (sysmon_retake(), proc.cpp);
//   - polls the network if nobody has for 10 ms (sysmon_netpoll());
//   - once a second ends surplus idle Ms and joins dead ones
//     (sysmon_retire_ms());
//   - runs the registered hooks that are due (schedtrace, maxprocs
//     re-evaluation).
// It never holds a P and never runs a G, so it keeps working when every P
// is stuck: that is its reason to exist.
//
// Invariants:
//  - One sysmon thread per running runtime: started by start_locked() after
//    the first M, joined by shutdown_locked() before any M or P is freed
//    (sysmon reads both).
//  - Sleep: 20 us after a round that retook a P; after 50 rounds without,
//    the delay doubles up to 10 ms (Go's policy). While some P runs a G it
//    sleeps at most preempt_ns/2 and wakes when the earliest running G's
//    slice ends, so a hog is asked to yield between 1 and 1.5 slices after
//    it started.
//  - A G entering a syscall while sysmon sleeps >= 1 ms kicks it
//    (sysmon_kick()), so the ~20 us retake delay holds when sysmon was idle.
//  - Deep sleep: when every P is idle sysmon sleeps on g_note until the next
//    hook is due (or a second, while surplus idle Ms wait to be retired).
//    The next pidleget() wakes it (under sched.lock, so no wake-up is lost:
//    g_note is cleared before sysmonwait is set).
//  - Hooks live for the life of the process; registering the same function
//    again only updates its period, so a runtime restarted many times does
//    not run out of slots.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>

#include "os/futex.h"
#include "sched/san.h"
#include "sched/sched.h"
#include "sched/sysmon.h"

namespace goro::rt {

namespace {

constexpr int64_t kUs = 1000;
constexpr int64_t kMinDelayUs = 20;
constexpr int64_t kMaxDelayUs = 10000;
constexpr int kIdleRoundsBeforeBackoff = 50;
constexpr int64_t kRetirePeriod = 1000000000;

struct Hook {
  std::atomic<SysmonHook> fn{nullptr};
  std::atomic<int64_t> period{0};
  int64_t next = 0;  // sysmon thread only
};

Hook g_hooks[kSysmonMaxHooks];
std::atomic<int> g_nhooks{0};
Mutex g_hooklock;

Note g_note;                         // sysmon sleeps here
std::atomic<bool> g_stop{false};     // shutdown asks sysmon to end
std::atomic<bool> g_long{false};     // sysmon sleeps >= 1 ms (sysmon_kick wakes it)
std::atomic<bool> g_kicked{false};   // reset the backoff: a syscall began
bool g_running = false;              // sysmon thread exists (lifecycle lock)
pthread_t g_thread;

// earliest_hook is when the next hook is due (0: no hooks).
int64_t earliest_hook() {
  int64_t best = 0;
  int n = g_nhooks.load(std::memory_order_acquire);
  for (int i = 0; i < n; i++)
    if (best == 0 || g_hooks[i].next < best) best = g_hooks[i].next;
  return best;
}

void run_hooks(int64_t now) {
  int n = g_nhooks.load(std::memory_order_acquire);
  for (int i = 0; i < n; i++) {
    Hook& h = g_hooks[i];
    if (now < h.next) continue;
    int64_t period = h.period.load(std::memory_order_relaxed);
    h.next = now + period;
    if (SysmonHook fn = h.fn.load(std::memory_order_acquire)) fn(now);
  }
}

// sleep_until sleeps on g_note until `until` (0: until woken).
void sleep_until(int64_t until) {
  g_note.clear();
  if (g_stop.load()) return;
  if (until == 0) {
    g_note.sleep();
    return;
  }
  g_note.sleep_until(until);
}

void* sysmon_main(void*) {
  // Process-directed signals belong to the host's threads, and sysmon runs
  // no G, so it has no use for the preemption signal either.
  sigset_t all;
  sigfillset(&all);
  for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS}) sigdelset(&all, s);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  pthread_setname_np(pthread_self(), "goro-sysmon");

  int64_t delay_us = kMinDelayUs;
  int idle = 0;
  int64_t next_look = 0;
  int64_t last_retire = nanotime();
  int64_t slice = rt_preempt_ns();
  while (!g_stop.load()) {
    if (g_kicked.exchange(false, std::memory_order_relaxed)) idle = 0;
    if (idle == 0)
      delay_us = kMinDelayUs;
    else if (idle > kIdleRoundsBeforeBackoff)
      delay_us = std::min(delay_us * 2, kMaxDelayUs);
    int64_t now = nanotime();
    int64_t until = now + delay_us * kUs;
    if (next_look != 0) {
      // A P runs a G: look again when its slice ends, and at least twice a slice.
      until = std::min(until, now + slice / 2);
      until = std::min(until, std::max(next_look, now + kMinDelayUs * kUs));
    }
    if (int64_t h = earliest_hook(); h != 0) until = std::min(until, std::max(h, now));
    if (until - now >= 1000 * kUs) g_long.store(true);
    sleep_until(until);
    g_long.store(false);
    if (g_stop.load()) break;
    if (g_kicked.exchange(false, std::memory_order_relaxed)) idle = 0;

    now = nanotime();
    // Deep sleep while the whole runtime is idle (Go: npidle == gomaxprocs).
    g_note.clear();
    bool extra_ms = false;
    if (sysmon_idle_begin(&extra_ms)) {
      int64_t wake = earliest_hook();
      if (extra_ms) wake = wake ? std::min(wake, now + kRetirePeriod) : now + kRetirePeriod;
      if (!g_stop.load()) {
        if (wake == 0)
          g_note.sleep();
        else
          g_note.sleep_until(wake);
      }
      sysmon_idle_end();
      if (g_stop.load()) break;
      now = nanotime();
      idle = 0;
    }

    int n = sysmon_retake(now, &next_look);
    sysmon_netpoll(now);
    if (now - last_retire >= kRetirePeriod) {
      sysmon_retire_ms(now);
      last_retire = now;
    }
    run_hooks(now);
    if (n > 0)
      idle = 0;
    else
      idle++;
  }
  return nullptr;
}

}  // namespace

int sysmon_add_hook(SysmonHook fn, int64_t period_ns) {
  if (!fn) return -EINVAL;
  if (period_ns < 1) period_ns = 1;
  LockGuard lg(g_hooklock);
  int n = g_nhooks.load();
  for (int i = 0; i < n; i++)
    if (g_hooks[i].fn.load() == fn) {
      g_hooks[i].period.store(period_ns);
      return 0;
    }
  if (n >= kSysmonMaxHooks) return -ENOSPC;
  g_hooks[n].period.store(period_ns);
  // A hook added while sysmon runs starts at next = 0: it runs at the next
  // round, then every period.
  g_hooks[n].fn.store(fn, std::memory_order_release);
  g_nhooks.store(n + 1, std::memory_order_release);
  return 0;
}

bool sysmon_start() {
  if (g_running) return true;
  g_stop.store(false);
  g_long.store(false);
  g_kicked.store(false);
  int64_t now = nanotime();
  int n = g_nhooks.load(std::memory_order_acquire);
  for (int i = 0; i < n; i++) g_hooks[i].next = now + g_hooks[i].period.load();
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, san::kEnabled ? 8u << 20 : 256u << 10);
  int err = pthread_create(&g_thread, &attr, sysmon_main, nullptr);
  pthread_attr_destroy(&attr);
  if (err != 0) return false;
  g_running = true;
  return true;
}

void sysmon_stop() {
  if (!g_running) return;
  g_stop.store(true);
  g_note.wakeup();
  pthread_join(g_thread, nullptr);
  g_running = false;
}

void sysmon_kick() {
  if (g_long.load(std::memory_order_relaxed) && g_long.exchange(false)) {
    g_kicked.store(true, std::memory_order_relaxed);
    g_note.wakeup();
  }
}

void sysmon_wake() {
  g_kicked.store(true, std::memory_order_relaxed);
  g_note.wakeup();
}

}  // namespace goro::rt
