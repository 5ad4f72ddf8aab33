/*
 * test_sync.c: the Sync section of goro.h: goro_mutex_t (mutual exclusion,
 * errors, deadlines, starvation mode), goro_rwmutex_t (parallel readers,
 * writer exclusion and preference), goro_cond_t, goro_once_t and the
 * weighted semaphore goro_sem_t (x/sync semantics: FIFO, head-of-line).
 * Every object is used from goroutines and plain threads at once, at
 * maxprocs 1 and 2.
 *
 * Deadlines are built from goro_now(), as the header says.
 * "Still blocked after N ms" checks can only fail the right way on a slow
 * machine (a blocked call that should have returned shows as blocked), and
 * every wait for something that must happen has a bound of seconds.
 */
#include "testutil.h"

/* Goroutines started by the tests call goro_wg_done(g_wg) last; the tests
 * wait on it before their memory goes away. One WaitGroup for the whole run,
 * freed once every goroutine has exited. */
static goro_wg_t *g_wg;

static int group_setup(void **state) {
  (void)state;
  if (tu_init_procs(2) != 0) return -1;
  return goro_wg_new(&g_wg) == 0 ? 0 : -1;
}
static int group_teardown(void **state) {
  (void)state;
  tu_wait_goroutines(0, 10000);
  goro_wg_free(g_wg);
  return goro_shutdown() >= 0 ? 0 : -1;
}

static void set_procs(int n) {
  assert_true(goro_maxprocs(n) > 0);
  assert_int_equal(goro_maxprocs(0), n);
}

static int64_t now_ns(void) { return goro_now(); }

/* ------------------------------------------------------------------------- */
/* Workers: one function run by ngor goroutines and nthr plain threads        */
/* ------------------------------------------------------------------------- */

typedef struct worker {
  void (*fn)(struct worker *);
  void *ctx;
  int idx;
  int on_thread;
  pthread_t th;
} worker_t;

static void worker_gor(void *a) {
  worker_t *w = a;
  w->fn(w);
  goro_wg_done(g_wg);
}
static void *worker_thr(void *a) {
  worker_t *w = a;
  w->fn(w);
  return NULL;
}

/* run_workers() runs fn in ngor goroutines and nthr threads and waits for all. */
static void run_workers(void (*fn)(worker_t *), void *ctx, int ngor, int nthr) {
  worker_t *ws = calloc((size_t)(ngor + nthr), sizeof *ws);
  assert_non_null(ws);
  assert_int_equal(goro_wg_add(g_wg, ngor), 0);
  for (int i = 0; i < ngor + nthr; i++) {
    ws[i].fn = fn;
    ws[i].ctx = ctx;
    ws[i].idx = i;
    ws[i].on_thread = i >= ngor;
    if (i < ngor)
      assert_int_equal(goro_go(worker_gor, &ws[i]), 0);
    else
      assert_int_equal(pthread_create(&ws[i].th, NULL, worker_thr, &ws[i]), 0);
  }
  assert_int_equal(goro_wg_wait(g_wg), 0);
  for (int i = ngor; i < ngor + nthr; i++) pthread_join(ws[i].th, NULL);
  free(ws);
}

/* ------------------------------------------------------------------------- */
/* Async: one blocking call on a goroutine or a thread, watched from the test */
/* ------------------------------------------------------------------------- */

typedef struct async {
  int (*fn)(void *);
  void *arg;
  int on_goroutine;
  pthread_t th;
  atomic_int started;
  atomic_int done;
  int rc;
  int64_t t_start, t_done;
} async_t;

static void async_gor(void *a) {
  async_t *x = a;
  int gor = x->on_goroutine; /* x may be reused once done is set */
  x->t_start = now_ns();
  atomic_store(&x->started, 1);
  x->rc = x->fn(x->arg);
  x->t_done = now_ns();
  atomic_store(&x->done, 1);
  if (gor) goro_wg_done(g_wg);
}
static void *async_thr(void *a) {
  async_gor(a);
  return NULL;
}
/* async_start() runs fn(arg) on a goroutine (gor != 0) or a new thread and
 * returns once it has started. */
static void async_start(async_t *x, int gor, int (*fn)(void *), void *arg) {
  memset(x, 0, sizeof *x);
  x->fn = fn;
  x->arg = arg;
  x->rc = 12345;
  x->on_goroutine = gor;
  if (gor) {
    assert_int_equal(goro_wg_add(g_wg, 1), 0);
    assert_int_equal(goro_go(async_gor, x), 0);
  } else {
    assert_int_equal(pthread_create(&x->th, NULL, async_thr, x), 0);
  }
  int64_t end = now_ns() + 10000 * TU_MS;
  while (!atomic_load(&x->started) && now_ns() < end) tu_sleep_ms(1);
  assert_true(atomic_load(&x->started));
}
static int async_done(async_t *x) { return atomic_load(&x->done); }
/* async_join() waits up to ms for the call to return; fails the test if not. */
static int async_join(async_t *x, int ms) {
  int64_t end = now_ns() + (int64_t)ms * TU_MS;
  while (!atomic_load(&x->done) && now_ns() < end) tu_sleep_ms(1);
  if (!atomic_load(&x->done)) fail_msg("blocking call did not return within %d ms", ms);
  if (!x->on_goroutine) pthread_join(x->th, NULL);
  return x->rc;
}
/* still_blocked() sleeps ms and tells whether the call is still blocked. */
static int still_blocked(async_t *x, int ms) {
  tu_sleep_ms(ms);
  return !async_done(x);
}

/* ------------------------------------------------------------------------- */
/* NULL handles and argument errors                                           */
/* ------------------------------------------------------------------------- */

static void nop(void *arg) { (void)arg; }

static void test_null_handles(void **state) {
  (void)state;
  TU_WATCHDOG(10);
  assert_int_equal(goro_mutex_new(NULL), -EINVAL);
  assert_int_equal(goro_mutex_free(NULL), 0);
  assert_int_equal(goro_mutex_lock(NULL), -EINVAL);
  assert_int_equal(goro_mutex_lock_until(NULL, GORO_NO_DEADLINE), -EINVAL);
  assert_int_equal(goro_mutex_trylock(NULL), -EINVAL);
  assert_int_equal(goro_mutex_unlock(NULL), -EINVAL);

  assert_int_equal(goro_rwmutex_new(NULL), -EINVAL);
  assert_int_equal(goro_rwmutex_free(NULL), 0);
  assert_int_equal(goro_rwmutex_rlock(NULL), -EINVAL);
  assert_int_equal(goro_rwmutex_rlock_until(NULL, 0), -EINVAL);
  assert_int_equal(goro_rwmutex_tryrlock(NULL), -EINVAL);
  assert_int_equal(goro_rwmutex_runlock(NULL), -EINVAL);
  assert_int_equal(goro_rwmutex_lock(NULL), -EINVAL);
  assert_int_equal(goro_rwmutex_lock_until(NULL, 0), -EINVAL);
  assert_int_equal(goro_rwmutex_trylock(NULL), -EINVAL);
  assert_int_equal(goro_rwmutex_unlock(NULL), -EINVAL);

  goro_mutex_t *m;
  assert_int_equal(goro_mutex_new(&m), 0);
  goro_cond_t *c = NULL;
  assert_int_equal(goro_cond_new(NULL, m), -EINVAL);
  assert_int_equal(goro_cond_new(&c, NULL), -EINVAL);
  assert_int_equal(goro_cond_free(NULL), 0);
  assert_int_equal(goro_cond_wait(NULL), -EINVAL);
  assert_int_equal(goro_cond_wait_until(NULL, 0), -EINVAL);
  assert_int_equal(goro_cond_signal(NULL), -EINVAL);
  assert_int_equal(goro_cond_broadcast(NULL), -EINVAL);
  assert_int_equal(goro_mutex_free(m), 0);

  goro_once_t once = GORO_ONCE_INIT;
  assert_int_equal(goro_once_do(NULL, nop, NULL), -EINVAL);
  assert_int_equal(goro_once_do(&once, NULL, NULL), -EINVAL);

  goro_sem_t *s = NULL;
  assert_int_equal(goro_sem_new(NULL, 1), -EINVAL);
  assert_int_equal(goro_sem_new(&s, 0), -EINVAL);
  assert_int_equal(goro_sem_new(&s, -5), -EINVAL);
  assert_int_equal(goro_sem_free(NULL), 0);
  assert_int_equal(goro_sem_acquire(NULL, 1, GORO_NO_DEADLINE), -EINVAL);
  assert_int_equal(goro_sem_try_acquire(NULL, 1), -EINVAL);
  assert_int_equal(goro_sem_release(NULL, 1), -EINVAL);
}

