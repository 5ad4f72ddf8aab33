/*
 * bounded: seed 004's Optimizations 1 and 2 on goro and Go, side by side.
 * N items are processed three ways:
 *   unbounded  one goro_go() per item plus a WaitGroup (the naive fan-out);
 *   group      goro_group_t with goro_group_set_limit(K) (errgroup.SetLimit);
 *   pool       goro_pool_t with K workers, fed by goro_pool_submit() (the
 *              pool done right: submit blocks on a bounded queue instead of
 *              spawning a goroutine per item, the bug in seed 004's example).
 * for N = 10,000 and 1,000,000 (-n), K = 32. process(item) is ~1 us of CPU
 * work (no I/O, so the figures measure the runtime, not a sleep); a last set
 * of rows adds a 1 ms wait per item (a slow downstream, goro_sleep /
 * time.Sleep) at 10,000 items, where the naive fan-out holds one goroutine
 * per item at once, as in the seed.
 *
 * Each variant runs in a child process of its own (this program re-executed
 * with "child PROCS VARIANT N WAIT_US"), so its peak RSS (getrusage RUSAGE_CHILDREN via
 * wait4: ru_maxrss, the kernel's VmHWM of that child) is its own. Peak
 * goroutines is goro_num_goroutine() (Go: runtime.NumGoroutine()) sampled
 * every 64 items in the spawning loop and once more at the end. The Go
 * reference is bench/go/bounded, run the same way: by this program in its
 * child mode (found at $GORO_BOUNDED_GO, else next to this binary as
 * go/bounded, where scripts/bench.sh builds it) for the table, and by
 * scripts/bench.sh on its own for the ratio line.
 *
 *     bench/bounded [-p PROCS] [-n N] [-r REPS]
 *
 * Prints the table, then bench=bounded ... with ns_per_op = wall time per
 * item of the pool variant at N items (median of REPS runs).
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define K 32

static atomic_uint_fast64_t g_sink;

/* process(item): ~1 us of CPU on this machine, no runtime call. */
static int process(uint64_t item) {
  uint64_t x = item * 0x9E3779B97F4A7C15ull + 1;
  for (int i = 0; i < 60; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  atomic_fetch_add_explicit(&g_sink, x & 1, memory_order_relaxed);
  return 0;
}

/* ------------------------------------------------------------------------- */
/* Child: one variant                                                         */
/* ------------------------------------------------------------------------- */

typedef struct run {
  const char *variant;
  long n;
  int peak_g;
  int64_t wall_ns;
} run_t;

static goro_wg_t *g_wg;
static int64_t g_wait_ns; /* simulated downstream latency per item (0: none) */

static int process_item(uint64_t item) {
  int rc = process(item);
  if (g_wait_ns) goro_sleep(g_wait_ns);
  return rc;
}

static void item_gor(void *arg) {
  process_item((uint64_t)(uintptr_t)arg);
  goro_wg_done(g_wg);
}

static int item_task(goro_ctx_t *ctx, void *arg) {
  (void)ctx;
  return process_item((uint64_t)(uintptr_t)arg);
}

static void sample(run_t *r) {
  int g = goro_num_goroutine();
  if (g > r->peak_g) r->peak_g = g;
}

static void child_main(void *arg) {
  run_t *r = arg;
  int64_t t0 = bench_now_ns();
  if (strcmp(r->variant, "unbounded") == 0) {
    bench_check(goro_wg_new(&g_wg));
    for (long i = 0; i < r->n; i++) {
      bench_check(goro_wg_add(g_wg, 1));
      bench_check(goro_go(item_gor, (void *)(uintptr_t)i));
      if ((i & 63) == 0) sample(r);
    }
    sample(r);
    bench_check(goro_wg_wait(g_wg));
    bench_check(goro_wg_free(g_wg));
  } else if (strcmp(r->variant, "group") == 0) {
    goro_group_t *g;
    bench_check(goro_group_new(goro_ctx_background(), &g));
    bench_check(goro_group_set_limit(g, K));
    for (long i = 0; i < r->n; i++) {
      bench_check(goro_group_go(g, item_task, (void *)(uintptr_t)i));
      if ((i & 63) == 0) sample(r);
    }
    sample(r);
    bench_check(goro_group_wait(g));
    bench_check(goro_group_free(g));
  } else {
    goro_pool_opts_t o = GORO_POOL_OPTS_INIT;
    o.workers = K;
    o.queue_cap = 2 * K;
    goro_pool_t *p;
    bench_check(goro_pool_new(&o, &p));
    for (long i = 0; i < r->n; i++) {
      bench_check(goro_pool_submit(p, goro_ctx_background(), item_task, (void *)(uintptr_t)i));
      if ((i & 63) == 0) sample(r);
    }
    sample(r);
    bench_check(goro_pool_shutdown(p, GORO_POOL_DRAIN, NULL));
    bench_check(goro_pool_free(p));
  }
  r->wall_ns = bench_now_ns() - t0;
}

static int run_child(int procs, const char *variant, long n, long wait_us) {
  g_wait_ns = wait_us * 1000;
  goro_config_t cfg = GORO_CONFIG_INIT;
  cfg.maxprocs = procs;
  bench_check(goro_init(&cfg));
  run_t r = {variant, n, 0, 0};
  bench_check(goro_run(child_main, &r));
  bench_shutdown();
  printf("peak_g=%d wall_ns=%lld\n", r.peak_g, (long long)r.wall_ns);
  return 0;
}

/* ------------------------------------------------------------------------- */
/* Parent                                                                     */
/* ------------------------------------------------------------------------- */

typedef struct cell {
  int ok;
  long peak_g;
  long rss_kib;
  double wall_ms;
} cell_t;

/* spawn(): runs argv with GOMAXPROCS set, parses its output, takes its
 * ru_maxrss. */
static cell_t spawn(char *const argv[], int procs) {
  cell_t c = {0, 0, 0, 0};
  int fd[2];
  if (pipe(fd) != 0) return c;
  pid_t pid = fork();
  if (pid < 0) return c;
  if (pid == 0) {
    char buf[32];
    snprintf(buf, sizeof buf, "%d", procs);
    setenv("GOMAXPROCS", buf, 1);
    dup2(fd[1], 1);
    close(fd[0]);
    close(fd[1]);
    execv(argv[0], argv);
    _exit(127);
  }
  close(fd[1]);
  char out[256] = {0};
  size_t len = 0;
  ssize_t k;
  while (len < sizeof out - 1 && (k = read(fd[0], out + len, sizeof out - 1 - len)) > 0)
    len += (size_t)k;
  close(fd[0]);
  int status;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return c;
  long long wall = 0;
  const char *p = strstr(out, "peak_g=");
  const char *w = strstr(out, "wall_ns=");
  if (!p || !w) return c;
  c.peak_g = strtol(p + 7, NULL, 10);
  wall = strtoll(w + 8, NULL, 10);
  c.wall_ms = (double)wall / 1e6;
  c.rss_kib = ru.ru_maxrss;
  c.ok = 1;
  return c;
}

static void print_cell(cell_t c) {
  if (!c.ok)
    printf(" %9s %9s %9s", "-", "-", "-");
  else
    printf(" %9ld %9.1f %9.1f", c.peak_g, (double)c.rss_kib / 1024.0, c.wall_ms);
}

static long mem_available_kib(void) {
  FILE *f = fopen("/proc/meminfo", "r");
  if (!f) return -1;
  char line[256];
  long v = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "MemAvailable: %ld kB", &v) == 1) break;
  fclose(f);
  return v;
}

