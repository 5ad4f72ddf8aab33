/*
 * test_preempt.c: preemption. sysmon asks goroutines that run a whole slice
 * while work waits to yield; they yield at preemption points (cooperative)
 * or, in async-preemptible code, right from the signal handler. Also: the
 * host's own SIGURG handler keeps working (chained), the counters match the
 * signals, and hogs that ignore requests are counted.
 *
 * The host SIGURG handler is installed in main(), before the first
 * goro_init(), as a program that uses SIGURG itself would do.
 */
#include "testutil.h"

/* ---------------------------------------------------------------------- */
/* The host program's own SIGURG handler                                   */

static atomic_long host_urg;
static void host_urg_handler(int sig, siginfo_t *si, void *uc) {
  (void)sig, (void)si, (void)uc;
  atomic_fetch_add(&host_urg, 1);
}

static goro_preempt_info_t info_now(void) {
  goro_preempt_info_t in = GORO_PREEMPT_INFO_INIT;
  goro_preempt_info(&in);
  return in;
}

static int init_cfg(int procs, int sig, int64_t slice) {
  goro_config_t cfg = GORO_CONFIG_INIT;
  cfg.maxprocs = procs;
  cfg.preempt_signal = sig;
  cfg.preempt_ns = slice;
  return goro_init(&cfg);
}

/* ---------------------------------------------------------------------- */
/* A ticker behind a hog on one P                                          */

typedef struct hogrun {
  atomic_int stop;      /* the ticker is done */
  atomic_int started;   /* the ticker is about to park for its first tick */
  atomic_int hog_running; /* the hog has started */
  int ticks;            /* ticks the ticker measures */
  int64_t late[64];     /* lateness of each tick, ns */
  int mode;             /* 0 async spawn option, 1 async region, 2 cooperative, 3 ignoring */
  double fp_result;     /* the hog's floating-point result */
  uint64_t iters;       /* hog rounds done */
  uint64_t self_ignored;
  goro_wg_t *wg;
  int64_t hog_limit_ns; /* a broken preemption ends in a failure, not a hang */
} hogrun_t;

static void g_ticker(void *arg) {
  hogrun_t *h = arg;
  if (h->mode != 3) {
    /* Measure only ticks that compete with the hog: a slow thread start
     * (TSan) may otherwise let the first ticks pass before it runs. */
    atomic_store(&h->started, 1);
    while (!atomic_load(&h->hog_running)) goro_sleep(TU_MS);
  }
  for (int i = 0; i < h->ticks; i++) {
    if (i == 0) atomic_store(&h->started, 1);
    int64_t t0 = tu_now_ns();
    goro_sleep(10 * TU_MS);
    h->late[i] = tu_now_ns() - t0 - 10 * TU_MS;
  }
  atomic_store(&h->stop, 1);
  goro_wg_done(h->wg);
}

/* fp_round mixes SSE arithmetic that any lost register would change. */
static double fp_round(double x, uint64_t i) {
  double a = x * 1.0000001 + (double)(i & 1023) * 0.5;
  double b = a / 3.0 - (double)(i % 7);
  return a * 0.25 + b * 0.75 - x * 0.5;
}

static void g_hog(void *arg) {
  hogrun_t *h = arg;
  atomic_store(&h->hog_running, 1);
  if (h->mode == 1) goro_async_preemptible_begin();
  int64_t end = tu_now_ns() + h->hog_limit_ns;
  double x = 1.0;
  uint64_t i = 0;
  while (!atomic_load_explicit(&h->stop, memory_order_relaxed)) {
    for (int k = 0; k < 2000; k++, i++) x = fp_round(x, i);
    if (h->mode == 2) goro_preempt_point();
    if ((i & 0xffff) == 0 && tu_now_ns() > end) break;
  }
  if (h->mode == 1) goro_async_preemptible_end();
  h->fp_result = x;
  h->iters = i;
  goro_preempt_info_t in = info_now();
  h->self_ignored = in.self_ignored;
  goro_wg_done(h->wg);
}

static int64_t worst(const int64_t *v, int n) {
  int64_t w = 0;
  for (int i = 0; i < n; i++)
    if (v[i] > w) w = v[i];
  return w;
}

static int64_t median(const int64_t *v, int n) {
  int64_t s[64];
  memcpy(s, v, sizeof(int64_t) * (size_t)n);
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && s[j - 1] > s[j]; j--) {
      int64_t t = s[j];
      s[j] = s[j - 1];
      s[j - 1] = t;
    }
  return s[n / 2];
}

