/*
 * test_audit.c: goro-audit (ebpf/) against real workloads, checked against
 * what the kernel and the workloads themselves report through other channels
 * (/proc, cgroupfs cpu.stat, the workload's own counts).
 *
 * The workloads are this same executable run as `test_audit --workload KIND
 * ...`: each waits for one byte on stdin before it starts, so goro-audit is
 * attached before anything happens, and the tests compare exact counts.
 *
 * Needs root (BPF), a kernel with BTF and the plain build (goro-audit is not
 * built in the sanitizer builds: BPF programs cannot be sanitized); skips
 * with the reason otherwise. The Go test also needs `go` (golang-go).
 */
#include "testutil.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char self_exe[PATH_MAX];

/* ------------------------------------------------------------------------- */
/* Workloads (child processes)                                                */
/* ------------------------------------------------------------------------- */

static void wait_go(void) {
  char b;
  while (read(0, &b, 1) < 0 && errno == EINTR) {
  }
}

/* threads N: N threads all alive at once, then they exit; the process then
 * waits for EOF or a second byte on stdin before it exits. */
static pthread_barrier_t wl_barrier;
static void *wl_thread(void *arg) {
  (void)arg;
  pthread_barrier_wait(&wl_barrier);
  pthread_barrier_wait(&wl_barrier);
  return NULL;
}
static int wl_threads(int n) {
  wait_go();
  pthread_t th[64];
  if (n > 64) return 2;
  pthread_barrier_init(&wl_barrier, NULL, (unsigned)n + 1);
  for (int i = 0; i < n; i++)
    if (pthread_create(&th[i], NULL, wl_thread, NULL)) return 3;
  pthread_barrier_wait(&wl_barrier); /* all n + 1 alive */
  pthread_barrier_wait(&wl_barrier);
  for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
  printf("done\n");
  fflush(stdout);
  wait_go();
  return 0;
}

/* busy SECS: one thread on CPU 0 spinning for SECS seconds. */
static int wl_busy(double secs) {
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(0, &s);
  sched_setaffinity(0, sizeof s, &s);
  wait_go();
  int64_t end = tu_now_ns() + (int64_t)(secs * 1e9);
  volatile uint64_t x = 0;
  while (tu_now_ns() < end)
    for (int i = 0; i < 10000; i++) x += (uint64_t)i;
  return 0;
}

/* signals T K: K SIGURG sent with tgkill to its own T sleeping threads. */
static atomic_int wl_handled, wl_stop;
static pid_t wl_tids[16];
static atomic_int wl_ready;
static void wl_on_urg(int sig) {
  (void)sig;
  atomic_fetch_add(&wl_handled, 1);
}
static void *wl_sleeper(void *arg) {
  wl_tids[(intptr_t)arg] = tu_gettid();
  atomic_fetch_add(&wl_ready, 1);
  while (!atomic_load(&wl_stop)) tu_sleep_ms(1);
  return NULL;
}
static int wl_signals(int t, int k) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = wl_on_urg;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGURG, &sa, NULL);
  pthread_t th[16];
  if (t > 16) return 2;
  for (intptr_t i = 0; i < t; i++) pthread_create(&th[i], NULL, wl_sleeper, (void *)i);
  while (atomic_load(&wl_ready) < t) tu_sleep_ms(1);
  wait_go();
  pid_t pid = getpid();
  for (int i = 0; i < k; i++) {
    syscall(SYS_tgkill, pid, wl_tids[i % t], SIGURG);
    if (i % 7 == 0) tu_sleep_ns(200 * TU_US); /* some delivered, some coalesced */
  }
  tu_sleep_ms(300); /* let every queued signal be delivered */
  atomic_store(&wl_stop, 1);
  for (int i = 0; i < t; i++) pthread_join(th[i], NULL);
  printf("handled=%d\n", atomic_load(&wl_handled));
  fflush(stdout);
  return 0;
}

/* goro N: N CPU-bound goroutines at 2 Ps, then the process stays alive
 * (runtime up) until EOF on stdin. */
static void wl_spin(void *arg) {
  tu_spin_ns(50 * TU_MS);
  GCHECK_CMP(goro_wg_done((goro_wg_t *)arg), ==, 0);
}
static void wl_goro_main(void *arg) {
  int n = *(int *)arg;
  goro_wg_t *wg;
  GCHECK_CMP(goro_wg_new(&wg), ==, 0);
  GCHECK_CMP(goro_wg_add(wg, n), ==, 0);
  for (int i = 0; i < n; i++) GCHECK_CMP(goro_go(wl_spin, wg), ==, 0);
  GCHECK_CMP(goro_wg_wait(wg), ==, 0);
  GCHECK_CMP(goro_wg_free(wg), ==, 0);
}
static int wl_goro(int n) {
  wait_go();
  if (tu_init_procs(2) != 0) return 2;
  if (goro_run(wl_goro_main, &n) != 0) return 3;
  printf("done\n");
  fflush(stdout);
  wait_go();
  return goro_shutdown() >= 0 ? 0 : 4;
}

