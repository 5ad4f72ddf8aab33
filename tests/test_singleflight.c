/*
 * test_singleflight.c: goro_sf_t: 1,000 concurrent callers on a cold key
 * cause exactly one call and all share its result; forget; independent keys;
 * errors; bad input.
 */
#include "testutil.h"

#include <goro/goro.h>


typedef struct herd {
  goro_sf_t *sf;
  atomic_int calls;
  atomic_int arrived;
  atomic_int shared_count;
  atomic_int bad;
  int n;
  int64_t hold_ns;
  int rc_want;
} herd_t;

static herd_t H;
static int herd_result_obj;

static int herd_fn(void *arg, void **result) {
  herd_t *h = arg;
  atomic_fetch_add(&h->calls, 1);
  /* Hold the call until every caller has arrived, and then a little longer
   * so the last ones get from "arrived" into goro_sf_do(). */
  while (atomic_load(&h->arrived) < h->n) goro_sleep(TU_MS);
  goro_sleep(h->hold_ns);
  *result = &herd_result_obj;
  return h->rc_want;
}

static void herd_body(void) {
  void *res = NULL;
  int shared = -1;
  atomic_fetch_add(&H.arrived, 1);
  int rc = goro_sf_do(H.sf, "cold-key", 8, herd_fn, &H, &res, &shared);
  if (rc != H.rc_want || res != &herd_result_obj) atomic_fetch_add(&H.bad, 1);
  if (shared == 1) atomic_fetch_add(&H.shared_count, 1);
}
static void herd_gor(void *arg) {
  (void)arg;
  herd_body();
  goro_wg_done(tu_wg);
}
static void *herd_thr(void *arg) {
  (void)arg;
  herd_body();
  return NULL;
}

static void herd(int rc_want) {
  memset(&H, 0, sizeof H);
  H.n = 1000;
  H.rc_want = rc_want;
  H.hold_ns = TU_SCALE(30, 100, 200) * TU_MS;
  const int nthr = 4;
  assert_int_equal(goro_sf_new(&H.sf), 0);
  assert_int_equal(goro_wg_add(tu_wg, H.n - nthr), 0);
  pthread_t th[4];
  for (int i = 0; i < nthr; i++) assert_int_equal(pthread_create(&th[i], NULL, herd_thr, NULL), 0);
  for (int i = 0; i < H.n - nthr; i++) assert_int_equal(goro_go(herd_gor, NULL), 0);
  assert_int_equal(goro_wg_wait(tu_wg), 0);
  for (int i = 0; i < nthr; i++) pthread_join(th[i], NULL);
  ASSERT_EQ(atomic_load(&H.calls), 1);
  ASSERT_EQ(atomic_load(&H.bad), 0);
  ASSERT_EQ(atomic_load(&H.shared_count), H.n); /* leader included: dups > 0 */
  assert_int_equal(goro_sf_free(H.sf), 0);
}

static void test_thousand_callers_one_call(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  herd(0);
  herd(-EIO); /* an error is shared the same way */
  tu_settle(0);
}

static void test_bad_inputs(void **state) {
  (void)state;
  goro_sf_t *sf;
  void *res;
  int shared;
  assert_int_equal(goro_sf_new(NULL), -EINVAL);
  assert_int_equal(goro_sf_new(&sf), 0);
  assert_int_equal(goro_sf_do(NULL, "k", 1, herd_fn, &H, &res, &shared), -EINVAL);
  assert_int_equal(goro_sf_do(sf, "k", 1, NULL, &H, &res, &shared), -EINVAL);
  assert_int_equal(goro_sf_do(sf, NULL, 1, herd_fn, &H, &res, &shared), -EINVAL);
  assert_int_equal(goro_sf_forget(NULL, "k", 1), -EINVAL);
  assert_int_equal(goro_sf_forget(sf, NULL, 3), -EINVAL);
  assert_int_equal(goro_sf_forget(sf, "k", 1), -ENOENT);
  assert_int_equal(goro_sf_forget(sf, NULL, 0), -ENOENT);
  assert_int_equal(goro_sf_free(NULL), 0);
  assert_int_equal(goro_sf_free(sf), 0);
}

/* A single caller is not shared; NULL out-params are fine; a zero-length
 * key is a key; keys are bytes (embedded NULs count). */
