// waitgroup.cpp: goro_wg_t, Go's sync.WaitGroup for goroutines and threads.
//
// Owns: the counter, its per-P credit stripes, and the list of waiters.
//
// The count is kept in two places: count_, and up to kStripes stripes of
// credit, one cache line each, picked by P id. Go keeps one word. In the
// common fan-out (one goroutine adds, goroutines on other Ps call done) that
// word's line then moves between CPUs twice per goroutine, and it was a
// third of bench/spawn at 2 Ps. Here a done on a P first spends its stripe's
// credit, on a line that stays on that CPU; when the stripe is empty it
// takes kCredit units from count_ at once, and only while count_ holds at
// least 2 * kCredit, so small counts never leave count_. The count is
// count_ plus all credit; taking credit moves units, it does not change the
// count. Only dones (-1) from a goroutine with a P spend credit; every other
// add goes to count_.
//
// Two modes, switched under mu_:
//  - striped (exact_ == 0): nobody waits. Stripes may take and spend credit,
//    and nobody needs to see the count reach zero.
//  - exact (exact_ == 1): set by the first waiter, by count() and by an add
//    that needs the exact count (one that would go negative or overflow
//    count_). Under mu_ it sets exact_ and then drains every stripe into
//    count_ (drain_locked). No stripe takes credit in exact mode, so count_
//    is the whole count until it next reaches zero, which returns the group
//    to striped mode.
//
// Invariants:
//  - count >= 0 always; an add that would break that fails with -ERANGE and
//    changes nothing. Credit is taken from count_, so spending it never
//    makes the count negative, and an add that finds count_ short drains the
//    stripes before it decides.
//  - A stripe holding credit has its bit in used_. The bit is set and
//    cleared only under that stripe's lock. A stripe that sets its bit then
//    reads exact_, and drain_locked sets exact_ then reads used_ (all
//    seq_cst): either the drain sees the bit, and locks the stripe after the
//    taker is done with it, or the taker sees exact mode and takes nothing.
//  - In exact mode the count reaches zero only under mu_, in the same
//    critical section that takes every waiter; a waiter enqueues itself only
//    under mu_, in exact mode, while count_ > 0. So no waiter misses the
//    transition. Waiters exist only in exact mode.
//  - Waiters are readied after mu_ is dropped, and a waiter that finds the
//    count already zero passes through mu_ once before returning. A striped
//    done's last touch is its stripe's unlock, which the waiter's drain
//    waits for. So once wait() returns, no goro_wg_add/done on this
//    WaitGroup still touches it: "wait, then free" is safe.
//  - Waiters follow the Waiter protocol (waiter.h): the add that reaches
//    zero claims each one; a waiter whose deadline or context ended its wait
//    first is skipped and leaves the queue on its own under mu_.
#include <cerrno>
#include <cstdint>
#include <new>

#include "sched/sched.h"
#include "sync/waitgroup.h"
#include "sync/wake.h"