/* gsys raw|announced: a goroutine blocks 5 times for 30 ms in nanosleep,
 * without (raw) or inside goro_syscall_enter/exit (announced). */
static void wl_gsys_main(void *arg) {
  bool announced = *(bool *)arg;
  for (int i = 0; i < 5; i++) {
    if (announced) GCHECK_CMP(goro_syscall_enter(), ==, 0);
    tu_sleep_ms(30);
    if (announced) GCHECK_CMP(goro_syscall_exit(), ==, 0);
  }
}
static int wl_gsys(bool announced) {
  if (tu_init_procs(1) != 0) return 2;
  wait_go();
  if (goro_run(wl_gsys_main, &announced) != 0) return 3;
  printf("done\n");
  fflush(stdout);
  wait_go();
  return goro_shutdown() >= 0 ? 0 : 4;
}

static int workload_main(int argc, char **argv) {
  tu_child_reset_signals();
  if (argc >= 4 && !strcmp(argv[2], "threads")) return wl_threads(atoi(argv[3]));
  if (argc >= 4 && !strcmp(argv[2], "busy")) return wl_busy(atof(argv[3]));
  if (argc >= 5 && !strcmp(argv[2], "signals")) return wl_signals(atoi(argv[3]), atoi(argv[4]));
  if (argc >= 4 && !strcmp(argv[2], "goro")) return wl_goro(atoi(argv[3]));
  if (argc >= 4 && !strcmp(argv[2], "gsys")) return wl_gsys(!strcmp(argv[3], "announced"));
  fprintf(stderr, "unknown workload\n");
  return 64;
}

/* ------------------------------------------------------------------------- */
/* Running processes                                                          */
/* ------------------------------------------------------------------------- */

struct proc {
  pid_t pid;
  int in;  /* its stdin (write end), -1 closed */
  int out; /* its stdout (read end) */
  int err; /* its stderr (read end), -1 when inherited */
};

/* spawn(): run argv with piped stdin/stdout (and stderr if want_err);
 * pre_exec (may be NULL) runs in the child before exec. */
