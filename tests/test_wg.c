/*
 * test_wg.c: goro_wg_t, Go's sync.WaitGroup, used from goroutines and plain
 * threads in every combination, its errors, and reuse over many rounds.
 * Tests that depend on the number of Ps run at maxprocs 1 and 2.
 */
#include "testutil.h"


/* A plain thread that waits on a WaitGroup and reports when it returned. */
struct waiter {
  pthread_t th;
  goro_wg_t *wg;
  atomic_int started;
  atomic_int returned;
  int rc;
};
static void *waiter_main(void *arg) {
  struct waiter *w = arg;
  atomic_store(&w->started, 1);
  w->rc = goro_wg_wait(w->wg);
  atomic_store(&w->returned, 1);
  return NULL;
}
static void waiter_start(struct waiter *w, goro_wg_t *wg) {
  memset(w, 0, sizeof *w);
  w->wg = wg;
  w->rc = 12345;
  assert_int_equal(pthread_create(&w->th, NULL, waiter_main, w), 0);
  while (!atomic_load(&w->started)) sched_yield();
}
/* Waits up to 10 s for the waiter to return; false if it did not. */
static int waiter_join(struct waiter *w) {
  int64_t end = tu_now_ns() + 10000 * TU_MS;
  while (!atomic_load(&w->returned) && tu_now_ns() < end) tu_sleep_ms(1);
  if (!atomic_load(&w->returned)) return 0;
  pthread_join(w->th, NULL);
  return 1;
}

/* ------------------------------------------------------------------------- */

static void test_null_handles(void **state) {
  (void)state;
  TU_WATCHDOG(10);
  assert_int_equal(goro_wg_new(NULL), -EINVAL);
  assert_int_equal(goro_wg_free(NULL), 0);
  assert_int_equal(goro_wg_add(NULL, 1), -EINVAL);
  assert_int_equal(goro_wg_add(NULL, 0), -EINVAL);
  assert_int_equal(goro_wg_add(NULL, -1), -EINVAL);
  assert_int_equal(goro_wg_done(NULL), -EINVAL);
  assert_int_equal(goro_wg_wait(NULL), -EINVAL);
  goro_wg_t *wg = NULL;
  assert_int_equal(goro_wg_new(&wg), 0);
  assert_non_null(wg);
  goro_wg_t *wg2 = NULL;
  assert_int_equal(goro_wg_new(&wg2), 0);
  assert_true(wg != wg2);
  assert_int_equal(goro_wg_free(wg), 0);
  assert_int_equal(goro_wg_free(wg2), 0);
}

static void zero_wait_fn(void *arg) {
  goro_wg_t *wg = arg;
  GCHECK_CMP(goro_wg_wait(wg), ==, 0);
  GCHECK_CMP(goro_wg_add(wg, 0), ==, 0);
  GCHECK_CMP(goro_wg_wait(wg), ==, 0);
  GCHECK_CMP(goro_wg_add(wg, 2), ==, 0);
  GCHECK_CMP(goro_wg_done(wg), ==, 0);
  GCHECK_CMP(goro_wg_done(wg), ==, 0);
  GCHECK_CMP(goro_wg_wait(wg), ==, 0);
}

static void test_wait_at_zero(void **state) {
  (void)state;
  TU_WATCHDOG(10);
  tu_reset_fail();
  goro_wg_t *wg;
  assert_int_equal(goro_wg_new(&wg), 0);
  /* Plain thread. */
  assert_int_equal(goro_wg_wait(wg), 0);
  assert_int_equal(goro_wg_add(wg, 0), 0);
  assert_int_equal(goro_wg_wait(wg), 0);
  assert_int_equal(goro_wg_add(wg, 5), 0);
  assert_int_equal(goro_wg_add(wg, -5), 0);
  assert_int_equal(goro_wg_wait(wg), 0);
  /* Goroutine. */
  for (int procs = 1; procs <= 2; procs++) {
    goro_maxprocs(procs);
    assert_int_equal(goro_run(zero_wait_fn, wg), 0);
  }
  goro_maxprocs(2);
  GASSERT_OK();
  assert_int_equal(goro_wg_free(wg), 0);
}

