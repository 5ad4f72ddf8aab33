// proc.cpp: the goroutine scheduler.
//
// # Design
//
// The scheduler's job is to run goroutines (G) on OS threads (M) within a
// fixed parallelism limit. It is Go's design (src/runtime/proc.go), rebuilt
// for C and C++ programs:
//
//   G - goroutine: a stackful fiber (Boost.Context fcontext) with a pooled
//       stack (stack.h), reserved at spawn and bound at its first run,
//       when it may trade it for its P's hot spare (gbind). A G that leaves its stack never does its own
//       bookkeeping (requeue, park function, exit) there: another M may
//       resume it as soon as it is visible. Either it jumps to the M's
//       scheduler context (g0), as Go's mcall does, and g0 does it; or, to
//       yield or park when the next G is certain, it switches straight to
//       that G and the bookkeeping runs on the new G's stack first
//       (gswitch; "Direct switches" below).
//   M - worker thread. Runs Go code only while it holds a P. Ms are created
//       on demand and park on a futex (Note) when idle.
//   P - scheduling context: a right to run Gs. There are exactly gomaxprocs
//       live Ps. Each has a 256-slot lock-free ring of runnable Gs plus a
//       runnext slot, a cache of free Gs, a spare stack, and a timer heap.
//
// Work is found in this order (findRunnable): every 61st round the global
// queue (fairness: a busy local queue must not starve it), then runnext and
// the local queue, then the global queue, then stealing half of another P's
// queue (victims in random order, 4 rounds, the last also stealing runnext
// and running the victim's due timers; runnext only from a P that has not
// switched Gs during a short grace sleep, i.e. one stuck behind a long
// runner, see runqgrab). With nothing found the M releases
// its P and parks; the last M to give up, if any timer is pending, blocks in
// the netpoller until the earliest timer instead (netpoll.h).
//
// # Spinning Ms and why no wake-up is lost
//
// An M "spins" when it has a P but no work and is looking for some to steal.
// At most half the busy Ps may have spinning Ms (Go's cap), and at most one
// new spinning M is started at a time (wakep: only if nmspinning == 0).
//
// Whoever makes a G runnable (newproc, goready) first publishes it on a run
// queue and then calls wakep(), which starts an M if there is an idle P and
// no spinning M. A spinning M that finds work calls resetspinning(), which
// calls wakep() again, so work submitted in a burst fans out one M at a time.
//
// The delicate case is a spinning M deciding to stop just as a G is queued.
// The submitter does: (1) publish G, (2) read nmspinning. The M does:
// (a) nmspinning--, (b) re-check every run queue and the global queue. Both
// use sequentially consistent atomics, so either the submitter sees
// nmspinning == 0 and starts an M, or the M's re-check sees the G. (A G put
// into an empty runnext is published with a plain store, so wakep() reads a
// non-zero nmspinning again with a read-modify-write before it trusts it.)
// Timers are covered the same way through wakeNetPoller().
//
// # Thread-locked goroutines
//
// goro_lock_thread() wires a G to its M (Go's LockOSThread). When a locked G
// is not running, its M hands its P to another M (stoplockedm) and sleeps.
// An M that dequeues a G locked to some other M gives that M its P and
// sleeps itself (startlockedm). A locked G that exits takes its M with it.
//
// # Changing gomaxprocs without stopping the world
//
// Growing creates Ps and puts them on the idle list. Shrinking lowers
// gomaxprocs at once; every M checks its P's id at each scheduling round and
// retires a P that is now out of range (its queued Gs go to the global queue,
// its timers to P0). A goroutine already running on a retired P keeps running
// until its next switch. Ps are never freed before goro_shutdown(), so a
// stealer may always read allp[i].
//
// # Syscalls, sysmon and preemption
//
// A G about to block its thread calls goro_syscall_enter(): its P goes to
// Psyscall, detached from the M. Whoever CASes it out of Psyscall owns it:
// the M itself at goro_syscall_exit() (the fast path), or sysmon, which
// retakes a P that stays in one syscall for one of its looks while work
// waits and hands it to another M (retake in sysmon_retake(), handoffp).
// sysmon (sysmon.cpp) also asks Gs that run a whole slice to yield
// (preemptone; preempt.cpp has the signal side), polls the network as a
// fallback and ends surplus idle Ms. Ms are capped (max_threads): at the cap
// newm() creates none and the work waits, queued globally, for an M to free
// up; stopm() re-checks the global queue so that no such G is stranded.
//
// # Rejected alternatives
//  - Switching G to G directly with the old G doing its own bookkeeping
//    before the jump: another M could resume it mid-jump. Go always goes
//    through g0 for that reason; gswitch runs the bookkeeping on the new G's
//    stack instead (ontop_fcontext), which no other M can touch.
//  - A lock around each local run queue: the ring with a CAS on head is
//    wait-free for the owner and costs stealers one CAS per half-queue.
//  - Stop-the-world for gomaxprocs changes: a single hog would delay the
//    change indefinitely; lazy retirement needs no global stop.
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <utility>
#include <vector>

#include "netpoll/netpoll.h"
#include "os/godebug.h"
#include "sched/maxprocs.h"
#include "sched/san.h"
#include "sched/probes.h"
#include "sched/sched.h"
#include "sched/stats.h"
#include "sched/trace.h"
#include "sync/chan.h"
#include "sync/waiter.h"

#if defined(__GNUC__) && !defined(__clang__)
#define GORO_NOIPA __attribute__((noinline, noipa))
#else
#define GORO_NOIPA __attribute__((noinline))
#endif

namespace goro::rt {

RtCounters g_counters;

namespace {

enum RtState : int { kNever = 0, kRunning = 1, kStopping = 2, kStopped = 3 };

constexpr int kGChunk = 256;            // Gs allocated at a time (allg chunks)
constexpr int kScavRetain = 1024;        // free Gs whose stacks the scavenger never touches
constexpr int64_t kScavPeriod = 1000000000;  // a stack unused this long is released
constexpr uint64_t kGoidBatch = 16;     // Go's _GoidCacheBatch
constexpr int kRunnextStreakMax = 32;   // runnext picks in a row before the queue goes first
constexpr int32_t kMaxThreadsDefault = 10000;   // Go's maxmcount
constexpr int64_t kPreemptNsDefault = 10000000;  // Go's forcePreemptNS
constexpr int64_t kSyscallRetakeNs = 10000000;   // retake a P in a syscall this late regardless
constexpr int64_t kMIdleRetireNs = 5000000000;   // an idle M beyond the kept ones ends this late

struct RunWaiter {
  goro_fn fn;
  void* arg;
  Waiter w;
  bool done = false;     // (sched.runlock)
  bool waiting = false;  // the waiting G has parked or is parking (sched.runlock)
  int result = 0;
  RunWaiter* next = nullptr;
  RunWaiter* prev = nullptr;
};

// Sched is the global scheduler state (Go's schedt).
// Fields read on every scheduling round (state, gomaxprocs) sit on their
// own cache line, apart from the counters that spinning Ms write all the
// time (nmspinning, npidle, runqsize) and from the lock.
struct Sched {
  alignas(64) std::atomic<int> state{kNever};
  std::atomic<int32_t> gomaxprocs{0};
  alignas(64) Mutex lock;  // protects the fields marked (lock)

  // Global run queue (lock); runqsize may be read without the lock as a hint.
  G* runqhead = nullptr;
  G* runqtail = nullptr;
  std::atomic<int32_t> runqsize{0};

  P* pidle = nullptr;  // (lock)
  std::atomic<int32_t> npidle{0};
  M* midle = nullptr;  // (lock)
  int32_t nmidle = 0;  // (lock)
  alignas(64) std::atomic<int32_t> nmspinning{0};
  alignas(64) P* allp[GORO_MAXPROCS_MAX] = {};
  std::atomic<int32_t> nallp{0};  // allp[0..nallp) have been created

  M* allm = nullptr;   // (lock) live Ms
  M* mdead = nullptr;  // (lock) Ms whose thread ended and must be joined
  int64_t mnext = 0;   // (lock)
  int32_t mcount = 0;  // (lock)

  // 0 while an M is blocked in netpoll; otherwise when netpoll last returned.
  std::atomic<int64_t> lastpoll{0};
  // When the blocked poller will wake on its own (0: never).
  std::atomic<int64_t> pollUntil{0};

  std::atomic<uint64_t> goidgen{0};
  std::atomic<int64_t> foreign_created{0};
  std::atomic<int32_t> api_refs{0};

  Mutex gflock;  // protects the global free G list and the allg chunks
  G* gfree = nullptr;
  std::atomic<int32_t> gfreecnt{0};  // written under gflock; read without it as a hint
  std::vector<G*> gchunks;
  // The stack scavenger: a timer that releases the pages of stacks cached
  // on free Gs that stayed unused for a whole period.
  Timer scavtimer;
  std::atomic<bool> scavarmed{false};

  Mutex resize_lock;  // serializes procresize
  Mutex lifecycle;    // serializes init and shutdown

  // Configuration, fixed while running.
  size_t stack_size = 0;
  int exception_policy = GORO_EXCEPTION_ABORT;

  Mutex runlock;  // goro_run waiters on plain threads
  RunWaiter* runwaiters = nullptr;

