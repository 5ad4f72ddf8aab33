// futex.h: the OS sleep/wake primitives the runtime is built on.
//
// Owns: Note (Go's note: a one-shot sleep/wakeup for one M) and Mutex (Go's
// runtime lock: futex based, spins briefly, never allocates).
//
// Invariants:
//  - Every state word is a std::atomic, so ThreadSanitizer sees the
//    happens-before edges; the futex syscalls only sleep and wake.
//  - A Note is cleared only by its sleeper, and woken at most once per clear.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

namespace goro::rt {

inline long futex_wait(std::atomic<uint32_t>* addr, uint32_t val, const struct timespec* rel) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAIT_PRIVATE, val, rel,
                 nullptr, 0);
}

inline void futex_wake(std::atomic<uint32_t>* addr, int n) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAKE_PRIVATE, n, nullptr, nullptr,
          0);
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// nanotime() is the runtime's clock: CLOCK_MONOTONIC in nanoseconds.
inline int64_t nanotime() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// coarsetime() is CLOCK_MONOTONIC_COARSE: the same origin as nanotime(), but
// read from the vDSO without touching the clock source, so it costs a few ns
// where nanotime() costs 20-30 (kvm-clock). It is the time of the kernel's
// last timekeeping update: never ahead of nanotime(), and behind it by about
// a tick (clock_getres() gives the tick), at most a few (time/timer.cpp).
inline int64_t coarsetime() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Note is a one-shot event: notesleep() blocks until notewakeup(); clear()
// re-arms it. One sleeper, any number of wakers (only the first counts).
struct Note {
  std::atomic<uint32_t> key{0};

  void clear() { key.store(0, std::memory_order_relaxed); }
  void wakeup() {
    if (key.exchange(1, std::memory_order_release) == 0) futex_wake(&key, 1);
  }
  void sleep() {
    while (key.load(std::memory_order_acquire) == 0) futex_wait(&key, 0, nullptr);
  }
  // sleep_until() returns false if the absolute CLOCK_MONOTONIC deadline passed first.
  bool sleep_until(int64_t deadline) {
    while (key.load(std::memory_order_acquire) == 0) {
      int64_t d = deadline - nanotime();
      if (d <= 0) return false;
      struct timespec rel = {time_t(d / 1000000000), long(d % 1000000000)};
      futex_wait(&key, 0, &rel);
    }
    return true;
  }
};

// Mutex is the runtime's internal lock (Go's lock_futex.go): 0 unlocked,
// 1 locked, 2 locked with sleepers. It spins a little before sleeping
// because every critical section in the runtime is a few dozen instructions.
class Mutex {
 public:
  void lock() {
    uint32_t c = 0;
    if (state_.compare_exchange_strong(c, 1, std::memory_order_acquire)) return;
    lock_slow();
  }
  bool try_lock() {
    uint32_t c = 0;
    return state_.compare_exchange_strong(c, 1, std::memory_order_acquire);
  }
  void unlock() {
    if (state_.exchange(0, std::memory_order_release) == 2) futex_wake(&state_, 1);
  }

 private:
  void lock_slow() {
    for (int i = 0; i < 64; i++) {
      uint32_t c = 0;
      if (state_.load(std::memory_order_relaxed) == 0 &&
          state_.compare_exchange_weak(c, 1, std::memory_order_acquire))
        return;
      cpu_relax();
    }
    // Mark contended; whoever unlocks must wake one sleeper.
    while (state_.exchange(2, std::memory_order_acquire) != 0) futex_wait(&state_, 2, nullptr);
  }
  std::atomic<uint32_t> state_{0};
};

// LockGuard holds a Mutex (or a SpinMutex, os/spin.h) for a scope; the lock
// type is deduced: LockGuard lg(mu).
template <typename L>
class LockGuard {
 public:
  explicit LockGuard(L& m) : m_(m) { m_.lock(); }
  ~LockGuard() { m_.unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  L& m_;
};

}  // namespace goro::rt
