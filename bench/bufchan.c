/*
 * bufchan: one producer and one consumer goroutine through a buffered channel
 * of capacity 1024; per item. Go reference: bench/go/bufchan.
 * Target: goro <= 0.75x Go.
 */
#include "bench.h"

typedef struct bc_ctx {
  bench_args_t args;
  goro_chan_t *ch;
  goro_wg_t *wg;
  long n;
  double ns_per_op[BENCH_REPS_MAX];
} bc_ctx_t;

static void producer(void *arg) {
  bc_ctx_t *c = arg;
  for (long i = 0; i < c->n; i++) bench_check(goro_chan_send(c->ch, &i, GORO_NO_DEADLINE));
  goro_wg_done(c->wg);
}

static double bc_round(bc_ctx_t *c, long n) {
  c->n = n;
  bench_check(goro_wg_add(c->wg, 1));
  int64_t t0 = bench_now_ns();
  bench_check(goro_go(producer, c));
  long v, sum = 0;
  for (long i = 0; i < n; i++) {
    bench_check(goro_chan_recv(c->ch, &v, GORO_NO_DEADLINE));
    sum += v;
  }
  bench_check(goro_wg_wait(c->wg));
  double ns = (double)(bench_now_ns() - t0) / (double)n;
  if (sum != n * (n - 1) / 2) {
    fprintf(stderr, "bufchan: lost items\n");
    exit(2);
  }
  return ns;
}

static void bc_main(void *arg) {
  bc_ctx_t *c = arg;
  bench_check(goro_chan_make(&c->ch, sizeof(long), 1024));
  bench_check(goro_wg_new(&c->wg));
  bc_round(c, c->args.n / 10 + 1); /* warm-up */
  for (int r = 0; r < c->args.reps; r++) c->ns_per_op[r] = bc_round(c, c->args.n);
  goro_chan_release(c->ch);
  bench_check(goro_wg_free(c->wg));
}

int main(int argc, char **argv) {
  static bc_ctx_t c;
  bench_parse(&c.args, argc, argv, 2000000);
  int procs = bench_init(&c.args);
  bench_check(goro_run(bc_main, &c));
  bench_report("bufchan", procs, &c.args, c.ns_per_op);
  bench_shutdown();
  return 0;
}
