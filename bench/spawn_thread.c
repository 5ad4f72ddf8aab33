/*
 * spawn_thread: as spawn, but goro_go() is called from the program's main
 * thread (a plain thread), so every goroutine goes through the global run
 * queue and the wait blocks the thread. No Go counterpart (Go has no plain
 * threads) and no target: it shows what a C host pays to hand work to goro.
 */
#include "bench.h"

static void done(void *arg) { goro_wg_done((goro_wg_t *)arg); }

static double spawn_round(long n) {
  goro_wg_t *wg;
  bench_check(goro_wg_new(&wg));
  int64_t t0 = bench_now_ns();
  for (long i = 0; i < n; i++) {
    bench_check(goro_wg_add(wg, 1));
    bench_check(goro_go(done, wg));
  }
  bench_check(goro_wg_wait(wg));
  int64_t t1 = bench_now_ns();
  bench_check(goro_wg_free(wg));
  return (double)(t1 - t0) / (double)n;
}

int main(int argc, char **argv) {
  bench_args_t a;
  double ns_per_op[BENCH_REPS_MAX];
  bench_parse(&a, argc, argv, 200000);
  int procs = bench_init(&a);
  spawn_round(a.n); /* warm-up */
  for (int r = 0; r < a.reps; r++) ns_per_op[r] = spawn_round(a.n);
  bench_report("spawn_thread", procs, &a, ns_per_op);
  bench_shutdown();
  return 0;
}
