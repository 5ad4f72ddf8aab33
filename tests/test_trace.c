/*
 * test_trace.c: GORO_DEBUG=schedtrace/scheddetail (Go's format, parsed with
 * Go's field list) and goro_stats().
 *
 * The schedtrace tests run the runtime in a forked child with GORO_DEBUG
 * set and parse its stderr; every test starts and stops its own runtime, so
 * the parent never forks with runtime threads running.
 */
#include "testutil.h"

#include <regex.h>
#include <sys/wait.h>

/* ------------------------------------------------------------------------- */
/* Child runner                                                               */
/* ------------------------------------------------------------------------- */

/* run_child() forks; the child sets GORO_DEBUG, sends stderr into a pipe and
 * runs body(); the parent collects stderr into out (NUL-terminated) and
 * checks that the child exited with 0. */
static void run_child(const char *godebug, void (*body)(void), char *out, size_t n) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    tu_child_reset_signals();
    close(p[0]);
    dup2(p[1], 2);
    setenv("GORO_DEBUG", godebug, 1);
    body();
    fflush(stderr);
    _exit(0);
  }
  close(p[1]);
  tu_read_all(p[0], out, n);
  close(p[0]);
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    fail_msg("child failed (status 0x%x); stderr:\n%.4000s", st, out);
}

/* matches(): POSIX extended regex on one line. */
static int matches(const char *re, const char *line) {
  regex_t r;
  if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0) fail_msg("bad regex %s", re);
  int ok = regexec(&r, line, 0, NULL, 0) == 0;
  regfree(&r);
  return ok;
}

/* next_line(): copies the line at *pos into buf and advances; 0 at the end. */
static int next_line(const char **pos, char *buf, size_t n) {
  const char *s = *pos;
  if (!*s) return 0;
  const char *e = strchr(s, '\n');
  size_t len = e ? (size_t)(e - s) : strlen(s);
  size_t c = len < n - 1 ? len : n - 1;
  memcpy(buf, s, c);
  buf[c] = '\0';
  *pos = e ? e + 1 : s + len;
  return 1;
}

static char child_out[1 << 20];

/* ------------------------------------------------------------------------- */
/* schedtrace                                                                 */
/* ------------------------------------------------------------------------- */

static void sleeper(void *arg) {
  (void)arg;
  for (int i = 0; i < 40; i++) goro_sleep(10 * TU_MS);
}

static void trace_body(void) {
  if (tu_init_procs(2) != 0) _exit(20);
  for (int i = 0; i < 8; i++)
    if (goro_go(sleeper, NULL) != 0) _exit(21);
  tu_sleep_ms(550);
  if (tu_wait_goroutines(0, 20000) != 0) _exit(22);
  if (goro_shutdown() != 0) _exit(23);
}

/* Go's schedtrace line (proc.go, Go 1.21+ with needspinning), non-detailed. */
static const char sched_re[] =
    "^SCHED ([0-9]+)ms: gomaxprocs=([0-9]+) idleprocs=[0-9]+ threads=[0-9]+ "
    "spinningthreads=[0-9]+ needspinning=[0-9]+ idlethreads=[0-9]+ runqueue=[0-9]+ "
    "\\[[0-9]+( [0-9]+)*\\]$";

static void test_schedtrace_line(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  run_child("schedtrace=100", trace_body, child_out, sizeof child_out);
  const char *pos = child_out;
  char line[4096];
  int n = 0;
  long long prev = -1;
  while (next_line(&pos, line, sizeof line)) {
    if (strncmp(line, "SCHED ", 6) != 0) continue;
    if (!matches(sched_re, line)) fail_msg("not Go's schedtrace shape: \"%s\"", line);
    /* Parse with Go's field list, in Go's order. */
    long long ms;
    int procs, idle, threads, spinning, needspinning, idlethreads, runq, q0, q1;
    int k = sscanf(line,
                   "SCHED %lldms: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d "
                   "needspinning=%d idlethreads=%d runqueue=%d [%d %d]",
                   &ms, &procs, &idle, &threads, &spinning, &needspinning, &idlethreads, &runq,
                   &q0, &q1);
    assert_int_equal(k, 10);
    assert_int_equal(procs, 2);
    assert_true(idle >= 0 && idle <= 2);
    assert_true(threads >= 1);
    assert_true(spinning >= 0 && spinning <= 2);
    assert_int_equal(needspinning, 0);
    assert_true(idlethreads >= 0 && idlethreads <= threads);
    assert_true(runq >= 0 && q0 >= 0 && q1 >= 0);
    /* One line per period at most: the hook keeps schedtrace=100's spacing. */
    if (prev >= 0) ASSERT_CMP(ms - prev, >=, 99);
    prev = ms;
    n++;
  }
  if (n < 2) fail_msg("expected at least 2 SCHED lines in 550 ms, got %d:\n%.4000s", n, child_out);
}

