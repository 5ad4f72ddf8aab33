/*
 * test_syscall.c: blocking system calls (goro_syscall_enter/exit,
 * goro_blocking), sysmon's handoff of Ps stuck in them, and the thread cap
 * (goro_config_t.max_threads).
 */
#include "testutil.h"

static goro_stats_t stats_now(void) {
  goro_stats_t st;
  memset(&st, 0, sizeof st);
  st.size = sizeof st;
  goro_stats(&st, sizeof st);
  return st;
}

static int init_cfg(int procs, int max_threads) {
  goro_config_t cfg = GORO_CONFIG_INIT;
  cfg.maxprocs = procs;
  cfg.max_threads = max_threads;
  return goro_init(&cfg);
}

/* Each blocking call of the bursts: 10 ms, as the issue asks. Under TSan
 * goroutines are created so slowly that 10 ms calls would never overlap
 * enough to reach a thread cap, so they last longer there. */
#define kCallMs TU_SCALE(10, 10, 100)

static int sleep10ms(void *arg) {
  (void)arg;
  struct timespec ts = {0, kCallMs * 1000 * 1000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
  return 7;
}

/* ---------------------------------------------------------------------- */
/* Bad usage and the documented edge cases                                 */

static int ret_arg(void *arg) { return (int)(intptr_t)arg; }

static void g_usage(void *arg) {
  goro_wg_t *wg = arg;
  /* exit without enter */
  GCHECK_CMP(goro_syscall_exit(), ==, -EINVAL);
  /* nesting: only the outermost pair acts */
  GCHECK_CMP(goro_syscall_enter(), ==, 0);
  GCHECK_CMP(goro_syscall_enter(), ==, 0);
  GCHECK_CMP(goro_syscall_exit(), ==, 0);
  GCHECK_CMP(goro_syscall_exit(), ==, 0);
  GCHECK_CMP(goro_syscall_exit(), ==, -EINVAL);
  /* goro_blocking returns fn's result */
  GCHECK_CMP(goro_blocking(ret_arg, (void *)(intptr_t)42), ==, 42);
  GCHECK_CMP(goro_blocking(ret_arg, (void *)(intptr_t)-5), ==, -5);
  GCHECK_CMP(goro_blocking(NULL, NULL), ==, -EINVAL);
  /* parking and yielding inside the window give the syscall state up for
   * the switch and take it back */
  GCHECK_CMP(goro_syscall_enter(), ==, 0);
  GCHECK_CMP(goro_sleep(2 * TU_MS), ==, 0);
  GCHECK_CMP(goro_yield(), ==, 0);
  GCHECK_CMP(goro_syscall_exit(), ==, 0);
  GCHECK_CMP(goro_syscall_exit(), ==, -EINVAL);
  goro_wg_done(wg);
}

/* A goroutine that returns without goro_syscall_exit() is taken out of the
 * syscall state; the runtime keeps working. */
static void g_forgets_exit(void *arg) {
  goro_wg_t *wg = arg;
  GCHECK_CMP(goro_syscall_enter(), ==, 0);
  goro_wg_done(wg);
}

static void test_bad_usage(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  /* Plain thread, runtime not running: no P to hand off, nothing to do. */
  assert_int_equal(goro_syscall_enter(), 0);
  assert_int_equal(goro_syscall_exit(), 0);
  assert_int_equal(goro_blocking(ret_arg, (void *)(intptr_t)3), 3);
  assert_int_equal(goro_blocking(NULL, NULL), -EINVAL);

  assert_int_equal(init_cfg(2, 0), 0);
  goro_wg_t *wg;
  assert_int_equal(goro_wg_new(&wg), 0);
  goro_wg_add(wg, 1 + 20);
  assert_int_equal(goro_go(g_usage, wg), 0);
  for (int i = 0; i < 20; i++) assert_int_equal(goro_go(g_forgets_exit, wg), 0);
  assert_int_equal(goro_wg_wait(wg), 0);
  GASSERT_OK();
  /* Plain thread while running: still a no-op. */
  assert_int_equal(goro_syscall_enter(), 0);
  assert_int_equal(goro_syscall_exit(), 0);
  tu_settle(0);
  goro_wg_free(wg);
  assert_int_equal(goro_shutdown(), 0);
  /* After shutdown: still the plain-thread behaviour. */
  assert_int_equal(goro_blocking(ret_arg, (void *)(intptr_t)9), 9);

  /* Config validation. */
  goro_config_t cfg = GORO_CONFIG_INIT;
  cfg.max_threads = 1;
  assert_int_equal(goro_init(&cfg), -EINVAL);
  cfg.max_threads = -3;
  assert_int_equal(goro_init(&cfg), -EINVAL);
  cfg.max_threads = (1 << 20) + 1;
  assert_int_equal(goro_init(&cfg), -EINVAL);
}

/* ---------------------------------------------------------------------- */
/* A burst of blocking calls                                               */

typedef struct burst {
  goro_wg_t *wg;
  atomic_int done;
  atomic_int bad;
} burst_t;

static void g_block(void *arg) {
  burst_t *b = arg;
  if (goro_blocking(sleep10ms, NULL) != 7) atomic_fetch_add(&b->bad, 1);
  atomic_fetch_add(&b->done, 1);
  goro_wg_done(b->wg);
}

typedef struct sampler {
  atomic_int stop;
  atomic_int peak;
} sampler_t;

static void *sample_threads(void *arg) {
  sampler_t *s = arg;
  while (!atomic_load(&s->stop)) {
    int n = tu_thread_count();
    if (n > atomic_load(&s->peak)) atomic_store(&s->peak, n);
    tu_sleep_ms(1);
  }
  return NULL;
}

/* run_burst: n goroutines each block 10 ms in goro_blocking; returns the
 * elapsed ns and the peak thread count of the process. */
static int64_t run_burst(int n, int *peak) {
  burst_t b;
  memset(&b, 0, sizeof b);
  assert_int_equal(goro_wg_new(&b.wg), 0);
  sampler_t s;
  memset(&s, 0, sizeof s);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, sample_threads, &s), 0);
  int64_t t0 = tu_now_ns();
  goro_wg_add(b.wg, n);
  for (int i = 0; i < n; i++) assert_int_equal(goro_go(g_block, &b), 0);
  assert_int_equal(goro_wg_wait(b.wg), 0);
  int64_t dt = tu_now_ns() - t0;
  atomic_store(&s.stop, 1);
  pthread_join(th, NULL);
  assert_int_equal(atomic_load(&b.done), n);
  assert_int_equal(atomic_load(&b.bad), 0);
  goro_wg_free(b.wg);
  *peak = atomic_load(&s.peak);
  return dt;
}

