/*
 * test_objpool.c: goro_objpool_t (sync.Pool): reuse through the per-P cache
 * and the shared list, bounded memory (per-P cap + shared cap, the rest
 * freed), trim, no object ever handed to two holders under concurrent use
 * from goroutines and threads, bad input.
 */
#include "testutil.h"

#include <goro/goro.h>


typedef struct obj {
  atomic_int held;
  long payload[7];
} obj_t;

static atomic_long g_new, g_freed;

static void *obj_new(void *user) {
  (void)user;
  obj_t *o = calloc(1, sizeof *o);
  if (o) atomic_fetch_add(&g_new, 1);
  return o;
}
static void obj_free(void *user, void *p) {
  (void)user;
  atomic_fetch_add(&g_freed, 1);
  free(p);
}

static goro_objpool_t *mk(int per_p, int shared) {
  goro_objpool_opts_t o = GORO_OBJPOOL_OPTS_INIT;
  o.new_fn = obj_new;
  o.free_fn = obj_free;
  o.per_p_cap = per_p;
  o.shared_cap = shared;
  goro_objpool_t *p = NULL;
  assert_int_equal(goro_objpool_new(&o, &p), 0);
  return p;
}

static void *null_new(void *user) {
  (void)user;
  return NULL;
}

static void test_bad_inputs(void **state) {
  (void)state;
  goro_objpool_opts_t o = GORO_OBJPOOL_OPTS_INIT;
  goro_objpool_t *p;
  assert_int_equal(goro_objpool_new(NULL, &p), -EINVAL);
  assert_int_equal(goro_objpool_new(&o, NULL), -EINVAL);
  assert_int_equal(goro_objpool_new(&o, &p), -EINVAL); /* new_fn is required */
  o.new_fn = obj_new;
  o.per_p_cap = 2000;
  assert_int_equal(goro_objpool_new(&o, &p), -EINVAL);
  o.per_p_cap = -1;
  assert_int_equal(goro_objpool_new(&o, &p), -EINVAL);
  o.per_p_cap = 0;
  o.shared_cap = -2;
  assert_int_equal(goro_objpool_new(&o, &p), -EINVAL);
  o.shared_cap = 0;
  o.size = 3;
  assert_int_equal(goro_objpool_new(&o, &p), -EINVAL);
  assert_null(goro_objpool_get(NULL));
  assert_int_equal(goro_objpool_put(NULL, &o), -EINVAL);
  assert_int_equal(goro_objpool_trim(NULL), -EINVAL);
  assert_int_equal(goro_objpool_free(NULL), 0);
  o = (goro_objpool_opts_t)GORO_OBJPOOL_OPTS_INIT;
  o.new_fn = null_new;
  assert_int_equal(goro_objpool_new(&o, &p), 0);
  assert_null(goro_objpool_get(p)); /* new_fn failed: NULL, no crash */
  assert_int_equal(goro_objpool_put(p, NULL), -EINVAL);
  /* Default free_fn is free(). */
  assert_int_equal(goro_objpool_put(p, malloc(16)), 0);
  assert_int_equal(goro_objpool_free(p), 0);
}

/* Reuse and bounds, from a goroutine (per-P path) and a thread (shared). */
typedef struct reuse {
  goro_objpool_t *p;
  int n;
  void **objs;
  int same;
} reuse_t;

static void reuse_body(reuse_t *r) {
  void *a = goro_objpool_get(r->p);
  GCHECK(a != NULL);
  GCHECK(goro_objpool_put(r->p, a) == 0);
  void *b = goro_objpool_get(r->p);
  r->same = a == b;
  GCHECK(goro_objpool_put(r->p, b) == 0);
  /* Take n, give n back: only the caps' worth stays cached. */
  for (int i = 0; i < r->n; i++) r->objs[i] = goro_objpool_get(r->p);
  for (int i = 0; i < r->n; i++) GCHECK(goro_objpool_put(r->p, r->objs[i]) == 0);
}
static void reuse_gor(void *arg) {
  reuse_body(arg);
  goro_wg_done(tu_wg);
}

