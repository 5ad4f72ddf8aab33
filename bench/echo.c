/*
 * echo.c: TCP echo throughput and latency over loopback, goro's netpoller
 * against Go's net package (bench/go/echo/main.go).
 *
 *     bench/echo [-p PROCS] [-n CONNS] [-r REPS]
 *
 * Server: a goroutine per connection, goro_read() then goro_write() of what
 * came in, PROCS Ps (as the Go reference runs with GOMAXPROCS=PROCS).
 *
 * Client: the SAME program drives both servers, so the comparison is fair:
 * this binary in client mode (`echo -client PORT -c CONNS -r REPS -t MS`),
 * a separate process, single-threaded, plain epoll, no goro. It opens CONNS
 * connections; each keeps one 64-byte request in flight (send, wait for the
 * full echo, send the next: closed-loop ping-pong). After a 300 ms warm-up
 * it measures REPS windows of MS ms and prints one line per window:
 *     rps=<requests per second> p50_ns=<median latency> p99_ns=<99th pct>
 * The goro server starts it with posix_spawn; the Go reference starts the
 * same binary (found next to its own, or through $BENCH_ECHO_CLIENT).
 *
 * Output: the usual line, ns_per_op being wall ns per request (1e9 / rps,
 * so goro/go <= 1.0 means at least Go's requests per second), plus
 * rps=, p50_us= and p99_us= of the median window.
 *
 * Caveat: client and server share the machine's CPUs; on a 2-CPU machine
 * the client takes about one of them.
 */
#define _GNU_SOURCE /* accept4, pipe2, posix_spawn file actions */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

enum { kMsg = 64, kWindowMs = 1000, kWarmupMs = 300 };

static void raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/* ------------------------------------------------------------------------- */
/* Client mode                                                                */
/* ------------------------------------------------------------------------- */

/* Latency histogram: 1 us buckets up to 1 s, the rest in the last one. */
#define HIST_BUCKETS 1000001
static uint32_t hist[HIST_BUCKETS];

typedef struct cconn {
  int fd;
  int got;
  int64_t sent_at;
} cconn_t;

static int64_t hist_pct(uint64_t total, double pct) {
  uint64_t want = (uint64_t)((double)total * pct);
  uint64_t acc = 0;
  for (int i = 0; i < HIST_BUCKETS; i++) {
    acc += hist[i];
    if (acc > want) return (int64_t)i * 1000;
  }
  return (int64_t)(HIST_BUCKETS - 1) * 1000;
}

static int client_main(int port, int conns, int reps, int window_ms) {
  raise_nofile();
  int ep = epoll_create1(EPOLL_CLOEXEC);
  cconn_t *c = calloc((size_t)conns, sizeof *c);
  char msg[kMsg], buf[kMsg];
  memset(msg, 'x', sizeof msg);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)port);
  for (int i = 0; i < conns; i++) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
      fprintf(stderr, "echo client: connect %d: %s\n", i, strerror(errno));
      return 2;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    c[i].fd = fd;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  for (int i = 0; i < conns; i++) {
    c[i].sent_at = bench_now_ns();
    if (write(c[i].fd, msg, kMsg) != kMsg) {
      fprintf(stderr, "echo client: write: %s\n", strerror(errno));
      return 2;
    }
  }
  struct epoll_event evs[256];
  int64_t window_start = bench_now_ns();
  int64_t window_end = window_start + (int64_t)kWarmupMs * 1000000;
  int rep = -1; /* -1: warm-up */
  uint64_t count = 0;
  while (rep < reps) {
    int n = epoll_wait(ep, evs, 256, 100);
    int64_t now = bench_now_ns();
    for (int k = 0; k < n; k++) {
      cconn_t *cc = &c[evs[k].data.u32];
      ssize_t r = read(cc->fd, buf, (size_t)(kMsg - cc->got));
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        fprintf(stderr, "echo client: read: %s\n", r == 0 ? "server closed" : strerror(errno));
        return 2;
      }
      cc->got += (int)r;
      if (cc->got < kMsg) continue;
      cc->got = 0;
      if (rep >= 0) {
        int64_t us = (now - cc->sent_at) / 1000;
        hist[us < HIST_BUCKETS ? us : HIST_BUCKETS - 1]++;
        count++;
      }
      cc->sent_at = now;
      if (write(cc->fd, msg, kMsg) != kMsg) {
        fprintf(stderr, "echo client: write: %s\n", strerror(errno));
        return 2;
      }
    }
    if (now >= window_end) {
      if (rep >= 0) {
        double secs = (double)(now - window_start) / 1e9;
        printf("rps=%.0f p50_ns=%lld p99_ns=%lld\n", (double)count / secs,
               (long long)hist_pct(count, 0.50), (long long)hist_pct(count, 0.99));
        fflush(stdout);
      }
      memset(hist, 0, sizeof hist);
      count = 0;
      rep++;
      window_start = now;
      window_end = now + (int64_t)window_ms * 1000000;
    }
  }
  for (int i = 0; i < conns; i++) close(c[i].fd);
  free(c);
  return 0;
}