/* wait_started: until the ticker is parking for its first tick (a slow
 * thread start, e.g. under ASan, must not let the hog start first). */
static void wait_started(hogrun_t *h) {
  while (!atomic_load(&h->started)) tu_sleep_ms(1);
  tu_sleep_ms(1);
}

/* run_hog: ticker + hog on the running runtime; returns the worst lateness. */
static int64_t run_hog(hogrun_t *h, int mode, int ticks) {
  memset(h, 0, sizeof *h);
  h->mode = mode;
  h->ticks = ticks;
  h->hog_limit_ns = 3000 * TU_MS;
  assert_int_equal(goro_wg_new(&h->wg), 0);
  goro_wg_add(h->wg, 2);
  assert_int_equal(goro_go(g_ticker, h), 0);
  wait_started(h); /* the ticker parks first */
  goro_go_opts_t o = GORO_GO_OPTS_INIT;
  o.async_preemptible = mode == 0;
  o.name = "hog";
  assert_int_equal(goro_go_opts(&o, g_hog, h, NULL), 0);
  assert_int_equal(goro_wg_wait(h->wg), 0);
  goro_wg_free(h->wg);
  /* The hog's arithmetic survived every switch: recompute it undisturbed. */
  double x = 1.0;
  for (uint64_t i = 0; i < h->iters; i++) x = fp_round(x, i);
  assert_true(x == h->fp_result);
  return worst(h->late, ticks);
}

/* Go's own worst case here is 30.8 ms, and on a quiet machine goro's median
 * tick is a few ms late (the figures are printed). This machine is shared:
 * under a load of ~12 on 2 CPUs the kernel alone delays the sysmon and hog
 * threads by tens of ms, so the assertions carry 3x slack on "within 25 ms"
 * for the median tick and more for the worst one. What they must catch is a
 * starved ticker, which waits for the hog's whole run (test_ignoring_hog). */
#define MEDIAN_BOUND_NS (TU_SCALE(75, 150, 150) * TU_MS)
#define LATE_BOUND_NS (TU_SCALE(250, 1000, 1000) * TU_MS)

static void test_async_hog(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  assert_int_equal(init_cfg(1, 0, 0), 0);
  goro_preempt_info_t i0 = info_now();
  if (!i0.async_enabled) {
    goro_shutdown();
    skip(); /* TSan build: signals arrive late; see test_cooperative_hog */
  }
  static hogrun_t h;
  int ticks = TU_SCALE(30, 20, 10);
  for (int mode = 0; mode <= 1; mode++) {
    long urg0 = atomic_load(&host_urg);
    int64_t w = run_hog(&h, mode, ticks);
    goro_preempt_info_t i1 = info_now();
    print_message("    async (%s): 10 ms ticker behind a hog on 1 P: median %.2f ms late, "
                  "worst %.2f ms; %llu signals, %llu async switches\n",
                  mode == 0 ? "spawn option" : "region", median(h.late, ticks) / 1e6, w / 1e6,
                  (unsigned long long)(i1.signals_sent - i0.signals_sent),
                  (unsigned long long)(i1.async_switches - i0.async_switches));
    ASSERT_CMP(median(h.late, ticks), <, MEDIAN_BOUND_NS);
    ASSERT_CMP(w, <, LATE_BOUND_NS);
    ASSERT_CMP(i1.async_switches - i0.async_switches, >=, (uint64_t)ticks / 2);
    /* Every signal sent was ours and seen by our handler (none in flight:
     * the hog has ended and nothing else runs long). */
    ASSERT_EQ(i1.signals_sent - i0.signals_sent, i1.signals_handled - i0.signals_handled);
    /* None of them reached the host's handler. */
    ASSERT_EQ(atomic_load(&host_urg), urg0);
    ASSERT_EQ(i1.signals_chained, i0.signals_chained);
    i0 = i1;
  }
  tu_settle(0);
  assert_int_equal(goro_shutdown(), 0);
}

/* Cooperative: with asynchronous switches off, a hog that reaches
 * goro_preempt_point() every ~50 us yields within 1.5 slices of a waiting
 * goroutine's readiness (docs/design.md). */