/* ------------------------------------------------------------------------- */
/* Mutex                                                                      */
/* ------------------------------------------------------------------------- */

static int op_mutex_lock(void *m) { return goro_mutex_lock(m); }
static int op_mutex_lock_unlock(void *m) {
  int rc = goro_mutex_lock(m);
  if (rc == 0) rc = goro_mutex_unlock(m);
  return rc;
}
static int op_mutex_unlock(void *m) { return goro_mutex_unlock(m); }

typedef struct timed_lock {
  goro_mutex_t *m;
  int64_t timeout;
} timed_lock_t;
static int op_mutex_lock_timeout(void *a) {
  timed_lock_t *t = a;
  return goro_mutex_lock_until(t->m, now_ns() + t->timeout);
}

static void test_mutex_errors(void **state) {
  (void)state;
  TU_WATCHDOG(20);
  goro_mutex_t *m, *m2;
  assert_int_equal(goro_mutex_new(&m), 0);
  assert_int_equal(goro_mutex_new(&m2), 0);
  assert_ptr_not_equal(m, m2);
  assert_int_equal(goro_mutex_unlock(m), -EPERM);
  assert_int_equal(goro_mutex_trylock(m), 0);
  assert_int_equal(goro_mutex_trylock(m), -EBUSY);
  assert_int_equal(goro_mutex_free(m), -EBUSY);
  /* A past deadline on a locked mutex fails at once; on a free one it locks. */
  assert_int_equal(goro_mutex_lock_until(m, 0), -ETIMEDOUT);
  assert_int_equal(goro_mutex_lock_until(m, now_ns() - TU_MS), -ETIMEDOUT);
  assert_int_equal(goro_mutex_lock_until(m2, 0), 0);
  assert_int_equal(goro_mutex_unlock(m2), 0);
  assert_int_equal(goro_mutex_unlock(m), 0);
  assert_int_equal(goro_mutex_unlock(m), -EPERM);
  assert_int_equal(goro_mutex_lock(m), 0);
  assert_int_equal(goro_mutex_unlock(m), 0);

  /* Free while waited on: -EBUSY, nothing freed; the waiter still gets it. */
  for (int gor = 0; gor < 2; gor++) {
    assert_int_equal(goro_mutex_lock(m), 0);
    async_t a;
    async_start(&a, gor, op_mutex_lock_unlock, m);
    assert_true(still_blocked(&a, 20));
    assert_int_equal(goro_mutex_free(m), -EBUSY);
    assert_int_equal(goro_mutex_unlock(m), 0);
    assert_int_equal(async_join(&a, 10000), 0);
  }

  /* Not owner-checked: a lock taken on a goroutine is released by this thread,
   * and one taken here is released by a goroutine. */
  async_t a;
  async_start(&a, 1, op_mutex_lock, m);
  assert_int_equal(async_join(&a, 10000), 0);
  assert_int_equal(goro_mutex_trylock(m), -EBUSY);
  assert_int_equal(goro_mutex_unlock(m), 0);
  assert_int_equal(goro_mutex_lock(m), 0);
  async_start(&a, 1, op_mutex_unlock, m);
  assert_int_equal(async_join(&a, 10000), 0);
  assert_int_equal(goro_mutex_trylock(m), 0);
  assert_int_equal(goro_mutex_unlock(m), 0);

  assert_int_equal(goro_mutex_free(m), 0);
  assert_int_equal(goro_mutex_free(m2), 0);
}

static void test_mutex_lock_until(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  goro_mutex_t *m;
  assert_int_equal(goro_mutex_new(&m), 0);
  assert_int_equal(goro_mutex_lock(m), 0);
  /* Time out on a goroutine and on a thread, at maxprocs 1 and 2. */
  for (int procs = 1; procs <= 2; procs++) {
    set_procs(procs);
    for (int gor = 0; gor < 2; gor++) {
      timed_lock_t t = {m, 30 * TU_MS};
      async_t a;
      async_start(&a, gor, op_mutex_lock_timeout, &t);
      assert_int_equal(async_join(&a, 10000), -ETIMEDOUT);
      ASSERT_CMP(a.t_done - a.t_start, >=, 30 * TU_MS);
      ASSERT_CMP(a.t_done - a.t_start, <, 5000 * TU_MS);
    }
  }
  /* Timed-out waiters leave no trace: the mutex is still ours, and a waiter
   * queued behind timed-out ones still gets it on unlock. */
  timed_lock_t t = {m, 20 * TU_MS};
  async_t shorts[4], longw;
  for (int i = 0; i < 4; i++) async_start(&shorts[i], i & 1, op_mutex_lock_timeout, &t);
  async_start(&longw, 1, op_mutex_lock_unlock, m);
  for (int i = 0; i < 4; i++) assert_int_equal(async_join(&shorts[i], 10000), -ETIMEDOUT);
  assert_true(still_blocked(&longw, 10));
  assert_int_equal(goro_mutex_unlock(m), 0);
  assert_int_equal(async_join(&longw, 10000), 0);
  /* A waiter whose deadline is far enough gets the lock when it is freed. */
  assert_int_equal(goro_mutex_lock(m), 0);
  t.timeout = 10000 * TU_MS;
  async_t a;
  async_start(&a, 0, op_mutex_lock_timeout, &t);
  assert_true(still_blocked(&a, 10));
  assert_int_equal(goro_mutex_unlock(m), 0);
  assert_int_equal(async_join(&a, 10000), 0);
  assert_int_equal(goro_mutex_unlock(m), 0);
  assert_int_equal(goro_mutex_free(m), 0);
  set_procs(2);
}

/* Mutual exclusion: goroutines and threads increment a plain counter. Some
 * pause inside the lock (yield) so that others queue; some use deadlines,
 * some trylock (falling back to lock). */
