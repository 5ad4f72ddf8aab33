// waitgroup.h: the WaitGroup behind goro_wg_t. See waitgroup.cpp.
#pragma once

#include <atomic>
#include <cstdint>

#include "os/futex.h"
#include "os/spin.h"
#include "sync/waiter.h"

namespace goro::rt {

class WaitGroup {
 public:
  int add(int64_t delta);
  // wait() returns 0 once the count is zero, or -ETIMEDOUT when deadline
  // (absolute nanotime(); < 0: none) passes or ctx (optional) is cancelled
  // first (see waiter.h).
  int wait(int64_t deadline = -1, Context* ctx = nullptr);
  bool busy();
  // count() is the exact count. It takes mu_ and gathers the stripes' credit
  // (waitgroup.cpp): meant for checks such as "is anything still running",
  // not for a hot path.
  int64_t count();

  static constexpr int kStripes = 8;      // power of two; P id & (kStripes - 1)
  static constexpr int64_t kCredit = 16;  // units a stripe takes from count_ at once

 private:
  struct alignas(64) Stripe {
    SpinMutex lk;
    int64_t credit = 0;  // (lk) units of count this stripe's dones may spend
  };
  bool done_striped(int idx);
  int add_locked(int64_t delta);
  void drain_locked();
  void take_waiters_locked(Waiter** head);
  void reopen_locked();

  // Line 0: read by every striped done; written only under mu_ (exact_) or
  // under a stripe's lock (that stripe's bit in used_).
  alignas(64) std::atomic<uint32_t> exact_{0};  // 1: a waiter came; no stripe may take credit
  std::atomic<uint32_t> used_{0};               // bit i: stripes_[i] may hold credit
  Mutex mu_;
  WaitQueue q_;  // (mu_)
  // Line 1: the count not handed to stripes. Adds and exact-mode dones.
  alignas(64) std::atomic<int64_t> count_{0};
  Stripe stripes_[kStripes];
};

}  // namespace goro::rt
