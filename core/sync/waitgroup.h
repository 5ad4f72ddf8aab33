// waitgroup.h: the WaitGroup behind goro_wg_t. See waitgroup.cpp.
#pragma once

#include <atomic>
#include <cstdint>

#include "os/futex.h"

namespace goro::rt {

struct Waiter;

class WaitGroup {
 public:
  int add(int64_t delta);
  int wait();
  bool busy();

 private:
  std::atomic<int64_t> count_{0};
  Mutex mu_;
  Waiter* waiters_ = nullptr;  // (mu_)
};

}  // namespace goro::rt