typedef struct count_ctx {
  goro_mutex_t *m;
  long iters;
  long counter; /* protected by m, deliberately not atomic */
  atomic_int inside;
  atomic_long timeouts;
  atomic_long busy;
} count_ctx_t;

static void count_worker(worker_t *w) {
  count_ctx_t *c = w->ctx;
  for (long i = 0; i < c->iters; i++) {
    int mode = (int)((i + w->idx) % 4);
    if (mode == 0) {
      GCHECK_CMP(goro_mutex_lock(c->m), ==, 0);
    } else if (mode == 1) {
      int rc;
      while ((rc = goro_mutex_lock_until(c->m, now_ns() + 50 * TU_US)) == -ETIMEDOUT)
        atomic_fetch_add(&c->timeouts, 1);
      GCHECK_CMP(rc, ==, 0);
    } else if (mode == 2) {
      /* No trylock+yield spin: on 2 CPUs spinners starve a holder that is a
       * plain thread of CPU. */
      int rc = goro_mutex_trylock(c->m);
      if (rc == -EBUSY) {
        atomic_fetch_add(&c->busy, 1);
        rc = goro_mutex_lock(c->m);
      }
      GCHECK_CMP(rc, ==, 0);
    } else {
      GCHECK_CMP(goro_mutex_lock_until(c->m, GORO_NO_DEADLINE), ==, 0);
    }
    GCHECK_CMP(atomic_exchange(&c->inside, 1), ==, 0);
    long v = c->counter;
    if (i % 16 == 0) goro_yield();
    c->counter = v + 1;
    atomic_store(&c->inside, 0);
    GCHECK_CMP(goro_mutex_unlock(c->m), ==, 0);
  }
}

static void mutex_contention(int procs) {
  set_procs(procs);
  count_ctx_t c;
  memset(&c, 0, sizeof c);
  assert_int_equal(goro_mutex_new(&c.m), 0);
  c.iters = TU_SCALE(20000, 5000, 1000);
  int ngor = 16, nthr = 4;
  run_workers(count_worker, &c, ngor, nthr);
  GASSERT_OK();
  ASSERT_EQ(c.counter, c.iters * (ngor + nthr));
  assert_int_equal(goro_mutex_free(c.m), 0);
  set_procs(2);
}
static void test_mutex_contention_p1(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  mutex_contention(1);
}
static void test_mutex_contention_p2(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  mutex_contention(2);
}

/* Starvation mode. A hog relocks the mutex in a tight loop, holding it for a
 * while each time (yielding, or spinning 20 us); a waiter arrives. In normal
 * mode the waiter, woken by each unlock, loses the race to the hog, which is
 * already running. After 1 ms of that it switches the mutex to starvation
 * mode, the next unlock hands it over and the hog has to queue: the waiter
 * gets the lock after about 1 ms.
 * The maxprocs-1 goroutine case is the decisive one: with starvation mode
 * disabled the waiter never gets in (it times out after 3 s while the hog
 * relocks ~10^7 times). With two Ps or a thread waiter, normal mode lets the
 * waiter win now and then (within ~10-200 ms), so those runs check only that
 * the hand-over works and bound the wait. */
typedef struct starve_ctx {
  goro_mutex_t *m;
  atomic_int stop;
  atomic_long hog_iters;
  atomic_int hog_done;
  int yield_inside; /* the hog yields while holding (maxprocs 1) */
  int64_t waited_ns;
  long hog_iters_while_waiting;
} starve_ctx_t;

static void hog_fn(void *arg) {
  starve_ctx_t *s = arg;
  while (!atomic_load(&s->stop)) {
    GCHECK_CMP(goro_mutex_lock(s->m), ==, 0);
    atomic_fetch_add(&s->hog_iters, 1);
    if (s->yield_inside)
      goro_yield();
    else
      tu_spin_ns(20 * TU_US);
    GCHECK_CMP(goro_mutex_unlock(s->m), ==, 0);
  }
  atomic_store(&s->hog_done, 1);
  goro_wg_done(g_wg);
}
static int starve_waiter(void *arg) {
  starve_ctx_t *s = arg;
  /* Let the hog get going and hold the lock. */
  int64_t until = now_ns() + 5 * TU_MS;
  while (now_ns() < until || atomic_load(&s->hog_iters) < 10) goro_yield();
  long h0 = atomic_load(&s->hog_iters);
  int64_t t0 = now_ns();
  int rc = goro_mutex_lock_until(s->m, t0 + 3000 * TU_MS);
  s->waited_ns = now_ns() - t0;
  s->hog_iters_while_waiting = atomic_load(&s->hog_iters) - h0;
  if (rc == 0) rc = goro_mutex_unlock(s->m);
  atomic_store(&s->stop, 1);
  return rc;
}

static void starvation(int procs, int waiter_on_goroutine, int rounds, int yield_inside) {
  set_procs(procs);
  for (int r = 0; r < rounds; r++) {
    starve_ctx_t s;
    memset(&s, 0, sizeof s);
    s.yield_inside = yield_inside;
    assert_int_equal(goro_mutex_new(&s.m), 0);
    assert_int_equal(goro_wg_add(g_wg, 1), 0);
    assert_int_equal(goro_go(hog_fn, &s), 0);
    async_t a;
    async_start(&a, waiter_on_goroutine, starve_waiter, &s);
    int rc = async_join(&a, 20000);
    atomic_store(&s.stop, 1);
    int64_t end = now_ns() + 10000 * TU_MS;
    while (!atomic_load(&s.hog_done) && now_ns() < end) tu_sleep_ms(1);
    assert_true(atomic_load(&s.hog_done));
    assert_int_equal(goro_mutex_free(s.m), 0);
    GASSERT_OK();
    if (rc != 0)
      fail_msg(
          "procs=%d waiter on %s: no lock after %.1f ms (%d), hog relocked %ld times "
          "meanwhile: starvation mode did not hand the mutex over",
          procs, waiter_on_goroutine ? "goroutine" : "thread", s.waited_ns / 1e6, rc,
          s.hog_iters_while_waiting);
    /* Expected: ~1 ms plus a few hog rounds. Generous bound for slow CI. */
    if (s.waited_ns > 1000 * TU_MS)
      fail_msg("procs=%d: waiter got the lock only after %.1f ms (hog: %ld rounds)", procs,
               s.waited_ns / 1e6, s.hog_iters_while_waiting);
    print_message("procs=%d waiter on %s: lock after %.2f ms, %ld hog rounds meanwhile\n", procs,
                  waiter_on_goroutine ? "goroutine" : "thread", s.waited_ns / 1e6,
                  s.hog_iters_while_waiting);
  }
  tu_wait_goroutines(0, 10000);
  set_procs(2);
}
static void test_mutex_starvation_p1(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  starvation(1, 1, 3, 1);
  starvation(1, 0, 3, 1);
}
static void test_mutex_starvation_p2(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  starvation(2, 1, 3, 1);
  starvation(2, 0, 3, 1);
  starvation(2, 1, 3, 0);
  starvation(2, 0, 3, 0);
}

/* ------------------------------------------------------------------------- */
/* RWMutex                                                                    */
/* ------------------------------------------------------------------------- */

