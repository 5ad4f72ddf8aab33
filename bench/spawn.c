/*
 * spawn: the cost of a goroutine that does nothing but goro_wg_done(), per
 * goroutine: spawn, first run, exit, and the WaitGroup traffic.
 * Go reference: bench/go/spawn (wg.Add(1); go func(){ wg.Done() }()).
 * Target: goro <= 0.25x Go.
 *
 * The spawning loop runs inside a goroutine (via goro_run), as Go's does, so
 * each new goroutine goes to the spawner's P (runnext) rather than the global
 * queue. All N goroutines are spawned before the spawner waits, as in Go.
 */
#include "bench.h"

typedef struct spawn_ctx {
  bench_args_t args;
  double ns_per_op[BENCH_REPS_MAX];
} spawn_ctx_t;


static void spawn_main(void *arg) {
  spawn_ctx_t *c = arg;
  bench_spawn_round(c->args.n); /* warm-up: stack and G caches */
  for (int r = 0; r < c->args.reps; r++) c->ns_per_op[r] = bench_spawn_round(c->args.n);
}

int main(int argc, char **argv) {
  static spawn_ctx_t c;
  bench_parse(&c.args, argc, argv, 200000);
  int procs = bench_init(&c.args);
  bench_check(goro_run(spawn_main, &c));
  bench_report("spawn", procs, &c.args, c.ns_per_op);
  bench_shutdown();
  return 0;
}
