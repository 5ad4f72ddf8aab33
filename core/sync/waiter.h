// waiter.h: one blocked party of a sync object or channel: a goroutine or a
// plain thread (Go's sudog, widened to host threads), with an optional
// deadline.
//
// Protocol (every sync object and channel follows it):
//  1. The waiter links itself into the object's queue under the object's
//     lock (linked = true) and blocks with block(): a G parks (off its
//     stack, its park function arms the deadline timer, then drops the
//     object lock), a thread drops the lock and sleeps on a futex. The deadline or a context
//     may wake the G before that unlock has returned, so the lock must not
//     live on the waiting G's own stack: the G could return and reuse the
//     frame under the unlock. A wait no waker can reach passes a no-op
//     unlock to block_with() instead (goro_sleep_ctx).
//  2. A waker, under the object's lock, unlinks the waiter (linked = false)
//     and calls claim(). If claim() fails the waiter has timed out: the
//     waker just forgets it. If it succeeds the waker fills in result (and
//     any data) and, after dropping the lock, calls ready().
//  3. A deadline claims the waiter with the other value (give_up()). The
//     waiter, once
//     running again, sees timed_out(), takes the object's lock and unlinks
//     itself if it is still linked.
//  4. A context (Waiter::ctx, set before block()) is a third claimant: see
//     "Context hook" below.
// Exactly one of waker, deadline and context wins the claim, so ready()
// runs once. A parking G sits in kArming while its park function links it
// into the context and arms its timer: either may fire before the other is
// set up, and a G readied then could run and drop its stack (and the
// Waiter) under the park function. A claim taken in kArming therefore does
// not ready the G; the park function's final kArming -> kWaiting CAS fails
// and the G just stays running. After that CAS the park function touches
// nothing of the G's but the object's lock. A Waiter lives on its waiter's stack; block() does not return
// before the deadline timer is deleted and the waiter is off its context's
// list, and timer_del() waits for a running callback, so no one touches a
// Waiter after its wait is over.
//
// Context hook (goro_ctx_t; core/sync/context.{h,cpp}). Any wait built on
// this protocol becomes cancellable by setting one field:
//     Waiter w; w.g = getg(); w.ctx = ctx;   // ctx: held by the caller
//     ... link w into the object's queue under the object's lock ...
//     if (!w.block(&lock, deadline)) { relock, unlink w if linked, unlock;
//                                     return -ETIMEDOUT; }
// and the public _ctx call maps the -ETIMEDOUT of a failed wait to the
// context's error with ctx_wait_error() (context.h): -ECANCELED if the
// context was cancelled, else -ETIMEDOUT. Pass the context's deadline
// (Context::deadline) as the wait's deadline so a thread waiter times out on
// its own futex, without needing the timer that cancels the context.
// Inside block(), with the object's lock still held and no other claimant
// able to run yet (for a G: in its park function, off its stack), the waiter is
// put on the context's waiter list (ctx_watch); if the context is already
// cancelled it claims itself (kCancelled) and does not sleep at all.
// Cancellation takes the context's lock, claims every listed waiter with
// kCancelled, unlinks the ones it claimed and ready()s them after dropping
// the lock. The woken waiter takes itself off the context's list
// (ctx_unwatch) before block() returns. Lock order: object lock, then
// context lock; cancellation never takes an object lock. For the "net"
// poller: an fd wait that parks through block()/block_with() gets the same
// behaviour for free; one that parks otherwise must call ctx_watch() under
// the lock that keeps other claimants out, and ctx_unwatch() after waking.
#pragma once

#include <atomic>
#include <cstdint>

#include "os/futex.h"
#include "os/spin.h"
#include "sched/sched.h"

