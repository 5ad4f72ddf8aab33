/*
 * test_stack.c: goroutine stacks: overflow is detected and reported (guard
 * page by default, canary check with guarded_stacks = -1), every accepted
 * stack size is really usable, and stacks are reused (RSS stays bounded over
 * many spawn/exit cycles; a burst of short goroutines shares one stack;
 * the scavenger returns the pages of stacks that stay unused).
 *
 * The overflow tests run in a forked child, so the parent must not have the
 * runtime running when it forks: every test here starts and stops its own.
 */
#include "testutil.h"

#include <alloca.h>
#include <poll.h>
#include <sys/wait.h>

/* ------------------------------------------------------------------------- */
/* Overflow detection (in a child process)                                    */
/* ------------------------------------------------------------------------- */

static volatile int g_never = INT_MAX; /* keeps the recursion "finite" for the compiler */

__attribute__((noinline)) static int overflow_recurse(int depth, int yield_each) {
  volatile char buf[1024];
  for (int i = 0; i < (int)sizeof buf; i++) buf[i] = (char)(depth + i);
  if (yield_each) goro_yield(); /* a switch at every level: the canary is checked */
  if (depth == g_never) return 0;
  int r = overflow_recurse(depth + 1, yield_each);
  return r + buf[depth & 1023];
}
static void overflow_fn(void *arg) {
  int yield_each = *(int *)arg;
  int r = overflow_recurse(0, yield_each);
  fprintf(stderr, "recursion returned %d\n", r);
}

/* Runs the overflowing goroutine in a child; captures its stderr. */
static void run_overflow_child(long guarded, int yield_each, char *out, size_t outsz,
                               int *status) {
  assert_int_equal(goro_shutdown(), -EALREADY); /* nothing of ours runs */
  int p[2];
  assert_int_equal(pipe(p), 0);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    dup2(p[1], 2);
    close(p[1]);
    /* cmocka catches SIGSEGV & co to report test failures; the child wants
     * the defaults (goro installs its own handlers at init). */
    tu_child_reset_signals();
    alarm(60); /* a hang ends by SIGALRM, which the parent rejects */
    goro_config_t cfg = GORO_CONFIG_INIT;
    cfg.maxprocs = 1;
    cfg.guarded_stacks = guarded;
    int r = goro_init(&cfg);
    if (r != 0) {
      fprintf(stderr, "child: goro_init = %d\n", r);
      _exit(2);
    }
    r = goro_run(overflow_fn, &yield_each);
    fprintf(stderr, "child: NO OVERFLOW DETECTED (goro_run = %d)\n", r);
    _exit(3);
  }
  close(p[1]);
  tu_read_all(p[0], out, outsz);
  close(p[0]);
  pid_t w;
  while ((w = waitpid(pid, status, 0)) < 0 && errno == EINTR) {
  }
  assert_int_equal(w, pid);
}

static int sanitizer_reported_overflow(const char *out) {
  if (strstr(out, "AddressSanitizer") || strstr(out, "ThreadSanitizer"))
    return strstr(out, "stack-overflow") != NULL || strstr(out, "stack-buffer-overflow") != NULL;
  return 0;
}

static void check_overflow_report(const char *what, const char *out, int status) {
  print_message("%s: child %s %d; its stderr:\n%s\n", what,
                WIFSIGNALED(status) ? "killed by signal" : "exited with",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), out);
  if (GORO_TEST_SANITIZER && sanitizer_reported_overflow(out)) {
    print_message("%s: accepted the sanitizer's stack overflow report\n", what);
    return;
  }
  if (strstr(out, "goroutine") == NULL || strstr(out, "overflowed its stack") == NULL)
    fail_msg("%s: stderr lacks \"goroutine N overflowed its stack\"", what);
  if (!WIFSIGNALED(status))
    fail_msg("%s: child exited with status %d instead of dying by a signal", what,
             WEXITSTATUS(status));
  int sig = WTERMSIG(status);
  if (sig != SIGABRT && sig != SIGSEGV)
    fail_msg("%s: child died by signal %d (%s), want SIGABRT or SIGSEGV", what, sig,
             strsignal(sig));
}

