/* test_chan: channels, select and timers with Go's semantics, run from
 * goroutines at maxprocs 1 and 2, and from plain threads. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#if GORO_TEST_SANITIZER == 2
#define SCALE 10
#else
#define SCALE 1
#endif

/* Failures inside goroutines are recorded and asserted by the test body. */
static atomic_int g_fail;
static char g_fail_msg[256];
#define CHECK(cond)                                                                   \
  do {                                                                                \
    if (!(cond) && atomic_fetch_add(&g_fail, 1) == 0)                                 \
      snprintf(g_fail_msg, sizeof g_fail_msg, "%s:%d: %s", __FILE__, __LINE__, #cond); \
  } while (0)

static void reset_fail(void) { atomic_store(&g_fail, 0); }
static void assert_no_fail(void) {
  if (atomic_load(&g_fail)) fail_msg("%s", g_fail_msg);
}

/* run_at(body): runs body as a goroutine at maxprocs 1 and at 2. */
static void run_at(goro_fn body, void *arg) {
  for (int procs = 1; procs <= 2; procs++) {
    assert_true(goro_maxprocs(procs) >= 1);
    reset_fail();
    assert_int_equal(goro_run(body, arg), 0);
    assert_no_fail();
  }
}

/* ------------------------------------------------------------------------ */

static void test_bad_input(void **state) {
  (void)state;
  goro_chan_t *c;
  int v = 1;
  assert_int_equal(goro_chan_make(NULL, 4, 0), -EINVAL);
  assert_int_equal(goro_chan_make(&c, GORO_CHAN_ELEM_MAX + 1, 0), -EINVAL);
  assert_int_equal(goro_chan_make(&c, 4, (size_t)GORO_CHAN_CAP_MAX + 1), -EINVAL);
  assert_int_equal(goro_chan_send(NULL, &v, -1), -EINVAL);
  assert_int_equal(goro_chan_recv(NULL, &v, -1), -EINVAL);
  assert_int_equal(goro_chan_try_send(NULL, &v), -EINVAL);
  assert_int_equal(goro_chan_try_recv(NULL, &v), -EINVAL);
  assert_int_equal(goro_chan_close(NULL), -EINVAL);
  assert_int_equal(goro_chan_len(NULL), -EINVAL);
  assert_int_equal(goro_chan_cap(NULL), -EINVAL);
  assert_int_equal(goro_chan_retain(NULL), -EINVAL);
  assert_int_equal(goro_chan_release(NULL), 0);
  assert_int_equal(goro_chan_make(&c, sizeof v, 2), 0);
  assert_int_equal(goro_chan_send(c, NULL, -1), -EINVAL); /* elem_size > 0 needs a value */
  assert_int_equal(goro_chan_cap(c), 2);
  assert_int_equal(goro_chan_len(c), 0);
  assert_int_equal(goro_chan_try_recv(c, &v), -EAGAIN);
  assert_int_equal(goro_chan_try_send(c, &v), 0);
  assert_int_equal(goro_chan_try_send(c, &v), 0);
  assert_int_equal(goro_chan_try_send(c, &v), -EAGAIN);
  assert_int_equal(goro_chan_len(c), 2);
  assert_int_equal(goro_chan_close(c), 0);
  assert_int_equal(goro_chan_close(c), -EPIPE); /* double close */
  assert_int_equal(goro_chan_send(c, &v, -1), -EPIPE);
  /* Receives drain the buffer, then report closed with a zeroed value. */
  v = 0;
  assert_int_equal(goro_chan_recv(c, &v, -1), 0);
  assert_int_equal(v, 1);
  assert_int_equal(goro_chan_recv(c, &v, -1), 0);
  v = 7;
  assert_int_equal(goro_chan_recv(c, &v, -1), -EPIPE);
  assert_int_equal(v, 0);
  assert_int_equal(goro_chan_try_recv(c, &v), -EPIPE);
  assert_int_equal(goro_chan_release(c), 0);
  /* select */
  goro_select_case_t sc = {NULL, 5, NULL, 0};
  assert_int_equal(goro_select(NULL, 1, 0, -1), -EINVAL);
  assert_int_equal(goro_select(&sc, 1, 0, -1), -EINVAL);
  assert_int_equal(goro_select(&sc, GORO_SELECT_MAX + 1, 0, -1), -EINVAL);
  assert_int_equal(goro_select(NULL, 0, 0x100, -1), -EINVAL);
  /* Empty select: never ready; with a deadline, times out. */
  assert_int_equal(goro_select(NULL, 0, GORO_SELECT_NONBLOCK, -1), -EAGAIN);
  assert_int_equal(goro_select(NULL, 0, 0, goro_now() + 5 * GORO_MS), -ETIMEDOUT);
  /* timers */
  goro_ticker_t *t;
  assert_int_equal(goro_after(NULL, 1), -EINVAL);
  assert_int_equal(goro_after(&c, -1), -EINVAL);
  assert_int_equal(goro_ticker_new(&t, 0), -EINVAL);
  assert_int_equal(goro_ticker_new(NULL, 1), -EINVAL);
  assert_null(goro_ticker_chan(NULL));
  assert_int_equal(goro_ticker_stop(NULL), -EINVAL);
  assert_int_equal(goro_ticker_free(NULL), 0);
}

/* ------------------------------------------------------------------------ */
/* Unbuffered rendezvous: a send completes only when taken; FIFO per sender. */

struct rdv {
  goro_chan_t *c;
  atomic_int sent;
  int n;
};

static void rdv_sender(void *arg) {
  struct rdv *r = arg;
  for (int i = 0; i < r->n; i++) {
    CHECK(goro_chan_send(r->c, &i, -1) == 0);
    atomic_store(&r->sent, i + 1);
  }
}

static void rdv_body(void *arg) {
  (void)arg;
  struct rdv r = {0};
  r.n = 2000 / SCALE;
  CHECK(goro_chan_make(&r.c, sizeof(int), 0) == 0);
  goro_go(rdv_sender, &r);
  goro_sleep(2 * GORO_MS);
  CHECK(atomic_load(&r.sent) == 0); /* nobody received: the first send is still blocked */
  for (int i = 0; i < r.n; i++) {
    int v = -1;
    CHECK(goro_chan_recv(r.c, &v, -1) == 0);
    CHECK(v == i); /* FIFO per sender */
  }
  while (atomic_load(&r.sent) != r.n) goro_yield();
  goro_chan_release(r.c);
}

static void test_unbuffered_rendezvous(void **state) {
  (void)state;
  run_at(rdv_body, NULL);
}

/* ------------------------------------------------------------------------ */
/* Close wakes blocked receivers and senders. */

struct closer {
  goro_chan_t *c;
  goro_wg_t *wg;
  atomic_int epipe;
};

static void blocked_recv(void *arg) {
  struct closer *k = arg;
  long v = 99;
  int rc = goro_chan_recv(k->c, &v, -1);
  if (rc == -EPIPE && v == 0) atomic_fetch_add(&k->epipe, 1);
  goro_wg_done(k->wg);
}

static void blocked_send(void *arg) {
  struct closer *k = arg;
  long v = 5;
  if (goro_chan_send(k->c, &v, -1) == -EPIPE) atomic_fetch_add(&k->epipe, 1);
  goro_wg_done(k->wg);
}

static void close_body(void *arg) {
  (void)arg;
  struct closer k = {0};
  CHECK(goro_wg_new(&k.wg) == 0);
  /* receivers on an empty unbuffered channel */
  CHECK(goro_chan_make(&k.c, sizeof(long), 0) == 0);
  goro_wg_add(k.wg, 10);
  for (int i = 0; i < 10; i++) goro_go(blocked_recv, &k);
  goro_sleep(2 * GORO_MS);
  CHECK(goro_chan_close(k.c) == 0);
  goro_wg_wait(k.wg);
  CHECK(atomic_load(&k.epipe) == 10);
  goro_chan_release(k.c);
  /* senders on a full buffered channel */
  atomic_store(&k.epipe, 0);
  CHECK(goro_chan_make(&k.c, sizeof(long), 1) == 0);
  long one = 1;
  CHECK(goro_chan_send(k.c, &one, -1) == 0);
  goro_wg_add(k.wg, 10);
  for (int i = 0; i < 10; i++) goro_go(blocked_send, &k);
  goro_sleep(2 * GORO_MS);
  CHECK(goro_chan_close(k.c) == 0);
  goro_wg_wait(k.wg);
  CHECK(atomic_load(&k.epipe) == 10);
  long v = 0;
  CHECK(goro_chan_recv(k.c, &v, -1) == 0 && v == 1); /* buffered value survives close */
  CHECK(goro_chan_recv(k.c, &v, -1) == -EPIPE);
  goro_chan_release(k.c);
  goro_wg_free(k.wg);
}

static void test_close_wakes_waiters(void **state) {
  (void)state;
  run_at(close_body, NULL);
}

/* ------------------------------------------------------------------------ */
/* 8 senders x 8 receivers on one channel: nothing lost or duplicated. */

#define MPMC_SENDERS 8
#define MPMC_PER (20000 / SCALE)

struct mpmc {
  goro_chan_t *c;
  goro_wg_t *senders, *receivers;
  atomic_long sum, count;
  atomic_char seen[MPMC_SENDERS * MPMC_PER];
};

static struct mpmc g_mpmc;

static void mpmc_send(void *arg) {
  long base = (long)(intptr_t)arg * MPMC_PER;
  for (long i = 0; i < MPMC_PER; i++) {
    long v = base + i;
    CHECK(goro_chan_send(g_mpmc.c, &v, -1) == 0);
  }
  goro_wg_done(g_mpmc.senders);
}

static void mpmc_recv(void *arg) {
  (void)arg;
  long v;
  while (goro_chan_recv(g_mpmc.c, &v, -1) == 0) {
    CHECK(v >= 0 && v < MPMC_SENDERS * MPMC_PER);
    CHECK(atomic_fetch_add(&g_mpmc.seen[v], 1) == 0); /* no duplicate */
    atomic_fetch_add(&g_mpmc.sum, v);
    atomic_fetch_add(&g_mpmc.count, 1);
  }
  goro_wg_done(g_mpmc.receivers);
}

static void mpmc_body(void *arg) {
  size_t cap = (size_t)(intptr_t)arg;
  memset(&g_mpmc, 0, sizeof g_mpmc);
  CHECK(goro_chan_make(&g_mpmc.c, sizeof(long), cap) == 0);
  goro_wg_new(&g_mpmc.senders);
  goro_wg_new(&g_mpmc.receivers);
  goro_wg_add(g_mpmc.senders, MPMC_SENDERS);
  goro_wg_add(g_mpmc.receivers, 8);
  for (int i = 0; i < 8; i++) goro_go(mpmc_recv, NULL);
  for (long s = 0; s < MPMC_SENDERS; s++) goro_go(mpmc_send, (void *)(intptr_t)s);
  goro_wg_wait(g_mpmc.senders);
  goro_chan_close(g_mpmc.c);
  goro_wg_wait(g_mpmc.receivers);
  long n = (long)MPMC_SENDERS * MPMC_PER;
  CHECK(atomic_load(&g_mpmc.count) == n);
  CHECK(atomic_load(&g_mpmc.sum) == n * (n - 1) / 2);
  goro_chan_release(g_mpmc.c);
  goro_wg_free(g_mpmc.senders);
  goro_wg_free(g_mpmc.receivers);
}

static void test_mpmc_unbuffered(void **state) {
  (void)state;
  run_at(mpmc_body, (void *)0);
}

static void test_mpmc_buffered(void **state) {
  (void)state;
  run_at(mpmc_body, (void *)(intptr_t)64);
}

/* Plain threads as senders, goroutines as receivers, and the reverse. */
static void *thread_send(void *arg) {
  mpmc_send(arg);
  return NULL;
}

static void *thread_recv(void *arg) {
  mpmc_recv(arg);
  return NULL;
}

static void test_mpmc_threads(void **state) {
  (void)state;
  for (int mode = 0; mode < 2; mode++) {
    reset_fail();
    memset(&g_mpmc, 0, sizeof g_mpmc);
    assert_int_equal(goro_chan_make(&g_mpmc.c, sizeof(long), mode ? 16 : 0), 0);
    goro_wg_new(&g_mpmc.senders);
    goro_wg_new(&g_mpmc.receivers);
    goro_wg_add(g_mpmc.senders, MPMC_SENDERS);
    goro_wg_add(g_mpmc.receivers, 8);
    pthread_t th[MPMC_SENDERS];
    for (int i = 0; i < 8; i++) {
      if (mode == 0)
        goro_go(mpmc_recv, NULL);
      else
        pthread_create(&th[i], NULL, thread_recv, NULL);
    }
    for (long s = 0; s < MPMC_SENDERS; s++) {
      if (mode == 0)
        pthread_create(&th[s], NULL, thread_send, (void *)(intptr_t)s);
      else
        goro_go(mpmc_send, (void *)(intptr_t)s);
    }
    goro_wg_wait(g_mpmc.senders);
    goro_chan_close(g_mpmc.c);
    goro_wg_wait(g_mpmc.receivers);
    for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
    long n = (long)MPMC_SENDERS * MPMC_PER;
    assert_int_equal(atomic_load(&g_mpmc.count), n);
    assert_int_equal(atomic_load(&g_mpmc.sum), n * (n - 1) / 2);
    assert_no_fail();
    goro_chan_release(g_mpmc.c);
    goro_wg_free(g_mpmc.senders);
    goro_wg_free(g_mpmc.receivers);
  }
}

/* ------------------------------------------------------------------------ */
/* select */

static void fairness_body(void *arg) {
  (void)arg;
  goro_chan_t *a, *b;
  CHECK(goro_chan_make(&a, sizeof(int), 1) == 0);
  CHECK(goro_chan_make(&b, sizeof(int), 1) == 0);
  int one = 1, va, vb;
  long hits[2] = {0, 0};
  const int n = 100000 / SCALE;
  for (int i = 0; i < n; i++) {
    /* keep both always ready */
    goro_chan_try_send(a, &one);
    goro_chan_try_send(b, &one);
    goro_select_case_t cs[2] = {{a, GORO_SELECT_RECV, &va, 0}, {b, GORO_SELECT_RECV, &vb, 0}};
    int k = goro_select(cs, 2, 0, -1);
    CHECK(k == 0 || k == 1);
    if (k == 0 || k == 1) hits[k]++;
  }
  double share = (double)hits[0] / n;
  if (share < 0.47 || share > 0.53) {
    atomic_fetch_add(&g_fail, 1);
    snprintf(g_fail_msg, sizeof g_fail_msg, "select share %.4f outside 50%% +- 3%%", share);
  }
  goro_chan_release(a);
  goro_chan_release(b);
}

static void test_select_fairness(void **state) {
  (void)state;
  run_at(fairness_body, NULL);
}

static void select_semantics_body(void *arg) {
  (void)arg;
  goro_chan_t *c, *d;
  CHECK(goro_chan_make(&c, sizeof(int), 0) == 0);
  CHECK(goro_chan_make(&d, sizeof(int), 1) == 0);
  int v = 3;
  /* default never blocks: nothing ready */
  goro_select_case_t cs[3] = {{c, GORO_SELECT_RECV, &v, 0},
                              {c, GORO_SELECT_SEND, &v, 0},
                              {NULL, GORO_SELECT_RECV, &v, 0}};
  int64_t t0 = goro_now();
  for (int i = 0; i < 1000; i++) CHECK(goro_select(cs, 3, GORO_SELECT_NONBLOCK, -1) == -EAGAIN);
  CHECK(goro_now() - t0 < 500 * GORO_MS);
  /* a nil-channel case is never chosen; a ready send case is */
  goro_select_case_t s2[2] = {{NULL, GORO_SELECT_SEND, &v, 0}, {d, GORO_SELECT_SEND, &v, 0}};
  CHECK(goro_select(s2, 2, 0, -1) == 1);
  CHECK(goro_chan_len(d) == 1);
  /* deadline */
  t0 = goro_now();
  CHECK(goro_select(cs, 1, 0, goro_now() + 10 * GORO_MS) == -ETIMEDOUT);
  CHECK(goro_now() - t0 >= 10 * GORO_MS);
  /* a closed channel is ready, with result -EPIPE */
  CHECK(goro_chan_close(c) == 0);
  cs[0].result = 1;
  CHECK(goro_select(cs, 1, 0, -1) == 0);
  CHECK(cs[0].result == -EPIPE);
  goro_chan_release(c);
  goro_chan_release(d);
}

static void test_select_semantics(void **state) {
  (void)state;
  run_at(select_semantics_body, NULL);
}

/* A blocked select is completed by a later sender; its other cases are
 * withdrawn (a second sender to the other channel is not taken). */
struct selwake {
  goro_chan_t *a, *b;
};

static void late_sender(void *arg) {
  struct selwake *s = arg;
  goro_sleep(3 * GORO_MS);
  int v = 42;
  CHECK(goro_chan_send(s->b, &v, -1) == 0);
}

static void select_blocking_body(void *arg) {
  (void)arg;
  struct selwake s;
  CHECK(goro_chan_make(&s.a, sizeof(int), 0) == 0);
  CHECK(goro_chan_make(&s.b, sizeof(int), 0) == 0);
  for (int i = 0; i < 200 / SCALE; i++) {
    int va = 0, vb = 0;
    goro_go(late_sender, &s);
    goro_select_case_t cs[2] = {{s.a, GORO_SELECT_RECV, &va, 0}, {s.b, GORO_SELECT_RECV, &vb, 0}};
    CHECK(goro_select(cs, 2, 0, -1) == 1);
    CHECK(vb == 42 && va == 0);
    int x = 1;
    CHECK(goro_chan_try_send(s.a, &x) == -EAGAIN); /* no receiver left queued on a */
  }
  goro_chan_release(s.a);
  goro_chan_release(s.b);
}

static void test_select_blocking(void **state) {
  (void)state;
  run_at(select_blocking_body, NULL);
}

/* ------------------------------------------------------------------------ */
/* Buffered channels: small ones are arrays under the lock (Go's); from 8
 * slots on, a lock-free ring with the lock behind it. Each test covers both. */

struct ring_peer {
  goro_chan_t *c;
  long v;
  atomic_int done;
};

static void ring_recv_one(void *arg) {
  struct ring_peer *p = arg;
  CHECK(goro_chan_recv(p->c, &p->v, -1) == 0);
  atomic_store(&p->done, 1);
}

static void ring_send_one(void *arg) {
  struct ring_peer *p = arg;
  CHECK(goro_chan_send(p->c, &p->v, -1) == 0);
  atomic_store(&p->done, 1);
}

static void ring_handoff_body(void *arg) {
  const long K = (long)(intptr_t)arg; /* capacity: below 8 an array, else a ring */
  struct ring_peer p = {0};
  long v;
  /* A send to a parked receiver goes straight to it, not through the
   * buffer: len stays 0 even before the receiver runs. */
  CHECK(goro_chan_make(&p.c, sizeof(long), (size_t)K) == 0);
  goro_go(ring_recv_one, &p);
  CHECK(tu_wait_parked("chan receive", 1, 30000) == 1);
  v = 11;
  CHECK(goro_chan_try_send(p.c, &v) == 0);
  CHECK(goro_chan_len(p.c) == 0);
  while (!atomic_load(&p.done)) goro_yield();
  CHECK(p.v == 11);
  /* A receive from a full buffer with a parked sender takes the head and
   * moves the sender's value in at the tail: it stays full, order is FIFO. */
  for (v = 1; v <= K; v++) CHECK(goro_chan_send(p.c, &v, -1) == 0);
  atomic_store(&p.done, 0);
  p.v = K + 1;
  goro_go(ring_send_one, &p);
  CHECK(tu_wait_parked("chan send", 1, 30000) == 1); /* blocked on the full buffer */
  CHECK(atomic_load(&p.done) == 0);
  CHECK(goro_chan_try_recv(p.c, &v) == 0 && v == 1);
  CHECK(goro_chan_len(p.c) == K);
  while (!atomic_load(&p.done)) goro_yield();
  for (long want = 2; want <= K + 1; want++) CHECK(goro_chan_recv(p.c, &v, -1) == 0 && v == want);
  CHECK(goro_chan_try_recv(p.c, &v) == -EAGAIN);
  /* After a receiver timed out, the fast path works again: its waiting flag
   * is gone (a send neither blocks nor hands off to the stale waiter). */
  CHECK(goro_chan_recv(p.c, &v, goro_now() + GORO_MS) == -ETIMEDOUT);
  v = 5;
  CHECK(goro_chan_try_send(p.c, &v) == 0 && goro_chan_len(p.c) == 1);
  CHECK(goro_chan_recv(p.c, &v, -1) == 0 && v == 5);
  /* One select with a send and a receive case on the same channel never
   * blocks: an empty buffer can only send, a full one only receive. */
  long out = 0, in = -1, next_in = 0;
  for (int i = 0; i < 1000; i++) {
    int len = goro_chan_len(p.c);
    goro_select_case_t cs[2] = {{p.c, GORO_SELECT_SEND, &out, 0}, {p.c, GORO_SELECT_RECV, &in, 0}};
    int k = goro_select(cs, 2, 0, goro_now() + GORO_SEC);
    CHECK(k == 0 || k == 1);
    if (len == 0) CHECK(k == 0);
    if (len == K) CHECK(k == 1);
    if (k == 0) out++;
    if (k == 1) CHECK(in == next_in++); /* FIFO */
  }
  goro_chan_release(p.c);
  /* len and FIFO across many laps of an odd capacity (no power of two). */
  const long odd = K + 1;
  CHECK(goro_chan_make(&p.c, sizeof(long), (size_t)odd) == 0);
  long next_out = 0;
  next_in = 0;
  for (int round = 0; round < 1000; round++) {
    long k = 1 + round % odd;
    for (long i = 0; i < k; i++) CHECK(goro_chan_try_send(p.c, &next_in) == 0 && ++next_in);
    CHECK(goro_chan_len(p.c) == k);
    if (k == odd) CHECK(goro_chan_try_send(p.c, &v) == -EAGAIN);
    for (long i = 0; i < k; i++) CHECK(goro_chan_try_recv(p.c, &v) == 0 && v == next_out++);
    CHECK(goro_chan_len(p.c) == 0);
  }
  goro_chan_release(p.c);
  /* Zero-size elements (a chan struct{} with a buffer). */
  CHECK(goro_chan_make(&p.c, 0, (size_t)K) == 0);
  for (long i = 0; i < K; i++) CHECK(goro_chan_try_send(p.c, NULL) == 0);
  CHECK(goro_chan_try_send(p.c, NULL) == -EAGAIN && goro_chan_len(p.c) == K);
  CHECK(goro_chan_recv(p.c, NULL, -1) == 0 && goro_chan_len(p.c) == K - 1);
  goro_chan_release(p.c);
}

static void test_ring_handoff(void **state) {
  (void)state;
  run_at(ring_handoff_body, (void *)(intptr_t)2); /* an array (Go's) */
  run_at(ring_handoff_body, (void *)(intptr_t)8); /* the smallest ring */
}

/* close racing with senders and receivers on small buffers: every send that
 * returned 0 is received exactly once, and every sender and receiver ends
 * with -EPIPE. One sender is a plain thread. */
#define RC_SENDERS 4
#define RC_RECEIVERS 3

struct ring_close {
  goro_chan_t *c;
  goro_wg_t *wg;
  atomic_long sent_sum, sent_n, recv_sum, recv_n;
  atomic_int epipe;
};

static void rc_sender(void *arg) {
  struct ring_close *r = arg;
  for (long v = 1;; v++) {
    int rc = goro_chan_send(r->c, &v, -1);
    if (rc != 0) {
      CHECK(rc == -EPIPE);
      atomic_fetch_add(&r->epipe, 1);
      break;
    }
    atomic_fetch_add(&r->sent_sum, v);
    atomic_fetch_add(&r->sent_n, 1);
  }
  goro_wg_done(r->wg);
}

static void *rc_sender_thread(void *arg) {
  rc_sender(arg);
  return NULL;
}

static void rc_receiver(void *arg) {
  struct ring_close *r = arg;
  long v;
  int rc;
  while ((rc = goro_chan_recv(r->c, &v, -1)) == 0) {
    atomic_fetch_add(&r->recv_sum, v);
    atomic_fetch_add(&r->recv_n, 1);
  }
  CHECK(rc == -EPIPE && v == 0);
  atomic_fetch_add(&r->epipe, 1);
  goro_wg_done(r->wg);
}

static void ring_close_body(void *arg) {
  (void)arg;
  struct ring_close r;
  for (int round = 0; round < 40 / SCALE + 2; round++) {
    memset(&r, 0, sizeof r);
    static const size_t caps[] = {1, 3, 8, 13, 64}; /* arrays and rings */
    CHECK(goro_chan_make(&r.c, sizeof(long), caps[round % 5]) == 0);
    CHECK(goro_wg_new(&r.wg) == 0);
    goro_wg_add(r.wg, RC_SENDERS + RC_RECEIVERS);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, rc_sender_thread, &r) == 0);
    for (int i = 1; i < RC_SENDERS; i++) goro_go(rc_sender, &r);
    for (int i = 0; i < RC_RECEIVERS; i++) goro_go(rc_receiver, &r);
    while (atomic_load(&r.recv_n) < 2000 / SCALE) goro_yield();
    CHECK(goro_chan_close(r.c) == 0);
    goro_wg_wait(r.wg);
    pthread_join(th, NULL);
    CHECK(atomic_load(&r.epipe) == RC_SENDERS + RC_RECEIVERS);
    CHECK(atomic_load(&r.sent_n) == atomic_load(&r.recv_n));
    CHECK(atomic_load(&r.sent_sum) == atomic_load(&r.recv_sum));
    CHECK(goro_chan_len(r.c) == 0);
    goro_chan_release(r.c);
    goro_wg_free(r.wg);
  }
}

