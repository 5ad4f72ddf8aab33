// waitgroup.h: the WaitGroup behind goro_wg_t. See waitgroup.cpp.
#pragma once

#include <atomic>
#include <cstdint>

#include "os/futex.h"
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
  int64_t count() const { return count_.load(std::memory_order_acquire); }

 private:
  std::atomic<int64_t> count_{0};
  Mutex mu_;
  WaitQueue q_;  // (mu_)
};

}  // namespace goro::rt
