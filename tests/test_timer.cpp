/*
 * test_timer.cpp: the per-P timer heap (core/time/timer.cpp), compiled into
 * this test and driven directly, and the clock assumption its due() check
 * rests on:
 *  - coarsetime() is never ahead of nanotime() and never behind it by more
 *    than g_coarse_slack (checked on this kernel, many times over);
 *  - due() answers exactly as "when <= nanotime()" would: a timer is due
 *    the moment nanotime() reaches it, whatever the coarse clock says, and
 *    a far timer is not;
 *  - run() fires timers in `when` order, only those due, and timer_del()
 *    keeps a deleted timer from firing.
 */
#include <time.h>

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <setjmp.h>
#include <vector>

extern "C" {
#include <cmocka.h>
}

#include "time/timer.h"

using goro::rt::coarsetime;
using goro::rt::g_coarse_slack;
using goro::rt::nanotime;
using goro::rt::Timer;
using goro::rt::TimerHeap;

namespace {

/* 2,000,000 reads of nanotime() bracketed by two coarse reads: the coarse
 * clock never passes the precise one, and where both coarse reads agree (no
 * tick in between, so the first one is what the coarse clock said when
 * nanotime() was read, even if this thread was descheduled meanwhile) it
 * never lags by more than the slack due() allows. */
void test_coarse_clock_bound(void **state) {
  (void)state;
  const int64_t slack = g_coarse_slack.load();
  print_message("g_coarse_slack = %lld ns\n", (long long)slack);
  assert_true(slack > 0);
  /* This kernel gives a tick (clock_getres), so the fast path is on. */
  assert_true(slack < INT64_MAX);
  int64_t worst = 0;
  long exact = 0;
  for (int i = 0; i < 2000000; i++) {
    int64_t c1 = coarsetime();
    int64_t n = nanotime();
    int64_t c2 = coarsetime();
    assert_true(c1 <= n);
    assert_true(c1 <= c2);
    if (c1 != c2) continue;
    exact++;
    if (n - c1 > worst) worst = n - c1;
  }
  print_message("worst coarse lag in %ld exact samples: %lld ns\n", exact, (long long)worst);
  assert_true(exact > 1000000);
  assert_true(worst <= slack);
}

void nop(Timer *) {}

/* A timer is due exactly when nanotime() has reached it: checked at 300
 * deadlines spread over several clock ticks, each tested the first time
 * nanotime() is at or past it (the coarse clock then usually lags it). A
 * timer an hour away is never due. */
void test_due_exact(void **state) {
  (void)state;
  TimerHeap h;
  assert_false(h.due());  // empty
  Timer far;
  far.f = nop;
  far.when = nanotime() + 3600LL * 1000000000;
  h.add(&far);
  assert_false(h.due());
  for (int i = 0; i < 300; i++) {
    Timer t;
    t.f = nop;
    t.when = nanotime() + 20000 + int64_t(i % 30) * 173000;  // 20 us .. ~5 ms
    h.add(&t);
    assert_ptr_equal(reinterpret_cast<void *>(h.next()), reinterpret_cast<void *>(t.when));
    while (nanotime() < t.when) {
      bool d = h.due() != 0;
      if (d && nanotime() < t.when) fail_msg("due() before the timer's time");
    }
    if (!h.due()) fail_msg("timer %d not due although nanotime() has reached it", i);
    assert_int_equal(h.run(nanotime()), 1);
    assert_int_equal(h.next(), far.when);
  }
  assert_true(goro::rt::timer_del(&far));
  assert_false(h.due());
  assert_int_equal(h.next(), 0);
}

struct Rec {
  std::vector<int> *order;
  int id;
};
void rec(Timer *t) {
  Rec *r = static_cast<Rec *>(t->arg);
  r->order->push_back(r->id);
}

/* run(now) fires what is due in `when` order and leaves the rest; a
 * deleted timer never fires. */
void test_run_order(void **state) {
  (void)state;
  TimerHeap h;
  std::vector<int> order;
  const int N = 50;
  Timer ts[N];
  Rec rs[N];
  for (int i = 0; i < N; i++) {
    int k = (i * 37) % N;  // a permutation of 0..N-1
    rs[i] = Rec{&order, k};
    ts[i].f = rec;
    ts[i].arg = &rs[i];
    ts[i].when = 1000 + int64_t(k) * 10;
    h.add(&ts[i]);
  }
  assert_int_equal(h.size(), N);
  // Delete k == 7.
  for (int i = 0; i < N; i++)
    if (rs[i].id == 7) assert_true(goro::rt::timer_del(&ts[i]));
  assert_int_equal(h.run(1000 + 24 * 10), 24);  // k = 0..24 but 7
  assert_int_equal(h.next(), 1000 + 25 * 10);
  assert_int_equal(h.run(INT64_MAX), N - 25);
  assert_int_equal(int(order.size()), N - 1);
  for (size_t i = 1; i < order.size(); i++) assert_true(order[i - 1] < order[i]);
  for (int k : order) assert_int_not_equal(k, 7);
  assert_int_equal(h.next(), 0);
}

}  // namespace

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_coarse_clock_bound),
      cmocka_unit_test(test_due_exact),
      cmocka_unit_test(test_run_order),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
