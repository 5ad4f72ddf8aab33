// mutex.cpp: goro_mutex_t, Go's sync.Mutex (sync/mutex.go) for goroutines
// and plain threads, with deadlines.
//
// Owns: the state word and the FIFO of waiters.
//
// Two modes, as in Go. Normal mode: waiters queue in FIFO order; unlock
// releases the mutex and wakes the head waiter, which then competes with
// whoever arrives at that moment (and usually loses to them: they are already
// on a CPU). A woken waiter that loses re-queues at the front. A waiter that
// has waited more than kStarvationNs when it loses switches the mutex to
// starvation mode: unlock then hands the mutex straight to the head waiter
// (kLocked never drops), and new arrivals queue at the tail without trying.
// The mutex returns to normal mode when the waiter it hands over to is the
// last one or waited less than kStarvationNs.
//
// Unlike Go it does not spin before queueing: measured with bench/mutex
// (8 goroutines, 2 Ps), Go's 4 x 30 PAUSE spin made it ~10% slower here,
// where queueing is cheap and the internal lock already spins briefly.
// That internal lock (lk_) is a SpinMutex (os/spin.h), as a channel's is:
// nothing parks under it, and its unlock is a store. bench/mutex at 2 P:
// 41-44 ns per lock/unlock with the futex lock, 37.5-38.4 with it (Go 40).
//
// Invariants:
//  - kLocked is set and cleared by CAS: set by an acquirer only while
//    kLocked and kStarving are clear; cleared only by unlock (the fast path
//    only when the whole state is exactly kLocked, so with any other bit set
//    unlock goes through lk_).
//  - kWaiters == (q_ not empty) and kStarving change only under lk_, so
//    under lk_ the only bits others can flip are kLocked (by an acquirer,
//    when it was clear) and kWoken (cleared by the woken waiter when it
//    acquires).
//  - kStarving implies kLocked: in starvation mode the mutex is always
//    owned, by its holder or by the waiter it is being handed to.
//  - kWoken: at most one waiter is awake and competing; it is the only one
//    to clear the bit, when it acquires, re-queues or times out (the last
//    two under lk_, so the next unlock sees the bit clear and wakes another).
//  - A waiter is claimed (Waiter protocol) by exactly one of unlock and its
//    deadline; unlock never hands the mutex to a timed-out waiter, and a
//    timed-out waiter leaves the queue under lk_, so no wake-up is lost.
//  - Waiters are readied after lk_ is dropped; busy() takes lk_, so a
//    mutex whose busy() is false has no unlocker or waiter inside lk_.
#include "sync/mutex.h"

#include <cerrno>

#include "sched/sched.h"
#include "sync/wake.h"

namespace goro::rt {

namespace {

enum : int { kWake = 0, kHandoff = 1 };

}  // namespace

int SyncMutex::lock_slow(int64_t deadline, Context* ctx) {
  MWaiter w;
  w.g = getg();
  w.ctx = ctx;
  w.waitreason = "sync.Mutex.Lock";
  SyscallPause sp(w.g);  // before the lock: leaving may wait for a P (sched.h)
  bool starving = false;  // this waiter has waited longer than kStarvationNs
  bool woken = false;     // this waiter was woken by unlock and owns kWoken
  for (;;) {
    uint32_t s = state_.load(std::memory_order_relaxed);
    if (!(s & (kLocked | kStarving))) {
      // Free and in normal mode: compete for it.
      uint32_t ns = s | kLocked;
      if (woken) ns &= ~uint32_t(kWoken);
      if (state_.compare_exchange_weak(s, ns, std::memory_order_acquire, std::memory_order_relaxed))
        return 0;
      continue;
    }
    bool expired = deadline >= 0 && nanotime() >= deadline;
    lk_.lock();
    s = state_.load(std::memory_order_relaxed);
    bool queued = false;
    while (s & (kLocked | kStarving)) {
      uint32_t ns = s;
      if (woken) ns &= ~uint32_t(kWoken);
      if (!expired) {
        ns |= kWaiters;
        if (starving) ns |= kStarving;  // s has kLocked here, as Go requires
      }
      if (state_.compare_exchange_weak(s, ns, std::memory_order_relaxed)) {
        queued = true;
        break;
      }
    }
    if (!queued) {  // released meanwhile: compete again
      lk_.unlock();
      continue;
    }
    woken = false;
    if (expired) {
      lk_.unlock();
      return -ETIMEDOUT;
    }
    w.claimed.store(Waiter::kWaiting, std::memory_order_relaxed);
    w.done.store(0, std::memory_order_relaxed);
    w.result = kWake;
    if (w.since == 0) {
      w.since = nanotime();
      q_.push_back(&w);
    } else {
      q_.push_front(&w);  // woken and lost: keep its place (Go's queueLifo)
    }
    if (!w.block(&lk_, deadline)) {
      lk_.lock();
      q_.remove(&w);
      if (q_.empty()) state_.fetch_and(~uint32_t(kWaiters | kStarving), std::memory_order_relaxed);
      lk_.unlock();
      return -ETIMEDOUT;
    }
    if (w.result == kHandoff) return 0;  // starvation mode: it is ours
    woken = true;
    if (!starving) starving = nanotime() - w.since > kStarvationNs;
  }
}

int SyncMutex::unlock_slow() {
  lk_.lock();
  uint32_t s = state_.load(std::memory_order_relaxed);
  if (!(s & kLocked)) {
    lk_.unlock();
    return -EPERM;
  }
  Waiter* w = nullptr;
  if (s & kStarving) {
    w = q_.dequeue();
    if (w) {
      // Hand over: kLocked stays set, the mutex now belongs to w.
      w->result = kHandoff;
      uint32_t clear = 0;
      if (q_.empty()) clear |= kWaiters | kStarving;
      if (nanotime() - static_cast<MWaiter*>(w)->since < kStarvationNs) clear |= kStarving;
      if (clear) state_.fetch_and(~clear, std::memory_order_release);
    } else {
      // Every waiter timed out: back to normal mode, unlocked.
      state_.fetch_and(~uint32_t(kLocked | kStarving | kWaiters), std::memory_order_release);
    }
  } else {
    if ((s & kWaiters) && !(s & kWoken)) {
      w = q_.dequeue();
      if (w) w->result = kWake;
    }
    uint32_t ns;
    do {
      ns = s & ~uint32_t(kLocked);
      if (w) ns |= kWoken;
      if (q_.empty()) ns &= ~uint32_t(kWaiters);
    } while (
        !state_.compare_exchange_weak(s, ns, std::memory_order_release, std::memory_order_relaxed));
  }
  lk_.unlock();
  if (w) ready_waiter(w);
  return 0;
}

bool SyncMutex::busy() {
  LockGuard lg(lk_);
  return state_.load(std::memory_order_acquire) != 0;
}

}  // namespace goro::rt
