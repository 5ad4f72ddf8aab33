// spin.h: Backoff and SpinMutex, for critical sections of a few dozen
// instructions that never block.
//
// Owns: Backoff (how a thread waits for another thread to finish a short
// step: pause, then yield the CPU, then nap) and SpinMutex (a lock built on
// it: one atomic exchange to lock, a plain release store to unlock).
//
// Invariants:
//  - A SpinMutex holder never parks or waits for another goroutine or
//    thread while holding it, nor for a P (blocking objects leave the
//    syscall state before they lock: SyscallPause, sched.h). It may take a runtime Mutex whose critical
//    sections are as short (a timer heap's, a context's). Waiters only spin,
//    yield and nap, so a holder that blocked would make them burn CPU.
//  - Waiters never sleep on the lock word, so unlock has nobody to wake and
//    needs no read-modify-write. That is the whole point: Mutex::unlock
//    exchanges the word to find sleepers, SpinMutex::unlock is a store.
//  - A holder descheduled by the kernel costs its waiters naps of 20 us,
//    not a busy loop: after 7 pause rounds and 16 sched_yield calls each
//    wait sleeps in nanosleep.
#pragma once

#include <sched.h>
#include <time.h>

#include <atomic>
#include <cstdint>

#include "os/futex.h"

namespace goro::rt {

// Backoff: call snooze() once per failed attempt. The first 7 rounds pause
// 1, 2, ..., 64 times (about 1 us in all), the next 16 give the CPU away
// (the thread being waited for may need it), every later one naps 20 us.
struct Backoff {
  unsigned step = 0;
  void snooze() {
    if (step < 7) {
      for (unsigned i = 0; i < (1u << step); i++) cpu_relax();
    } else if (step < 7 + 16) {
      sched_yield();
    } else {
      struct timespec nap = {0, 20 * 1000};
      nanosleep(&nap, nullptr);
      return;
    }
    step++;
  }
};

// SpinMutex: 0 unlocked, 1 locked. Test-and-test-and-set: a waiter reads the
// word until it is free before it tries the exchange again, so waiters do
// not take the line away from the holder.
class SpinMutex {
 public:
  void lock() {
    if (state_.exchange(1, std::memory_order_acquire) == 0) return;
    lock_slow();
  }
  bool try_lock() {
    return state_.load(std::memory_order_relaxed) == 0 &&
           state_.exchange(1, std::memory_order_acquire) == 0;
  }
  void unlock() { state_.store(0, std::memory_order_release); }

 private:
  void lock_slow() {
    Backoff bo;
    for (;;) {
      while (state_.load(std::memory_order_relaxed) != 0) bo.snooze();
      if (state_.exchange(1, std::memory_order_acquire) == 0) return;
    }
  }
  std::atomic<uint32_t> state_{0};
};

}  // namespace goro::rt