static void test_cooperative_hog(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  setenv("GORO_DEBUG", "asyncpreemptoff=1", 1);
  int rc = init_cfg(1, 0, 0);
  unsetenv("GORO_DEBUG");
  assert_int_equal(rc, 0);
  goro_preempt_info_t i0 = info_now();
  ASSERT_EQ(i0.async_enabled, 0);
  static hogrun_t h;
  int ticks = TU_SCALE(30, 20, 10);
  int64_t w = run_hog(&h, 2, ticks);
  goro_preempt_info_t i1 = info_now();
  print_message("    cooperative: 10 ms ticker behind a hog on 1 P: median %.2f ms late, "
                "worst %.2f ms; %llu requests honoured, %llu signals\n",
                median(h.late, ticks) / 1e6, w / 1e6,
                (unsigned long long)(i1.requests_honoured - i0.requests_honoured),
                (unsigned long long)(i1.signals_sent - i0.signals_sent));
  ASSERT_CMP(median(h.late, ticks), <, MEDIAN_BOUND_NS);
  ASSERT_CMP(w, <, LATE_BOUND_NS);
  ASSERT_CMP(i1.requests_honoured - i0.requests_honoured, >=, (uint64_t)ticks / 2);
  /* asyncpreemptoff: no signal at all, as Go. */
  ASSERT_EQ(i1.signals_sent, i0.signals_sent);
  tu_settle(0);
  assert_int_equal(goro_shutdown(), 0);

  /* preempt_signal = -1: the same without a signal, by configuration. */
  assert_int_equal(init_cfg(1, -1, 0), 0);
  i0 = info_now();
  ASSERT_EQ(i0.signo, 0);
  ASSERT_EQ(i0.async_enabled, 0);
  run_hog(&h, 2, TU_SCALE(10, 6, 4));
  i1 = info_now();
  ASSERT_EQ(i1.signals_sent, i0.signals_sent);
  ASSERT_CMP(i1.requests_honoured - i0.requests_honoured, >, 0);
  tu_settle(0);
  assert_int_equal(goro_shutdown(), 0);
}

/* A hog that never reaches a preemption point and is not async-preemptible
 * is asked once per slice, and counted as ignoring each request. */
static void test_ignoring_hog(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  assert_int_equal(init_cfg(1, 0, 0), 0);
  goro_preempt_info_t i0 = info_now();
  static hogrun_t h;
  int ticks = 3;
  memset(&h, 0, sizeof h);
  h.mode = 3;
  h.ticks = ticks;
  h.hog_limit_ns = 150 * TU_MS; /* the ticker cannot run until the hog ends */
  assert_int_equal(goro_wg_new(&h.wg), 0);
  goro_wg_add(h.wg, 2);
  assert_int_equal(goro_go(g_ticker, &h), 0);
  wait_started(&h);
  assert_int_equal(goro_go(g_hog, &h), 0);
  assert_int_equal(goro_wg_wait(h.wg), 0);
  goro_wg_free(h.wg);
  goro_preempt_info_t i1 = info_now();
  print_message("    ignoring hog (150 ms): ticker %.2f ms late; %llu requests ignored "
                "(%llu by the hog itself), %llu signals sent, %llu handled\n",
                worst(h.late, ticks) / 1e6, (unsigned long long)(i1.requests_ignored - i0.requests_ignored),
                (unsigned long long)h.self_ignored,
                (unsigned long long)(i1.signals_sent - i0.signals_sent),
                (unsigned long long)(i1.signals_handled - i0.signals_handled));
  /* ~14 slices of 10 ms after the first request; be generous. */
  ASSERT_CMP(h.self_ignored, >=, 3);
  ASSERT_CMP(i1.requests_ignored - i0.requests_ignored, >=, h.self_ignored);
  ASSERT_CMP(worst(h.late, ticks), >, 100 * TU_MS); /* it really was starved */
  ASSERT_EQ(i1.signals_sent - i0.signals_sent, i1.signals_handled - i0.signals_handled);
  if (i1.async_enabled) ASSERT_CMP(i1.signals_sent - i0.signals_sent, >=, 3);
  ASSERT_EQ(i1.async_switches, i0.async_switches);
  tu_settle(0);
  assert_int_equal(goro_shutdown(), 0);
}

/* ---------------------------------------------------------------------- */
/* The host's own SIGURG                                                   */

typedef struct tk {
  pid_t tid;
  goro_wg_t *wg;
  int n;
} tk_t;

