/*
 * test_fls.c: goroutine-local storage (goro_key_*): the basic API, values
 * that follow a goroutine across switches and threads, per-goroutine and
 * per-thread isolation, destructors, deleted keys and key exhaustion.
 *
 * Every test deletes the keys it created, so that the exhaustion test can
 * count exactly GORO_KEYS_MAX keys.
 */
#include "testutil.h"

static void wait_until(atomic_int *v, int want, int timeout_ms, const char *what) {
  int64_t end = tu_now_ns() + (int64_t)timeout_ms * TU_MS;
  while (atomic_load(v) < want && tu_now_ns() < end) tu_sleep_ms(1);
  if (atomic_load(v) != want) fail_msg("%s: %d, want %d", what, atomic_load(v), want);
}

static int marker[64]; /* addresses used as values */

/* ------------------------------------------------------------------------- */

static void basic_api(void) {
  goro_key_t k;
  GCHECK_CMP(goro_key_create(&k, NULL), ==, 0);
  GCHECK(goro_key_get(k) == NULL);
  GCHECK_CMP(goro_key_set(k, &marker[1]), ==, 0);
  GCHECK(goro_key_get(k) == &marker[1]);
  GCHECK_CMP(goro_key_set(k, &marker[2]), ==, 0);
  GCHECK(goro_key_get(k) == &marker[2]);
  GCHECK_CMP(goro_key_set(k, NULL), ==, 0);
  GCHECK(goro_key_get(k) == NULL);
  GCHECK_CMP(goro_key_set(k, &marker[3]), ==, 0);
  GCHECK_CMP(goro_key_delete(k), ==, 0);
  /* Deleted: get NULL, set and delete -EINVAL. */
  GCHECK(goro_key_get(k) == NULL);
  GCHECK_CMP(goro_key_set(k, &marker[4]), ==, -EINVAL);
  GCHECK(goro_key_get(k) == NULL);
  GCHECK_CMP(goro_key_delete(k), ==, -EINVAL);
  GCHECK_CMP(goro_key_create(NULL, NULL), ==, -EINVAL);

  /* Two keys are independent. */
  goro_key_t a, b;
  GCHECK_CMP(goro_key_create(&a, NULL), ==, 0);
  GCHECK_CMP(goro_key_create(&b, NULL), ==, 0);
  GCHECK(a != b);
  GCHECK_CMP(goro_key_set(a, &marker[5]), ==, 0);
  GCHECK(goro_key_get(b) == NULL);
  GCHECK_CMP(goro_key_set(b, &marker[6]), ==, 0);
  GCHECK(goro_key_get(a) == &marker[5]);
  GCHECK(goro_key_get(b) == &marker[6]);
  GCHECK_CMP(goro_key_delete(a), ==, 0);
  GCHECK(goro_key_get(b) == &marker[6]);
  GCHECK_CMP(goro_key_set(b, NULL), ==, 0);
  GCHECK_CMP(goro_key_delete(b), ==, 0);
}
static void basic_api_fn(void *arg) {
  (void)arg;
  basic_api();
}

static void test_basic_plain_thread(void **state) {
  (void)state;
  TU_WATCHDOG(10);
  tu_reset_fail();
  basic_api();
  GASSERT_OK();
}
static void test_basic_goroutine(void **state) {
  (void)state;
  TU_WATCHDOG(10);
  tu_reset_fail();
  assert_int_equal(goro_run(basic_api_fn, NULL), 0);
  GASSERT_OK();
  tu_settle(0);
}

/* Keys that never existed or were deleted stay invalid, even when a new key
 * takes the deleted one's slot. */