static void test_overflow_guard_page(void **state) {
  (void)state;
  TU_WATCHDOG(120);
  static char out[1 << 16];
  int status = 0;
  /* Default config: guarded stacks. Plain recursion, and recursion that yields. */
  for (int yield_each = 0; yield_each <= 1; yield_each++) {
    run_overflow_child(0, yield_each, out, sizeof out, &status);
    check_overflow_report(yield_each ? "guard page, yielding" : "guard page", out, status);
  }
}

static void test_overflow_canary(void **state) {
  (void)state;
  TU_WATCHDOG(120);
  if (GORO_TEST_SANITIZER) {
    print_message("skipped: writing past a stack without a guard page is itself what the "
                  "sanitizer reports; the canary path is tested in normal builds\n");
    skip();
  }
  static char out[1 << 16];
  int status = 0;
  run_overflow_child(-1, 1, out, sizeof out, &status);
  check_overflow_report("canary (guarded_stacks = -1)", out, status);
}

/* ------------------------------------------------------------------------- */
/* Every stack size is usable                                                 */
/* ------------------------------------------------------------------------- */

struct use_arg {
  size_t stack_size;
  int use_alloca;
  uintptr_t top;
  size_t target;
  size_t reached;
  goro_wg_t *wg;
  goro_wg_t *gate; /* optional: park at the deepest point */
};

__attribute__((noinline)) static size_t use_recurse(struct use_arg *a) {
  volatile char buf[400];
  for (int i = 0; i < (int)sizeof buf; i += 64) buf[i] = 1;
  buf[sizeof buf - 1] = 1;
  /* Frame addresses: under ASan, locals may live on its fake stack. */
  size_t used = (size_t)(a->top - (uintptr_t)__builtin_frame_address(0));
  if (used >= a->target) {
    /* At the deepest point, switch away and come back. */
    goro_yield();
    if (a->gate) goro_wg_wait(a->gate);
    goro_sleep(1000);
    return used;
  }
  size_t r = use_recurse(a);
  return r + (size_t)buf[0] - 1;
}
__attribute__((noinline)) static size_t use_alloca(struct use_arg *a) {
  size_t n = a->target;
  volatile char *p = alloca(n);
  for (size_t i = 0; i < n; i += 256) p[i] = (char)i;
  p[n - 1] = 1;
  goro_yield();
  if (a->gate) goro_wg_wait(a->gate);
  goro_sleep(1000);
  size_t s = 0;
  for (size_t i = 0; i < n; i += 4096) s += (size_t)(p[i] == (char)i);
  return s == (n + 4095) / 4096 ? n : 0;
}
static void use_fn(void *arg) {
  struct use_arg *a = arg;
  volatile char anchor = 0;
  a->top = (uintptr_t)&anchor;
  /* Three quarters, leaving the rest to the calls made at the deepest point.
   * Under the sanitizers those calls take ~5 KB, the first one's lazy PLT
   * binding included (it saves the AVX-512 state on the stack): use two
   * thirds there. */
  a->target = GORO_TEST_SANITIZER ? a->stack_size / 3 * 2 : a->stack_size / 4 * 3;
  a->reached = a->use_alloca ? use_alloca(a) : use_recurse(a);
  GCHECK_CMP(a->reached, >=, a->target);
  GCHECK_CMP(goro_wg_done(a->wg), ==, 0);
}

