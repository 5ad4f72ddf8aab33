// sched.h: the scheduler's internal API for the rest of the runtime (sync
// primitives, goroutine-local storage, the C API layer). Everything here is
// implemented in proc.cpp.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "goro/goro.h"
#include "sched/runtime2.h"

namespace goro::rt {

// getm() is the M running the caller, or null on a plain thread. getg() is
// the G running the caller, or null on a plain thread or on g0.
// Both re-read thread-local storage on every call: a goroutine may resume on
// another thread after any switch, and a compiler may otherwise keep the
// first thread's TLS address in a register across the switch.
M* getm();
G* getg();
// curp() is the P the calling thread holds, or null (a plain thread, or an
// M inside a syscall region). Per-P stripes and caches index by its id; the
// caller may be on another P after its next switch.
inline P* curp() {
  M* m = getm();
  return m ? m->p : nullptr;
}

// gopark() parks the calling G (Go's gopark). unlockf(gp, arg) runs on g0
// once the G is off its stack; from then on another thread may goready() it.
void gopark(ParkUnlockFn unlockf, void* arg, const char* reason);
// gopark(gp, ...): the same, for a caller that has getg() at hand already.
void gopark(G* gp, ParkUnlockFn unlockf, void* arg, const char* reason);
// goready() makes a parked G runnable (into the caller's P's runnext when
// the caller holds a P, else the global queue) and wakes an idle P.
void goready(G* gp);
// gosched() moves the calling G to the back of its P's run queue.
void gosched();
// gopreempt() is how a G answers a preemption request (preempt_yield, the
// async handler): it goes to the back of the global queue, as Go's
// gopreempt_m does, so it runs again only after the work queued before it,
// local and global. (A spawning loop preempted onto its own P's local
// queue would be back after 256 Gs while the global backlog it made grew.)
void gopreempt();
// spawn_backlog(): the calling G's P has a full local queue (the next spawn
// would spill half of it to the global queue). goro_go answers it with
// gopreempt(): a spawning loop then runs what it spawned before spawning
// more, instead of piling it up for a whole time slice (docs/design.md,
// "Preemption"). False on a plain thread, in a syscall region (no P) and for
// a G locked to its thread (its yield would cost a thread handoff).
bool spawn_backlog(M* m);
inline bool spawn_backlog() { return spawn_backlog(getm()); }

// arm_timer() queues t on the caller's P (P0 from a plain thread) and makes
// sure a parked runtime wakes for it. The runtime must be running.
void arm_timer(Timer* t);

// Lifecycle. All return 0 or a negative errno value.
int rt_init(const goro_config_t* cfg);
int rt_shutdown();
int rt_ensure_started();
bool rt_running();

// rt_newproc starts a goroutine. exitfn(exitarg), if set, runs on g0 after
// the goroutine has exited and been counted out. gopc is the return address
// in the code that asked for it (goro_go's caller), shown by goro_dump.
// newproc1 is rt_newproc for a caller that has read getm() already (m: the
// calling thread's M, null on a plain thread): goro_go reads it once for the
// spawn and its preemption point (each getm() is a call; see getm()).
int newproc1(M* m, goro_fn fn, void* arg, size_t stack_size, const char* name, uint64_t* id,
             void (*exitfn)(void*), void* exitarg, const void* gopc, int asyncmod);
inline int rt_newproc(goro_fn fn, void* arg, size_t stack_size, const char* name, uint64_t* id,
                      void (*exitfn)(void*) = nullptr, void* exitarg = nullptr,
                      const void* gopc = nullptr, int asyncmod = 0) {
  return newproc1(getm(), fn, arg, stack_size, name, id, exitfn, exitarg, gopc, asyncmod);
}
int rt_run(goro_fn fn, void* arg, const void* gopc = nullptr);  // gopc: see rt_newproc
int rt_maxprocs(int n);
int rt_num_goroutine();
int rt_sleep(int64_t ns);
int rt_lock_thread();
int rt_unlock_thread();

// ApiRef keeps the runtime alive across a call made from a plain thread:
// goro_shutdown() waits for every ApiRef to be released before it frees
// anything. ok() is false when the runtime is not running.
class ApiRef {
 public:
  ApiRef();
  ~ApiRef();
  bool ok() const { return ok_; }
  ApiRef(const ApiRef&) = delete;
  ApiRef& operator=(const ApiRef&) = delete;

