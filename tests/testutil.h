/*
 * testutil.h: helpers shared by the cmocka test executables in tests/.
 *
 * Each tests/test_*.c includes this header first (it defines _GNU_SOURCE).
 *
 * Rules the tests follow:
 *  - cmocka's assert_*() macros longjmp to the test's frame, so they may only
 *    be used on the thread that runs the test function, never inside a
 *    goroutine or a helper pthread. Goroutines and helpers use GCHECK*(),
 *    which record the first failure; the test then calls GASSERT_OK().
 *  - No timed assertion on performance; where time is involved the bounds are
 *    generous, and TU_WATCHDOG() turns a hang into a failure with a message.
 *  - GORO_TEST_SANITIZER is 0 (normal build), 1 (ASan+UBSan) or 2 (TSan).
 */
#ifndef GORO_TESTS_TESTUTIL_H
#define GORO_TESTS_TESTUTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <goro/goro.h>

#ifndef GORO_TEST_SANITIZER
#define GORO_TEST_SANITIZER 0
#endif

#define TU_UNUSED __attribute__((unused))

/* TU_SCALE(normal, asan, tsan) picks a size for the current build. */
#define TU_SCALE(n, asan, tsan) \
  (GORO_TEST_SANITIZER == 1 ? (asan) : GORO_TEST_SANITIZER == 2 ? (tsan) : (n))

#define TU_MS (1000000LL)
#define TU_US (1000LL)

/* ------------------------------------------------------------------------- */
/* Time and process statistics                                                */
/* ------------------------------------------------------------------------- */

static inline int64_t tu_clock_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
static inline int64_t tu_now_ns(void) { return tu_clock_ns(CLOCK_MONOTONIC); }
static inline int64_t tu_cpu_ns(void) { return tu_clock_ns(CLOCK_PROCESS_CPUTIME_ID); }
static inline int64_t tu_thread_cpu_ns(void) { return tu_clock_ns(CLOCK_THREAD_CPUTIME_ID); }

/* tu_sleep_ns() sleeps the calling OS thread (never goro_sleep). */
static inline void tu_sleep_ns(int64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
  while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR) {
  }
}
static inline void tu_sleep_ms(int ms) { tu_sleep_ns((int64_t)ms * TU_MS); }

static inline pid_t tu_gettid(void) { return (pid_t)syscall(SYS_gettid); }

/* tu_thread_count() counts the entries of /proc/self/task. */
static inline int tu_thread_count(void) {
  DIR *d = opendir("/proc/self/task");
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

/* tu_thread_alive() tells whether thread tid of this process still exists. */
static inline int tu_thread_alive(pid_t tid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d", (int)tid);
  return access(path, F_OK) == 0;
}

/* tu_wait_thread_count() polls until /proc/self/task has at most n entries
 * (threads that were joined can linger in the kernel for a moment) or
 * timeout_ms passes; returns the last count seen. */
static inline int tu_wait_thread_count(int n, int timeout_ms) {
  int64_t end = tu_now_ns() + (int64_t)timeout_ms * TU_MS;
  int c;
  while ((c = tu_thread_count()) > n && tu_now_ns() < end) tu_sleep_ms(2);
  return c;
}

/* tu_read_all() reads fd until EOF (retrying EINTR) into out as a
 * NUL-terminated string of at most n-1 bytes, and drains whatever does not
 * fit so that a child writing to the pipe never blocks. Returns the length
 * kept. */
TU_UNUSED static size_t tu_read_all(int fd, char *out, size_t n) {
  size_t len = 0;
  for (;;) {
    char tmp[4096];
    ssize_t k = read(fd, tmp, sizeof tmp);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    size_t keep = (size_t)k;
    if (keep > n - 1 - len) keep = n - 1 - len;
    memcpy(out + len, tmp, keep);
    len += keep;
  }
  out[len] = '\0';
  return len;
}

/* tu_threads_back() waits (up to timeout_ms) for /proc/self/task to be down
 * to n entries, as after a goro_shutdown() that must have joined every
 * thread it started. If it is not, it prints each thread's tid, name and
 * state (a leak and a slow reap look different) and returns the count. */
TU_UNUSED static int tu_threads_back(int n, int timeout_ms) {
  int c = tu_wait_thread_count(n, timeout_ms);
  if (c <= n) return c;
  DIR *d = opendir("/proc/self/task");
  if (!d) return c;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char path[300], buf[256] = "";
    snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
    FILE *f = fopen(path, "r");
    if (f) {
      if (!fgets(buf, sizeof buf, f)) buf[0] = 0;
      fclose(f);
    }
    buf[strcspn(buf, "\n")] = 0;
    print_message("    thread still present: %.120s\n", buf);
  }
  closedir(d);
  return c;
}