  // Syscalls, the thread cap and preemption. Configuration is fixed while
  // running. max_threads counts every M plus the sysmon thread.
  int32_t max_threads = kMaxThreadsDefault;
  int64_t preempt_ns = kPreemptNsDefault;
  int preempt_signal = SIGURG;  // 0: send no signal
  // sysmon sleeps deeply because every P is idle; pidleget() wakes it (lock).
  bool sysmonwait = false;
};

Sched& sched = *new Sched;  // never destroyed: Ms may outlive static destructors

thread_local M* tls_m __attribute__((tls_model("initial-exec"))) = nullptr;

uint32_t fastrand(M* m) {
  // xorshift64*; per M, so no sharing.
  uint64_t x = m->fastrand;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  m->fastrand = x;
  return uint32_t((x * 0x2545F4914F6CDD1Dull) >> 32);
}

[[noreturn]] void fatal(const char* msg) {
  fprintf(stderr, "goro: fatal error: %s\n", msg);
  abort();
}

void throw_if(bool cond, const char* msg) {
  if (__builtin_expect(cond, 0)) fatal(msg);
}

// ---------------------------------------------------------------------------
// Run queues (Go's runqput/runqget/runqgrab/runqsteal and globrunq*).

// globrunqput adds gp at the tail of the global queue. sched.lock held.
void globrunqput(G* gp) {
  gp->schedlink = nullptr;
  if (sched.runqtail)
    sched.runqtail->schedlink = gp;
  else
    sched.runqhead = gp;
  sched.runqtail = gp;
  sched.runqsize.fetch_add(1);
}

// globrunqputbatch adds a linked batch of n Gs. sched.lock held.
void globrunqputbatch(G* head, G* tail, int32_t n) {
  tail->schedlink = nullptr;
  if (sched.runqtail)
    sched.runqtail->schedlink = head;
  else
    sched.runqhead = head;
  sched.runqtail = tail;
  sched.runqsize.fetch_add(n);
}

G* globrunqpop() {
  G* gp = sched.runqhead;
  if (!gp) return nullptr;
  sched.runqhead = gp->schedlink;
  if (!sched.runqhead) sched.runqtail = nullptr;
  sched.runqsize.fetch_sub(1);
  return gp;
}

bool runqempty(P* p) {
  // Read head, tail, runnext, then tail again: a G moving from runnext to the
  // queue between the reads must not make the queue look empty (Go's runqempty).
  for (;;) {
    uint32_t head = p->runqhead.load(std::memory_order_acquire);
    uint32_t tail = p->runqtail.load(std::memory_order_acquire);
    G* next = p->runnext.load(std::memory_order_acquire);
    if (tail == p->runqtail.load(std::memory_order_acquire)) return head == tail && next == nullptr;
  }
}

// runqputslow moves half of p's full local queue plus gp to the global queue.
// Executed only by the owner P.
bool runqputslow(P* p, G* gp, uint32_t h, uint32_t t) {
  G* batch[kRunqSize / 2 + 1];
  uint32_t n = (t - h) / 2;
  throw_if(n != kRunqSize / 2, "runqputslow: queue is not full");
  for (uint32_t i = 0; i < n; i++) batch[i] = p->runq[(h + i) % kRunqSize].load(std::memory_order_relaxed);
  if (!p->runqhead.compare_exchange_strong(h, h + n, std::memory_order_acq_rel)) return false;
  batch[n] = gp;
  for (uint32_t i = 0; i < n; i++) batch[i]->schedlink = batch[i + 1];
  LockGuard lg(sched.lock);
  globrunqputbatch(batch[0], batch[n], int32_t(n + 1));
  return true;
}

// runqput puts gp on p's local queue; with next, into runnext, kicking the
// old runnext to the tail. Executed only by the owner P.
void runqput(P* p, G* gp, bool next) {
  if (next) {
    // Only the owner P makes runnext non-null; stealers only CAS it to null.
    // So an empty runnext stays empty until this store: no CAS needed (one
    // atomic operation fewer on every channel hand-off).
    G* old = p->runnext.load(std::memory_order_relaxed);
    if (!old) {
      p->runnext.store(gp, std::memory_order_release);
      return;
    }
    while (!p->runnext.compare_exchange_weak(old, gp, std::memory_order_acq_rel)) {
    }
    if (!old) return;
    gp = old;
  }
  for (;;) {
    uint32_t h = p->runqhead.load(std::memory_order_acquire);
    uint32_t t = p->runqtail.load(std::memory_order_relaxed);
    if (t - h < kRunqSize) {
      p->runq[t % kRunqSize].store(gp, std::memory_order_relaxed);
      p->runqtail.store(t + 1, std::memory_order_release);
      return;
    }
    if (runqputslow(p, gp, h, t)) return;
  }
}

thread_local int runnext_streak __attribute__((tls_model("initial-exec"))) = 0;

// runqget takes a G from p's local queue, runnext first. Owner P only.
// A chain of Gs readying each other through runnext would starve the queue
// until preemption; after kRunnextStreakMax runnext picks in a row the queue
// head goes first once.
G* runqget(P* p) {
  G* next = p->runnext.load(std::memory_order_relaxed);
  if (next && runnext_streak < kRunnextStreakMax &&
      p->runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) {
    runnext_streak++;
    return next;
  }
  runnext_streak = 0;
  for (;;) {
    uint32_t h = p->runqhead.load(std::memory_order_acquire);
    uint32_t t = p->runqtail.load(std::memory_order_relaxed);
    if (t == h) break;
    G* gp = p->runq[h % kRunqSize].load(std::memory_order_relaxed);
    if (p->runqhead.compare_exchange_weak(h, h + 1, std::memory_order_acq_rel)) return gp;
  }
  next = p->runnext.load(std::memory_order_relaxed);
  if (next && p->runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel))
    return next;
  return nullptr;
}

// runqgrab copies half of victim's queue into p's ring starting at p's tail.
// Returns how many it took. p must be the caller's own P.
uint32_t runqgrab(P* victim, P* p, uint32_t ptail, bool stealRunNext) {
  for (;;) {
    uint32_t h = victim->runqhead.load(std::memory_order_acquire);
    uint32_t t = victim->runqtail.load(std::memory_order_acquire);
    uint32_t n = t - h;
    n = n - n / 2;
    if (n == 0) {
      if (stealRunNext) {
        G* next = victim->runnext.load(std::memory_order_acquire);
        if (next) {
          // The victim is probably about to run its runnext itself: give it
          // a moment, as Go does, before taking it. Unlike Go, leave it if
          // the victim switched Gs meanwhile: it is not stuck behind a long
          // running G, it is consuming runnext itself, and the G found there
          // now (often the same G again: a ping-pong pair readies each
          // other through runnext) would only be pulled away from its
          // partner. Go's check compares the pointer only, and at 2 P split
          // such a pair every few hundred round trips.
          if (victim->status.load(std::memory_order_relaxed) == Prunning) {
            uint32_t tick = victim->schedtick.load(std::memory_order_relaxed);
            usleep(3);
            if (victim->schedtick.load(std::memory_order_relaxed) != tick) return 0;
          }
          if (!victim->runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel))
            continue;
          p->runq[ptail % kRunqSize].store(next, std::memory_order_relaxed);
          return 1;
        }
      }
      return 0;
    }
    if (n > kRunqSize / 2) continue;  // h and t read inconsistently; retry
    for (uint32_t i = 0; i < n; i++) {
      G* gp = victim->runq[(h + i) % kRunqSize].load(std::memory_order_relaxed);
      p->runq[(ptail + i) % kRunqSize].store(gp, std::memory_order_relaxed);
    }
    if (victim->runqhead.compare_exchange_strong(h, h + n, std::memory_order_acq_rel)) return n;
  }
}

G* runqsteal(P* p, P* victim, bool stealRunNext) {
  uint32_t t = p->runqtail.load(std::memory_order_relaxed);
  uint32_t n = runqgrab(victim, p, t, stealRunNext);
  if (n == 0) return nullptr;
  stat_add(g_counters.steals);
  n--;
  G* gp = p->runq[(t + n) % kRunqSize].load(std::memory_order_relaxed);
  if (n == 0) return gp;
  p->runqtail.store(t + n, std::memory_order_release);
  return gp;
}

// globrunqget takes a share of the global queue into p. sched.lock held.
G* globrunqget(P* p, int32_t max) {
  int32_t size = sched.runqsize.load(std::memory_order_relaxed);
  if (size == 0) return nullptr;
  int32_t n = size / std::max(1, sched.gomaxprocs.load(std::memory_order_relaxed)) + 1;
  if (n > size) n = size;
  if (max > 0 && n > max) n = max;
  if (n > int32_t(kRunqSize / 2)) n = kRunqSize / 2;
  G* gp = globrunqpop();
  for (int32_t i = 1; i < n; i++) runqput(p, globrunqpop(), false);
  return gp;
}

// ---------------------------------------------------------------------------
// P and M bookkeeping.

void pidleput(P* p) {  // sched.lock held
  p->status.store(Pidle, std::memory_order_relaxed);
  p->link = sched.pidle;
  sched.pidle = p;
  sched.npidle.fetch_add(1);
}

P* pidleget() {  // sched.lock held
  P* p = sched.pidle;
  if (p) {
    sched.pidle = p->link;
    p->link = nullptr;
    sched.npidle.fetch_sub(1);
    // A P leaves the idle list: the runtime is no longer idle, so sysmon
    // must watch it again (Go wakes sysmon in exitsyscall for the same reason).
    if (sched.sysmonwait) {
      sched.sysmonwait = false;
      sysmon_wake();
    }
  }
  return p;
}

void mput(M* m) {  // sched.lock held
  m->schedlink = sched.midle;
  sched.midle = m;
  sched.nmidle++;
}

M* mget() {  // sched.lock held
  M* m = sched.midle;
  if (m) {
    sched.midle = m->schedlink;
    sched.nmidle--;
  }
  return m;
}

void acquirep(M* m, P* p) {
  m->p = p;
  p->m.store(m, std::memory_order_release);  // sysmon reads m->tid through it
  p->status.store(Prunning, std::memory_order_relaxed);
  GORO_PROBE2(p_acquire, p->id, m->id);
}

P* releasep(M* m) {
  P* p = m->p;
  GORO_PROBE2(p_release, p->id, m->id);
  p->m.store(nullptr, std::memory_order_relaxed);
  m->p = nullptr;
  return p;
}

void* mstart(void* arg);
void startm(P* p, bool spinning);

void wakep() {
  if (sched.npidle.load() == 0) return;
  if (sched.nmspinning.load() != 0) {
    // The G was published with a plain store when it went into an empty
    // runnext (runqput), and x86 may let this load pass that store. Look
    // again with a read-modify-write: it is ordered against the spinning
    // M's decrement, so either it reads 0 or that M's re-check sees the G.
    // (A fence would do on the hardware, but TSan does not model fences.)
    // Only paid when a spinning M exists.
    if (sched.nmspinning.fetch_add(0) != 0) return;
  }
  int32_t z = 0;
  if (!sched.nmspinning.compare_exchange_strong(z, 1)) return;
  startm(nullptr, true);
}

// wakeNetPoller makes sure a timer due at `when` is noticed: it interrupts
// the blocked poller if it would sleep past `when`, or starts an M.
void wakeNetPoller(int64_t when) {
  if (sched.lastpoll.load() == 0) {
    int64_t pu = sched.pollUntil.load();
    if (pu == 0 || pu > when) netpoll_break();
  } else {
    wakep();
  }
}

void reapdead();

// newm starts a thread that will run with p. Called without sched.lock; the
// caller has already reserved p (and a spinning count if spinning).
void newm(P* p, bool spinning) {
  reapdead();
  M* nm = new M;
  nm->nextp = p;
  nm->spinning = spinning;
  {
    LockGuard lg(sched.lock);
    if (sched.state.load() != kRunning) {
      pidleput(p);
      if (spinning) sched.nmspinning.fetch_sub(1);
      delete nm;
      return;
    }
    if (sched.mcount + 1 >= sched.max_threads) {  // + 1: the sysmon thread
      // At the thread cap no thread is created. An M that went idle since
      // startm looked takes p; otherwise p waits on the idle list and its
      // queued Gs go to the global queue, where the next M that looks for
      // work finds them: one leaving a syscall (exitsyscall takes an idle P),
      // one finishing its G, or one about to park (stopm re-checks).
      if (M* im = mget()) {
        im->spinning = spinning;
        im->nextp = p;
        im->park.wakeup();
      } else {
        stat_add(g_counters.thread_cap_waits);
        while (G* gp = runqget(p)) globrunqput(gp);
        pidleput(p);
        if (spinning) sched.nmspinning.fetch_sub(1);
      }
      delete nm;
      return;
    }
    nm->id = sched.mnext++;
    nm->fastrand = 0x9E3779B97F4A7C15ull * uint64_t(nm->id + 1) ^ uint64_t(nanotime());
    nm->alllink = sched.allm;
    sched.allm = nm;
    sched.mcount++;
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, san::kEnabled ? 8u << 20 : 512u << 10);
  int err = pthread_create(&nm->thread, &attr, mstart, nm);
  pthread_attr_destroy(&attr);
  if (err == 0) return;
  static std::atomic<bool> warned{false};
  if (!warned.exchange(true))
    fprintf(stderr, "goro: cannot create a thread: %s (running with fewer threads)\n", strerror(err));
  LockGuard lg(sched.lock);
  for (M** pp = &sched.allm; *pp; pp = &(*pp)->alllink)
    if (*pp == nm) {
      *pp = nm->alllink;
      break;
    }
  sched.mcount--;
  pidleput(p);
  if (spinning) sched.nmspinning.fetch_sub(1);
  delete nm;
}

// startm schedules some M to run p (an idle P if p is null).
void startm(P* p, bool spinning) {
  sched.lock.lock();
  if (sched.state.load() != kRunning) {
    if (p) pidleput(p);
    sched.lock.unlock();
    if (spinning) sched.nmspinning.fetch_sub(1);
    return;
  }
  if (!p) {
    p = pidleget();
    if (!p) {
      sched.lock.unlock();
      if (spinning) sched.nmspinning.fetch_sub(1);
      return;
    }
  }
  M* nm = mget();
  sched.lock.unlock();
  if (!nm) {
    newm(p, spinning);
    return;
  }
  nm->spinning = spinning;
  nm->nextp = p;
  nm->park.wakeup();
}

