/*
 * test_go.c: spawning goroutines (goro_go, goro_go_opts, goro_run), ids,
 * goro_num_goroutine, goro_yield/goro_sleep, and a million live goroutines.
 * Tests that depend on the number of Ps run at maxprocs 1 and 2.
 */
#include "testutil.h"



static void nop(void *arg) { (void)arg; }

/* ------------------------------------------------------------------------- */

static void test_self_on_plain_thread(void **state) {
  (void)state;
  TU_WATCHDOG(10);
  assert_int_equal(goro_self(), 0);
  assert_int_equal(goro_self(), 0);
}

struct run_ctx {
  atomic_int done;
  uint64_t self;
  int64_t slept_ns;
};
static void run_fn(void *arg) {
  struct run_ctx *c = arg;
  c->self = goro_self();
  int64_t t0 = tu_now_ns();
  goro_sleep(20 * TU_MS);
  c->slept_ns = tu_now_ns() - t0;
  atomic_store(&c->done, 1);
}

static void test_run(void **state) {
  (void)state;
  TU_WATCHDOG(20);
  for (int procs = 1; procs <= 2; procs++) {
    goro_maxprocs(procs);
    struct run_ctx c = {0, 0, 0};
    assert_int_equal(goro_run(run_fn, &c), 0);
    /* goro_run() returns only after fn returned. */
    assert_int_equal(atomic_load(&c.done), 1);
    ASSERT_CMP(c.self, !=, 0);
    ASSERT_CMP(c.slept_ns, >=, 20 * TU_MS);
  }
  assert_int_equal(goro_run(NULL, NULL), -EINVAL);
  assert_int_equal(goro_go(NULL, NULL), -EINVAL);
  assert_int_equal(goro_go(NULL, &state), -EINVAL);
  goro_go_opts_t o = GORO_GO_OPTS_INIT;
  uint64_t id = 77;
  assert_int_equal(goro_go_opts(&o, NULL, NULL, &id), -EINVAL);
  tu_settle(0);
}

/* goro_run() from inside a goroutine parks it and returns after fn. */
static void nested_inner(void *arg) {
  goro_sleep(5 * TU_MS);
  atomic_fetch_add((atomic_int *)arg, 1);
}
static void nested_outer(void *arg) {
  atomic_int *cnt = arg;
  for (int i = 0; i < 10; i++) {
    GCHECK_CMP(goro_run(nested_inner, cnt), ==, 0);
    GCHECK_CMP(atomic_load(cnt), ==, i + 1);
  }
}
static void test_run_nested(void **state) {
  (void)state;
  TU_WATCHDOG(20);
  tu_reset_fail();
  for (int procs = 1; procs <= 2; procs++) {
    goro_maxprocs(procs);
    atomic_int cnt = 0;
    assert_int_equal(goro_run(nested_outer, &cnt), 0);
    assert_int_equal(atomic_load(&cnt), 10);
  }
  GASSERT_OK();
  tu_settle(0);
}

/* goro_go from inside goroutines. */
struct spawn_ctx {
  goro_wg_t *wg;
  atomic_int count;
  int n;
};
static void child_fn(void *arg) {
  struct spawn_ctx *c = arg;
  GCHECK(goro_self() != 0);
  atomic_fetch_add(&c->count, 1);
  GCHECK_CMP(goro_wg_done(c->wg), ==, 0);
}
static void spawner_fn(void *arg) {
  struct spawn_ctx *c = arg;
  goro_wg_t *mine;
  GCHECK_CMP(goro_wg_new(&mine), ==, 0);
  struct spawn_ctx local = {mine, 0, 0};
  for (int i = 0; i < c->n; i++) {
    GCHECK_CMP(goro_wg_add(mine, 1), ==, 0);
    GCHECK_CMP(goro_go(child_fn, &local), ==, 0);
    if (i % 97 == 0) goro_yield();
  }
  GCHECK_CMP(goro_wg_wait(mine), ==, 0);
  GCHECK_CMP(atomic_load(&local.count), ==, c->n);
  atomic_fetch_add(&c->count, atomic_load(&local.count));
  GCHECK_CMP(goro_wg_free(mine), ==, 0);
}
static void test_go_from_goroutine(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  tu_reset_fail();
  for (int procs = 1; procs <= 2; procs++) {
    goro_maxprocs(procs);
    struct spawn_ctx c = {NULL, 0, TU_SCALE(20000, 5000, 2000)};
    assert_int_equal(goro_run(spawner_fn, &c), 0);
    ASSERT_EQ(atomic_load(&c.count), c.n);
    GASSERT_OK();
    tu_settle(0);
  }
}