static void test_burst_hands_off(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  int base = tu_thread_count();
  enum { kCap = 64 };
  assert_int_equal(init_cfg(2, kCap), 0);
  goro_stats_t st0 = stats_now();
  int n = TU_SCALE(1000, 500, 200);
  int peak = 0;
  int64_t dt = run_burst(n, &peak);
  goro_stats_t st1 = stats_now();
  print_message("    %d x %d ms blocking calls, 2 Ps, cap %d: %.1f ms, peak %d threads "
                "(%d before), %llu handoffs, %llu cap waits\n",
                n, kCallMs, kCap, dt / 1e6, peak, base, (unsigned long long)(st1.handoffs - st0.handoffs),
                (unsigned long long)(st1.thread_cap_waits - st0.thread_cap_waits));
  /* Serially this is n * 10 ms; on 2 Ps without handoff n * 5 ms. Under
   * TSan each pthread_create takes tens of ms on a loaded machine (and
   * blocks the M or sysmon that makes it), so only completion is checked. */
  if (GORO_TEST_SANITIZER != 2) ASSERT_CMP(dt, <, (int64_t)n * 10 * TU_MS / 4);
  /* The cap counts Ms + sysmon; the test adds its main and sampler threads. */
  ASSERT_CMP(peak, <=, kCap + base + 1);
  ASSERT_CMP(st1.handoffs - st0.handoffs, >, 0);
  ASSERT_CMP(st1.syscalls - st0.syscalls, >=, (uint64_t)n);
  tu_settle(0);
  assert_int_equal(goro_shutdown(), 0);
  /* No thread outlives the runtime. */
  ASSERT_EQ(tu_threads_back(base, 10000), base);
}