static void test_deleted_keys_stay_invalid(void **state) {
  (void)state;
  TU_WATCHDOG(10);
  enum { ROUNDS = 50 };
  goro_key_t dead[ROUNDS];
  for (int i = 0; i < ROUNDS; i++) {
    assert_int_equal(goro_key_create(&dead[i], NULL), 0);
    assert_int_equal(goro_key_set(dead[i], &marker[7]), 0);
    assert_int_equal(goro_key_delete(dead[i]), 0);
    goro_key_t fresh;
    assert_int_equal(goro_key_create(&fresh, NULL), 0);
    for (int j = 0; j <= i; j++) {
      if (dead[j] == fresh) fail_msg("a deleted key's value %u was handed out again", fresh);
      assert_null(goro_key_get(dead[j]));
      assert_int_equal(goro_key_set(dead[j], &marker[8]), -EINVAL);
      assert_int_equal(goro_key_delete(dead[j]), -EINVAL);
    }
    /* The fresh key starts empty even if it reuses the slot that held a value. */
    assert_null(goro_key_get(fresh));
    assert_int_equal(goro_key_set(fresh, &marker[9]), 0);
    assert_ptr_equal(goro_key_get(fresh), &marker[9]);
    for (int j = 0; j <= i; j++) assert_null(goro_key_get(dead[j]));
    assert_int_equal(goro_key_set(fresh, NULL), 0);
    assert_int_equal(goro_key_delete(fresh), 0);
  }
  /* A value no key was ever given. */
  goro_key_t bogus = 0xFFFFFFFFu;
  assert_null(goro_key_get(bogus));
  assert_int_equal(goro_key_set(bogus, &marker[0]), -EINVAL);
  assert_int_equal(goro_key_delete(bogus), -EINVAL);
}

/* Each goroutine starts with NULL, and values do not leak between
 * goroutines, nor between goroutines and plain threads. */
struct iso_ctx {
  goro_key_t key;
  goro_wg_t *wg;
};
static void iso_fn(void *arg) {
  struct iso_ctx *c = arg;
  GCHECK(goro_key_get(c->key) == NULL);
  int mine;
  GCHECK_CMP(goro_key_set(c->key, &mine), ==, 0);
  goro_yield();
  GCHECK(goro_key_get(c->key) == &mine);
  GCHECK_CMP(goro_wg_done(c->wg), ==, 0);
  /* returns with a value set: the next goroutine must not see it */
}
static void iso_child_fn(void *arg) {
  struct iso_ctx *c = arg;
  GCHECK(goro_key_get(c->key) == NULL); /* not inherited from the parent */
  GCHECK_CMP(goro_wg_done(c->wg), ==, 0);
}
static void iso_parent_fn(void *arg) {
  struct iso_ctx *c = arg;
  GCHECK_CMP(goro_key_set(c->key, &marker[10]), ==, 0);
  for (int i = 0; i < 50; i++) {
    GCHECK_CMP(goro_wg_add(c->wg, 1), ==, 0);
    GCHECK_CMP(goro_go(iso_child_fn, c), ==, 0);
  }
  goro_yield();
  GCHECK(goro_key_get(c->key) == &marker[10]);
  GCHECK_CMP(goro_key_set(c->key, NULL), ==, 0);
}

static void test_isolation(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  tu_reset_fail();
  struct iso_ctx c;
  assert_int_equal(goro_key_create(&c.key, NULL), 0);
  assert_int_equal(goro_wg_new(&c.wg), 0);
  /* The plain thread's own value is invisible to goroutines it starts. */
  assert_int_equal(goro_key_set(c.key, &marker[11]), 0);
  for (int procs = 1; procs <= 2; procs++) {
    goro_maxprocs(procs);
    for (int round = 0; round < 5; round++) {
      assert_int_equal(goro_wg_add(c.wg, 200), 0);
      for (int i = 0; i < 200; i++) assert_int_equal(goro_go(iso_fn, &c), 0);
      assert_int_equal(goro_wg_wait(c.wg), 0);
      assert_int_equal(goro_run(iso_parent_fn, &c), 0);
      assert_int_equal(goro_wg_wait(c.wg), 0);
      assert_ptr_equal(goro_key_get(c.key), &marker[11]);
    }
    tu_settle(0);
  }
  goro_maxprocs(2);
  assert_int_equal(goro_key_set(c.key, NULL), 0);
  assert_int_equal(goro_key_delete(c.key), 0);
  assert_int_equal(goro_wg_free(c.wg), 0);
  GASSERT_OK();
}

