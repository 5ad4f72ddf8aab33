/*
 * test_runtime.c: version, errors, goro_init()/goro_shutdown() and the
 * runtime's life cycle.
 *
 * The tests run in list order in one process and manage the runtime
 * themselves (no group setup): the first one checks the lazy start, which is
 * only possible before the first goro_shutdown() of the process.
 */
#include "testutil.h"

#include <sys/wait.h>

/* ------------------------------------------------------------------------- */

static void nop(void *arg) { (void)arg; }

static void count_fn(void *arg) {
  atomic_fetch_add((atomic_int *)arg, 1);
}

struct gate {
  goro_wg_t *gate; /* counter 1 while closed */
  goro_wg_t *done;
  atomic_int started;
};

static void gated_fn(void *arg) {
  struct gate *g = arg;
  atomic_fetch_add(&g->started, 1);
  GCHECK_CMP(goro_wg_wait(g->gate), ==, 0);
  goro_yield();
  goro_sleep(100 * TU_US);
  GCHECK_CMP(goro_wg_done(g->done), ==, 0);
}

/* WaitGroups whose waiters were abandoned by goro_shutdown() are not freed;
 * they stay reachable from here so that LeakSanitizer does not report them. */
static goro_wg_t *g_kept[256];
static int g_nkept;
static void keep(goro_wg_t *wg) {
  if (g_nkept < (int)(sizeof g_kept / sizeof g_kept[0])) g_kept[g_nkept++] = wg;
}

static void gate_open(struct gate *g) {
  assert_int_equal(goro_wg_new(&g->gate), 0);
  assert_int_equal(goro_wg_new(&g->done), 0);
  assert_int_equal(goro_wg_add(g->gate, 1), 0);
  atomic_store(&g->started, 0);
}

/* ------------------------------------------------------------------------- */
/* Version and errors                                                         */
/* ------------------------------------------------------------------------- */

static void test_version(void **state) {
  (void)state;
  TU_WATCHDOG(10);
  assert_int_equal(GORO_VERSION_NUMBER,
                   GORO_VERSION_MAJOR * 10000 + GORO_VERSION_MINOR * 100 + GORO_VERSION_PATCH);
  char want[32];
  snprintf(want, sizeof want, "%d.%d.%d", GORO_VERSION_MAJOR, GORO_VERSION_MINOR,
           GORO_VERSION_PATCH);
  assert_string_equal(want, GORO_VERSION_STRING);

  /* The library under test is the one built with this header. */
  assert_int_equal(goro_version(), GORO_VERSION_NUMBER);
  const char *s = goro_version_string();
  assert_non_null(s);
  assert_string_equal(s, GORO_VERSION_STRING);
  assert_ptr_equal(s, goro_version_string()); /* static string */

  /* The string and the number describe the same version. */
  unsigned maj, min, pat;
  char extra;
  assert_int_equal(sscanf(s, "%u.%u.%u%c", &maj, &min, &pat, &extra), 3);
  assert_int_equal(maj * 10000 + min * 100 + pat, goro_version());
  /* Works before the runtime runs and does not start it. */
  assert_int_equal(goro_num_goroutine(), 0);
}

static void check_msg(int err) {
  const char *m = goro_strerror(err);
  if (m == NULL) fail_msg("goro_strerror(%d) returned NULL", err);
  if (m[0] == '\0') fail_msg("goro_strerror(%d) returned an empty string", err);
}

static void test_strerror(void **state) {
  (void)state;
  TU_WATCHDOG(10);
  static const int codes[] = {EINVAL, ENOMEM, EAGAIN, EALREADY, EDEADLK, EPERM, EBUSY,
                              ERANGE, E2BIG,  ESHUTDOWN, ETIMEDOUT, ECANCELED, EPIPE};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    int e = codes[i];
    check_msg(e);
    check_msg(-e);
    /* Either sign gives the same description. */
    assert_string_equal(goro_strerror(e), goro_strerror(-e));
  }
  /* Codes without a goro-specific meaning get the C library's description. */
  assert_string_equal(goro_strerror(-EINVAL), strerror(EINVAL));
  assert_string_equal(goro_strerror(-ENOMEM), strerror(ENOMEM));
  assert_string_equal(goro_strerror(EPIPE), strerror(EPIPE));

  /* -ESHUTDOWN has goro's own wording. */
  const char *sd = goro_strerror(-ESHUTDOWN);
  assert_non_null(sd);
  if (strstr(sd, "goro") == NULL || strstr(sd, "shut") == NULL)
    fail_msg("goro_strerror(-ESHUTDOWN) = \"%s\": expected goro's wording "
             "(\"goro runtime is shut down\")", sd);

  /* Zero and unknown codes, including the extremes of int: never NULL. */
  static const int odd[] = {0, 4095, -4095, 99999, -99999, 123456789, -123456789,
                            INT_MAX, INT_MIN, INT_MIN + 1};
  for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) check_msg(odd[i]);
}

