// mutex.h: SyncMutex, the mutex behind goro_mutex_t (Go's sync.Mutex; the
// name keeps it apart from Mutex, the runtime's internal lock). See mutex.cpp.
#pragma once

#include <atomic>
#include <cstdint>

#include "os/futex.h"
#include "sync/waiter.h"

namespace goro::rt {

class SyncMutex {
 public:
  // State bits. kLocked and kWoken may change without lk_ (by CAS);
  // kStarving and kWaiters change only under lk_.
  enum : uint32_t {
    kLocked = 1,    // someone holds the mutex
    kWoken = 2,     // a waiter was woken to compete and has not yet acquired or re-queued
    kStarving = 4,  // starvation mode: unlock hands the mutex to the queue head
    kWaiters = 8,   // the queue is not empty
  };
  // A waiter that has waited this long switches the mutex to starvation mode
  // (Go's starvationThresholdNs).
  static constexpr int64_t kStarvationNs = 1000000;

  // lock() returns 0, or -ETIMEDOUT once deadline (absolute nanotime(); < 0:
  // none) has passed or ctx (optional) is cancelled (see waiter.h).
  int lock(int64_t deadline, Context* ctx = nullptr) {
    uint32_t s = 0;
    if (state_.compare_exchange_weak(s, kLocked, std::memory_order_acquire,
                                     std::memory_order_relaxed))
      return 0;
    return lock_slow(deadline, ctx);
  }
  int try_lock() {
    uint32_t s = state_.load(std::memory_order_relaxed);
    while (!(s & (kLocked | kStarving))) {
      if (state_.compare_exchange_weak(s, s | kLocked, std::memory_order_acquire,
                                       std::memory_order_relaxed))
        return 0;
    }
    return -EBUSY;
  }
  // unlock() returns 0, or -EPERM if the mutex is not locked.
  int unlock() {
    uint32_t s = kLocked;
    if (state_.compare_exchange_strong(s, 0, std::memory_order_release, std::memory_order_relaxed))
      return 0;
    if (!(s & kLocked)) return -EPERM;
    return unlock_slow();
  }
  // busy() tells whether the mutex is locked, waited on, or in the middle of
  // a hand-over; false means no one but the caller can be touching it.
  bool busy();

 private:
  struct MWaiter : Waiter {
    int64_t since = 0;  // when it first queued (nanotime)
  };
  int lock_slow(int64_t deadline, Context* ctx);
  int unlock_slow();

  std::atomic<uint32_t> state_{0};
  SpinMutex lk_;  // protects q_ and the kStarving/kWaiters bits; never held across a park
  WaitQueue q_;  // MWaiters (lk_)
};

}  // namespace goro::rt
