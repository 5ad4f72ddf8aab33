/*
 * bench.h: the little every goro benchmark shares: argument parsing, a
 * monotonic clock, median/best of the repetitions and the output line.
 *
 * Every benchmark binary is run as
 *
 *     bench/<name> [-p PROCS] [-n N] [-r REPS]
 *
 * PROCS (default: goro's own default, GORO_MAXPROCS or the CPU count) is passed
 * to goro_init() as cfg.maxprocs. It does one untimed warm-up round, then REPS
 * timed rounds, and prints one machine-readable line per benchmark:
 *
 *     bench=NAME procs=P ns_per_op=MEDIAN best=MIN stat=median reps=R n=N
 *
 * which scripts/bench.sh joins with the Go reference programs in bench/go/,
 * which print the same line. Any goro error is fatal: the message goes to
 * stderr and the process exits with status 2, so the script reports a crash.
 */
#ifndef GORO_BENCH_H
#define GORO_BENCH_H

/* clock_gettime() under -std=c11; must precede every system header. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <goro/goro.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct bench_args {
  int procs; /* 0: goro's default */
  long n;    /* operations per round */
  int reps;  /* timed rounds */
} bench_args_t;

#define BENCH_REPS_MAX 101

static inline void bench_usage(const char *prog) {
  fprintf(stderr, "usage: %s [-p PROCS] [-n N] [-r REPS]\n", prog);
  exit(64);
}

/* bench_parse() fills *a from argv; n_default is the benchmark's own N. */
static inline void bench_parse(bench_args_t *a, int argc, char **argv, long n_default) {
  a->procs = 0;
  a->n = n_default;
  a->reps = 5;
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) bench_usage(argv[0]);
    char *end;
    long v = strtol(argv[i + 1], &end, 10);
    if (*end != '\0' || v < 0) bench_usage(argv[0]);
    if (strcmp(argv[i], "-p") == 0) a->procs = (int)v;
    else if (strcmp(argv[i], "-n") == 0 && v > 0) a->n = v;
    else if (strcmp(argv[i], "-r") == 0 && v > 0 && v <= BENCH_REPS_MAX) a->reps = (int)v;
    else bench_usage(argv[0]);
    i++;
  }
}

/* bench_check() aborts the benchmark on a goro error. */
#define bench_check(call)                                                    \
  do {                                                                       \
    int bench_rc_ = (call);                                                  \
    if (bench_rc_ < 0) {                                                     \
      fprintf(stderr, "%s:%d: %s failed: %d (%s)\n", __FILE__, __LINE__,      \
              #call, bench_rc_, goro_strerror(bench_rc_));                   \
      exit(2);                                                               \
    }                                                                        \
  } while (0)

/* bench_init() starts the runtime with a->procs Ps and returns the P count. */
static inline int bench_init(const bench_args_t *a) {
  goro_config_t cfg = GORO_CONFIG_INIT;
  cfg.maxprocs = a->procs;
  bench_check(goro_init(&cfg));
  int procs = goro_maxprocs(0);
  bench_check(procs);
  if (a->procs > 0 && procs != a->procs) {
    fprintf(stderr, "goro_maxprocs(0) = %d after goro_init(maxprocs=%d)\n", procs, a->procs);
    exit(2);
  }
  return procs;
}

/* bench_shutdown() stops the runtime; leftover goroutines are a bug here. */
static inline void bench_shutdown(void) {
  int left = goro_shutdown();
  bench_check(left);
  if (left != 0) {
    fprintf(stderr, "goro_shutdown(): %d goroutines abandoned\n", left);
    exit(2);
  }
}

static inline int64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int bench_cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

/* bench_report() prints the line for ns_per_op[0..reps) (sorts it). */
static inline void bench_report(const char *name, int procs, const bench_args_t *a,
                                double *ns_per_op) {
  qsort(ns_per_op, (size_t)a->reps, sizeof ns_per_op[0], bench_cmp_double);
  printf("bench=%s procs=%d ns_per_op=%.1f best=%.1f stat=median reps=%d n=%ld\n", name,
         procs, ns_per_op[a->reps / 2], ns_per_op[0], a->reps, a->n);
  fflush(stdout);
}


/* bench_spawn_round(): spawns n goroutines that only call goro_wg_done (the
 * caller may be a goroutine or a plain thread), waits for them, and returns
 * ns per goroutine. Shared by spawn.c and spawn_thread.c. */
static inline void bench_spawn_done(void *arg) { goro_wg_done((goro_wg_t *)arg); }

static inline double bench_spawn_round(long n) {
  goro_wg_t *wg;
  bench_check(goro_wg_new(&wg));
  int64_t t0 = bench_now_ns();
  for (long i = 0; i < n; i++) {
    bench_check(goro_wg_add(wg, 1));
    bench_check(goro_go(bench_spawn_done, wg));
  }
  bench_check(goro_wg_wait(wg));
  int64_t t1 = bench_now_ns();
  bench_check(goro_wg_free(wg));
  return (double)(t1 - t0) / (double)n;
}

#endif /* GORO_BENCH_H */