static void g_self_urg(void *arg) {
  tk_t *t = arg;
  /* The program signals its own goroutine's thread, as code using SIGURG
   * for its own purposes may: not a request of goro's, so chained. */
  for (int i = 0; i < t->n; i++) {
    GCHECK(syscall(SYS_tgkill, getpid(), tu_gettid(), SIGURG) == 0);
    goro_yield();
  }
  goro_wg_done(t->wg);
}

static void test_host_sigurg_chained(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  assert_int_equal(init_cfg(2, 0, 0), 0);
  goro_preempt_info_t i0 = info_now();
  long urg0 = atomic_load(&host_urg);
  /* Process-directed: lands on any thread that does not block it, a goro M
   * included. */
  int nproc = 20;
  for (int i = 0; i < nproc; i++) {
    assert_int_equal(kill(getpid(), SIGURG), 0);
    tu_sleep_ms(1);
  }
  tk_t t = {0, NULL, 20};
  assert_int_equal(goro_wg_new(&t.wg), 0);
  goro_wg_add(t.wg, 1);
  assert_int_equal(goro_go(g_self_urg, &t), 0);
  assert_int_equal(goro_wg_wait(t.wg), 0);
  goro_wg_free(t.wg);
  GASSERT_OK();
  int64_t end = tu_now_ns() + 2000 * TU_MS;
  while (atomic_load(&host_urg) - urg0 < nproc + t.n && tu_now_ns() < end) tu_sleep_ms(1);
  goro_preempt_info_t i1 = info_now();
  print_message("    host SIGURG: %d sent, %ld reached the host handler, %llu via goro's "
                "handler\n",
                nproc + t.n, atomic_load(&host_urg) - urg0,
                (unsigned long long)(i1.signals_chained - i0.signals_chained));
  ASSERT_EQ(atomic_load(&host_urg) - urg0, nproc + t.n);
  /* The ones sent to goro threads went through goro's handler (if installed). */
  if (i1.signo == SIGURG) ASSERT_CMP(i1.signals_chained - i0.signals_chained, >=, (uint64_t)t.n);
  tu_settle(0);
  assert_int_equal(goro_shutdown(), 0);
  /* With the runtime stopped the handler stays and still chains. */
  urg0 = atomic_load(&host_urg);
  assert_int_equal(kill(getpid(), SIGURG), 0);
  end = tu_now_ns() + 1000 * TU_MS;
  while (atomic_load(&host_urg) == urg0 && tu_now_ns() < end) tu_sleep_ms(1);
  ASSERT_EQ(atomic_load(&host_urg), urg0 + 1);
}

/* ---------------------------------------------------------------------- */
/* sysmon sleeps: deeply while idle, at most every half slice under a lone */
/* G that nobody waits for.                                                */

/* sysmon_wakeups: voluntary context switches of the goro-sysmon thread
 * (each one is a sleep), or -1 if it is not found. */
static long sysmon_wakeups(void) {
  DIR *d = opendir("/proc/self/task");
  if (!d) return -1;
  long v = -1;
  struct dirent *e;
  while (v < 0 && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char path[300], comm[64] = "";
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    if (!fgets(comm, sizeof comm, f)) comm[0] = 0;
    fclose(f);
    if (strncmp(comm, "goro-sysmon", 11) != 0) continue;
    snprintf(path, sizeof path, "/proc/self/task/%s/status", e->d_name);
    f = fopen(path, "r");
    if (!f) continue;
    char line[256];
    while (fgets(line, sizeof line, f))
      if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1) break;
    fclose(f);
  }
  closedir(d);
  return v;
}

typedef struct lone {
  goro_wg_t *wg;
  int64_t ns;
} lone_t;

static void g_lone(void *arg) {
  lone_t *l = arg;
  tu_spin_ns(l->ns);
  goro_wg_done(l->wg);
}