static struct proc spawn(char *const argv[], bool want_err, void (*pre_exec)(void)) {
  int pin[2], pout[2], perr[2] = {-1, -1};
  assert_int_equal(pipe2(pin, O_CLOEXEC), 0);
  assert_int_equal(pipe2(pout, O_CLOEXEC), 0);
  if (want_err) assert_int_equal(pipe2(perr, O_CLOEXEC), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    tu_child_reset_signals();
    dup2(pin[0], 0);
    dup2(pout[1], 1);
    if (want_err) dup2(perr[1], 2);
    if (pre_exec) pre_exec();
    execv(argv[0], argv);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(pin[0]);
  close(pout[1]);
  if (want_err) close(perr[1]);
  struct proc p = {pid, pin[1], pout[0], perr[0]};
  return p;
}

static struct proc spawn_workload(const char *kind, const char *a1, const char *a2) {
  char *argv[] = {self_exe, "--workload", (char *)kind, (char *)a1, (char *)a2, NULL};
  return spawn(argv, false, NULL);
}

static void go_byte(struct proc *p) { assert_int_equal(write(p->in, "g", 1), 1); }
static void close_in(struct proc *p) {
  if (p->in >= 0) close(p->in);
  p->in = -1;
}

/* read_all(): everything fd gives until EOF (timeout_ms for the whole). */
static char *read_all(int fd, int timeout_ms) {
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  assert_non_null(buf);
  int64_t end = tu_now_ns() + (int64_t)timeout_ms * TU_MS;
  for (;;) {
    int left = (int)((end - tu_now_ns()) / TU_MS);
    if (left <= 0) break;
    struct pollfd pfd = {fd, POLLIN, 0};
    int r = poll(&pfd, 1, left);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    if (len + 4096 > cap) {
      cap *= 2;
      buf = realloc(buf, cap);
      assert_non_null(buf);
    }
    ssize_t n = read(fd, buf + len, cap - len - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  buf[len] = '\0';
  return buf;
}

/* read_line_until(): reads fd until a line containing `want` (true) or EOF
 * or timeout (false); what was read goes to buf. */
static bool read_until(int fd, const char *want, char *buf, size_t cap, int timeout_ms) {
  size_t len = 0;
  buf[0] = '\0';
  int64_t end = tu_now_ns() + (int64_t)timeout_ms * TU_MS;
  while (len + 1 < cap) {
    int left = (int)((end - tu_now_ns()) / TU_MS);
    if (left <= 0) return false;
    struct pollfd pfd = {fd, POLLIN, 0};
    int r = poll(&pfd, 1, left);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    ssize_t n = read(fd, buf + len, 1);
    if (n <= 0) return false;
    buf[++len] = '\0';
    if (buf[len - 1] == '\n' && strstr(buf, want)) return true;
  }
  return false;
}

static int wait_exit(pid_t pid, int timeout_ms) {
  int64_t end = tu_now_ns() + (int64_t)timeout_ms * TU_MS;
  int st;
  for (;;) {
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (tu_now_ns() > end) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      return -1;
    }
    tu_sleep_ms(5);
  }
}

#ifdef GORO_AUDIT_BIN
static const char *audit_bin = GORO_AUDIT_BIN;
#else
static const char *audit_bin = NULL;
#endif

static void need_audit(bool root) {
  if (!audit_bin) {
    print_message(
        "goro-audit is built only in the plain build (GORO_AUDIT=ON, no GORO_SANITIZE: "
        "BPF programs cannot be sanitized); skipping\n");
    skip();
  }
  if (root && geteuid() != 0) {
    print_message("goro-audit needs root (BPF); skipping\n");
    skip();
  }
  if (root && access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
    print_message("the kernel has no BTF (/sys/kernel/btf/vmlinux); skipping\n");
    skip();
  }
}

struct audit {
  struct proc p;
  char err[4096];
};

/* start_audit(): goro-audit --pid pid --json [extra...]; returns once it
 * says it is attached (fails the test if it does not within 30 s). */
static struct audit start_audit4(pid_t pid, const char *x1, const char *x2, const char *x3,
                                 const char *x4) {
  char pidbuf[16];
  snprintf(pidbuf, sizeof pidbuf, "%d", (int)pid);
  char *argv[] = {(char *)audit_bin, "--pid",    pidbuf,     "--json", (char *)x1,
                  (char *)x2,        (char *)x3, (char *)x4, NULL};
  struct audit a;
  a.p = spawn(argv, true, NULL);
  if (!read_until(a.p.err, "attached to pid", a.err, sizeof a.err, 30000)) {
    kill(a.p.pid, SIGKILL);
    fail_msg("goro-audit did not attach: %s", a.err);
  }
  return a;
}

static struct audit start_audit(pid_t pid, const char *x1, const char *x2) {
  return start_audit4(pid, x1, x2, NULL, NULL);
}

/* finish_audit(): its JSON report (the last line) and its exit status. */
static char *finish_audit(struct audit *a, int *status) {
  char *out = read_all(a->p.out, 60000);
  *status = wait_exit(a->p.pid, 10000);
  char *rest = read_all(a->p.err, 100);
  if (*status != 0 && *status != 3) print_message("goro-audit stderr: %s%s\n", a->err, rest);
  free(rest);
  close(a->p.out);
  close(a->p.err);
  close_in(&a->p);
  char *rep = strstr(out, "{\"type\":\"report\"");
  if (!rep) fail_msg("no report from goro-audit (status %d): %s", *status, out);
  return out;
}

/* jnum(doc, section, key): the number after "key": inside "section":{ of
 * the report (section NULL: the report's top level). */
static double jnum(const char *doc, const char *section, const char *key) {
  const char *p = strstr(doc, "{\"type\":\"report\"");
  assert_non_null(p);
  if (section) {
    char s[64];
    snprintf(s, sizeof s, "\"%s\":{", section);
    p = strstr(p, s);
    if (!p) fail_msg("no section %s in %s", section, doc);
  }
  char k[64];
  snprintf(k, sizeof k, "\"%s\":", key);
  const char *q = strstr(p, k);
  if (!q) fail_msg("no key %s.%s in %s", section ? section : "", key, doc);
  q += strlen(k);
  if (!strncmp(q, "true", 4)) return 1;
  if (!strncmp(q, "false", 5)) return 0;
  return strtod(q, NULL);
}

/* verdict(doc, name): "ok", "fail" or "n/a" */
static const char *verdict(const char *doc, const char *name) {
  char k[96];
  snprintf(k, sizeof k, "{\"name\":\"%s\",\"result\":\"", name);
  const char *q = strstr(doc, k);
  if (!q) fail_msg("no verdict %s in %s", name, doc);
  q += strlen(k);
  return !strncmp(q, "ok", 2) ? "ok" : !strncmp(q, "fail", 4) ? "fail" : "n/a";
}

/* ------------------------------------------------------------------------- */
/* Tests                                                                      */
/* ------------------------------------------------------------------------- */

/* Usage errors and a pid that does not exist: clear message, no crash. */
static void test_audit_errors(void **state) {
  (void)state;
  need_audit(false);
  TU_WATCHDOG(30);
  /* a pid that existed a moment ago */
  pid_t gone = fork();
  if (gone == 0) _exit(0);
  waitpid(gone, NULL, 0);
  char pidbuf[16];
  snprintf(pidbuf, sizeof pidbuf, "%d", (int)gone);
  char *a1[] = {(char *)audit_bin, "--pid", pidbuf, NULL};
  struct proc p = spawn(a1, true, NULL);
  char *err = read_all(p.err, 10000);
  assert_int_equal(wait_exit(p.pid, 10000), 1);
  if (!strstr(err, "no such process")) fail_msg("stderr: %s", err);
  free(err);
  free(read_all(p.out, 100));
  close(p.out), close(p.err), close_in(&p);

  /* a kernel without BTF (simulated with --btf pointing nowhere) */
  snprintf(pidbuf, sizeof pidbuf, "%d", (int)getpid());
  char *a2[] = {(char *)audit_bin, "--pid", pidbuf, "--btf", "/nonexistent/vmlinux", NULL};
  p = spawn(a2, true, NULL);
  err = read_all(p.err, 10000);
  assert_int_equal(wait_exit(p.pid, 10000), 5);
  if (!strstr(err, "no kernel BTF") || !strstr(err, "CONFIG_DEBUG_INFO_BTF"))
    fail_msg("stderr: %s", err);
  free(err);
  free(read_all(p.out, 100));
  close(p.out), close(p.err), close_in(&p);

  const char *bad[][3] = {{"--pid", "0", NULL},           {"--pid", "12x", NULL},
                          {"--duration", "1", NULL},      {"--pid", "1", "--frobnicate"},
                          {"--pid", NULL, NULL},          {"--pid", "1", "--signal"},
                          {"--signal", "BOGUS", "--json"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *av[] = {(char *)audit_bin, (char *)bad[i][0], (char *)bad[i][1], (char *)bad[i][2], NULL};
    struct proc q = spawn(av, true, NULL);
    char *e = read_all(q.err, 10000);
    int st = wait_exit(q.pid, 10000);
    if (st != 2) fail_msg("case %zu: exit %d, stderr %s", i, st, e);
    assert_non_null(strstr(e, "goro-audit:"));
    free(e);
    free(read_all(q.out, 100));
    close(q.out), close(q.err), close_in(&q);
  }
  TU_WATCHDOG(0);
}

static void drop_to_nobody(void) {
  if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0) _exit(126);
}

/* Not root: says what it needs, exits 4. */
static void test_audit_not_root(void **state) {
  (void)state;
  need_audit(true); /* root is needed to become nobody */
  TU_WATCHDOG(30);
  struct proc w = spawn_workload("threads", "1", NULL);
  char pidbuf[16];
  snprintf(pidbuf, sizeof pidbuf, "%d", (int)w.pid);
  char *av[] = {(char *)audit_bin, "--pid", pidbuf, "--duration", "1", NULL};
  struct proc p = spawn(av, true, drop_to_nobody);
  char *err = read_all(p.err, 10000);
  int st = wait_exit(p.pid, 10000);
  if (st != 4 || !strstr(err, "root") || !strstr(err, "CAP_BPF"))
    fail_msg("exit %d, stderr: %s", st, err);
  free(err);
  free(read_all(p.out, 100));
  close(p.out), close(p.err), close_in(&p);
  close_in(&w);
  kill(w.pid, SIGKILL);
  wait_exit(w.pid, 10000);
  TU_WATCHDOG(0);
}

/* N threads: created N, peak N + 1 (with the main thread), exited N, one
 * live at the end, which /proc agrees with. */
static void test_audit_threads(void **state) {
  (void)state;
  need_audit(true);
  TU_WATCHDOG(60);
  const int n = 8;
  struct proc w = spawn_workload("threads", "8", NULL);
  struct audit a = start_audit4(w.pid, "--duration", "2", "--interval", "0.5");
  go_byte(&w);
  int st;
  char *doc = finish_audit(&a, &st);
  char line[64];
  assert_true(read_until(w.out, "done", line, sizeof line, 10000));
  assert_int_equal(st, 0);
  assert_int_equal(jnum(doc, NULL, "exited"), 0);
  assert_int_equal(jnum(doc, "threads", "at_attach"), 1);
  assert_int_equal(jnum(doc, "threads", "created"), n);
  assert_int_equal(jnum(doc, "threads", "exited"), n);
  assert_int_equal(jnum(doc, "threads", "peak"), n + 1);
  assert_int_equal(jnum(doc, "threads", "live"), 1);
  assert_int_equal(jnum(doc, "threads", "proc_task"), 1);
  assert_int_equal(jnum(doc, "threads", "untracked"), 0);
  assert_string_equal(verdict(doc, "threads"), "ok");
  /* --interval: JSON lines before the report */
  const char *iv = strstr(doc, "{\"type\":\"interval\"");
  assert_non_null(iv);
  assert_true(iv < strstr(doc, "{\"type\":\"report\""));
  free(doc);
  close_in(&w);
  assert_int_equal(wait_exit(w.pid, 10000), 0);
  close(w.out);
  TU_WATCHDOG(0);
}

/* The process exits mid-audit: the audit stops, says so, and reports what
 * it saw (every thread, all exited). */
static void test_audit_process_exits(void **state) {
  (void)state;
  need_audit(true);
  TU_WATCHDOG(60);
  struct proc w = spawn_workload("threads", "3", NULL);
  struct audit a = start_audit(w.pid, "--duration", "60");
  go_byte(&w);
  close_in(&w); /* EOF: it exits once its threads are done */
  int64_t t0 = tu_now_ns();
  int st;
  char *doc = finish_audit(&a, &st);
  assert_true(tu_now_ns() - t0 < 30 * 1000 * TU_MS); /* did not wait for --duration */
  assert_int_equal(st, 0);
  assert_int_equal(jnum(doc, NULL, "exited"), 1);
  assert_int_equal(jnum(doc, "threads", "created"), 3);
  assert_int_equal(jnum(doc, "threads", "exited"), 4);
  assert_int_equal(jnum(doc, "threads", "peak"), 4);
  assert_int_equal(jnum(doc, "threads", "live"), 0);
  assert_string_equal(verdict(doc, "threads"), "ok");
  free(doc);
  assert_int_equal(wait_exit(w.pid, 10000), 0);
  close(w.out);
  TU_WATCHDOG(0);
}

static bool read_cpu_stat(const char *dir, long long *periods, long long *throttled,
                          long long *ns) {
  char path[512], buf[512];
  snprintf(path, sizeof path, "%s/cpu.stat", dir);
  FILE *f = fopen(path, "re");
  if (!f) return false;
  size_t r = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[r] = '\0';
  char *p = strstr(buf, "nr_periods "), *t = strstr(buf, "nr_throttled "),
       *s = strstr(buf, "throttled_time ");
  if (!p || !t || !s) return false;
  *periods = atoll(p + 11);
  *throttled = atoll(t + 13);
  *ns = atoll(s + 15);
  return true;
}

static bool write_str(const char *dir, const char *file, const char *v) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, v, strlen(v)) == (ssize_t)strlen(v);
  close(fd);
  return ok;
}

