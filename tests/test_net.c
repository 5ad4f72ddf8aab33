/*
 * test_net.c: the netpoller and the Network I/O API (goro_fd_wait, goro_read,
 * goro_write, goro_recv, goro_send, goro_accept, goro_connect, goro_close).
 *
 *  - an echo server with 10,000 concurrent loopback connections (1,000 under
 *    ASan, 500 under TSan), every connection served by goroutines, while the
 *    thread count stays at maxprocs plus a few;
 *  - fd waits interrupted by their deadline and by goro_close, in goroutines
 *    and on plain threads; a parked poller still wakes for timers;
 *  - EMFILE from accept does not spin (process CPU time stays low), recovers
 *    when fds free up, and is interrupted by goro_close;
 *  - close + reuse of an fd number never delivers the old file's readiness
 *    to the new file's waiter;
 *  - bad input, plain threads, and use after goro_shutdown.
 */
#include "testutil.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

extern char **environ;

/* ------------------------------------------------------------------------- */
/* Helpers                                                                    */
/* ------------------------------------------------------------------------- */

static int listen_loopback(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 65535) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
    close(fd);
    return -1;
  }
  *port = ntohs(a.sin_port);
  return fd;
}

/* open_wait_fds sets up what the wake-up tests park on: a socket pair to
 * read and fd_wait on (sv), one to write into until full (wv), and a
 * loopback listener to accept on (lfd). */
static void open_wait_fds(int sv[2], int wv[2], int *lfd) {
  int port;
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, wv), 0);
  *lfd = listen_loopback(&port);
  assert_true(*lfd >= 0);
}

static struct sockaddr_in loopback_addr(int port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)port);
  return a;
}

/* raise_nofile() makes sure RLIMIT_NOFILE allows n fds (root may raise the
 * hard limit). Returns 0 or -1. */
static int raise_nofile(rlim_t n) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
  if (rl.rlim_cur >= n) return 0;
  if (rl.rlim_max < n) rl.rlim_max = n;
  rl.rlim_cur = n;
  return setrlimit(RLIMIT_NOFILE, &rl);
}

static int64_t deadline_in(int64_t ns) { return goro_now() + ns; }

/* wait_quiescent() waits (up to 10 s) until no goroutine runs or is
 * runnable: every one is parked. Closing an fd while a goroutine is still
 * inside read() on it (not yet parked) is a real race that TSan reports;
 * tests that close under a waiter wait for this first. */
static void wait_quiescent(void) {
  int64_t end = tu_now_ns() + 10000 * TU_MS;
  int calm = 0;
  while (tu_now_ns() < end) {
    goro_stats_t st;
    if (goro_stats(&st, sizeof st) == 0 && st.idleprocs == st.gomaxprocs && st.runqueue == 0 &&
        st.local_runqueue == 0) {
      if (++calm == 3) return;
    } else {
      calm = 0;
    }
    tu_sleep_ms(1);
  }
  fail_msg("goroutines did not all park within 10 s");
}

/* wait_in_syscall() waits (up to 10 s) until thread tid sits in system call
 * nr (from /proc/self/task/TID/syscall). */
static void wait_in_syscall(int tid, long nr) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
  int64_t end = tu_now_ns() + 10000 * TU_MS;
  while (tu_now_ns() < end) {
    FILE *f = fopen(path, "r");
    long cur = -2;
    if (f) {
      if (fscanf(f, "%ld", &cur) != 1) cur = -2;
      fclose(f);
    }
    if (cur == nr) return;
    tu_sleep_ms(1);
  }
  fail_msg("thread %d did not enter system call %ld within 10 s", tid, nr);
}

/* ------------------------------------------------------------------------- */
/* Echo server with many concurrent connections                               */
/* ------------------------------------------------------------------------- */

enum { kRounds = 3, kEchoMsg = 32 };

typedef struct echo {
  int lfd;
  int n;
  goro_wg_t *done; /* server connections that finished */
  atomic_int accepted;
} echo_t;

typedef struct conn_arg {
  echo_t *e;
  int fd;
} conn_arg_t;

static void echo_serve(void *arg) {
  conn_arg_t *c = arg;
  char buf[256];
  for (;;) {
    ssize_t r = goro_read(c->fd, buf, sizeof buf, deadline_in(120 * GORO_SEC));
    if (r <= 0) {
      GCHECK_CMP(r, ==, 0);
      break;
    }
    ssize_t w = goro_write(c->fd, buf, (size_t)r, deadline_in(60 * GORO_SEC));
    GCHECK_CMP(w, ==, r);
    if (w != r) break;
  }
  GCHECK_CMP(goro_close(c->fd), ==, 0);
  goro_wg_done(c->e->done);
  free(c);
}

static void echo_accept(void *arg) {
  echo_t *e = arg;
  for (int i = 0; i < e->n; i++) {
    int fd = goro_accept(e->lfd, NULL, NULL, deadline_in(60 * GORO_SEC));
    GCHECK(fd >= 0);
    if (fd < 0) {
      fprintf(stderr, "goro_accept: %s\n", goro_strerror(fd));
      break;
    }
    GCHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
    GCHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    atomic_fetch_add(&e->accepted, 1);
    conn_arg_t *c = malloc(sizeof *c);
    c->e = e;
    c->fd = fd;
    GCHECK_CMP(goro_go(echo_serve, c), ==, 0);
  }
}

/* The client runs in its own process (this binary, run as
 * `test_net --echo-client PORT N`), so the server process holds only its
 * own n connections under RLIMIT_NOFILE and only server threads are counted.
 * It is plain C: blocking connects, then epoll. It writes 'r' to stdout once
 * all n connections are up, waits for a byte on stdin, does kRounds echo
 * round trips on every connection (checking the bytes), closes them all and
 * writes 'k'. */
static int echo_client_main(int port, int n) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  int *fds = calloc((size_t)n, sizeof *fds);
  int *got = calloc((size_t)n, sizeof *got);
  int *round = calloc((size_t)n, sizeof *round);
  struct sockaddr_in a = loopback_addr(port);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; i < n; i++) {
    fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&a, sizeof a) != 0) {
      fprintf(stderr, "echo client: connect %d: %s\n", i, strerror(errno));
      return 1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) != 0) return 1;
  }
  if (write(1, "r", 1) != 1) return 1;
  char go;
  if (read(0, &go, 1) != 1) return 1;
  char msg[kEchoMsg], buf[kEchoMsg];
