/*
 * pingpong: an unbuffered channel round trip between two goroutines: A sends
 * to B on one channel, B answers on another; per round trip.
 * Go reference: bench/go/pingpong. Target: goro <= 0.5x Go.
 */
#include "bench.h"

typedef struct pp_ctx {
  bench_args_t args;
  goro_chan_t *ping, *pong;
  goro_wg_t *wg;
  long n;
  double ns_per_op[BENCH_REPS_MAX];
} pp_ctx_t;

static void ponger(void *arg) {
  pp_ctx_t *c = arg;
  long v;
  for (long i = 0; i < c->n; i++) {
    bench_check(goro_chan_recv(c->ping, &v, GORO_NO_DEADLINE));
    bench_check(goro_chan_send(c->pong, &v, GORO_NO_DEADLINE));
  }
  goro_wg_done(c->wg);
}

static double pp_round(pp_ctx_t *c, long n) {
  c->n = n;
  bench_check(goro_wg_add(c->wg, 1));
  int64_t t0 = bench_now_ns();
  bench_check(goro_go(ponger, c));
  for (long i = 0; i < n; i++) {
    long v = i;
    bench_check(goro_chan_send(c->ping, &v, GORO_NO_DEADLINE));
    bench_check(goro_chan_recv(c->pong, &v, GORO_NO_DEADLINE));
  }
  bench_check(goro_wg_wait(c->wg));
  return (double)(bench_now_ns() - t0) / (double)n;
}

static void pp_main(void *arg) {
  pp_ctx_t *c = arg;
  bench_check(goro_chan_make(&c->ping, sizeof(long), 0));
  bench_check(goro_chan_make(&c->pong, sizeof(long), 0));
  bench_check(goro_wg_new(&c->wg));
  pp_round(c, c->args.n / 10 + 1); /* warm-up */
  for (int r = 0; r < c->args.reps; r++) c->ns_per_op[r] = pp_round(c, c->args.n);
  goro_chan_release(c->ping);
  goro_chan_release(c->pong);
  bench_check(goro_wg_free(c->wg));
}

int main(int argc, char **argv) {
  static pp_ctx_t c;
  bench_parse(&c.args, argc, argv, 500000);
  int procs = bench_init(&c.args);
  bench_check(goro_run(pp_main, &c));
  bench_report("pingpong", procs, &c.args, c.ns_per_op);
  bench_shutdown();
  return 0;
}