/* ------------------------------------------------------------------------- */
/* Life cycle                                                                 */
/* ------------------------------------------------------------------------- */

/* In a child: the first call is goro_run (0), goro_go (1) or goro_go_opts (2). */
static int lazy_child(int which) {
  atomic_int cnt = 0;
  int r;
  if (which == 0) {
    r = goro_run(count_fn, &cnt);
  } else if (which == 1) {
    r = goro_go(count_fn, &cnt);
  } else {
    goro_go_opts_t o = GORO_GO_OPTS_INIT;
    uint64_t id = 0;
    r = goro_go_opts(&o, count_fn, &cnt, &id);
    if (r == 0 && id == 0) return 20;
  }
  if (r != 0) return 10 + which;
  int64_t end = tu_now_ns() + 10000 * TU_MS;
  while (atomic_load(&cnt) == 0 && tu_now_ns() < end) tu_sleep_ms(1);
  if (atomic_load(&cnt) != 1) return 21;
  if (goro_maxprocs(0) < 1) return 22;
  if (tu_wait_goroutines(0, 5000) != 0) return 23;
  if (goro_shutdown() != 0) return 24;
  if (goro_go(count_fn, &cnt) != -ESHUTDOWN) return 25; /* no lazy restart */
  return 0;
}

/* Must run first: the runtime starts lazily only before its first shutdown. */
static void test_lazy_start(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  /* Each spawning call starts the runtime (in a child, as that can happen
   * only once per process). */
  for (int which = 0; which < 3; which++) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      tu_child_reset_signals();
      alarm(30);
      _exit(lazy_child(which));
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
      fail_msg("lazy start by %s: child %s %d", which == 0 ? "goro_run" : which == 1 ? "goro_go" : "goro_go_opts",
               WIFEXITED(st) ? "exited with" : "killed by signal",
               WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
  }
  assert_int_equal(goro_num_goroutine(), 0);    /* does not start it */
  int n = goro_maxprocs(0);                      /* starts it */
  ASSERT_CMP(n, >=, 1);
  assert_int_equal(goro_init(NULL), -EALREADY);
  atomic_int cnt = 0;
  assert_int_equal(goro_run(count_fn, &cnt), 0);
  assert_int_equal(atomic_load(&cnt), 1);
  assert_int_equal(goro_shutdown(), 0);
  assert_int_equal(goro_shutdown(), -EALREADY);
}

static void test_init_null(void **state) {
  (void)state;
  TU_WATCHDOG(20);
  assert_int_equal(goro_init(NULL), 0);
  ASSERT_CMP(goro_maxprocs(0), >=, 1);
  atomic_int cnt = 0;
  assert_int_equal(goro_run(count_fn, &cnt), 0);
  assert_int_equal(cnt, 1);
  assert_int_equal(goro_shutdown(), 0);
}

static void test_init_config(void **state) {
  (void)state;
  TU_WATCHDOG(20);
  for (int procs = 1; procs <= 3; procs++) {
    goro_config_t cfg = GORO_CONFIG_INIT;
    cfg.maxprocs = procs;
    cfg.stack_size = GORO_STACK_MIN;
    cfg.exception_policy = GORO_EXCEPTION_CONTINUE;
    cfg.guarded_stacks = 100;
    assert_int_equal(goro_init(&cfg), 0);
    assert_int_equal(goro_maxprocs(0), procs);
    atomic_int cnt = 0;
    assert_int_equal(goro_run(count_fn, &cnt), 0);
    assert_int_equal(cnt, 1);
    assert_int_equal(goro_shutdown(), 0);
  }
  /* A stack size that is not a whole number of pages is rounded up. */
  goro_config_t cfg = GORO_CONFIG_INIT;
  cfg.stack_size = GORO_STACK_MIN + 100;
  cfg.guarded_stacks = -1;
  assert_int_equal(goro_init(&cfg), 0);
  assert_int_equal(goro_run(nop, NULL), 0);
  assert_int_equal(goro_shutdown(), 0);
  /* memset + size, as the header allows. */
  memset(&cfg, 0, sizeof cfg);
  cfg.size = sizeof cfg;
  assert_int_equal(goro_init(&cfg), 0);
  assert_int_equal(goro_run(nop, NULL), 0);
  assert_int_equal(goro_shutdown(), 0);
}