static void test_ring_close_race(void **state) {
  (void)state;
  run_at(ring_close_body, NULL);
}

/* select over a ring and an array while plain sends and receives use the
 * ring's fast path: receivers select on both channels with a short deadline
 * (timeouts must lose nothing), some senders select between the two, others
 * send to one. Nothing is lost or duplicated and nobody sleeps through a value. */
#define RS_PER (6000 / SCALE)

struct ring_sel {
  goro_chan_t *ch[2];
  goro_wg_t *senders, *receivers;
  atomic_long sum, n, timeouts;
};

static void rs_plain_sender(void *arg) {
  struct ring_sel *r = arg;
  static atomic_int which;
  goro_chan_t *c = r->ch[atomic_fetch_add(&which, 1) & 1];
  for (long v = 1; v <= RS_PER; v++) CHECK(goro_chan_send(c, &v, -1) == 0);
  goro_wg_done(r->senders);
}

static void rs_select_sender(void *arg) {
  struct ring_sel *r = arg;
  for (long v = 1; v <= RS_PER; v++) {
    goro_select_case_t cs[2] = {{r->ch[0], GORO_SELECT_SEND, &v, 0},
                                {r->ch[1], GORO_SELECT_SEND, &v, 0}};
    int k = goro_select(cs, 2, 0, -1);
    CHECK((k == 0 || k == 1) && cs[k].result == 0);
  }
  goro_wg_done(r->senders);
}