/* Many goroutines call done; waiters of every kind are released. */
struct many_ctx {
  goro_wg_t *wg;
  goro_wg_t *waiters_done;
  atomic_int workers_done;
  atomic_int released;
  int n;
};
static void many_worker(void *arg) {
  struct many_ctx *c = arg;
  if (atomic_fetch_add(&c->workers_done, 1) % 3 == 0) goro_yield();
  GCHECK_CMP(goro_wg_done(c->wg), ==, 0);
}
static void many_waiter(void *arg) {
  struct many_ctx *c = arg;
  GCHECK_CMP(goro_wg_wait(c->wg), ==, 0);
  /* Released only once every worker is done. */
  GCHECK_CMP(atomic_load(&c->workers_done), ==, c->n);
  atomic_fetch_add(&c->released, 1);
  GCHECK_CMP(goro_wg_done(c->waiters_done), ==, 0);
}

static void test_many_done_release_waiters(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  tu_reset_fail();
  for (int procs = 1; procs <= 2; procs++) {
    goro_maxprocs(procs);
    struct many_ctx c;
    memset(&c, 0, sizeof c);
    c.n = TU_SCALE(20000, 5000, 2000);
    assert_int_equal(goro_wg_new(&c.wg), 0);
    assert_int_equal(goro_wg_new(&c.waiters_done), 0);
    assert_int_equal(goro_wg_add(c.wg, c.n), 0);
    /* Goroutine waiters and plain-thread waiters, before the workers start. */
    enum { GW = 8, TW = 3 };
    assert_int_equal(goro_wg_add(c.waiters_done, GW), 0);
    for (int i = 0; i < GW; i++) assert_int_equal(goro_go(many_waiter, &c), 0);
    struct waiter tw[TW];
    for (int i = 0; i < TW; i++) waiter_start(&tw[i], c.wg);
    tu_sleep_ms(20);
    ASSERT_EQ(atomic_load(&c.released), 0);
    for (int i = 0; i < TW; i++) ASSERT_EQ(atomic_load(&tw[i].returned), 0);
    for (int i = 0; i < c.n; i++) assert_int_equal(goro_go(many_worker, &c), 0);
    /* And this plain thread waits too. */
    assert_int_equal(goro_wg_wait(c.wg), 0);
    ASSERT_EQ(atomic_load(&c.workers_done), c.n);
    assert_int_equal(goro_wg_wait(c.waiters_done), 0);
    ASSERT_EQ(atomic_load(&c.released), GW);
    for (int i = 0; i < TW; i++) {
      if (!waiter_join(&tw[i])) fail_msg("plain-thread waiter %d was not released", i);
      assert_int_equal(tw[i].rc, 0);
    }
    tu_settle(0);
    GASSERT_OK();
    assert_int_equal(goro_wg_free(c.wg), 0);
    assert_int_equal(goro_wg_free(c.waiters_done), 0);
  }
  goro_maxprocs(2);
}

/* Plain threads call done; goroutines wait. */
struct thread_worker {
  goro_wg_t *wg;
  atomic_int *done_count;
  int sleep_ms;
};
static void *thread_worker_main(void *arg) {
  struct thread_worker *w = arg;
  tu_sleep_ms(w->sleep_ms);
  atomic_fetch_add(w->done_count, 1);
  GCHECK_CMP(goro_wg_done(w->wg), ==, 0);
  return NULL;
}
struct gwait_ctx {
  goro_wg_t *wg;
  atomic_int *done_count;
  int want;
  goro_wg_t *finished;
};
static void gwait_fn(void *arg) {
  struct gwait_ctx *c = arg;
  GCHECK_CMP(goro_wg_wait(c->wg), ==, 0);
  GCHECK_CMP(atomic_load(c->done_count), ==, c->want);
  GCHECK_CMP(goro_wg_done(c->finished), ==, 0);
}

