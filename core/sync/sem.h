// sem.h: Semaphore, the weighted semaphore behind goro_sem_t
// (golang.org/x/sync/semaphore.Weighted). See sem.cpp.
#pragma once

#include <cstdint>

#include "os/futex.h"
#include "sync/waiter.h"

namespace goro::rt {

class Semaphore {
 public:
  explicit Semaphore(int64_t size) : size_(size) {}
  // acquire() returns 0, -ETIMEDOUT (deadline: absolute nanotime(), < 0
  // none, or ctx cancelled: see waiter.h) or -EINVAL (n < 0 or n > size).
  int acquire(int64_t n, int64_t deadline, Context* ctx = nullptr);
  int try_acquire(int64_t n);  // 0, -EAGAIN or -EINVAL
  int release(int64_t n);      // 0, -ERANGE or -EINVAL
  bool busy();

 private:
  struct SWaiter : Waiter {
    int64_t n = 0;  // units it asks for
  };
  Waiter* notify_locked();

  const int64_t size_;
  Mutex lk_;         // protects cur_ and q_
  int64_t cur_ = 0;  // units held (lk_)
  WaitQueue q_;      // SWaiters, FIFO (lk_)
};

}  // namespace goro::rt