static void rs_receiver(void *arg) {
  struct ring_sel *r = arg;
  long v0, v1;
  goro_select_case_t cs[2] = {{r->ch[0], GORO_SELECT_RECV, &v0, 0},
                              {r->ch[1], GORO_SELECT_RECV, &v1, 0}};
  int open = 2;
  while (open) {
    int k = goro_select(cs, 2, 0, goro_now() + 200 * GORO_US);
    if (k == -ETIMEDOUT) {
      atomic_fetch_add(&r->timeouts, 1);
      continue;
    }
    CHECK(k == 0 || k == 1);
    if (k != 0 && k != 1) break;
    if (cs[k].result == -EPIPE) {
      cs[k].ch = NULL; /* a nil channel is never ready */
      open--;
      continue;
    }
    atomic_fetch_add(&r->sum, k == 0 ? v0 : v1);
    atomic_fetch_add(&r->n, 1);
  }
  goro_wg_done(r->receivers);
}

static void rs_plain_receiver(void *arg) {
  struct ring_sel *r = arg;
  long v;
  int rc;
  /* deadline receives on one channel, to mix timeouts with the selects */
  while ((rc = goro_chan_recv(r->ch[1], &v, goro_now() + 100 * GORO_US)) != -EPIPE) {
    if (rc == -ETIMEDOUT) {
      atomic_fetch_add(&r->timeouts, 1);
      continue;
    }
    atomic_fetch_add(&r->sum, v);
    atomic_fetch_add(&r->n, 1);
  }
  goro_wg_done(r->receivers);
}