static void use_stacks(long guarded) {
  static const size_t sizes[] = {GORO_STACK_MIN,     GORO_STACK_MIN + 1000, 32 * 1024,
                                 64 * 1024,          100 * 1000,            256 * 1024,
                                 1024 * 1024,        8 * 1024 * 1024};
  enum { NS = sizeof sizes / sizeof sizes[0] };
  goro_config_t cfg = GORO_CONFIG_INIT;
  cfg.maxprocs = 2;
  cfg.guarded_stacks = guarded;
  assert_int_equal(goro_init(&cfg), 0);
  goro_wg_t *wg;
  assert_int_equal(goro_wg_new(&wg), 0);
  static struct use_arg args[NS * 2][4];
  /* One at a time, then all at once (parked at their deepest point). */
  for (int together = 0; together <= 1; together++) {
    goro_wg_t *gate = NULL;
    if (together) {
      assert_int_equal(goro_wg_new(&gate), 0);
      assert_int_equal(goro_wg_add(gate, 1), 0);
    }
    for (int s = 0; s < NS; s++) {
      for (int k = 0; k < 2; k++) {
        for (int rep = 0; rep < 4; rep++) {
          struct use_arg *a = &args[s * 2 + k][rep];
          memset(a, 0, sizeof *a);
          a->stack_size = sizes[s];
          a->use_alloca = k;
          a->wg = wg;
          a->gate = gate;
          goro_go_opts_t o = GORO_GO_OPTS_INIT;
          o.stack_size = sizes[s];
          o.name = "stack-user";
          assert_int_equal(goro_wg_add(wg, 1), 0);
          assert_int_equal(goro_go_opts(&o, use_fn, a, NULL), 0);
          if (!together) {
            assert_int_equal(goro_wg_wait(wg), 0);
            GASSERT_OK();
          }
        }
      }
    }
    if (together) {
      tu_sleep_ms(50);
      assert_int_equal(goro_wg_add(gate, -1), 0);
    }
    assert_int_equal(goro_wg_wait(wg), 0);
    GASSERT_OK();
    ASSERT_EQ(tu_wait_goroutines(0, 10000), 0);
    if (gate) assert_int_equal(goro_wg_free(gate), 0);
  }
  assert_int_equal(goro_wg_free(wg), 0);
  assert_int_equal(goro_shutdown(), 0);
}

static void test_stack_sizes_usable_guarded(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  tu_reset_fail();
  use_stacks(0);
}
static void test_stack_sizes_usable_canary(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  tu_reset_fail();
  use_stacks(-1);
}
/* A small guard budget: most stacks come from the slabs. */
static void test_stack_sizes_usable_small_budget(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  tu_reset_fail();
  use_stacks(4);
}

/* The default stack (64 KiB, 256 KiB under sanitizers) and a configured one. */
static void test_default_stack_usable(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  tu_reset_fail();
  static const size_t defaults[] = {0, GORO_STACK_MIN, 512 * 1024};
  for (size_t d = 0; d < sizeof defaults / sizeof defaults[0]; d++) {
    goro_config_t cfg = GORO_CONFIG_INIT;
    cfg.stack_size = defaults[d];
    assert_int_equal(goro_init(&cfg), 0);
    goro_wg_t *wg;
    assert_int_equal(goro_wg_new(&wg), 0);
    size_t sz = defaults[d] ? defaults[d] : (GORO_TEST_SANITIZER ? 256 * 1024 : 64 * 1024);
    struct use_arg a[2];
    for (int k = 0; k < 2; k++) {
      memset(&a[k], 0, sizeof a[k]);
      a[k].stack_size = sz;
      a[k].use_alloca = k;
      a[k].wg = wg;
      assert_int_equal(goro_wg_add(wg, 1), 0);
      assert_int_equal(goro_go(use_fn, &a[k]), 0); /* goro_go: the default size */
    }
    assert_int_equal(goro_wg_wait(wg), 0);
    GASSERT_OK();
    ASSERT_EQ(tu_wait_goroutines(0, 10000), 0);
    assert_int_equal(goro_wg_free(wg), 0);
    assert_int_equal(goro_shutdown(), 0);
  }
}