/* quota_cgroup makes a v1 cpu cgroup limited to 0.2 CPU (20 ms per 100 ms)
 * named goro-audit-<tag>-<pid> into dir, or skips the test if there is no
 * writable v1 cpu controller. */
static void quota_cgroup(const char *tag, char *dir, size_t n) {
  if (access("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", W_OK) != 0) {
    print_message("no writable cgroup v1 cpu controller at /sys/fs/cgroup/cpu; skipping\n");
    skip();
  }
  snprintf(dir, n, "/sys/fs/cgroup/cpu/goro-audit-%s-%d", tag, (int)getpid());
  assert_int_equal(mkdir(dir, 0755), 0);
  assert_true(write_str(dir, "cpu.cfs_period_us", "100000"));
  assert_true(write_str(dir, "cpu.cfs_quota_us", "20000"));
}

/* cgroup_add moves pid into the cgroup at dir. */
static void cgroup_add(const char *dir, pid_t pid) {
  char pidbuf[16];
  snprintf(pidbuf, sizeof pidbuf, "%d", (int)pid);
  assert_true(write_str(dir, "cgroup.procs", pidbuf));
}

/* check_throttle_matches: the audit's throttled periods equal cpu.stat's
 * nr_throttled delta (+-1) and its throttled time is within 1% of the
 * throttled_time delta, plus one period (100 ms here) for every switch-in
 * after a throttle switch-out that the audit reports it did not see: a
 * throttle whose end is not seen is closed at the next refill, so each such
 * loss can move at most one period's throttle. Without losses the two agree
 * within 0.05%; with 2 losses under a loaded ctest -j2 they were 0.6-1.3%
 * apart. */