static void test_sysmon_sleeps(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  assert_int_equal(init_cfg(1, 0, 0), 0);
  tu_sleep_ms(50);
  long w0 = sysmon_wakeups();
  assert_true(w0 >= 0);
  tu_sleep_ms(300); /* idle runtime: deep sleep (hooks run at most once a second) */
  long w1 = sysmon_wakeups();
  lone_t l = {NULL, 300 * TU_MS};
  assert_int_equal(goro_wg_new(&l.wg), 0);
  goro_wg_add(l.wg, 1);
  int64_t t0 = tu_now_ns();
  assert_int_equal(goro_go(g_lone, &l), 0);
  assert_int_equal(goro_wg_wait(l.wg), 0);
  int64_t dt = tu_now_ns() - t0;
  long w2 = sysmon_wakeups();
  goro_wg_free(l.wg);
  goro_preempt_info_t in = info_now();
  print_message("    sysmon wake-ups: %ld in 300 ms idle, %ld in %.0f ms under a lone G "
                "(%llu signals so far)\n",
                w1 - w0, w2 - w1, dt / 1e6, (unsigned long long)in.signals_sent);
  ASSERT_CMP(w1 - w0, <=, 3);
  /* Half a slice is 5 ms: ~60 in 300 ms; a spinning sysmon would make
   * thousands. */
  ASSERT_CMP(w2 - w1, <, 10 + dt / (2 * TU_MS));
  tu_settle(0);
  assert_int_equal(goro_shutdown(), 0);
}

/* ---------------------------------------------------------------------- */
/* Bad usage                                                               */

static void g_regions(void *arg) {
  goro_wg_t *wg = arg;
  GCHECK_CMP(goro_async_preemptible_end(), ==, -EINVAL);
  GCHECK_CMP(goro_async_preemptible_begin(), ==, 0);
  GCHECK_CMP(goro_async_preemptible_begin(), ==, 0);
  GCHECK_CMP(goro_preempt_point(), ==, 0);
  GCHECK_CMP(goro_async_preemptible_end(), ==, 0);
  GCHECK_CMP(goro_async_preemptible_end(), ==, 0);
  GCHECK_CMP(goro_async_preemptible_end(), ==, -EINVAL);
  /* A goroutine may end inside a region; its G is reused clean. */
  GCHECK_CMP(goro_async_preemptible_begin(), ==, 0);
  goro_wg_done(wg);
}

static void test_bad_usage(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  assert_int_equal(goro_preempt_point(), 0);
  assert_int_equal(goro_async_preemptible_begin(), 0);
  assert_int_equal(goro_async_preemptible_end(), 0);
  assert_int_equal(goro_preempt_info(NULL), -EINVAL);
  goro_preempt_info_t in = GORO_PREEMPT_INFO_INIT;
  in.size = 2;
  assert_int_equal(goro_preempt_info(&in), -EINVAL);
  /* A caller that knows only the first field gets only that. */
  struct {
    size_t size;
    uint64_t sent;
    uint64_t canary;
  } small = {sizeof(size_t) + sizeof(uint64_t), 0, 0x1234};
  assert_int_equal(goro_preempt_info((goro_preempt_info_t *)(void *)&small), 0);
  assert_int_equal(small.canary, 0x1234);

  goro_config_t cfg = GORO_CONFIG_INIT;
  int badsigs[] = {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, -2, 65, 1000};
  for (size_t i = 0; i < sizeof badsigs / sizeof badsigs[0]; i++) {
    cfg.preempt_signal = badsigs[i];
    assert_int_equal(goro_init(&cfg), -EINVAL);
  }
  cfg.preempt_signal = 0;
  cfg.preempt_ns = -1;
  assert_int_equal(goro_init(&cfg), -EINVAL);

  assert_int_equal(init_cfg(2, 0, 0), 0);
  goro_wg_t *wg;
  assert_int_equal(goro_wg_new(&wg), 0);
  goro_wg_add(wg, 10);
  for (int i = 0; i < 10; i++) assert_int_equal(goro_go(g_regions, wg), 0);
  assert_int_equal(goro_wg_wait(wg), 0);
  goro_wg_free(wg);
  GASSERT_OK();
  tu_settle(0);
  assert_int_equal(goro_shutdown(), 0);
}

/* ---------------------------------------------------------------------- */
/* An async switch keeps each thread's own signal stack                    */

/* sigreturn restores the sigaltstack setting saved in the signal frame. A
 * goroutine switched out from the handler on thread A and resumed on thread
 * B returns through a frame made on A: unless the handler fixes the frame, B
 * ends up with A's alternate signal stack (and B's own is lost). Three async
 * hogs on 2 Ps migrate between the two threads; each records, between its
 * async regions, which signal stack its current thread has. A thread whose
 * signal stack changes, or two threads sharing one, is the bug. */
#define ALT_MAX 64
typedef struct altrec {
  atomic_int tid[ALT_MAX]; /* 0: free slot */
  void *_Atomic sp[ALT_MAX];
  atomic_int conflicts;
  atomic_int stop;
  atomic_long migrations;
  goro_wg_t *wg;
} altrec_t;