#define ECHO_MSG(i, k) (memset(msg, '.', kEchoMsg), snprintf(msg, kEchoMsg, "c%d r%d", (i), (k)))
  for (int i = 0; i < n; i++) {
    ECHO_MSG(i, 0);
    if (write(fds[i], msg, kEchoMsg) != kEchoMsg) return 1;
  }
  int finished = 0;
  struct epoll_event evs[256];
  while (finished < n) {
    int m = epoll_wait(ep, evs, 256, 30000);
    if (m <= 0) {
      fprintf(stderr, "echo client: stalled with %d of %d connections done\n", finished, n);
      return 1;
    }
    for (int k = 0; k < m; k++) {
      int i = (int)evs[k].data.u32;
      ssize_t r = read(fds[i], buf + got[i], (size_t)(kEchoMsg - got[i]));
      if (r <= 0) {
        fprintf(stderr, "echo client: read %d: %s\n", i, r == 0 ? "EOF" : strerror(errno));
        return 1;
      }
      got[i] += (int)r;
      if (got[i] < kEchoMsg) continue;
      got[i] = 0;
      ECHO_MSG(i, round[i]);
      if (memcmp(buf, msg, kEchoMsg) != 0) {
        fprintf(stderr, "echo client: connection %d got the wrong bytes\n", i);
        return 1;
      }
      if (++round[i] == kRounds) {
        close(fds[i]);
        finished++;
        continue;
      }
      ECHO_MSG(i, round[i]);
      if (write(fds[i], msg, kEchoMsg) != kEchoMsg) return 1;
    }
  }
#undef ECHO_MSG
  close(ep);
  free(fds);
  free(got);
  free(round);
  return write(1, "k", 1) == 1 ? 0 : 1;
}

static char *g_argv0;

