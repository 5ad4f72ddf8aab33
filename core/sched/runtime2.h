// runtime2.h: the core types of the scheduler, kept together as in Go's
// runtime2.go: G (goroutine), M (OS thread), P (scheduling context), and the
// global scheduler state. The design essay is at the top of proc.cpp.
//
// Each field says who may touch it. "owner P" means the M currently holding
// that P; "sched.lock" means the global scheduler lock.
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include <atomic>
#include <boost/context/detail/fcontext.hpp>
#include <cstddef>
#include <cstdint>

#include "goro/goro.h"
#include "os/futex.h"
#include "sched/stack.h"
#include "time/timer.h"

namespace goro::rt {

namespace bctx = boost::context::detail;
using fcontext_t = bctx::fcontext_t;

struct M;
struct P;

// Goroutine states. Who owns the G in each state:
enum GStatus : uint32_t {
  // Gidle: just allocated or on a free list; owned by the free list's owner.
  Gidle = 0,
  // Grunnable: on a run queue (local, runnext or global) and not running.
  // Owned by that queue; whoever dequeues it owns it.
  Grunnable = 1,
  // Grunning: executing user code on an M that holds a P. Owned by that M.
  Grunning = 2,
  // Gwaiting: parked (gopark). Not on any run queue. Owned by whatever it
  // waits on (a wait list, a timer); exactly one party will goready() it.
  Gwaiting = 3,
  // Gdead: finished; its stack may be cached for reuse. Owned by a free list.
  Gdead = 4,
  // Gsyscall: running user code between goro_syscall_enter() and
  // goro_syscall_exit() on its M, which holds no P (the P is in Psyscall
  // or was retaken). Owned by that M; not on any run queue.
  Gsyscall = 5,
};

// What a G asks its M to do when it switches to g0 (Go's mcall targets).
// ExitSyscall: the G left a syscall and found no P; g0 queues it globally.
enum class SwitchOp : uint32_t { None, Yield, Preempt, Park, Exit, ExitSyscall };

// ParkUnlockFn runs after the G is fully off its stack, on g0 or, after a
// direct switch (gswitch), on the stack of the G switched to: the point where
// it becomes safe for another thread to goready() it. Returning false means
// "don't park after all": the G is made runnable again at once. It must not
// rely on getg(): that is null on g0 and the arriving G after a gswitch.
using ParkUnlockFn = bool (*)(struct G* gp, void* arg);

// G, M and P are cache-line aligned: each is written by the thread running
// it, and neighbours in memory (Gs share chunks; Ms and Ps come from new)
// often run on other CPUs. Unaligned, a switch on one P invalidated lines
// another P's switches used: bench/yield at 2 Ps took 109 ns per round
// instead of 49 (docs/design.md, "Cache lines").
//
// G's fields are ordered by use. A default spawn writes the first cache
// line only; a first run, a switch and an exit touch that line and the
// second; the third is touched only by a G that uses what it holds (see
// `slow`); everything else (sleep timer, name, wait and free-list
// bookkeeping) lies beyond and stays untouched on that path. A G spawned
// on one P often runs and exits on another, and each line it touches is a
// transfer between CPUs (docs/design.md, "Cache lines").
struct alignas(64) G {
  // --- line 0: what a spawn writes and a first run reads. The spawning
  // CPU and the running CPU each take only this line of a free G.
  fcontext_t ctx = nullptr;     // saved while not running; written at switch-out (gogo, gswitch)
  std::atomic<uint32_t> status{Gidle};
  // Flags written only by the G's current owner (its spawner, the M that
  // runs it, gdestroy), so they can share a byte.
  bool fresh : 1 = false;       // never run: ctx is null until gbind, make_fcontext's until gentry clears this
  bool named : 1 = false;       // name[] is set (spawned with a name); a free G's name is empty
  // The G holds a default-size stack (kind != None): a default spawn need
  // not read line 1 to find out. Kept by rt_newproc and gdestroy.
  bool stkdefault : 1 = false;
  // Preemption (preempt.cpp, sysmon.cpp). sysmon sets `preempt` to ask the
  // G to yield; the G clears it when it next switches out (execute()).
  std::atomic<bool> preempt{false};
  // This life wrote line 2 (async-preemptible region, goroutine-local
  // storage, a preemption request counted ignored): gdestroy must clean it
  // and goexit look at fls. Otherwise neither touches that line.
  std::atomic<bool> slow{false};
  uint64_t goid = 0;            // set at spawn; never reused
  goro_fn fn = nullptr;
  void* arg = nullptr;
  G* schedlink = nullptr;       // link in the global run queue or a free list
  // Observability (trace.cpp): set at spawn by the creator; read racily by
  // goro_dump, schedtrace and the gdb script.
  const void* gopc = nullptr;   // return address in the code that called goro_go
  uint64_t parentgoid = 0;      // goid of the creating G (0: a plain thread)
  // --- line 1: who runs it and on what. Written by the M that runs it; a
  // default spawn leaves it alone: a free G keeps its cached stack here and
  // has every other field zero (goexit, gdestroy).
  Stack stack;                  // owned by the G while alive and while cached (may swap with P.stkspare[0] at its first run)
  // Runs on g0 once the G has exited (goro_run's completion); set at spawn.
  void (*exitfn)(void*) = nullptr;
  void* exitarg = nullptr;
  M* m = nullptr;               // M running it, only while Grunning
  M* lockedm = nullptr;         // goro_lock_thread: the M it is wired to
  uint32_t lockedcount = 0;     // nesting depth of goro_lock_thread; G's own
  uint32_t syscalldepth = 0;    // goro_syscall_enter() nesting; the G's own
  // --- line 2: touched only by a G that uses what it holds (see `slow`),
  // and by a spawn only for an async-preemptible G. On a free G asyncsafe,
  // asyncmod and preempt_ignored are zero and fls is null (gdestroy).
  // goro_async_preemptible_begin() nesting; the G's own, also read by the
  // preemption signal handler on the G's own thread.
  std::atomic<uint32_t> asyncsafe{0};
  // Module (preempt.cpp's table index + 1) whose code may be switched out
  // asynchronously; 0: none recorded. The G's own.
  std::atomic<int32_t> asyncmod{0};
  // Requests this G left pending for a whole preemption slice (sysmon
  // writes, anyone reads).
  std::atomic<uint64_t> preempt_ignored{0};
  // Goroutine-local storage: array of {key, value}; G's own.
  struct FlsEntry {
    goro_key_t key;
    void* value;
  };
  FlsEntry* fls = nullptr;
  uint32_t flscap = 0;
  // Sanitizer fiber state, touched in sanitizer builds only. A free G
  // keeps its TSan fiber for the next goroutine (tsan_uses lifetimes at
  // most; see gdestroy), as it keeps its stack.
  uint32_t tsan_uses = 0;
  void* tsan_fiber = nullptr;
  void* asan_fake_stack = nullptr;
  // --- beyond: not touched by a goroutine that neither parks nor sleeps
  const char* waitreason = "";  // why it is Gwaiting (set at park; meaningless otherwise)
  int64_t waitsince = 0;        // coarse monotonic ns when it last parked (gopark)
  Timer sleeptimer;             // goro_sleep's timer; used only by this G
  char name[32] = {0};          // see `named`
  // The global free list (proc.cpp, sched.gflock): batches of free Gs.
  // Meaningful on a batch's head only.
  G* gfbatch = nullptr;         // next batch
  int32_t gfbatchn = 0;         // Gs in this batch
  bool scav_seen = false;       // on the list at the last scavenge
};
static_assert(offsetof(G, parentgoid) + sizeof(G::parentgoid) <= 64, "G line 0 spills");
static_assert(offsetof(G, syscalldepth) + sizeof(G::syscalldepth) <= 128, "G line 1 spills");
static_assert(offsetof(G, asan_fake_stack) + sizeof(G::asan_fake_stack) <= 192, "G line 2 spills");

struct alignas(64) M {
  int64_t id = 0;
  pthread_t thread{};
  pid_t tid = 0;
  fcontext_t g0ctx = nullptr;   // this thread's scheduler context while a G runs on it
  // G running on this M, or null on g0. Written by the M on g0 only;
  // atomic because sysmon and the signal handler read it.
  std::atomic<G*> curg{nullptr};
  P* p = nullptr;               // attached P; owner M only
  P* nextp = nullptr;           // P handed over by startm/startlockedm before notewakeup
  bool spinning = false;        // looking for work; counted in sched.nmspinning
  bool exiting = false;         // a locked G exited: this thread must end
  Note park;                    // stopm sleeps here
  M* schedlink = nullptr;       // idle M list (sched.lock)
  M* alllink = nullptr;         // allm list (sched.lock)
  G* lockedg = nullptr;         // goro_lock_thread: the G wired to this M
  uint64_t fastrand = 0;        // per-M PRNG state
  // Set by the G right before it switches to g0 (or directly to another G,
  // gswitch); read right after by g0 (execute) or by gswitch_ontop.
  SwitchOp op = SwitchOp::None;
  ParkUnlockFn unlockf = nullptr;
  void* unlockarg = nullptr;
  // A direct switch (gswitch) in flight: the G leaving and the G arriving.
  // Set by the leaving G, consumed by gswitch_ontop on the arriving G's
  // stack; owner M only.
  G* prevg = nullptr;
  G* nextg = nullptr;
  // The G now resuming on this M was switched to by another G (gswitch),
  // not by g0 (gogo): the stack left behind is not g0's, and a new G's entry
  // gets no transfer (see resumed() and gentry()).
  bool from_g = false;
  // Signal alternate stack for overflow reports.
  void* altstack = nullptr;
  // Syscalls: the P this M held when its G entered a syscall (owner M).
  P* oldp = nullptr;
  // A preemption signal sysmon sent that the handler has not seen yet
  // (set by sysmon before tgkill, cleared by the handler).
  std::atomic<uint32_t> signal_pending{0};
  int64_t idle_since = 0;       // when it last went on the idle list (sched.lock)
  // Sanitizer state of the thread's own stack (g0).
  void* tsan_fiber = nullptr;
  void* asan_fake_stack = nullptr;
  const void* g0_stack_bottom = nullptr;
  size_t g0_stack_size = 0;
};

// P states. Transitions between idle, running and dead happen under
// sched.lock (or by the owner M on a P it holds).
// Psyscall: its M's G is in a syscall (goro_syscall_enter). The P is not
// running any code, and is owned by whoever CASes the status away from
// Psyscall: the same M at syscall exit (-> Prunning), or sysmon's retake
// (-> Pidle, then handoffp). Go's _Psyscall.
enum PStatus : uint32_t { Pidle = 0, Prunning = 1, Pdead = 2, Psyscall = 3 };

constexpr uint32_t kRunqSize = 256;  // Go's local run queue size
constexpr int kGfreeLocalMax = 64;   // free Gs cached per P (with stacks)

struct alignas(64) P {
  int32_t id = 0;
  std::atomic<uint32_t> status{Pdead};
  std::atomic<M*> m{nullptr};   // owner M while Prunning; read by sysmon under sched.lock
  P* link = nullptr;            // idle P list (sched.lock)
  // Incremented at every execute() / syscall enter by the owner P; sysmon
  // reads them to tell a long-running G or syscall from a new one.
  std::atomic<uint32_t> schedtick{0};
  std::atomic<uint32_t> syscalltick{0};
  // Local run queue: a lock-free ring. Only the owner P writes runqtail and
  // the slots; anyone may consume by CAS on runqhead (Go's runq.go).
  std::atomic<uint32_t> runqhead{0};
  std::atomic<uint32_t> runqtail{0};
  std::atomic<G*> runq[kRunqSize];
  // runnext: a G readied by the running G that should run next, inheriting
  // the rest of the time slice. Only the owner P sets it; stealers may CAS
  // it to null.
  std::atomic<G*> runnext{nullptr};
  // The global queue's every-61st-schedule turn, deferred by one schedule
  // because a G waited in runnext (findRunnable). Owner P only.
  bool globturn = false;
  // Free Gs with cached stacks; owner P only.
  G* gfree = nullptr;
  int32_t gfreecnt = 0;
  // The stacks of the last two default-size Gs that exited here, still hot
  // in this CPU's caches, most recent first. A new G takes stkspare[0] at
  // its first run and leaves its own stack at the back (gbind); an exiting
  // G puts its stack at the front and takes the one at the back (gdestroy).
  // So short goroutines spawned in bulk all run on two resident stacks
  // instead of each touching its own. Two, because a goroutine that exits
  // straight into the next one (gswitch) is still on its stack when that
  // one's is chosen; with one spare, every exit through g0 followed by a
  // direct one brought a cold stack into use. Owner P only; each is of the
  // default size or None.
  Stack stkspare[2];
  // Goroutine id cache (Go's goidcache), owner P only.
  uint64_t goidcache = 0, goidcacheend = 0;
  // Goroutines created and exited on this P. Single writer (owner P),
  // relaxed readers (goro_num_goroutine).
  std::atomic<int64_t> gcreated{0}, gexited{0};
  TimerHeap timers;             // this P's timers; own lock
};

}  // namespace goro::rt