static int op_rlock(void *rw) { return goro_rwmutex_rlock(rw); }
static int op_runlock(void *rw) { return goro_rwmutex_runlock(rw); }
static int op_wlock(void *rw) { return goro_rwmutex_lock(rw); }
typedef struct timed_rw {
  goro_rwmutex_t *rw;
  int64_t timeout;
} timed_rw_t;
static int op_rlock_timeout(void *a) {
  timed_rw_t *t = a;
  return goro_rwmutex_rlock_until(t->rw, now_ns() + t->timeout);
}
static int op_wlock_timeout(void *a) {
  timed_rw_t *t = a;
  return goro_rwmutex_lock_until(t->rw, now_ns() + t->timeout);
}

static void test_rwmutex_errors(void **state) {
  (void)state;
  TU_WATCHDOG(20);
  goro_rwmutex_t *rw;
  assert_int_equal(goro_rwmutex_new(&rw), 0);
  assert_int_equal(goro_rwmutex_runlock(rw), -EPERM);
  assert_int_equal(goro_rwmutex_unlock(rw), -EPERM);
  assert_int_equal(goro_rwmutex_rlock(rw), 0);
  assert_int_equal(goro_rwmutex_tryrlock(rw), 0);
  assert_int_equal(goro_rwmutex_trylock(rw), -EBUSY);
  assert_int_equal(goro_rwmutex_lock_until(rw, 0), -ETIMEDOUT);
  assert_int_equal(goro_rwmutex_unlock(rw), -EPERM);
  assert_int_equal(goro_rwmutex_free(rw), -EBUSY);
  assert_int_equal(goro_rwmutex_runlock(rw), 0);
  assert_int_equal(goro_rwmutex_runlock(rw), 0);
  assert_int_equal(goro_rwmutex_runlock(rw), -EPERM);
  assert_int_equal(goro_rwmutex_trylock(rw), 0);
  assert_int_equal(goro_rwmutex_trylock(rw), -EBUSY);
  assert_int_equal(goro_rwmutex_tryrlock(rw), -EBUSY);
  assert_int_equal(goro_rwmutex_rlock_until(rw, now_ns() + 10 * TU_MS), -ETIMEDOUT);
  assert_int_equal(goro_rwmutex_runlock(rw), -EPERM);
  assert_int_equal(goro_rwmutex_free(rw), -EBUSY);
  assert_int_equal(goro_rwmutex_unlock(rw), 0);
  assert_int_equal(goro_rwmutex_unlock(rw), -EPERM);
  assert_int_equal(goro_rwmutex_lock(rw), 0);
  assert_int_equal(goro_rwmutex_unlock(rw), 0);
  assert_int_equal(goro_rwmutex_free(rw), 0);
}

/* Readers hold the lock together: each waits, holding it, until all are in. */
typedef struct par_ctx {
  goro_rwmutex_t *rw;
  int n;
  atomic_int inside;
} par_ctx_t;
static void par_reader(worker_t *w) {
  par_ctx_t *c = w->ctx;
  GCHECK_CMP(goro_rwmutex_rlock(c->rw), ==, 0);
  atomic_fetch_add(&c->inside, 1);
  int64_t end = now_ns() + 5000 * TU_MS;
  while (atomic_load(&c->inside) < c->n && now_ns() < end) {
    if (w->on_thread)
      tu_sleep_ms(1);
    else
      goro_sleep(TU_MS);
  }
  GCHECK_CMP(atomic_load(&c->inside), ==, c->n);
  GCHECK_CMP(goro_rwmutex_runlock(c->rw), ==, 0);
}
static void test_rwmutex_parallel_readers(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  for (int procs = 1; procs <= 2; procs++) {
    set_procs(procs);
    par_ctx_t c;
    memset(&c, 0, sizeof c);
    assert_int_equal(goro_rwmutex_new(&c.rw), 0);
    c.n = 12;
    run_workers(par_reader, &c, 8, 4);
    GASSERT_OK();
    assert_int_equal(goro_rwmutex_free(c.rw), 0);
  }
  set_procs(2);
}

/* Writers exclude readers and each other: a writer keeps two plain counters
 * equal only outside its critical section, and checks it is alone. */
typedef struct excl_ctx {
  goro_rwmutex_t *rw;
  long iters;
  long a, b; /* written under the write lock only */
  atomic_int readers, writers;
  atomic_long reads;
} excl_ctx_t;
static void excl_worker(worker_t *w) {
  excl_ctx_t *c = w->ctx;
  int writer = w->idx % 3 == 0;
  for (long i = 0; i < c->iters; i++) {
    if (writer) {
      int rc = (i & 1) ? goro_rwmutex_lock(c->rw)
                       : goro_rwmutex_lock_until(c->rw, now_ns() + 10000 * TU_MS);
      GCHECK_CMP(rc, ==, 0);
      GCHECK_CMP(atomic_fetch_add(&c->writers, 1), ==, 0);
      GCHECK_CMP(atomic_load(&c->readers), ==, 0);
      c->a++;
      if (i % 8 == 0) goro_yield();
      c->b++;
      atomic_fetch_sub(&c->writers, 1);
      GCHECK_CMP(goro_rwmutex_unlock(c->rw), ==, 0);
    } else {
      int rc = (i & 1) ? goro_rwmutex_rlock(c->rw)
                       : goro_rwmutex_rlock_until(c->rw, now_ns() + 10000 * TU_MS);
      GCHECK_CMP(rc, ==, 0);
      atomic_fetch_add(&c->readers, 1);
      GCHECK_CMP(atomic_load(&c->writers), ==, 0);
      long a = c->a;
      if (i % 8 == 0) goro_yield();
      long b = c->b;
      GCHECK_CMP(a, ==, b);
      atomic_fetch_add(&c->reads, 1);
      atomic_fetch_sub(&c->readers, 1);
      GCHECK_CMP(goro_rwmutex_runlock(c->rw), ==, 0);
    }
  }
}
static void test_rwmutex_writer_exclusion(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  for (int procs = 1; procs <= 2; procs++) {
    set_procs(procs);
    excl_ctx_t c;
    memset(&c, 0, sizeof c);
    assert_int_equal(goro_rwmutex_new(&c.rw), 0);
    c.iters = TU_SCALE(5000, 1500, 300);
    int ngor = 9, nthr = 3; /* writers: idx 0,3,6 (goroutines) and 9 (thread) */
    run_workers(excl_worker, &c, ngor, nthr);
    GASSERT_OK();
    ASSERT_EQ(c.a, c.iters * 4);
    ASSERT_EQ(c.b, c.iters * 4);
    ASSERT_EQ(atomic_load(&c.reads), c.iters * 8);
    assert_int_equal(goro_rwmutex_free(c.rw), 0);
  }
  set_procs(2);
}

/* Writer preference, as Go: a waiting writer stops new readers; the readers
 * in finish first. On the writer's unlock, readers that queued meanwhile go
 * before the next writer. A writer that gives up lets held-back readers in. */