static void test_echo_many_connections(void **state) {
  (void)state;
  const int n = TU_SCALE(10000, 1000, 500);
  if (raise_nofile((rlim_t)(n + 256)) != 0) {
    fprintf(stderr, "test_echo_many_connections: cannot raise RLIMIT_NOFILE to %d: %s\n", n + 256,
            strerror(errno));
    skip();
  }
  TU_WATCHDOG(90);
  int procs = goro_maxprocs(0);
  assert_true(procs >= 1);
  echo_t e;
  memset(&e, 0, sizeof e);
  e.n = n;
  int port;
  e.lfd = listen_loopback(&port);
  assert_true(e.lfd >= 0);
  assert_int_equal(goro_wg_new(&e.done), 0);
  assert_int_equal(goro_wg_add(e.done, n), 0);
  assert_int_equal(goro_go(echo_accept, &e), 0);

  int to_child[2], from_child[2];
  assert_int_equal(pipe2(to_child, O_CLOEXEC), 0);
  assert_int_equal(pipe2(from_child, O_CLOEXEC), 0);
  char port_s[16], n_s[16];
  snprintf(port_s, sizeof port_s, "%d", port);
  snprintf(n_s, sizeof n_s, "%d", n);
  char *cargv[] = {g_argv0, "--echo-client", port_s, n_s, NULL};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, to_child[0], 0);
  posix_spawn_file_actions_adddup2(&fa, from_child[1], 1);
  pid_t pid;
  assert_int_equal(posix_spawn(&pid, "/proc/self/exe", &fa, NULL, cargv, environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  close(to_child[0]);
  close(from_child[1]);

  /* All n connections up, every server goroutine parked in goro_read. */
  char c = 0;
  ASSERT_EQ(read(from_child[0], &c, 1), 1);
  assert_int_equal(c, 'r');
  int64_t end = tu_now_ns() + 30000 * TU_MS;
  while (atomic_load(&e.accepted) < n && tu_now_ns() < end) tu_sleep_ms(1);
  ASSERT_EQ(atomic_load(&e.accepted), n);
  tu_sleep_ms(20);
  int threads_idle = tu_thread_count();
  goro_stats_t st0, st1;
  assert_int_equal(goro_stats(&st0, sizeof st0), 0);
  ASSERT_EQ(write(to_child[1], "g", 1), 1);
  /* While they echo, sample the thread count. */
  int threads_max = threads_idle;
  struct pollfd pf = {from_child[0], POLLIN, 0};
  while (poll(&pf, 1, 1) == 0) {
    int t = tu_thread_count();
    if (t > threads_max) threads_max = t;
  }
  ASSERT_EQ(read(from_child[0], &c, 1), 1);
  assert_int_equal(c, 'k');
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  assert_int_equal(goro_wg_wait(e.done), 0);
  GASSERT_OK();
  /* Every server goroutine was parked in goro_read when the requests came:
   * the poller made each ready at least once. */
  assert_int_equal(goro_stats(&st1, sizeof st1), 0);
  ASSERT_CMP(st1.netpoll_wakeups - st0.netpoll_wakeups, >=, (uint64_t)n);
  /* The test thread, one M per P, the M blocked in the poller, sysmon, and
   * a spare: "maxprocs plus a few", never one per connection. */
  fprintf(stderr, "echo: %d connections, procs=%d, threads with all parked %d, max %d\n", n, procs,
          threads_idle, threads_max);
  ASSERT_CMP(threads_max, <=, procs + 5);
  close(to_child[1]);
  close(from_child[0]);
  close(e.lfd);
  assert_int_equal(goro_wg_free(e.done), 0);
  tu_settle(0);
  TU_WATCHDOG(0);
}

/* ------------------------------------------------------------------------- */
/* Deadlines                                                                  */
/* ------------------------------------------------------------------------- */

/* One blocked call run by a goroutine (or thread); rc starts at 1 ("still
 * blocked"). rc and elapsed are atomics: the test thread peeks at them while
 * the call may still be running. */
typedef struct waitres {
  int fd;
  int64_t deadline;
  _Atomic int64_t rc;
  _Atomic int64_t elapsed;
  _Atomic int64_t end; /* goro_now() when the call returned */
  _Atomic int tid;     /* a thread running the call: its tid */
  goro_wg_t *wg;
} waitres_t;

static void wr_set(waitres_t *w, int fd, int64_t deadline, goro_wg_t *wg) {
  w->fd = fd;
  w->deadline = deadline;
  atomic_store(&w->rc, 1);
  atomic_store(&w->elapsed, 0);
  w->wg = wg;
}

static void g_read_until(void *arg) {
  waitres_t *w = arg;
  char b[16];
  int64_t t0 = goro_now();
  w->rc = goro_read(w->fd, b, sizeof b, w->deadline);
  w->end = goro_now();
  w->elapsed = w->end - t0;
  goro_wg_done(w->wg);
}

static void g_fd_wait_until(void *arg) {
  waitres_t *w = arg;
  int64_t t0 = goro_now();
  w->rc = goro_fd_wait(w->fd, GORO_POLLIN, w->deadline);
  w->end = goro_now();
  w->elapsed = w->end - t0;
  goro_wg_done(w->wg);
}

static void test_deadline(void **state) {
  (void)state;
  TU_WATCHDOG(20);
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  goro_wg_t *wg;
  assert_int_equal(goro_wg_new(&wg), 0);
  waitres_t w[2];
  for (int i = 0; i < 2; i++) wr_set(&w[i], sv[0], deadline_in(50 * TU_MS), wg);
  assert_int_equal(goro_wg_add(wg, 2), 0);
  assert_int_equal(goro_go(g_read_until, &w[0]), 0);
  assert_int_equal(goro_go(g_fd_wait_until, &w[1]), 0);
  assert_int_equal(goro_wg_wait(wg), 0);
  for (int i = 0; i < 2; i++) {
    ASSERT_EQ(w[i].rc, -ETIMEDOUT);
    ASSERT_CMP(w[i].end, >=, w[i].deadline);
    ASSERT_CMP(w[i].elapsed, <, 5000 * TU_MS);
  }
  /* A deadline already past: an fd that is not ready times out at once... */
  w[0].deadline = goro_now() - 1;
  assert_int_equal(goro_wg_add(wg, 1), 0);
  assert_int_equal(goro_go(g_read_until, &w[0]), 0);
  assert_int_equal(goro_wg_wait(wg), 0);
  ASSERT_EQ(w[0].rc, -ETIMEDOUT);
  /* ...but a ready one still succeeds: the call would not have to wait. */
  assert_int_equal(write(sv[1], "x", 1), 1);
  assert_int_equal(goro_wg_add(wg, 1), 0);
  assert_int_equal(goro_go(g_read_until, &w[0]), 0);
  assert_int_equal(goro_wg_wait(wg), 0);
  ASSERT_EQ(w[0].rc, 1);
  /* Plain thread: ppoll with the deadline. */
  char b[4];
  int64_t t0 = goro_now();
  ASSERT_EQ(goro_read(sv[0], b, sizeof b, deadline_in(30 * TU_MS)), -ETIMEDOUT);
  ASSERT_CMP(goro_now() - t0, >=, 25 * TU_MS);
  ASSERT_EQ(goro_fd_wait(sv[0], GORO_POLLIN, goro_now()), -ETIMEDOUT);
  ASSERT_EQ(goro_fd_wait(sv[0], GORO_POLLOUT, goro_now()), GORO_POLLOUT);
  goro_close(sv[0]);
  goro_close(sv[1]);
  assert_int_equal(goro_wg_free(wg), 0);
  tu_settle(0);
}

/* A goroutine parked on an fd with no deadline leaves the idle M blocked in
 * epoll with no timeout; a timer set afterwards must still wake it on time. */
static void g_sleep_20ms(void *arg) {
  waitres_t *w = arg;
  int64_t t0 = goro_now();
  goro_sleep(20 * TU_MS);
  w->end = goro_now();
  w->elapsed = w->end - t0;
  goro_wg_done(w->wg);
}

static void test_timer_wakes_parked_poller(void **state) {
  (void)state;
  TU_WATCHDOG(20);
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  goro_wg_t *wg, *wg2;
  assert_int_equal(goro_wg_new(&wg), 0);
  assert_int_equal(goro_wg_new(&wg2), 0);
  waitres_t rd, sl;
  wr_set(&rd, sv[0], GORO_NO_DEADLINE, wg);
  assert_int_equal(goro_wg_add(wg, 1), 0);
  assert_int_equal(goro_go(g_read_until, &rd), 0);
  for (int i = 0; i < 5; i++) {
    tu_sleep_ms(30); /* everything idle: one M sleeps in epoll_pwait2 with no timeout */
    wr_set(&sl, -1, 0, wg2);
    assert_int_equal(goro_wg_add(wg2, 1), 0);
    assert_int_equal(goro_go(g_sleep_20ms, &sl), 0);
    assert_int_equal(goro_wg_wait(wg2), 0);
    ASSERT_CMP(sl.elapsed, >=, 20 * TU_MS);
    ASSERT_CMP(sl.elapsed, <, 1000 * TU_MS);
  }
  ASSERT_EQ(rd.rc, 1); /* the reader is still parked */
  assert_int_equal(write(sv[1], "hello", 5), 5);
  assert_int_equal(goro_wg_wait(wg), 0);
  ASSERT_EQ(rd.rc, 5);
  goro_close(sv[0]);
  goro_close(sv[1]);
  assert_int_equal(goro_wg_free(wg), 0);
  assert_int_equal(goro_wg_free(wg2), 0);
  tu_settle(0);
}

/* ------------------------------------------------------------------------- */
/* goro_close wakes waiters                                                   */
/* ------------------------------------------------------------------------- */

static void g_accept_until(void *arg) {
  waitres_t *w = arg;
  int64_t t0 = goro_now();
  w->rc = goro_accept(w->fd, NULL, NULL, w->deadline);
  w->end = goro_now();
  w->elapsed = w->end - t0;
  goro_wg_done(w->wg);
}

static void g_write_forever(void *arg) {
  waitres_t *w = arg;
  static char big[1 << 20];
  /* Fills the socket buffer, then parks for room. */
  w->rc = goro_write(w->fd, big, sizeof big, GORO_NO_DEADLINE);
  goro_wg_done(w->wg);
}

typedef struct closer {
  int fd;
  int delay_ms;
} closer_t;

static void *thread_close_later(void *arg) {
  closer_t *c = arg;
  tu_sleep_ms(c->delay_ms);
  GCHECK_CMP(goro_close(c->fd), ==, 0);
  return NULL;
}

static void *thread_read(void *arg) {
  waitres_t *w = arg;
  w->tid = tu_gettid();
  char b[8];
  w->rc = goro_read(w->fd, b, sizeof b, w->deadline);
  return NULL;
}

static void g_close_later(void *arg) {
  closer_t *c = arg;
  goro_sleep(c->delay_ms * TU_MS);
  GCHECK_CMP(goro_close(c->fd), ==, 0);
}

static void test_close_wakes_waiters(void **state) {
  (void)state;
  TU_WATCHDOG(20);
  goro_wg_t *wg;
  assert_int_equal(goro_wg_new(&wg), 0);

  /* Reader, fd_wait-er, writer and acceptor goroutines, closed from a plain thread. */
  int sv[2], wv[2], lfd;
  open_wait_fds(sv, wv, &lfd);
  waitres_t w[4];
  wr_set(&w[0], sv[0], GORO_NO_DEADLINE, wg);
  wr_set(&w[1], sv[0], GORO_NO_DEADLINE, wg);
  wr_set(&w[2], wv[0], GORO_NO_DEADLINE, wg);
  wr_set(&w[3], lfd, GORO_NO_DEADLINE, wg);
  assert_int_equal(goro_wg_add(wg, 4), 0);
  assert_int_equal(goro_go(g_read_until, &w[0]), 0);
  assert_int_equal(goro_go(g_fd_wait_until, &w[1]), 0);
  assert_int_equal(goro_go(g_write_forever, &w[2]), 0);
  assert_int_equal(goro_go(g_accept_until, &w[3]), 0);
  wait_quiescent();
  for (int i = 0; i < 4; i++) ASSERT_EQ(w[i].rc, 1); /* all still parked */
  pthread_t th;
  closer_t c1 = {sv[0], 0}, c2 = {wv[0], 0}, c3 = {lfd, 0};
  assert_int_equal(pthread_create(&th, NULL, thread_close_later, &c1), 0);
  pthread_join(th, NULL);
  assert_int_equal(pthread_create(&th, NULL, thread_close_later, &c2), 0);
  pthread_join(th, NULL);
  assert_int_equal(pthread_create(&th, NULL, thread_close_later, &c3), 0);
  pthread_join(th, NULL);
  assert_int_equal(goro_wg_wait(wg), 0);
  ASSERT_EQ(w[0].rc, -EBADF);
  ASSERT_EQ(w[1].rc, -EBADF);
  /* The writer had put some bytes out before it parked: it reports them. */
  ASSERT_CMP(w[2].rc, >, 0);
  ASSERT_CMP(w[2].rc, <, 1 << 20);
  ASSERT_EQ(w[3].rc, -EBADF);
  GASSERT_OK();
  /* A second close of the same fd is a double close. */
  ASSERT_EQ(goro_close(sv[0]), -EBADF);
  goro_close(sv[1]);
  goro_close(wv[1]);

  /* A goroutine closes while another goroutine waits. */
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  wr_set(&w[0], sv[0], GORO_NO_DEADLINE, wg);
  closer_t cg = {sv[0], 20};
  assert_int_equal(goro_wg_add(wg, 1), 0);
  assert_int_equal(goro_go(g_read_until, &w[0]), 0);
  assert_int_equal(goro_go(g_close_later, &cg), 0);
  assert_int_equal(goro_wg_wait(wg), 0);
  ASSERT_EQ(w[0].rc, -EBADF);
  GASSERT_OK();
  goro_close(sv[1]);

  /* A plain thread blocked in goro_read is woken by goro_close too. */
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  wr_set(&w[0], sv[0], deadline_in(10 * GORO_SEC), NULL);
  w[0].tid = 0;
  assert_int_equal(pthread_create(&th, NULL, thread_read, &w[0]), 0);
  while (w[0].tid == 0) tu_sleep_ms(1);
  wait_in_syscall(w[0].tid, SYS_ppoll);
  ASSERT_EQ(w[0].rc, 1);
  int64_t t0 = tu_now_ns();
  assert_int_equal(goro_close(sv[0]), 0);
  pthread_join(th, NULL);
  ASSERT_EQ(w[0].rc, -EBADF);
  ASSERT_CMP(tu_now_ns() - t0, <, 5000 * TU_MS);
  goro_close(sv[1]);

  assert_int_equal(goro_wg_free(wg), 0);
  tu_settle(0);
}

/* ------------------------------------------------------------------------- */
/* EMFILE                                                                     */
/* ------------------------------------------------------------------------- */

typedef struct fillers {
  int fd[1024];
  int n;
} fillers_t;

/* fill_fds() uses up every fd below a soft limit of `limit`. */
static int fill_fds(fillers_t *f, struct rlimit *saved, rlim_t limit) {
  if (getrlimit(RLIMIT_NOFILE, saved) != 0) return -1;
  struct rlimit rl = *saved;
  rl.rlim_cur = limit;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
  f->n = 0;
  while (f->n < (int)(sizeof f->fd / sizeof f->fd[0])) {
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) break;
    f->fd[f->n++] = fd;
  }
  return errno == EMFILE ? 0 : -1;
}

