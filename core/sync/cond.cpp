// cond.cpp: goro_cond_t, Go's sync.Cond (sync/cond.go, runtime notifyList)
// for goroutines and plain threads, with deadlines.
//
// Owns: the FIFO of waiters. The mutex belongs to the caller.
//
// Go gives each waiter a ticket before it unlocks L, so a signal between
// the unlock and the park is not lost. Here the waiter queues itself and
// unlocks L while holding the queue lock, and parks (or sleeps) with the
// Waiter protocol, which drops the queue lock only once it is safe to be
// woken. A signal either finds the waiter queued or came before L was
// unlocked. Lock order: lk_ before the mutex's internal lock.
//
// Invariants:
//  - waiting_ == (q_ not empty) whenever lk_ is free; it lets signal() and
//    broadcast() skip lk_ when no one waits. A waiter sets it before it
//    unlocks L, so a signaller that holds L, or that took L after the
//    waiter dropped it, sees it.
//  - signal() wakes the longest waiter that can still be claimed: a waiter
//    whose deadline fired is skipped, so no signal is lost to it; a waiter
//    that timed out never consumed a signal.
//  - Waiters are readied after lk_ is dropped and relock L on their own.
#include "sync/cond.h"

#include <cerrno>

#include "sched/sched.h"
#include "sync/wake.h"

namespace goro::rt {

int Cond::wait(int64_t deadline, Context* ctx) {
  Waiter w;
  w.g = getg();
  w.ctx = ctx;
  w.waitreason = "sync.Cond.Wait";
  SyscallPause sp(w.g);  // before the lock: leaving may wait for a P (sched.h)
  lk_.lock();
  q_.push_back(&w);
  waiting_.store(1, std::memory_order_relaxed);  // published by m_->unlock()
  if (int err = m_->unlock()) {
    q_.remove(&w);
    waiting_.store(q_.empty() ? 0 : 1, std::memory_order_relaxed);
    lk_.unlock();
    return err;
  }
  bool ok = w.block(&lk_, deadline);
  if (!ok) {
    lk_.lock();
    q_.remove(&w);
    waiting_.store(q_.empty() ? 0 : 1, std::memory_order_relaxed);
    lk_.unlock();
  }
  m_->lock(-1);
  return ok ? 0 : -ETIMEDOUT;
}

void Cond::signal() {
  if (!waiting_.load(std::memory_order_acquire)) return;
  lk_.lock();
  Waiter* w = q_.dequeue();
  waiting_.store(q_.empty() ? 0 : 1, std::memory_order_relaxed);
  lk_.unlock();
  if (w) ready_waiter(w);
}

void Cond::broadcast() {
  if (!waiting_.load(std::memory_order_acquire)) return;
  Waiter* head = nullptr;
  Waiter** tail = &head;
  lk_.lock();
  while (Waiter* w = q_.dequeue()) {
    w->next = nullptr;
    *tail = w;
    tail = &w->next;
  }
  waiting_.store(0, std::memory_order_relaxed);
  lk_.unlock();
  ready_list(head);
}

bool Cond::busy() {
  LockGuard lg(lk_);
  return !q_.empty();
}

}  // namespace goro::rt
