/*
 * hog: how long a ready goroutine waits behind CPU hogs. One hog per P burns
 * CPU for about 300 ms without calling into goro, while a goroutine sleeps
 * 10 ms in a loop; ns_per_op is the mean lateness of its wake-ups (ns), i.e.
 * how long it stayed runnable before a P ran it.
 *
 * Three lines, one per way a hog can be made to yield:
 *   bench=hog         the hogs are async-preemptible (goro_go_opts
 *                     .async_preemptible): the SIGURG handler switches them out
 *   bench=hog_coop    asynchronous switches off (GORO_DEBUG=asyncpreemptoff=1);
 *                     the hogs call goro_preempt_point() every ~20 us
 *   bench=hog_ignore  the hogs never yield (no preemption point, not
 *                     async-preemptible): the wait is the rest of the hog's run,
 *                     which is what handing an ignoring hog's P to another M
 *                     would save (docs/design.md, "Preemption")
 * Go reference: bench/go/hog (bench=hog: Go's async preemption; bench=hog_coop:
 * GODEBUG=asyncpreemptoff=1 with a call in the hog loop).
 */
#define _GNU_SOURCE
#include "bench.h"

#include <stdatomic.h>
#include <stdint.h>

typedef struct hog_ctx {
  int mode; /* 0 async, 1 coop, 2 ignore */
  uint64_t iters;
  atomic_int hogs_left;
  int64_t late_sum;
  long ticks;
  goro_wg_t *wg;
} hog_ctx_t;

static volatile uint64_t hog_sink;

static uint64_t burn(uint64_t n, uint64_t x) {
  for (uint64_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  return x;
}

static void hog(void *arg) {
  hog_ctx_t *c = arg;
  uint64_t x = 88172645463325252ull;
  for (uint64_t done = 0; done < c->iters; done += 4096) {
    x = burn(4096, x);
    if (c->mode == 1) goro_preempt_point();
  }
  hog_sink = x;
  atomic_fetch_sub(&c->hogs_left, 1);
  goro_wg_done(c->wg);
}

static void ticker(void *arg) {
  hog_ctx_t *c = arg;
  /* Every tick that began while hogs were left counts, including the last
   * one, which may end only when an ignoring hog does: that wait is the
   * figure for hog_ignore, measured like the others. */
  while (atomic_load(&c->hogs_left) > 0) {
    int64_t t0 = bench_now_ns();
    bench_check(goro_sleep(10 * GORO_MS));
    c->late_sum += bench_now_ns() - t0 - 10 * GORO_MS;
    c->ticks++;
  }
  goro_wg_done(c->wg);
}

static uint64_t calibrate(int64_t ns) {
  uint64_t n = 1 << 20;
  for (;;) {
    int64_t t0 = bench_now_ns();
    hog_sink = burn(n, 1);
    int64_t d = bench_now_ns() - t0;
    if (d > 20 * GORO_MS) return (uint64_t)((double)n * (double)ns / (double)d);
    n *= 2;
  }
}

/* one_round returns the mean lateness of the ticker (ns) behind procs hogs. */
static double one_round(int mode, int procs, uint64_t iters) {
  static hog_ctx_t c;
  memset(&c, 0, sizeof c);
  c.mode = mode;
  c.iters = iters;
  atomic_store(&c.hogs_left, procs);
  bench_check(goro_wg_new(&c.wg));
  bench_check(goro_wg_add(c.wg, procs + 1));
  bench_check(goro_go(ticker, &c));
  goro_sleep(GORO_MS);
  goro_go_opts_t o = GORO_GO_OPTS_INIT;
  o.async_preemptible = mode == 0;
  for (int i = 0; i < procs; i++) bench_check(goro_go_opts(&o, hog, &c, NULL));
  bench_check(goro_wg_wait(c.wg));
  bench_check(goro_wg_free(c.wg));
  return (double)c.late_sum / (double)c.ticks; /* ticks >= 1: the first began with hogs left */
}

typedef struct run_ctx {
  int mode, procs, reps;
  uint64_t iters;
  double ns[BENCH_REPS_MAX];
} run_ctx_t;

static void run_main(void *arg) {
  run_ctx_t *r = arg;
  one_round(r->mode, r->procs, r->iters / 4); /* warm-up */
  for (int i = 0; i < r->reps; i++) r->ns[i] = one_round(r->mode, r->procs, r->iters);
}

int main(int argc, char **argv) {
  bench_args_t a;
  bench_parse(&a, argc, argv, 300); /* n: ms each hog runs */
  uint64_t iters = calibrate(a.n * GORO_MS);
  static const char *names[] = {"hog", "hog_coop", "hog_ignore"};
  for (int mode = 0; mode < 3; mode++) {
    if (mode == 1)
      setenv("GORO_DEBUG", "asyncpreemptoff=1", 1);
    else
      unsetenv("GORO_DEBUG");
    static run_ctx_t r;
    r.mode = mode;
    r.reps = a.reps;
    r.iters = iters;
    r.procs = bench_init(&a);
    bench_check(goro_run(run_main, &r));
    bench_report(names[mode], r.procs, &a, r.ns);
    bench_shutdown();
  }
  unsetenv("GORO_DEBUG");
  return 0;
}