/* goro_go from several plain threads at once. */
enum { FOREIGN_THREADS = 4 };
struct foreign_ctx {
  goro_wg_t *wg;
  atomic_int count;
  atomic_int ready;
  atomic_int go;
  int per_thread;
};
static void foreign_child(void *arg) {
  struct foreign_ctx *c = arg;
  GCHECK(goro_self() != 0);
  if (atomic_fetch_add(&c->count, 1) % 128 == 0) goro_yield();
  GCHECK_CMP(goro_wg_done(c->wg), ==, 0);
}
static void *foreign_main(void *arg) {
  struct foreign_ctx *c = arg;
  GCHECK_CMP(goro_self(), ==, 0);
  atomic_fetch_add(&c->ready, 1);
  while (!atomic_load(&c->go)) sched_yield();
  for (int i = 0; i < c->per_thread; i++) {
    GCHECK_CMP(goro_wg_add(c->wg, 1), ==, 0);
    int r = goro_go(foreign_child, c);
    GCHECK_CMP(r, ==, 0);
    if (r != 0) goro_wg_done(c->wg);
  }
  return NULL;
}
static void test_go_from_foreign_threads(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  tu_reset_fail();
  for (int procs = 1; procs <= 2; procs++) {
    goro_maxprocs(procs);
    struct foreign_ctx c;
    memset(&c, 0, sizeof c);
    assert_int_equal(goro_wg_new(&c.wg), 0);
    c.per_thread = TU_SCALE(25000, 5000, 2000);
    /* Hold the counter up while the threads spawn. */
    assert_int_equal(goro_wg_add(c.wg, 1), 0);
    pthread_t th[FOREIGN_THREADS];
    for (int i = 0; i < FOREIGN_THREADS; i++)
      assert_int_equal(pthread_create(&th[i], NULL, foreign_main, &c), 0);
    while (atomic_load(&c.ready) < FOREIGN_THREADS) sched_yield();
    atomic_store(&c.go, 1);
    for (int i = 0; i < FOREIGN_THREADS; i++) assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(goro_wg_done(c.wg), 0);
    assert_int_equal(goro_wg_wait(c.wg), 0);
    ASSERT_EQ(atomic_load(&c.count), FOREIGN_THREADS * c.per_thread);
    GASSERT_OK();
    tu_settle(0);
    assert_int_equal(goro_wg_free(c.wg), 0);
  }
}