static void ring_select_body(void *arg) {
  (void)arg;
  struct ring_sel r;
  memset(&r, 0, sizeof r);
  CHECK(goro_chan_make(&r.ch[0], sizeof(long), 8) == 0); /* a ring */
  CHECK(goro_chan_make(&r.ch[1], sizeof(long), 3) == 0); /* an array */
  goro_wg_new(&r.senders);
  goro_wg_new(&r.receivers);
  goro_wg_add(r.receivers, 4);
  for (int i = 0; i < 3; i++) goro_go(rs_receiver, &r);
  goro_go(rs_plain_receiver, &r);
  goro_wg_add(r.senders, 4);
  for (int i = 0; i < 2; i++) goro_go(rs_plain_sender, &r);
  for (int i = 0; i < 2; i++) goro_go(rs_select_sender, &r);
  goro_wg_wait(r.senders);
  goro_chan_close(r.ch[0]);
  goro_chan_close(r.ch[1]);
  goro_wg_wait(r.receivers);
  long per = (long)RS_PER * (RS_PER + 1) / 2;
  CHECK(atomic_load(&r.n) == 4L * RS_PER);
  CHECK(atomic_load(&r.sum) == 4 * per);
  goro_chan_release(r.ch[0]);
  goro_chan_release(r.ch[1]);
  goro_wg_free(r.senders);
  goro_wg_free(r.receivers);
}