static void test_burst_at_small_cap(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  int base = tu_thread_count();
  enum { kCap = 8 };
  assert_int_equal(init_cfg(2, kCap), 0);
  goro_stats_t st0 = stats_now();
  int n = TU_SCALE(1000, 150, 80); /* the issue: 1,000 calls at a cap of 8 */
  int peak = 0;
  int64_t dt = run_burst(n, &peak);
  goro_stats_t st1 = stats_now();
  print_message("    %d x %d ms blocking calls, 2 Ps, cap %d: %.1f ms, peak %d threads, "
                "%llu cap waits\n",
                n, kCallMs, kCap, dt / 1e6, peak, (unsigned long long)(st1.thread_cap_waits - st0.thread_cap_waits));
  ASSERT_CMP(peak, <=, kCap + base + 1);
  /* At most kCap - 1 Ms block at once: they all finished, queued. */
  ASSERT_CMP(dt, >=, (int64_t)(n / (kCap - 1)) * kCallMs * TU_MS * 9 / 10);
  ASSERT_CMP(st1.thread_cap_waits - st0.thread_cap_waits, >, 0);
  tu_settle(0);
  assert_int_equal(goro_shutdown(), 0);
  ASSERT_EQ(tu_threads_back(base, 10000), base);
}

/* ---------------------------------------------------------------------- */
/* A P in a syscall is retaken: a goroutine queued behind it still runs.   */

typedef struct behind {
  atomic_int ran;
  atomic_long ran_at;
  goro_wg_t *wg;
} behind_t;

/* The blocking call lasts kBlockMs; under TSan thread creation alone can
 * take 100 ms, so it lasts longer there. */
#define kBlockMs TU_SCALE(200, 400, 2000)

static int block_200ms(void *arg) {
  (void)arg;
  tu_sleep_ms(kBlockMs);
  return 0;
}

static void g_other(void *arg) {
  behind_t *b = arg;
  atomic_store(&b->ran_at, (long)(tu_now_ns() / 1000));
  atomic_store(&b->ran, 1);
  goro_wg_done(b->wg);
}

static void g_blocker(void *arg) {
  behind_t *b = arg;
  /* g_other goes to this P's runnext, then this G blocks the thread. */
  goro_go(g_other, b);
  goro_blocking(block_200ms, NULL);
  goro_wg_done(b->wg);
}

static void g_locked_blocker(void *arg) {
  behind_t *b = arg;
  goro_lock_thread();
  pid_t tid = tu_gettid();
  goro_go(g_other, b);
  goro_blocking(block_200ms, NULL);
  GCHECK(tu_gettid() == tid); /* a locked G stays on its thread */
  goro_unlock_thread();
  goro_wg_done(b->wg);
}

static void run_behind(goro_fn blocker) {
  behind_t b;
  memset(&b, 0, sizeof b);
  assert_int_equal(goro_wg_new(&b.wg), 0);
  goro_wg_add(b.wg, 2);
  int64_t t0 = tu_now_ns();
  assert_int_equal(goro_go(blocker, &b), 0);
  assert_int_equal(goro_wg_wait(b.wg), 0);
  int64_t waited = (int64_t)atomic_load(&b.ran_at) * 1000 - t0;
  print_message("    goroutine behind a %d ms blocking call on 1 P ran after %.2f ms\n",
                kBlockMs, waited / 1e6);
  /* Without the handoff it would run only after the blocking call. */
  ASSERT_CMP(waited, <, (int64_t)kBlockMs * TU_MS * 3 / 4);
  goro_wg_free(b.wg);
  GASSERT_OK();
}

static void test_retake_on_one_p(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  assert_int_equal(init_cfg(1, 0), 0);
  run_behind(g_blocker);
  run_behind(g_locked_blocker);
  tu_settle(0);
  assert_int_equal(goro_shutdown(), 0);
}

/* ---------------------------------------------------------------------- */
/* Parking between goro_syscall_enter() and exit, after the P was retaken.  */

/* On 1 P: a goroutine in a blocking call loses its P to sysmon, then blocks
 * on a channel before goro_syscall_exit(). It must get a P back before it
 * takes the channel's lock, not while holding it: otherwise it waits in the
 * global queue with the lock held, and the goroutine running on the P spins
 * on that lock forever (the lock's waiters never give up their P). */
