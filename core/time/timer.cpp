// timer.cpp: the 4-ary timer heap. See timer.h for the contract.
#include "time/timer.h"

namespace goro::rt {

namespace {
// Six ticks. The coarse clock is the time of the last timekeeping update,
// which accumulates whole ticks only, so it lags by up to two ticks when
// tick interrupts jitter (test_timer sees 1.5 ticks on this VM). A stalled
// timekeeping CPU is replaced by one that has seen five stalled ticks
// (Linux 6.4's MAX_STALLED_JIFFIES): six covers that too. Only a longer
// stall of the kernel's own timekeeping makes a due timer look not due,
// until the coarse clock moves again.
int64_t coarse_slack_init() {
  struct timespec res;
  if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) != 0 || res.tv_sec != 0 ||
      res.tv_nsec > 20000000 || res.tv_nsec <= 0)
    return INT64_MAX;
  return 6 * int64_t(res.tv_nsec);
}
}  // namespace

// Constant-initialized to "always read nanotime()", so a timer checked
// before this file's dynamic initialization (a host's static constructor
// starting the runtime, with the static library) is still exact.
std::atomic<int64_t> g_coarse_slack{INT64_MAX};
namespace {
[[maybe_unused]] const bool g_coarse_slack_set = [] {
  g_coarse_slack.store(coarse_slack_init(), std::memory_order_relaxed);
  return true;
}();
}  // namespace

void TimerHeap::up(int32_t i) {
  Timer* t = h_[i];
  while (i > 0) {
    int32_t parent = (i - 1) / 4;
    if (h_[parent]->when <= t->when) break;
    h_[i] = h_[parent];
    h_[i]->idx = i;
    i = parent;
  }
  h_[i] = t;
  t->idx = i;
}

void TimerHeap::down(int32_t i) {
  int32_t n = int32_t(h_.size());
  Timer* t = h_[i];
  for (;;) {
    int32_t c = 4 * i + 1;
    if (c >= n) break;
    int32_t best = c;
    for (int32_t k = c + 1; k < c + 4 && k < n; k++)
      if (h_[k]->when < h_[best]->when) best = k;
    if (h_[best]->when >= t->when) break;
    h_[i] = h_[best];
    h_[i]->idx = i;
    i = best;
  }
  h_[i] = t;
  t->idx = i;
}

void TimerHeap::remove_at(int32_t i) {
  Timer* t = h_[i];
  Timer* last = h_.back();
  h_.pop_back();
  if (last != t) {
    h_[i] = last;
    last->idx = i;
    up(i);
    down(last->idx);
  }
  t->idx = -1;
  t->heap.store(nullptr, std::memory_order_release);
}

bool TimerHeap::add(Timer* t) {
  LockGuard g(mu_);
  t->heap.store(this, std::memory_order_release);
  h_.push_back(t);
  up(int32_t(h_.size() - 1));
  publish();
  return h_[0] == t;
}

int TimerHeap::run(int64_t now) {
  int n = 0;
  mu_.lock();
  while (!h_.empty() && h_[0]->when <= now) {
    Timer* t = h_[0];
    // Mark it running before unlinking it: timer_del() treats "not in a
    // heap and not running" as "will not run", so the two must never be
    // seen together while the callback is still to come.
    bool tracked = t->tracked;
    if (tracked) t->running.store(1, std::memory_order_release);
    remove_at(0);
    publish();
    mu_.unlock();
    t->f(t);
    if (tracked) t->running.store(0, std::memory_order_release);
    n++;
    mu_.lock();
  }
  publish();
  mu_.unlock();
  return n;
}

void TimerHeap::move_to(TimerHeap* dst) {
  if (dst == this) return;
  // Lock order: by address, so two concurrent moves cannot deadlock.
  Mutex* a = this < dst ? &mu_ : &dst->mu_;
  Mutex* b = this < dst ? &dst->mu_ : &mu_;
  a->lock();
  b->lock();
  for (Timer* t : h_) {
    t->heap.store(dst, std::memory_order_release);
    dst->h_.push_back(t);
    dst->up(int32_t(dst->h_.size() - 1));
  }
  h_.clear();
  publish();
  dst->publish();
  b->unlock();
  a->unlock();
}

size_t TimerHeap::size() {
  LockGuard g(mu_);
  return h_.size();
}

bool timer_del(Timer* t) {
  for (;;) {
    TimerHeap* h = t->heap.load(std::memory_order_acquire);
    if (!h) {
      // Not queued. If its function is running, wait for it to finish.
      while (t->running.load(std::memory_order_acquire)) cpu_relax();
      return false;
    }
    h->mu_.lock();
    if (t->heap.load(std::memory_order_relaxed) != h) {
      h->mu_.unlock();
      continue;
    }
    h->remove_at(t->idx);
    h->publish();
    h->mu_.unlock();
    return true;
  }
}

}  // namespace goro::rt