static void test_ring_select(void **state) {
  (void)state;
  run_at(ring_select_body, NULL);
}

/* ------------------------------------------------------------------------ */
/* Prime sieve with 1,000 chained goroutines (Go's classic). */

struct filter {
  goro_chan_t *in, *out;
  long prime;
};

static void generate(void *arg) {
  goro_chan_t *ch = arg;
  for (long i = 2;; i++)
    if (goro_chan_send(ch, &i, -1) != 0) break;
  goro_chan_release(ch);
}

static void filter_fn(void *arg) {
  struct filter *f = arg;
  long v;
  while (goro_chan_recv(f->in, &v, -1) == 0)
    if (v % f->prime != 0 && goro_chan_send(f->out, &v, -1) != 0) break;
  goro_chan_close(f->in); /* propagate the shutdown upstream */
  goro_chan_release(f->in);
  goro_chan_release(f->out);
  free(f);
}

static int is_prime(long n) {
  for (long d = 2; d * d <= n; d++)
    if (n % d == 0) return 0;
  return n >= 2;
}

static void sieve_body(void *arg) {
  (void)arg;
  const int nprimes = 1000 / SCALE;
  goro_chan_t *ch;
  CHECK(goro_chan_make(&ch, sizeof(long), 0) == 0);
  goro_chan_retain(ch);
  goro_go(generate, ch);
  long prev = 1;
  for (int i = 0; i < nprimes; i++) {
    long prime;
    CHECK(goro_chan_recv(ch, &prime, -1) == 0);
    CHECK(prime > prev && is_prime(prime));
    for (long k = prev + 1; k < prime; k++) CHECK(!is_prime(k)); /* none skipped */
    prev = prime;
    struct filter *f = malloc(sizeof *f);
    f->in = ch;
    f->prime = prime;
    CHECK(goro_chan_make(&f->out, sizeof(long), 0) == 0);
    ch = f->out;
    goro_chan_retain(ch);
    goro_go(filter_fn, f);
  }
  if (nprimes == 1000) CHECK(prev == 7919); /* the 1000th prime */
  /* Closing the last channel unwinds the whole chain. */
  goro_chan_close(ch);
  goro_chan_release(ch);
}