static goro_chan_t *detail_ch, *locked_ch;

static void detail_recv(void *arg) {
  goro_chan_t *ch = arg;
  int v;
  if (ch == locked_ch) goro_lock_thread();
  goro_chan_recv(ch, &v, GORO_NO_DEADLINE);
  if (ch == locked_ch) goro_unlock_thread();
}

static void detail_body(void) {
  if (tu_init_procs(2) != 0) _exit(20);
  if (goro_chan_make(&detail_ch, sizeof(int), 0) != 0) _exit(21);
  if (goro_chan_make(&locked_ch, sizeof(int), 0) != 0) _exit(21);
  goro_go_opts_t o = GORO_GO_OPTS_INIT;
  uint64_t id1 = 0, id2 = 0;
  if (goro_go_opts(&o, detail_recv, detail_ch, &id1) != 0) _exit(22);
  if (goro_go_opts(&o, detail_recv, locked_ch, &id2) != 0) _exit(22);
  fprintf(stderr, "IDS %" PRIu64 " %" PRIu64 "\n", id1, id2);
  tu_sleep_ms(350);
  int v = 1;
  if (goro_chan_send(detail_ch, &v, GORO_NO_DEADLINE) != 0) _exit(23);
  if (goro_chan_send(locked_ch, &v, GORO_NO_DEADLINE) != 0) _exit(23);
  if (tu_wait_goroutines(0, 20000) != 0) _exit(24);
  goro_chan_release(detail_ch);
  goro_chan_release(locked_ch);
  if (goro_shutdown() != 0) _exit(25);
}

