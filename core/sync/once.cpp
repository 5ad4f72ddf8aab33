// once.cpp: goro_once_t, Go's sync.Once for goroutines and plain threads.
//
// Owns: the OnceState stored in the caller's goro_once_t (no allocation,
// nothing to free: GORO_ONCE_INIT, all zeros, is the initial state).
//
// As in Go: a fast path reads `done` (acquire); the slow path takes lk, and
// the first caller runs fn with lk dropped while later ones queue and wait.
// Unlike Go, waiters wait on a queue rather than on the lock, so a
// goroutine parks and a plain thread sleeps on its own futex.
//
// Invariants:
//  - owner goes 0 -> runner -> kFinished, under lk. A runner is a goroutine
//    id, or (1 << 63 | thread id) for a plain thread; a caller that finds
//    itself as owner is inside fn and gets -EDEADLK instead of waiting
//    forever.
//  - Waiters queue only while a runner owns the once; the runner drains the
//    queue in the same lk section that sets kFinished, so none is missed.
//  - done is stored after the runner's last use of lk: a caller that sees
//    done == 1 may free the goro_once_t as soon as it returns. Callers
//    arriving between kFinished and done return at once under lk.
//  - fn's writes happen before every return of goro_once_do: waiters are
//    claimed after fn returned, fast-path callers acquire done.
#include "sync/once.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <new>

#include "sched/sched.h"
#include "sync/wake.h"

namespace goro::rt {

namespace {

uint64_t self_id() {
  if (G* gp = getg()) return gp->goid;
  return (1ull << 63) | uint64_t(syscall(SYS_gettid));
}

int once_slow(OnceState* st, goro_fn fn, void* arg) {
  uint64_t me = self_id();
  {
    SyscallPause sp(getg());  // before the lock: leaving may wait for a P (sched.h)
    st->lk.lock();
    if (st->owner == OnceState::kFinished) {
      st->lk.unlock();
      return 0;
    }
    if (st->owner == me) {
      st->lk.unlock();
      return -EDEADLK;
    }
    if (st->owner != 0) {
      Waiter w;
      w.g = getg();
      w.waitreason = "sync.Once.Do";
      st->q.push_back(&w);
      w.block(&st->lk, -1);
      return 0;
    }
    st->owner = me;
    st->lk.unlock();
  }

  fn(arg);

  Waiter* head = nullptr;
  Waiter** tail = &head;
  st->lk.lock();
  st->owner = OnceState::kFinished;
  while (Waiter* w = st->q.dequeue()) {
    w->next = nullptr;
    *tail = w;
    tail = &w->next;
  }
  st->lk.unlock();
  st->done.store(1, std::memory_order_release);  // the last touch of *st
  ready_list(head);
  return 0;
}

}  // namespace

int once_do(goro_once_t* o, goro_fn fn, void* arg) {
  OnceState* st = std::launder(reinterpret_cast<OnceState*>(o->opaque));
  if (st->done.load(std::memory_order_acquire)) return 0;
  return once_slow(st, fn, arg);
}

}  // namespace goro::rt