static int id_fn(void *arg, void **result) {
  atomic_fetch_add((atomic_int *)arg, 1);
  *result = arg;
  return 0;
}

static void test_single_and_keys(void **state) {
  (void)state;
  goro_sf_t *sf;
  atomic_int n = 0;
  void *res = NULL;
  int shared = -1;
  assert_int_equal(goro_sf_new(&sf), 0);
  assert_int_equal(goro_sf_do(sf, "abc", 3, id_fn, &n, &res, &shared), 0);
  assert_true(res == &n);
  assert_int_equal(shared, 0);
  assert_int_equal(goro_sf_do(sf, NULL, 0, id_fn, &n, NULL, NULL), 0);
  assert_int_equal(goro_sf_do(sf, "a\0b", 3, id_fn, &n, NULL, NULL), 0);
  assert_int_equal(goro_sf_do(sf, "a\0c", 3, id_fn, &n, NULL, NULL), 0);
  ASSERT_EQ(atomic_load(&n), 4); /* sequential calls: each one runs */
  assert_int_equal(goro_sf_free(sf), 0);
}

/* forget: while a call is in flight, forgetting its key makes the next
 * caller run fn again; different keys never wait for each other. */
typedef struct slow {
  goro_sf_t *sf;
  goro_chan_t *gate;
  atomic_int calls;
  const char *key;
  int rc;
} slow_t;

static int slow_fn(void *arg, void **result) {
  slow_t *s = arg;
  atomic_fetch_add(&s->calls, 1);
  GCHECK(goro_chan_recv(s->gate, NULL, GORO_NO_DEADLINE) == -EPIPE);
  *result = NULL;
  return 0;
}
static void slow_gor(void *arg) {
  slow_t *s = arg;
  s->rc = goro_sf_do(s->sf, s->key, strlen(s->key), slow_fn, s, NULL, NULL);
  goro_wg_done(tu_wg);
}

static void test_forget_and_independent_keys(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  goro_sf_t *sf;
  goro_chan_t *gate;
  assert_int_equal(goro_sf_new(&sf), 0);
  assert_int_equal(goro_chan_make(&gate, 0, 0), 0);
  slow_t a = {.sf = sf, .gate = gate, .key = "same"};
  slow_t b = {.sf = sf, .gate = gate, .key = "same"};
  slow_t c = {.sf = sf, .gate = gate, .key = "other"};
  assert_int_equal(goro_wg_add(tu_wg, 1), 0);
  assert_int_equal(goro_go(slow_gor, &a), 0);
  while (atomic_load(&a.calls) == 0) tu_sleep_ms(1);
  assert_int_equal(goro_sf_free(sf), -EBUSY); /* in flight */
  assert_int_equal(goro_sf_forget(sf, "same", 4), 0);
  assert_int_equal(goro_sf_forget(sf, "same", 4), -ENOENT);
  assert_int_equal(goro_wg_add(tu_wg, 2), 0);
  assert_int_equal(goro_go(slow_gor, &b), 0); /* a new call, not a follower */
  assert_int_equal(goro_go(slow_gor, &c), 0); /* another key: runs at once */
  while (atomic_load(&b.calls) == 0 || atomic_load(&c.calls) == 0) tu_sleep_ms(1);
  assert_int_equal(goro_sf_free(sf), -EBUSY); /* the forgotten call is still in flight */
  assert_int_equal(goro_chan_close(gate), 0);
  assert_int_equal(goro_wg_wait(tu_wg), 0);
  ASSERT_EQ(a.rc, 0);
  ASSERT_EQ(b.rc, 0);
  ASSERT_EQ(c.rc, 0);
  ASSERT_EQ(atomic_load(&a.calls), 1);
  ASSERT_EQ(atomic_load(&b.calls), 1);
  ASSERT_EQ(atomic_load(&c.calls), 1);
  assert_int_equal(goro_sf_free(sf), 0);
  goro_chan_release(gate);
  GASSERT_OK();
}

int main(void) {
  tu_apply_filter();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_inputs),
      cmocka_unit_test(test_thousand_callers_one_call),
      cmocka_unit_test(test_single_and_keys),
      cmocka_unit_test(test_forget_and_independent_keys),
  };
  return cmocka_run_group_tests(tests, tu_group_setup_wg, tu_group_teardown_wg);
}