static void test_scheddetail_lines(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  run_child("schedtrace=100,scheddetail=1", detail_body, child_out, sizeof child_out);
  unsigned long long id1 = 0, id2 = 0;
  const char *ids = strstr(child_out, "IDS ");
  assert_non_null(ids);
  assert_int_equal(sscanf(ids, "IDS %llu %llu", &id1, &id2), 2);
  char g1[128], g2pre[128];
  snprintf(g1, sizeof g1, "  G%llu: status=4(chan receive) m=-1 lockedm=-1", id1);
  snprintf(g2pre, sizeof g2pre, "  G%llu: status=4(chan receive) m=-1 lockedm=", id2);
  int sched = 0, p0 = 0, p1 = 0, mlines = 0, sawg1 = 0, sawg2 = 0, lockedm = -1;
  int m_locks_g2 = -1;
  const char *pos = child_out;
  char line[4096];
  while (next_line(&pos, line, sizeof line)) {
    if (strncmp(line, "SCHED ", 6) == 0) {
      if (!matches("^SCHED [0-9]+ms: gomaxprocs=2 idleprocs=[0-9]+ threads=[0-9]+ "
                   "spinningthreads=[0-9]+ needspinning=0 idlethreads=[0-9]+ runqueue=[0-9]+ "
                   "gcwaiting=0 nmidlelocked=0 stopwait=0 sysmonwait=0$",
                   line))
        fail_msg("bad detailed SCHED line: \"%s\"", line);
      sched++;
    } else if (strncmp(line, "  P", 3) == 0) {
      if (!matches("^  P[0-9]+: status=[0-4] schedtick=[0-9]+ syscalltick=[0-9]+ m=-?[0-9]+ "
                   "runqsize=[0-9]+ gfreecnt=[0-9]+ timerslen=[0-9]+$",
                   line))
        fail_msg("bad P line: \"%s\"", line);
      if (strncmp(line, "  P0:", 5) == 0) p0++;
      if (strncmp(line, "  P1:", 5) == 0) p1++;
    } else if (strncmp(line, "  M", 3) == 0) {
      if (!matches("^  M[0-9]+: p=-?[0-9]+ curg=-?[0-9]+ mallocing=0 throwing=0 preemptoff= "
                   "locks=0 dying=0 spinning=(true|false) blocked=(true|false) lockedg=-?[0-9]+$",
                   line))
        fail_msg("bad M line: \"%s\"", line);
      int mid;
      long long lg;
      const char *l = strstr(line, "lockedg=");
      assert_int_equal(sscanf(line, "  M%d:", &mid), 1);
      assert_int_equal(sscanf(l, "lockedg=%lld", &lg), 1);
      if ((unsigned long long)lg == id2) m_locks_g2 = mid;
      mlines++;
    } else if (strncmp(line, "  G", 3) == 0) {
      if (!matches("^  G[0-9]+: status=[0-9]+\\([^)]*\\) m=-?[0-9]+ lockedm=-?[0-9]+$", line))
        fail_msg("bad G line: \"%s\"", line);
      if (strcmp(line, g1) == 0) sawg1++;
      if (strncmp(line, g2pre, strlen(g2pre)) == 0) {
        sawg2++;
        lockedm = atoi(line + strlen(g2pre));
      }
    }
  }
  if (sched < 2 || p0 < 2 || p1 < 2 || mlines < 2 || !sawg1 || !sawg2)
    fail_msg("sched=%d p0=%d p1=%d m=%d g1=%d g2=%d in:\n%.4000s", sched, p0, p1, mlines, sawg1,
             sawg2, child_out);
  /* The locked goroutine names its M, and that M names it back. */
  assert_true(lockedm >= 0);
  assert_int_equal(lockedm, m_locks_g2);
}

/* schedtrace=0 (or no GORO_DEBUG): no SCHED line at all. */
static void test_schedtrace_off(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  run_child("scheddetail=1", trace_body, child_out, sizeof child_out);
  if (strstr(child_out, "SCHED ")) fail_msg("SCHED line without schedtrace:\n%.2000s", child_out);
}

/* ------------------------------------------------------------------------- */
/* goro_stats                                                                 */
/* ------------------------------------------------------------------------- */

static void test_stats_bad_input(void **state) {
  (void)state;
  goro_stats_t s;
  assert_int_equal(goro_stats(NULL, sizeof s), -EINVAL);
  assert_int_equal(goro_stats(&s, 0), -EINVAL);
  assert_int_equal(goro_stats(&s, sizeof(size_t)), -EINVAL);
  assert_int_equal(goro_stats(&s, offsetof(goro_stats_t, gomaxprocs) - 1), -EINVAL);
  assert_int_equal(goro_stats(&s, 65537), -EINVAL);
  assert_int_equal(goro_stats(&s, (size_t)-1), -EINVAL);

  /* Not running: succeeds, scheduler fields zero. */
  memset(&s, 0xff, sizeof s);
  assert_int_equal(goro_stats(&s, sizeof s), 0);
  assert_int_equal(s.size, sizeof s);
  assert_int_equal(s.running, 0);
  assert_int_equal(s.gomaxprocs, 0);
  assert_int_equal(s.threads, 0);
  assert_int_equal(s.goroutines_live, 0);
  assert_true(s.threads_live <= s.threads_created);

  /* A caller compiled against a newer, larger struct: the tail it has and
   * we do not is zeroed, and size tells how much we filled. */
  struct {
    goro_stats_t s;
    unsigned char tail[40];
  } big;
  memset(&big, 0xff, sizeof big);
  assert_int_equal(goro_stats(&big.s, sizeof big), 0);
  assert_int_equal(big.s.size, sizeof(goro_stats_t));
  for (size_t i = 0; i < sizeof big.tail; i++) assert_int_equal(big.tail[i], 0);

  /* An older, smaller struct: nothing past its size is touched. */
  size_t small = offsetof(goro_stats_t, goroutines_created);
  memset(&s, 0xaa, sizeof s);
  assert_int_equal(goro_stats(&s, small), 0);
  assert_int_equal(s.size, small);
  const unsigned char *b = (const unsigned char *)&s;
  for (size_t i = small; i < sizeof s; i++) assert_int_equal(b[i], 0xaa);
}