int main(int argc, char **argv) {
  if (argc == 6 && strcmp(argv[1], "child") == 0)
    return run_child(atoi(argv[2]), argv[3], strtol(argv[4], NULL, 10), strtol(argv[5], NULL, 10));

  bench_args_t a;
  bench_parse(&a, argc, argv, 1000000);
  int procs = a.procs;
  if (procs <= 0) {
    /* goro's default, as the children will pick it. */
    bench_check(goro_init(NULL));
    procs = goro_maxprocs(0);
    bench_shutdown();
  }
  char self[PATH_MAX];
  ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
  if (sl <= 0) {
    fprintf(stderr, "bounded: cannot find /proc/self/exe\n");
    return 2;
  }
  self[sl] = '\0';
  char gobin[PATH_MAX];
  const char *env = getenv("GORO_BOUNDED_GO");
  if (env) {
    snprintf(gobin, sizeof gobin, "%s", env);
  } else {
    snprintf(gobin, sizeof gobin, "%s", self);
    char *slash = strrchr(gobin, '/');
    if (slash) snprintf(slash + 1, sizeof gobin - (size_t)(slash + 1 - gobin), "go/bounded");
  }
  int have_go = access(gobin, X_OK) == 0;

  const char *variants[3] = {"unbounded", "group", "pool"};
  char pbuf[16], nbuf[32], wbuf[16];
  snprintf(pbuf, sizeof pbuf, "%d", procs);
  printf("bounded: K = %d (group limit, pool workers); procs = %d; process(item) ~1 us CPU\n", K,
         procs);
  printf("peak g: goroutines (sampled); rss MB: the child's peak RSS; wall ms\n");
  printf("%9s %-10s %5s |%9s %9s %9s |%9s %9s %9s\n", "items", "variant", "wait", "goro g",
         "rss MB", "wall ms", "go g", "rss MB", "wall ms");
  /* Rows: 10,000 and N items of pure CPU work; then 10,000 items that also
   * wait 1 ms each for a (simulated) downstream, where the naive fan-out
   * piles up one goroutine per item, as in the seed. */
  const long sizes[3] = {10000, a.n, 10000};
  const long waits_us[3] = {0, 0, 1000};
  long per_g_kib = 0; /* unbounded RSS at 10,000 items, to project N */
  for (int s = 0; s < 3; s++) {
    snprintf(nbuf, sizeof nbuf, "%ld", sizes[s]);
    snprintf(wbuf, sizeof wbuf, "%ld", waits_us[s]);
    for (int v = 0; v < 3; v++) {
      cell_t cg = {0, 0, 0, 0}, cr = {0, 0, 0, 0};
      if (v == 0 && s == 1 && per_g_kib > 0) {
        /* The naive fan-out can take all the memory (that is the point).
         * On a shared machine, do not run it if it would take more than
         * half of what is available. */
        long need = per_g_kib * (sizes[s] / 10000);
        long avail = mem_available_kib();
        if (avail > 0 && need > avail / 2) {
          printf("%9ld %-10s %5s | skipped: projected %ld MB > half of MemAvailable (%ld MB)\n",
                 sizes[s], variants[v], waits_us[s] ? "1ms" : "-", need / 1024, avail / 1024);
          continue;
        }
      }
      char *gargv[] = {self, "child", pbuf, (char *)variants[v], nbuf, wbuf, NULL};
      cg = spawn(gargv, procs);
      if (have_go) {
        char *rargv[] = {gobin, "-child", (char *)variants[v], "-n", nbuf, "-wait-us", wbuf, NULL};
        cr = spawn(rargv, procs);
      }
      if (v == 0 && s == 0 && cg.ok) per_g_kib = cg.rss_kib;
      printf("%9ld %-10s %5s |", sizes[s], variants[v], waits_us[s] ? "1ms" : "-");
      print_cell(cg);
      printf(" |");
      print_cell(cr);
      printf("\n");
      fflush(stdout);
      if (!cg.ok) {
        fprintf(stderr, "bounded: goro child %s %ld failed\n", variants[v], sizes[s]);
        return 2;
      }
    }
  }
  if (!have_go) printf("(Go reference not found at %s: its columns are empty)\n", gobin);

  /* The bench= line: pool variant at N items, REPS runs, ns per item. */
  double ns[BENCH_REPS_MAX];
  snprintf(nbuf, sizeof nbuf, "%ld", a.n);
  for (int r = 0; r < a.reps; r++) {
    char *gargv[] = {self, "child", pbuf, "pool", nbuf, "0", NULL};
    cell_t c = spawn(gargv, procs);
    if (!c.ok) {
      fprintf(stderr, "bounded: goro child pool failed\n");
      return 2;
    }
    ns[r] = c.wall_ms * 1e6 / (double)a.n;
  }
  bench_report("bounded", procs, &a, ns);
  return 0;
}
