// sem.cpp: goro_sem_t, golang.org/x/sync/semaphore.Weighted for goroutines
// and plain threads, with deadlines.
//
// Owns: the count of units held and the FIFO of waiting acquirers.
//
// Strict FIFO with head-of-line blocking, as x/sync: an acquirer takes its
// units at once only if they are free and no one waits; otherwise it queues.
// release() serves waiters from the head while the head fits and stops at
// the first that does not, even if a later, smaller one would fit, so a
// large request cannot be starved by a stream of small ones.
//
// Invariants:
//  - 0 <= cur_ <= size_, under lk_. A release that would make cur_
//    negative fails with -ERANGE and changes nothing (x/sync panics).
//  - A waiter is served (its units added to cur_) by the releaser that
//    claims it, under lk_; it then owns them. A waiter whose deadline fired
//    (or whose context was cancelled) is never served, and is skipped rather than allowed to hold back the
//    queue; if it was at the head when it gave up, it serves the waiters
//    behind it that now fit itself (x/sync does the same on cancel).
//  - No queued waiter could be served right now, outside lk_: every change
//    that frees units or removes the head runs notify_locked().
//  - Waiters are readied after lk_ is dropped.
#include "sync/sem.h"

#include <cerrno>

#include "sched/sched.h"
#include "sync/wake.h"

namespace goro::rt {

int Semaphore::acquire(int64_t n, int64_t deadline, Context* ctx) {
  if (n < 0 || n > size_) return -EINVAL;
  G* self = getg();
  SyscallPause sp(self);  // before the lock: leaving may wait for a P (sched.h)
  lk_.lock();
  if (size_ - cur_ >= n && q_.empty()) {
    cur_ += n;
    lk_.unlock();
    return 0;
  }
  if (deadline >= 0 && nanotime() >= deadline) {
    lk_.unlock();
    return -ETIMEDOUT;
  }
  SWaiter w;
  w.g = self;
  w.waitreason = "semacquire";
  w.n = n;
  w.ctx = ctx;
  q_.push_back(&w);
  if (w.block(&lk_, deadline)) return 0;  // served: cur_ counts our units
  lk_.lock();
  bool front = q_.first == &w;
  q_.remove(&w);
  Waiter* list = nullptr;
  if (front) list = notify_locked();  // x/sync also requires size > cur: that strands n == 0
  lk_.unlock();
  ready_list(list);
  return -ETIMEDOUT;
}

int Semaphore::try_acquire(int64_t n) {
  if (n < 0 || n > size_) return -EINVAL;
  LockGuard lg(lk_);
  if (size_ - cur_ >= n && q_.empty()) {
    cur_ += n;
    return 0;
  }
  return -EAGAIN;
}

int Semaphore::release(int64_t n) {
  if (n < 0) return -EINVAL;
  lk_.lock();
  if (n > cur_) {
    lk_.unlock();
    return -ERANGE;
  }
  cur_ -= n;
  Waiter* list = notify_locked();
  lk_.unlock();
  ready_list(list);
  return 0;
}

// notify_locked serves waiters from the head of the queue while they fit and
// returns them (FIFO, linked through next) for ready_list. lk_ held.
Waiter* Semaphore::notify_locked() {
  Waiter* head = nullptr;
  Waiter** tail = &head;
  while (Waiter* w = q_.first) {
    if (w->timed_out()) {  // leaving on its own; must not hold back the queue
      q_.remove(w);
      continue;
    }
    int64_t n = static_cast<SWaiter*>(w)->n;
    if (size_ - cur_ < n) break;  // head-of-line: no one behind may pass
    q_.remove(w);
    if (!w->claim()) continue;  // its deadline fired just now
    cur_ += n;
    w->next = nullptr;
    *tail = w;
    tail = &w->next;
  }
  return head;
}

bool Semaphore::busy() {
  LockGuard lg(lk_);
  return cur_ > 0 || !q_.empty();
}

}  // namespace goro::rt