static void check_throttle_matches(const char *doc, long long dthrottled, long long dns) {
  double periods = jnum(doc, "throttle", "periods"), tns = jnum(doc, "throttle", "throttled_ns");
  double missed = jnum(doc, "throttle", "missed_ends");
  assert_true(periods >= (double)dthrottled - 1 && periods <= (double)dthrottled + 1);
  double diff = tns - (double)dns;
  if (diff < 0) diff = -diff;
  double allowed = 0.01 * (double)dns + missed * 100.0 * TU_MS;
  if (diff > allowed)
    fail_msg("throttled time %.3f ms vs cpu.stat %.3f ms: off by more than %.1f ms (1%% + %.0f "
             "missed switch-ins x 100 ms)",
             tns / 1e6, (double)dns / 1e6, allowed / 1e6, missed);
}

/* A busy process in a real cgroup v1 at 0.2 CPU for 5 s: the throttled
 * periods the audit counts equal cpu.stat's nr_throttled delta (+-1), its
 * throttled time is within 1% of cpu.stat's. */
static void test_audit_throttle(void **state) {
  (void)state;
  need_audit(true);
  char dir[128];
  quota_cgroup("test", dir, sizeof dir);
  TU_WATCHDOG(60);
  struct proc w = spawn_workload("busy", "5", NULL);
  cgroup_add(dir, w.pid);
  struct audit a = start_audit(w.pid, NULL, NULL); /* until it exits */
  long long p0, t0, n0, p1, t1, n1;
  assert_true(read_cpu_stat(dir, &p0, &t0, &n0));
  go_byte(&w);
  int st;
  char *doc = finish_audit(&a, &st);
  assert_int_equal(wait_exit(w.pid, 30000), 0);
  assert_true(read_cpu_stat(dir, &p1, &t1, &n1));
  close(w.out);
  close_in(&w);
  rmdir(dir);
  double periods = jnum(doc, "throttle", "periods"), tns = jnum(doc, "throttle", "throttled_ns");
  print_message(
      "audit: %.0f periods, %.1f ms (threads: %.1f ms, %.0f switch-outs); cpu.stat: %lld "
      "nr_throttled, "
      "%.1f ms; missed switch-ins %.0f (%.0f after a throttle)\n",
      periods, tns / 1e6, jnum(doc, "throttle", "thread_throttled_ns") / 1e6,
      jnum(doc, "throttle", "switch_outs"), t1 - t0, (double)(n1 - n0) / 1e6,
      jnum(doc, "threads", "missed_switch_in"), jnum(doc, "throttle", "missed_ends"));
  assert_int_equal(jnum(doc, NULL, "exited"), 1);
  assert_true(t1 - t0 >= 10); /* it really was throttled */
  check_throttle_matches(doc, t1 - t0, n1 - n0);
  assert_true(jnum(doc, "throttle", "switch_outs") >= 1);
  assert_int_equal(jnum(doc, "throttle", "quota_us"), 20000);
  assert_int_equal(jnum(doc, "throttle", "period_us"), 100000);
  /* the kernel side found the same cgroup as cgroupfs */
  assert_true(jnum(doc, "throttle", "kernel_cgid") == jnum(doc, "throttle", "cgroup_ino"));
  /* one thread never runs on more CPUs than the quota allows */
  assert_string_equal(verdict(doc, "maxprocs-vs-quota"), "ok");
  free(doc);
  TU_WATCHDOG(0);
}