/* Values follow their goroutine across yields, sleeps and threads. */
enum { MIG_N = 64, MIG_KEYS = 3 };
struct mig_ctx {
  goro_key_t keys[MIG_KEYS];
  goro_wg_t *wg;
  atomic_int moved; /* goroutines that ran on more than one thread */
  int iters;
};
struct mig_arg {
  struct mig_ctx *c;
  char value[MIG_KEYS];
};
static void mig_fn(void *arg) {
  struct mig_arg *a = arg;
  struct mig_ctx *c = a->c;
  for (int k = 0; k < MIG_KEYS; k++) GCHECK(goro_key_get(c->keys[k]) == NULL);
  for (int k = 0; k < MIG_KEYS; k++) GCHECK_CMP(goro_key_set(c->keys[k], &a->value[k]), ==, 0);
  pid_t first = tu_gettid();
  int moved = 0, bad = 0;
  for (int i = 0; i < c->iters; i++) {
    if (i % 100 == 99)
      goro_sleep(100 * TU_US);
    else
      goro_yield();
    if (tu_gettid() != first) moved = 1;
    for (int k = 0; k < MIG_KEYS; k++)
      if (goro_key_get(c->keys[k]) != &a->value[k]) bad++;
    if (i == c->iters / 2) {
      /* Overwrite one value mid-way. */
      GCHECK_CMP(goro_key_set(c->keys[0], &a->value[1]), ==, 0);
      GCHECK(goro_key_get(c->keys[0]) == &a->value[1]);
      GCHECK_CMP(goro_key_set(c->keys[0], &a->value[0]), ==, 0);
    }
  }
  GCHECK_CMP(bad, ==, 0);
  if (moved) atomic_fetch_add(&c->moved, 1);
  GCHECK_CMP(goro_wg_done(c->wg), ==, 0);
}

static void test_values_survive_switches(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  tu_reset_fail();
  static struct mig_ctx c;
  static struct mig_arg args[MIG_N];
  for (int k = 0; k < MIG_KEYS; k++) assert_int_equal(goro_key_create(&c.keys[k], NULL), 0);
  assert_int_equal(goro_wg_new(&c.wg), 0);
  c.iters = TU_SCALE(1000, 1000, 300);
  for (int procs = 1; procs <= 2; procs++) {
    goro_maxprocs(procs);
    atomic_store(&c.moved, 0);
    assert_int_equal(goro_wg_add(c.wg, MIG_N), 0);
    for (int i = 0; i < MIG_N; i++) {
      args[i].c = &c;
      assert_int_equal(goro_go(mig_fn, &args[i]), 0);
    }
    assert_int_equal(goro_wg_wait(c.wg), 0);
    GASSERT_OK();
    tu_settle(0);
    print_message("maxprocs=%d: %d of %d goroutines ran on more than one thread\n", procs,
                  atomic_load(&c.moved), MIG_N);
  }
  for (int k = 0; k < MIG_KEYS; k++) assert_int_equal(goro_key_delete(c.keys[k]), 0);
  assert_int_equal(goro_wg_free(c.wg), 0);
}

/* Destructors run when a goroutine returns with a non-NULL value. */
static atomic_int dtor_calls;
static atomic_int dtor_bad_value;
static int dtor_token;
static void dtor_count(void *v) {
  if (v != &dtor_token) atomic_fetch_add(&dtor_bad_value, 1);
  atomic_fetch_add(&dtor_calls, 1);
}
struct dtor_ctx {
  goro_key_t key;
  goro_key_t other; /* a key without dtor */
  int set;          /* set a value or not */
};
static void dtor_fn(void *arg) {
  struct dtor_ctx *c = arg;
  goro_yield();
  if (c->set) {
    GCHECK_CMP(goro_key_set(c->key, &dtor_token), ==, 0);
    GCHECK_CMP(goro_key_set(c->other, &marker[12]), ==, 0);
  } else {
    /* set then cleared: no destructor */
    GCHECK_CMP(goro_key_set(c->key, &dtor_token), ==, 0);
    GCHECK_CMP(goro_key_set(c->key, NULL), ==, 0);
  }
  goro_sleep(10 * TU_US);
}

