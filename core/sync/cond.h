// cond.h: Cond, the condition variable behind goro_cond_t (Go's sync.Cond).
// See cond.cpp.
#pragma once

#include <atomic>
#include <cstdint>

#include "os/futex.h"
#include "sync/mutex.h"
#include "sync/waiter.h"

namespace goro::rt {

class Cond {
 public:
  explicit Cond(SyncMutex* m) : m_(m) {}
  // wait() returns 0, -ETIMEDOUT (deadline: absolute nanotime(), < 0 none;
  // or ctx, optional, cancelled: see waiter.h) or -EPERM if m_ is not
  // locked; m_ is locked on return unless -EPERM.
  int wait(int64_t deadline, Context* ctx = nullptr);
  void signal();
  void broadcast();
  bool busy();

 private:
  SyncMutex* const m_;
  Mutex lk_;                          // protects q_
  WaitQueue q_;                       // (lk_)
  std::atomic<uint32_t> waiting_{0};  // q_ is not empty; written under lk_
};

}  // namespace goro::rt