static void unfill_fds(fillers_t *f, const struct rlimit *saved) {
  for (int i = 0; i < f->n; i++) close(f->fd[i]);
  f->n = 0;
  setrlimit(RLIMIT_NOFILE, saved);
}

static int connect_pending(int port) {
  int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c < 0) return -1;
  struct sockaddr_in a = loopback_addr(port);
  int r = connect(c, (struct sockaddr *)&a, sizeof a);
  if (r != 0 && errno != EINPROGRESS) {
    close(c);
    return -1;
  }
  return c;
}

static void test_emfile_does_not_spin(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  goro_wg_t *wg;
  assert_int_equal(goro_wg_new(&wg), 0);
  int port;
  int lfd = listen_loopback(&port);
  assert_true(lfd >= 0);
  int c1 = connect_pending(port), c2 = connect_pending(port);
  assert_true(c1 >= 0 && c2 >= 0);
  tu_sleep_ms(10); /* the handshakes complete; both wait in the accept queue */

  fillers_t *f = malloc(sizeof *f);
  struct rlimit saved;
  assert_int_equal(fill_fds(f, &saved, 256), 0);

  /* 1. EMFILE persists for 400 ms: the acceptor backs off instead of
   *    spinning, and reports -EMFILE at its deadline. */
  const int64_t wait = 400 * TU_MS;
  waitres_t w;
  wr_set(&w, lfd, 0, wg);
  int64_t cpu0 = tu_cpu_ns(), t0 = tu_now_ns();
  w.deadline = deadline_in(wait);
  assert_int_equal(goro_wg_add(wg, 1), 0);
  assert_int_equal(goro_go(g_accept_until, &w), 0);
  assert_int_equal(goro_wg_wait(wg), 0);
  int64_t cpu = tu_cpu_ns() - cpu0, wall = tu_now_ns() - t0;
  fprintf(stderr, "EMFILE: accept gave %lld after %lld ms wall, %lld ms CPU\n", (long long)w.rc,
          (long long)(wall / TU_MS), (long long)(cpu / TU_MS));
  ASSERT_EQ(w.rc, -EMFILE);
  ASSERT_CMP(wall, >=, wait - 5 * TU_MS);
  /* Spinning would burn about one CPU for the whole wait. */
  ASSERT_CMP(cpu, <, wait / 4);

  /* 2. fds free up while the acceptor backs off: it accepts. */
  wr_set(&w, lfd, GORO_NO_DEADLINE, wg);
  assert_int_equal(goro_wg_add(wg, 1), 0);
  assert_int_equal(goro_go(g_accept_until, &w), 0);
  tu_sleep_ms(50);
  ASSERT_EQ(w.rc, 1);
  close(f->fd[--f->n]);
  assert_int_equal(goro_wg_wait(wg), 0);
  ASSERT_CMP(w.rc, >=, 0);
  assert_int_equal(goro_close((int)w.rc), 0);
  /* Out of fds again for step 3. */
  f->fd[f->n] = open("/dev/null", O_RDONLY | O_CLOEXEC);
  assert_true(f->fd[f->n++] >= 0);
  ASSERT_EQ(open("/dev/null", O_RDONLY | O_CLOEXEC), -1);

  /* 3. goro_close interrupts the back-off. */
  wr_set(&w, lfd, GORO_NO_DEADLINE, wg);
  assert_int_equal(goro_wg_add(wg, 1), 0);
  assert_int_equal(goro_go(g_accept_until, &w), 0);
  tu_sleep_ms(50);
  wait_quiescent();
  ASSERT_EQ(w.rc, 1);
  assert_int_equal(goro_close(lfd), 0);
  assert_int_equal(goro_wg_wait(wg), 0);
  ASSERT_EQ(w.rc, -EBADF);

  unfill_fds(f, &saved);
  free(f);
  close(c1);
  close(c2);
  assert_int_equal(goro_wg_free(wg), 0);
  tu_settle(0);
}