/* The runtime must not be running after a rejected goro_init(). */
static void expect_init_error(const goro_config_t *cfg, int want, const char *what) {
  int r = goro_init(cfg);
  if (r != want) {
    if (r == 0) goro_shutdown();
    fail_msg("goro_init(%s) = %d (%s), want %d", what, r, goro_strerror(r), want);
  }
  int s = goro_shutdown();
  if (s != -EALREADY) fail_msg("after rejected goro_init(%s) the runtime runs (shutdown=%d)", what, s);
}

static void test_init_bad_config(void **state) {
  (void)state;
  TU_WATCHDOG(20);
  goro_config_t cfg;

  cfg = (goro_config_t)GORO_CONFIG_INIT;
  cfg.size = 0;
  expect_init_error(&cfg, -EINVAL, "size 0");
  cfg.size = sizeof(size_t) - 1;
  expect_init_error(&cfg, -EINVAL, "size < sizeof(size_t)");

  cfg = (goro_config_t)GORO_CONFIG_INIT;
  cfg.maxprocs = -1;
  expect_init_error(&cfg, -EINVAL, "maxprocs -1");
  cfg.maxprocs = INT_MIN;
  expect_init_error(&cfg, -EINVAL, "maxprocs INT_MIN");
  cfg.maxprocs = GORO_MAXPROCS_MAX + 1;
  expect_init_error(&cfg, -EINVAL, "maxprocs MAX+1");
  cfg.maxprocs = INT_MAX;
  expect_init_error(&cfg, -EINVAL, "maxprocs INT_MAX");

  cfg = (goro_config_t)GORO_CONFIG_INIT;
  cfg.stack_size = 1;
  expect_init_error(&cfg, -EINVAL, "stack_size 1");
  cfg.stack_size = GORO_STACK_MIN - 1;
  expect_init_error(&cfg, -EINVAL, "stack_size MIN-1");
  cfg.stack_size = (size_t)GORO_STACK_MAX + 1;
  expect_init_error(&cfg, -EINVAL, "stack_size MAX+1");
  cfg.stack_size = SIZE_MAX;
  expect_init_error(&cfg, -EINVAL, "stack_size SIZE_MAX");

  cfg = (goro_config_t)GORO_CONFIG_INIT;
  cfg.exception_policy = 2;
  expect_init_error(&cfg, -EINVAL, "exception_policy 2");
  cfg.exception_policy = -1;
  expect_init_error(&cfg, -EINVAL, "exception_policy -1");

  /* A newer program's larger struct: unknown non-zero bytes are refused. */
  struct {
    goro_config_t c;
    unsigned char tail[40];
  } big;
  for (size_t pos = 0; pos < sizeof big.tail; pos += 13) {
    memset(&big, 0, sizeof big);
    big.c.size = sizeof big;
    big.tail[pos] = 1;
    expect_init_error(&big.c, -E2BIG, "larger struct, non-zero tail");
  }
  /* E2BIG is about the tail only: a bad known field next to a zero tail is EINVAL. */
  memset(&big, 0, sizeof big);
  big.c.size = sizeof big;
  big.c.maxprocs = -5;
  expect_init_error(&big.c, -EINVAL, "larger struct, zero tail, bad maxprocs");

  /* ... and accepted when the unknown bytes are zero. */
  memset(&big, 0, sizeof big);
  big.c.size = sizeof big;
  big.c.maxprocs = 2;
  assert_int_equal(goro_init(&big.c), 0);
  assert_int_equal(goro_maxprocs(0), 2);
  assert_int_equal(goro_run(nop, NULL), 0);
  assert_int_equal(goro_shutdown(), 0);

  /* An older program's smaller struct: fields past its size take their
   * defaults, whatever the memory there holds. */
  memset(&cfg, 0xff, sizeof cfg);
  cfg.size = offsetof(goro_config_t, maxprocs) + sizeof(int);
  cfg.maxprocs = 1;
  assert_int_equal(goro_init(&cfg), 0);
  assert_int_equal(goro_maxprocs(0), 1);
  assert_int_equal(goro_run(nop, NULL), 0);
  assert_int_equal(goro_shutdown(), 0);
  /* Only the size field. */
  memset(&cfg, 0xff, sizeof cfg);
  cfg.size = sizeof(size_t);
  assert_int_equal(goro_init(&cfg), 0);
  ASSERT_CMP(goro_maxprocs(0), >=, 1);
  assert_int_equal(goro_shutdown(), 0);
}