/* Threads named goro-m<N> in /proc/self/task: the runtime's Ms. */
static int count_m_threads(void) {
  DIR *d = opendir("/proc/self/task");
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char path[300], comm[64] = {0};
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    if (fgets(comm, sizeof comm, f)) {
      int id;
      char c;
      if (sscanf(comm, "goro-m%d%c", &id, &c) == 2 && c == '\n') n++;
    }
    fclose(f);
  }
  closedir(d);
  return n;
}

static uint64_t burn_iters;
static goro_wg_t *burn_wg;

static void burner(void *arg) {
  (void)arg;
  tu_burn(burn_iters);
  goro_wg_done(burn_wg);
}

static void spawner(void *arg) {
  long n = (long)arg;
  for (long i = 0; i < n; i++) GCHECK(goro_go(burner, NULL) == 0);
}

static void block_on(void *arg) {
  int v;
  GCHECK(goro_chan_recv(arg, &v, GORO_NO_DEADLINE) == -EPIPE);
}

static void test_stats_coherent(void **state) {
  (void)state;
  TU_WATCHDOG(120);
  goro_stats_t before, s;
  assert_int_equal(goro_stats(&before, sizeof before), 0);
  assert_int_equal(tu_init_procs(2), 0);
  burn_iters = tu_calibrate_burn(100 * TU_US);
  assert_int_equal(goro_wg_new(&burn_wg), 0);

  /* A stealing workload: one goroutine queues many CPU-bound goroutines on
   * its own P; the other P's M must steal them. */
  const long n = TU_SCALE(200, 100, 50);
  long spawned = 0;
  for (int round = 0; round < 50; round++) {
    assert_int_equal(goro_wg_add(burn_wg, n), 0);
    assert_int_equal(goro_go(spawner, (void *)n), 0);
    spawned += n;
    assert_int_equal(goro_wg_wait(burn_wg), 0);
    assert_int_equal(goro_stats(&s, sizeof s), 0);
    if (s.steals > before.steals) break;
  }
  GASSERT_OK();
  tu_settle(0);
  assert_int_equal(goro_stats(&s, sizeof s), 0);
  assert_int_equal(s.size, sizeof s);
  assert_int_equal(s.running, 1);
  assert_int_equal(s.gomaxprocs, 2);
  assert_true(s.steals > before.steals);
  assert_true(s.idleprocs >= 0 && s.idleprocs <= 2);
  assert_true(s.spinningthreads >= 0 && s.spinningthreads <= 2);
  assert_true(s.idlethreads >= 0 && s.idlethreads <= s.threads);
  assert_true(s.runqueue >= 0 && s.local_runqueue >= 0);
  /* spawners + burners, all gone now */
  ASSERT_CMP(s.goroutines_created, >=, (uint64_t)spawned);
  assert_int_equal(s.goroutines_live, 0);
  assert_int_equal(goro_num_goroutine(), 0);
  assert_true(s.threads_created > before.threads_created);

  /* threads == the Ms alive == the goro-m* tasks of this process; threads
   * come and go (an M may be between creation and its first instruction),
   * so poll until the three agree. */
  int64_t end = tu_now_ns() + 5000 * TU_MS;
  int tasks = -1;
  for (;;) {
    assert_int_equal(goro_stats(&s, sizeof s), 0);
    tasks = count_m_threads();
    if ((uint64_t)s.threads == s.threads_live - before.threads_live && tasks == s.threads) break;
    if (tu_now_ns() > end)
      fail_msg("threads=%d threads_live=%llu (before %llu) goro-m tasks=%d", s.threads,
               (unsigned long long)s.threads_live, (unsigned long long)before.threads_live, tasks);
    tu_sleep_ms(5);
  }
  assert_true(s.threads >= 1);

  /* Live goroutines counted while they exist. */
  goro_chan_t *ch;
  assert_int_equal(goro_chan_make(&ch, sizeof(int), 0), 0);
  uint64_t created0 = s.goroutines_created;
  for (int i = 0; i < 3; i++) assert_int_equal(goro_go(block_on, ch), 0);
  assert_int_equal(goro_stats(&s, sizeof s), 0);
  assert_int_equal(s.goroutines_live, 3);
  assert_int_equal(s.goroutines_created, created0 + 3);
  assert_int_equal(goro_chan_close(ch), 0);
  tu_settle(0);
  goro_chan_release(ch);

  goro_stats_t running = s;
  assert_int_equal(goro_wg_free(burn_wg), 0);
  assert_int_equal(goro_shutdown(), 0);

  /* After shutdown: counters stay, the scheduler fields are zero. */
  assert_int_equal(goro_stats(&s, sizeof s), 0);
  assert_int_equal(s.running, 0);
  assert_int_equal(s.gomaxprocs, 0);
  assert_int_equal(s.threads, 0);
  assert_int_equal(s.goroutines_created, 0);
  assert_true(s.steals >= running.steals);
  assert_true(s.threads_created >= running.threads_created);
  assert_int_equal(s.threads_live, before.threads_live);
  TU_WATCHDOG(0);
}