typedef struct order_ctx {
  goro_rwmutex_t *rw;
  atomic_int seq;
  int got_r, got_w; /* sequence numbers at which each got the lock */
} order_ctx_t;
static int op_order_reader(void *a) {
  order_ctx_t *o = a;
  int rc = goro_rwmutex_rlock(o->rw);
  o->got_r = atomic_fetch_add(&o->seq, 1);
  return rc;
}
static int op_order_writer(void *a) {
  order_ctx_t *o = a;
  int rc = goro_rwmutex_lock(o->rw);
  o->got_w = atomic_fetch_add(&o->seq, 1);
  return rc;
}

static void test_rwmutex_writer_preference(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  for (int gor = 0; gor < 2; gor++) {
    goro_rwmutex_t *rw;
    assert_int_equal(goro_rwmutex_new(&rw), 0);

    /* 1. A reader holds; a writer queues; new readers are turned away. */
    assert_int_equal(goro_rwmutex_rlock(rw), 0);
    async_t w;
    async_start(&w, gor, op_wlock, rw);
    assert_true(still_blocked(&w, 20));
    assert_int_equal(goro_rwmutex_tryrlock(rw), -EBUSY);
    assert_int_equal(goro_rwmutex_rlock_until(rw, now_ns() + 20 * TU_MS), -ETIMEDOUT);
    async_t r;
    async_start(&r, !gor, op_rlock, rw);
    assert_true(still_blocked(&r, 20));
    assert_true(!async_done(&w));
    /* The reader in leaves: the writer gets it; the queued reader still waits. */
    assert_int_equal(goro_rwmutex_runlock(rw), 0);
    assert_int_equal(async_join(&w, 10000), 0);
    assert_true(still_blocked(&r, 20));
    /* 2. Writer holds, reader r queued; a second writer queues after it. On
     * unlock r goes first (as Go), then the second writer once r leaves. */
    order_ctx_t o;
    memset(&o, 0, sizeof o);
    o.rw = rw;
    atomic_store(&o.seq, 1);
    async_t w2;
    async_start(&w2, gor, op_order_writer, &o);
    assert_true(still_blocked(&w2, 20));
    assert_int_equal(goro_rwmutex_unlock(rw), 0);
    assert_int_equal(async_join(&r, 10000), 0); /* r holds a read lock now */
    assert_true(still_blocked(&w2, 30));
    assert_int_equal(goro_rwmutex_tryrlock(rw), -EBUSY); /* w2 waits: no new readers */
    assert_int_equal(goro_rwmutex_runlock(rw), 0);       /* r's lock: not owner-checked */
    assert_int_equal(async_join(&w2, 10000), 0);
    assert_int_equal(o.got_w, 1);

    /* 3. w2 (done) holds the write lock. Readers queue, then a writer. */
    async_t r2, r3, w3;
    order_ctx_t o2;
    memset(&o2, 0, sizeof o2);
    o2.rw = rw;
    atomic_store(&o2.seq, 1);
    async_start(&w3, gor, op_order_writer, &o2);
    assert_true(still_blocked(&w3, 20));
    async_start(&r2, gor, op_order_reader, &o2);
    async_start(&r3, !gor, op_rlock, rw);
    assert_true(still_blocked(&r2, 20));
    assert_int_equal(goro_rwmutex_unlock(rw), 0);
    /* Both readers get in before w3, though w3 queued first. */
    assert_int_equal(async_join(&r2, 10000), 0);
    assert_int_equal(async_join(&r3, 10000), 0);
    assert_int_equal(o2.got_r, 1);
    assert_true(still_blocked(&w3, 20));
    assert_int_equal(goro_rwmutex_runlock(rw), 0);
    assert_true(still_blocked(&w3, 10));
    assert_int_equal(goro_rwmutex_runlock(rw), 0);
    assert_int_equal(async_join(&w3, 10000), 0);
    assert_int_equal(goro_rwmutex_unlock(rw), 0);

    /* 4. A writer that times out lets the readers it held back in. */
    assert_int_equal(goro_rwmutex_rlock(rw), 0);
    timed_rw_t t = {rw, 200 * TU_MS};
    async_t wt, r4;
    async_start(&wt, gor, op_wlock_timeout, &t);
    tu_sleep_ms(10);
    async_start(&r4, !gor, op_rlock, rw);
    assert_true(still_blocked(&r4, 10));
    assert_int_equal(async_join(&wt, 10000), -ETIMEDOUT);
    assert_int_equal(async_join(&r4, 10000), 0);
    assert_int_equal(goro_rwmutex_runlock(rw), 0);
    assert_int_equal(goro_rwmutex_runlock(rw), 0);
    /* And timed-out readers leave no trace. */
    assert_int_equal(goro_rwmutex_lock(rw), 0);
    t.timeout = 20 * TU_MS;
    async_start(&r4, gor, op_rlock_timeout, &t);
    assert_int_equal(async_join(&r4, 10000), -ETIMEDOUT);
    assert_int_equal(goro_rwmutex_unlock(rw), 0);
    assert_int_equal(goro_rwmutex_trylock(rw), 0);
    assert_int_equal(goro_rwmutex_unlock(rw), 0);
    assert_int_equal(goro_rwmutex_free(rw), 0);
  }
  (void)op_runlock;
}

/* ------------------------------------------------------------------------- */
/* Cond                                                                       */
/* ------------------------------------------------------------------------- */

typedef struct cond_ctx {
  goro_mutex_t *m;
  goro_cond_t *c;
  int waiting; /* (m) */
  int woken;   /* (m) */
  int64_t deadline;
} cond_ctx_t;
static int op_cond_waiter(void *a) {
  cond_ctx_t *x = a;
  int rc = goro_mutex_lock(x->m);
  if (rc) return rc;
  x->waiting++;
  rc = x->deadline ? goro_cond_wait_until(x->c, x->deadline) : goro_cond_wait(x->c);
  if (rc == 0) x->woken++;
  /* The mutex is held again, whatever rc. */
  int urc = goro_mutex_unlock(x->m);
  return rc ? rc : urc;
}
static int cond_count(cond_ctx_t *x, int *field) {
  assert_int_equal(goro_mutex_lock(x->m), 0);
  int v = *field;
  assert_int_equal(goro_mutex_unlock(x->m), 0);
  return v;
}

static void test_cond_signal_broadcast(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  for (int procs = 1; procs <= 2; procs++) {
    set_procs(procs);
    cond_ctx_t x;
    memset(&x, 0, sizeof x);
    assert_int_equal(goro_mutex_new(&x.m), 0);
    assert_int_equal(goro_cond_new(&x.c, x.m), 0);
    /* Signal and broadcast with no one waiting do nothing (are not remembered). */
    assert_int_equal(goro_cond_signal(x.c), 0);
    assert_int_equal(goro_cond_broadcast(x.c), 0);
    enum { N = 6 };
    async_t a[N];
    for (int i = 0; i < N; i++) async_start(&a[i], i % 2, op_cond_waiter, &x);
    /* waiting is counted under m before the wait, which queues before it
     * unlocks m: once we hold m and see N, all N are queued. */
    int64_t end = now_ns() + 10000 * TU_MS;
    while (cond_count(&x, &x.waiting) < N && now_ns() < end) tu_sleep_ms(1);
    ASSERT_EQ(cond_count(&x, &x.waiting), N);
    assert_int_equal(goro_cond_free(x.c), -EBUSY);
    /* One signal wakes exactly one. */
    assert_int_equal(goro_cond_signal(x.c), 0);
    end = now_ns() + 10000 * TU_MS;
    while (cond_count(&x, &x.woken) < 1 && now_ns() < end) tu_sleep_ms(1);
    tu_sleep_ms(30);
    ASSERT_EQ(cond_count(&x, &x.woken), 1);
    /* A signal sent while holding the mutex, too. */
    assert_int_equal(goro_mutex_lock(x.m), 0);
    assert_int_equal(goro_cond_signal(x.c), 0);
    assert_int_equal(goro_mutex_unlock(x.m), 0);
    end = now_ns() + 10000 * TU_MS;
    while (cond_count(&x, &x.woken) < 2 && now_ns() < end) tu_sleep_ms(1);
    tu_sleep_ms(30);
    ASSERT_EQ(cond_count(&x, &x.woken), 2);
    /* Broadcast wakes the rest. */
    assert_int_equal(goro_cond_broadcast(x.c), 0);
    for (int i = 0; i < N; i++) assert_int_equal(async_join(&a[i], 10000), 0);
    ASSERT_EQ(x.woken, N);
    assert_int_equal(goro_cond_free(x.c), 0);
    assert_int_equal(goro_mutex_free(x.m), 0);
  }
  set_procs(2);
}