static void test_destructors_on_goroutine_exit(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  tu_reset_fail();
  struct dtor_ctx with = {0, 0, 1}, without = {0, 0, 0};
  assert_int_equal(goro_key_create(&with.key, dtor_count), 0);
  assert_int_equal(goro_key_create(&with.other, NULL), 0);
  without.key = with.key;
  without.other = with.other;
  for (int procs = 1; procs <= 2; procs++) {
    goro_maxprocs(procs);
    atomic_store(&dtor_calls, 0);
    atomic_store(&dtor_bad_value, 0);
    for (int i = 0; i < 300; i++) {
      assert_int_equal(goro_go(dtor_fn, (i % 3 == 2) ? &without : &with), 0);
    }
    tu_settle(0);
    wait_until(&dtor_calls, 200, 5000, "destructor calls");
    tu_sleep_ms(20);
    assert_int_equal(atomic_load(&dtor_calls), 200);
    assert_int_equal(atomic_load(&dtor_bad_value), 0);
    /* goro_run() returns after fn returned; the destructor has run by the
     * time the goroutine is gone. */
    assert_int_equal(goro_run(dtor_fn, &with), 0);
    tu_settle(0);
    wait_until(&dtor_calls, 201, 5000, "destructor calls after goro_run");
  }
  assert_int_equal(goro_key_delete(with.key), 0);
  assert_int_equal(goro_key_delete(with.other), 0);
  GASSERT_OK();
}

/* Deleted keys' values are not destroyed. */
struct deleted_dtor_ctx {
  goro_key_t key;
  atomic_int set_done;
  atomic_int finished;
  goro_wg_t *gate;
};
static void deleted_dtor_fn(void *arg) {
  struct deleted_dtor_ctx *c = arg;
  GCHECK_CMP(goro_key_set(c->key, &dtor_token), ==, 0);
  atomic_fetch_add(&c->set_done, 1);
  GCHECK_CMP(goro_wg_wait(c->gate), ==, 0);
  GCHECK(goro_key_get(c->key) == NULL); /* deleted meanwhile */
  atomic_fetch_add(&c->finished, 1);
}
static void test_no_destructor_after_delete(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  tu_reset_fail();
  struct deleted_dtor_ctx c;
  memset(&c, 0, sizeof c);
  atomic_store(&dtor_calls, 0);
  assert_int_equal(goro_key_create(&c.key, dtor_count), 0);
  assert_int_equal(goro_wg_new(&c.gate), 0);
  assert_int_equal(goro_wg_add(c.gate, 1), 0);
  for (int i = 0; i < 20; i++) assert_int_equal(goro_go(deleted_dtor_fn, &c), 0);
  wait_until(&c.set_done, 20, 5000, "goroutines that set a value");
  assert_int_equal(goro_key_delete(c.key), 0);
  assert_int_equal(goro_wg_done(c.gate), 0);
  wait_until(&c.finished, 20, 5000, "goroutines finished");
  tu_settle(0);
  tu_sleep_ms(20);
  assert_int_equal(atomic_load(&dtor_calls), 0);
  assert_int_equal(goro_wg_free(c.gate), 0);
  GASSERT_OK();
}

/* Destructor rounds: a destructor that sets the value again is called again
 * (up to 4 rounds in all, as pthreads). */
