// waiter.h: one blocked party of a sync object: a goroutine or a plain
// thread (Go's sudog, widened to host threads).
//
// Protocol: the waiter enqueues itself under the object's lock; a G then
// parks with gopark(unlock of that lock), a thread unlocks and calls
// block_thread(). The waker removes the waiter under the lock and calls
// ready() after dropping it. ready() is called exactly once per enqueue.
#pragma once

#include <atomic>
#include <cstdint>

#include "os/futex.h"
#include "sched/sched.h"

namespace goro::rt {

struct Waiter {
  G* g = nullptr;  // null: a plain thread
  std::atomic<uint32_t> done{0};
  Waiter* next = nullptr;

  void ready() {
    if (g) {
      goready(g);
    } else {
      done.store(1, std::memory_order_release);
      futex_wake(&done, 1);
    }
  }
  void block_thread() {
    while (done.load(std::memory_order_acquire) == 0) futex_wait(&done, 0, nullptr);
  }
};

// park_unlock_mutex is a ParkUnlockFn that releases the Mutex passed as arg.
inline bool park_unlock_mutex(G*, void* mu) {
  static_cast<Mutex*>(mu)->unlock();
  return true;
}

}  // namespace goro::rt
