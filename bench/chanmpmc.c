/*
 * chanmpmc: 8 sending and 8 receiving goroutines on one channel of capacity
 * 8, per value. The smallest channel that gets goro's lock-free ring, under
 * the contention that made smaller rings slower than Go's locked array
 * (docs/design.md, "Channels"): most operations here park or wake.
 * Go reference: bench/go/chanmpmc. No target: it guards against that
 * regression coming back.
 */
#include "bench.h"

#include <errno.h>

#define CM_SIDE 8 /* senders, and receivers */
#define CM_CAP 8

typedef struct cm_ctx {
  bench_args_t args;
  goro_chan_t *ch;
  goro_wg_t *senders, *receivers;
  long per_sender;
  long sums[CM_SIDE];
  double ns_per_op[BENCH_REPS_MAX];
} cm_ctx_t;

static cm_ctx_t g_cm;

static void cm_send(void *arg) {
  (void)arg;
  for (long i = 0; i < g_cm.per_sender; i++) bench_check(goro_chan_send(g_cm.ch, &i, GORO_NO_DEADLINE));
  goro_wg_done(g_cm.senders);
}

static void cm_recv(void *arg) {
  long *sum = arg, v;
  int rc;
  while ((rc = goro_chan_recv(g_cm.ch, &v, GORO_NO_DEADLINE)) == 0) *sum += v;
  if (rc != -EPIPE) bench_check(rc);
  goro_wg_done(g_cm.receivers);
}

static double cm_round(long n) {
  g_cm.per_sender = n / CM_SIDE;
  bench_check(goro_chan_make(&g_cm.ch, sizeof(long), CM_CAP));
  bench_check(goro_wg_add(g_cm.senders, CM_SIDE));
  bench_check(goro_wg_add(g_cm.receivers, CM_SIDE));
  int64_t t0 = bench_now_ns();
  for (int i = 0; i < CM_SIDE; i++) {
    g_cm.sums[i] = 0;
    bench_check(goro_go(cm_recv, &g_cm.sums[i]));
  }
  for (int i = 0; i < CM_SIDE; i++) bench_check(goro_go(cm_send, NULL));
  bench_check(goro_wg_wait(g_cm.senders));
  bench_check(goro_chan_close(g_cm.ch));
  bench_check(goro_wg_wait(g_cm.receivers));
  long total = (long)CM_SIDE * g_cm.per_sender;
  double ns = (double)(bench_now_ns() - t0) / (double)total;
  long sum = 0;
  for (int i = 0; i < CM_SIDE; i++) sum += g_cm.sums[i];
  if (sum != CM_SIDE * (g_cm.per_sender * (g_cm.per_sender - 1) / 2)) {
    fprintf(stderr, "chanmpmc: lost values\n");
    exit(2);
  }
  goro_chan_release(g_cm.ch);
  return ns;
}

static void cm_main(void *arg) {
  (void)arg;
  bench_check(goro_wg_new(&g_cm.senders));
  bench_check(goro_wg_new(&g_cm.receivers));
  cm_round(g_cm.args.n / 10 + CM_SIDE); /* warm-up */
  for (int r = 0; r < g_cm.args.reps; r++) g_cm.ns_per_op[r] = cm_round(g_cm.args.n);
  bench_check(goro_wg_free(g_cm.senders));
  bench_check(goro_wg_free(g_cm.receivers));
}

int main(int argc, char **argv) {
  bench_parse(&g_cm.args, argc, argv, 500000);
  int procs = bench_init(&g_cm.args);
  bench_check(goro_run(cm_main, NULL));
  bench_report("chanmpmc", procs, &g_cm.args, g_cm.ns_per_op);
  bench_shutdown();
  return 0;
}