static void test_cond_wait_until(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  cond_ctx_t x;
  memset(&x, 0, sizeof x);
  assert_int_equal(goro_mutex_new(&x.m), 0);
  assert_int_equal(goro_cond_new(&x.c, x.m), 0);
  /* Not holding the mutex: -EPERM, nothing waited. */
  assert_int_equal(goro_cond_wait(x.c), -EPERM);
  assert_int_equal(goro_cond_wait_until(x.c, now_ns() + 10000 * TU_MS), -EPERM);
  /* Timeout: -ETIMEDOUT, mutex held again (unlock succeeds). */
  assert_int_equal(goro_mutex_lock(x.m), 0);
  int64_t t0 = now_ns();
  assert_int_equal(goro_cond_wait_until(x.c, t0 + 30 * TU_MS), -ETIMEDOUT);
  ASSERT_CMP(now_ns() - t0, >=, 30 * TU_MS);
  assert_int_equal(goro_mutex_trylock(x.m), -EBUSY);
  assert_int_equal(goro_cond_wait_until(x.c, 0), -ETIMEDOUT);
  assert_int_equal(goro_mutex_unlock(x.m), 0);
  for (int gor = 0; gor < 2; gor++) {
    /* On a goroutine/thread, while another holds the mutex at the deadline:
     * returns only once it has the mutex again. */
    x.deadline = now_ns() + 30 * TU_MS;
    x.waiting = x.woken = 0;
    async_t a;
    async_start(&a, gor, op_cond_waiter, &x);
    int64_t end = now_ns() + 10000 * TU_MS;
    while (cond_count(&x, &x.waiting) < 1 && now_ns() < end) tu_sleep_ms(1);
    assert_int_equal(goro_mutex_lock(x.m), 0);
    assert_true(still_blocked(&a, 80)); /* deadline passed, mutex ours */
    assert_int_equal(goro_mutex_unlock(x.m), 0);
    assert_int_equal(async_join(&a, 10000), -ETIMEDOUT);
    /* A signal is not lost to a waiter that timed out: with one timed-out
     * waiter and one live one, a signal wakes the live one. */
    x.waiting = x.woken = 0;
    x.deadline = now_ns() + 20 * TU_MS;
    async_t t, l;
    async_start(&t, gor, op_cond_waiter, &x);
    while (cond_count(&x, &x.waiting) < 1 && now_ns() < end) tu_sleep_ms(1);
    x.deadline = 0;
    assert_int_equal(goro_mutex_lock(x.m), 0); /* t cannot retake m: it stays timed out */
    async_start(&l, !gor, op_cond_waiter, &x);
    tu_sleep_ms(40);
    assert_int_equal(goro_mutex_unlock(x.m), 0);
    while (cond_count(&x, &x.waiting) < 2 && now_ns() < end) tu_sleep_ms(1);
    assert_int_equal(async_join(&t, 10000), -ETIMEDOUT);
    assert_int_equal(goro_cond_signal(x.c), 0);
    assert_int_equal(async_join(&l, 10000), 0);
    ASSERT_EQ(x.woken, 1);
  }
  assert_int_equal(goro_cond_free(x.c), 0);
  assert_int_equal(goro_mutex_free(x.m), 0);
}

/* A bounded queue between goroutine and thread producers and consumers,
 * with two conditions (Go's classic pattern). */
typedef struct pc_ctx {
  goro_mutex_t *m;
  goro_cond_t *notfull, *notempty;
  int buf[8];
  int head, len; /* (m) */
  long per_producer;
  int producers;
  long consumed; /* (m) */
  long long sum; /* (m) */
  long total;
} pc_ctx_t;
static void pc_worker(worker_t *w) {
  pc_ctx_t *c = w->ctx;
  int producer = w->idx % 2 == 0;
  if (producer) {
    for (long i = 1; i <= c->per_producer; i++) {
      GCHECK_CMP(goro_mutex_lock(c->m), ==, 0);
      while (c->len == 8) GCHECK_CMP(goro_cond_wait(c->notfull), ==, 0);
      c->buf[(c->head + c->len) % 8] = (int)i;
      c->len++;
      GCHECK_CMP(goro_cond_signal(c->notempty), ==, 0);
      GCHECK_CMP(goro_mutex_unlock(c->m), ==, 0);
    }
  } else {
    GCHECK_CMP(goro_mutex_lock(c->m), ==, 0);
    for (;;) {
      while (c->len == 0 && c->consumed < c->total) {
        int rc = goro_cond_wait_until(c->notempty, now_ns() + 2 * TU_MS);
        GCHECK(rc == 0 || rc == -ETIMEDOUT);
      }
      if (c->consumed == c->total) break;
      c->sum += c->buf[c->head];
      c->head = (c->head + 1) % 8;
      c->len--;
      c->consumed++;
      GCHECK_CMP(goro_cond_signal(c->notfull), ==, 0);
      if (c->consumed == c->total) GCHECK_CMP(goro_cond_broadcast(c->notempty), ==, 0);
    }
    GCHECK_CMP(goro_mutex_unlock(c->m), ==, 0);
  }
}
static void test_cond_producer_consumer(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  for (int procs = 1; procs <= 2; procs++) {
    set_procs(procs);
    pc_ctx_t c;
    memset(&c, 0, sizeof c);
    assert_int_equal(goro_mutex_new(&c.m), 0);
    assert_int_equal(goro_cond_new(&c.notfull, c.m), 0);
    assert_int_equal(goro_cond_new(&c.notempty, c.m), 0);
    c.per_producer = TU_SCALE(20000, 5000, 1000);
    int ngor = 6, nthr = 4; /* producers: even idx: 3 goroutines, 2 threads */
    c.producers = 5;
    c.total = c.per_producer * c.producers;
    run_workers(pc_worker, &c, ngor, nthr);
    GASSERT_OK();
    ASSERT_EQ(c.consumed, c.total);
    ASSERT_EQ(c.sum, (long long)c.producers * c.per_producer * (c.per_producer + 1) / 2);
    assert_int_equal(goro_cond_free(c.notfull), 0);
    assert_int_equal(goro_cond_free(c.notempty), 0);
    assert_int_equal(goro_mutex_free(c.m), 0);
  }
  set_procs(2);
}