static goro_key_t g_round_key;
static atomic_int round_calls;
struct round_val {
  int resets_left;
  atomic_int calls;
};
static void round_dtor(void *v) {
  struct round_val *r = v;
  atomic_fetch_add(&r->calls, 1);
  atomic_fetch_add(&round_calls, 1);
  if (r->resets_left > 0) {
    r->resets_left--;
    int rc = goro_key_set(g_round_key, r);
    if (rc != 0) tu_record_fail(__FILE__, __LINE__, "goro_key_set in a destructor = %d", rc);
  }
}
static void round_fn(void *arg) {
  GCHECK_CMP(goro_key_set(g_round_key, arg), ==, 0);
  goro_yield();
}

static void test_destructor_rounds(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  tu_reset_fail();
  assert_int_equal(goro_key_create(&g_round_key, round_dtor), 0);
  /* Sets it again twice: three calls. */
  struct round_val twice = {2, 0};
  assert_int_equal(goro_run(round_fn, &twice), 0);
  tu_settle(0);
  int64_t end = tu_now_ns() + 5000 * TU_MS;
  while (atomic_load(&twice.calls) < 3 && tu_now_ns() < end) tu_sleep_ms(1);
  tu_sleep_ms(20);
  assert_int_equal(atomic_load(&twice.calls), 3);
  /* Sets it again forever: stops after at most 4 rounds. */
  struct round_val forever = {1000000, 0};
  assert_int_equal(goro_run(round_fn, &forever), 0);
  tu_settle(0);
  tu_sleep_ms(50);
  int calls = atomic_load(&forever.calls);
  if (calls < 1 || calls > 4) fail_msg("a destructor that always re-sets ran %d times (1..4)", calls);
  assert_int_equal(goro_key_delete(g_round_key), 0);
  GASSERT_OK();
}

/* Plain threads: own values, destructors at thread exit. */
struct plain_ctx {
  goro_key_t key;
  pthread_barrier_t bar;
  int slot[4];
  int set_value;
};
static void *plain_main(void *arg) {
  struct plain_ctx *c = arg;
  static atomic_int next;
  int me = atomic_fetch_add(&next, 1) % 4;
  GCHECK(goro_self() == 0);
  GCHECK(goro_key_get(c->key) == NULL); /* a new thread starts with NULL */
  GCHECK_CMP(goro_key_set(c->key, &c->slot[me]), ==, 0);
  pthread_barrier_wait(&c->bar); /* all have set their values */
  GCHECK(goro_key_get(c->key) == &c->slot[me]);
  pthread_barrier_wait(&c->bar);
  if (c->set_value)
    GCHECK_CMP(goro_key_set(c->key, &dtor_token), ==, 0);
  else
    GCHECK_CMP(goro_key_set(c->key, NULL), ==, 0);
  return NULL;
}

static void test_plain_threads(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  tu_reset_fail();
  struct plain_ctx c;
  memset(&c, 0, sizeof c);
  assert_int_equal(goro_key_create(&c.key, dtor_count), 0);
  assert_int_equal(goro_key_set(c.key, &marker[13]), 0); /* this thread's own */
  for (int round = 0; round < 2; round++) {
    c.set_value = round == 0;
    atomic_store(&dtor_calls, 0);
    atomic_store(&dtor_bad_value, 0);
    assert_int_equal(pthread_barrier_init(&c.bar, NULL, 4), 0);
    pthread_t th[4];
    for (int i = 0; i < 4; i++) assert_int_equal(pthread_create(&th[i], NULL, plain_main, &c), 0);
    for (int i = 0; i < 4; i++) assert_int_equal(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&c.bar);
    /* A joined thread has exited, destructors included. */
    assert_int_equal(atomic_load(&dtor_calls), c.set_value ? 4 : 0);
    assert_int_equal(atomic_load(&dtor_bad_value), 0);
    assert_ptr_equal(goro_key_get(c.key), &marker[13]);
  }
  /* The plain thread's value is not a goroutine's. */
  assert_int_equal(goro_key_set(c.key, NULL), 0);
  assert_int_equal(goro_key_delete(c.key), 0);
  GASSERT_OK();
}

