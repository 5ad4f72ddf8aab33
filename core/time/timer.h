// timer.h: per-P timer heaps, as Go's time.go keeps one heap per P.
//
// Owns: Timer and TimerHeap (a 4-ary min-heap on `when`, with its own lock).
// Who runs timers: the M holding the P at every scheduling round
// (checkTimers), spinning Ms stealing from other Ps, and the M that blocks in
// netpoll with a timeout equal to the earliest timer of all Ps.
//
// Invariants:
//  - A Timer is in at most one heap; `heap` names it (null otherwise) and
//    changes only under that heap's lock.
//  - when0 is the earliest `when` in the heap, 0 when empty; it may be read
//    without the lock as a hint.
//  - A timer's function runs without any heap lock held, exactly once per
//    add, unless del() removed it first (del returns true then).
//  - When timer_del() returns, the timer's function is not running and will
//    not run: it waits for a callback already under way. So a timer (and
//    what its arg points to) may be reused or freed right after timer_del().
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "os/futex.h"

namespace goro::rt {

class TimerHeap;

// g_coarse_slack bounds how far coarsetime() lags nanotime(): six ticks of
// clock_getres(CLOCK_MONOTONIC_COARSE) (timer.cpp says why six). INT64_MAX,
// so that due() always reads nanotime(), if the kernel gives no tick or one
// longer than 20 ms.
extern std::atomic<int64_t> g_coarse_slack;

struct Timer {
  int64_t when = 0;
  int32_t idx = -1;
  std::atomic<TimerHeap*> heap{nullptr};
  std::atomic<uint32_t> running{0};  // its function is executing now
  // false: the function owns the timer once called (it may free it), so
  // run() must not touch it afterwards, and timer_del() is never called on
  // it while it may fire (goro_after's timers).
  bool tracked = true;
  void (*f)(Timer*) = nullptr;
  void* arg = nullptr;
};

class TimerHeap {
 public:
  // add() queues t (not in any heap). Returns true if t became the earliest.
  bool add(Timer* t);
  // run() runs every timer due at `now`. Returns how many ran.
  int run(int64_t now);
  // move_to() moves every timer into dst (used when a P is destroyed).
  void move_to(TimerHeap* dst);
  int64_t next() const { return when0_.load(std::memory_order_acquire); }
  // due() says whether the earliest timer's time has come: asked at every
  // scheduling round, as Go's checkTimers does. A timer that is due or
  // nearly so costs a nanotime() read. One further away than the coarse
  // clock's worst lag does not: the coarse clock shows it is not due, for a
  // few ns instead of 20-30 (kvm-clock). The answer is the same either way,
  // since coarsetime() <= nanotime() <= coarsetime() + g_coarse_slack.
  // Returns the nanotime() it read if the timer is due (never 0), else 0,
  // so a caller that then runs the heap need not read the clock again.
  int64_t due() const {
    int64_t w = next();
    if (w == 0 || w - coarsetime() > g_coarse_slack.load(std::memory_order_relaxed)) return 0;
    int64_t now = nanotime();
    return w <= now ? now : 0;
  }
  size_t size();

  // timer_del() removes t from whatever heap holds it. False if it was not
  // queued (it already fired, or was never added).
  friend bool timer_del(Timer* t);

 private:
  void up(int32_t i);
  void down(int32_t i);
  void remove_at(int32_t i);
  void publish() { when0_.store(h_.empty() ? 0 : h_[0]->when, std::memory_order_release); }

  Mutex mu_;
  std::vector<Timer*> h_;
  std::atomic<int64_t> when0_{0};
};

bool timer_del(Timer* t);

}  // namespace goro::rt
