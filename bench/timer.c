/*
 * timer: how late a 1 ms sleep wakes, in ns (mean over N sleeps), while
 * the runtime is otherwise idle, so the wake-up goes through the parked M
 * blocked in the netpoller. Go reference: bench/go/timer (time.Sleep).
 * No target: the ratio is printed.
 */
#include "bench.h"

typedef struct tm_ctx {
  bench_args_t args;
  double ns_per_op[BENCH_REPS_MAX];
} tm_ctx_t;

static double tm_round(long n) {
  int64_t late = 0;
  for (long i = 0; i < n; i++) {
    int64_t t0 = bench_now_ns();
    bench_check(goro_sleep(GORO_MS));
    late += bench_now_ns() - t0 - GORO_MS;
  }
  return (double)late / (double)n;
}

static void tm_main(void *arg) {
  tm_ctx_t *c = arg;
  tm_round(c->args.n / 10 + 1); /* warm-up */
  for (int r = 0; r < c->args.reps; r++) c->ns_per_op[r] = tm_round(c->args.n);
}

int main(int argc, char **argv) {
  static tm_ctx_t c;
  bench_parse(&c.args, argc, argv, 200);
  int procs = bench_init(&c.args);
  bench_check(goro_run(tm_main, &c));
  bench_report("timer", procs, &c.args, c.ns_per_op);
  bench_shutdown();
  return 0;
}