static void test_double_init(void **state) {
  (void)state;
  TU_WATCHDOG(20);
  assert_int_equal(tu_init_procs(2), 0);
  assert_int_equal(goro_init(NULL), -EALREADY);
  assert_int_equal(tu_init_procs(1), -EALREADY);
  /* A rejected second init changes nothing. */
  assert_int_equal(goro_maxprocs(0), 2);
  assert_int_equal(goro_run(nop, NULL), 0);
  assert_int_equal(goro_shutdown(), 0);
  assert_int_equal(goro_shutdown(), -EALREADY);
  assert_int_equal(goro_shutdown(), -EALREADY);
}

/* goro_init()/goro_shutdown() from a goroutine: -EDEADLK. */
struct deadlk {
  int init_rc, init_cfg_rc, shutdown_rc;
  uint64_t self;
};
static void deadlk_fn(void *arg) {
  struct deadlk *d = arg;
  goro_config_t cfg = GORO_CONFIG_INIT;
  d->self = goro_self();
  d->init_rc = goro_init(NULL);
  d->init_cfg_rc = goro_init(&cfg);
  d->shutdown_rc = goro_shutdown();
}

static void test_deadlk_inside_goroutine(void **state) {
  (void)state;
  TU_WATCHDOG(20);
  for (int procs = 1; procs <= 2; procs++) {
    assert_int_equal(tu_init_procs(procs), 0);
    struct deadlk d = {1, 1, 1, 0};
    assert_int_equal(goro_run(deadlk_fn, &d), 0);
    ASSERT_CMP(d.self, !=, 0);
    assert_int_equal(d.init_rc, -EDEADLK);
    assert_int_equal(d.init_cfg_rc, -EDEADLK);
    assert_int_equal(d.shutdown_rc, -EDEADLK);
    /* Still running. */
    atomic_int cnt = 0;
    assert_int_equal(goro_run(count_fn, &cnt), 0);
    assert_int_equal(cnt, 1);
    assert_int_equal(goro_shutdown(), 0);
  }
}

static void test_after_shutdown(void **state) {
  (void)state;
  TU_WATCHDOG(20);
  assert_int_equal(goro_init(NULL), 0);
  assert_int_equal(goro_shutdown(), 0);

  atomic_int cnt = 0;
  for (int i = 0; i < 3; i++) {
    assert_int_equal(goro_go(count_fn, &cnt), -ESHUTDOWN);
    assert_int_equal(goro_run(count_fn, &cnt), -ESHUTDOWN);
    assert_int_equal(goro_maxprocs(0), -ESHUTDOWN);
    assert_int_equal(goro_maxprocs(2), -ESHUTDOWN);
    goro_go_opts_t o = GORO_GO_OPTS_INIT;
    uint64_t id = 0;
    assert_int_equal(goro_go_opts(&o, count_fn, &cnt, &id), -ESHUTDOWN);
    assert_int_equal(goro_num_goroutine(), 0);
    assert_int_equal(goro_shutdown(), -EALREADY);
  }
  /* Argument errors may be reported first; both are acceptable. */
  int r = goro_go(NULL, NULL);
  if (r != -EINVAL && r != -ESHUTDOWN) fail_msg("goro_go(NULL) after shutdown = %d", r);
  tu_sleep_ms(20);
  assert_int_equal(atomic_load(&cnt), 0); /* nothing ran */

  /* goro_init() brings it back. */
  assert_int_equal(tu_init_procs(2), 0);
  assert_int_equal(goro_maxprocs(0), 2);
  assert_int_equal(goro_run(count_fn, &cnt), 0);
  assert_int_equal(cnt, 1);
  assert_int_equal(goro_shutdown(), 0);
  assert_int_equal(goro_go(count_fn, &cnt), -ESHUTDOWN);
}

/* A goroutine that spawns children, waits for them, sleeps and yields. */
struct cycle_ctx {
  goro_wg_t *wg;
  atomic_int ran;
  int children;
};
static void cycle_child(void *arg) {
  struct cycle_ctx *c = arg;
  goro_yield();
  goro_sleep(50 * TU_US);
  atomic_fetch_add(&c->ran, 1);
  GCHECK_CMP(goro_wg_done(c->wg), ==, 0);
}
static void cycle_parent(void *arg) {
  struct cycle_ctx *c = arg;
  for (int i = 0; i < c->children; i++) {
    GCHECK_CMP(goro_wg_add(c->wg, 1), ==, 0);
    GCHECK_CMP(goro_go(cycle_child, c), ==, 0);
  }
  GCHECK_CMP(goro_wg_wait(c->wg), ==, 0);
}