/* goro_stats and goro_dump hammered from plain threads and goroutines while
 * goroutines come and go: no crash, no TSan report, sane values. */
static atomic_int hammer_stop;

static void *hammer_thread(void *arg) {
  (void)arg;
  FILE *null = fopen("/dev/null", "w");
  while (!atomic_load(&hammer_stop)) {
    goro_stats_t s;
    GCHECK(goro_stats(&s, sizeof s) == 0);
    GCHECK(s.goroutines_live <= s.goroutines_created);
    GCHECK(s.idleprocs <= s.gomaxprocs);
    if (null) GCHECK(goro_dump(null) >= 0);
  }
  if (null) fclose(null);
  return NULL;
}

static goro_wg_t *churn_wg;

static void churn_leaf(void *arg) {
  (void)arg;
  goro_yield();
  goro_wg_done(churn_wg);
}

static void churn(void *arg) {
  long n = (long)arg;
  for (long i = 0; i < n; i++) {
    goro_stats_t s;
    GCHECK(goro_stats(&s, sizeof s) == 0);
    GCHECK(s.running == 1);
    goro_go_opts_t o = GORO_GO_OPTS_INIT;
    o.name = "churn-leaf";
    GCHECK(goro_go_opts(&o, churn_leaf, NULL, NULL) == 0);
    if (i % 16 == 0) goro_sleep(100 * TU_US);
  }
  goro_wg_done(churn_wg);
}

static void test_stats_concurrent(void **state) {
  (void)state;
  TU_WATCHDOG(120);
  assert_int_equal(tu_init_procs(2), 0);
  atomic_store(&hammer_stop, 0);
  pthread_t th[2];
  for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&th[i], NULL, hammer_thread, NULL), 0);
  const long per = TU_SCALE(2000, 500, 200);
  const int churners = 4;
  assert_int_equal(goro_wg_new(&churn_wg), 0);
  assert_int_equal(goro_wg_add(churn_wg, churners * (per + 1)), 0);
  for (int i = 0; i < churners; i++) assert_int_equal(goro_go(churn, (void *)per), 0);
  assert_int_equal(goro_wg_wait(churn_wg), 0);
  atomic_store(&hammer_stop, 1);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  GASSERT_OK();
  tu_settle(0);
  assert_int_equal(goro_wg_free(churn_wg), 0);
  assert_int_equal(goro_shutdown(), 0);
  TU_WATCHDOG(0);
}

int main(void) {
  tu_apply_filter();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stats_bad_input),
      cmocka_unit_test(test_schedtrace_line),
      cmocka_unit_test(test_scheddetail_lines),
      cmocka_unit_test(test_schedtrace_off),
      cmocka_unit_test(test_stats_coherent),
      cmocka_unit_test(test_stats_concurrent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