/* Exhaustion at GORO_KEYS_MAX. */
static int cmp_key(const void *a, const void *b) {
  goro_key_t x = *(const goro_key_t *)a, y = *(const goro_key_t *)b;
  return x < y ? -1 : x > y;
}
static void exhaust_in_goroutine(void *arg) {
  goro_key_t *k = arg;
  GCHECK_CMP(goro_key_create(k, NULL), ==, -EAGAIN);
}

static void test_key_exhaustion(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  tu_reset_fail();
  static goro_key_t keys[GORO_KEYS_MAX + 1];
  int n = 0;
  int r;
  while (n <= GORO_KEYS_MAX && (r = goro_key_create(&keys[n], NULL)) == 0) n++;
  if (n > GORO_KEYS_MAX) {
    for (int i = 0; i < n; i++) goro_key_delete(keys[i]);
    fail_msg("goro_key_create() succeeded %d times (GORO_KEYS_MAX is %d)", n, GORO_KEYS_MAX);
  }
  if (r != -EAGAIN) fail_msg("key #%d: goro_key_create() = %d, want -EAGAIN", n, r);
  /* All earlier tests deleted their keys: exactly GORO_KEYS_MAX fit. */
  assert_int_equal(n, GORO_KEYS_MAX);
  goro_key_t extra = 0;
  assert_int_equal(goro_key_create(&extra, NULL), -EAGAIN);
  assert_int_equal(goro_run(exhaust_in_goroutine, &extra), 0);
  /* All of them work. */
  for (int i = 0; i < n; i++) assert_int_equal(goro_key_set(keys[i], &keys[i]), 0);
  for (int i = 0; i < n; i++) assert_ptr_equal(goro_key_get(keys[i]), &keys[i]);
  static goro_key_t sorted[GORO_KEYS_MAX];
  memcpy(sorted, keys, (size_t)n * sizeof keys[0]);
  qsort(sorted, (size_t)n, sizeof sorted[0], cmp_key);
  for (int i = 1; i < n; i++)
    if (sorted[i] == sorted[i - 1]) fail_msg("key %u handed out twice", sorted[i]);
  for (int i = 0; i < n; i++) assert_int_equal(goro_key_set(keys[i], NULL), 0);
  /* Freeing one makes room for exactly one. */
  assert_int_equal(goro_key_delete(keys[5]), 0);
  goro_key_t again;
  assert_int_equal(goro_key_create(&again, NULL), 0);
  assert_int_equal(goro_key_create(&extra, NULL), -EAGAIN);
  assert_true(again != keys[5]);
  assert_int_equal(goro_key_set(keys[5], &marker[0]), -EINVAL);
  assert_int_equal(goro_key_delete(again), 0);
  /* Delete them all. */
  for (int i = 0; i < n; i++) {
    if (i == 5) continue;
    assert_int_equal(goro_key_delete(keys[i]), 0);
  }
  for (int i = 0; i < n; i++) assert_int_equal(goro_key_delete(keys[i]), -EINVAL);
  /* And the table is usable again. */
  for (int i = 0; i < n; i++) assert_int_equal(goro_key_create(&keys[i], NULL), 0);
  for (int i = 0; i < n; i++) assert_int_equal(goro_key_delete(keys[i]), 0);
  GASSERT_OK();
}

int main(void) {
  tu_apply_filter();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_basic_plain_thread),
      cmocka_unit_test(test_basic_goroutine),
      cmocka_unit_test(test_deleted_keys_stay_invalid),
      cmocka_unit_test(test_isolation),
      cmocka_unit_test(test_values_survive_switches),
      cmocka_unit_test(test_destructors_on_goroutine_exit),
      cmocka_unit_test(test_no_destructor_after_delete),
      cmocka_unit_test(test_destructor_rounds),
      cmocka_unit_test(test_plain_threads),
      cmocka_unit_test(test_key_exhaustion),
  };
  return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
