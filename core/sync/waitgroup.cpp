// waitgroup.cpp: goro_wg_t, Go's sync.WaitGroup for goroutines and threads.
//
// Owns: the counter and the list of waiters.
// Invariants:
//  - count >= 0 always; an add that would break that fails with -ERANGE and
//    changes nothing.
//  - A waiter enqueues itself only under mu and only while count > 0; the
//    add that brings count to zero takes mu and releases every waiter, so no
//    waiter can miss the transition.
//  - Waiters are readied after mu is dropped, so once the last waiter returns
//    no other thread touches the WaitGroup any more (it may be freed).
#include <cerrno>
#include <cstdint>
#include <new>

#include "sched/sched.h"
#include "sync/waitgroup.h"
#include "sync/waiter.h"

namespace goro::rt {

int WaitGroup::add(int64_t delta) {
  int64_t old = count_.load(std::memory_order_relaxed);
  int64_t nv;
  do {
    if (__builtin_add_overflow(old, delta, &nv) || nv < 0) return -ERANGE;
  } while (!count_.compare_exchange_weak(old, nv, std::memory_order_acq_rel));
  if (nv != 0 || delta >= 0) return 0;
  Waiter* list;
  {
    LockGuard lg(mu_);
    if (count_.load(std::memory_order_acquire) != 0) return 0;  // re-armed meanwhile
    list = waiters_;
    waiters_ = nullptr;
  }
  if (!list) return 0;
  // Readying a G from a plain thread touches the scheduler: keep it alive.
  ApiRef ref;
  while (list) {
    Waiter* w = list;
    list = w->next;
    if (w->g && !ref.ok()) continue;  // runtime stopped: the G was abandoned
    w->ready();
  }
  return 0;
}

int WaitGroup::wait() {
  if (count_.load(std::memory_order_acquire) == 0) return 0;
  Waiter w;
  w.g = getg();
  mu_.lock();
  if (count_.load(std::memory_order_acquire) == 0) {
    mu_.unlock();
    return 0;
  }
  w.next = waiters_;
  waiters_ = &w;
  if (w.g) {
    gopark(park_unlock_mutex, &mu_, "wait group");
  } else {
    mu_.unlock();
    w.block_thread();
  }
  return 0;
}

bool WaitGroup::busy() {
  LockGuard lg(mu_);
  return waiters_ != nullptr;
}

}  // namespace goro::rt