namespace goro::rt {

struct Context;

struct Waiter {
  // kTimedOut and kCancelled both mean "gave up": the waiter leaves on its
  // own and no waker may serve it. kArming is a parking G's state while its
  // park function (off the G's stack) still sets up the claimants that do not take the
  // object's lock, the deadline timer and the context: they may claim it
  // then, but must not ready it (see give_up()).
  enum : uint32_t { kWaiting = 0, kClaimed = 1, kTimedOut = 2, kCancelled = 3, kArming = 4 };
  // give_up()'s results.
  enum GiveUp { kLost, kMustReady, kClaimedArming };

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
  Context* ctx = nullptr;              // optional: cancellation also ends the wait (caller holds it)
  Waiter* ctx_next = nullptr;          // links in ctx's waiter list (ctx's lock)
  Waiter* ctx_prev = nullptr;
  bool ctx_linked = false;             // on ctx's waiter list (ctx's lock)
  const char* waitreason = nullptr;    // Go's wait reason for goro_dump ("chan receive"...)
  // No claimant but the object's wakers, which hold its lock: no deadline,
  // no context, not a select case (set by block_with before the lock is
  // dropped). claim() then needs no CAS, and a G parks without kArming.
  bool solo = false;

  // claim() is called by a waker under the object's lock. A select waiter
  // shares one claim word across all its cases.
  bool claim() {
    if (solo) {  // the only claimant, under the lock that also unlinks it
      claimed.store(kClaimed, std::memory_order_relaxed);
      return true;
    }
    uint32_t w = kWaiting;
    if (!claim_word().compare_exchange_strong(w, kClaimed, std::memory_order_acq_rel))
      return false;
    if (sel_first) sel_first->won = this;
    return true;
  }
  // timed_out() is true once the waiter gave up: its deadline fired or its
  // context was cancelled.
  bool timed_out() {
    uint32_t v = claim_word().load(std::memory_order_acquire);
    return v == kTimedOut || v == kCancelled;
  }
  bool cancelled() { return claim_word().load(std::memory_order_acquire) == kCancelled; }
  std::atomic<uint32_t>& claim_word() { return sel_first ? sel_first->claimed : claimed; }

  // give_up() is how a claimant that does not hold the object's lock (the
  // deadline timer, a context's cancellation) claims the waiter with `why`
  // (kTimedOut or kCancelled). kMustReady: it was parked, call ready().
  // kClaimedArming: its G is still being parked; the park function sees the
  // claim and keeps the G running, so do not ready() it. kLost: someone else
  // claimed it first; leave it alone.
  GiveUp give_up(uint32_t why) {
    std::atomic<uint32_t>& cw = claim_word();
    uint32_t cur = cw.load(std::memory_order_acquire);
    while (cur == kWaiting || cur == kArming) {
      if (cw.compare_exchange_weak(cur, why, std::memory_order_acq_rel))
        return cur == kWaiting ? kMustReady : kClaimedArming;
    }
    return kLost;
  }

  void ready() {
    if (g) {
      goready(g);
    } else {
      Waiter* t = sel_first ? sel_first : this;  // a select thread sleeps on its first case
      t->done.store(1, std::memory_order_release);
      futex_wake(&t->done, 1);
    }
  }

  // block() waits until a waker's ready(), the deadline (absolute
  // nanotime(); < 0: none) or the cancellation of ctx (if set). `lock` is
  // the object's lock, held on entry and released on return. Returns false
  // on timeout or cancellation (cancelled() tells which; the waiter may
  // still be linked: the caller unlinks it under the lock).
  bool block(Mutex* lock, int64_t deadline);
  bool block(SpinMutex* lock, int64_t deadline);
  // block_with() is block() for a waiter that holds several locks (select):
  // unlock(arg) releases them all.
  bool block_with(void (*unlock)(void*), void* arg, int64_t deadline);

  void block_thread() {
    while (done.load(std::memory_order_acquire) == 0) futex_wait(&done, 0, nullptr);
  }
};

// ctx_watch() puts w on ctx's waiter list so that cancelling ctx claims it
// (kCancelled) and readies it. Call it with the object's lock held, before
// any other claimant can claim w. Returns false, leaving w off the list and
// claimed by itself, if ctx is already cancelled: do not sleep then.
// ctx_unwatch() takes w off the list if it is still there; call it once the
// wait is over, before the Waiter goes out of scope. (context.cpp)
bool ctx_watch(Context* ctx, Waiter* w);
void ctx_unwatch(Context* ctx, Waiter* w);

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