static void test_goroutines_wait_on_threads(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  tu_reset_fail();
  for (int procs = 1; procs <= 2; procs++) {
    goro_maxprocs(procs);
    enum { THREADS = 6, GWAITERS = 10 };
    atomic_int done_count = 0;
    goro_wg_t *wg, *finished;
    assert_int_equal(goro_wg_new(&wg), 0);
    assert_int_equal(goro_wg_new(&finished), 0);
    assert_int_equal(goro_wg_add(wg, THREADS), 0);
    struct gwait_ctx gc = {wg, &done_count, THREADS, finished};
    assert_int_equal(goro_wg_add(finished, GWAITERS), 0);
    for (int i = 0; i < GWAITERS; i++) assert_int_equal(goro_go(gwait_fn, &gc), 0);
    struct thread_worker tw[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
      tw[i].wg = wg;
      tw[i].done_count = &done_count;
      tw[i].sleep_ms = 10 + 10 * i;
      assert_int_equal(pthread_create(&th[i], NULL, thread_worker_main, &tw[i]), 0);
    }
    assert_int_equal(goro_wg_wait(finished), 0);
    for (int i = 0; i < THREADS; i++) assert_int_equal(pthread_join(th[i], NULL), 0);
    tu_settle(0);
    GASSERT_OK();
    assert_int_equal(goro_wg_free(wg), 0);
    assert_int_equal(goro_wg_free(finished), 0);
  }
  goro_maxprocs(2);
}

/* Plain threads wait on goroutines that sleep before done. */
static void sleepy_worker(void *arg) {
  goro_sleep(20 * TU_MS);
  GCHECK_CMP(goro_wg_done((goro_wg_t *)arg), ==, 0);
}
static void test_threads_wait_on_goroutines(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  tu_reset_fail();
  goro_wg_t *wg;
  assert_int_equal(goro_wg_new(&wg), 0);
  assert_int_equal(goro_wg_add(wg, 50), 0);
  struct waiter tw[4];
  for (int i = 0; i < 4; i++) waiter_start(&tw[i], wg);
  for (int i = 0; i < 50; i++) assert_int_equal(goro_go(sleepy_worker, wg), 0);
  for (int i = 0; i < 4; i++) {
    if (!waiter_join(&tw[i])) fail_msg("plain-thread waiter %d was not released", i);
    assert_int_equal(tw[i].rc, 0);
  }
  tu_settle(0);
  GASSERT_OK();
  assert_int_equal(goro_wg_free(wg), 0);
}