// stopm parks m until it is handed a P. False: the runtime is stopping.
// Also false when sysmon retired this idle M (m->exiting is set then).
bool stopm(M* m) {
  {
    LockGuard lg(sched.lock);
    if (sched.state.load() != kRunning) return false;
    // Gs queued globally while the thread cap kept Ms from starting (newm):
    // run them on an idle P instead of parking next to them.
    if (sched.runqsize.load() > 0 && sched.pidle) {
      acquirep(m, pidleget());
      return true;
    }
    m->idle_since = nanotime();
    mput(m);
  }
  m->park.sleep();
  m->park.clear();
  if (!m->nextp) return false;
  acquirep(m, m->nextp);
  m->nextp = nullptr;
  return true;
}

// handoffp gives p away: to a new M if there is work, else to the idle list.
void handoffp(P* p) {
  if (!runqempty(p) || sched.runqsize.load() > 0) {
    startm(p, false);
    return;
  }
  if (sched.nmspinning.load() + sched.npidle.load() == 0) {
    int32_t z = 0;
    if (sched.nmspinning.compare_exchange_strong(z, 1)) {
      startm(p, true);
      return;
    }
  }
  sched.lock.lock();
  if (sched.runqsize.load() != 0 && sched.state.load() == kRunning) {
    sched.lock.unlock();
    startm(p, false);
    return;
  }
  int64_t when = p->timers.next();
  pidleput(p);
  sched.lock.unlock();
  if (when != 0) wakeNetPoller(when);
}

void resetspinning(M* m) {
  m->spinning = false;
  int32_t n = sched.nmspinning.fetch_sub(1);
  throw_if(n <= 0, "resetspinning: negative nmspinning");
  wakep();
}

// ---------------------------------------------------------------------------
// G allocation and free lists.

// The global free list is a stack of batches. A batch is a chain of free Gs
// linked through schedlink (null-terminated); its head links to the next
// batch (gfbatch) and knows the chain's length (gfbatchn). Moving Gs
// between a P's list and the global one is O(1) under gflock: the walk Go's
// gfget does under its lock touches one G after another whose lines are
// often on the other CPU, and at 2 Ps that walk kept the lock long enough
// for gfput on the other P to sleep on it.

// gfreecnt_add: gflock held, so a plain read-modify-write suffices (the
// atomic is only for lock-free readers of the hint).
inline void gfreecnt_add(int32_t n) {
  sched.gfreecnt.store(sched.gfreecnt.load(std::memory_order_relaxed) + n,
                       std::memory_order_relaxed);
}

// gfpushbatch puts the chain head (n Gs) on the global list. gflock held.
void gfpushbatch(G* head, int32_t n) {
  head->gfbatch = sched.gfree;
  head->gfbatchn = n;
  head->scav_seen = false;
  sched.gfree = head;
  gfreecnt_add(n);
}

// gfpopbatch takes the most recently pushed batch: its head (null if the
// list is empty) and, in *n, its length. gflock held.
G* gfpopbatch(int32_t* n) {
  G* head = sched.gfree;
  if (!head) return nullptr;
  sched.gfree = head->gfbatch;
  head->gfbatch = nullptr;
  *n = head->gfbatchn;
  gfreecnt_add(-*n);
  return head;
}

G* galloc() {
  LockGuard lg(sched.gflock);
  G* chunk = new (std::nothrow) G[kGChunk];
  if (!chunk) return nullptr;
  if (!allg_add(chunk, kGChunk)) {  // the allgs registry (trace.h)
    delete[] chunk;
    return nullptr;
  }
  sched.gchunks.push_back(chunk);
  // chunk[0] is the caller's; the rest go to the global list in batches of
  // the size gfget takes.
  constexpr int kBatch = kGfreeLocalMax / 2;
  for (int i = 1; i < kGChunk; i += kBatch) {
    int n = std::min(kBatch, kGChunk - i);
    for (int j = 0; j + 1 < n; j++) chunk[i + j].schedlink = &chunk[i + j + 1];
    gfpushbatch(&chunk[i], n);
  }
  return &chunk[0];
}

// gfget_global takes one free G for a spawn from a plain thread (no P).
G* gfget_global() {
  LockGuard lg(sched.gflock);
  int32_t n;
  G* gp = gfpopbatch(&n);
  if (gp && n > 1) gfpushbatch(gp->schedlink, n - 1);
  if (gp) gp->schedlink = nullptr;
  return gp;
}

// gfget takes a free G from p's list, refilling an empty list with one
// global batch.
G* gfget(P* p) {
  if (!p->gfree && sched.gfreecnt.load(std::memory_order_relaxed) > 0) {
    LockGuard lg(sched.gflock);
    int32_t n;
    if (G* head = gfpopbatch(&n)) {
      p->gfree = head;
      p->gfreecnt = n;
    }
  }
  G* gp = p->gfree;
  if (gp) {
    G* next = gp->schedlink;
    p->gfree = next;
    p->gfreecnt--;
    // The next spawn writes line 0 of the next free G, which was usually
    // freed on another CPU: ask for it now, so the transfer overlaps this
    // spawn instead of stalling the next one. Line 1 is left where it is: a
    // spawn does not touch it, the M that runs the G does. (The write hint
    // compiles to prefetcht0, a read prefetch, for baseline x86-64; an
    // explicit prefetchw measured no better at 2 Ps.)
    if (next) __builtin_prefetch(next, 1);
  }
  return gp;
}

void scav_arm();

// gfput caches a dead G, with its stack, on p. When the list reaches
// kGfreeLocalMax, its older half (the Gs least likely still in cache) goes
// to the global list as one batch. Stacks are never unmapped here: the
// scavenger returns the pages of stacks that stay unused (see scavenge()).
void gfput(P* p, G* gp) {
  gp->schedlink = p->gfree;
  p->gfree = gp;
  p->gfreecnt++;
  if (p->gfreecnt < kGfreeLocalMax) return;
  G* last = p->gfree;  // the last G kept
  for (int32_t i = 1; i < kGfreeLocalMax / 2; i++) last = last->schedlink;
  G* head = last->schedlink;
  last->schedlink = nullptr;
  int32_t n = p->gfreecnt - kGfreeLocalMax / 2;
  p->gfreecnt = kGfreeLocalMax / 2;
  {
    LockGuard lg(sched.gflock);
    gfpushbatch(head, n);
  }
  scav_arm();
}

// Spares: a P's spare stacks, taken away from it (gfpurge).
struct Spares {
  Stack s[2];
  // release frees them; the caller must hold no lock.
  void release() {
    for (Stack& st : s) stack_free(&st);
  }
};

// gfpurge moves a retiring P's free Gs to the global list and returns its
// spare stacks, for the caller to release() once it holds no lock. Called
// before the P is marked Pdead: a regrow may hand it out again right after.
Spares gfpurge(P* p) {
  LockGuard lg(sched.gflock);
  if (p->gfree) gfpushbatch(p->gfree, p->gfreecnt);
  p->gfree = nullptr;
  p->gfreecnt = 0;
  Spares out;
  for (int i = 0; i < 2; i++) out.s[i] = std::exchange(p->stkspare[i], Stack{});
  return out;
}

// scavenge runs from the scavenger timer, at most once per kScavPeriod while
// free Gs hold resident stacks. The most recently freed batches, at least
// kScavRetain Gs, are left alone (the list is LIFO). Beyond them, a batch
// that was already on the list at the previous pass has its stacks' pages
// returned; the others are marked and looked at again next time. Batches
// being released are taken off the list meanwhile, so nobody can reuse a
// stack while its pages are being dropped; they go back at the tail, still
// marked, so they do not keep the scavenger armed.
void scavenge(Timer*) {
  sched.scavarmed.store(false);
  std::vector<Stack*> stacks;
  G* rhead = nullptr;  // detached batches, linked through gfbatch
  G** rtail = &rhead;
  int32_t nrel = 0;
  bool pending = false;
  {
    LockGuard lg(sched.gflock);
    int32_t kept = 0;
    for (G** bp = &sched.gfree; *bp;) {
      G* b = *bp;
      if (kept < kScavRetain) {
        kept += b->gfbatchn;
        bp = &b->gfbatch;
        continue;
      }
      if (!b->scav_seen) {
        b->scav_seen = true;
        pending = true;
        bp = &b->gfbatch;
        continue;
      }
      *bp = b->gfbatch;  // detach while its pages are released
      b->gfbatch = nullptr;
      *rtail = b;
      rtail = &b->gfbatch;
      nrel += b->gfbatchn;
    }
    gfreecnt_add(-nrel);
  }
  for (G* b = rhead; b; b = b->gfbatch)
    for (G* g = b; g; g = g->schedlink)
      if (g->stack.kind != StackKind::None && !g->stack.cold) stacks.push_back(&g->stack);
  if (!stacks.empty()) stack_release_batch(stacks.data(), stacks.size());
  if (rhead) {
    LockGuard lg(sched.gflock);
    G** bp = &sched.gfree;
    while (*bp) bp = &(*bp)->gfbatch;
    *bp = rhead;
    gfreecnt_add(nrel);
  }
  if (pending) scav_arm();
}

// scav_arm starts the scavenger timer unless it is already pending.
void scav_arm() {
  if (sched.scavarmed.load(std::memory_order_relaxed) || sched.scavarmed.exchange(true)) return;
  M* m = getm();
  P* p = (m && m->p) ? m->p : sched.allp[0];
  sched.scavtimer.f = scavenge;
  sched.scavtimer.when = nanotime() + kScavPeriod;
  if (p->timers.add(&sched.scavtimer)) wakeNetPoller(sched.scavtimer.when);
}

// ---------------------------------------------------------------------------
// Context switches. All sanitizer annotations live here (see san.h).

void gentry(bctx::transfer_t t);

// gogo runs gp on m until a G switches back to g0, and returns that G: gp,
// or a G that gp (or its successors) switched to directly (gswitch). Runs on
// g0.
G* gogo(M* m, G* gp) {
  san::tsan_switch(gp->tsan_fiber);
  san::asan_start_switch(&m->asan_fake_stack, gp->stack.lo, gp->stack.size());
  m->from_g = false;
  bctx::transfer_t t = bctx::jump_fcontext(gp->ctx, m);
  san::asan_finish_switch(m->asan_fake_stack, nullptr, nullptr);
  G* cur = m->curg.load(std::memory_order_relaxed);
  cur->ctx = t.fctx;
  return cur;
}

// resumed is the first thing a G does when it runs again after mcall or
// gswitch, possibly on another M (the one in t.data). t.fctx is that M's g0:
// a direct switch passes it on unchanged (gswitch_ontop).
inline void resumed(G* gp, bctx::transfer_t t) {
  M* nm = static_cast<M*>(t.data);
  nm->g0ctx = t.fctx;
  if (san::kAsan && nm->from_g)  // the stack left behind was a G's, not g0's
    san::asan_finish_switch(gp->asan_fake_stack, nullptr, nullptr);
  else
    san::asan_finish_switch(gp->asan_fake_stack, &nm->g0_stack_bottom, &nm->g0_stack_size);
}

// mcall switches from gp to its M's g0, which performs op. Returns when gp
// is resumed, possibly on another M. Runs on gp.
void mcall(G* gp, SwitchOp op) {
  M* m = gp->m;
  m->op = op;
  san::tsan_switch(m->tsan_fiber);
  san::asan_start_switch(op == SwitchOp::Exit ? nullptr : &gp->asan_fake_stack, m->g0_stack_bottom,
                         m->g0_stack_size);
  resumed(gp, bctx::jump_fcontext(m->g0ctx, nullptr));
}

[[noreturn]] void fatal_overflow(G* gp, const char* how) {
  char buf[256];
  int n = snprintf(buf, sizeof buf,
                   "goro: fatal error: goroutine %llu%s%s%s overflowed its stack (%s; stack %p-%p, "
                   "%zu bytes)\n",
                   (unsigned long long)gp->goid, gp->name[0] ? " (" : "", gp->name,
                   gp->name[0] ? ")" : "", how, (void*)gp->stack.lo, (void*)gp->stack.hi,
                   gp->stack.size());
  if (n > 0) {
    ssize_t w = write(2, buf, size_t(std::min<int>(n, sizeof buf - 1)));
    (void)w;
  }
  abort();
}

