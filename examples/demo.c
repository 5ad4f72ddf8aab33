/*
 * demo: seed 003's scenario on goro. 100,000 tasks, each a simulated 1 ms
 * I/O wait (goro_sleep parks the goroutine, not the thread) followed by a
 * little CPU work, run two ways:
 *   1. a goroutine per task: simple, unbounded (peak goroutines = tasks);
 *   2. a fixed set of worker goroutines pulling task numbers from a shared
 *      counter: bounded (peak goroutines = workers).
 * For each it prints the peak goroutine count, Ps, OS threads and elapsed
 * time: many goroutines, few threads.
 */
#define _GNU_SOURCE
#include <goro/goro.h>

#include <dirent.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { TASKS = 100000, WORKERS = 1000, SLEEP_NS = 1000000 };

static atomic_long next_task, done_tasks, live, peak;
static atomic_ulong checksum;
static goro_wg_t *wg;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int threads(void) {
  int n = 0;
  DIR *d = opendir("/proc/self/task");
  if (!d) return -1;
  for (struct dirent *e; (e = readdir(d));)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld", &v) == 1) break;
  if (f) fclose(f);
  return v;
}

static void enter(void) {
  long l = atomic_fetch_add(&live, 1) + 1;
  long p = atomic_load(&peak);
  while (l > p && !atomic_compare_exchange_weak(&peak, &p, l)) {
  }
}

static void task(long i) {
  goro_sleep(SLEEP_NS); /* the "I/O" */
  uint64_t h = 1469598103934665603ull ^ (uint64_t)i;
  for (int k = 0; k < 2000; k++) h = (h ^ (uint64_t)k) * 1099511628211ull;
  atomic_fetch_add(&checksum, h);
  atomic_fetch_add(&done_tasks, 1);
}

static void per_task(void *arg) {
  enter();
  task((long)(intptr_t)arg);
  atomic_fetch_sub(&live, 1);
  goro_wg_done(wg);
}

static void worker(void *arg) {
  (void)arg;
  enter();
  for (long i; (i = atomic_fetch_add(&next_task, 1)) < TASKS;) task(i);
  atomic_fetch_sub(&live, 1);
  goro_wg_done(wg);
}

static void report(const char *what, double t0, long rss) {
  printf("%-28s %10ld %6d %8d %9.3f s %9ld KiB  %s\n", what, (long)atomic_load(&peak),
         goro_maxprocs(0), threads(), now() - t0, rss,
         atomic_load(&done_tasks) == TASKS ? "ok" : "LOST TASKS");
}

static void run(void *arg) {
  (void)arg;
  if (goro_wg_new(&wg) != 0) exit(1);

  double t0 = now();
  goro_wg_add(wg, TASKS);
  for (long i = 0; i < TASKS; i++) goro_go(per_task, (void *)(intptr_t)i);
  long rss = rss_kib();
  goro_wg_wait(wg);
  report("goroutine per task", t0, rss);

  atomic_store(&peak, 0);
  atomic_store(&done_tasks, 0);
  t0 = now();
  goro_wg_add(wg, WORKERS);
  for (int w = 0; w < WORKERS; w++) goro_go(worker, NULL);
  rss = rss_kib();
  goro_wg_wait(wg);
  report("1,000 workers (bounded)", t0, rss);
  goro_wg_free(wg);
}

int main(void) {
  printf("goro %s demo: %d tasks of 1 ms simulated I/O + CPU work (seed 003)\n",
         goro_version_string(), TASKS);
  printf("%-28s %10s %6s %8s %11s %13s\n", "approach", "goroutines", "Ps", "threads", "elapsed",
         "RSS");
  int rc = goro_run(run, NULL);
  if (rc != 0) {
    fprintf(stderr, "goro_run: %s\n", goro_strerror(rc));
    return 1;
  }
  printf("(goroutines = peak alive at once; threads = OS threads in this process)\n");
  int left = goro_shutdown();
  return left == 0 ? 0 : 1;
}