/* -ERANGE leaves the counter unchanged. */
static void test_range_errors(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  goro_wg_t *wg;
  assert_int_equal(goro_wg_new(&wg), 0);
  assert_int_equal(goro_wg_done(wg), -ERANGE);
  assert_int_equal(goro_wg_add(wg, -1), -ERANGE);
  assert_int_equal(goro_wg_add(wg, INT64_MIN), -ERANGE);
  assert_int_equal(goro_wg_wait(wg), 0); /* still zero */

  assert_int_equal(goro_wg_add(wg, 3), 0);
  assert_int_equal(goro_wg_add(wg, -4), -ERANGE);
  assert_int_equal(goro_wg_add(wg, INT64_MIN), -ERANGE);
  /* Still 3: two dones leave a waiter blocked, the third releases it. */
  assert_int_equal(goro_wg_done(wg), 0);
  assert_int_equal(goro_wg_done(wg), 0);
  struct waiter w;
  waiter_start(&w, wg);
  tu_sleep_ms(50);
  if (atomic_load(&w.returned)) {
    goro_wg_add(wg, 100); /* keep the counter from going negative below */
    fail_msg("goro_wg_wait returned with the counter at 1 (rc %d)", w.rc);
  }
  assert_int_equal(goro_wg_add(wg, -2), -ERANGE); /* would be -1 */
  tu_sleep_ms(10);
  assert_int_equal(atomic_load(&w.returned), 0);
  assert_int_equal(goro_wg_done(wg), 0);
  if (!waiter_join(&w)) fail_msg("waiter not released at zero");
  assert_int_equal(w.rc, 0);
  assert_int_equal(goro_wg_done(wg), -ERANGE);

  /* Overflow. The counter may be narrower than int64_t; either way an
   * addition that does not fit is refused and changes nothing. */
  int r = goro_wg_add(wg, INT64_MAX);
  if (r == 0) {
    assert_int_equal(goro_wg_add(wg, 1), -ERANGE);
    assert_int_equal(goro_wg_add(wg, INT64_MAX), -ERANGE);
    assert_int_equal(goro_wg_add(wg, -INT64_MAX), 0);
  } else {
    assert_int_equal(r, -ERANGE);
    assert_int_equal(goro_wg_add(wg, INT32_MAX), 0);
    r = goro_wg_add(wg, INT64_MAX - INT32_MAX);
    if (r == 0) {
      assert_int_equal(goro_wg_add(wg, 1), -ERANGE);
      assert_int_equal(goro_wg_add(wg, -(INT64_MAX - INT32_MAX)), 0);
    } else {
      assert_int_equal(r, -ERANGE);
    }
    assert_int_equal(goro_wg_add(wg, -(int64_t)INT32_MAX), 0);
  }
  assert_int_equal(goro_wg_wait(wg), 0); /* back to zero */
  assert_int_equal(goro_wg_done(wg), -ERANGE);
  assert_int_equal(goro_wg_free(wg), 0);
}

/* Free while someone waits: -EBUSY and nothing freed. */
static void gwaiter_fn(void *arg) {
  struct waiter *w = arg;
  atomic_store(&w->started, 1);
  w->rc = goro_wg_wait(w->wg);
  atomic_store(&w->returned, 1);
}

static void test_free_busy(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  /* Plain-thread waiter. */
  goro_wg_t *wg;
  assert_int_equal(goro_wg_new(&wg), 0);
  assert_int_equal(goro_wg_add(wg, 1), 0);
  struct waiter w;
  waiter_start(&w, wg);
  tu_sleep_ms(50); /* it is blocked in goro_wg_wait by now */
  assert_int_equal(atomic_load(&w.returned), 0);
  assert_int_equal(goro_wg_free(wg), -EBUSY);
  assert_int_equal(goro_wg_free(wg), -EBUSY);
  /* Still a working WaitGroup. */
  assert_int_equal(goro_wg_add(wg, 1), 0);
  assert_int_equal(goro_wg_done(wg), 0);
  tu_sleep_ms(10);
  assert_int_equal(atomic_load(&w.returned), 0);
  assert_int_equal(goro_wg_done(wg), 0);
  if (!waiter_join(&w)) fail_msg("waiter not released");
  assert_int_equal(w.rc, 0);
  assert_int_equal(goro_wg_free(wg), 0);

  /* Goroutine waiter. */
  for (int procs = 1; procs <= 2; procs++) {
    goro_maxprocs(procs);
    assert_int_equal(goro_wg_new(&wg), 0);
    assert_int_equal(goro_wg_add(wg, 1), 0);
    memset(&w, 0, sizeof w);
    w.wg = wg;
    assert_int_equal(goro_go(gwaiter_fn, &w), 0);
    while (!atomic_load(&w.started)) tu_sleep_ms(1);
    tu_sleep_ms(50);
    assert_int_equal(atomic_load(&w.returned), 0);
    assert_int_equal(goro_wg_free(wg), -EBUSY);
    assert_int_equal(goro_wg_done(wg), 0);
    int64_t end = tu_now_ns() + 10000 * TU_MS;
    while (!atomic_load(&w.returned) && tu_now_ns() < end) tu_sleep_ms(1);
    assert_int_equal(atomic_load(&w.returned), 1);
    assert_int_equal(w.rc, 0);
    tu_settle(0);
    assert_int_equal(goro_wg_free(wg), 0);
  }
  goro_maxprocs(2);
}