/* ------------------------------------------------------------------------- */
/* Close and reuse of an fd number                                            */
/* ------------------------------------------------------------------------- */

static void test_fd_reuse_no_misdelivery(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  goro_wg_t *wg;
  assert_int_equal(goro_wg_new(&wg), 0);
  for (int round = 0; round < TU_SCALE(50, 20, 10); round++) {
    int a[2], b[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a), 0);
    int num = a[0];
    /* A goroutine waits on the old file; a dup keeps that file alive (and
     * able to produce events) after its number is closed. */
    waitres_t w;
    wr_set(&w, num, GORO_NO_DEADLINE, wg);
    assert_int_equal(goro_wg_add(wg, 1), 0);
    assert_int_equal(goro_go(g_read_until, &w), 0);
    wait_quiescent(); /* let it park (closing under a running read() is a race) */
    int keep = dup(num);
    assert_true(keep >= 0);
    assert_int_equal(goro_close(num), 0);
    assert_int_equal(goro_wg_wait(wg), 0);
    ASSERT_EQ(w.rc, -EBADF);
    /* The number is reused by a new file. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b), 0);
    int nb = b[0] == num ? b[0] : (b[1] == num ? b[1] : -1);
    assert_true(nb == num);
    int peer = nb == b[0] ? b[1] : b[0];
    /* Data for the old file, still open through the dup: the new file's
     * reader must not see it, and must time out. */
    assert_int_equal(write(a[1], "OLD", 3), 3);
    wr_set(&w, nb, deadline_in(30 * TU_MS), wg);
    assert_int_equal(goro_wg_add(wg, 1), 0);
    assert_int_equal(goro_go(g_read_until, &w), 0);
    assert_int_equal(goro_wg_wait(wg), 0);
    ASSERT_EQ(w.rc, -ETIMEDOUT);
    /* Data for the new file reaches the new file's reader. */
    wr_set(&w, nb, deadline_in(5 * GORO_SEC), wg);
    assert_int_equal(goro_wg_add(wg, 1), 0);
    assert_int_equal(goro_go(g_read_until, &w), 0);
    tu_sleep_ms(2);
    assert_int_equal(write(peer, "new!", 4), 4);
    assert_int_equal(goro_wg_wait(wg), 0);
    ASSERT_EQ(w.rc, 4);
    goro_close(nb);
    goro_close(peer);
    close(keep);
    close(a[1]);
  }
  GASSERT_OK();
  assert_int_equal(goro_wg_free(wg), 0);
  tu_settle(0);
}

/* ------------------------------------------------------------------------- */
/* Several acceptors on one listener, connect, recv/send                      */
/* ------------------------------------------------------------------------- */

typedef struct multi {
  int lfd;
  int port;
  atomic_int accepted;
  int want;
  goro_wg_t *wg;
} multi_t;

static void g_multi_accept(void *arg) {
  multi_t *m = arg;
  for (;;) {
    int fd = goro_accept(m->lfd, NULL, NULL, deadline_in(10 * GORO_SEC));
    if (fd == -EBADF) break; /* the listener was closed: done */
    GCHECK(fd >= 0);
    if (fd < 0) break;
    char b[4];
    GCHECK_CMP(goro_recv(fd, b, 4, MSG_WAITALL, deadline_in(10 * GORO_SEC)), ==, 4);
    GCHECK_CMP(goro_send(fd, b, 4, 0, deadline_in(10 * GORO_SEC)), ==, 4);
    goro_close(fd);
    atomic_fetch_add(&m->accepted, 1);
  }
  goro_wg_done(m->wg);
}

static void g_dial(void *arg) {
  multi_t *m = arg;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = loopback_addr(m->port);
  GCHECK_CMP(goro_connect(fd, (struct sockaddr *)&a, sizeof a, deadline_in(10 * GORO_SEC)), ==, 0);
  GCHECK_CMP(goro_send(fd, "ping", 4, 0, deadline_in(10 * GORO_SEC)), ==, 4);
  char b[4];
  GCHECK_CMP(goro_recv(fd, b, 4, MSG_WAITALL, deadline_in(10 * GORO_SEC)), ==, 4);
  GCHECK(memcmp(b, "ping", 4) == 0);
  goro_close(fd);
}

static void test_many_acceptors(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  multi_t m;
  memset(&m, 0, sizeof m);
  m.want = TU_SCALE(400, 200, 100);
  m.lfd = listen_loopback(&m.port);
  assert_true(m.lfd >= 0);
  assert_int_equal(goro_wg_new(&m.wg), 0);
  assert_int_equal(goro_wg_add(m.wg, 4), 0);
  for (int i = 0; i < 4; i++) assert_int_equal(goro_go(g_multi_accept, &m), 0);
  for (int i = 0; i < m.want; i++) assert_int_equal(goro_go(g_dial, &m), 0);
  int64_t end = tu_now_ns() + 20000 * TU_MS;
  while (atomic_load(&m.accepted) < m.want && tu_now_ns() < end) tu_sleep_ms(1);
  ASSERT_EQ(atomic_load(&m.accepted), m.want);
  wait_quiescent();
  assert_int_equal(goro_close(m.lfd), 0); /* wakes the four acceptors */
  assert_int_equal(goro_wg_wait(m.wg), 0);
  GASSERT_OK();
  assert_int_equal(goro_wg_free(m.wg), 0);
  tu_settle(0);
}