/* A goro process with 2 Ps in a 0.2 CPU cgroup, running CPU-bound
 * goroutines: the audit sees the throttling and says maxprocs exceeds the
 * quota. */
static void test_audit_maxprocs_quota(void **state) {
  (void)state;
  need_audit(true);
  char dir[128];
  quota_cgroup("mp", dir, sizeof dir);
  TU_WATCHDOG(60);
  struct proc w = spawn_workload("goro", "4", NULL);
  cgroup_add(dir, w.pid);
  struct audit a = start_audit(w.pid, "--duration", "2.5");
  long long p0, t0, n0, p1, t1, n1;
  assert_true(read_cpu_stat(dir, &p0, &t0, &n0));
  go_byte(&w);
  int st;
  char *doc = finish_audit(&a, &st);
  assert_true(read_cpu_stat(dir, &p1, &t1, &n1)); /* idle again: it waits for EOF */
  close_in(&w);
  assert_int_equal(wait_exit(w.pid, 30000), 0);
  close(w.out);
  rmdir(dir);
  /* several threads on 2 CPUs: periods and per-CPU throttled time still match */
  double periods = jnum(doc, "throttle", "periods"), tns = jnum(doc, "throttle", "throttled_ns");
  print_message(
      "audit: %.0f periods, %.1f ms (%.1f ms summed over threads); cpu.stat: %lld, %.1f ms; "
      "missed switch-ins after a throttle %.0f\n",
      periods, tns / 1e6, jnum(doc, "throttle", "thread_throttled_ns") / 1e6, t1 - t0,
      (double)(n1 - n0) / 1e6, jnum(doc, "throttle", "missed_ends"));
  check_throttle_matches(doc, t1 - t0, n1 - n0);
  const char *ev = strstr(doc, "{\"name\":\"maxprocs-vs-quota\"");
  print_message("%s\n", ev);
  if (!jnum(doc, "runtime", "available")) {
    print_message("runtime view unavailable: maxprocs not known, not checked\n");
    free(doc);
    skip();
    return;
  }
  assert_true(jnum(doc, "throttle", "periods") >= 3);
  assert_string_equal(verdict(doc, "maxprocs-vs-quota"), "fail");
  assert_int_equal(st, 3);
  free(doc);
  TU_WATCHDOG(0);
}

/* K SIGURG to its own threads: generated K; delivered + coalesced K;
 * delivered equals the handler's own count. */
static void test_audit_signals(void **state) {
  (void)state;
  need_audit(true);
  TU_WATCHDOG(60);
  const int k = 300;
  struct proc w = spawn_workload("signals", "4", "300");
  tu_sleep_ms(50); /* its threads exist before the attach; either way works */
  struct audit a = start_audit(w.pid, NULL, NULL);
  go_byte(&w);
  int st;
  char *doc = finish_audit(&a, &st);
  char line[128];
  assert_true(read_until(w.out, "handled=", line, sizeof line, 10000));
  int handled = atoi(strstr(line, "handled=") + 8);
  assert_int_equal(wait_exit(w.pid, 10000), 0);
  close(w.out);
  close_in(&w);
  double gen = jnum(doc, "signals", "generated"), q = jnum(doc, "signals", "queued"),
         co = jnum(doc, "signals", "coalesced"), dl = jnum(doc, "signals", "delivered");
  print_message("generated %.0f queued %.0f coalesced %.0f delivered %.0f handled %d\n", gen, q, co,
                dl, handled);
  assert_int_equal(gen, k);
  assert_int_equal(q + co, k);
  assert_int_equal(dl + co, k);
  assert_int_equal(dl, handled);
  assert_int_equal(jnum(doc, "signals", "ignored"), 0);
  assert_int_equal(jnum(doc, "signals", "latency_n"), dl);
  assert_string_equal(verdict(doc, "threads"), "ok");
  free(doc);
  TU_WATCHDOG(0);
}