/* alt_record runs inside the async region, so it is lock-free: the hog may
 * be switched out anywhere in it. */
static void alt_record(altrec_t *r) {
  stack_t ss;
  if (sigaltstack(NULL, &ss) != 0) return;
  int me = (int)syscall(SYS_gettid);
  for (int i = 0; i < ALT_MAX; i++) {
    int t = atomic_load(&r->tid[i]);
    if (t == 0) {
      void *expect = NULL;
      /* Claim the slot's stack first, then publish the thread. */
      if (atomic_compare_exchange_strong(&r->sp[i], &expect, ss.ss_sp)) {
        atomic_store(&r->tid[i], me);
        return;
      }
      while ((t = atomic_load(&r->tid[i])) == 0) {
      }
    }
    void *sp = atomic_load(&r->sp[i]);
    if (t == me) {
      if (sp != ss.ss_sp) atomic_fetch_add(&r->conflicts, 1);
      return;
    }
    if (sp == ss.ss_sp) atomic_fetch_add(&r->conflicts, 1);
  }
}

static void g_alt_hog(void *arg) {
  altrec_t *r = arg;
  goro_async_preemptible_begin();
  int last = (int)syscall(SYS_gettid);
  double x = 1.0;
  uint64_t i = 0;
  while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
    for (int k = 0; k < 2000; k++, i++) x = fp_round(x, i);
    int now = (int)syscall(SYS_gettid);
    if (now != last) {
      atomic_fetch_add(&r->migrations, 1);
      alt_record(r);
    }
    last = now;
  }
  alt_record(r);
  goro_async_preemptible_end();
  (void)x;
  goro_wg_done(r->wg);
}

static int alt_threads(altrec_t *r) {
  int n = 0;
  while (n < ALT_MAX && atomic_load(&r->tid[n]) != 0) n++;
  return n;
}

static void test_async_keeps_thread_altstack(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  assert_int_equal(init_cfg(2, 0, 2 * TU_MS), 0);
  goro_preempt_info_t i0 = info_now();
  if (!i0.async_enabled) {
    goro_shutdown();
    skip(); /* TSan build: no async switches */
  }
  static altrec_t r;
  memset(&r, 0, sizeof r);
  assert_int_equal(goro_wg_new(&r.wg), 0);
  goro_wg_add(r.wg, 3);
  for (int k = 0; k < 3; k++) assert_int_equal(goro_go(g_alt_hog, &r), 0);
  /* Run until async switches moved hogs between threads often enough. */
  int64_t end = tu_now_ns() + 3000 * TU_MS;
  /* Both Ps stay busy, so nothing steals: shrinking to 1 P and growing
   * back moves switched-out hogs between threads. */
  for (int k = 0; tu_now_ns() < end && atomic_load(&r.migrations) < 20; k++) {
    assert_int_equal(goro_maxprocs(k % 2 ? 2 : 1), k % 2 ? 1 : 2);
    tu_sleep_ms(15);
  }
  atomic_store(&r.stop, 1);
  assert_int_equal(goro_wg_wait(r.wg), 0);
  goro_wg_free(r.wg);
  goro_preempt_info_t i1 = info_now();
  print_message("    %ld migrations, %llu signals, %llu async switches, %llu honoured, %d threads "
                "seen, %d conflicts\n",
                atomic_load(&r.migrations), (unsigned long long)(i1.signals_sent - i0.signals_sent),
                (unsigned long long)(i1.async_switches - i0.async_switches),
                (unsigned long long)(i1.requests_honoured - i0.requests_honoured), alt_threads(&r),
                atomic_load(&r.conflicts));
  ASSERT_CMP(i1.async_switches - i0.async_switches, >, 0);
  /* Without the handler's fix this fails in most runs (checked by removing
   * it), even when the loop above saw no migration: the hogs also move at
   * switches it does not sample. */
  ASSERT_EQ(atomic_load(&r.conflicts), 0);
  tu_settle(0);
  assert_int_equal(goro_shutdown(), 0);
}

/* goro_go() pushes back. On one P a goroutine that spawns in a loop fills
 * its own queue; when the queue is full it yields at its next spawn, to the
 * back of the global queue (as a preempted goroutine does), so what it
 * spawned runs before it spawns more. The live count stays within one local
 * queue (256) plus runnext and the spawner. Without the backpressure the
 * spawner runs a whole time slice and everything it spawned meanwhile is
 * alive (a third of the n goroutines here at 10 ms slices). */