/* ------------------------------------------------------------------------- */
/* Stacks are reused                                                          */
/* ------------------------------------------------------------------------- */

static void churn_fn(void *arg) {
  volatile char buf[8192];
  for (int i = 0; i < (int)sizeof buf; i += 512) buf[i] = (char)i;
  goro_yield();
  buf[1] = buf[0];
  GCHECK_CMP(goro_wg_done((goro_wg_t *)arg), ==, 0);
}

static void churn(goro_wg_t *wg, int batches, int batch) {
  for (int b = 0; b < batches; b++) {
    assert_int_equal(goro_wg_add(wg, batch), 0);
    for (int i = 0; i < batch; i++) {
      int r;
      switch (i % 4) {
        case 0: {
          goro_go_opts_t o = GORO_GO_OPTS_INIT;
          o.stack_size = 128 * 1024;
          r = goro_go_opts(&o, churn_fn, wg, NULL);
          break;
        }
        case 1: {
          goro_go_opts_t o = GORO_GO_OPTS_INIT;
          o.stack_size = GORO_STACK_MIN;
          r = goro_go_opts(&o, churn_fn, wg, NULL);
          break;
        }
        default:
          r = goro_go(churn_fn, wg);
      }
      if (r != 0) fail_msg("batch %d, spawn %d: %d (%s)", b, i, r, goro_strerror(r));
    }
    assert_int_equal(goro_wg_wait(wg), 0);
  }
}

static void test_stack_reuse_bounded_rss(void **state) {
  (void)state;
  TU_WATCHDOG(120);
  tu_reset_fail();
  for (int guarded = 0; guarded >= -1; guarded--) {
    goro_config_t cfg = GORO_CONFIG_INIT;
    cfg.maxprocs = 2;
    cfg.guarded_stacks = guarded;
    assert_int_equal(goro_init(&cfg), 0);
    goro_wg_t *wg;
    assert_int_equal(goro_wg_new(&wg), 0);
    const int batch = 1000;
    const int batches = TU_SCALE(200, 50, 20); /* 200,000 spawn+exit cycles */
    churn(wg, 5, batch);                        /* warm up the pools */
    ASSERT_EQ(tu_wait_goroutines(0, 10000), 0);
    long rss0 = tu_rss_kib();
    int threads0 = tu_thread_count();
    int64_t t0 = tu_now_ns();
    churn(wg, batches, batch);
    /* And one at a time, each goroutine reusing the last one's stack. */
    for (int i = 0; i < TU_SCALE(5000, 2000, 1000); i++) {
      assert_int_equal(goro_wg_add(wg, 1), 0);
      assert_int_equal(goro_run(churn_fn, wg), 0);
    }
    ASSERT_EQ(tu_wait_goroutines(0, 10000), 0);
    long rss1 = tu_rss_kib();
    int threads1 = tu_thread_count();
    print_message("guarded_stacks=%d: %d spawn+exit cycles in %.2f s; RSS %ld -> %ld KiB; "
                  "threads %d -> %d\n",
                  guarded, batches * batch, (double)(tu_now_ns() - t0) / 1e9, rss0, rss1,
                  threads0, threads1);
    GASSERT_OK();
    assert_int_equal(goro_wg_free(wg), 0);
    assert_int_equal(goro_shutdown(), 0);
    ASSERT_CMP(rss0, >, 0);
    if (GORO_TEST_SANITIZER) {
      print_message("RSS bound not checked: the sanitizer's allocator quarantine and shadow "
                    "memory grow RSS on their own\n");
    } else if (rss1 - rss0 >= 64 * 1024) {
      fail_msg("guarded_stacks=%d: RSS grew by %ld KiB over %d spawn+exit cycles (limit 64 MiB)",
               guarded, rss1 - rss0, batches * batch);
    }
  }
}

/* ------------------------------------------------------------------------- */
/* The scavenger returns the pages of stacks left unused on free goroutines   */
/* ------------------------------------------------------------------------- */