/* tu_proc_ticks() returns utime+stime of the process (fields 14 and 15 of
 * /proc/self/stat) in clock ticks, or -1. */
static inline long tu_proc_ticks(void) {
  char buf[2048];
  FILE *f = fopen("/proc/self/stat", "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')'); /* comm may contain spaces */
  if (!p) return -1;
  p += 2;                      /* now at field 3 (state) */
  unsigned long ut = 0, st = 0;
  /* fields 3..13 skipped, then 14 utime, 15 stime */
  if (sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
    return -1;
  return (long)(ut + st);
}

/* tu_rss_kib() returns VmRSS from /proc/self/status in KiB, or -1. */
static inline long tu_rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long v = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &v) == 1) break;
  fclose(f);
  return v;
}

/* ------------------------------------------------------------------------- */
/* Failure recording from goroutines and helper threads                       */
/* ------------------------------------------------------------------------- */

static atomic_int tu_fail_count TU_UNUSED;
static char tu_fail_msg[512] TU_UNUSED;
static atomic_flag tu_fail_msg_taken TU_UNUSED = ATOMIC_FLAG_INIT;

TU_UNUSED static void tu_record_fail(const char *file, int line, const char *fmt, ...) {
  if (atomic_fetch_add(&tu_fail_count, 1) == 0 && !atomic_flag_test_and_set(&tu_fail_msg_taken)) {
    int k = snprintf(tu_fail_msg, sizeof tu_fail_msg, "%s:%d: ", file, line);
    if (k < 0) k = 0;
    if ((size_t)k < sizeof tu_fail_msg) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(tu_fail_msg + k, sizeof tu_fail_msg - (size_t)k, fmt, ap);
      va_end(ap);
    }
  }
}