/* A Go program built here: threads equal /proc/PID/task at the end, and its
 * CPU-bound goroutines get SIGURG (async preemption) delivered. */
static const char go_src[] =
    "package main\n"
    "import (\"os\"; \"runtime\"; \"sync\"; \"time\")\n"
    "var sink [8]uint64\n"
    "func spin(i int, stop *int32, wg *sync.WaitGroup) {\n"
    "  defer wg.Done()\n"
    "  x := uint64(i)\n"
    "  for n := 0; ; n++ { x = x*6364136223846793005 + 1442695040888963407\n"
    "    if n&0xfffff == 0 && *(*int32)(stop) != 0 { break } }\n"
    "  sink[i] = x\n"
    "}\n"
    "func main() {\n"
    "  runtime.GOMAXPROCS(2)\n"
    "  b := make([]byte, 1); os.Stdin.Read(b)\n"
    "  var stop int32; var wg sync.WaitGroup\n"
    "  for i := 0; i < 4; i++ { wg.Add(1); go spin(i, &stop, &wg) }\n"
    "  time.Sleep(4 * time.Second)\n"
    "  stop = 1\n"
    "  wg.Wait()\n"
    "}\n";

static void test_audit_go(void **state) {
  (void)state;
  need_audit(true);
  if (system("command -v go > /dev/null 2>&1") != 0) {
    print_message("go (Debian golang-go) not found; skipping\n");
    skip();
  }
  TU_WATCHDOG(120);
  char tmp[] = "/tmp/goro-audit-go-XXXXXX";
  assert_non_null(mkdtemp(tmp));
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s/main.go", tmp);
  FILE *f = fopen(cmd, "w");
  assert_non_null(f);
  fputs(go_src, f);
  fclose(f);
  snprintf(cmd, sizeof cmd,
           "cd %s && GOCACHE=%s/cache GOPATH=%s/gopath GO111MODULE=off GOFLAGS= go build -o spin "
           "main.go",
           tmp, tmp, tmp);
  if (system(cmd) != 0) fail_msg("go build failed: %s", cmd);
  char bin[512];
  snprintf(bin, sizeof bin, "%s/spin", tmp);
  char *argv[] = {bin, NULL};
  struct proc w = spawn(argv, false, NULL);
  tu_sleep_ms(200); /* let the Go runtime start its threads */
  struct audit a = start_audit(w.pid, "--duration", "2.5");
  go_byte(&w);
  int st;
  char *doc = finish_audit(&a, &st);
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", (int)w.pid);
  int tasks = 0;
  DIR *d = opendir(path);
  assert_non_null(d);
  for (struct dirent *e; (e = readdir(d));) tasks += e->d_name[0] != '.';
  closedir(d);
  double live = jnum(doc, "threads", "live"), dl = jnum(doc, "signals", "delivered");
  print_message("go: live %.0f /proc tasks %d, SIGURG generated %.0f delivered %.0f\n", live, tasks,
                jnum(doc, "signals", "generated"), dl);
  assert_int_equal(jnum(doc, NULL, "exited"), 0);
  assert_int_equal(live, tasks);
  assert_int_equal(jnum(doc, "threads", "proc_task"), tasks);
  assert_true(dl > 0);
  assert_string_equal(verdict(doc, "threads"), "ok");
  assert_int_equal(jnum(doc, "runtime", "available"), 0); /* a Go program has no goro probes */
  free(doc);
  assert_int_equal(wait_exit(w.pid, 20000), 0);
  close(w.out);
  close_in(&w);
  snprintf(cmd, sizeof cmd, "chmod -R u+w %s; rm -rf %s", tmp, tmp);
  assert_int_equal(system(cmd), 0);
  TU_WATCHDOG(0);
}

/* A goro process: the runtime's view through libgoro's USDT probes (Ms
 * started and exited, preemption signals sent) equals the kernel's. */