/* ------------------------------------------------------------------------- */
/* Server mode (goro)                                                         */
/* ------------------------------------------------------------------------- */

static void serve(void *arg) {
  int fd = (int)(intptr_t)arg;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char buf[4096];
  for (;;) {
    ssize_t r = goro_read(fd, buf, sizeof buf, GORO_NO_DEADLINE);
    if (r <= 0) break;
    if (goro_write(fd, buf, (size_t)r, GORO_NO_DEADLINE) != r) break;
  }
  goro_close(fd);
}

static void acceptor(void *arg) {
  int lfd = (int)(intptr_t)arg;
  for (;;) {
    int fd = goro_accept(lfd, NULL, NULL, GORO_NO_DEADLINE);
    if (fd < 0) {
      if (fd == -EBADF) return; /* listener closed: done */
      continue;
    }
    if (goro_go(serve, (void *)(intptr_t)fd) != 0) goro_close(fd);
  }
}

typedef struct window {
  double rps, p50, p99;
} window_t;

static int cmp_window(const void *x, const void *y) {
  double a = ((const window_t *)x)->rps, b = ((const window_t *)y)->rps;
  return (a > b) - (a < b);
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "-client") == 0) {
    int port = 0, conns = 1000, reps = 5, ms = kWindowMs;
    for (int i = 2; i + 1 < argc; i += 2) {
      int v = atoi(argv[i + 1]);
      if (strcmp(argv[i], "-port") == 0)
        port = v;
      else if (strcmp(argv[i], "-c") == 0)
        conns = v;
      else if (strcmp(argv[i], "-r") == 0)
        reps = v;
      else if (strcmp(argv[i], "-t") == 0)
        ms = v;
    }
    if (port <= 0 || conns <= 0 || reps <= 0 || ms <= 0) {
      fprintf(stderr, "usage: %s -client -port PORT [-c CONNS] [-r REPS] [-t MS]\n", argv[0]);
      return 64;
    }
    return client_main(port, conns, reps, ms);
  }

  bench_args_t a;
  bench_parse(&a, argc, argv, 1000);
  raise_nofile();
  int procs = bench_init(&a);

  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t sl = sizeof sa;
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 4096) != 0 ||
      getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0) {
    fprintf(stderr, "echo: listen: %s\n", strerror(errno));
    return 2;
  }
  bench_check(goro_go(acceptor, (void *)(intptr_t)lfd));

  /* The client: this binary again, in its own process. */
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) != 0) return 2;
  char port_s[16], conns_s[16], reps_s[16], ms_s[16];
  snprintf(port_s, sizeof port_s, "%d", ntohs(sa.sin_port));
  snprintf(conns_s, sizeof conns_s, "%ld", a.n);
  snprintf(reps_s, sizeof reps_s, "%d", a.reps);
  snprintf(ms_s, sizeof ms_s, "%d", kWindowMs);
  char *cargv[] = {argv[0], "-client", "-port", port_s, "-c", conns_s,
                   "-r",    reps_s,    "-t",    ms_s,   NULL};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
  pid_t pid;
  int err = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, cargv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(pfd[1]);
  if (err != 0) {
    fprintf(stderr, "echo: cannot start the client: %s\n", strerror(err));
    return 2;
  }
  FILE *in = fdopen(pfd[0], "r");
  window_t w[BENCH_REPS_MAX];
  int nw = 0;
  char line[256];
  while (nw < a.reps && fgets(line, sizeof line, in)) {
    long long p50, p99;
    if (sscanf(line, "rps=%lf p50_ns=%lld p99_ns=%lld", &w[nw].rps, &p50, &p99) == 3) {
      w[nw].p50 = (double)p50;
      w[nw].p99 = (double)p99;
      nw++;
    }
  }
  fclose(in);
  int status = 0;
  waitpid(pid, &status, 0);
  if (nw < a.reps || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "echo: the client failed (%d windows, status %d)\n", nw, status);
    return 2;
  }
  goro_close(lfd); /* ends the acceptor; connection goroutines saw EOF */
  qsort(w, (size_t)nw, sizeof w[0], cmp_window);
  window_t med = w[nw / 2], best = w[nw - 1];
  printf(
      "bench=echo procs=%d ns_per_op=%.1f best=%.1f stat=median reps=%d n=%ld "
      "rps=%.0f p50_us=%.0f p99_us=%.0f\n",
      procs, 1e9 / med.rps, 1e9 / best.rps, a.reps, a.n, med.rps, med.p50 / 1000, med.p99 / 1000);
  fflush(stdout);
  /* Connection goroutines finish once they read EOF. */
  for (int i = 0; i < 2000 && goro_num_goroutine() > 0; i++) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  bench_shutdown();
  return 0;
}