static void test_prime_sieve(void **state) {
  (void)state;
  run_at(sieve_body, NULL);
  for (int i = 0; i < 5000 && goro_num_goroutine() != 0; i++) usleep(1000);
  assert_int_equal(goro_num_goroutine(), 0); /* every filter exited */
}

/* ------------------------------------------------------------------------ */
/* Deadlines and timers */

static void deadline_body(void *arg) {
  (void)arg;
  goro_chan_t *c;
  CHECK(goro_chan_make(&c, sizeof(int), 0) == 0);
  int v = 0;
  int64_t t0 = goro_now();
  CHECK(goro_chan_recv(c, &v, t0 + 20 * GORO_MS) == -ETIMEDOUT);
  int64_t el = goro_now() - t0;
  CHECK(el >= 20 * GORO_MS && el < 2000 * GORO_MS);
  CHECK(goro_chan_send(c, &v, goro_now() + 5 * GORO_MS) == -ETIMEDOUT);
  CHECK(goro_chan_recv(c, &v, 0) == -ETIMEDOUT); /* a past deadline: at once */
  /* After a timeout the waiter is gone: a try_send finds no receiver. */
  CHECK(goro_chan_try_send(c, &v) == -EAGAIN);
  goro_chan_release(c);
}

static void test_deadlines(void **state) {
  (void)state;
  run_at(deadline_body, NULL);
  /* and from a plain thread */
  reset_fail();
  deadline_body(NULL);
  assert_no_fail();
}

