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
void unlock_spin(void* mu) { static_cast<SpinMutex*>(mu)->unlock(); }

void deadline_fired(Timer* t) {
  Waiter* w = static_cast<Waiter*>(t->arg);
  if (w->give_up(Waiter::kTimedOut) == Waiter::kMustReady) goready(w->g);
}

// Runs once the G is off its stack (on g0, or on the next G's stack after a
// direct switch: proc.cpp, gswitch), with the object's lock held and
// the waiter in kArming (block_with), so that neither claimant set up here
// can ready the G yet: link the waiter into its context, arm the deadline
// on the G's own timer, then leave kArming. If either claimed it meanwhile
// the CAS fails and the G stays running. Once the CAS succeeds the G may be
// readied and resumed on another M at any moment, so only the object's
// lock is touched after it: nothing of the ParkArgs, the Waiter or the
// G's stack.
bool park_with_deadline(G* gp, void* a) {
  ParkArgs* pa = static_cast<ParkArgs*>(a);
  void (*unlock)(void*) = pa->unlock;
  void* arg = pa->arg;
  Waiter* w = pa->w;
  int64_t deadline = pa->deadline;
  if (w->ctx) ctx_watch(w->ctx, w);  // already cancelled: claims w (kCancelled)
  if (deadline >= 0) {
    gp->sleeptimer.f = deadline_fired;
    gp->sleeptimer.arg = w;
    gp->sleeptimer.when = deadline;
    arm_timer(&gp->sleeptimer);
  }
  uint32_t expect = Waiter::kArming;
  bool park = w->claim_word().compare_exchange_strong(expect, Waiter::kWaiting,
                                                      std::memory_order_acq_rel);
  unlock(arg);
  return park;
}

// The park function of a solo waiter (no deadline, no context): nothing to
// set up and no claimant to race, so no kArming.
bool park_unlock(G*, void* a) {
  ParkArgs* pa = static_cast<ParkArgs*>(a);
  pa->unlock(pa->arg);
  return true;
}

}  // namespace

bool Waiter::block(Mutex* lock, int64_t deadline) {
  return block_with(unlock_mutex, lock, deadline);
}

bool Waiter::block(SpinMutex* lock, int64_t deadline) {
  return block_with(unlock_spin, lock, deadline);
}

bool Waiter::block_with(void (*unlock)(void*), void* arg, int64_t deadline) {
  solo = deadline < 0 && !ctx && !sel_first;
  if (g) {
    // Still under the object's lock: no waker has seen this waiter yet, and
    // the deadline and the context are not set up before the park function.
    ParkArgs pa{unlock, arg, this, deadline};
    const char* reason = waitreason ? waitreason : "chan/sync wait";
    if (solo) {
      gopark(g, park_unlock, &pa, reason);
      return true;
    }
    claim_word().store(kArming, std::memory_order_relaxed);
    gopark(g, park_with_deadline, &pa, reason);
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
        if (give_up(kTimedOut) != kLost) break;
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