void gdestroy(M* m, G* gp);

// switchin makes gp m's running G (gp is about to run). On g0 (execute) or
// on gp's own stack (gswitch_ontop).
// inherit: gp runs again right after a park that found its wait over, and
// keeps its time slice, as Go's execute(gp, inheritTime): schedtick does not
// move, so sysmon still sees a P stuck on one G and a thief still sees a P
// that is not consuming its runnext.
inline void switchin(M* m, G* gp, bool inherit = false) {
  // A preemption request left over from gp's previous run is moot.
  if (!inherit && gp->preempt.load(std::memory_order_relaxed))
    gp->preempt.store(false, std::memory_order_relaxed);
  m->curg.store(gp, std::memory_order_release);  // sysmon reads gp through it
  gp->m = m;
  gp->status.store(Grunning, std::memory_order_relaxed);
  if (inherit) return;
  P* pp = m->p;
  pp->schedtick.store(pp->schedtick.load(std::memory_order_relaxed) + 1,
                      std::memory_order_relaxed);
}

// switchout: gp has just left its stack (its context is saved). Returns what
// it asked for. On g0 (execute) or on the next G's stack (gswitch_ontop).
inline SwitchOp switchout(M* m, G* gp) {
  SwitchOp op = m->op;
  m->op = SwitchOp::None;
  if (gp->preempt.load(std::memory_order_relaxed)) {
    // sysmon asked gp to yield and it switched out: the request is honoured.
    gp->preempt.store(false, std::memory_order_relaxed);
    stat_add(g_counters.preempt_honoured);
  }
  if (!stack_sp_ok(&gp->stack, gp->ctx))
    fatal_overflow(gp, "stack pointer below the stack at a switch");
  return op;
}

// parkcommit finishes gp's park (SwitchOp::Park) once it is off its stack:
// it becomes Gwaiting and its park function runs. False: the park function
// found the wait over already, and gp is Grunnable again. On g0 (execute) or
// on the next G's stack (gswitch_ontop).
inline bool parkcommit(M* m, G* gp) {
  gp->status.store(Gwaiting, std::memory_order_release);
  ParkUnlockFn f = m->unlockf;
  void* arg = m->unlockarg;
  m->unlockf = nullptr;
  m->unlockarg = nullptr;
  if (!f || f(gp, arg)) return true;
  gp->status.store(Grunnable, std::memory_order_release);
  return false;
}

// gbind gives a new G its context just before its first run, on p (held by
// the caller). If p's first spare stack has the size of the G's own, the G
// runs on it, and its own goes to the back of the spares: the spare is the
// stack of a G that exited here lately, still in this CPU's caches, where
// the G's own may not have been touched for a long time. Binding at the
// first run rather than at spawn is what lets a burst of short goroutines
// share two resident stacks: each one's stack is already reserved
// (rt_newproc), so this never allocates and never fails.
void gbind(P* p, G* gp) {
  Stack* sp = p->stkspare;
  if (sp[0].kind != StackKind::None && sp[0].size() == gp->stack.size()) {
    Stack own = gp->stack;
    gp->stack = sp[0];
    sp[0] = sp[1];
    sp[1] = own;
  }
  stack_prepare(&gp->stack);
  gp->ctx = bctx::make_fcontext(gp->stack.hi, gp->stack.size(), gentry);
}

// execute runs gp on m (which holds a P) and performs what the G that comes
// back asked for: gp, or a G it switched to directly. Runs on g0.
void execute(M* m, G* gp) {
  bool inherit = false;
  for (;;) {
    if (!gp->ctx) gbind(m->p, gp);
    switchin(m, gp, inherit);
    inherit = false;
    gp = gogo(m, gp);
    m->curg.store(nullptr, std::memory_order_relaxed);
    SwitchOp op = switchout(m, gp);
    switch (op) {
      case SwitchOp::Yield:
        gp->status.store(Grunnable, std::memory_order_release);
        runqput(m->p, gp, false);
        return;
      case SwitchOp::Preempt:
        gp->status.store(Grunnable, std::memory_order_release);
        sched.lock.lock();
        globrunqput(gp);
        sched.lock.unlock();
        wakep();  // an idle P may take it (Go's goschedImpl)
        return;
      case SwitchOp::Park:
        if (!parkcommit(m, gp)) {  // the wait is over already: run it again at once
          inherit = true;
          continue;
        }
        return;
      case SwitchOp::Exit:
        gdestroy(m, gp);
        return;
      case SwitchOp::ExitSyscall: {
        // exitsyscall found no P from gp's stack (Go's exitsyscall0): try
        // once more under the lock, else queue gp globally; this M then
        // parks in schedule(), or waits there for gp if gp is locked to it.
        sched.lock.lock();
        P* p = sched.state.load() == kRunning ? pidleget() : nullptr;
        if (p) {
          acquirep(m, p);
          sched.lock.unlock();
          continue;
        }
        gp->status.store(Grunnable, std::memory_order_release);
        globrunqput(gp);
        sched.lock.unlock();
        return;
      }
      case SwitchOp::None:
        fatal("execute: goroutine switched without a reason");
    }
  }
}

// ---------------------------------------------------------------------------
// Direct switches: G -> G without passing through g0.
//
// A G that yields or parks while its P's local queue holds the G that
// schedule() would certainly pick next switches straight to that G: one
// context switch instead of two (G -> g0 -> G'), and no pass through
// findRunnable. The old G must not become visible to other Ms before its
// context is saved, so the part of execute() that follows a switch-out
// (requeue it, or run its park function) cannot run on the old G's stack.
// Boost.Context's ontop_fcontext runs gswitch_ontop on the new G's stack
// first, with the old G's saved context in hand: it does that part there,
// then the new G resumes. g0 stays suspended in gogo() meanwhile; whichever
// G later switches to g0 is m->curg, which gogo() returns to execute().
//
// Whenever the choice is not that simple (no local G, a timer due, the
// global queue's turn, a locked G or M, the runtime stopping or shrinking)
// the G takes the g0 path, mcall(), and findRunnable decides. gopreempt
// always takes it. goexit takes the direct path too: gdestroy runs on the
// next G's stack, where it may hand the dead G's stack over as the P's
// spare, since nothing runs on it any more.

// gswitch_ontop and the park function run on the next G's stack, below its
// saved stack pointer: up to ~2.5 KB with a full local queue (runqputslow's
// batch) and a timer heap that grows (malloc), more under ASan. A G saved
// with less room than this above its stack's low end is resumed through g0
// instead, so that work cannot overflow it.
// That covers a signal delivered meanwhile as well: its frame (~3.5 KB with
// AVX-512 state) lands on the same stack.
constexpr size_t kOntopHeadroom = 8192;

// Whether ontop_fcontext may start a G that has never run. On x86-64 Boost's
// make_fcontext leaves its entry trampoline as the return address, so the
// ontop function returns into it and on to gentry. On other architectures
// (aarch64) the ontop function returns to the context's exit path instead and
// the process would end: a new G is started through g0 there.
#if defined(__x86_64__)
constexpr bool kOntopStartsNewG = true;
#else
constexpr bool kOntopStartsNewG = false;
#endif

// direct_next takes from m's P the G that schedule() would run next, if that
// is certain without g0; null otherwise. Runs on gp, m's running G.
G* direct_next(M* m, G* gp) {
  P* p = m->p;
  if (!p || m->lockedg || gp->lockedm) return nullptr;
  if (sched.state.load(std::memory_order_acquire) != kRunning) return nullptr;
  if (p->id >= sched.gomaxprocs.load(std::memory_order_relaxed)) return nullptr;
  if (p->timers.due() != 0) return nullptr;
  if ((p->schedtick.load(std::memory_order_relaxed) % 61 == 0 || p->globturn) &&
      sched.runqsize.load(std::memory_order_relaxed) > 0)
    return nullptr;
  G* next = runqget(p);
  if (!next) return nullptr;
  if (next->lockedm || (next->fresh && !kOntopStartsNewG) ||
      (next->ctx &&
       size_t(static_cast<char*>(next->ctx) - next->stack.lo) < kOntopHeadroom)) {
    // Back to the front (runnext: where runqget found it, or the head with
    // runnext empty) for findRunnable; startlockedm() hands a locked G to
    // its M.
    runqput(p, next, true);
    return nullptr;
  }
  if (!next->ctx) gbind(p, next);
  return next;
}

// gswitch_ontop runs on next's stack, before next resumes: gp's half of
// execute() (switchout and op), and next's switchin. It hands next the same
// transfer g0 would have: m's g0 context and m.
bctx::transfer_t gswitch_ontop(bctx::transfer_t t) {
  M* m = static_cast<M*>(t.data);
  G* gp = m->prevg;
  G* next = m->nextg;
  m->prevg = m->nextg = nullptr;
  gp->ctx = t.fctx;
  SwitchOp op = switchout(m, gp);
  switchin(m, next);
  if (op == SwitchOp::Exit) {
    gdestroy(m, gp);  // gp's stack is free now: it may become p's spare
  } else if (op == SwitchOp::Yield) {
    gp->status.store(Grunnable, std::memory_order_release);
    runqput(m->p, gp, false);
  } else if (!parkcommit(m, gp)) {
    // The wait is over already: gp runs after next (execute() would have
    // run it at once, but next owns this stack now).
    runqput(m->p, gp, true);
  }
  m->from_g = true;
  return bctx::transfer_t{m->g0ctx, m};
}

// gswitch switches from gp straight to next (from direct_next) for op (Yield,
// Park or Exit). Returns when gp is resumed, possibly on another M; never
// for Exit. Runs on gp.
void gswitch(G* gp, G* next, SwitchOp op) {
  M* m = gp->m;
  m->op = op;
  m->prevg = gp;
  m->nextg = next;
  san::tsan_switch(next->tsan_fiber);
  // An exiting G's fake stack dies with it (as in mcall).
  san::asan_start_switch(op == SwitchOp::Exit ? nullptr : &gp->asan_fake_stack, next->stack.lo,
                         next->stack.size());
  resumed(gp, bctx::ontop_fcontext(next->ctx, m, gswitch_ontop));
}

// switchto leaves gp for op (Yield or Park): directly to the next local G if
// there is a certain one, else through g0. Runs on gp.
void switchto(G* gp, SwitchOp op) {
  if (G* next = direct_next(gp->m, gp))
    gswitch(gp, next, op);
  else
    mcall(gp, op);
}

// ---------------------------------------------------------------------------
// Thread locking (Go's LockOSThread machinery).

// stoplockedm: m's locked G is not runnable here; give the P away and sleep
// until the G is handed back with a P. False: the runtime is stopping.
bool stoplockedm(M* m) {
  if (m->p) {
    // The M blocks for its locked G: its P goes to another M (Go's handoffp).
    P* p = releasep(m);
    stat_add(g_counters.handoffs);
    GORO_PROBE2(handoff, p->id, 2);
    handoffp(p);
  }
  {
    LockGuard lg(sched.lock);
    if (sched.state.load() != kRunning) return false;
  }
  m->park.sleep();
  m->park.clear();
  if (!m->nextp) return false;
  acquirep(m, m->nextp);
  m->nextp = nullptr;
  return true;
}

// startlockedm hands m's P to the M that gp is locked to, then parks m.
bool startlockedm(M* m, G* gp) {
  M* lm = gp->lockedm;
  P* p = releasep(m);
  lm->nextp = p;
  lm->park.wakeup();
  return stopm(m);
}

// ---------------------------------------------------------------------------
// Finding work.

// retirep: m's P is beyond gomaxprocs; move its work elsewhere and drop it.
void retirep(M* m) {
  P* p = m->p;
  Spares spare;
  {
    LockGuard lg(sched.lock);
    if (p->id < sched.gomaxprocs.load()) return;  // raced with a regrow
    while (G* gp = runqget(p)) globrunqput(gp);
    releasep(m);
    spare = gfpurge(p);
    p->status.store(Pdead, std::memory_order_relaxed);
  }
  spare.release();
  P* p0 = sched.allp[0];
  p->timers.move_to(&p0->timers);
  if (int64_t when = p0->timers.next()) wakeNetPoller(when);
  if (sched.runqsize.load() > 0) wakep();
}

