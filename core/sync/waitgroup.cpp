// waitgroup.cpp: goro_wg_t, Go's sync.WaitGroup for goroutines and threads.
//
// Owns: the counter and the list of waiters.
// Invariants:
//  - count >= 0 always; an add that would break that fails with -ERANGE and
//    changes nothing.
//  - The count reaches zero only under mu, in the same critical section
//    that takes every waiter; a waiter enqueues itself only under mu while
//    count > 0. So no waiter misses the transition.
//  - Waiters are readied after mu is dropped, and a waiter that finds the
//    count already zero passes through mu once before returning. So once
//    wait() returns, no goro_wg_add/done on this WaitGroup still touches
//    it: "wait, then free" is safe.
//  - Waiters follow the Waiter protocol (waiter.h): the add that reaches
//    zero claims each one; a waiter whose deadline or context ended its wait
//    first is skipped and leaves the queue on its own under mu.
#include <cerrno>
#include <cstdint>
#include <new>

#include "sched/sched.h"
#include "sync/waitgroup.h"
#include "sync/wake.h"

namespace goro::rt {

int WaitGroup::add(int64_t delta) {
  // An RMW rather than a load: it takes the line exclusive at once, so the
  // CAS below finds it local. With a load it came shared and the CAS had to
  // fetch it again: two transfers between CPUs instead of one when adds
  // and dones run on different CPUs (bench/spawn at 2 Ps).
  int64_t old = count_.fetch_add(0, std::memory_order_relaxed);
  int64_t nv;
  for (;;) {
    if (__builtin_add_overflow(old, delta, &nv) || nv < 0) return -ERANGE;
    if (nv == 0 && delta < 0) break;  // the transition to zero happens under mu_
    if (count_.compare_exchange_weak(old, nv, std::memory_order_acq_rel)) return 0;
  }
  Waiter* head = nullptr;
  Waiter** tail = &head;
  {
    LockGuard lg(mu_);
    old = count_.load(std::memory_order_relaxed);
    do {
      if (__builtin_add_overflow(old, delta, &nv) || nv < 0) return -ERANGE;
    } while (!count_.compare_exchange_weak(old, nv, std::memory_order_acq_rel));
    if (nv != 0) return 0;  // another add raced in; not zero after all
    while (Waiter* w = q_.dequeue()) {  // waiters that gave up are skipped
      w->next = nullptr;
      *tail = w;
      tail = &w->next;
    }
  }
  // mu_ is released: from here on only the waiters are touched, so a waiter
  // that returns may free the WaitGroup at once. ready_list() holds an
  // ApiRef when it readies a G from a plain thread.
  ready_list(head);
  return 0;
}

int WaitGroup::wait(int64_t deadline, Context* ctx) {
  if (count_.load(std::memory_order_acquire) == 0) {
    // The add that brought the count to zero may still be inside mu_: wait
    // for it to leave, so the caller may free the WaitGroup on return.
    mu_.lock();
    mu_.unlock();
    return 0;
  }
  Waiter w;
  w.g = getg();
  w.ctx = ctx;
  w.waitreason = "sync.WaitGroup.Wait";
  SyscallPause sp(w.g);  // before the lock: leaving may wait for a P (sched.h)
  mu_.lock();
  if (count_.load(std::memory_order_acquire) == 0) {
    mu_.unlock();
    return 0;
  }
  if (deadline >= 0 && deadline <= nanotime()) {
    mu_.unlock();
    return -ETIMEDOUT;
  }
  q_.push_back(&w);
  if (w.block(&mu_, deadline)) return 0;
  mu_.lock();
  q_.remove(&w);
  mu_.unlock();
  return -ETIMEDOUT;
}

bool WaitGroup::busy() {
  LockGuard lg(mu_);
  return !q_.empty();
}

}  // namespace goro::rt
