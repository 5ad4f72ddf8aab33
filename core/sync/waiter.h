// waiter.h: one blocked party of a sync object or channel: a goroutine or a
// plain thread (Go's sudog, widened to host threads), with an optional
// deadline.
//
// Protocol (every sync object and channel follows it):
//  1. The waiter links itself into the object's queue under the object's
//     lock (linked = true) and blocks with block(): a G parks (its unlock
//     function drops the object lock, then arms the deadline timer), a
//     thread drops the lock and sleeps on a futex.
//  2. A waker, under the object's lock, unlinks the waiter (linked = false)
//     and calls claim(). If claim() fails the waiter has timed out: the
//     waker just forgets it. If it succeeds the waker fills in result (and
//     any data) and, after dropping the lock, calls ready().
//  3. A deadline claims the waiter with the other value. The waiter, once
//     running again, sees timed_out(), takes the object's lock and unlinks
//     itself if it is still linked.
// Exactly one of waker and deadline wins the claim, so ready() runs once.
// A Waiter lives on its waiter's stack; block() does not return before the
// deadline timer is deleted, and timer_del() waits for a running callback,
// so no one touches a Waiter after its wait is over.
#pragma once

#include <atomic>
#include <cstdint>

#include "os/futex.h"
#include "sched/sched.h"

namespace goro::rt {

struct Waiter {
  enum : uint32_t { kWaiting = 0, kClaimed = 1, kTimedOut = 2 };

  G* g = nullptr;                      // null: a plain thread
  std::atomic<uint32_t> claimed{kWaiting};
  std::atomic<uint32_t> done{0};       // thread waiters: set by ready()
  Waiter* next = nullptr;              // queue links (object's lock)
  Waiter* prev = nullptr;
  bool linked = false;                 // in the object's queue (object's lock)
  int result = 0;                      // set by the waker that claimed it
  void* elem = nullptr;                // channel element buffer
  int32_t index = 0;                   // select: which case this waiter stands for
  Waiter* sel_first = nullptr;         // select: the case waiter whose claim word is shared
  Waiter* won = nullptr;               // select (on sel_first): the case that was claimed

  // claim() is called by a waker under the object's lock. A select waiter
  // shares one claim word across all its cases.
  bool claim() {
    uint32_t w = kWaiting;
    if (!claim_word().compare_exchange_strong(w, kClaimed, std::memory_order_acq_rel))
      return false;
    if (sel_first) sel_first->won = this;
    return true;
  }
  bool timed_out() { return claim_word().load(std::memory_order_acquire) == kTimedOut; }
  std::atomic<uint32_t>& claim_word() { return sel_first ? sel_first->claimed : claimed; }

  void ready() {
    if (g) {
      goready(g);
    } else {
      Waiter* t = sel_first ? sel_first : this;  // a select thread sleeps on its first case
      t->done.store(1, std::memory_order_release);
      futex_wake(&t->done, 1);
    }
  }

  // block() waits until a waker's ready() or the deadline (absolute
  // nanotime(); < 0: none). `lock` is the object's lock, held on entry and
  // released on return. Returns false on timeout (the waiter may still be
  // linked: the caller unlinks it under the lock).
  bool block(Mutex* lock, int64_t deadline);
  // block_with() is block() for a waiter that holds several locks (select):
  // unlock(arg) releases them all.
  bool block_with(void (*unlock)(void*), void* arg, int64_t deadline);

  void block_thread() {
    while (done.load(std::memory_order_acquire) == 0) futex_wait(&done, 0, nullptr);
  }
};

// park_unlock_mutex is a ParkUnlockFn that releases the Mutex passed as arg.
inline bool park_unlock_mutex(G*, void* mu) {
  static_cast<Mutex*>(mu)->unlock();
  return true;
}

// A FIFO of waiters (Go's waitq), protected by the owner's lock.
struct WaitQueue {
  Waiter* first = nullptr;
  Waiter* last = nullptr;

  bool empty() const { return first == nullptr; }
  void push_back(Waiter* w) {
    w->next = nullptr;
    w->prev = last;
    if (last)
      last->next = w;
    else
      first = w;
    last = w;
    w->linked = true;
  }
  void push_front(Waiter* w) {
    w->prev = nullptr;
    w->next = first;
    if (first)
      first->prev = w;
    else
      last = w;
    first = w;
    w->linked = true;
  }
  void remove(Waiter* w) {
    if (!w->linked) return;
    if (w->prev)
      w->prev->next = w->next;
    else
      first = w->next;
    if (w->next)
      w->next->prev = w->prev;
    else
      last = w->prev;
    w->next = w->prev = nullptr;
    w->linked = false;
  }
  // dequeue() unlinks and returns the first waiter that can still be
  // claimed (timed-out ones are dropped on the way), or null.
  Waiter* dequeue() {
    while (Waiter* w = first) {
      remove(w);
      if (w->claim()) return w;
    }
    return nullptr;
  }
};

}  // namespace goro::rt