/* One WaitGroup reused for many rounds, with waiters of both kinds. */
struct round_ctx {
  goro_wg_t *wg;
  atomic_int done_in_round;
};
static void round_worker(void *arg) {
  struct round_ctx *c = arg;
  if (atomic_fetch_add(&c->done_in_round, 1) & 1) goro_yield();
  GCHECK_CMP(goro_wg_done(c->wg), ==, 0);
}
struct round_waiter_arg {
  struct round_ctx *c;
  int want;
  goro_wg_t *finished;
};
static void round_waiter(void *arg) {
  struct round_waiter_arg *a = arg;
  GCHECK_CMP(goro_wg_wait(a->c->wg), ==, 0);
  GCHECK_CMP(atomic_load(&a->c->done_in_round), >=, a->want);
  GCHECK_CMP(goro_wg_done(a->finished), ==, 0);
}

static void test_reuse(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  tu_reset_fail();
  struct round_ctx c;
  memset(&c, 0, sizeof c);
  assert_int_equal(goro_wg_new(&c.wg), 0);
  goro_wg_t *finished;
  assert_int_equal(goro_wg_new(&finished), 0);
  const int rounds = TU_SCALE(200, 50, 20);
  for (int procs = 1; procs <= 2; procs++) {
    goro_maxprocs(procs);
    for (int r = 0; r < rounds; r++) {
      int n = 1 + (r * 37) % 100;
      atomic_store(&c.done_in_round, 0);
      assert_int_equal(goro_wg_add(c.wg, n), 0);
      struct round_waiter_arg wa = {&c, n, finished};
      assert_int_equal(goro_wg_add(finished, 2), 0);
      for (int i = 0; i < 2; i++) assert_int_equal(goro_go(round_waiter, &wa), 0);
      for (int i = 0; i < n; i++) assert_int_equal(goro_go(round_worker, &c), 0);
      assert_int_equal(goro_wg_wait(c.wg), 0);
      ASSERT_EQ(atomic_load(&c.done_in_round), n);
      assert_int_equal(goro_wg_wait(finished), 0);
    }
    tu_settle(0);
  }
  goro_maxprocs(2);
  GASSERT_OK();
  assert_int_equal(goro_wg_free(c.wg), 0);
  assert_int_equal(goro_wg_free(finished), 0);
}

/* Race: the counter hits zero while waiters are arriving. */
struct race_ctx {
  goro_wg_t *wg;
  goro_wg_t *all;
};
static void race_done(void *arg) {
  struct race_ctx *c = arg;
  GCHECK_CMP(goro_wg_done(c->wg), ==, 0);
  GCHECK_CMP(goro_wg_done(c->all), ==, 0);
}
static void race_wait(void *arg) {
  struct race_ctx *c = arg;
  GCHECK_CMP(goro_wg_wait(c->wg), ==, 0);
  GCHECK_CMP(goro_wg_done(c->all), ==, 0);
}
static void test_zero_race(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  tu_reset_fail();
  const int rounds = TU_SCALE(3000, 1000, 300);
  goro_wg_t *all;
  assert_int_equal(goro_wg_new(&all), 0);
  for (int procs = 1; procs <= 2; procs++) {
    goro_maxprocs(procs);
    for (int r = 0; r < rounds; r++) {
      struct race_ctx c = {NULL, all};
      assert_int_equal(goro_wg_new(&c.wg), 0);
      assert_int_equal(goro_wg_add(c.wg, 1), 0);
      assert_int_equal(goro_wg_add(all, 3), 0);
      assert_int_equal(goro_go(race_wait, &c), 0);
      assert_int_equal(goro_go(race_done, &c), 0);
      assert_int_equal(goro_go(race_wait, &c), 0);
      if (r & 1) assert_int_equal(goro_wg_wait(c.wg), 0);
      assert_int_equal(goro_wg_wait(all), 0);
      /* Nobody waits any more: free succeeds. */
      assert_int_equal(goro_wg_free(c.wg), 0);
    }
    tu_settle(0);
  }
  goro_maxprocs(2);
  GASSERT_OK();
  assert_int_equal(goro_wg_free(all), 0);
}