static void g_connect_refused(void *arg) {
  waitres_t *w = arg;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = loopback_addr(w->fd);
  w->rc = goro_connect(fd, (struct sockaddr *)&a, sizeof a, deadline_in(5 * GORO_SEC));
  goro_close(fd);
  goro_wg_done(w->wg);
}

static void test_connect_errors(void **state) {
  (void)state;
  TU_WATCHDOG(20);
  /* A port nobody listens on: take one, then close it. */
  int port;
  int lfd = listen_loopback(&port);
  assert_true(lfd >= 0);
  close(lfd);
  goro_wg_t *wg;
  assert_int_equal(goro_wg_new(&wg), 0);
  waitres_t w;
  wr_set(&w, port, 0, wg);
  assert_int_equal(goro_wg_add(wg, 1), 0);
  assert_int_equal(goro_go(g_connect_refused, &w), 0);
  assert_int_equal(goro_wg_wait(wg), 0);
  ASSERT_EQ(w.rc, -ECONNREFUSED);
  /* The same from a plain thread. */
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = loopback_addr(port);
  ASSERT_EQ(goro_connect(fd, (struct sockaddr *)&a, sizeof a, deadline_in(5 * GORO_SEC)),
            -ECONNREFUSED);
  goro_close(fd);
  assert_int_equal(goro_wg_free(wg), 0);
  tu_settle(0);
}

/* ------------------------------------------------------------------------- */
/* Plain threads                                                              */
/* ------------------------------------------------------------------------- */

typedef struct pipeio {
  int fd;
  size_t n;
  int64_t got;
  goro_wg_t *wg;
} pipeio_t;

static void g_slow_reader(void *arg) {
  pipeio_t *p = arg;
  char *buf = malloc(65536);
  size_t total = 0;
  for (;;) {
    ssize_t r = goro_read(p->fd, buf, 65536, deadline_in(20 * GORO_SEC));
    if (r <= 0) {
      GCHECK_CMP(r, ==, 0);
      break;
    }
    for (ssize_t i = 0; i < r; i++)
      GCHECK((unsigned char)buf[i] == (unsigned char)((total + (size_t)i) * 7));
    total += (size_t)r;
    if ((total & 0xfffff) < (size_t)r) goro_sleep(TU_MS); /* be slow now and then */
  }
  p->got = (int64_t)total;
  free(buf);
  goro_wg_done(p->wg);
}

static void test_plain_thread(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  /* A plain thread writes 8 MiB to a goroutine through a pipe: goro_write
   * writes all of it, blocking in ppoll whenever the pipe is full. */
  int pv[2];
  assert_int_equal(pipe2(pv, O_CLOEXEC), 0);
  goro_wg_t *wg;
  assert_int_equal(goro_wg_new(&wg), 0);
  const size_t n = 8u << 20;
  unsigned char *data = malloc(n);
  for (size_t i = 0; i < n; i++) data[i] = (unsigned char)(i * 7);
  pipeio_t p = {pv[0], n, 0, wg};
  assert_int_equal(goro_wg_add(wg, 1), 0);
  assert_int_equal(goro_go(g_slow_reader, &p), 0);
  ASSERT_EQ(goro_write(pv[1], data, n, deadline_in(20 * GORO_SEC)), (ssize_t)n);
  assert_true(fcntl(pv[1], F_GETFL) & O_NONBLOCK); /* set on first use */
  assert_int_equal(goro_close(pv[1]), 0);
  assert_int_equal(goro_wg_wait(wg), 0);
  ASSERT_EQ(p.got, (int64_t)n);
  GASSERT_OK();
  goro_close(pv[0]);
  free(data);

  /* accept + connect + read from a plain thread, served by a goroutine. */
  multi_t m;
  memset(&m, 0, sizeof m);
  m.lfd = listen_loopback(&m.port);
  m.wg = wg;
  assert_int_equal(goro_wg_add(wg, 1), 0);
  assert_int_equal(goro_go(g_multi_accept, &m), 0);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = loopback_addr(m.port);
  ASSERT_EQ(goro_connect(fd, (struct sockaddr *)&a, sizeof a, deadline_in(5 * GORO_SEC)), 0);
  ASSERT_EQ(goro_send(fd, "abcd", 4, 0, GORO_NO_DEADLINE), 4);
  char b[4];
  ASSERT_EQ(goro_recv(fd, b, 4, MSG_WAITALL, deadline_in(5 * GORO_SEC)), 4);
  assert_memory_equal(b, "abcd", 4);
  ASSERT_EQ(goro_read(fd, b, 4, deadline_in(5 * GORO_SEC)), 0); /* server closed: EOF */
  goro_close(fd);
  goro_close(m.lfd);
  assert_int_equal(goro_wg_wait(wg), 0);
  GASSERT_OK();
  assert_int_equal(goro_wg_free(wg), 0);
  tu_settle(0);
}

/* ------------------------------------------------------------------------- */
/* Contexts                                                                   */
/* ------------------------------------------------------------------------- */

typedef struct ctxwait {
  int fd;
  int op; /* 0 read, 1 fd_wait, 2 accept, 3 write (fills the buffer first) */
  goro_ctx_t *ctx;
  _Atomic int64_t rc;
  goro_wg_t *wg;
} ctxwait_t;

static int64_t ctx_op(ctxwait_t *c) {
  static char big[1 << 20];
  char b[8];
  switch (c->op) {
    case 0:
      return goro_read_ctx(c->fd, b, sizeof b, c->ctx);
    case 1:
      return goro_fd_wait_ctx(c->fd, GORO_POLLIN, c->ctx);
    case 2:
      return goro_accept_ctx(c->fd, NULL, NULL, c->ctx);
    default:
      return goro_write_ctx(c->fd, big, sizeof big, c->ctx);
  }
}

static void g_ctx_op(void *arg) {
  ctxwait_t *c = arg;
  c->rc = ctx_op(c);
  goro_wg_done(c->wg);
}

static void *thread_ctx_op(void *arg) {
  ctxwait_t *c = arg;
  c->rc = ctx_op(c);
  return NULL;
}

