/*
 * audit_overhead: what goro-audit's probes cost the audited process.
 *
 * Two ping-pongs, each timed without and then with goro-audit attached to this
 * process (goro-audit --pid <self>):
 *  - threads: two OS threads bounce a byte over two pipes. Every round trip is
 *    two blocking reads, two wake-ups and two context switches: the worst case
 *    for the sched_switch/sched_wakeup/sys_enter/sys_exit probes.
 *  - goro: two goroutines bounce a value over unbuffered channels at -p PROCS
 *    (bench/pingpong.c's loop), the realistic case.
 * No Go reference (the figure is a ratio of goro to itself). Prints
 *
 *   bench=audit_overhead procs=P ns_per_op=<threads, audited> best=... stat=median reps=R n=N
 *         base=<threads, not audited> ratio=<audited/base> goro_base=... goro_audited=...
 * goro_ratio=...
 *
 * Needs root and the plain build (goro-audit is not built with sanitizers);
 * otherwise it prints the unaudited figures with audit=unavailable.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef GORO_AUDIT_BIN
#define GORO_AUDIT_BIN NULL
#endif

/* ---- threads over pipes --------------------------------------------------- */

static int p_ab[2], p_ba[2];
static long t_n;

static void *t_ponger(void *arg) {
  (void)arg;
  char b;
  for (long i = 0; i < t_n; i++) {
    if (read(p_ab[0], &b, 1) != 1 || write(p_ba[1], &b, 1) != 1) exit(2);
  }
  return NULL;
}

static double t_round(long n) {
  t_n = n;
  pthread_t th;
  if (pthread_create(&th, NULL, t_ponger, NULL)) exit(2);
  int64_t t0 = bench_now_ns();
  char b = 'x';
  for (long i = 0; i < n; i++) {
    if (write(p_ab[1], &b, 1) != 1 || read(p_ba[0], &b, 1) != 1) exit(2);
  }
  int64_t t1 = bench_now_ns();
  pthread_join(th, NULL);
  return (double)(t1 - t0) / (double)n;
}

/* ---- goroutines over channels --------------------------------------------- */

typedef struct g_ctx {
  goro_chan_t *ping, *pong;
  goro_wg_t *wg;
  long n;
  double ns;
} g_ctx_t;

static void g_ponger(void *arg) {
  g_ctx_t *c = arg;
  long v;
  for (long i = 0; i < c->n; i++) {
    bench_check(goro_chan_recv(c->ping, &v, GORO_NO_DEADLINE));
    bench_check(goro_chan_send(c->pong, &v, GORO_NO_DEADLINE));
  }
  goro_wg_done(c->wg);
}

static void g_round(void *arg) {
  g_ctx_t *c = arg;
  bench_check(goro_wg_add(c->wg, 1));
  int64_t t0 = bench_now_ns();
  bench_check(goro_go(g_ponger, c));
  for (long i = 0; i < c->n; i++) {
    long v = i;
    bench_check(goro_chan_send(c->ping, &v, GORO_NO_DEADLINE));
    bench_check(goro_chan_recv(c->pong, &v, GORO_NO_DEADLINE));
  }
  bench_check(goro_wg_wait(c->wg));
  c->ns = (double)(bench_now_ns() - t0) / (double)c->n;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof v[0], bench_cmp_double);
  return v[n / 2];
}

/* ---- goro-audit ----------------------------------------------------------- */