/* ------------------------------------------------------------------------- */
/* Credit stripes (waitgroup.cpp): a done from a goroutine may spend credit
 * its P's stripe took from the shared count. None of that may show: the
 * count stays exact for errors, waits and overflow. */

/* One done from a goroutine, with the count at 64: enough for its stripe to
 * take a share of the count. */
static void one_done(void *arg) { GCHECK_CMP(goro_wg_done((goro_wg_t *)arg), ==, 0); }

static void test_striped_count_exact(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  tu_reset_fail();
  goro_wg_t *wg;
  assert_int_equal(goro_wg_new(&wg), 0);
  /* 64, then a goroutine's done: 63, part of it held by that P's stripe.
   * This thread has no P, so its adds go to the shared count, which must
   * gather the stripe's share back rather than report -ERANGE early. */
  assert_int_equal(goro_wg_add(wg, 64), 0);
  assert_int_equal(goro_run(one_done, wg), 0);
  assert_int_equal(goro_wg_add(wg, -64), -ERANGE);
  assert_int_equal(goro_wg_add(wg, -40), 0);
  assert_int_equal(goro_wg_add(wg, -24), -ERANGE); /* 23 left */
  assert_int_equal(goro_wg_add(wg, -22), 0);       /* 1 left */
  assert_int_equal(goro_wg_add(wg, -2), -ERANGE);
  struct waiter w;
  waiter_start(&w, wg);
  tu_sleep_ms(30);
  assert_int_equal(atomic_load(&w.returned), 0);
  assert_int_equal(goro_wg_done(wg), 0);
  if (!waiter_join(&w)) fail_msg("waiter not released at zero");
  assert_int_equal(goro_wg_done(wg), -ERANGE);
  GASSERT_OK();
  assert_int_equal(goro_wg_free(wg), 0);
}

/* Overflow with a stripe's share out: still exact at INT64_MAX. */
static void test_striped_overflow_exact(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  tu_reset_fail();
  goro_wg_t *wg;
  assert_int_equal(goro_wg_new(&wg), 0);
  assert_int_equal(goro_wg_add(wg, INT64_MAX - 10), 0);
  assert_int_equal(goro_run(one_done, wg), 0); /* INT64_MAX - 11 */
  assert_int_equal(goro_wg_add(wg, 12), -ERANGE);
  assert_int_equal(goro_wg_add(wg, 11), 0); /* exactly INT64_MAX */
  assert_int_equal(goro_wg_add(wg, 1), -ERANGE);
  assert_int_equal(goro_run(one_done, wg), 0);
  assert_int_equal(goro_wg_add(wg, 2), -ERANGE);
  assert_int_equal(goro_wg_add(wg, 1), 0);
  assert_int_equal(goro_wg_add(wg, -INT64_MAX), 0);
  assert_int_equal(goro_wg_wait(wg), 0);
  assert_int_equal(goro_wg_done(wg), -ERANGE);
  GASSERT_OK();
  assert_int_equal(goro_wg_free(wg), 0);
}

/* A fan-out large enough for the stripes, with waiters arriving while the
 * dones run (each arrival drains the stripes) and waiters that give up
 * (each departure lets the stripes take credit again). A wait that returns
 * 0 saw the count at zero after it began, so every worker added before it
 * began must have counted itself finished by then. */