static void test_audit_goro(void **state) {
  (void)state;
  need_audit(true);
  TU_WATCHDOG(60);
  struct proc w = spawn_workload("goro", "16", NULL);
  tu_sleep_ms(50);
  struct audit a = start_audit(w.pid, "--duration", "2.5");
  go_byte(&w);
  int st;
  char *doc = finish_audit(&a, &st);
  char line[64];
  assert_true(read_until(w.out, "done", line, sizeof line, 10000));
  close_in(&w);
  assert_int_equal(wait_exit(w.pid, 20000), 0);
  close(w.out);
  assert_int_equal(jnum(doc, NULL, "exited"), 0);
  assert_string_equal(verdict(doc, "threads"), "ok");
  if (!jnum(doc, "runtime", "available")) {
    const char *r = strstr(doc, "\"reason\":");
    print_message(
        "runtime view unavailable (%.120s): libgoro has no goro:thread_start/thread_exit "
        "probes yet; the kernel side was checked, the runtime comparison was not\n",
        r ? r : "?");
    free(doc);
    skip();
    return;
  }
  double starts = jnum(doc, "runtime", "thread_start"), exits = jnum(doc, "runtime", "thread_exit");
  double created = jnum(doc, "threads", "created"), kexited = jnum(doc, "threads", "exited");
  double unann = jnum(doc, "runtime", "created_unannounced");
  print_message(
      "runtime: %.0f Ms started %.0f exited (live %.0f); kernel: %.0f created (%.0f not Ms), %.0f "
      "exited, %.0f M threads live\n",
      starts, exits, jnum(doc, "runtime", "ms_live"), created, unann, kexited,
      jnum(doc, "runtime", "kernel_ms_live"));
  assert_true(starts >= 1);
  assert_int_equal(starts,
                   created - unann); /* every M the runtime started is a new kernel thread */
  assert_int_equal(jnum(doc, "runtime", "ms_live"), jnum(doc, "runtime", "kernel_ms_live"));
  assert_true(exits <= kexited);
  const char *miss = strstr(doc, "\"probes_missing\":\"");
  assert_non_null(miss);
  const char *miss_end = strchr(miss + 18, '"');
  const char *pre = strstr(miss, "preempt_signal");
  if (pre && pre < miss_end) {
    print_message(
        "goro:preempt_signal is not in libgoro yet: runtime vs kernel signals not compared\n");
  } else {
    /* every SIGURG the kernel generated for the process was sent by the runtime */
    print_message("preemption signals: runtime sent %.0f, kernel generated %.0f, delivered %.0f\n",
                  jnum(doc, "runtime", "preempt_signal"), jnum(doc, "signals", "generated"),
                  jnum(doc, "signals", "delivered"));
    assert_int_equal(jnum(doc, "runtime", "preempt_signal"), jnum(doc, "signals", "generated"));
  }
  free(doc);
  TU_WATCHDOG(0);
}

/* A goroutine blocked in a syscall it did not announce, while its M holds
 * a P, is flagged (with the syscall); announced ones are not. */
static void test_audit_unannounced_syscall(void **state) {
  (void)state;
  need_audit(true);
  TU_WATCHDOG(90);
  bool retried = false;
  for (int announced = 0; announced < 2; announced++) {
    struct proc w = spawn_workload("gsys", announced ? "announced" : "raw", NULL);
    tu_sleep_ms(100);
    struct audit a = start_audit(w.pid, "--duration", "1.5");
    go_byte(&w);
    int st;
    char *doc = finish_audit(&a, &st);
    char line[64];
    assert_true(read_until(w.out, "done", line, sizeof line, 10000));
    close_in(&w);
    assert_int_equal(wait_exit(w.pid, 20000), 0);
    close(w.out);
    if (!jnum(doc, "runtime", "available") ||
        strstr(doc, "\"unannounced-syscalls\",\"result\":\"n/a\"")) {
      print_message("libgoro lacks goro:p_acquire/syscall_enter probes: not checked\n");
      free(doc);
      skip();
      return;
    }
    const char *v = verdict(doc, "unannounced-syscalls");
    const char *ev = strstr(doc, "{\"name\":\"unannounced-syscalls\"");
    print_message("%s: %s\n", announced ? "announced" : "raw", ev);
    if (announced) {
      assert_string_equal(v, "ok");
      assert_true(jnum(doc, "runtime", "syscall_enter") >= 5);
    } else {
      assert_string_equal(v, "fail");
      if (!strstr(ev, "5 times")) {
        /* Seen once in ~90 runs (CI, test_audit first after the build):
         * 4 of the 5 stretches. The probes lose about one stretch in 2,000:
         * its wakeup and switch-in go unseen, which the report counts as a
         * missed switch-in (docs/goro-audit.md, Limits). Such a run gets
         * one more; two in a row, or a count off with no loss reported,
         * fail. The whole report, for the record: */
        double missed = jnum(doc, "threads", "missed_switch_in");
        print_message("raw run counted other than 5 stretches (missed switch-ins: %.0f); report: %s\n",
                      missed, doc);
        if (!retried && missed > 0) {
          retried = true;
          free(doc);
          announced--;
          continue;
        }
      }
      assert_non_null(strstr(ev, "5 times"));
      assert_non_null(strstr(ev, "clock_nanosleep"));
      assert_int_equal(st, 3); /* a failed verdict is exit status 3 */
    }
    free(doc);
  }
  TU_WATCHDOG(0);
}

int main(int argc, char **argv) {
  if (argc >= 3 && !strcmp(argv[1], "--workload")) {
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    self_exe[n > 0 ? n : 0] = '\0';
    return workload_main(argc, argv);
  }
  ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
  self_exe[n > 0 ? n : 0] = '\0';
  tu_apply_filter();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_audit_errors),
      cmocka_unit_test(test_audit_not_root),
      cmocka_unit_test(test_audit_threads),
      cmocka_unit_test(test_audit_process_exits),
      cmocka_unit_test(test_audit_throttle),
      cmocka_unit_test(test_audit_signals),
      cmocka_unit_test(test_audit_go),
      cmocka_unit_test(test_audit_goro),
      cmocka_unit_test(test_audit_unannounced_syscall),
      cmocka_unit_test(test_audit_maxprocs_quota),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