typedef struct sysblk {
  goro_chan_t *ch;
  goro_wg_t *wg;
  atomic_int phase;
} sysblk_t;

static void g_sys_recv(void *arg) {
  sysblk_t *s = arg;
  GCHECK(goro_syscall_enter() == 0);
  tu_sleep_ms(30); /* sysmon retakes the P and g_poker runs on it */
  atomic_store(&s->phase, 1);
  int v = 0;
  GCHECK(goro_chan_recv(s->ch, &v, GORO_NO_DEADLINE) == 0);
  GCHECK(v == 7);
  GCHECK(goro_syscall_exit() == 0);
  goro_wg_done(s->wg);
}

static void g_poker(void *arg) {
  sysblk_t *s = arg;
  while (!atomic_load(&s->phase)) goro_yield();
  /* Take the channel's lock over and over until the receiver is queued. */
  int v = 7;
  while (goro_chan_try_send(s->ch, &v) == -EAGAIN) {
  }
  goro_wg_done(s->wg);
}

static void test_park_inside_syscall(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  assert_int_equal(init_cfg(1, 0), 0);
  for (int round = 0; round < 5; round++) {
    sysblk_t s;
    memset(&s, 0, sizeof s);
    assert_int_equal(goro_chan_make(&s.ch, sizeof(int), 0), 0);
    assert_int_equal(goro_wg_new(&s.wg), 0);
    goro_wg_add(s.wg, 2);
    assert_int_equal(goro_go(g_sys_recv, &s), 0);
    assert_int_equal(goro_go(g_poker, &s), 0);
    assert_int_equal(goro_wg_wait(s.wg), 0);
    goro_wg_free(s.wg);
    assert_int_equal(goro_chan_release(s.ch), 0);
  }
  GASSERT_OK();
  tu_settle(0);
  assert_int_equal(goro_shutdown(), 0);
}

/* ---------------------------------------------------------------------- */
/* Idle Ms beyond maxprocs are retired after about 5 s idle.               */

static void test_idle_threads_retire(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  int base = tu_thread_count();
  assert_int_equal(init_cfg(2, 0), 0);
  int peak = 0;
  run_burst(TU_SCALE(200, 100, 50), &peak);
  tu_settle(0);
  goro_stats_t st = stats_now();
  int after_burst = tu_thread_count();
  /* Kept: maxprocs idle Ms (+ the ones in use) and sysmon. Give sysmon 5 s
   * of idleness plus its once-a-second look. */
  int64_t end = tu_now_ns() + 12000 * TU_MS;
  int n;
  while ((n = tu_thread_count()) > base + 2 + 1 + 1 && tu_now_ns() < end) tu_sleep_ms(50);
  goro_stats_t st2 = stats_now();
  print_message("    threads: %d before, peak %d, %d after the burst, %d after idling "
                "(%llu Ms ended)\n",
                base, peak, after_burst, n,
                (unsigned long long)(st2.threads_live < st.threads_live
                                         ? st.threads_live - st2.threads_live
                                         : 0));
  ASSERT_CMP(peak, >, base + 3);
  ASSERT_CMP(n, <=, base + 2 + 1 + 1);
  /* The runtime still works with fewer threads. */
  run_burst(20, &peak);
  assert_int_equal(goro_shutdown(), 0);
  ASSERT_EQ(tu_threads_back(base, 10000), base);
}

/* A failed test must not leave the runtime running for the next one. */
static int stop_runtime(void **state) {
  (void)state;
  goro_shutdown();
  return 0;
}

int main(void) {
  tu_apply_filter();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_bad_usage, stop_runtime),
      cmocka_unit_test_teardown(test_burst_hands_off, stop_runtime),
      cmocka_unit_test_teardown(test_burst_at_small_cap, stop_runtime),
      cmocka_unit_test_teardown(test_retake_on_one_p, stop_runtime),
      cmocka_unit_test_teardown(test_park_inside_syscall, stop_runtime),
      cmocka_unit_test_teardown(test_idle_threads_retire, stop_runtime),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