 private:
  bool ok_;
};

// Goroutine-local storage hooks (fls.cpp).
void fls_run_destructors(G::FlsEntry** table, uint32_t* cap);

// Fault handler hook (signal.cpp -> proc.cpp): reports and aborts if the
// fault at `addr` with stack pointer `sp` is a goroutine stack overflow.
void report_if_stack_overflow(const void* addr, const void* sp);
// Signal setup for a new M (signal.cpp).
void signals_install_once();
void* signals_m_init();
void signals_m_fini(void* altstack);

// ---------------------------------------------------------------------------
// Blocking system calls (proc.cpp; Go's entersyscall/exitsyscall). Both run
// on the G itself. entersyscall: the G's P goes to Psyscall and may be
// retaken by sysmon. exitsyscall: returns with a P again (the old one, an
// idle one, or after queueing globally and being rescheduled).
void entersyscall(G* gp);
void exitsyscall(G* gp);

// SyscallPause: a G that parks or yields between goro_syscall_enter() and
// goro_syscall_exit() leaves the syscall state for the switch (it needs a P
// to switch through g0) and re-enters it when resumed, on whatever M.
// Leaving may park the G until a P is free, so every blocking object holds
// one from before it takes its own lock (a G waiting for a P with an object
// lock held would stall everyone spinning on that lock, on every P). gopark
// holds one too, for the paths that take no lock. gp may be null (a plain
// thread): then it does nothing.
class SyscallPause {
 public:
  explicit SyscallPause(G* gp) : gp_(gp), depth_(gp ? gp->syscalldepth : 0) {
    if (depth_) {
      gp_->syscalldepth = 0;
      exitsyscall(gp_);
    }
  }
  ~SyscallPause() {
    if (depth_) {
      entersyscall(gp_);
      gp_->syscalldepth = depth_;
    }
  }
  SyscallPause(const SyscallPause&) = delete;
  SyscallPause& operator=(const SyscallPause&) = delete;

 private:
  G* gp_;
  uint32_t depth_;
};
// The C API's goro_syscall_enter/exit: nesting counted per G; no-ops on a
// plain thread; exit without enter is -EINVAL.
int rt_syscall_enter();
int rt_syscall_exit();
bool rt_in_syscall();

// The thread cap (goro_config_t.max_threads): largest accepted value, and
// the value used when the config leaves it 0 (GORO_MAX_THREADS or 10000).
constexpr int32_t kMaxThreadsLimit = 1 << 20;
int32_t env_max_threads();

// ---------------------------------------------------------------------------
// Preemption (preempt.cpp). sysmon sets gp->preempt on a G that has run a
// whole slice while work waits; the G yields at its next preemption point.
constexpr int64_t kPreemptNsMin = 100000;  // preempt_ns is raised to at least 100 us
void preempt_yield(G* gp);
// preempt_check() is the cooperative preemption point: one TLS read and one
// load on the fast path. Called at the runtime's entry points (see
// docs/design.md, "Preemption").
inline void preempt_check(G* gp) {
  if (gp && __builtin_expect(gp->preempt.load(std::memory_order_relaxed), 0)) preempt_yield(gp);
}
inline void preempt_check() { preempt_check(getg()); }
// preempt_signal_ok: may sig be the preemption signal?
bool preempt_signal_ok(int sig);
// preempt_install: installs the handler for sig (0: none) once per process
// and signal, remembering the handler present before (chained to).
void preempt_install(int sig);
// preempt_signo: the signal Ms must leave unblocked (0: none).
int preempt_signo();
// preempt_signal_m: sends the preemption signal to m, unless one is in
// flight already, async preemption is off, or the host replaced our handler.
// sysmon only, sched.lock held.
void preempt_signal_m(M* m, G* gp);
// The configured preemption slice (proc.cpp).
int64_t rt_preempt_ns();
// preempt_module: the module id (> 0) whose code at addr may be switched
// out asynchronously (the goroutine's asyncmod), or 0: unknown code, or code
// in the same object as libgoro (a static link).
int preempt_module(const void* addr);
// goro_async_preemptible_begin/end for the calling G; caller is the return
// address into the code that marks the region. No-ops on a plain thread.
int rt_async_begin(const void* caller);
int rt_async_end();
void preempt_info(goro_preempt_info_t* out);

// ---------------------------------------------------------------------------
// sysmon (sysmon.cpp; hook registration in sysmon.h).
bool sysmon_start();  // false: the thread could not be created
void sysmon_stop();   // joins it; idempotent
void sysmon_kick();   // a G entered a syscall: shorten a long sysmon sleep
void sysmon_wake();   // end sysmon's deep sleep (sched.lock held)
// What sysmon does to the scheduler (proc.cpp); sysmon thread only.
// sysmon_retake: preempt long-running Gs, retake Ps from syscalls. Returns
// the number of Ps retaken; *next_look is when the earliest running G's
// slice ends (0: no P runs a G).
int sysmon_retake(int64_t now, int64_t* next_look);
// sysmon_idle_begin: if every P is idle, mark sysmon as deeply asleep (the
// next pidleget() wakes it) and return true. *extra_ms: more idle Ms than
// sysmon_retire_ms() keeps.
bool sysmon_idle_begin(bool* extra_ms);
void sysmon_idle_end();
void sysmon_netpoll(int64_t now);     // the 10 ms netpoll fallback
void sysmon_retire_ms(int64_t now);   // end idle Ms beyond the kept ones; join dead Ms

}  // namespace goro::rt