/* GCHECK(cond): usable anywhere; records the first failure. */
#define GCHECK(cond)                                                \
  do {                                                              \
    if (!(cond)) tu_record_fail(__FILE__, __LINE__, "%s", #cond);   \
  } while (0)

/* GCHECK_CMP(a, op, b): signed comparison with both values in the message. */
#define GCHECK_CMP(a, op, b)                                                         \
  do {                                                                               \
    long long tu_a_ = (long long)(a), tu_b_ = (long long)(b);                        \
    if (!(tu_a_ op tu_b_))                                                           \
      tu_record_fail(__FILE__, __LINE__, "%s %s %s (%lld vs %lld)", #a, #op, #b,     \
                     tu_a_, tu_b_);                                                  \
  } while (0)

static inline void tu_reset_fail(void) {
  atomic_store(&tu_fail_count, 0);
  tu_fail_msg[0] = '\0';
  atomic_flag_clear(&tu_fail_msg_taken);
}

/* GASSERT_OK(): on the test thread, fail if a GCHECK failed since the last reset. */
#define GASSERT_OK()                                                                 \
  do {                                                                               \
    int tu_n_ = atomic_load(&tu_fail_count);                                         \
    if (tu_n_ != 0) {                                                                \
      char tu_m_[sizeof tu_fail_msg];                                                \
      memcpy(tu_m_, tu_fail_msg, sizeof tu_m_);                                      \
      tu_reset_fail();                                                               \
      fail_msg("%d check(s) failed off the test thread; first: %s", tu_n_, tu_m_);   \
    }                                                                                \
  } while (0)

/* ASSERT_CMP(a, op, b): signed comparison on the test thread. */
#define ASSERT_CMP(a, op, b)                                                         \
  do {                                                                               \
    long long tu_a_ = (long long)(a), tu_b_ = (long long)(b);                        \
    if (!(tu_a_ op tu_b_))                                                           \
      fail_msg("%s %s %s failed (%lld vs %lld)", #a, #op, #b, tu_a_, tu_b_);         \
  } while (0)

#define ASSERT_EQ(a, b) ASSERT_CMP(a, ==, b)

/* ------------------------------------------------------------------------- */
/* Watchdog: turns a hang into a failure with a message                       */
/* ------------------------------------------------------------------------- */

static const char *volatile tu_watchdog_what TU_UNUSED = "";

/* On a hang the handler also prints the goroutine dump, so that a hang seen
 * once in CI says where every goroutine waits. goro_dump() is not meant for
 * signal handlers (it may allocate and take the loader lock); the process is
 * ending anyway, and a second alarm kills it with SIGALRM if the dump
 * itself gets stuck. */
TU_UNUSED static void tu_watchdog_handler(int sig) {
  (void)sig;
  static const char pre[] = "\n*** watchdog: test hung: ";
  ssize_t r = write(2, pre, sizeof pre - 1);
  const char *w = tu_watchdog_what;
  r = write(2, w, strlen(w));
  r = write(2, "\n", 1);
  (void)r;
  signal(SIGALRM, SIG_DFL);
  alarm(5);
  static const char dump[] = "*** goroutines at the hang:\n";
  r = write(2, dump, sizeof dump - 1);
  goro_dump(stderr);
  fflush(stderr);
  _exit(99);
}

/* TU_WATCHDOG(secs): arm (0 disarms) a process-wide alarm for the current test. */
static inline void tu_watchdog(const char *what, unsigned secs) {
  tu_watchdog_what = what;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = tu_watchdog_handler;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, NULL);
  alarm(secs * (GORO_TEST_SANITIZER ? 3u : 1u));
}
#define TU_WATCHDOG(secs) tu_watchdog(__func__, (secs))

/* tu_child_reset_signals(): in a forked child, undo cmocka's handlers for
 * SIGSEGV & co (they would longjmp back into the test runner) and ours. */
static inline void tu_child_reset_signals(void) {
  static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS, SIGALRM};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], SIG_DFL);
}

/* tu_apply_filter(): GORO_TEST_FILTER=pattern runs only the matching tests,
 * GORO_TEST_SKIP=pattern leaves the matching ones out (cmocka's wildcards
 * * and ?; one pattern each), e.g. GORO_TEST_FILTER='test_lock*'. */
static inline void tu_apply_filter(void) {
  const char *f = getenv("GORO_TEST_FILTER");
  if (f && *f) cmocka_set_test_filter(f);
  const char *s = getenv("GORO_TEST_SKIP");
  if (s && *s) cmocka_set_skip_filter(s);
}

/* ------------------------------------------------------------------------- */
/* Small goro helpers                                                         */
/* ------------------------------------------------------------------------- */

/* tu_init_procs() starts the runtime with n Ps (n == 0: defaults). */
static inline int tu_init_procs(int n) {
  goro_config_t cfg = GORO_CONFIG_INIT;
  cfg.maxprocs = n;
  return goro_init(&cfg);
}

/* tu_wait_goroutines() polls until goro_num_goroutine() == n or timeout_ms
 * passes (a goroutine that called goro_wg_done() may still be returning);
 * returns the last value seen. */
static inline int tu_wait_goroutines(int n, int timeout_ms) {
  int64_t end = tu_now_ns() + (int64_t)timeout_ms * TU_MS;
  int c;
  while ((c = goro_num_goroutine()) != n && tu_now_ns() < end) tu_sleep_ms(1);
  return c;
}

/* tu_settle(n): waits (up to 10 s) until only n goroutines are left, and
 * fails the test otherwise. */
