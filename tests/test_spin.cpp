/*
 * test_spin.cpp: the runtime's SpinMutex and Backoff (core/os/spin.h), the
 * lock behind every channel. Header-only, so tested directly:
 *  - mutual exclusion under contention from more threads than CPUs (a plain
 *    counter, which TSan also checks);
 *  - a waiter behind a holder that keeps the lock for a long time naps
 *    instead of spinning: its CPU time stays well below the wait.
 */
#include <time.h>

#include <atomic>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <setjmp.h>
#include <thread>
#include <vector>

extern "C" {
#include <cmocka.h>
}

#include "os/spin.h"

using goro::rt::SpinMutex;

namespace {

int64_t mono_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

/* 8 threads on 2 CPUs, 200,000 locked increments each: none is lost, and
 * try_lock never succeeds while the lock is held. */
void test_mutual_exclusion(void **state) {
  (void)state;
  SpinMutex mu;
  long counter = 0;  // guarded by mu, deliberately not atomic
  std::atomic<int> holders{0};
  std::atomic<bool> overlap{false};
  constexpr int kThreads = 8, kIters = 200000;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; t++)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kIters; i++) {
        if ((i + t) % 16 == 0) {
          while (!mu.try_lock()) {
          }
        } else {
          mu.lock();
        }
        if (holders.fetch_add(1, std::memory_order_relaxed) != 0) overlap = true;
        counter++;
        holders.fetch_sub(1, std::memory_order_relaxed);
        mu.unlock();
      }
    });
  for (auto &t : ts) t.join();
  assert_false(overlap.load());
  assert_int_equal(counter, long(kThreads) * kIters);
  mu.lock();
  assert_false(mu.try_lock());
  mu.unlock();
  assert_true(mu.try_lock());
  mu.unlock();
}

/* A holder keeps the lock 200 ms; the waiter gets it only after the unlock,
 * and spends far less CPU than wall time waiting (it naps after its yields;
 * a busy spin would burn the whole 200 ms). */
void test_waiter_naps(void **state) {
  (void)state;
  SpinMutex mu;
  std::atomic<bool> held{false}, released{false};
  std::thread holder([&] {
    mu.lock();
    held = true;
    struct timespec d = {0, 200 * 1000 * 1000};
    nanosleep(&d, nullptr);
    released = true;
    mu.unlock();
  });
  while (!held) std::this_thread::yield();
  int64_t c0 = mono_ns(CLOCK_THREAD_CPUTIME_ID), w0 = mono_ns(CLOCK_MONOTONIC);
  mu.lock();
  int64_t c1 = mono_ns(CLOCK_THREAD_CPUTIME_ID), w1 = mono_ns(CLOCK_MONOTONIC);
  assert_true(released.load());
  mu.unlock();
  holder.join();
  double wall_ms = double(w1 - w0) / 1e6, cpu_ms = double(c1 - c0) / 1e6;
  print_message("waited %.1f ms wall, %.1f ms CPU\n", wall_ms, cpu_ms);
  assert_true(wall_ms >= 150);
  assert_true(cpu_ms < wall_ms / 2);
}

}  // namespace

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mutual_exclusion),
      cmocka_unit_test(test_waiter_naps),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