struct fan_ctx;
struct fan_wait {
  struct fan_ctx *c;
  long need; /* workers added before this waiter was spawned */
};
struct fan_ctx {
  goro_wg_t *wg;
  atomic_long finished;
  atomic_int early; /* waits that returned 0 before `need` workers finished */
  long n;
  struct fan_wait waits[32];
};
static void fan_worker(void *arg) {
  struct fan_ctx *c = arg;
  atomic_fetch_add(&c->finished, 1);
  GCHECK_CMP(goro_wg_done(c->wg), ==, 0);
}
static void fan_waiter(void *arg) {
  struct fan_wait *w = arg;
  GCHECK_CMP(goro_wg_wait(w->c->wg), ==, 0);
  if (atomic_load(&w->c->finished) < w->need) atomic_fetch_add(&w->c->early, 1);
}
static void fan_quitter(void *arg) {
  struct fan_wait *w = arg;
  goro_ctx_t *ctx;
  GCHECK_CMP(goro_ctx_with_timeout(goro_ctx_background(), 20 * TU_US, &ctx), ==, 0);
  int rc = goro_wg_wait_ctx(w->c->wg, ctx);
  GCHECK(rc == 0 || rc == -ETIMEDOUT || rc == -ECANCELED);
  if (rc == 0 && atomic_load(&w->c->finished) < w->need) atomic_fetch_add(&w->c->early, 1);
  goro_ctx_release(ctx);
}
static void fan_main(void *arg) {
  struct fan_ctx *c = arg;
  int nw = 0;
  for (long i = 0; i < c->n; i++) {
    GCHECK_CMP(goro_wg_add(c->wg, 1), ==, 0);
    GCHECK_CMP(goro_go(fan_worker, c), ==, 0);
    if ((i % 997 == 500 || i % 1499 == 700) && nw < 32) {
      struct fan_wait *w = &c->waits[nw++];
      w->c = c;
      w->need = i + 1;
      GCHECK_CMP(goro_go(i % 997 == 500 ? fan_quitter : fan_waiter, w), ==, 0);
    }
  }
  GCHECK_CMP(goro_wg_wait(c->wg), ==, 0);
  if (atomic_load(&c->finished) != c->n) atomic_fetch_add(&c->early, 1);
}
static void test_striped_fanout(void **state) {
  (void)state;
  TU_WATCHDOG(120);
  tu_reset_fail();
  const int rounds = TU_SCALE(30, 10, 4);
  for (int procs = 2; procs <= 4; procs += 2) {
    goro_maxprocs(procs);
    for (int r = 0; r < rounds; r++) {
      struct fan_ctx c;
      memset(&c, 0, sizeof c);
      c.n = 5000 + r * 100;
      assert_int_equal(goro_wg_new(&c.wg), 0);
      assert_int_equal(goro_run(fan_main, &c), 0);
      tu_settle(0); /* the waiters that ran late are gone */
      GASSERT_OK();
      ASSERT_EQ(atomic_load(&c.early), 0);
      ASSERT_EQ(atomic_load(&c.finished), c.n);
      assert_int_equal(goro_wg_done(c.wg), -ERANGE);
      assert_int_equal(goro_wg_free(c.wg), 0);
    }
  }
  goro_maxprocs(2);
}

int main(void) {
  tu_apply_filter();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_null_handles),
      cmocka_unit_test(test_wait_at_zero),
      cmocka_unit_test(test_many_done_release_waiters),
      cmocka_unit_test(test_goroutines_wait_on_threads),
      cmocka_unit_test(test_threads_wait_on_goroutines),
      cmocka_unit_test(test_range_errors),
      cmocka_unit_test(test_free_busy),
      cmocka_unit_test(test_reuse),
      cmocka_unit_test(test_zero_race),
      cmocka_unit_test(test_striped_count_exact),
      cmocka_unit_test(test_striped_overflow_exact),
      cmocka_unit_test(test_striped_fanout),
  };
  return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