/* ------------------------------------------------------------------------- */
/* Once                                                                       */
/* ------------------------------------------------------------------------- */

typedef struct once_ctx {
  goro_once_t once;
  atomic_int calls;
  int value; /* written by fn only, read by every caller after goro_once_do */
  atomic_int arrived;
  int ncallers;
} once_ctx_t;
static void once_fn(void *arg) {
  once_ctx_t *o = arg;
  atomic_fetch_add(&o->calls, 1);
  /* Stay in fn until every caller has arrived (or 2 s), so that they all
   * find it running and must wait for it. */
  int64_t end = now_ns() + 2000 * TU_MS;
  while (atomic_load(&o->arrived) < o->ncallers && now_ns() < end) goro_sleep(TU_MS / 2);
  goro_sleep(5 * TU_MS);
  o->value = 42;
}
static void once_worker(worker_t *w) {
  once_ctx_t *o = w->ctx;
  atomic_fetch_add(&o->arrived, 1);
  GCHECK_CMP(goro_once_do(&o->once, once_fn, o), ==, 0);
  GCHECK_CMP(o->value, ==, 42);
  GCHECK_CMP(atomic_load(&o->calls), ==, 1);
  /* Later calls return at once and never call fn again. */
  GCHECK_CMP(goro_once_do(&o->once, once_fn, o), ==, 0);
  GCHECK_CMP(atomic_load(&o->calls), ==, 1);
}
static void test_once_concurrent(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  assert_true(sizeof(goro_once_t) == 32);
  for (int procs = 1; procs <= 2; procs++) {
    set_procs(procs);
    for (int round = 0; round < 3; round++) {
      once_ctx_t *o = calloc(1, sizeof *o);
      assert_non_null(o);
      goro_once_t init = GORO_ONCE_INIT;
      o->once = init;
      int nthr = TU_SCALE(30, 20, 10);
      o->ncallers = 100;
      run_workers(once_worker, o, 100 - nthr, nthr);
      GASSERT_OK();
      ASSERT_EQ(atomic_load(&o->calls), 1);
      ASSERT_EQ(o->value, 42);
      free(o);
    }
  }
  set_procs(2);
}

static goro_once_t g_static_once = GORO_ONCE_INIT;
static int g_static_calls;
static void static_once_fn(void *arg) {
  (void)arg;
  g_static_calls++;
}
typedef struct rec_ctx {
  goro_once_t once;
  int inner_rc;
  int calls;
} rec_ctx_t;
static void rec_fn(void *arg) {
  rec_ctx_t *r = arg;
  r->calls++;
  r->inner_rc = goro_once_do(&r->once, rec_fn, r);
}
static int op_recursive_once(void *arg) {
  rec_ctx_t *r = arg;
  return goro_once_do(&r->once, rec_fn, r);
}
static void test_once_static_and_recursive(void **state) {
  (void)state;
  TU_WATCHDOG(20);
  assert_int_equal(goro_once_do(&g_static_once, static_once_fn, NULL), 0);
  assert_int_equal(goro_once_do(&g_static_once, static_once_fn, NULL), 0);
  assert_int_equal(g_static_calls, 1);
  /* fn calling goro_once_do on its own once: -EDEADLK, not a hang. */
  for (int gor = 0; gor < 2; gor++) {
    rec_ctx_t r;
    memset(&r, 0, sizeof r);
    async_t a;
    async_start(&a, gor, op_recursive_once, &r);
    assert_int_equal(async_join(&a, 10000), 0);
    assert_int_equal(r.inner_rc, -EDEADLK);
    assert_int_equal(r.calls, 1);
    assert_int_equal(goro_once_do(&r.once, rec_fn, &r), 0);
    assert_int_equal(r.calls, 1);
  }
}

/* ------------------------------------------------------------------------- */
/* Weighted semaphore                                                         */
/* ------------------------------------------------------------------------- */

typedef struct sem_op {
  goro_sem_t *s;
  int64_t n;
  int64_t timeout; /* 0: none */
} sem_op_t;
static int op_sem_acquire(void *a) {
  sem_op_t *o = a;
  return goro_sem_acquire(o->s, o->n, o->timeout ? now_ns() + o->timeout : GORO_NO_DEADLINE);
}

static void test_sem_errors(void **state) {
  (void)state;
  TU_WATCHDOG(20);
  goro_sem_t *s;
  assert_int_equal(goro_sem_new(&s, 5), 0);
  assert_int_equal(goro_sem_acquire(s, 6, GORO_NO_DEADLINE), -EINVAL);
  assert_int_equal(goro_sem_acquire(s, -1, GORO_NO_DEADLINE), -EINVAL);
  assert_int_equal(goro_sem_try_acquire(s, 6), -EINVAL);
  assert_int_equal(goro_sem_try_acquire(s, -1), -EINVAL);
  assert_int_equal(goro_sem_release(s, -1), -EINVAL);
  assert_int_equal(goro_sem_release(s, 1), -ERANGE);
  assert_int_equal(goro_sem_acquire(s, 0, 0), 0);
  assert_int_equal(goro_sem_acquire(s, 5, 0), 0); /* free: no wait, deadline moot */
  assert_int_equal(goro_sem_free(s), -EBUSY);
  assert_int_equal(goro_sem_try_acquire(s, 1), -EAGAIN);
  assert_int_equal(goro_sem_try_acquire(s, 0), 0);
  assert_int_equal(goro_sem_acquire(s, 1, 0), -ETIMEDOUT);
  int64_t t0 = now_ns();
  assert_int_equal(goro_sem_acquire(s, 1, t0 + 30 * TU_MS), -ETIMEDOUT);
  ASSERT_CMP(now_ns() - t0, >=, 30 * TU_MS);
  assert_int_equal(goro_sem_release(s, 6), -ERANGE); /* more than held: unchanged */
  assert_int_equal(goro_sem_release(s, 2), 0);
  assert_int_equal(goro_sem_release(s, 4), -ERANGE);
  assert_int_equal(goro_sem_release(s, 3), 0);
  assert_int_equal(goro_sem_release(s, 1), -ERANGE);
  assert_int_equal(goro_sem_try_acquire(s, 5), 0);
  assert_int_equal(goro_sem_release(s, 5), 0);
  assert_int_equal(goro_sem_free(s), 0);
}