static void test_ctx_cancel(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  goro_wg_t *wg;
  assert_int_equal(goro_wg_new(&wg), 0);
  int sv[2], wv[2], lfd;
  open_wait_fds(sv, wv, &lfd);
  char b[8];
  ASSERT_EQ(goro_read_ctx(sv[0], b, 1, NULL), -EINVAL);
  ASSERT_EQ(goro_fd_wait_ctx(sv[0], GORO_POLLIN, NULL), -EINVAL);

  /* Goroutines parked in read, fd_wait, accept and write wake at cancel. */
  goro_ctx_t *ctx;
  assert_int_equal(goro_ctx_with_cancel(goro_ctx_background(), &ctx), 0);
  ctxwait_t c[4] = {
      {sv[0], 0, ctx, 1, wg}, {sv[0], 1, ctx, 1, wg}, {lfd, 2, ctx, 1, wg}, {wv[0], 3, ctx, 1, wg}};
  assert_int_equal(goro_wg_add(wg, 4), 0);
  for (int i = 0; i < 4; i++) assert_int_equal(goro_go(g_ctx_op, &c[i]), 0);
  wait_quiescent();
  for (int i = 0; i < 3; i++) ASSERT_EQ(c[i].rc, 1);
  assert_int_equal(goro_ctx_cancel(ctx), 0);
  assert_int_equal(goro_wg_wait(wg), 0);
  for (int i = 0; i < 3; i++) ASSERT_EQ(c[i].rc, -ECANCELED);
  /* The writer had sent part of its megabyte: it reports that. */
  ASSERT_CMP(c[3].rc, >, 0);
  ASSERT_CMP(c[3].rc, <, 1 << 20);
  /* A cancelled context still lets a call through that needs no wait. */
  assert_int_equal(write(sv[1], "x", 1), 1);
  ASSERT_EQ(goro_read_ctx(sv[0], b, sizeof b, ctx), 1);
  ASSERT_EQ(goro_read_ctx(sv[0], b, sizeof b, ctx), -ECANCELED);
  goro_ctx_release(ctx);

  /* A context deadline: -ETIMEDOUT, in a goroutine and on a plain thread. */
  assert_int_equal(goro_ctx_with_timeout(goro_ctx_background(), 30 * TU_MS, &ctx), 0);
  ctxwait_t d = {sv[0], 1, ctx, 1, wg};
  assert_int_equal(goro_wg_add(wg, 1), 0);
  assert_int_equal(goro_go(g_ctx_op, &d), 0);
  assert_int_equal(goro_wg_wait(wg), 0);
  ASSERT_EQ(d.rc, -ETIMEDOUT);
  ASSERT_EQ(goro_read_ctx(sv[0], b, sizeof b, ctx), -ETIMEDOUT);
  goro_ctx_release(ctx);

  /* A plain thread blocked in goro_read_ctx notices the cancel (within a
   * 10 ms slice). */
  assert_int_equal(goro_ctx_with_cancel(goro_ctx_background(), &ctx), 0);
  ctxwait_t t = {sv[0], 0, ctx, 1, NULL};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, thread_ctx_op, &t), 0);
  tu_sleep_ms(30);
  ASSERT_EQ(t.rc, 1);
  assert_int_equal(goro_ctx_cancel(ctx), 0);
  pthread_join(th, NULL);
  ASSERT_EQ(t.rc, -ECANCELED);
  goro_ctx_release(ctx);

  goro_close(sv[0]);
  goro_close(sv[1]);
  goro_close(wv[0]);
  goro_close(wv[1]);
  goro_close(lfd);
  assert_int_equal(goro_wg_free(wg), 0);
  tu_settle(0);
}

/* ------------------------------------------------------------------------- */
/* Bad input                                                                  */
/* ------------------------------------------------------------------------- */