typedef struct spawnloop {
  long n;
  long peak;
  atomic_long ran;
} spawnloop_t;
static void spawned_fn(void *arg) { atomic_fetch_add(&((spawnloop_t *)arg)->ran, 1); }
static void spawner_fn(void *arg) {
  spawnloop_t *s = arg;
  for (long i = 0; i < s->n; i++) {
    GCHECK_CMP(goro_go(spawned_fn, s), ==, 0);
    if ((i & 15) == 0) {
      long g = goro_num_goroutine();
      if (g > s->peak) s->peak = g;
    }
  }
}
static void test_spawn_loop_backpressure(void **state) {
  (void)state;
  TU_WATCHDOG(120);
  tu_reset_fail();
  assert_int_equal(init_cfg(1, -1, 0), 0);
  static spawnloop_t s;
  memset(&s, 0, sizeof s);
  s.n = TU_SCALE(300000, 100000, 3000);
  int64_t t0 = tu_now_ns();
  assert_int_equal(goro_run(spawner_fn, &s), 0);
  int64_t t1 = tu_now_ns();
  ASSERT_EQ(tu_wait_goroutines(0, 60000), 0);
  print_message("    %ld spawns in %.0f ms on 1 P: peak %ld live goroutines\n", s.n,
                (double)(t1 - t0) / 1e6, s.peak);
  GASSERT_OK();
  ASSERT_EQ(atomic_load(&s.ran), s.n);
  ASSERT_CMP(s.peak, <=, 256 + 2 + 16); /* queue, runnext, spawner, sampling */
  assert_int_equal(goro_shutdown(), 0);
}

/* goro_go() is also a preemption point. A goroutine that computes and spawns
 * now and then (1 ms of work per spawn, far from filling its queue) yields
 * at a spawn once sysmon asks it to, so a goroutine queued behind it runs
 * within a slice or two. Cooperative (no signal), so it holds in TSan builds
 * too. Without the check it would run on until its queue filled: 256 ms. */
typedef struct spawnpoint {
  atomic_long spawned;
  atomic_long seen; /* spawned, as the queued goroutine saw it; -1: not yet */
} spawnpoint_t;
static void noop_fn(void *arg) { (void)arg; }
static void seer_fn(void *arg) {
  spawnpoint_t *s = arg;
  atomic_store(&s->seen, atomic_load(&s->spawned));
}
static void computing_spawner_fn(void *arg) {
  spawnpoint_t *s = arg;
  GCHECK_CMP(goro_go(seer_fn, s), ==, 0);
  while (atomic_load(&s->seen) < 0 && atomic_load(&s->spawned) < 1000) {
    int64_t until = tu_now_ns() + 1000000;
    while (tu_now_ns() < until) {
    }
    GCHECK_CMP(goro_go(noop_fn, NULL), ==, 0);
    atomic_fetch_add(&s->spawned, 1);
  }
}
static void test_spawn_is_preemption_point(void **state) {
  (void)state;
  TU_WATCHDOG(120);
  tu_reset_fail();
  assert_int_equal(init_cfg(1, -1, 0), 0);
  static spawnpoint_t s;
  atomic_store(&s.spawned, 0);
  atomic_store(&s.seen, -1);
  goro_preempt_info_t i0 = info_now();
  assert_int_equal(goro_run(computing_spawner_fn, &s), 0);
  ASSERT_EQ(tu_wait_goroutines(0, 60000), 0);
  goro_preempt_info_t i1 = info_now();
  print_message("    the queued goroutine ran after %ld spawns (1 ms apart); %llu requests "
                "honoured\n",
                atomic_load(&s.seen),
                (unsigned long long)(i1.requests_honoured - i0.requests_honoured));
  GASSERT_OK();
  ASSERT_CMP(atomic_load(&s.seen), >=, 0);
  ASSERT_CMP(atomic_load(&s.seen), <, 128);
  ASSERT_CMP(i1.requests_honoured - i0.requests_honoured, >, 0);
  assert_int_equal(goro_shutdown(), 0);
}