static void test_init_shutdown_cycles(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  tu_reset_fail();
  int before = tu_thread_count();
  ASSERT_CMP(before, >=, 1);
  for (int cycle = 0; cycle < 20; cycle++) {
    int procs = 1 + cycle % 2;
    assert_int_equal(tu_init_procs(procs), 0);
    struct cycle_ctx c;
    assert_int_equal(goro_wg_new(&c.wg), 0);
    atomic_store(&c.ran, 0);
    c.children = 200;
    /* From a goroutine and from this plain thread. */
    assert_int_equal(goro_run(cycle_parent, &c), 0);
    for (int i = 0; i < 50; i++) {
      assert_int_equal(goro_wg_add(c.wg, 1), 0);
      assert_int_equal(goro_go(cycle_child, &c), 0);
    }
    assert_int_equal(goro_wg_wait(c.wg), 0);
    assert_int_equal(atomic_load(&c.ran), 250);
    /* Let the children finish returning so that shutdown is clean. */
    ASSERT_EQ(tu_wait_goroutines(0, 5000), 0);
    assert_int_equal(goro_shutdown(), 0);
    assert_int_equal(goro_num_goroutine(), 0);
    assert_int_equal(goro_wg_free(c.wg), 0);
    /* Every runtime thread is joined by goro_shutdown(). A joined thread may
     * linger in /proc for an instant, hence the short poll. */
    int now = tu_wait_thread_count(before, 1000);
    if (now != before)
      fail_msg("cycle %d: %d threads after shutdown, %d before init", cycle, now, before);
  }
  GASSERT_OK();
}

/* Parked, sleeping and yielding goroutines are abandoned and counted. */
static void sleeper_fn(void *arg) {
  atomic_fetch_add((atomic_int *)arg, 1);
  goro_sleep(3600LL * 1000 * TU_MS);
  tu_record_fail(__FILE__, __LINE__, "abandoned sleeper woke up");
}
static atomic_int yielder_stop;
static void yielder_fn(void *arg) {
  atomic_fetch_add((atomic_int *)arg, 1);
  while (!atomic_load(&yielder_stop)) goro_yield();
}
struct run_thread {
  goro_wg_t *gate;
  atomic_int started;
  int rc;
};
static void run_parked_fn(void *arg) {
  struct run_thread *t = arg;
  atomic_fetch_add(&t->started, 1);
  goro_wg_wait(t->gate);
}
static void *run_thread_main(void *arg) {
  struct run_thread *t = arg;
  t->rc = goro_run(run_parked_fn, t);
  return NULL;
}

static void test_shutdown_abandons(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  tu_reset_fail();
  int before = tu_thread_count();
  for (int procs = 1; procs <= 2; procs++) {
    assert_int_equal(tu_init_procs(procs), 0);
    struct gate g;
    gate_open(&g);
    enum { PARKED = 10, SLEEPERS = 2, YIELDERS = 3 };
    for (int i = 0; i < PARKED; i++) assert_int_equal(goro_go(gated_fn, &g), 0);
    atomic_int sleepers = 0, yielders = 0;
    atomic_store(&yielder_stop, 0);
    for (int i = 0; i < SLEEPERS; i++) assert_int_equal(goro_go(sleeper_fn, &sleepers), 0);
    for (int i = 0; i < YIELDERS; i++) assert_int_equal(goro_go(yielder_fn, &yielders), 0);
    /* A plain thread blocked in goro_run() gets -ESHUTDOWN. */
    struct run_thread rt = {g.gate, 0, 12345};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_thread_main, &rt), 0);

    int64_t end = tu_now_ns() + 10000 * TU_MS;
    while ((atomic_load(&g.started) < PARKED || atomic_load(&sleepers) < SLEEPERS ||
            atomic_load(&yielders) < YIELDERS || atomic_load(&rt.started) < 1) &&
           tu_now_ns() < end)
      tu_sleep_ms(1);
    assert_int_equal(atomic_load(&g.started), PARKED);
    assert_int_equal(atomic_load(&sleepers), SLEEPERS);
    assert_int_equal(atomic_load(&yielders), YIELDERS);
    assert_int_equal(atomic_load(&rt.started), 1);
    tu_sleep_ms(20);
    ASSERT_EQ(goro_num_goroutine(), PARKED + SLEEPERS + YIELDERS + 1);

    int abandoned = goro_shutdown();
    ASSERT_EQ(abandoned, PARKED + SLEEPERS + YIELDERS + 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(rt.rc, -ESHUTDOWN);
    assert_int_equal(goro_num_goroutine(), 0);
    /* The WaitGroups' waiters were abandoned; they are deliberately not freed. */
    keep(g.gate);
    keep(g.done);
    int now = tu_wait_thread_count(before, 1000);
    ASSERT_EQ(now, before);
    tu_sleep_ms(10);
  }
  GASSERT_OK();
}