static inline void tu_settle(int n) {
  int c = tu_wait_goroutines(n, 10000);
  if (c != n) fail_msg("goro_num_goroutine() = %d, expected it to settle at %d", c, n);
}

/* tu_dump_string() runs goro_dump() into a malloc'd string (caller frees;
 * NULL if no memory stream), its return value in *rc. */
static inline char *tu_dump_string(int *rc) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return NULL;
  *rc = goro_dump(f);
  fclose(f);
  return buf;
}

/* tu_wait_parked() polls goro_dump() until at least n goroutines wait with
 * Go's wait reason `reason` ("chan send", "select", ...) or timeout_ms
 * passes; returns how many it saw last. For a test that needs a goroutine
 * parked before it acts: a fixed sleep is not enough on a loaded machine. */
static inline int tu_wait_parked(const char *reason, int n, int timeout_ms) {
  char want[64];
  snprintf(want, sizeof want, " [%s", reason);
  int64_t end = tu_now_ns() + (int64_t)timeout_ms * TU_MS;
  int c = 0;
  for (;;) {
    int rc = 0;
    char *buf = tu_dump_string(&rc);
    if (!buf) return -1;
    c = 0;
    for (const char *p = buf; (p = strstr(p, want)) != NULL; p++) {
      char after = p[strlen(want)];
      if (after == ']' || after == ',') c++; /* "[chan send]" or "[chan send, 2 minutes]" */
    }
    free(buf);
    if (c >= n || tu_now_ns() >= end) return c;
    if (goro_self() != 0)
      goro_sleep(GORO_MS / 4);
    else
      tu_sleep_ns(TU_MS / 4);
  }
}

/* Group setup/teardown for suites that share one runtime at 2 Ps. */
static inline int tu_group_setup(void **state) {
  (void)state;
  return tu_init_procs(2) == 0 ? 0 : -1;
}
static inline int tu_group_teardown(void **state) {
  (void)state;
  return goro_shutdown() >= 0 ? 0 : -1;
}

/* tu_wg: a WaitGroup for tests that join the goroutines they start, made
 * and freed by tu_group_setup_wg/tu_group_teardown_wg (2 Ps, like
 * tu_group_setup). */
static goro_wg_t *tu_wg __attribute__((unused));
static inline int tu_group_setup_wg(void **state) {
  if (tu_group_setup(state) != 0) return -1;
  return goro_wg_new(&tu_wg) == 0 ? 0 : -1;
}
static inline int tu_group_teardown_wg(void **state) {
  goro_wg_free(tu_wg);
  tu_wg = NULL;
  return tu_group_teardown(state);
}

/* tu_spin_ns() burns CPU on the calling thread for about ns of thread CPU time
 * without calling into goro. */
static inline void tu_spin_ns(int64_t ns) {
  volatile uint64_t sink = 0;
  int64_t end = tu_thread_cpu_ns() + ns;
  while (tu_thread_cpu_ns() < end)
    for (int i = 0; i < 1000; i++) sink += (uint64_t)i * 2654435761u;
  (void)sink;
}

/* tu_burn() does `iters` rounds of pure arithmetic into a volatile sink. */
static inline void tu_burn(uint64_t iters) {
  volatile uint64_t sink = 1;
  uint64_t x = 88172645463325252ull;
  for (uint64_t i = 0; i < iters; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    sink = sink + x;
  }
}

/* tu_calibrate_burn() returns the iteration count of tu_burn() that takes
 * about ns of CPU time on this machine (best of a few tries). */
static inline uint64_t tu_calibrate_burn(int64_t ns) {
  uint64_t iters = 100000;
  int64_t best = INT64_MAX;
  for (int t = 0; t < 5; t++) {
    int64_t c0 = tu_thread_cpu_ns();
    tu_burn(iters);
    int64_t d = tu_thread_cpu_ns() - c0;
    if (d < 2 * TU_MS) {
      iters *= 4;
      t--;
      continue;
    }
    if (d < best) best = d;
  }
  return (uint64_t)((double)iters * (double)ns / (double)best);
}

#endif /* GORO_TESTS_TESTUTIL_H */
