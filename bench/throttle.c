/*
 * throttle.c: the seeds' container scenario. Four CPU-bound goroutines and
 * one that sleeps 1 ms in a loop and records how late it wakes, for S
 * seconds. Run inside a cgroup with a CPU quota (scripts/bench-throttle.sh
 * creates one and reads its cpu.stat); beside it, bench/go/throttle/main.go
 * is the same program in Go.
 *
 *     throttle [-t SECS] [-w WORKERS] [-m MAXPROCS] [-r ceil|floor] [-n MIN]
 *
 * -m 0 (default) leaves maxprocs automatic (goro_config_t.maxprocs = 0);
 * -r and -n set maxprocs_rounding and maxprocs_min. Prints one line:
 *
 *     bench=throttle who=goro maxprocs=P secs=S work_per_s=W samples=N
 *       late_p50_us=A late_p99_us=B late_max_us=C
 *
 * Each worker passes goro_preempt_point() after every unit of work (about
 * 0.3 ms here): it yields only when sysmon asks, after it ran 10 ms while
 * other work waited, as Go's workers are preempted after 10 ms.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <goro/goro.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define UNIT_ITERS (1 << 16) /* xorshift steps per unit of work */
#define MAX_WORKERS 64

static atomic_int stop;
static _Atomic uint64_t units[MAX_WORKERS];
static volatile uint64_t sink;
static int64_t *lateness;
static long nlate, caplate;

static void die(const char *what, int err) {
  fprintf(stderr, "throttle: %s: %s\n", what, goro_strerror(err));
  exit(2);
}

static void worker(void *arg) {
  int id = (int)(intptr_t)arg;
  uint64_t x = 88172645463325252ull + (uint64_t)id;
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    for (int i = 0; i < UNIT_ITERS; i++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
    }
    sink = x;
    atomic_fetch_add_explicit(&units[id], 1, memory_order_relaxed);
    goro_preempt_point();
  }
}

static void prober(void *arg) {
  (void)arg;
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    int64_t t0 = goro_now();
    goro_sleep(GORO_MS);
    int64_t late = goro_now() - t0 - GORO_MS;
    if (nlate < caplate) lateness[nlate++] = late;
  }
}

static int cmp64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* The workers and the prober each signal the WaitGroup through a wrapper. */
struct job {
  goro_fn fn;
  void *arg;
  goro_wg_t *wg;
};

static void run_job(void *a) {
  struct job *j = a;
  j->fn(j->arg);
  goro_wg_done(j->wg);
}

struct launch {
  struct job *jobs;
  int n;
  int err;
};

static void launch(void *a) {
  struct launch *l = a;
  for (int i = l->n - 1; i >= 0 && !l->err; i--) l->err = goro_go(run_job, &l->jobs[i]);
}

static void usage(void) {
  fprintf(stderr,
          "usage: throttle [-t SECS] [-w WORKERS] [-m MAXPROCS] [-r ceil|floor] [-n MIN]\n");
  exit(64);
}

int main(int argc, char **argv) {
  int secs = 5, workers = 4;
  goro_config_t cfg = GORO_CONFIG_INIT;
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 >= argc) usage();
    const char *v = argv[i + 1];
    if (!strcmp(argv[i], "-t"))
      secs = atoi(v);
    else if (!strcmp(argv[i], "-w"))
      workers = atoi(v);
    else if (!strcmp(argv[i], "-m"))
      cfg.maxprocs = atoi(v);
    else if (!strcmp(argv[i], "-n"))
      cfg.maxprocs_min = atoi(v);
    else if (!strcmp(argv[i], "-r") && !strcmp(v, "ceil"))
      cfg.maxprocs_rounding = GORO_MAXPROCS_ROUND_CEIL;
    else if (!strcmp(argv[i], "-r") && !strcmp(v, "floor"))
      cfg.maxprocs_rounding = GORO_MAXPROCS_ROUND_FLOOR;
    else
      usage();
  }
  if (secs < 1 || workers < 1 || workers > MAX_WORKERS) usage();
  caplate = (long)secs * 2000 + 100;
  lateness = calloc((size_t)caplate, sizeof *lateness);
  if (!lateness) die("calloc", -12);

  int err = goro_init(&cfg);
  if (err) die("goro_init", err);
  goro_cpu_limits_t lim;
  memset(&lim, 0, sizeof lim);
  lim.size = sizeof lim;
  if ((err = goro_cpu_limits(&lim))) die("goro_cpu_limits", err);

  goro_wg_t *wg;
  if ((err = goro_wg_new(&wg))) die("goro_wg_new", err);
  struct job jobs[MAX_WORKERS + 1];
  goro_wg_add(wg, workers + 1);
  for (int i = 0; i <= workers; i++)
    jobs[i] = (struct job){i < workers ? worker : prober, (void *)(intptr_t)i, wg};
  /* Started from a goroutine, so they land on a P's run queue, where
   * sysmon sees them waiting, not on the global queue. */
  struct launch l = {jobs, workers + 1, 0};
  if ((err = goro_run(launch, &l))) die("goro_run", err);
  if (l.err) die("goro_go", l.err);
  int64_t t0 = goro_now();
  goro_sleep((int64_t)secs * GORO_SEC); /* plain thread: blocks */
  atomic_store(&stop, 1);
  int64_t elapsed = goro_now() - t0;
  goro_wg_wait(wg);
  goro_wg_free(wg);

  uint64_t total = 0;
  for (int i = 0; i < workers; i++) total += atomic_load(&units[i]);
  qsort(lateness, (size_t)nlate, sizeof *lateness, cmp64);
  int64_t p50 = nlate ? lateness[nlate / 2] : 0;
  int64_t p99 = nlate ? lateness[(nlate * 99) / 100] : 0;
  int64_t mx = nlate ? lateness[nlate - 1] : 0;
  printf(
      "bench=throttle who=goro maxprocs=%d auto=%d quota_milli=%lld secs=%d work_per_s=%.1f "
      "samples=%ld late_p50_us=%.1f late_p99_us=%.1f late_max_us=%.1f\n",
      goro_maxprocs(0), lim.auto_maxprocs, (long long)lim.quota_milli, secs,
      (double)total / ((double)elapsed / 1e9), nlate, p50 / 1e3, p99 / 1e3, mx / 1e3);
  goro_shutdown();
  free(lateness);
  return 0;
}