static void test_reuse_and_bounds(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  for (int on_gor = 0; on_gor < 2; on_gor++) {
    atomic_store(&g_new, 0);
    atomic_store(&g_freed, 0);
    const int per_p = 4, shared = 8;
    reuse_t r = {.p = mk(per_p, shared), .n = 100};
    r.objs = calloc((size_t)r.n, sizeof(void *));
    if (on_gor) {
      assert_int_equal(goro_wg_add(tu_wg, 1), 0);
      assert_int_equal(goro_go(reuse_gor, &r), 0);
      assert_int_equal(goro_wg_wait(tu_wg), 0);
    } else {
      reuse_body(&r);
    }
    GASSERT_OK();
    assert_true(r.same); /* the object put back is the one we get */
    long live = atomic_load(&g_new) - atomic_load(&g_freed);
    /* Bounded: a goroutine caches per_p on its P plus shared; a thread only shared. */
    long cap = (on_gor ? per_p : 0) + shared;
    print_message("%s: %ld created, %ld cached after returning %d (cap %ld)\n",
                  on_gor ? "goroutine" : "thread", (long)atomic_load(&g_new), live, r.n, cap);
    assert_true(live <= cap + per_p); /* + per_p: the G may have moved P once */
    assert_true(live >= shared);
    int trimmed = goro_objpool_trim(r.p);
    ASSERT_EQ(trimmed, live);
    ASSERT_EQ(atomic_load(&g_new), atomic_load(&g_freed));
    assert_int_equal(goro_objpool_trim(r.p), 0);
    assert_int_equal(goro_objpool_free(r.p), 0);
    free(r.objs);
  }
}

/* shared_cap = -1: nothing shared; a thread's puts are all freed. */
static void test_no_shared(void **state) {
  (void)state;
  atomic_store(&g_new, 0);
  atomic_store(&g_freed, 0);
  goro_objpool_t *p = mk(0, -1);
  void *a = goro_objpool_get(p);
  assert_int_equal(goro_objpool_put(p, a), 0);
  ASSERT_EQ(atomic_load(&g_freed), 1);
  assert_int_equal(goro_objpool_free(p), 0);
}

/* Concurrent use: no object is ever held by two callers; nothing leaks. */
typedef struct stress {
  goro_objpool_t *p;
  int iters;
  atomic_int bad;
} stress_t;

static void stress_body(stress_t *s) {
  void *mine[4];
  for (int i = 0; i < s->iters; i++) {
    int k = 1 + i % 4;
    for (int j = 0; j < k; j++) {
      obj_t *o = goro_objpool_get(s->p);
      if (!o || atomic_exchange(&o->held, 1) != 0) atomic_fetch_add(&s->bad, 1);
      mine[j] = o;
    }
    if (i % 64 == 0) goro_yield();
    for (int j = 0; j < k; j++) {
      obj_t *o = mine[j];
      atomic_store(&o->held, 0);
      goro_objpool_put(s->p, o);
    }
  }
}
static void stress_gor(void *arg) {
  stress_body(arg);
  goro_wg_done(tu_wg);
}
static void *stress_thr(void *arg) {
  stress_body(arg);
  return NULL;
}

static void test_concurrent(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  atomic_store(&g_new, 0);
  atomic_store(&g_freed, 0);
  stress_t s = {.p = mk(8, 16), .iters = TU_SCALE(50000, 10000, 3000)};
  const int ngor = 8, nthr = 2;
  pthread_t th[2];
  assert_int_equal(goro_wg_add(tu_wg, ngor), 0);
  for (int i = 0; i < ngor; i++) assert_int_equal(goro_go(stress_gor, &s), 0);
  for (int i = 0; i < nthr; i++) assert_int_equal(pthread_create(&th[i], NULL, stress_thr, &s), 0);
  assert_int_equal(goro_wg_wait(tu_wg), 0);
  for (int i = 0; i < nthr; i++) pthread_join(th[i], NULL);
  ASSERT_EQ(atomic_load(&s.bad), 0);
  long created = atomic_load(&g_new);
  print_message("stress: %d gets by %d goroutines + %d threads created %ld objects\n",
                (ngor + nthr) * s.iters * 5 / 2, ngor, nthr, created);
  /* Reuse works: far fewer objects than gets. */
  assert_true(created < (long)(ngor + nthr) * s.iters / 4);
  goro_objpool_trim(s.p);
  ASSERT_EQ(atomic_load(&g_new), atomic_load(&g_freed));
  assert_int_equal(goro_objpool_free(s.p), 0);
}

int main(void) {
  tu_apply_filter();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_inputs),
      cmocka_unit_test(test_reuse_and_bounds),
      cmocka_unit_test(test_no_shared),
      cmocka_unit_test(test_concurrent),
  };
  return cmocka_run_group_tests(tests, tu_group_setup_wg, tu_group_teardown_wg);
}