/* Thousands of goroutines each dirty half of their stack and park, then all
 * exit at once: their Gs go to the free lists with resident stacks. Once
 * those stay unused for two scavenger periods (1 s each), all but the most
 * recently freed 1024 have their pages returned, so RSS falls back. */
#define SCAV_TOUCH (32 * 1024)
struct scav {
  goro_wg_t *gate, *done;
  atomic_int dirty; /* goroutines that have dirtied their stack */
};
__attribute__((noinline)) static void scav_dirty(struct scav *s) {
  volatile char buf[SCAV_TOUCH];
  for (int i = 0; i < SCAV_TOUCH; i += 1024) buf[i] = (char)i;
  atomic_fetch_add(&s->dirty, 1);
  GCHECK_CMP(goro_wg_wait(s->gate), ==, 0);
  buf[0] = buf[1024];
}
static void scav_fn(void *arg) {
  struct scav *s = arg;
  scav_dirty(s);
  GCHECK_CMP(goro_wg_done(s->done), ==, 0);
}
static void scav_wait_dirty(struct scav *s, int n) {
  int64_t end = tu_now_ns() + 30 * 1000000000LL;
  while (atomic_load(&s->dirty) < n && tu_now_ns() < end) tu_sleep_ms(1);
  ASSERT_EQ(atomic_load(&s->dirty), n);
}
static void test_scavenger_returns_pages(void **state) {
  (void)state;
  TU_WATCHDOG(120);
  tu_reset_fail();
  goro_config_t cfg = GORO_CONFIG_INIT;
  cfg.maxprocs = 2;
  assert_int_equal(goro_init(&cfg), 0);
  /* TSan keeps ~1 MB of state per goroutine (its fibers). */
  const int n = TU_SCALE(5000, 5000, 1500);
  static struct scav s;
  atomic_store(&s.dirty, 0);
  assert_int_equal(goro_wg_new(&s.gate), 0);
  assert_int_equal(goro_wg_new(&s.done), 0);
  assert_int_equal(goro_wg_add(s.gate, 1), 0);
  assert_int_equal(goro_wg_add(s.done, n), 0);
  long rss0 = tu_rss_kib();
  for (int i = 0; i < n; i++) assert_int_equal(goro_go(scav_fn, &s), 0);
  scav_wait_dirty(&s, n); /* all about to park, stacks dirty */
  long rss_live = tu_rss_kib();
  assert_int_equal(goro_wg_done(s.gate), 0);
  assert_int_equal(goro_wg_wait(s.done), 0);
  tu_settle(0);
  long rss_free = tu_rss_kib();
  /* Expected release: all but 1024 stacks' dirty pages (minus slack). */
  long want = (long)(n - 1024) * (SCAV_TOUCH / 1024) * 3 / 4;
  long rss_after = rss_free;
  int64_t t0 = tu_now_ns();
  while (tu_now_ns() - t0 < 6000000000LL) {
    usleep(100 * 1000);
    rss_after = tu_rss_kib();
    if (rss_free - rss_after >= want) break;
  }
  print_message("RSS: %ld KiB before, %ld with %d parked, %ld once they exited, %ld after "
                "%.1f s idle (want a drop of %ld)\n",
                rss0, rss_live, n, rss_free, rss_after, (double)(tu_now_ns() - t0) / 1e9,
                want);
  GASSERT_OK();
  if (GORO_TEST_SANITIZER)
    print_message("RSS drop not checked: the sanitizer's shadow and quarantine move RSS on "
                  "their own\n");
  else
    ASSERT_CMP(rss_free - rss_after, >=, want);
  /* The released stacks are usable again: run the same crowd once more. */
  assert_int_equal(goro_wg_add(s.gate, 1), 0);
  assert_int_equal(goro_wg_add(s.done, n), 0);
  for (int i = 0; i < n; i++) assert_int_equal(goro_go(scav_fn, &s), 0);
  scav_wait_dirty(&s, 2 * n);
  assert_int_equal(goro_wg_done(s.gate), 0);
  assert_int_equal(goro_wg_wait(s.done), 0);
  GASSERT_OK();
  assert_int_equal(goro_wg_free(s.gate), 0);
  assert_int_equal(goro_wg_free(s.done), 0);
  assert_int_equal(goro_shutdown(), 0);
}