/* goro_go_opts: names, stack sizes, ids. */
enum { OPTS_N = 200 };
struct opts_ctx {
  goro_wg_t *wg;
  uint64_t seen[OPTS_N];
  volatile char *touch_to;
};
struct opts_arg {
  struct opts_ctx *c;
  int i;
  size_t touch;
};
static void opts_child(void *arg) {
  struct opts_arg *a = arg;
  a->c->seen[a->i] = goro_self();
  if (a->touch) {
    /* Use part of the stack that was asked for. */
    volatile char buf[8192];
    size_t n = a->touch < sizeof buf ? a->touch : sizeof buf;
    for (size_t k = 0; k < n; k += 512) buf[k] = (char)k;
  }
  goro_yield();
  GCHECK_CMP(goro_self(), ==, a->c->seen[a->i]);
  GCHECK_CMP(goro_wg_done(a->c->wg), ==, 0);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void test_go_opts(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  tu_reset_fail();
  static struct opts_ctx c;
  static struct opts_arg args[OPTS_N];
  uint64_t ids[OPTS_N];
  memset(&c, 0, sizeof c);
  assert_int_equal(goro_wg_new(&c.wg), 0);
  static const char *names[] = {NULL, "", "worker",
                                "a-name-that-is-much-longer-than-thirty-one-bytes-kept"};
  static const size_t stacks[] = {0, GORO_STACK_MIN, GORO_STACK_MIN + 1, 100000, 256 * 1024,
                                  1024 * 1024};
  for (int i = 0; i < OPTS_N; i++) {
    char namebuf[64];
    goro_go_opts_t o = GORO_GO_OPTS_INIT;
    o.stack_size = stacks[i % (sizeof stacks / sizeof stacks[0])];
    const char *nm = names[i % 4];
    if (nm) {
      snprintf(namebuf, sizeof namebuf, "%s", nm);
      o.name = namebuf; /* copied: the buffer goes out of scope */
    }
    args[i].c = &c;
    args[i].i = i;
    args[i].touch = o.stack_size ? o.stack_size / 2 : 0;
    ids[i] = 0;
    assert_int_equal(goro_wg_add(c.wg, 1), 0);
    int r = goro_go_opts(&o, opts_child, &args[i], &ids[i]);
    if (r != 0) fail_msg("goro_go_opts #%d (stack %zu) = %d", i, o.stack_size, r);
    memset(namebuf, 'X', sizeof namebuf);
    ASSERT_CMP(ids[i], !=, 0);
  }
  assert_int_equal(goro_wg_wait(c.wg), 0);
  GASSERT_OK();
  for (int i = 0; i < OPTS_N; i++)
    if (c.seen[i] != ids[i])
      fail_msg("goroutine %d: goro_self() = %" PRIu64 " inside, id out = %" PRIu64, i, c.seen[i],
               ids[i]);
  /* NULL id pointer is allowed. */
  goro_go_opts_t o = GORO_GO_OPTS_INIT;
  assert_int_equal(goro_wg_add(c.wg, 1), 0);
  struct opts_arg extra = {&c, 0, 0};
  assert_int_equal(goro_go_opts(&o, opts_child, &extra, NULL), 0);
  assert_int_equal(goro_wg_wait(c.wg), 0);
  /* Unique ids; ids are never reused, so a second batch is new too. */
  uint64_t all[2 * OPTS_N];
  memcpy(all, ids, sizeof ids);
  for (int i = 0; i < OPTS_N; i++) {
    goro_go_opts_t o2 = GORO_GO_OPTS_INIT;
    args[i].touch = 0;
    assert_int_equal(goro_wg_add(c.wg, 1), 0);
    assert_int_equal(goro_go_opts(&o2, opts_child, &args[i], &all[OPTS_N + i]), 0);
  }
  assert_int_equal(goro_wg_wait(c.wg), 0);
  qsort(all, 2 * OPTS_N, sizeof all[0], cmp_u64);
  ASSERT_CMP(all[0], >=, 1);
  for (int i = 1; i < 2 * OPTS_N; i++)
    if (all[i] == all[i - 1]) fail_msg("goroutine id %" PRIu64 " given out twice", all[i]);
  GASSERT_OK();
  tu_settle(0);
  assert_int_equal(goro_wg_free(c.wg), 0);
}

static atomic_int bad_opts_ran;
static void bad_opts_fn(void *arg) {
  (void)arg;
  atomic_fetch_add(&bad_opts_ran, 1);
}

static void expect_opts_error(const goro_go_opts_t *o, int want, const char *what) {
  uint64_t id = 0;
  int r = goro_go_opts(o, bad_opts_fn, NULL, &id);
  if (r != want) fail_msg("goro_go_opts(%s) = %d (%s), want %d", what, r, goro_strerror(r), want);
}

static void test_go_opts_bad(void **state) {
  (void)state;
  TU_WATCHDOG(20);
  atomic_store(&bad_opts_ran, 0);
  goro_go_opts_t o;
  expect_opts_error(NULL, -EINVAL, "NULL opts");
  o = (goro_go_opts_t)GORO_GO_OPTS_INIT;
  o.size = 0;
  expect_opts_error(&o, -EINVAL, "size 0");
  o.size = 1;
  expect_opts_error(&o, -EINVAL, "size 1");
  o = (goro_go_opts_t)GORO_GO_OPTS_INIT;
  o.stack_size = 1;
  expect_opts_error(&o, -EINVAL, "stack 1");
  o.stack_size = GORO_STACK_MIN - 1;
  expect_opts_error(&o, -EINVAL, "stack MIN-1");
  o.stack_size = (size_t)GORO_STACK_MAX + 1;
  expect_opts_error(&o, -EINVAL, "stack MAX+1");
  o.stack_size = SIZE_MAX;
  expect_opts_error(&o, -EINVAL, "stack SIZE_MAX");
  /* Larger struct from a newer program. */
  struct {
    goro_go_opts_t o;
    unsigned char tail[24];
  } big;
  memset(&big, 0, sizeof big);
  big.o.size = sizeof big;
  big.tail[7] = 0x80;
  expect_opts_error(&big.o, -E2BIG, "larger struct, non-zero tail");
  tu_sleep_ms(20);
  assert_int_equal(atomic_load(&bad_opts_ran), 0); /* nothing was started */

  memset(&big, 0, sizeof big);
  big.o.size = sizeof big;
  big.o.name = "bigger";
  uint64_t id = 0;
  assert_int_equal(goro_go_opts(&big.o, bad_opts_fn, NULL, &id), 0);
  ASSERT_CMP(id, !=, 0);
  /* The extremes of the range are accepted. */
  o = (goro_go_opts_t)GORO_GO_OPTS_INIT;
  o.stack_size = GORO_STACK_MAX;
  assert_int_equal(goro_go_opts(&o, bad_opts_fn, NULL, NULL), 0);
  o.stack_size = GORO_STACK_MIN;
  assert_int_equal(goro_go_opts(&o, bad_opts_fn, NULL, NULL), 0);
  /* An older program's smaller struct (size and stack_size only): name takes
   * its default whatever the memory holds. */
  memset(&o, 0xff, sizeof o);
  o.size = offsetof(goro_go_opts_t, name);
  o.stack_size = 0;
  assert_int_equal(goro_go_opts(&o, bad_opts_fn, NULL, NULL), 0);
  tu_settle(0);
  assert_int_equal(atomic_load(&bad_opts_ran), 4);
}

/* goro_num_goroutine follows the live goroutines. */
struct gate {
  goro_wg_t *gate;
  goro_wg_t *done;
  atomic_int started;
};
static void gated_fn(void *arg) {
  struct gate *g = arg;
  atomic_fetch_add(&g->started, 1);
  GCHECK_CMP(goro_wg_wait(g->gate), ==, 0);
  GCHECK_CMP(goro_wg_done(g->done), ==, 0);
}
static void count_inside(void *arg) {
  int *out = arg;
  *out = goro_num_goroutine();
}

static void test_num_goroutine(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  tu_reset_fail();
  tu_settle(0);
  int inside = -1;
  assert_int_equal(goro_run(count_inside, &inside), 0);
  ASSERT_EQ(inside, 1); /* itself */
  tu_settle(0);

  struct gate g;
  memset(&g, 0, sizeof g);
  assert_int_equal(goro_wg_new(&g.gate), 0);
  assert_int_equal(goro_wg_new(&g.done), 0);
  assert_int_equal(goro_wg_add(g.gate, 1), 0);
  for (int round = 1; round <= 3; round++) {
    int n = 100 * round;
    for (int i = 0; i < 100; i++) {
      assert_int_equal(goro_wg_add(g.done, 1), 0);
      assert_int_equal(goro_go(gated_fn, &g), 0);
    }
    /* Spawned goroutines exist from the moment goro_go() returns, whether
     * they have started or not. */
    ASSERT_EQ(goro_num_goroutine(), n);
  }
  int64_t end = tu_now_ns() + 10000 * TU_MS;
  while (atomic_load(&g.started) < 300 && tu_now_ns() < end) tu_sleep_ms(1);
  ASSERT_EQ(atomic_load(&g.started), 300);
  ASSERT_EQ(goro_num_goroutine(), 300); /* parked ones count */
  inside = -1;
  assert_int_equal(goro_run(count_inside, &inside), 0);
  ASSERT_EQ(inside, 301);
  assert_int_equal(goro_wg_add(g.gate, -1), 0);
  assert_int_equal(goro_wg_wait(g.done), 0);
  tu_settle(0);
  GASSERT_OK();
  assert_int_equal(goro_wg_free(g.gate), 0);
  assert_int_equal(goro_wg_free(g.done), 0);
}

/* A million goroutines alive at once. */
static void test_million_goroutines(void **state) {
  (void)state;
  TU_WATCHDOG(240);
  tu_reset_fail();
  /* TSan: every fiber costs ~9 memory mappings (TSan's own included), so about
   * 7,000 live goroutines exhaust vm.max_map_count (65530); stay well below. */
  const int n = TU_SCALE(1000000, 100000, 2000);
  goro_maxprocs(2);
  tu_settle(0);
  struct gate g;
  memset(&g, 0, sizeof g);
  assert_int_equal(goro_wg_new(&g.gate), 0);
  assert_int_equal(goro_wg_new(&g.done), 0);
  assert_int_equal(goro_wg_add(g.gate, 1), 0);
  assert_int_equal(goro_wg_add(g.done, n), 0);
  int64_t t0 = tu_now_ns();
  for (int i = 0; i < n; i++) {
    int r = goro_go(gated_fn, &g);
    if (r != 0) {
      /* Open the gate so the ones already spawned can end. */
      goro_wg_add(g.gate, -1);
      fail_msg("goro_go #%d of %d failed: %d (%s)", i, n, r, goro_strerror(r));
    }
  }
  int64_t t1 = tu_now_ns();
  int64_t end = tu_now_ns() + 180000 * TU_MS;
  while (atomic_load(&g.started) < n && tu_now_ns() < end) tu_sleep_ms(5);
  int64_t t2 = tu_now_ns();
  ASSERT_EQ(atomic_load(&g.started), n);
  ASSERT_EQ(goro_num_goroutine(), n);
  print_message("%d goroutines: spawned in %.2f s, all parked after %.2f s, RSS %ld MiB\n", n,
                (double)(t1 - t0) / 1e9, (double)(t2 - t0) / 1e9, tu_rss_kib() / 1024);
  assert_int_equal(goro_wg_add(g.gate, -1), 0);
  assert_int_equal(goro_wg_wait(g.done), 0);
  tu_settle(0);
  GASSERT_OK();
  assert_int_equal(goro_wg_free(g.gate), 0);
  assert_int_equal(goro_wg_free(g.done), 0);
}

/* goro_yield and goro_sleep on goroutines and plain threads. */
struct sleep_arg {
  goro_wg_t *wg;
  int64_t want_ns;
};
static void sleep_check_fn(void *arg) {
  struct sleep_arg *a = arg;
  GCHECK_CMP(goro_yield(), ==, 0);
  int64_t t0 = tu_now_ns();
  GCHECK_CMP(goro_sleep(a->want_ns), ==, 0);
  int64_t d = tu_now_ns() - t0;
  GCHECK_CMP(d, >=, a->want_ns);
  GCHECK_CMP(d, <, a->want_ns + 5000 * TU_MS); /* generous: it does wake up */
  GCHECK_CMP(goro_yield(), ==, 0);
  t0 = tu_now_ns();
  GCHECK_CMP(goro_sleep(0), ==, 0);
  GCHECK_CMP(goro_sleep(-1), ==, 0);
  GCHECK_CMP(goro_sleep(INT64_MIN), ==, 0);
  GCHECK_CMP(tu_now_ns() - t0, <, 2000 * TU_MS);
  GCHECK_CMP(goro_wg_done(a->wg), ==, 0);
}

static void test_yield_and_sleep(void **state) {
  (void)state;
  TU_WATCHDOG(40);
  tu_reset_fail();
  /* Plain thread. */
  assert_int_equal(goro_yield(), 0);
  for (int64_t ns = 1; ns <= 30 * TU_MS; ns *= 7) {
    int64_t t0 = tu_now_ns();
    assert_int_equal(goro_sleep(ns), 0);
    ASSERT_CMP(tu_now_ns() - t0, >=, ns);
  }
  int64_t t0 = tu_now_ns();
  assert_int_equal(goro_sleep(0), 0);
  assert_int_equal(goro_sleep(-5), 0);
  assert_int_equal(goro_sleep(INT64_MIN), 0);
  ASSERT_CMP(tu_now_ns() - t0, <, 2000 * TU_MS);

  /* Goroutines, many sleeping at once with different durations. */
  enum { N = 200 };
  static struct sleep_arg args[N];
  for (int procs = 1; procs <= 2; procs++) {
    goro_maxprocs(procs);
    goro_wg_t *wg;
    assert_int_equal(goro_wg_new(&wg), 0);
    assert_int_equal(goro_wg_add(wg, N), 0);
    for (int i = 0; i < N; i++) {
      args[i].wg = wg;
      /* 1 ns .. 50 ms, in a scrambled order. */
      args[i].want_ns = i % 5 == 0 ? 1 + i : (int64_t)((i * 7919) % 50) * TU_MS + i;
      assert_int_equal(goro_go(sleep_check_fn, &args[i]), 0);
    }
    assert_int_equal(goro_wg_wait(wg), 0);
    GASSERT_OK();
    tu_settle(0);
    assert_int_equal(goro_wg_free(wg), 0);
  }
}

/* Sleeps on one P do not hold up other goroutines. */
static void sleep_long_fn(void *arg) {
  goro_sleep(300 * TU_MS);
  atomic_store((atomic_int *)arg, 1);
}
static void quick_fn(void *arg) { atomic_fetch_add((atomic_int *)arg, 1); }
static void test_sleep_parks_only_goroutine(void **state) {
  (void)state;
  TU_WATCHDOG(20);
  goro_maxprocs(1);
  atomic_int slept = 0, quick = 0;
  int64_t t0 = tu_now_ns();
  assert_int_equal(goro_go(sleep_long_fn, &slept), 0);
  tu_sleep_ms(10);
  for (int i = 0; i < 10; i++) assert_int_equal(goro_run(quick_fn, &quick), 0);
  /* The ten goro_run()s did not wait for the sleeper: not a timed claim on
   * speed, only that they finished while it still slept. */
  assert_int_equal(atomic_load(&quick), 10);
  if (tu_now_ns() - t0 < 250 * TU_MS) assert_int_equal(atomic_load(&slept), 0);
  tu_settle(0);
  assert_int_equal(atomic_load(&slept), 1);
  goro_maxprocs(2);
}

/* A tree of goroutines: each node spawns `fanout` children and waits. */
struct tree_ctx {
  atomic_long nodes;
  int fanout;
  int depth;
};
struct tree_node {
  struct tree_ctx *ctx;
  int level;
  goro_wg_t *parent_wg;
};
static void tree_fn(void *arg) {
  struct tree_node *me = arg;
  struct tree_ctx *ctx = me->ctx;
  atomic_fetch_add(&ctx->nodes, 1);
  if (me->level < ctx->depth) {
    goro_wg_t *wg;
    GCHECK_CMP(goro_wg_new(&wg), ==, 0);
    struct tree_node kids[8];
    for (int i = 0; i < ctx->fanout; i++) {
      kids[i].ctx = ctx;
      kids[i].level = me->level + 1;
      kids[i].parent_wg = wg;
      GCHECK_CMP(goro_wg_add(wg, 1), ==, 0);
      GCHECK_CMP(goro_go(tree_fn, &kids[i]), ==, 0);
      if (i == 1) goro_yield();
    }
    GCHECK_CMP(goro_wg_wait(wg), ==, 0);
    GCHECK_CMP(goro_wg_free(wg), ==, 0);
  }
  if (me->parent_wg) GCHECK_CMP(goro_wg_done(me->parent_wg), ==, 0);
}

static void test_tree(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  tu_reset_fail();
  for (int procs = 1; procs <= 2; procs++) {
    goro_maxprocs(procs);
    struct tree_ctx ctx;
    atomic_store(&ctx.nodes, 0);
    ctx.fanout = 4;
    ctx.depth = TU_SCALE(7, 6, 5);
    long want = 0, level = 1;
    for (int d = 0; d <= ctx.depth; d++, level *= ctx.fanout) want += level;
    struct tree_node root = {&ctx, 0, NULL};
    assert_int_equal(goro_run(tree_fn, &root), 0);
    ASSERT_EQ(atomic_load(&ctx.nodes), want);
    GASSERT_OK();
    tu_settle(0);
  }
  goro_maxprocs(2);
}

/* Deep chain: each goroutine spawns the next and waits for it by goro_run. */
static void chain_fn(void *arg) {
  int *left = arg;
  if (--*left > 0) GCHECK_CMP(goro_run(chain_fn, left), ==, 0);
}
static void test_chain(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  tu_reset_fail();
  int left = TU_SCALE(5000, 2000, 500);
  assert_int_equal(goro_run(chain_fn, &left), 0);
  assert_int_equal(left, 0);
  GASSERT_OK();
  tu_settle(0);
}

/* Lots of short goroutines spawned and finished quickly (nop). */
static void test_many_short(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  for (int i = 0; i < TU_SCALE(100000, 20000, 5000); i++) assert_int_equal(goro_go(nop, NULL), 0);
  tu_settle(0);
}

int main(void) {
  tu_apply_filter();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_self_on_plain_thread),
      cmocka_unit_test(test_run),
      cmocka_unit_test(test_run_nested),
      cmocka_unit_test(test_go_from_goroutine),
      cmocka_unit_test(test_go_from_foreign_threads),
      cmocka_unit_test(test_go_opts),
      cmocka_unit_test(test_go_opts_bad),
      cmocka_unit_test(test_num_goroutine),
      cmocka_unit_test(test_yield_and_sleep),
      cmocka_unit_test(test_sleep_parks_only_goroutine),
      cmocka_unit_test(test_tree),
      cmocka_unit_test(test_chain),
      cmocka_unit_test(test_many_short),
      cmocka_unit_test(test_million_goroutines),
  };
  return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