uint32_t coprime_stride(uint32_t n, uint32_t r) {
  if (n <= 1) return 1;
  uint32_t s = 1 + r % (n - 1);
  for (;;) {
    uint32_t a = s, b = n;
    while (b) {
      uint32_t t = a % b;
      a = b;
      b = t;
    }
    if (a == 1) return s;
    s = s % (n - 1) + 1;
  }
}

// stealWork tries 4 rounds over all Ps in random order. newWork is set when
// running another P's timers may have readied Gs.
G* stealWork(M* m, bool* newWork) {
  P* p = m->p;
  for (int i = 0; i < 4; i++) {
    bool last = i == 3;
    uint32_t n = uint32_t(sched.gomaxprocs.load(std::memory_order_relaxed));
    uint32_t start = fastrand(m) % n;
    uint32_t stride = coprime_stride(n, fastrand(m));
    for (uint32_t k = 0; k < n; k++) {
      if (sched.state.load(std::memory_order_relaxed) != kRunning) return nullptr;
      P* p2 = sched.allp[(start + k * stride) % n];
      if (!p2 || p2 == p) continue;
      if (last) {
        if (int64_t now = p2->timers.due()) {
          if (p2->timers.run(now) > 0) {
            if (G* gp = runqget(p)) return gp;
            *newWork = true;
          }
        }
      }
      // Ps in a syscall keep their queues until retaken: steal from them too.
      uint32_t s2 = p2->status.load(std::memory_order_relaxed);
      if (s2 == Prunning || s2 == Psyscall) {
        if (G* gp = runqsteal(p, p2, last)) return gp;
      }
    }
  }
  return nullptr;
}

int64_t earliestTimer() {
  int64_t best = 0;
  int32_t n = sched.nallp.load();
  for (int32_t i = 0; i < n; i++) {
    P* p = sched.allp[i];
    int64_t w = p->timers.next();
    if (w != 0 && (best == 0 || w < best)) best = w;
  }
  return best;
}

void injectglist(G* list) {
  if (!list) return;
  int n = 0;
  G* tail = list;
  for (G* g = list; g; g = g->schedlink) {
    g->status.store(Grunnable, std::memory_order_release);
    tail = g;
    n++;
  }
  {
    LockGuard lg(sched.lock);
    globrunqputbatch(list, tail, n);
  }
  for (; n > 0 && sched.npidle.load() > 0; n--) startm(nullptr, false);
}

// findRunnable returns a G to run, blocking until there is one. Null means
// the runtime is stopping.
G* findRunnable(M* m) {
top:
  if (sched.state.load(std::memory_order_acquire) != kRunning) {
    if (m->spinning) {
      m->spinning = false;
      sched.nmspinning.fetch_sub(1);
    }
    return nullptr;
  }
  P* p = m->p;
  if (!p) {
    if (m->spinning) {
      m->spinning = false;
      sched.nmspinning.fetch_sub(1);
    }
    sched.lock.lock();
    p = pidleget();
    sched.lock.unlock();
    if (p)
      acquirep(m, p);
    else if (!stopm(m))
      return nullptr;
    goto top;
  }
  if (p->id >= sched.gomaxprocs.load(std::memory_order_relaxed)) {
    retirep(m);
    goto top;
  }
  if (int64_t now = p->timers.due()) p->timers.run(now);

  // Every 61st schedule the global queue goes first, so a P whose local
  // queue keeps refilling cannot starve it (Go's findRunnable). One change:
  // if a G waits in runnext (just readied: a timer, a channel peer) it goes
  // first and the global turn comes at the next schedule. Preempted Gs sit
  // in the global queue (gopreempt), so without this a sleeper woken behind
  // CPU-bound Gs lost a whole slice in 1 of 61 wake-ups: bench-throttle's
  // sleeper p99 was 29.8 ms, 15 ms with the deferral.
  if ((p->schedtick % 61 == 0 || p->globturn) &&
      sched.runqsize.load(std::memory_order_relaxed) > 0) {
    if (!p->globturn && p->runnext.load(std::memory_order_relaxed)) {
      p->globturn = true;
    } else {
      p->globturn = false;
      LockGuard lg(sched.lock);
      if (G* gp = globrunqget(p, 1)) return gp;
    }
  }
  if (G* gp = runqget(p)) return gp;
  if (sched.runqsize.load(std::memory_order_relaxed) > 0) {
    LockGuard lg(sched.lock);
    if (G* gp = globrunqget(p, 0)) return gp;
  }

  // Poll the network without blocking, unless an M is blocked in it anyway
  // (Go's findRunnable). The first ready G runs now, the rest go to this P's
  // queue where idle Ps can steal them.
  if (netpoll_any_waiters() && sched.lastpoll.load(std::memory_order_relaxed) != 0) {
    if (G* gp = netpoll(0)) {
      G* rest = gp->schedlink;
      for (G* g = rest; g;) {
        G* next = g->schedlink;
        g->status.store(Grunnable, std::memory_order_release);
        runqput(p, g, false);
        g = next;
      }
      gp->status.store(Grunnable, std::memory_order_release);
      if (rest) wakep();
      return gp;
    }
  }

  {
    int32_t procs = sched.gomaxprocs.load();
    if (m->spinning || 2 * sched.nmspinning.load() < procs - sched.npidle.load()) {
      if (!m->spinning) {
        m->spinning = true;
        sched.nmspinning.fetch_add(1);
      }
      bool newWork = false;
      if (G* gp = stealWork(m, &newWork)) return gp;
      if (newWork) goto top;
    }
  }

  // Nothing to do: give up the P.
  sched.lock.lock();
  if (sched.state.load() != kRunning) {
    sched.lock.unlock();
    goto top;
  }
  if (sched.runqsize.load() > 0) {
    G* gp = globrunqget(p, 0);
    sched.lock.unlock();
    return gp;
  }
  if (p->id >= sched.gomaxprocs.load()) {
    sched.lock.unlock();
    goto top;
  }
  releasep(m);
  pidleput(p);
  sched.lock.unlock();

  bool wasSpinning = m->spinning;
  if (m->spinning) {
    m->spinning = false;
    throw_if(sched.nmspinning.fetch_sub(1) <= 0, "findRunnable: negative nmspinning");
    // Re-check after dropping spinning (see "why no wake-up is lost").
    int32_t n = sched.gomaxprocs.load();
    bool work = sched.runqsize.load() > 0;
    for (int32_t i = 0; i < n && !work; i++)
      if (P* p2 = sched.allp[i]) work = !runqempty(p2);
    if (work) {
      sched.lock.lock();
      p = pidleget();
      sched.lock.unlock();
      if (p) {
        acquirep(m, p);
        m->spinning = true;
        sched.nmspinning.fetch_add(1);
        goto top;
      }
    }
  }

  // Block in the netpoller if a timer is pending or a G waits on an fd
  // (pollUntil == 0: no timer, sleep until I/O or a break).
  int64_t pollUntil = earliestTimer();
  if (pollUntil != 0 || netpoll_any_waiters()) {
    if (sched.lastpoll.exchange(0) != 0) {
      // This M is the poller: sleep until the earliest timer, I/O or a break.
      sched.pollUntil.store(pollUntil);
      if (sched.state.load() == kRunning) {
        // Timers added after earliestTimer() wake us through netpoll_break.
        int64_t now = nanotime();
        G* list = netpoll(pollUntil == 0 ? -1 : pollUntil > now ? pollUntil - now : 0);
        sched.pollUntil.store(0);
        sched.lastpoll.store(nanotime());
        sched.lock.lock();
        p = pidleget();
        sched.lock.unlock();
        if (p) {
          acquirep(m, p);
          if (list) {
            G* gp = list;
            injectglist(list->schedlink);
            gp->status.store(Grunnable, std::memory_order_release);
            return gp;
          }
          if (wasSpinning) {
            m->spinning = true;
            sched.nmspinning.fetch_add(1);
          }
          goto top;
        }
        injectglist(list);
      } else {
        sched.pollUntil.store(0);
        sched.lastpoll.store(nanotime());
      }
    } else if (pollUntil != 0) {
      int64_t pu = sched.pollUntil.load();
      if (pu == 0 || pu > pollUntil) netpoll_break();
    }
  }
  if (!stopm(m)) return nullptr;
  goto top;
}

// schedule is the M's loop on g0: find a G, run it, repeat. Returns when the
// runtime stops or the M must exit.
void schedule(M* m) {
  for (;;) {
    if (m->lockedg) {
      if (!stoplockedm(m)) return;
      execute(m, m->lockedg);
      if (m->exiting) return;
      continue;
    }
    G* gp = findRunnable(m);
    if (!gp) return;
    if (m->spinning) resetspinning(m);
    if (gp->lockedm && gp->lockedm != m) {
      if (!startlockedm(m, gp)) return;
      continue;
    }
    execute(m, gp);
    if (m->exiting) return;
  }
}

void* mstart(void* arg) {
  M* m = static_cast<M*>(arg);
  tls_m = m;
  m->tid = pid_t(syscall(SYS_gettid));
  stat_add(g_counters.threads_created);
  GORO_PROBE2(thread_start, m->id, m->tid);
  m->tsan_fiber = san::tsan_current_fiber();
  m->altstack = signals_m_init();
  {
    char name[16];
    snprintf(name, sizeof name, "goro-m%lld", (long long)m->id);
    pthread_setname_np(pthread_self(), name);
  }
  P* p = m->nextp;
  m->nextp = nullptr;
  acquirep(m, p);
  schedule(m);
  // Exiting after a locked G's exit (P already handed off) or at shutdown.
  if (m->p) releasep(m);
  signals_m_fini(m->altstack);
  m->altstack = nullptr;
  tls_m = nullptr;
  GORO_PROBE2(thread_exit, m->id, m->tid);
  stat_add(g_counters.threads_exited);
  if (m->exiting) {
    // A locked G exited: this thread ends now; newm or shutdown joins it.
    // If shutdown already took allm, it joins this M itself.
    LockGuard lg(sched.lock);
    for (M** pp = &sched.allm; *pp; pp = &(*pp)->alllink)
      if (*pp == m) {
        *pp = m->alllink;
        sched.mcount--;
        m->alllink = sched.mdead;
        sched.mdead = m;
        break;
      }
  }
  return nullptr;
}

void reapdead() {
  M* dead;
  {
    LockGuard lg(sched.lock);
    dead = sched.mdead;
    sched.mdead = nullptr;
  }
  while (dead) {
    M* next = dead->alllink;
    pthread_join(dead->thread, nullptr);
    delete dead;
    dead = next;
  }
}

// ---------------------------------------------------------------------------
// Goroutine entry and exit.

void report_exception(G* gp, const char* what) {
  fprintf(stderr, "goro: goroutine %llu%s%s%s: uncaught exception: %s\n",
          (unsigned long long)gp->goid, gp->name[0] ? " (" : "", gp->name, gp->name[0] ? ")" : "",
          what);
  if (sched.exception_policy == GORO_EXCEPTION_ABORT) abort();
}

void run_user(G* gp) {
  try {
    gp->fn(gp->arg);
  } catch (const std::exception& e) {
    report_exception(gp, e.what());
  } catch (...) {
    report_exception(gp, "(not derived from std::exception)");
  }
}