/* ------------------------------------------------------------------------- */
/* A burst of short goroutines runs on one resident stack                     */
/* ------------------------------------------------------------------------- */

/* A goroutine gets its stack context at its first run, and takes its P's
 * spare stack (the last exited goroutine's, still in cache) in exchange for
 * its own. So goroutines that are all spawned before any runs, and each run
 * to completion, share one or two stacks instead of touching one each. */
#define BURST 200
struct burst {
  goro_wg_t *wg;
  uintptr_t frame[BURST];
  int next;
};
static void burst_fn(void *arg) {
  struct burst *b = arg;
  b->frame[b->next++] = (uintptr_t)__builtin_frame_address(0); /* one P: no race */
  GCHECK_CMP(goro_wg_done(b->wg), ==, 0);
}
static void burst_driver(void *arg) {
  struct burst *b = arg;
  for (int round = 0; round < 2; round++) { /* the first round fills the spare */
    b->next = 0;
    GCHECK_CMP(goro_wg_add(b->wg, BURST), ==, 0);
    for (int i = 0; i < BURST; i++) GCHECK_CMP(goro_go(burst_fn, b), ==, 0);
    GCHECK_CMP(goro_wg_wait(b->wg), ==, 0);
  }
}
static void test_burst_shares_stack(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  tu_reset_fail();
  goro_config_t cfg = GORO_CONFIG_INIT;
  cfg.maxprocs = 1;
  assert_int_equal(goro_init(&cfg), 0);
  static struct burst b;
  assert_int_equal(goro_wg_new(&b.wg), 0);
  assert_int_equal(goro_run(burst_driver, &b), 0);
  GASSERT_OK();
  ASSERT_EQ(b.next, BURST);
  int distinct = 0;
  for (int i = 0; i < BURST; i++) {
    int seen = 0;
    for (int j = 0; j < i && !seen; j++) seen = b.frame[j] == b.frame[i];
    distinct += !seen;
  }
  print_message("%d goroutines spawned before any ran used %d distinct stacks\n", BURST,
                distinct);
  ASSERT_CMP(distinct, <=, 2);
  assert_int_equal(goro_wg_free(b.wg), 0);
  assert_int_equal(goro_shutdown(), 0);
}

/* ------------------------------------------------------------------------- */
/* Resuming a goroutine parked near the end of its stack                      */
/* ------------------------------------------------------------------------- */

/* A goroutine that yields or parks may switch straight to the next local one
 * (gswitch, no g0), and that switch's bookkeeping runs on the next
 * goroutine's stack, below its saved stack pointer. A goroutine parked with
 * little room left must still be resumed safely. Here the switch that
 * resumes it requeues the yielding driver into a full local queue, whose
 * overflow path (runqputslow) alone needs ~1.1 KB of stack: without the
 * runtime's headroom check the guard page catches it (or, with
 * guarded_stacks = -1, the canary check at the next switch). */
