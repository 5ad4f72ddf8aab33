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

// gopark() parks the calling G (Go's gopark). unlockf(gp, arg) runs on g0
// once the G is off its stack; from then on another thread may goready() it.
void gopark(ParkUnlockFn unlockf, void* arg, const char* reason);
// goready() makes a parked G runnable (into the caller's P's runnext when
// the caller holds a P, else the global queue) and wakes an idle P.
void goready(G* gp);
// gosched() moves the calling G to the back of its P's run queue.
void gosched();

// arm_timer() queues t on the caller's P (P0 from a plain thread) and makes
// sure a parked runtime wakes for it. The runtime must be running.
void arm_timer(Timer* t);

// Lifecycle. All return 0 or a negative errno value.
int rt_init(const goro_config_t* cfg);
int rt_shutdown();
int rt_ensure_started();
bool rt_running();

// rt_newproc starts a goroutine. exitfn(exitarg), if set, runs on g0 after
// the goroutine has exited and been counted out.
int rt_newproc(goro_fn fn, void* arg, size_t stack_size, const char* name, uint64_t* id,
               void (*exitfn)(void*) = nullptr, void* exitarg = nullptr);
int rt_run(goro_fn fn, void* arg);
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

}  // namespace goro::rt
