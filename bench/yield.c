/*
 * yield: two goroutines calling goro_yield() in a loop, per iteration (each
 * of the pair yields once). Go reference: bench/go/yield (runtime.Gosched).
 * Target: goro <= 0.5x Go.
 *
 * A driver goroutine (via goro_run) starts the pair and parks on a WaitGroup,
 * as Go's main goroutine does.
 */
#include "bench.h"

typedef struct yield_ctx {
  bench_args_t args;
  goro_wg_t *wg;
  long iters;
  double ns_per_op[BENCH_REPS_MAX];
} yield_ctx_t;

static void yielder(void *arg) {
  yield_ctx_t *c = arg;
  for (long i = 0; i < c->iters; i++) goro_yield();
  goro_wg_done(c->wg);
}

static double yield_round(yield_ctx_t *c, long iters) {
  c->iters = iters;
  bench_check(goro_wg_add(c->wg, 2));
  int64_t t0 = bench_now_ns();
  bench_check(goro_go(yielder, c));
  bench_check(goro_go(yielder, c));
  bench_check(goro_wg_wait(c->wg));
  int64_t t1 = bench_now_ns();
  return (double)(t1 - t0) / (double)iters;
}

static void yield_main(void *arg) {
  yield_ctx_t *c = arg;
  bench_check(goro_wg_new(&c->wg));
  yield_round(c, c->args.n / 10 + 1); /* warm-up */
  for (int r = 0; r < c->args.reps; r++) c->ns_per_op[r] = yield_round(c, c->args.n);
  bench_check(goro_wg_free(c->wg));
}

int main(int argc, char **argv) {
  static yield_ctx_t c;
  bench_parse(&c.args, argc, argv, 1000000);
  int procs = bench_init(&c.args);
  bench_check(goro_run(yield_main, &c));
  bench_report("yield", procs, &c.args, c.ns_per_op);
  bench_shutdown();
  return 0;
}