[[noreturn]] void goexit(G* gp) {
  if (gp->syscalldepth) {  // returned without goro_syscall_exit()
    gp->syscalldepth = 0;
    exitsyscall(gp);
  }
  if (gp->slow.load(std::memory_order_relaxed) && gp->fls)
    fls_run_destructors(&gp->fls, &gp->flscap);
  // Straight to the next local G when that is certain (direct_next), with
  // gdestroy run on its stack: one context switch per goroutine instead of
  // two. An exit function runs on g0 (goro_run's completion takes locks
  // and readies its waiter); a locked G hands its P off there.
  if (!gp->exitfn) {
    if (G* next = direct_next(gp->m, gp)) {
      gswitch(gp, next, SwitchOp::Exit);
      fatal("goexit: dead goroutine resumed");
    }
  }
  mcall(gp, SwitchOp::Exit);
  fatal("goexit: dead goroutine resumed");
}

// gentry is where a new G starts. From g0 (gogo), t is g0's context and M.
// From a direct switch, t is garbage: Boost.Context's entry trampoline passes
// on only what a jump_fcontext delivers, not an ontop function's result. The
// M is this thread's then, and its g0 context did not change.
void gentry(bctx::transfer_t t) {
  M* m = getm();
  G* gp = m->curg;
  gp->fresh = false;
  if (m->from_g) {
    san::asan_finish_switch(nullptr, nullptr, nullptr);
  } else {
    m->g0ctx = t.fctx;
    san::asan_finish_switch(nullptr, &m->g0_stack_bottom, &m->g0_stack_size);
  }
  run_user(gp);
  goexit(gp);
}

constexpr uint32_t kTsanFiberUses = 1024;

// gdestroy finishes a G that exited: on g0 of m, which holds a P, or on the
// stack of the G that m switched to from gp (gswitch_ontop).
void gdestroy(M* m, G* gp) {
  P* p = m->p;
  GORO_PROBE1(g_exit, gp->goid);
  gp->status.store(Gdead, std::memory_order_relaxed);
  // Keep the TSan fiber for the G's next life: creating one maps and
  // clears a whole TSan thread state, which made spawning under TSan cost
  // milliseconds. A fiber's shadow call stack keeps the frames of every
  // life that ended by switching away (gentry, goexit, mcall), so it is
  // renewed after kTsanFiberUses lives, long before that stack fills.
  // Reuse loses no ordering: every switch to it synchronizes (flags 0).
  if (san::kTsan && ++gp->tsan_uses >= kTsanFiberUses) {
    san::tsan_destroy_fiber(gp->tsan_fiber);
    gp->tsan_fiber = nullptr;
    gp->tsan_uses = 0;
  }
  if (san::kAsan) gp->asan_fake_stack = nullptr;
  // A free G's line 2 is clean, so a spawn need not touch it (runtime2.h).
  // (preemptone may still count a request ignored by gp just after this,
  // having read m->curg before gp exited: the next goroutine in this G then
  // starts with self_ignored 1. The process-wide counter is right.)
  if (gp->slow.load(std::memory_order_relaxed)) {
    gp->slow.store(false, std::memory_order_relaxed);
    gp->asyncsafe.store(0, std::memory_order_relaxed);
    gp->asyncmod.store(0, std::memory_order_relaxed);
    gp->preempt_ignored.store(0, std::memory_order_relaxed);
  }
  gp->fn = nullptr;
  gp->arg = nullptr;
  gp->m = nullptr;
  if (gp->named) {
    gp->name[0] = 0;
    gp->named = false;
  }
  // Release: whoever sees this goroutine counted out (goro_num_goroutine)
  // also sees everything it did.
  p->gexited.store(p->gexited.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  bool locked = gp->lockedm != nullptr;
  if (locked) {
    // Go's rule: a goroutine that exits locked takes its thread with it.
    gp->lockedm = nullptr;
    gp->lockedcount = 0;
    m->lockedg = nullptr;
    m->exiting = true;
  }
  if (gp->stack.kind != StackKind::None && gp->stack.size() != sched.stack_size) {
    // A stack of another size than the default goes back to the pool's
    // per-size cache, so a later spawn of that size finds it (a G on the
    // free list with a mismatched stack would otherwise cost an munmap +
    // mmap).
    stack_free(&gp->stack);
  } else {
    // A default-size stack was just used, so it is in this CPU's caches: it
    // becomes the P's first spare, for the next new G to run here (gbind),
    // and gp takes the one at the back (or none: rt_newproc allocates then).
    // In steady state that is the stack the last new G brought, untouched:
    // the two hot stacks stay with the P however the Gs exit.
    Stack* sp = p->stkspare;
    Stack back = sp[1];
    sp[1] = sp[0];
    sp[0] = gp->stack;
    gp->stack = back;
  }
  gp->stkdefault = gp->stack.kind != StackKind::None;  // default size or none, from here on
  void (*exitfn)(void*) = gp->exitfn;
  void* exitarg = gp->exitarg;
  gp->exitfn = nullptr;
  gp->exitarg = nullptr;
  gfput(p, gp);
  if (exitfn) exitfn(exitarg);
  if (locked) handoffp(releasep(m));
}

bool park_add_sleep_timer(G* gp, void*) {
  // Read `when` first: once queued, the timer may fire and the G run on.
  int64_t when = gp->sleeptimer.when;
  M* m = getm();
  if (m->p->timers.add(&gp->sleeptimer)) wakeNetPoller(when);
  return true;
}

void sleep_timer_fired(Timer* t) { goready(static_cast<G*>(t->arg)); }

// ---------------------------------------------------------------------------
// Resizing.

void procresize(int32_t n) {
  LockGuard rl(sched.resize_lock);
  int32_t old = sched.gomaxprocs.load();
  if (n == old) return;
  std::vector<P*> fresh, retired;
  for (int32_t i = sched.nallp.load(); i < n; i++) {
    P* p = new P;
    p->id = i;
    fresh.push_back(p);
  }
  {
    LockGuard lg(sched.lock);
    for (P* p : fresh) sched.allp[p->id] = p;
    if (n > sched.nallp.load()) sched.nallp.store(n);
    sched.gomaxprocs.store(n);
    if (n > old) {
      for (int32_t i = old; i < n; i++) {
        P* p = sched.allp[i];
        // A P still held by an M that has not retired it yet stays with it.
        if (p->status.load() == Pdead) pidleput(p);
      }
    } else {
      // Retire idle Ps beyond n now; running ones retire themselves.
      for (P** pp = &sched.pidle; *pp;) {
        P* p = *pp;
        if (p->id >= n) {
          *pp = p->link;
          p->link = nullptr;
          p->status.store(Pdead, std::memory_order_relaxed);
          sched.npidle.fetch_sub(1);
          retired.push_back(p);
        } else {
          pp = &p->link;
        }
      }
    }
  }
  if (n < old) {
    for (P* p : retired) {
      gfpurge(p).release();
      p->timers.move_to(&sched.allp[0]->timers);
    }
    if (int64_t when = sched.allp[0]->timers.next()) wakeNetPoller(when);
  } else {
    // New Ps pick up work at once: a spinning M steals from busy Ps' local
    // queues (nobody else would notice them) and fans out to the rest.
    // Not during start: there is no work yet and start_locked makes the first M.
    if (old > 0) wakep();
  }
}

int validate_config(const goro_config_t* cfg, goro_config_t* out) {
  goro_config_t c = GORO_CONFIG_INIT;
  if (cfg) {
    if (cfg->size < sizeof(size_t) || cfg->size > 65536) return -EINVAL;
    size_t n = std::min(cfg->size, sizeof(goro_config_t));
    memcpy(&c, cfg, n);
    for (size_t i = sizeof(goro_config_t); i < cfg->size; i++)
      if (reinterpret_cast<const unsigned char*>(cfg)[i] != 0) return -E2BIG;
  }
  if (c.maxprocs < 0 || c.maxprocs > GORO_MAXPROCS_MAX) return -EINVAL;
  if (c.exception_policy != GORO_EXCEPTION_ABORT && c.exception_policy != GORO_EXCEPTION_CONTINUE)
    return -EINVAL;
  if (c.stack_size != 0 && (c.stack_size < GORO_STACK_MIN || c.stack_size > GORO_STACK_MAX))
    return -EINVAL;
  if (c.guarded_stacks < -1) return -EINVAL;
  if (c.maxprocs_rounding < GORO_MAXPROCS_ROUND_DEFAULT ||
      c.maxprocs_rounding > GORO_MAXPROCS_ROUND_FLOOR)
    return -EINVAL;
  if (c.maxprocs_min < 0 || c.maxprocs_min > GORO_MAXPROCS_MAX) return -EINVAL;
  if (c.max_threads != 0 && (c.max_threads < 2 || c.max_threads > kMaxThreadsLimit))
    return -EINVAL;
  if (c.preempt_signal != 0 && c.preempt_signal != -1 && !preempt_signal_ok(c.preempt_signal))
    return -EINVAL;
  if (c.preempt_ns < 0) return -EINVAL;
  *out = c;
  return 0;
}

size_t round_page(size_t n) {
  size_t ps = size_t(sysconf(_SC_PAGESIZE));
  return (n + ps - 1) & ~(ps - 1);
}

int shutdown_locked();

// start_locked starts the runtime. sched.lifecycle held.
int start_locked(const goro_config_t& c) {
  size_t dflt = c.stack_size ? c.stack_size : (san::kEnabled ? 256u << 10 : 64u << 10);
  sched.stack_size = round_page(dflt);
  sched.exception_policy = c.exception_policy;
  sched.max_threads = c.max_threads ? c.max_threads : env_max_threads();
  sched.preempt_ns = c.preempt_ns ? std::max<int64_t>(c.preempt_ns, kPreemptNsMin) : kPreemptNsDefault;
  sched.preempt_signal = c.preempt_signal == 0 ? SIGURG : c.preempt_signal < 0 ? 0 : c.preempt_signal;
  debug_parse_env();
  trace_start();  // schedtrace hook, SIGQUIT dump (trace.cpp)
  stack_pool_init(sched.stack_size, c.guarded_stacks);
  if (!netpoll_init()) return -errno ? -errno : -ENOMEM;
  signals_install_once();
  preempt_install(sched.preempt_signal);
  sched.lastpoll.store(nanotime());
  sched.pollUntil.store(0);
  sched.nmspinning.store(0);
  sched.gomaxprocs.store(0);
  sched.state.store(kRunning);
  procresize(maxprocs_init(c));  // pinned or automatic; fires the probe (maxprocs.cpp)
  // Start one M now, so that a later failure to create threads can only cost
  // parallelism, never progress. It parks at once.
  P* p;
  {
    LockGuard lg(sched.lock);
    p = pidleget();
  }
  if (p) newm(p, false);
  bool ok;
  {
    LockGuard lg(sched.lock);
    ok = sched.mcount > 0;
  }
  if (ok) ok = sysmon_start();
  if (!ok) {
    shutdown_locked();
    return -EAGAIN;
  }
  return 0;
}

// ---------------------------------------------------------------------------
// What sysmon (sysmon.cpp) does to the scheduler. Everything in this part
// runs on the sysmon thread only.

// SysmonTick is sysmon's memory of one P between two looks (Go's sysmontick).
struct SysmonTick {
  uint32_t schedtick = 0;
  uint32_t syscalltick = 0;
  int64_t schedwhen = 0;
  int64_t syscallwhen = 0;
};
SysmonTick sysmonticks[GORO_MAXPROCS_MAX];  // sysmon thread only

// drop_retaken_p: p was retaken from a syscall but maxprocs shrank below it
// meanwhile; retire it as retirep() would (its Gs go global, timers to P0).
void drop_retaken_p(P* p) {
  sched.lock.lock();
  if (p->id < sched.gomaxprocs.load()) {  // regrown meanwhile
    sched.lock.unlock();
    handoffp(p);
    return;
  }
  while (G* gp = runqget(p)) globrunqput(gp);
  Spares spare = gfpurge(p);
  p->status.store(Pdead, std::memory_order_relaxed);
  sched.lock.unlock();
  spare.release();
  P* p0 = sched.allp[0];
  p->timers.move_to(&p0->timers);
  if (int64_t when = p0->timers.next()) wakeNetPoller(when);
  if (sched.runqsize.load() > 0) wakep();
}

// work_waiting: is there work that the G running on p keeps waiting?
bool work_waiting(P* p, int64_t now) {
  if (sched.runqsize.load(std::memory_order_relaxed) > 0 || !runqempty(p)) return true;
  int64_t w = p->timers.next();
  return w != 0 && w <= now;
}

// preemptone asks the G running on p to yield (Go's preemptone): it sets
// gp->preempt, which the G sees at its next runtime call, and signals its M
// for an asynchronous switch. sched.lock keeps p's M from exiting meanwhile
// (an exiting M takes the lock before it is freed). False: no G runs on p.
bool preemptone(P* p) {
  LockGuard lg(sched.lock);
  if (p->status.load() != Prunning) return false;
  M* m = p->m.load(std::memory_order_acquire);
  if (!m) return false;
  G* gp = m->curg.load(std::memory_order_acquire);
  if (!gp) return false;
  if (gp->preempt.load(std::memory_order_relaxed)) {
    // The request made a whole slice ago is still pending: gp ignores it.
    stat_add(g_counters.preempt_ignored);
    gp->preempt_ignored.fetch_add(1, std::memory_order_relaxed);
    gp->slow.store(true, std::memory_order_relaxed);
  }
  gp->preempt.store(true, std::memory_order_relaxed);
  preempt_signal_m(m, gp);
  return true;
}

}  // namespace