/* A failed test must not leave the runtime running for the next one. */
static int stop_runtime(void **state) {
  (void)state;
  goro_shutdown();
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Runnext stealing rescues a G readied behind a hog                        */

/* A hog on one of 2 Ps readies a receiver into its own runnext (a send to
 * the parked receiver), then spins without a preemption point, with no
 * preemption signal: the receiver can only run if the other P steals it from
 * runnext. The hog's schedtick does not move, so the steal goes ahead (the
 * grace sleep leaves runnext alone only for a P that keeps switching Gs). */
typedef struct rescue {
  goro_chan_t *ch;
  atomic_int parked_soon; /* the receiver is about to block */
  atomic_int received;    /* the receiver ran */
  atomic_int hog_saw;     /* the hog saw it while still spinning */
  atomic_int early;       /* it had run before the hog's send returned: no test */
  atomic_int done;
  int64_t spin_ns;        /* how long the hog spun before it saw it */
} rescue_t;

static void rescue_recv(void *arg) {
  rescue_t *r = arg;
  int v = 0;
  atomic_store(&r->parked_soon, 1);
  GCHECK_CMP(goro_chan_recv(r->ch, &v, GORO_NO_DEADLINE), ==, 0);
  atomic_store(&r->received, 1);
  atomic_fetch_add(&r->done, 1);
}

static void rescue_hog(void *arg) {
  rescue_t *r = arg;
  int v = 1;
  GCHECK_CMP(goro_chan_send(r->ch, &v, GORO_NO_DEADLINE), ==, 0); /* receiver -> runnext */
  /* If the receiver was not parked yet, the send waited for it and it ran
   * on its own: this round proves nothing. */
  if (atomic_load(&r->received)) atomic_store(&r->early, 1);
  int64_t t0 = tu_now_ns(), end = t0 + 2000 * TU_MS;
  while (tu_now_ns() < end) { /* no runtime call (a plain clock read): never yields */
    if (atomic_load(&r->received)) {
      atomic_store(&r->hog_saw, 1);
      break;
    }
  }
  r->spin_ns = tu_now_ns() - t0;
  atomic_fetch_add(&r->done, 1);
}

static void test_runnext_stolen_from_hog(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  assert_int_equal(init_cfg(2, -1, 0), 0); /* no preemption signal */
  int valid = 0;
  for (int round = 0; round < 12 && valid < 3; round++) {
    static rescue_t r;
    memset(&r, 0, sizeof r);
    assert_int_equal(goro_chan_make(&r.ch, sizeof(int), 0), 0);
    assert_int_equal(goro_go(rescue_recv, &r), 0);
    while (!atomic_load(&r.parked_soon)) tu_sleep_ms(1);
    tu_sleep_ms(20); /* it has parked by now, and both Ps are idle */
    assert_int_equal(goro_go(rescue_hog, &r), 0);
    int64_t end = tu_now_ns() + 20000 * TU_MS;
    while (atomic_load(&r.done) < 2 && tu_now_ns() < end) tu_sleep_ms(1);
    ASSERT_EQ(atomic_load(&r.done), 2);
    assert_int_equal(goro_chan_release(r.ch), 0);
    if (atomic_load(&r.early)) {
      print_message("    round %d: the receiver had not parked yet; not counted\n", round);
      continue;
    }
    print_message("    round %d: the hog spun %.2f ms before the receiver ran elsewhere\n",
                  round, r.spin_ns / 1e6);
    ASSERT_EQ(atomic_load(&r.hog_saw), 1);
    valid++;
  }
  ASSERT_EQ(valid, 3);
  tu_settle(0);
  assert_int_equal(goro_shutdown(), 0);
}

int main(void) {
  tu_apply_filter();
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = host_urg_handler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGURG, &sa, NULL);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_bad_usage, stop_runtime),
      cmocka_unit_test_teardown(test_async_hog, stop_runtime),
      cmocka_unit_test_teardown(test_async_keeps_thread_altstack, stop_runtime),
      cmocka_unit_test_teardown(test_cooperative_hog, stop_runtime),
      cmocka_unit_test_teardown(test_ignoring_hog, stop_runtime),
      cmocka_unit_test_teardown(test_host_sigurg_chained, stop_runtime),
      cmocka_unit_test_teardown(test_sysmon_sleeps, stop_runtime),
      cmocka_unit_test_teardown(test_spawn_loop_backpressure, stop_runtime),
      cmocka_unit_test_teardown(test_spawn_is_preemption_point, stop_runtime),
      cmocka_unit_test_teardown(test_runnext_stolen_from_hog, stop_runtime),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