static void timers_body(void *arg) {
  (void)arg;
  /* goro_after: fires once, not early */
  for (int i = 0; i < 5; i++) {
    goro_chan_t *c;
    int64_t t0 = goro_now();
    CHECK(goro_after(&c, 10 * GORO_MS) == 0);
    int64_t when = 0;
    CHECK(goro_chan_recv(c, &when, -1) == 0);
    int64_t now = goro_now();
    CHECK(when - t0 >= 10 * GORO_MS);
    CHECK(now - t0 < 1000 * GORO_MS);
    CHECK(goro_chan_try_recv(c, &when) == -EAGAIN); /* once */
    goro_chan_release(c);
  }
  /* A released goro_after channel is still safe to fire. */
  goro_chan_t *c;
  CHECK(goro_after(&c, 1 * GORO_MS) == 0);
  goro_chan_release(c);
  goro_sleep(5 * GORO_MS);
  /* ticker: ticks at the period and stops */
  goro_ticker_t *t;
  CHECK(goro_ticker_new(&t, 5 * GORO_MS) == 0);
  int64_t t0 = goro_now(), tick = 0;
  for (int i = 0; i < 10; i++) CHECK(goro_chan_recv(goro_ticker_chan(t), &tick, -1) == 0);
  int64_t el = goro_now() - t0;
  CHECK(el >= 45 * GORO_MS && el < 2000 * GORO_MS);
  CHECK(goro_ticker_stop(t) == 0);
  CHECK(goro_ticker_stop(t) == -EALREADY);
  goro_chan_try_recv(goro_ticker_chan(t), &tick); /* drop a tick buffered before stop */
  CHECK(goro_chan_recv(goro_ticker_chan(t), &tick, goro_now() + 20 * GORO_MS) == -ETIMEDOUT);
  CHECK(goro_ticker_free(t) == 0);
}

static void test_timers(void **state) {
  (void)state;
  run_at(timers_body, NULL);
}

