/*
 * mutex: a contended goro_mutex_t. 8 goroutines each do N rounds of
 * lock / increment a shared counter / unlock; the result is per lock/unlock
 * pair (wall time / (8 * N)). Go reference: bench/go/mutex (sync.Mutex).
 * No target: the row shows the ratio to Go.
 *
 * A driver goroutine (via goro_run) starts the 8 and parks on a WaitGroup,
 * as Go's main goroutine does. At maxprocs 1 goroutines are not preempted,
 * in goro or (within a 10 ms slice) in Go, so the lock is rarely contended
 * there; at maxprocs 2 it is, and what counts is how the mutex hands over
 * (barging, spinning, parking).
 */
#include "bench.h"

#define MUTEX_GOROUTINES 8

typedef struct mutex_ctx {
  bench_args_t args;
  goro_wg_t *wg;
  goro_mutex_t *mu;
  long iters;
  long counter; /* protected by mu */
  double ns_per_op[BENCH_REPS_MAX];
} mutex_ctx_t;

static void locker(void *arg) {
  mutex_ctx_t *c = arg;
  for (long i = 0; i < c->iters; i++) {
    bench_check(goro_mutex_lock(c->mu));
    c->counter++;
    bench_check(goro_mutex_unlock(c->mu));
  }
  goro_wg_done(c->wg);
}

static double mutex_round(mutex_ctx_t *c, long iters) {
  c->iters = iters;
  c->counter = 0;
  bench_check(goro_wg_add(c->wg, MUTEX_GOROUTINES));
  int64_t t0 = bench_now_ns();
  for (int i = 0; i < MUTEX_GOROUTINES; i++) bench_check(goro_go(locker, c));
  bench_check(goro_wg_wait(c->wg));
  int64_t t1 = bench_now_ns();
  if (c->counter != iters * MUTEX_GOROUTINES) {
    fprintf(stderr, "mutex: counter %ld, expected %ld: mutual exclusion broken\n", c->counter,
            iters * MUTEX_GOROUTINES);
    exit(2);
  }
  return (double)(t1 - t0) / (double)(iters * MUTEX_GOROUTINES);
}

static void mutex_main(void *arg) {
  mutex_ctx_t *c = arg;
  bench_check(goro_wg_new(&c->wg));
  bench_check(goro_mutex_new(&c->mu));
  mutex_round(c, c->args.n / 10 + 1); /* warm-up */
  for (int r = 0; r < c->args.reps; r++) c->ns_per_op[r] = mutex_round(c, c->args.n);
  bench_check(goro_mutex_free(c->mu));
  bench_check(goro_wg_free(c->wg));
}

int main(int argc, char **argv) {
  static mutex_ctx_t c;
  bench_parse(&c.args, argc, argv, 250000);
  int procs = bench_init(&c.args);
  bench_check(goro_run(mutex_main, &c));
  bench_report("mutex", procs, &c.args, c.ns_per_op);
  bench_shutdown();
  return 0;
}