/* Abandoning goroutines in every cycle leaks no threads either. */
static void test_cycles_with_abandoned(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  tu_reset_fail();
  int before = tu_thread_count();
  for (int cycle = 0; cycle < 20; cycle++) {
    assert_int_equal(tu_init_procs(1 + cycle % 2), 0);
    struct gate g;
    gate_open(&g);
    for (int i = 0; i < 50; i++) assert_int_equal(goro_go(gated_fn, &g), 0);
    int64_t end = tu_now_ns() + 10000 * TU_MS;
    while (atomic_load(&g.started) < 50 && tu_now_ns() < end) tu_sleep_ms(1);
    assert_int_equal(atomic_load(&g.started), 50);
    ASSERT_EQ(goro_shutdown(), 50);
    keep(g.gate);
    keep(g.done);
    ASSERT_EQ(tu_wait_thread_count(before, 1000), before);
  }
  GASSERT_OK();
}

/* An idle runtime burns no CPU. */
static void test_idle_uses_no_cpu(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  tu_reset_fail();
  if (GORO_TEST_SANITIZER == 2) {
    print_message("skipped: TSan's background thread uses CPU on its own\n");
    skip();
  }
  long hz = sysconf(_SC_CLK_TCK);
  ASSERT_CMP(hz, >, 0);
  assert_int_equal(tu_init_procs(2), 0);
  struct gate g;
  gate_open(&g);
  for (int i = 0; i < 20; i++) assert_int_equal(goro_go(gated_fn, &g), 0);
  atomic_int sleepers = 0;
  for (int i = 0; i < 2; i++) assert_int_equal(goro_go(sleeper_fn, &sleepers), 0);
  /* Idle: everything parked, nothing due soon. Let the runtime settle. */
  tu_sleep_ms(500);
  assert_int_equal(atomic_load(&g.started), 20);
  long t0 = tu_proc_ticks();
  ASSERT_CMP(t0, >=, 0);
  tu_sleep_ms(1000);
  long t1 = tu_proc_ticks();
  long used = t1 - t0;
  print_message("idle runtime: %ld clock ticks (%ld Hz) over 1 s\n", used, hz);
  if (used > 2) {
    keep(g.gate);
    keep(g.done);
    ASSERT_EQ(goro_shutdown(), 22);
    fail_msg("idle runtime used %ld clock ticks of CPU in 1 s (allowed: 2)", used);
  }
  /* Wake the gate: the runtime is still fine. */
  assert_int_equal(goro_wg_add(g.done, 20), 0);
  assert_int_equal(goro_wg_add(g.gate, -1), 0);
  assert_int_equal(goro_wg_wait(g.done), 0);
  ASSERT_EQ(tu_wait_goroutines(2, 5000), 2);
  ASSERT_EQ(goro_shutdown(), 2); /* the two sleepers */
  assert_int_equal(goro_wg_free(g.gate), 0);
  assert_int_equal(goro_wg_free(g.done), 0);
  GASSERT_OK();
}

int main(void) {
  tu_apply_filter();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_version),
      cmocka_unit_test(test_strerror),
      cmocka_unit_test(test_lazy_start), /* must be the first to start the runtime */
      cmocka_unit_test(test_init_null),
      cmocka_unit_test(test_init_config),
      cmocka_unit_test(test_init_bad_config),
      cmocka_unit_test(test_double_init),
      cmocka_unit_test(test_deadlk_inside_goroutine),
      cmocka_unit_test(test_after_shutdown),
      cmocka_unit_test(test_init_shutdown_cycles),
      cmocka_unit_test(test_shutdown_abandons),
      cmocka_unit_test(test_cycles_with_abandoned),
      cmocka_unit_test(test_idle_uses_no_cpu),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