/* x/sync semantics: FIFO with head-of-line blocking. */
static void test_sem_fifo(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  for (int gor = 0; gor < 2; gor++) {
    goro_sem_t *s;
    assert_int_equal(goro_sem_new(&s, 5), 0);
    assert_int_equal(goro_sem_acquire(s, 3, GORO_NO_DEADLINE), 0); /* 2 free */
    assert_int_equal(goro_sem_try_acquire(s, 3), -EAGAIN);
    assert_int_equal(goro_sem_try_acquire(s, 2), 0); /* fits, no one waits */
    assert_int_equal(goro_sem_release(s, 2), 0);
    /* A wants 3: must wait. */
    sem_op_t oa = {s, 3, 0}, ob = {s, 2, 0}, oc = {s, 1, 0};
    async_t a, b, c;
    async_start(&a, gor, op_sem_acquire, &oa);
    assert_true(still_blocked(&a, 20));
    /* With A waiting, smaller requests that would fit (2 free) must not pass it. */
    assert_int_equal(goro_sem_try_acquire(s, 1), -EAGAIN);
    assert_int_equal(goro_sem_try_acquire(s, 0), -EAGAIN);
    assert_int_equal(goro_sem_acquire(s, 1, now_ns() + 10 * TU_MS), -ETIMEDOUT);
    async_start(&b, !gor, op_sem_acquire, &ob);
    async_start(&c, gor, op_sem_acquire, &oc);
    assert_true(still_blocked(&b, 20));
    assert_true(!async_done(&c));
    assert_true(!async_done(&a));
    /* Release 1 of our 3: 3 free, A (3) fits and goes; then none are free
     * and B (2) and C (1) keep waiting. */
    assert_int_equal(goro_sem_release(s, 1), 0);
    assert_int_equal(async_join(&a, 10000), 0);
    assert_true(still_blocked(&b, 20));
    assert_true(!async_done(&c));
    /* Held: 2 (ours) + 3 (A). Release 1 of ours: 1 free, B (2) is at the head
     * and does not fit, so C (1), which would, waits too. */
    assert_int_equal(goro_sem_release(s, 1), 0);
    assert_true(still_blocked(&c, 30));
    assert_true(!async_done(&b));
    /* Release A's 3: 4 free: B (2) then C (1) go, in order. */
    assert_int_equal(goro_sem_release(s, 3), 0);
    assert_int_equal(async_join(&b, 10000), 0);
    assert_int_equal(async_join(&c, 10000), 0);
    /* Held: 1 + 2 + 1 = 4. */
    assert_int_equal(goro_sem_try_acquire(s, 2), -EAGAIN);
    assert_int_equal(goro_sem_try_acquire(s, 1), 0);
    assert_int_equal(goro_sem_release(s, 6), -ERANGE);
    assert_int_equal(goro_sem_release(s, 5), 0);
    assert_int_equal(goro_sem_free(s), 0);
  }
}

/* A large waiter at the head that gives up lets the smaller ones behind it in. */
static void test_sem_deadline_head(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  for (int gor = 0; gor < 2; gor++) {
    goro_sem_t *s;
    assert_int_equal(goro_sem_new(&s, 5), 0);
    assert_int_equal(goro_sem_acquire(s, 3, GORO_NO_DEADLINE), 0); /* 2 free */
    sem_op_t big = {s, 5, 200 * TU_MS}, small = {s, 2, 0};
    async_t a, b;
    async_start(&a, gor, op_sem_acquire, &big);
    tu_sleep_ms(10);
    async_start(&b, !gor, op_sem_acquire, &small);
    assert_true(still_blocked(&b, 10)); /* 2 free, but behind the big one */
    assert_int_equal(goro_sem_free(s), -EBUSY);
    assert_int_equal(async_join(&a, 10000), -ETIMEDOUT);
    assert_int_equal(async_join(&b, 10000), 0); /* served when the head left */
    assert_int_equal(goro_sem_try_acquire(s, 1), -EAGAIN);
    /* All 5 held: a zero-weight acquire queued behind a timing-out head is
     * served when the head leaves, though no unit is free. */
    big.timeout = 200 * TU_MS;
    small.n = 0;
    async_start(&a, gor, op_sem_acquire, &big);
    tu_sleep_ms(10);
    async_start(&b, !gor, op_sem_acquire, &small);
    assert_true(still_blocked(&b, 10));
    assert_int_equal(async_join(&a, 10000), -ETIMEDOUT);
    assert_int_equal(async_join(&b, 10000), 0);
    assert_int_equal(goro_sem_release(s, 5), 0);
    assert_int_equal(goro_sem_free(s), 0);
  }
}

/* Random weights from goroutines and threads: the units in use never exceed
 * the size, and every acquire is matched. */
typedef struct sem_stress {
  goro_sem_t *s;
  int64_t size;
  long iters;
  atomic_long in_use;
  atomic_long timeouts;
} sem_stress_t;
static void sem_stress_worker(worker_t *w) {
  sem_stress_t *c = w->ctx;
  uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)(w->idx + 1);
  for (long i = 0; i < c->iters; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    int64_t n = (int64_t)(x % (uint64_t)c->size) + 1;
    int rc;
    if (i % 3 == 0) {
      rc = goro_sem_acquire(c->s, n, now_ns() + 100 * TU_US);
      if (rc == -ETIMEDOUT) {
        atomic_fetch_add(&c->timeouts, 1);
        continue;
      }
    } else if (i % 3 == 1) {
      rc = goro_sem_try_acquire(c->s, n);
      if (rc == -EAGAIN) continue;
    } else {
      rc = goro_sem_acquire(c->s, n, GORO_NO_DEADLINE);
    }
    GCHECK_CMP(rc, ==, 0);
    long u = atomic_fetch_add(&c->in_use, n) + n;
    GCHECK_CMP(u, <=, c->size);
    if (i % 8 == 0) goro_yield();
    atomic_fetch_sub(&c->in_use, n);
    GCHECK_CMP(goro_sem_release(c->s, n), ==, 0);
  }
}
static void test_sem_stress(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  for (int procs = 1; procs <= 2; procs++) {
    set_procs(procs);
    sem_stress_t c;
    memset(&c, 0, sizeof c);
    c.size = 7;
    c.iters = TU_SCALE(10000, 3000, 600);
    assert_int_equal(goro_sem_new(&c.s, c.size), 0);
    run_workers(sem_stress_worker, &c, 12, 4);
    GASSERT_OK();
    ASSERT_EQ(atomic_load(&c.in_use), 0);
    assert_int_equal(goro_sem_try_acquire(c.s, c.size), 0); /* all units back */
    assert_int_equal(goro_sem_release(c.s, c.size), 0);
    assert_int_equal(goro_sem_free(c.s), 0);
  }
  set_procs(2);
}

int main(void) {
  tu_apply_filter();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_null_handles),
      cmocka_unit_test(test_mutex_errors),
      cmocka_unit_test(test_mutex_lock_until),
      cmocka_unit_test(test_mutex_contention_p1),
      cmocka_unit_test(test_mutex_contention_p2),
      cmocka_unit_test(test_mutex_starvation_p1),
      cmocka_unit_test(test_mutex_starvation_p2),
      cmocka_unit_test(test_rwmutex_errors),
      cmocka_unit_test(test_rwmutex_parallel_readers),
      cmocka_unit_test(test_rwmutex_writer_exclusion),
      cmocka_unit_test(test_rwmutex_writer_preference),
      cmocka_unit_test(test_cond_signal_broadcast),
      cmocka_unit_test(test_cond_wait_until),
      cmocka_unit_test(test_cond_producer_consumer),
      cmocka_unit_test(test_once_concurrent),
      cmocka_unit_test(test_once_static_and_recursive),
      cmocka_unit_test(test_sem_errors),
      cmocka_unit_test(test_sem_fifo),
      cmocka_unit_test(test_sem_deadline_head),
      cmocka_unit_test(test_sem_stress),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