static void bad_inputs(void) {
  char b[8];
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  ASSERT_EQ(goro_read(-1, b, 1, GORO_NO_DEADLINE), -EBADF);
  ASSERT_EQ(goro_write(-5, b, 1, GORO_NO_DEADLINE), -EBADF);
  ASSERT_EQ(goro_recv(-1, b, 1, 0, GORO_NO_DEADLINE), -EBADF);
  ASSERT_EQ(goro_send(-1, b, 1, 0, GORO_NO_DEADLINE), -EBADF);
  ASSERT_EQ(goro_accept(-1, NULL, NULL, GORO_NO_DEADLINE), -EBADF);
  ASSERT_EQ(goro_fd_wait(-1, GORO_POLLIN, GORO_NO_DEADLINE), -EBADF);
  ASSERT_EQ(goro_close(-1), -EBADF);
  ASSERT_EQ(goro_read(sv[0], NULL, 1, GORO_NO_DEADLINE), -EINVAL);
  ASSERT_EQ(goro_write(sv[0], NULL, 1, GORO_NO_DEADLINE), -EINVAL);
  ASSERT_EQ(goro_read(sv[0], b, SIZE_MAX, GORO_NO_DEADLINE), -EINVAL);
  ASSERT_EQ(goro_write(sv[0], b, (size_t)SSIZE_MAX + 1, GORO_NO_DEADLINE), -EINVAL);
  ASSERT_EQ(goro_read(sv[0], NULL, 0, GORO_NO_DEADLINE), 0); /* n == 0 */
  ASSERT_EQ(goro_write(sv[0], NULL, 0, GORO_NO_DEADLINE), 0);
  ASSERT_EQ(goro_fd_wait(sv[0], 0, GORO_NO_DEADLINE), -EINVAL);
  ASSERT_EQ(goro_fd_wait(sv[0], 0x100, GORO_NO_DEADLINE), -EINVAL);
  ASSERT_EQ(goro_fd_wait(sv[0], GORO_POLLERR, GORO_NO_DEADLINE), -EINVAL);
  /* Numbers that are not open fds, small and huge. */
  int closed = dup(sv[0]);
  close(closed);
  ASSERT_EQ(goro_read(closed, b, 1, GORO_NO_DEADLINE), -EBADF);
  ASSERT_EQ(goro_fd_wait(closed, GORO_POLLIN, deadline_in(10 * TU_MS)), -EBADF);
  ASSERT_EQ(goro_read(1 << 30, b, 1, GORO_NO_DEADLINE), -EBADF);
  ASSERT_EQ(goro_fd_wait(INT_MAX, GORO_POLLIN, GORO_NO_DEADLINE), -EBADF);
  ASSERT_EQ(goro_close(closed), -EBADF);
  /* Socket calls on things that are not (listening) sockets. */
  int pv[2];
  assert_int_equal(pipe2(pv, O_CLOEXEC), 0);
  ASSERT_EQ(goro_accept(pv[0], NULL, NULL, GORO_NO_DEADLINE), -ENOTSOCK);
  ASSERT_EQ(goro_accept(sv[0], NULL, NULL, GORO_NO_DEADLINE), -EINVAL);
  ASSERT_EQ(goro_recv(pv[0], b, 1, 0, GORO_NO_DEADLINE), -ENOTSOCK);
  struct sockaddr_in a = loopback_addr(1);
  socklen_t al = sizeof a;
  ASSERT_EQ(goro_accept(sv[0], (struct sockaddr *)&a, NULL, GORO_NO_DEADLINE), -EINVAL);
  (void)al;
  ASSERT_EQ(goro_connect(sv[0], NULL, 16, GORO_NO_DEADLINE), -EINVAL);
  ASSERT_EQ(goro_connect(sv[0], (struct sockaddr *)&a, 0, GORO_NO_DEADLINE), -EINVAL);
  ASSERT_EQ(goro_connect(pv[0], (struct sockaddr *)&a, sizeof a, GORO_NO_DEADLINE), -ENOTSOCK);
  /* A regular file is always ready. */
  int rf = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  assert_true(rf >= 0);
  ASSERT_EQ(goro_fd_wait(rf, GORO_POLLIN, GORO_NO_DEADLINE), GORO_POLLIN);
  ASSERT_CMP(goro_read(rf, b, sizeof b, GORO_NO_DEADLINE), >, 0);
  assert_int_equal(goro_close(rf), 0);
  /* Writing to a socket whose peer is gone: -EPIPE, and no SIGPIPE kills us. */
  assert_int_equal(goro_close(sv[1]), 0);
  ASSERT_EQ(goro_write(sv[0], "x", 1, GORO_NO_DEADLINE), -EPIPE);
  ASSERT_EQ(goro_send(sv[0], "x", 1, 0, GORO_NO_DEADLINE), -EPIPE);
  /* EOF after the peer closed. */
  ASSERT_EQ(goro_read(sv[0], b, sizeof b, GORO_NO_DEADLINE), 0);
  ASSERT_CMP(goro_fd_wait(sv[0], GORO_POLLIN, GORO_NO_DEADLINE) & GORO_POLLIN, !=, 0);
  /* MSG_DONTWAIT never waits. */
  int sp[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
  ASSERT_EQ(goro_recv(sp[0], b, 1, MSG_DONTWAIT, GORO_NO_DEADLINE), -EAGAIN);
  goro_close(sp[0]);
  goro_close(sp[1]);
  goro_close(sv[0]);
  goro_close(pv[0]);
  goro_close(pv[1]);
}

typedef struct gbad {
  goro_wg_t *wg;
  int done;
} gbad_t;

static void g_bad_inputs_probe(void *arg) {
  gbad_t *g = arg;
  char b[4];
  GCHECK_CMP(goro_read(-1, b, 1, GORO_NO_DEADLINE), ==, -EBADF);
  GCHECK_CMP(goro_read(3, NULL, 1, GORO_NO_DEADLINE), ==, -EINVAL);
  GCHECK_CMP(goro_fd_wait(1 << 30, GORO_POLLIN, GORO_NO_DEADLINE), ==, -EBADF);
  int closed = dup(0);
  close(closed);
  GCHECK_CMP(goro_fd_wait(closed, GORO_POLLIN, GORO_NO_DEADLINE), ==, -EBADF);
  g->done = 1;
  goro_wg_done(g->wg);
}

static void test_bad_inputs(void **state) {
  (void)state;
  TU_WATCHDOG(20);
  signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill the test */
  bad_inputs();
  gbad_t g = {NULL, 0};
  assert_int_equal(goro_wg_new(&g.wg), 0);
  assert_int_equal(goro_wg_add(g.wg, 1), 0);
  assert_int_equal(goro_go(g_bad_inputs_probe, &g), 0);
  assert_int_equal(goro_wg_wait(g.wg), 0);
  assert_int_equal(g.done, 1);
  GASSERT_OK();
  assert_int_equal(goro_wg_free(g.wg), 0);
  tu_settle(0);
}

/* After goro_shutdown (and before any goro_init) the calls still work on
 * plain threads: they need no runtime. A goroutine parked on an fd at
 * shutdown is abandoned and its fd state dropped; the fd works afterwards. */
static void g_park_forever(void *arg) {
  char b[1];
  (void)goro_read(*(int *)arg, b, 1, GORO_NO_DEADLINE);
}

static void test_after_shutdown(void **state) {
  (void)state;
  TU_WATCHDOG(20);
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  assert_int_equal(tu_init_procs(2), 0);
  assert_int_equal(goro_go(g_park_forever, &sv[0]), 0);
  tu_sleep_ms(20);
  ASSERT_EQ(goro_shutdown(), 1); /* the parked reader is abandoned */
  bad_inputs();
  char b[8];
  ASSERT_EQ(goro_read(sv[0], b, sizeof b, deadline_in(20 * TU_MS)), -ETIMEDOUT);
  ASSERT_EQ(goro_write(sv[1], "after", 5, GORO_NO_DEADLINE), 5);
  ASSERT_EQ(goro_read(sv[0], b, sizeof b, GORO_NO_DEADLINE), 5);
  /* A restarted runtime registers the fd afresh. */
  assert_int_equal(tu_init_procs(2), 0);
  goro_wg_t *wg;
  assert_int_equal(goro_wg_new(&wg), 0);
  waitres_t w;
  wr_set(&w, sv[0], deadline_in(5 * GORO_SEC), wg);
  assert_int_equal(goro_wg_add(wg, 1), 0);
  assert_int_equal(goro_go(g_read_until, &w), 0);
  tu_sleep_ms(10);
  ASSERT_EQ(goro_write(sv[1], "again", 5, GORO_NO_DEADLINE), 5);
  assert_int_equal(goro_wg_wait(wg), 0);
  ASSERT_EQ(w.rc, 5);
  assert_int_equal(goro_wg_free(wg), 0);
  tu_settle(0);
  ASSERT_EQ(goro_shutdown(), 0);
  goro_close(sv[0]);
  goro_close(sv[1]);
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "--echo-client") == 0)
    return echo_client_main(atoi(argv[2]), atoi(argv[3]));
  g_argv0 = argv[0];
  tu_apply_filter();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_inputs),
      cmocka_unit_test(test_deadline),
      cmocka_unit_test(test_timer_wakes_parked_poller),
      cmocka_unit_test(test_close_wakes_waiters),
      cmocka_unit_test(test_fd_reuse_no_misdelivery),
      cmocka_unit_test(test_many_acceptors),
      cmocka_unit_test(test_connect_errors),
      cmocka_unit_test(test_plain_thread),
      cmocka_unit_test(test_ctx_cancel),
      cmocka_unit_test(test_emfile_does_not_spin),
      cmocka_unit_test(test_echo_many_connections),
  };
  const struct CMUnitTest solo[] = {
      cmocka_unit_test(test_after_shutdown),
  };
  int rc = cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
  return rc | cmocka_run_group_tests(solo, NULL, NULL);
}