int sysmon_retake(int64_t now, int64_t* next_look) {
  int n = 0;
  int64_t next = 0;
  int32_t np = sched.nallp.load();
  for (int32_t i = 0; i < np; i++) {
    P* p = sched.allp[i];
    if (!p) continue;
    SysmonTick& pd = sysmonticks[i];
    uint32_t s = p->status.load();
    if (s == Prunning) {
      // Preempt a G that has run for a whole slice while work waits.
      uint32_t t = p->schedtick.load(std::memory_order_relaxed);
      if (pd.schedtick != t) {
        pd.schedtick = t;
        pd.schedwhen = now;
      } else if (pd.schedwhen + sched.preempt_ns <= now && work_waiting(p, now)) {
        if (preemptone(p)) pd.schedwhen = now;  // the next request a slice later
      }
      int64_t due = pd.schedwhen + sched.preempt_ns;
      // A slice that ran out with nothing waiting: look again in half a
      // slice, not at once (sysmon would spin while a lone G runs).
      if (due <= now) due = now + sched.preempt_ns / 2;
      if (next == 0 || due < next) next = due;
    } else if (s == Psyscall) {
      // Retake a P from a syscall at the second look (>= one sysmon delay,
      // ~20 us when busy) if work waits or no other M/P could take it, and
      // after 10 ms regardless (Go's retake).
      uint32_t t = p->syscalltick.load(std::memory_order_relaxed);
      if (pd.syscalltick != t) {
        pd.syscalltick = t;
        pd.syscallwhen = now;
        continue;
      }
      if (runqempty(p) && sched.runqsize.load() == 0 &&
          sched.nmspinning.load() + sched.npidle.load() > 0 && pd.syscallwhen + kSyscallRetakeNs > now)
        continue;
      uint32_t e = Psyscall;
      if (p->status.compare_exchange_strong(e, Pidle, std::memory_order_acq_rel)) {
        // sysmon owns p now; its M will find it gone at syscall exit.
        n++;
        p->syscalltick.store(t + 1, std::memory_order_relaxed);
        stat_add(g_counters.handoffs);
        GORO_PROBE2(handoff, p->id, 1);
        if (p->id >= sched.gomaxprocs.load())
          drop_retaken_p(p);
        else
          handoffp(p);
      }
    }
  }
  *next_look = next;
  return n;
}

bool sysmon_idle_begin(bool* extra_ms) {
  LockGuard lg(sched.lock);
  *extra_ms = sched.nmidle > sched.gomaxprocs.load();
  if (sched.state.load() != kRunning) return false;
  if (sched.npidle.load() != sched.gomaxprocs.load()) return false;
  sched.sysmonwait = true;
  return true;
}

void sysmon_idle_end() {
  LockGuard lg(sched.lock);
  sched.sysmonwait = false;
}

void sysmon_netpoll(int64_t now) {
  // Go's sysmon: poll the network if nobody has for 10 ms (busy Ms poll
  // only when they run out of work; a blocked poller means lastpoll == 0).
  if (!netpoll_any_waiters()) return;
  int64_t lp = sched.lastpoll.load();
  if (lp == 0 || netpoll_last_poll_ns() + 10000000 > now) return;
  if (!sched.lastpoll.compare_exchange_strong(lp, now)) return;
  if (G* list = netpoll(0)) injectglist(list);
}

void sysmon_retire_ms(int64_t now) {
  {
    // Keep gomaxprocs idle Ms (the most recently parked: the list is LIFO);
    // end the others once they have been idle for kMIdleRetireNs.
    LockGuard lg(sched.lock);
    int32_t keep = sched.gomaxprocs.load();
    int32_t i = 0;
    for (M** pp = &sched.midle; *pp;) {
      M* m = *pp;
      if (++i > keep && now - m->idle_since >= kMIdleRetireNs) {
        *pp = m->schedlink;
        sched.nmidle--;
        m->exiting = true;  // stopm returns false, mstart moves it to mdead
        m->nextp = nullptr;
        m->park.wakeup();
      } else {
        pp = &m->schedlink;
      }
    }
  }
  reapdead();
}

// ---------------------------------------------------------------------------
// The scheduler's internal API (sched.h).

GORO_NOIPA M* getm() {
  M* m = tls_m;
  asm volatile("" ::: "memory");
  return m;
}

GORO_NOIPA G* getg() {
  M* m = tls_m;
  asm volatile("" ::: "memory");
  return m ? m->curg.load(std::memory_order_relaxed) : nullptr;
}

void gopark(ParkUnlockFn unlockf, void* arg, const char* reason) {
  gopark(getg(), unlockf, arg, reason);
}

void gopark(G* gp, ParkUnlockFn unlockf, void* arg, const char* reason) {
  throw_if(!gp, "gopark: not on a goroutine");
  SyscallPause sp(gp);
  M* m = gp->m;
  m->unlockf = unlockf;
  m->unlockarg = arg;
  gp->waitreason = reason;
  gp->waitsince = coarsetime();  // for goro_dump (trace.h)
  switchto(gp, SwitchOp::Park);
}

void goready(G* gp) {
  uint32_t s = gp->status.load(std::memory_order_acquire);
  throw_if(s != Gwaiting, "goready: goroutine is not waiting");
  gp->status.store(Grunnable, std::memory_order_release);
  M* m = getm();
  if (m && m->p) {
    runqput(m->p, gp, true);
  } else {
    LockGuard lg(sched.lock);
    globrunqput(gp);
  }
  wakep();
}

void arm_timer(Timer* t) {
  int64_t when = t->when;  // once queued, t may fire and be reused at once
  M* m = getm();
  P* p = (m && m->p) ? m->p : sched.allp[0];
  if (p->timers.add(t)) wakeNetPoller(when);
}

void gosched() {
  G* gp = getg();
  if (!gp) {
    sched_yield();
    return;
  }
  SyscallPause sp(gp);
  switchto(gp, SwitchOp::Yield);
}

bool spawn_backlog(M* m) {
  P* p = m ? m->p : nullptr;
  if (!p || m->lockedg) return false;
  return p->runqtail.load(std::memory_order_relaxed) -
             p->runqhead.load(std::memory_order_relaxed) >= kRunqSize;
}

void gopreempt() {
  G* gp = getg();
  if (!gp) return;
  SyscallPause sp(gp);
  mcall(gp, SwitchOp::Preempt);
}

// ---------------------------------------------------------------------------
// Blocking system calls (Go's entersyscall / exitsyscall).

// entersyscall puts gp's P in Psyscall, still attached to nobody: from now
// on sysmon may retake it (retake()) and this M may block. Runs on gp.
void entersyscall(G* gp) {
  M* m = gp->m;
  P* p = m->p;
  stat_add(g_counters.syscalls);
  GORO_PROBE2(syscall_enter, gp->goid, p->id);
  gp->status.store(Gsyscall, std::memory_order_relaxed);
  p->syscalltick.store(p->syscalltick.load(std::memory_order_relaxed) + 1,
                       std::memory_order_relaxed);
  m->oldp = p;
  m->p = nullptr;
  p->m.store(nullptr, std::memory_order_relaxed);
  // Publishes everything above to whoever CASes the P away from Psyscall.
  p->status.store(Psyscall, std::memory_order_release);
  sysmon_kick();  // a sysmon in a long sleep would retake the P late
}

// exitsyscall gives gp a P again: its own if sysmon did not retake it, else
// an idle one, else gp queues globally and this M parks (execute(),
// SwitchOp::ExitSyscall). Runs on gp; returns running on some M with a P.
void exitsyscall(G* gp) {
  M* m = gp->m;
  P* oldp = m->oldp;
  m->oldp = nullptr;
  uint32_t s = Psyscall;
  // A P in Psyscall is running nothing, so whoever CASes it away owns it,
  // even if it passed through other Ms since this syscall began.
  if (oldp && oldp->status.compare_exchange_strong(s, Prunning, std::memory_order_acq_rel)) {
    m->p = oldp;
    oldp->m.store(m, std::memory_order_release);
    GORO_PROBE2(p_acquire, oldp->id, m->id);
  } else {
    P* p = nullptr;
    if (sched.state.load(std::memory_order_relaxed) == kRunning) {
      LockGuard lg(sched.lock);
      p = pidleget();
    }
    if (p) {
      acquirep(m, p);
    } else {
      GORO_PROBE2(syscall_exit, gp->goid, -1);
      mcall(gp, SwitchOp::ExitSyscall);
      gp->status.store(Grunning, std::memory_order_relaxed);
      return;
    }
  }
  gp->status.store(Grunning, std::memory_order_relaxed);
  GORO_PROBE2(syscall_exit, gp->goid, m->p->id);
}

int32_t env_max_threads() {
  if (const char* env = getenv("GORO_MAX_THREADS")) {
    char* end;
    long v = strtol(env, &end, 10);
    if (*env && !*end && v >= 2 && v <= kMaxThreadsLimit) return int32_t(v);
    fprintf(stderr, "goro: ignoring GORO_MAX_THREADS=%s (want 2..%d)\n", env, kMaxThreadsLimit);
  }
  return kMaxThreadsDefault;
}

int64_t rt_preempt_ns() { return sched.preempt_ns; }

void preempt_yield(G* gp) {
  (void)gp;
  gopreempt();  // execute() counts the request honoured as gp switches out
}

int rt_syscall_enter() {
  G* gp = getg();
  if (!gp) return 0;  // a plain thread has no P to hand off
  if (gp->syscalldepth == UINT32_MAX) return -EOVERFLOW;
  if (gp->syscalldepth++ == 0) entersyscall(gp);
  return 0;
}

int rt_syscall_exit() {
  G* gp = getg();
  if (!gp) return 0;
  if (gp->syscalldepth == 0) return -EINVAL;
  if (--gp->syscalldepth == 0) {
    exitsyscall(gp);
    preempt_check();  // as Go's exitsyscall: a pending request is served now
  }
  return 0;
}

bool rt_in_syscall() {
  G* gp = getg();
  return gp && gp->syscalldepth > 0;
}

ApiRef::ApiRef() {
  sched.api_refs.fetch_add(1);
  ok_ = sched.state.load() == kRunning;
}

ApiRef::~ApiRef() { sched.api_refs.fetch_sub(1); }

bool rt_running() { return sched.state.load(std::memory_order_acquire) == kRunning; }

// sched_view exposes the scheduler state to the observers (trace.h).
void sched_view(SchedView* v) {
  *v = SchedView{&sched.gomaxprocs, &sched.npidle, &sched.nmspinning, &sched.runqsize,
                 &sched.nallp, &sched.foreign_created, sched.allp, &sched.lock,
                 &sched.allm, &sched.midle, &sched.mcount, &sched.nmidle};
}

