/*
 * spawn_thread: as spawn, but goro_go() is called from the program's main
 * thread (a plain thread), so every goroutine goes through the global run
 * queue and the wait blocks the thread. No Go counterpart (Go has no plain
 * threads) and no target: it shows what a C host pays to hand work to goro.
 */
#include "bench.h"


int main(int argc, char **argv) {
  bench_args_t a;
  double ns_per_op[BENCH_REPS_MAX];
  bench_parse(&a, argc, argv, 200000);
  int procs = bench_init(&a);
  bench_spawn_round(a.n); /* warm-up */
  for (int r = 0; r < a.reps; r++) ns_per_op[r] = bench_spawn_round(a.n);
  bench_report("spawn_thread", procs, &a, ns_per_op);
  bench_shutdown();
  return 0;
}