static pid_t audit_start(void) {
  const char *bin = GORO_AUDIT_BIN;
  if (!bin || geteuid() != 0) {
    fprintf(stderr, "audit_overhead: %s; printing unaudited figures only\n",
            !bin ? "goro-audit not built here (plain build only)" : "goro-audit needs root");
    return -1;
  }
  int perr[2];
  if (pipe(perr)) return -1;
  char pid[16];
  snprintf(pid, sizeof pid, "%d", (int)getpid());
  pid_t a = fork();
  if (a == 0) {
    int dn = open("/dev/null", O_WRONLY);
    dup2(dn, 1);
    dup2(perr[1], 2);
    close(perr[0]);
    execl(bin, bin, "--pid", pid, (char *)NULL);
    _exit(127);
  }
  close(perr[1]);
  char buf[1024];
  size_t len = 0;
  int64_t end = bench_now_ns() + 30 * 1000000000LL;
  while (len + 1 < sizeof buf && bench_now_ns() < end) {
    struct pollfd p = {perr[0], POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0) continue;
    ssize_t r = read(perr[0], buf + len, sizeof buf - 1 - len);
    if (r <= 0) break;
    len += (size_t)r;
    buf[len] = '\0';
    if (strstr(buf, "attached to pid")) {
      close(perr[0]); /* later stderr output would get EPIPE: it has none */
      return a;
    }
  }
  buf[len] = '\0';
  fprintf(stderr, "audit_overhead: goro-audit did not attach: %s\n", buf);
  kill(a, SIGKILL);
  waitpid(a, NULL, 0);
  close(perr[0]);
  return -1;
}

static void audit_stop(pid_t a) {
  if (a <= 0) return;
  kill(a, SIGINT);
  waitpid(a, NULL, 0);
}

int main(int argc, char **argv) {
  static bench_args_t args;
  bench_parse(&args, argc, argv, 20000);
  int procs = bench_init(&args);
  if (pipe(p_ab) || pipe(p_ba)) return 2;
  signal(SIGPIPE, SIG_IGN);

  static g_ctx_t g;
  bench_check(goro_chan_make(&g.ping, sizeof(long), 0));
  bench_check(goro_chan_make(&g.pong, sizeof(long), 0));
  bench_check(goro_wg_new(&g.wg));
  long gn = args.n * 4;

  double base[BENCH_REPS_MAX], aud[BENCH_REPS_MAX], gbase[BENCH_REPS_MAX], gaud[BENCH_REPS_MAX];
  t_round(args.n / 10 + 1); /* warm-up */
  g.n = gn / 10 + 1;
  bench_check(goro_run(g_round, &g));
  g.n = gn;
  for (int r = 0; r < args.reps; r++) {
    base[r] = t_round(args.n);
    bench_check(goro_run(g_round, &g));
    gbase[r] = g.ns;
  }
  pid_t a = audit_start();
  if (a > 0) {
    t_round(args.n / 10 + 1);
    for (int r = 0; r < args.reps; r++) {
      aud[r] = t_round(args.n);
      bench_check(goro_run(g_round, &g));
      gaud[r] = g.ns;
    }
    audit_stop(a);
  }
  goro_chan_release(g.ping);
  goro_chan_release(g.pong);
  bench_check(goro_wg_free(g.wg));

  double mb = median(base, args.reps), mg = median(gbase, args.reps);
  if (a > 0) {
    double ma = median(aud, args.reps), mga = median(gaud, args.reps);
    fprintf(stderr,
            "audit_overhead: thread ping-pong %.0f ns -> %.0f ns audited (x%.2f); "
            "goro ping-pong (%d Ps) %.0f ns -> %.0f ns audited (x%.2f)\n",
            mb, ma, ma / mb, procs, mg, mga, mga / mg);
    printf(
        "bench=audit_overhead procs=%d ns_per_op=%.1f best=%.1f stat=median reps=%d n=%ld "
        "base=%.1f ratio=%.2f goro_base=%.1f goro_audited=%.1f goro_ratio=%.2f\n",
        procs, ma, aud[0], args.reps, args.n, mb, ma / mb, mg, mga, mga / mg);
  } else {
    printf(
        "bench=audit_overhead procs=%d ns_per_op=%.1f best=%.1f stat=median reps=%d n=%ld "
        "base=%.1f audit=unavailable goro_base=%.1f\n",
        procs, mb, base[0], args.reps, args.n, mb, mg);
  }
  bench_shutdown();
  return 0;
}