int rt_init(const goro_config_t* cfg) {
  if (getg()) return -EDEADLK;
  goro_config_t c;
  if (int err = validate_config(cfg, &c)) return err;
  LockGuard lg(sched.lifecycle);
  if (sched.state.load() == kRunning) return -EALREADY;
  return start_locked(c);
}

int rt_ensure_started() {
  int s = sched.state.load(std::memory_order_acquire);
  if (s == kRunning) return 0;
  if (s != kNever) return -ESHUTDOWN;
  LockGuard lg(sched.lifecycle);
  s = sched.state.load();
  if (s == kRunning) return 0;
  if (s != kNever) return -ESHUTDOWN;
  goro_config_t c = GORO_CONFIG_INIT;
  return start_locked(c);
}

int rt_shutdown() {
  if (getg()) return -EDEADLK;
  LockGuard lg(sched.lifecycle);
  if (sched.state.load() != kRunning) return -EALREADY;
  return shutdown_locked();
}

namespace {

// shutdown_locked stops and frees the runtime. sched.lifecycle held.
int shutdown_locked() {
  sched.state.store(kStopping);
  while (sched.api_refs.load() > 0) sched_yield();
  sysmon_stop();  // before any M or P goes away: sysmon looks at both

  // Wake every M; each sees kStopping at its next scheduling round and ends.
  for (;;) {
    M* ms;
    {
      LockGuard lg(sched.lock);
      for (M* m = sched.allm; m; m = m->alllink) m->park.wakeup();
      ms = sched.allm;
      sched.allm = nullptr;
      sched.midle = nullptr;  // no one may hand work to these Ms any more
      sched.nmidle = 0;
    }
    netpoll_break();
    if (!ms) break;
    while (ms) {
      M* next = ms->alllink;
      pthread_join(ms->thread, nullptr);
      delete ms;
      ms = next;
    }
  }
  reapdead();

  // No M runs any more. Free the channel timers (goro_after, tickers) while
  // the timer heaps still exist, then every G; count the ones still alive.
  chan_timers_shutdown();
  int abandoned = 0;
  for (G* chunk : sched.gchunks) {
    for (int i = 0; i < kGChunk; i++) {
      G* gp = &chunk[i];
      uint32_t s = gp->status.load();
      if (s == Grunnable || s == Gwaiting || s == Grunning) abandoned++;
      san::tsan_destroy_fiber(gp->tsan_fiber);  // live or kept by a free G
      free(gp->fls);
      stack_unmap(&gp->stack);
    }
    delete[] chunk;
  }
  sched.gchunks.clear();
  allg_reset();
  sched.gfree = nullptr;
  sched.gfreecnt = 0;
  timer_del(&sched.scavtimer);
  sched.scavarmed.store(false);
  for (int32_t i = 0; i < sched.nallp.load(); i++) {
    for (Stack& st : sched.allp[i]->stkspare) stack_unmap(&st);
    delete sched.allp[i];
    sched.allp[i] = nullptr;
  }
  sched.nallp.store(0);
  sched.gomaxprocs.store(0);
  sched.pidle = nullptr;
  sched.npidle.store(0);
  sched.midle = nullptr;
  sched.nmidle = 0;
  sched.mcount = 0;
  sched.nmspinning.store(0);
  sched.runqhead = sched.runqtail = nullptr;
  sched.runqsize.store(0);
  sched.foreign_created.store(0);
  netpoll_close();
  stack_pool_destroy();
  {
    LockGuard lg(sched.runlock);
    for (RunWaiter* w = sched.runwaiters; w; w = w->next) {
      if (!w->done) {
        w->done = true;
        w->result = -ESHUTDOWN;
        if (w->waiting) w->w.ready();
      }
    }
  }
  sched.state.store(kStopped);
  return abandoned;
}

}  // namespace

int newproc1(M* m, goro_fn fn, void* arg, size_t stack_size, const char* name, uint64_t* id,
             void (*exitfn)(void*), void* exitarg, const void* gopc, int asyncmod) {
  if (sched.state.load(std::memory_order_acquire) != kRunning) return -ESHUTDOWN;
  size_t want = stack_size ? round_page(stack_size) : sched.stack_size;
  P* p = (m && m->curg) ? m->p : nullptr;
  G* gp = p ? gfget(p) : gfget_global();
  if (!gp && !(gp = galloc())) return -ENOMEM;
  // A free G's stack is of the default size or none (gdestroy), and
  // stkdefault says which on line 0, the line this spawn writes anyway.
  if (!(gp->stkdefault && want == sched.stack_size)) {
    if (gp->stack.kind != StackKind::None && gp->stack.size() != want) stack_free(&gp->stack);
    if (gp->stack.kind == StackKind::None && !stack_alloc(&gp->stack, want)) {
      gp->stkdefault = false;
      if (p)
        gfput(p, gp);
      else {
        LockGuard lg(sched.gflock);
        gp->schedlink = nullptr;
        gfpushbatch(gp, 1);
      }
      return -ENOMEM;
    }
    gp->stkdefault = want == sched.stack_size;
  }
  gp->ctx = nullptr;  // gbind, at its first run
  gp->fresh = true;
  gp->fn = fn;
  gp->arg = arg;
  if (exitfn) {  // else null already (gdestroy), and line 1 stays untouched
    gp->exitfn = exitfn;
    gp->exitarg = exitarg;
  }
  // Preemption and syscall state (a reused G may have exited inside a
  // region). asyncsafe, asyncmod and preempt_ignored are zero on a free G
  // (gdestroy): their cache line is left alone unless the G is async-
  // preemptible (runtime2.h).
  gp->preempt.store(false, std::memory_order_relaxed);
  if (asyncmod != 0) {
    gp->slow.store(true, std::memory_order_relaxed);
    gp->asyncsafe.store(1, std::memory_order_relaxed);
    gp->asyncmod.store(asyncmod, std::memory_order_relaxed);
  }
  if (name) {  // else name[] is empty already (gdestroy), and its line stays untouched
    strncpy(gp->name, name, sizeof gp->name - 1);
    gp->name[sizeof gp->name - 1] = 0;
    gp->named = true;
  }
  if (san::kTsan && !gp->tsan_fiber) gp->tsan_fiber = san::tsan_create_fiber();
  if (p) {
    if (p->goidcache == p->goidcacheend) {
      p->goidcache = sched.goidgen.fetch_add(kGoidBatch) + 1;
      p->goidcacheend = p->goidcache + kGoidBatch;
    }
    gp->goid = p->goidcache++;
  } else {
    gp->goid = sched.goidgen.fetch_add(1) + 1;
  }
  if (id) *id = gp->goid;
  gp->gopc = gopc;  // creation site and creator, for goro_dump (trace.h)
  G* creator = m ? static_cast<G*>(m->curg) : nullptr;
  gp->parentgoid = creator ? creator->goid : 0;
  GORO_PROBE2(g_create, gp->goid, gp->parentgoid);
  gp->status.store(Grunnable, std::memory_order_release);
  if (p) {
    p->gcreated.store(p->gcreated.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    runqput(p, gp, true);
  } else {
    sched.foreign_created.fetch_add(1);
    LockGuard lg(sched.lock);
    globrunqput(gp);
  }
  wakep();
  return 0;
}

namespace {

bool park_unlock_runlock(G*, void*) {
  sched.runlock.unlock();
  return true;
}

void run_trampoline(void* a) {
  RunWaiter* rw = static_cast<RunWaiter*>(a);
  rw->fn(rw->arg);
}

// run_exited runs on g0 once goro_run's goroutine is gone, however it ended.
void run_exited(void* a) {
  RunWaiter* rw = static_cast<RunWaiter*>(a);
  LockGuard lg(sched.runlock);
  if (!rw->done) {
    rw->done = true;
    if (rw->waiting) rw->w.ready();
  }
}

}  // namespace

int rt_run(goro_fn fn, void* arg, const void* gopc) {
  RunWaiter rw;
  rw.fn = fn;
  rw.arg = arg;
  if (G* gp = getg()) {
    rw.w.g = gp;
    if (int err = rt_newproc(run_trampoline, &rw, 0, nullptr, nullptr, run_exited, &rw, gopc))
      return err;
    sched.runlock.lock();
    if (rw.done) {
      sched.runlock.unlock();
    } else {
      rw.waiting = true;
      gopark(park_unlock_runlock, nullptr, "goro_run");
    }
    return rw.result;
  }
  if (int err = rt_ensure_started()) return err;
  {
    ApiRef ref;
    if (!ref.ok()) return -ESHUTDOWN;
    LockGuard lg(sched.runlock);
    rw.waiting = true;
    rw.next = sched.runwaiters;
    if (rw.next) rw.next->prev = &rw;
    sched.runwaiters = &rw;
  }
  int err;
  {
    ApiRef ref;
    err = ref.ok() ? rt_newproc(run_trampoline, &rw, 0, nullptr, nullptr, run_exited, &rw, gopc)
                   : -ESHUTDOWN;
  }
  if (err == 0) rw.w.block_thread();
  LockGuard lg(sched.runlock);
  if (rw.prev)
    rw.prev->next = rw.next;
  else
    sched.runwaiters = rw.next;
  if (rw.next) rw.next->prev = rw.prev;
  return err ? err : rw.result;
}

int rt_maxprocs(int n) {
  if (n < 0 || n > GORO_MAXPROCS_MAX) return -EINVAL;
  if (int err = rt_ensure_started()) return err;
  ApiRef ref;
  if (!ref.ok()) return -ESHUTDOWN;
  if (n > 0) return maxprocs_pin(n);  // pins; resizes through rt_procresize
  return sched.gomaxprocs.load();
}

int rt_procresize(int n) {
  int old = sched.gomaxprocs.load();
  if (n > 0 && n != old) procresize(n);
  return old;
}

int rt_num_goroutine() {
  ApiRef ref;
  if (!ref.ok()) return 0;
  int64_t n = sched.foreign_created.load(std::memory_order_relaxed);
  int32_t np = sched.nallp.load();
  for (int32_t i = 0; i < np; i++) {
    P* p = sched.allp[i];
    n -= p->gexited.load(std::memory_order_acquire);
    n += p->gcreated.load(std::memory_order_relaxed);
  }
  return int(std::clamp<int64_t>(n, 0, INT32_MAX));
}

int rt_sleep(int64_t ns) {
  if (ns <= 0) return 0;
  G* gp = getg();
  if (!gp) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t when = int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec + ns;
    ts.tv_sec = time_t(when / 1000000000);
    ts.tv_nsec = long(when % 1000000000);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
    return 0;
  }
  gp->sleeptimer.f = sleep_timer_fired;  // deadline waits reuse this timer
  gp->sleeptimer.arg = gp;
  gp->sleeptimer.when = nanotime() + ns;
  gopark(park_add_sleep_timer, nullptr, "sleep");
  return 0;
}

int rt_lock_thread() {
  G* gp = getg();
  if (!gp) return 0;
  if (gp->lockedcount++ == 0) {
    M* m = gp->m;
    gp->lockedm = m;
    m->lockedg = gp;
  }
  return 0;
}

int rt_unlock_thread() {
  G* gp = getg();
  if (!gp) return 0;
  if (gp->lockedcount == 0) return -EPERM;
  if (--gp->lockedcount == 0) {
    gp->m->lockedg = nullptr;
    gp->lockedm = nullptr;
  }
  return 0;
}

void report_if_stack_overflow(const void* addr, const void* sp) {
  M* m = tls_m;
  if (!m || !m->curg) return;
  G* gp = m->curg;
  if (gp->stack.in_guard(addr)) fatal_overflow(gp, "fault in the guard page");
  const char* csp = static_cast<const char*>(sp);
  if (csp < gp->stack.lo && csp >= gp->stack.lo - (1 << 20))
    fatal_overflow(gp, "stack pointer below the stack at a fault");
}

}  // namespace goro::rt