struct deep_arg {
  goro_chan_t *c;
  size_t room; /* park once about this much of the stack is left */
  uintptr_t top;
  int rc;
};
__attribute__((noinline)) static int deep_park(struct deep_arg *a) {
  volatile char buf[96];
  for (int i = 0; i < (int)sizeof buf; i++) buf[i] = (char)(i ^ 0x5a);
  /* Frame addresses: under ASan, locals may live on its fake stack. */
  size_t used = (size_t)(a->top - (uintptr_t)__builtin_frame_address(0));
  int r;
  if (used + a->room >= GORO_STACK_MIN) {
    long v = 0;
    r = goro_chan_recv(a->c, &v, GORO_NO_DEADLINE);
    if (r == 0 && v != 42) r = -EBADMSG;
  } else {
    r = deep_park(a);
  }
  for (int i = 0; i < (int)sizeof buf; i++)
    if (buf[i] != (char)(i ^ 0x5a)) r = -EFAULT; /* our frame was overwritten */
  return r;
}
static void deep_fn(void *arg) {
  struct deep_arg *a = arg;
  a->top = (uintptr_t)__builtin_frame_address(0);
  a->rc = deep_park(a);
}
static void filler_fn(void *arg) { GCHECK_CMP(goro_wg_done(arg), ==, 0); }

static void near_end_driver(void *arg) {
  (void)arg;
  static const size_t rooms[] = {4096, 3072, 2560, 2304, 2048, 1792, 1536};
  goro_wg_t *wg;
  GCHECK_CMP(goro_wg_new(&wg), ==, 0);
  for (size_t k = 0; k < sizeof rooms / sizeof rooms[0]; k++) {
    /* Sanitizer builds have far bigger frames: parking alone takes ~3 KB. */
    struct deep_arg a = {.room = rooms[k] + (GORO_TEST_SANITIZER ? 4096 : 0), .rc = 1};
    GCHECK_CMP(goro_chan_make(&a.c, sizeof(long), 0), ==, 0);
    goro_go_opts_t o = GORO_GO_OPTS_INIT;
    o.stack_size = GORO_STACK_MIN;
    o.name = "deep";
    GCHECK_CMP(goro_wg_add(wg, 1 + 256), ==, 0);
    GCHECK_CMP(goro_go_opts(&o, deep_fn, &a, NULL), ==, 0);
    goro_yield(); /* one P: "deep" runs and parks at its deepest point */
    for (int i = 0; i < 256; i++) GCHECK_CMP(goro_go(filler_fn, wg), ==, 0);
    long v = 42;
    GCHECK_CMP(goro_chan_send(a.c, &v, GORO_NO_DEADLINE), ==, 0); /* "deep" -> runnext */
    goro_yield(); /* resumes "deep"; this goroutine goes to the full queue */
    while (a.rc == 1) goro_yield();
    if (a.rc != 0)
      tu_record_fail(__FILE__, __LINE__, "room %zu: deep goroutine got %d", rooms[k], a.rc);
    GCHECK_CMP(goro_wg_done(wg), ==, 0); /* for "deep" */
    GCHECK_CMP(goro_wg_wait(wg), ==, 0);
    goro_chan_release(a.c);
  }
  GCHECK_CMP(goro_wg_free(wg), ==, 0);
}

static void test_resume_parked_near_stack_end(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  tu_reset_fail();
  for (long guarded = 0; guarded >= -1; guarded--) {
    goro_config_t cfg = GORO_CONFIG_INIT;
    cfg.maxprocs = 1;
    cfg.guarded_stacks = guarded;
    assert_int_equal(goro_init(&cfg), 0);
    assert_int_equal(goro_run(near_end_driver, NULL), 0);
    GASSERT_OK();
    assert_int_equal(goro_shutdown(), 0);
  }
}

int main(void) {
  tu_apply_filter();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_overflow_guard_page),
      cmocka_unit_test(test_overflow_canary),
      cmocka_unit_test(test_stack_sizes_usable_guarded),
      cmocka_unit_test(test_stack_sizes_usable_canary),
      cmocka_unit_test(test_stack_sizes_usable_small_budget),
      cmocka_unit_test(test_default_stack_usable),
      cmocka_unit_test(test_stack_reuse_bounded_rss),
      cmocka_unit_test(test_resume_parked_near_stack_end),
      cmocka_unit_test(test_burst_shares_stack),
      cmocka_unit_test(test_scavenger_returns_pages),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