/* Timers fire while the runtime is otherwise idle (the parked M wakes). */
static void test_after_from_thread(void **state) {
  (void)state;
  goro_chan_t *c;
  int64_t t0 = goro_now(), when;
  assert_int_equal(goro_after(&c, 15 * GORO_MS), 0);
  assert_int_equal(goro_chan_recv(c, &when, -1), 0);
  assert_true(goro_now() - t0 >= 15 * GORO_MS);
  assert_true(goro_now() - t0 < 1000 * GORO_MS);
  goro_chan_release(c);
}

/* Releasing a channel while goroutines wait on it keeps it alive for them. */
static void release_waiter(void *arg) {
  goro_chan_t *c = arg;
  int v = 0;
  CHECK(goro_chan_recv(c, &v, -1) == -EPIPE);
  goro_chan_release(c);
}

static void release_body(void *arg) {
  (void)arg;
  goro_chan_t *c;
  CHECK(goro_chan_make(&c, sizeof(int), 0) == 0);
  goro_chan_retain(c); /* the waiter's reference */
  goro_go(release_waiter, c);
  goro_sleep(2 * GORO_MS);
  goro_chan_retain(c);
  goro_chan_release(c);
  CHECK(goro_chan_close(c) == 0);
  goro_chan_release(c);
}

static void test_release_while_waiting(void **state) {
  (void)state;
  run_at(release_body, NULL);
}

/* Dropping the last reference while operations wait on the channel leaves
 * it to them: they go on waiting (here until their deadlines), and the last
 * to leave frees it. ASan checks both halves: no use after free, no leak. */
struct orphan_op {
  goro_chan_t *c;
  int send;
  int64_t deadline;
  atomic_int rc;
};
static void orphan_waiter(void *arg) {
  struct orphan_op *o = arg;
  int v = 7;
  int rc = o->send ? goro_chan_send(o->c, &v, o->deadline) : goro_chan_recv(o->c, &v, o->deadline);
  atomic_store(&o->rc, rc);
}
static void *orphan_thread(void *arg) {
  orphan_waiter(arg);
  return NULL;
}

static void orphan_body(void *arg) {
  (void)arg;
  for (int cap = 0; cap <= 1; cap++) {
    goro_chan_t *c;
    CHECK(goro_chan_make(&c, sizeof(int), (size_t)cap) == 0);
    int v = 1;
    if (cap) CHECK(goro_chan_try_send(c, &v) == 0); /* full: senders block */
    struct orphan_op ops[4];
    int64_t now = goro_now();
    for (int i = 0; i < 4; i++) {
      ops[i].c = c;
      ops[i].send = cap; /* unbuffered: receivers; full buffer: senders */
      ops[i].deadline = now + (20 + 10 * i) * GORO_MS;
      atomic_store(&ops[i].rc, 1);
    }
    pthread_t th; /* the last one is a plain thread */
    for (int i = 0; i < 3; i++) CHECK(goro_go(orphan_waiter, &ops[i]) == 0);
    CHECK(pthread_create(&th, NULL, orphan_thread, &ops[3]) == 0);
    goro_sleep(5 * GORO_MS); /* all four are blocked */
    CHECK(goro_chan_len(c) == cap);
    goro_chan_release(c); /* the last reference: c now belongs to the waiters */
    for (int i = 0; i < 3; i++)
      while (atomic_load(&ops[i].rc) == 1) goro_sleep(GORO_MS);
    pthread_join(th, NULL);
    for (int i = 0; i < 4; i++) CHECK(atomic_load(&ops[i].rc) == -ETIMEDOUT);
  }
}

static void test_release_last_reference_while_waiting(void **state) {
  (void)state;
  run_at(orphan_body, NULL);
}

static int setup(void **state) {
  (void)state;
  return goro_init(NULL);
}

static int teardown(void **state) {
  (void)state;
  return goro_shutdown() < 0;
}

/* Every test runs under the watchdog: a hang fails with the goroutine dump
 * (testutil.h) instead of waiting for ctest's timeout; the last RUN line
 * names the test. */
static int wd_arm(void **state) {
  (void)state;
  tu_watchdog("a test_chan test (the last RUN line)", 60);
  return 0;
}
static int wd_disarm(void **state) {
  (void)state;
  alarm(0);
  return 0;
}
#undef cmocka_unit_test
#define cmocka_unit_test(f) cmocka_unit_test_setup_teardown(f, wd_arm, wd_disarm)

int main(void) {
  tu_apply_filter();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_unbuffered_rendezvous),
      cmocka_unit_test(test_close_wakes_waiters),
      cmocka_unit_test(test_mpmc_unbuffered),
      cmocka_unit_test(test_mpmc_buffered),
      cmocka_unit_test(test_mpmc_threads),
      cmocka_unit_test(test_select_fairness),
      cmocka_unit_test(test_select_semantics),
      cmocka_unit_test(test_select_blocking),
      cmocka_unit_test(test_ring_handoff),
      cmocka_unit_test(test_ring_close_race),
      cmocka_unit_test(test_ring_select),
      cmocka_unit_test(test_prime_sieve),
      cmocka_unit_test(test_deadlines),
      cmocka_unit_test(test_timers),
      cmocka_unit_test(test_after_from_thread),
      cmocka_unit_test(test_release_while_waiting),
      cmocka_unit_test(test_release_last_reference_while_waiting),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
