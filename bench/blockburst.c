/*
 * blockburst: a burst of N goroutines (default 10,000) that each block their
 * thread for 10 ms in nanosleep(2) announced with goro_blocking(), as a
 * blocking system call would. ns_per_op is the burst's completion time
 * divided by N; threads= is the peak number of threads of the process
 * (/proc/self/task, sampled every millisecond) and created= the threads goro
 * started for the burst. sysmon hands each blocked P to another thread, so
 * the burst spreads over many threads, up to goro_config_t.max_threads
 * (default 10,000, like Go's limit).
 * Go reference: bench/go/blockburst (raw syscall.Syscall(SYS_NANOSLEEP), so
 * Go's entersyscall/exitsyscall and sysmon's retake do the same work).
 */
#define _GNU_SOURCE
#include "bench.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

static int nap(void *arg) {
  (void)arg;
  struct timespec ts = {0, 10 * 1000 * 1000};
  return nanosleep(&ts, NULL);
}

typedef struct burst {
  goro_wg_t *wg;
} burst_t;

static void blocker(void *arg) {
  burst_t *b = arg;
  goro_blocking(nap, NULL);
  goro_wg_done(b->wg);
}

static int thread_count(void) {
  DIR *d = opendir("/proc/self/task");
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

static atomic_int sampling, peak;

static void *sampler(void *arg) {
  (void)arg;
  struct timespec ms = {0, 1000 * 1000};
  while (atomic_load(&sampling)) {
    int n = thread_count();
    if (n > atomic_load(&peak)) atomic_store(&peak, n);
    nanosleep(&ms, NULL);
  }
  return NULL;
}

static double one_burst(long n) {
  burst_t b;
  bench_check(goro_wg_new(&b.wg));
  int64_t t0 = bench_now_ns();
  bench_check(goro_wg_add(b.wg, n));
  for (long i = 0; i < n; i++) bench_check(goro_go(blocker, &b));
  bench_check(goro_wg_wait(b.wg));
  int64_t dt = bench_now_ns() - t0;
  bench_check(goro_wg_free(b.wg));
  return (double)dt / (double)n;
}

int main(int argc, char **argv) {
  bench_args_t a;
  bench_parse(&a, argc, argv, 10000);
  if (a.reps > 3) a.reps = 3; /* each round creates thousands of threads */
  int procs = bench_init(&a);
  goro_stats_t s0 = {0};
  goro_stats(&s0, sizeof s0);
  double ns[BENCH_REPS_MAX];
  atomic_store(&sampling, 1);
  pthread_t th;
  if (pthread_create(&th, NULL, sampler, NULL) != 0) return 2;
  for (int r = 0; r < a.reps; r++) ns[r] = one_burst(a.n);
  atomic_store(&sampling, 0);
  pthread_join(th, NULL);
  goro_stats_t s1 = {0};
  goro_stats(&s1, sizeof s1);
  qsort(ns, (size_t)a.reps, sizeof ns[0], bench_cmp_double);
  printf("bench=blockburst procs=%d ns_per_op=%.1f best=%.1f stat=median reps=%d n=%ld "
         "threads=%d created=%llu handoffs=%llu\n",
         procs, ns[a.reps / 2], ns[0], a.reps, a.n, atomic_load(&peak),
         (unsigned long long)(s1.threads_created - s0.threads_created),
         (unsigned long long)(s1.handoffs - s0.handoffs));
  fflush(stdout);
  bench_shutdown();
  return 0;
}
