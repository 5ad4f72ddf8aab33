// waiter.cpp: blocking with a deadline for goroutines and threads. See
// waiter.h for the protocol.
#include "sync/waiter.h"

#include "time/timer.h"

namespace goro::rt {

namespace {

struct ParkArgs {
  void (*unlock)(void*);
  void* arg;
  Waiter* w;
  int64_t deadline;
};

void unlock_mutex(void* mu) { static_cast<Mutex*>(mu)->unlock(); }

void deadline_fired(Timer* t) {
  Waiter* w = static_cast<Waiter*>(t->arg);
  uint32_t expect = Waiter::kWaiting;
  if (w->claim_word().compare_exchange_strong(expect, Waiter::kTimedOut,
                                              std::memory_order_acq_rel))
    goready(w->g);
}

// Runs on g0 once the G is off its stack. Arm the deadline on the G's own
// timer first, then drop the object's lock: once the lock is dropped a
// waker may resume the G on another M, and from then on neither the G's
// timer nor the ParkArgs on its stack may be touched. (The timer may fire
// at once; the G is already parked, so that is safe.)
bool park_with_deadline(G* gp, void* a) {
  ParkArgs* pa = static_cast<ParkArgs*>(a);
  void (*unlock)(void*) = pa->unlock;
  void* arg = pa->arg;
  if (pa->w->ctx && !ctx_watch(pa->w->ctx, pa->w)) {
    unlock(arg);
    return false;  // already cancelled: claimed by itself, stay runnable
  }
  if (pa->deadline >= 0) {
    gp->sleeptimer.f = deadline_fired;
    gp->sleeptimer.arg = pa->w;
    gp->sleeptimer.when = pa->deadline;
    arm_timer(&gp->sleeptimer);
  }
  unlock(arg);
  return true;
}

}  // namespace

bool Waiter::block(Mutex* lock, int64_t deadline) {
  return block_with(unlock_mutex, lock, deadline);
}

bool Waiter::block_with(void (*unlock)(void*), void* arg, int64_t deadline) {
  if (g) {
    ParkArgs pa{unlock, arg, this, deadline};
    gopark(park_with_deadline, &pa, waitreason ? waitreason : "chan/sync wait");
    if (deadline >= 0) timer_del(&g->sleeptimer);
    if (ctx) ctx_unwatch(ctx, this);
    return !timed_out();
  }
  if (ctx && !ctx_watch(ctx, this)) {
    unlock(arg);
    return false;
  }
  unlock(arg);
  if (deadline < 0) {
    block_thread();
  } else {
    for (;;) {
      if (done.load(std::memory_order_acquire)) break;
      int64_t d = deadline - nanotime();
      if (d <= 0) {
        uint32_t expect = kWaiting;
        if (claim_word().compare_exchange_strong(expect, kTimedOut, std::memory_order_acq_rel))
          break;
        block_thread();  // a waker or the context won the race: its ready() is coming
        break;
      }
      struct timespec rel = {time_t(d / 1000000000), long(d % 1000000000)};
      futex_wait(&done, 0, &rel);
    }
  }
  if (ctx) ctx_unwatch(ctx, this);
  return !timed_out();
}

}  // namespace goro::rt