namespace goro::rt {

static_assert((WaitGroup::kStripes & (WaitGroup::kStripes - 1)) == 0, "kStripes: power of two");

// Overflow headroom for the lock-free add: if count_ + delta stays at most
// this, the count (count_ plus every stripe's credit, below kCredit each)
// stays at most INT64_MAX. An add past it takes mu_, drains the stripes and
// checks the exact count.
static constexpr int64_t kCountSafeMax = INT64_MAX - WaitGroup::kStripes * WaitGroup::kCredit;

int WaitGroup::add(int64_t delta) {
  if (delta == 0) return 0;  // changes nothing, whatever the count
  if (delta == -1) {
    P* p = curp();  // none on a plain thread or in a syscall region
    if (p && done_striped(p->id & (kStripes - 1))) return 0;
  }
  // A plain load, not an RMW to take the line exclusive at once: with the
  // dones on stripes, count_'s line leaves this CPU only when a stripe
  // refills (once per kCredit dones), while a second locked operation would
  // cost every add (bench/spawn at 1 P: 83 -> 79 ns).
  int64_t old = count_.load(std::memory_order_relaxed);
  int64_t nv;
  for (;;) {
    // Going negative may only mean the rest is in stripes; reaching zero
    // must happen under mu_; past kCountSafeMax needs the exact count.
    if (__builtin_add_overflow(old, delta, &nv) || nv <= 0 || nv > kCountSafeMax) break;
    if (count_.compare_exchange_weak(old, nv, std::memory_order_acq_rel)) return 0;
  }
  Waiter* head = nullptr;
  {
    LockGuard lg(mu_);
    int err = add_locked(delta);
    if (err == 0) take_waiters_locked(&head);
    reopen_locked();
    if (err != 0) return err;
  }
  // mu_ is released: from here on only the waiters are touched, so a waiter
  // that returns may free the WaitGroup at once. ready_list() holds an
  // ApiRef when it readies a G from a plain thread.
  ready_list(head);
  return 0;
}

// done_striped spends one unit of stripe idx's credit, taking more from
// count_ when it is empty. False: nothing was spent (exact mode, or count_
// too small to share); the caller goes to count_.
bool WaitGroup::done_striped(int idx) {
  if (exact_.load(std::memory_order_relaxed) != 0) return false;  // a hint; rechecked below
  Stripe& s = stripes_[idx];
  LockGuard lg(s.lk);
  if (s.credit > 0) {
    // Credit in hand is the count's; spending it is right in either mode (a
    // drain that has not reached this stripe yet will find the rest).
    s.credit--;
    return true;
  }
  int64_t c = count_.load(std::memory_order_relaxed);
  if (c < 2 * kCredit) return false;
  uint32_t bit = 1u << idx;
  if ((used_.load(std::memory_order_relaxed) & bit) == 0)
    used_.fetch_or(bit, std::memory_order_seq_cst);
  // In exact mode take nothing. The bit may stay set with no credit behind
  // it (a drain that read used_ first missed it): harmless, the next drain
  // clears it.
  if (exact_.load(std::memory_order_seq_cst) != 0) return false;
  while (c >= 2 * kCredit) {
    if (count_.compare_exchange_weak(c, c - kCredit, std::memory_order_acq_rel)) {
      s.credit = kCredit - 1;  // one spent by this done
      return true;
    }
  }
  return false;
}

// drain_locked enters exact mode and moves every stripe's credit back to
// count_. mu_ held.
void WaitGroup::drain_locked() {
  exact_.store(1, std::memory_order_seq_cst);
  uint32_t used = used_.load(std::memory_order_seq_cst);
  while (used != 0) {
    int idx = __builtin_ctz(used);
    used &= used - 1;
    Stripe& s = stripes_[idx];
    LockGuard lg(s.lk);
    if (s.credit != 0) count_.fetch_add(s.credit, std::memory_order_acq_rel);
    s.credit = 0;
    used_.fetch_and(~(1u << idx), std::memory_order_relaxed);
  }
}

// add_locked applies delta under mu_, exactly. mu_ held.
int WaitGroup::add_locked(int64_t delta) {
  int64_t old = count_.load(std::memory_order_acquire);
  int64_t nv;
  bool overflow = __builtin_add_overflow(old, delta, &nv);
  if ((overflow || nv < 0 || nv > kCountSafeMax) && exact_.load(std::memory_order_relaxed) == 0) {
    drain_locked();  // the rest of the count may be in stripes
    old = count_.load(std::memory_order_acquire);
  }
  // In exact mode no stripe holds credit: count_ is the count, and only
  // lock-free adds that stay above zero race with this CAS.
  do {
    if (__builtin_add_overflow(old, delta, &nv) || nv < 0) return -ERANGE;
  } while (!count_.compare_exchange_weak(old, nv, std::memory_order_acq_rel));
  return 0;
}

// take_waiters_locked: if the count is zero, takes every waiter onto *head
// and returns the group to striped mode. mu_ held.
void WaitGroup::take_waiters_locked(Waiter** head) {
  if (exact_.load(std::memory_order_relaxed) == 0) return;  // no waiter; stripes may hold the rest
  if (count_.load(std::memory_order_acquire) != 0) return;
  Waiter** tail = head;
  while (Waiter* w = q_.dequeue()) {  // waiters that gave up are skipped
    w->next = nullptr;
    *tail = w;
    tail = &w->next;
  }
}

// reopen_locked returns the group to striped mode unless someone waits.
// mu_ held; every critical section that may have drained ends with it.
void WaitGroup::reopen_locked() {
  if (q_.empty()) exact_.store(0, std::memory_order_relaxed);
}

int WaitGroup::wait(int64_t deadline, Context* ctx) {
  // count_ first: a stripe sets its bit before it takes from count_, so a
  // count_ read after a take is followed by a used_ read that sees the bit.
  if (count_.load(std::memory_order_acquire) == 0 && used_.load(std::memory_order_acquire) == 0) {
    // The add that brought the count to zero may still be inside mu_: wait
    // for it to leave, so the caller may free the WaitGroup on return.
    mu_.lock();
    mu_.unlock();
    return 0;
  }
  Waiter w;
  w.g = getg();
  w.ctx = ctx;
  w.waitreason = "sync.WaitGroup.Wait";
  SyscallPause sp(w.g);  // before the lock: leaving may wait for a P (sched.h)
  mu_.lock();
  if (exact_.load(std::memory_order_relaxed) == 0) drain_locked();
  if (count_.load(std::memory_order_acquire) == 0) {
    reopen_locked();
    mu_.unlock();
    return 0;
  }
  if (deadline >= 0 && deadline <= nanotime()) {
    reopen_locked();
    mu_.unlock();
    return -ETIMEDOUT;
  }
  q_.push_back(&w);
  if (w.block(&mu_, deadline)) return 0;
  mu_.lock();
  q_.remove(&w);
  reopen_locked();
  mu_.unlock();
  return -ETIMEDOUT;
}

int64_t WaitGroup::count() {
  LockGuard lg(mu_);
  if (exact_.load(std::memory_order_relaxed) == 0) drain_locked();
  int64_t c = count_.load(std::memory_order_acquire);
  reopen_locked();
  return c;
}

bool WaitGroup::busy() {
  LockGuard lg(mu_);
  return !q_.empty();
}

}  // namespace goro::rt
