// rwmutex.h: RWMutex, the reader/writer mutex behind goro_rwmutex_t (Go's
// sync.RWMutex). See rwmutex.cpp.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstdint>

#include "os/futex.h"
#include "sync/waiter.h"

namespace goro::rt {

class RWMutex {
 public:
  // State word: the number of readers holding the lock in the low 32 bits,
  // then flags. Flags change only under lk_ (kWriter also by the fast paths
  // 0 <-> kWriter).
  static constexpr uint64_t kReaderMask = 0xffffffffull;
  static constexpr uint64_t kWriter = 1ull << 32;         // a writer holds the lock
  static constexpr uint64_t kWriterWaiting = 1ull << 33;  // wq_ is not empty
  static constexpr uint64_t kReaderWaiting = 1ull << 34;  // rq_ is not empty
  static constexpr uint64_t kFlags = kWriter | kWriterWaiting | kReaderWaiting;

  // rlock/lock wait until `deadline` (nanotime, -1 none) or until ctx
  // (optional; see waiter.h) is cancelled; either way they return -ETIMEDOUT.
  int rlock(int64_t deadline, Context* ctx = nullptr) {
    uint64_t s = state_.load(std::memory_order_relaxed);
    while (!(s & kFlags)) {
      if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acquire,
                                       std::memory_order_relaxed))
        return 0;
    }
    return rlock_slow(deadline, ctx);
  }
  int try_rlock() {
    uint64_t s = state_.load(std::memory_order_relaxed);
    while (!(s & kFlags)) {
      if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acquire,
                                       std::memory_order_relaxed))
        return 0;
    }
    return -EBUSY;
  }
  int runlock() {
    uint64_t s = state_.load(std::memory_order_relaxed);
    for (;;) {
      uint64_t r = s & kReaderMask;
      if (r == 0) return -EPERM;
      if (r == 1 && (s & kWriterWaiting)) return runlock_slow();  // last out lets the writer in
      if (state_.compare_exchange_weak(s, s - 1, std::memory_order_release,
                                       std::memory_order_relaxed))
        return 0;
    }
  }
  int lock(int64_t deadline, Context* ctx = nullptr) {
    uint64_t s = 0;
    if (state_.compare_exchange_strong(s, kWriter, std::memory_order_acquire,
                                       std::memory_order_relaxed))
      return 0;
    return lock_slow(deadline, ctx);
  }
  int try_lock() {
    uint64_t s = 0;
    return state_.compare_exchange_strong(s, kWriter, std::memory_order_acquire,
                                          std::memory_order_relaxed)
               ? 0
               : -EBUSY;
  }
  int unlock() {
    uint64_t s = kWriter;
    if (state_.compare_exchange_strong(s, 0, std::memory_order_release, std::memory_order_relaxed))
      return 0;
    if (!(s & kWriter)) return -EPERM;
    return unlock_slow();
  }
  // busy() tells whether the lock is held, waited on or being handed over.
  bool busy();

 private:
  int rlock_slow(int64_t deadline, Context* ctx);
  int runlock_slow();
  int lock_slow(int64_t deadline, Context* ctx);
  int unlock_slow();
  Waiter* take_readers(uint64_t* n);

  std::atomic<uint64_t> state_{0};
  Mutex lk_;      // protects wq_, rq_ and the waiting flags
  WaitQueue wq_;  // writers (lk_)
  WaitQueue rq_;  // readers (lk_)
};

}  // namespace goro::rt
