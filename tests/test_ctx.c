/*
 * test_ctx.c: contexts (goro_ctx_t) and the _ctx twins of every blocking
 * call: cancellation of a whole tree, deadline accuracy, and every _ctx call
 * waking with -ECANCELED (or -ETIMEDOUT) from a goroutine and from a plain
 * thread, having done nothing.
 */
#include "testutil.h"

#include <goro/goro.h>

/* ------------------------------------------------------------------------- */
/* Async: one blocking call on a goroutine or a thread                        */
/* ------------------------------------------------------------------------- */

typedef struct async {
  int (*fn)(struct async *);
  void *p1, *p2;
  goro_ctx_t *ctx;
  int on_goroutine;
  pthread_t th;
  atomic_int started;
  atomic_int done;
  int rc;
  int64_t t_end;
  goro_wg_t *wg;
} async_t;

static void async_body(async_t *a) {
  atomic_store(&a->started, 1);
  a->rc = a->fn(a);
  a->t_end = tu_now_ns();
  atomic_store(&a->done, 1);
}
static void async_gor(void *arg) {
  async_t *a = arg;
  async_body(a);
  goro_wg_done(a->wg);
}
static void *async_thr(void *arg) {
  async_body(arg);
  return NULL;
}


static void async_start(async_t *a) {
  atomic_store(&a->started, 0);
  atomic_store(&a->done, 0);
  a->wg = tu_wg;
  if (a->on_goroutine) {
    assert_int_equal(goro_wg_add(tu_wg, 1), 0);
    assert_int_equal(goro_go(async_gor, a), 0);
  } else {
    assert_int_equal(pthread_create(&a->th, NULL, async_thr, a), 0);
  }
  while (!atomic_load(&a->started)) tu_sleep_ms(1);
}

static void async_join(async_t *a) {
  if (a->on_goroutine)
    assert_int_equal(goro_wg_wait(tu_wg), 0);
  else
    pthread_join(a->th, NULL);
}

/* ------------------------------------------------------------------------- */
/* Bad input                                                                  */
/* ------------------------------------------------------------------------- */

static void test_bad_inputs(void **state) {
  (void)state;
  goro_ctx_t *bg = goro_ctx_background(), *c = NULL;
  int64_t d = 0;
  assert_non_null(bg);
  assert_int_equal(goro_ctx_with_cancel(NULL, &c), -EINVAL);
  assert_int_equal(goro_ctx_with_cancel(bg, NULL), -EINVAL);
  assert_int_equal(goro_ctx_with_deadline(NULL, 0, &c), -EINVAL);
  assert_int_equal(goro_ctx_with_timeout(bg, -1, &c), -EINVAL);
  assert_int_equal(goro_ctx_with_timeout(NULL, 5, &c), -EINVAL);
  assert_int_equal(goro_ctx_cancel(NULL), -EINVAL);
  assert_int_equal(goro_ctx_cancel(bg), -EINVAL); /* cannot be cancelled */
  assert_int_equal(goro_ctx_err(NULL), -EINVAL);
  assert_int_equal(goro_ctx_err(bg), 0);
  assert_null(goro_ctx_done(NULL));
  assert_null(goro_ctx_done(bg));
  assert_int_equal(goro_ctx_deadline(NULL, &d), -EINVAL);
  assert_int_equal(goro_ctx_deadline(bg, NULL), -EINVAL);
  assert_int_equal(goro_ctx_deadline(bg, &d), 0);
  assert_true(d == GORO_NO_DEADLINE);
  assert_int_equal(goro_ctx_retain(NULL), -EINVAL);
  assert_int_equal(goro_ctx_release(NULL), 0);
  for (int i = 0; i < 10; i++) assert_int_equal(goro_ctx_release(bg), 0); /* no-op */
  assert_int_equal(goro_ctx_retain(bg), 0);
  assert_int_equal(goro_ctx_err(bg), 0);

  /* Every _ctx twin rejects a NULL context (no implicit background). */
  goro_chan_t *ch;
  goro_mutex_t *m;
  goro_cond_t *cv;
  goro_sem_t *s;
  goro_wg_t *wg;
  int v = 1;
  assert_int_equal(goro_chan_make(&ch, sizeof v, 1), 0);
  assert_int_equal(goro_mutex_new(&m), 0);
  assert_int_equal(goro_cond_new(&cv, m), 0);
  assert_int_equal(goro_sem_new(&s, 1), 0);
  assert_int_equal(goro_wg_new(&wg), 0);
  assert_int_equal(goro_chan_send_ctx(ch, &v, NULL), -EINVAL);
  assert_int_equal(goro_chan_recv_ctx(ch, &v, NULL), -EINVAL);
  assert_int_equal(goro_chan_send_ctx(NULL, &v, bg), -EINVAL);
  assert_int_equal(goro_chan_recv_ctx(NULL, &v, bg), -EINVAL);
  assert_int_equal(goro_chan_send_ctx(ch, NULL, bg), -EINVAL);
  assert_int_equal(goro_select_ctx(NULL, 1, 0, bg), -EINVAL);
  assert_int_equal(goro_select_ctx(NULL, 0, GORO_SELECT_NONBLOCK, NULL), -EINVAL);
  assert_int_equal(goro_sleep_ctx(1, NULL), -EINVAL);
  assert_int_equal(goro_mutex_lock_ctx(m, NULL), -EINVAL);
  assert_int_equal(goro_mutex_lock_ctx(NULL, bg), -EINVAL);
  assert_int_equal(goro_rwmutex_rlock_ctx(NULL, bg), -EINVAL);
  assert_int_equal(goro_rwmutex_lock_ctx(NULL, bg), -EINVAL);
  assert_int_equal(goro_cond_wait_ctx(cv, NULL), -EINVAL);
  assert_int_equal(goro_cond_wait_ctx(NULL, bg), -EINVAL);
  assert_int_equal(goro_sem_acquire_ctx(s, 1, NULL), -EINVAL);
  assert_int_equal(goro_sem_acquire_ctx(NULL, 1, bg), -EINVAL);
  assert_int_equal(goro_sem_acquire_ctx(s, 2, bg), -EINVAL); /* n > size */
  assert_int_equal(goro_wg_wait_ctx(wg, NULL), -EINVAL);
  assert_int_equal(goro_wg_wait_ctx(NULL, bg), -EINVAL);
  /* cond_wait_ctx without the mutex held: -EPERM, as the base call. */
  assert_int_equal(goro_cond_wait_ctx(cv, bg), -EPERM);
  /* With the background context the calls behave as their base calls. */
  assert_int_equal(goro_chan_send_ctx(ch, &v, bg), 0);
  assert_int_equal(goro_chan_recv_ctx(ch, &v, bg), 0);
  assert_int_equal(goro_sem_acquire_ctx(s, 1, bg), 0);
  assert_int_equal(goro_sem_release(s, 1), 0);
  assert_int_equal(goro_mutex_lock_ctx(m, bg), 0);
  assert_int_equal(goro_mutex_unlock(m), 0);
  assert_int_equal(goro_wg_wait_ctx(wg, bg), 0);
  assert_int_equal(goro_sleep_ctx(1000, bg), 0);
  assert_int_equal(goro_sleep_ctx(-5, bg), 0);
  goro_chan_release(ch);
  assert_int_equal(goro_cond_free(cv), 0);
  assert_int_equal(goro_mutex_free(m), 0);
  assert_int_equal(goro_sem_free(s), 0);
  assert_int_equal(goro_wg_free(wg), 0);
}

/* ------------------------------------------------------------------------- */
/* The tree                                                                   */
/* ------------------------------------------------------------------------- */

static int is_closed(goro_ctx_t *c) {
  return goro_chan_try_recv(goro_ctx_done(c), NULL) == -EPIPE;
}

static void test_cancel_tree(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  /* root -> 4 children -> 4 grandchildren each. */
  goro_ctx_t *root, *kid[4], *gk[4][4];
  assert_int_equal(goro_ctx_with_cancel(goro_ctx_background(), &root), 0);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(goro_ctx_with_cancel(root, &kid[i]), 0);
    for (int j = 0; j < 4; j++) assert_int_equal(goro_ctx_with_cancel(kid[i], &gk[i][j]), 0);
  }
  assert_int_equal(goro_chan_try_recv(goro_ctx_done(root), NULL), -EAGAIN);
  /* Cancelling a middle node reaches its subtree only. */
  assert_int_equal(goro_ctx_cancel(kid[1]), 0);
  assert_int_equal(goro_ctx_err(kid[1]), -ECANCELED);
  for (int j = 0; j < 4; j++) {
    assert_int_equal(goro_ctx_err(gk[1][j]), -ECANCELED);
    assert_true(is_closed(gk[1][j]));
    assert_int_equal(goro_ctx_err(gk[0][j]), 0);
  }
  assert_int_equal(goro_ctx_err(root), 0);
  assert_int_equal(goro_ctx_err(kid[0]), 0);
  /* A released, uncancelled child leaves the tree; its own child keeps it
   * (and so the tree) alive and is still cancelled through it. */
  assert_int_equal(goro_ctx_release(kid[2]), 0);
  assert_int_equal(goro_ctx_release(gk[3][0]), 0);
  /* Cancel the root: everything still held is cancelled. */
  assert_int_equal(goro_ctx_cancel(root), 0);
  assert_int_equal(goro_ctx_cancel(root), 0); /* idempotent */
  assert_int_equal(goro_ctx_err(root), -ECANCELED);
  assert_true(is_closed(root));
  for (int i = 0; i < 4; i++) {
    if (i != 2) assert_int_equal(goro_ctx_err(kid[i]), -ECANCELED);
    for (int j = 0; j < 4; j++) {
      if (i == 3 && j == 0) continue;
      assert_int_equal(goro_ctx_err(gk[i][j]), -ECANCELED);
      assert_true(is_closed(gk[i][j]));
    }
  }
  /* A child of a cancelled parent starts cancelled, with the parent's error. */
  goro_ctx_t *late;
  assert_int_equal(goro_ctx_with_cancel(kid[0], &late), 0);
  assert_int_equal(goro_ctx_err(late), -ECANCELED);
  assert_true(is_closed(late));
  goro_ctx_release(late);
  for (int i = 0; i < 4; i++) {
    for (int j = 0; j < 4; j++)
      if (!(i == 3 && j == 0)) goro_ctx_release(gk[i][j]);
    if (i != 2) goro_ctx_release(kid[i]);
  }
  goro_ctx_release(root);
}

/* A 20000-deep chain: cancelling the root must not recurse (goroutine stacks
 * are small), and releasing in any order must not leak (ASan). */
typedef struct chain {
  int n;
  goro_ctx_t **c;
} chain_t;

static void chain_cancel_gor(void *arg) {
  chain_t *ch = arg;
  GCHECK(goro_ctx_cancel(ch->c[0]) == 0);
  goro_wg_done(tu_wg);
}

static void test_deep_chain(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  chain_t ch;
  ch.n = TU_SCALE(20000, 5000, 2000);
  ch.c = calloc((size_t)ch.n, sizeof *ch.c);
  assert_non_null(ch.c);
  assert_int_equal(goro_ctx_with_cancel(goro_ctx_background(), &ch.c[0]), 0);
  for (int i = 1; i < ch.n; i++) assert_int_equal(goro_ctx_with_cancel(ch.c[i - 1], &ch.c[i]), 0);
  assert_int_equal(goro_wg_add(tu_wg, 1), 0);
  assert_int_equal(goro_go(chain_cancel_gor, &ch), 0); /* from a goroutine's small stack */
  assert_int_equal(goro_wg_wait(tu_wg), 0);
  GASSERT_OK();
  assert_int_equal(goro_ctx_err(ch.c[ch.n - 1]), -ECANCELED);
  for (int i = 0; i < ch.n; i++) goro_ctx_release(ch.c[i]); /* parents first: children keep them */
  free(ch.c);
}

/* ------------------------------------------------------------------------- */
/* Deadlines                                                                  */
/* ------------------------------------------------------------------------- */

static int wait_done(async_t *a) {
  return goro_chan_recv(goro_ctx_done(a->ctx), NULL, GORO_NO_DEADLINE);
}

static void test_deadline_accuracy(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  for (int on_gor = 0; on_gor < 2; on_gor++) {
    const int64_t timeout = 50 * TU_MS;
    goro_ctx_t *c;
    int64_t t0 = tu_now_ns();
    assert_int_equal(goro_ctx_with_timeout(goro_ctx_background(), timeout, &c), 0);
    int64_t dl;
    assert_int_equal(goro_ctx_deadline(c, &dl), 0);
    assert_true(dl >= t0 + timeout && dl <= tu_now_ns() + timeout);
    async_t a = {.fn = wait_done, .ctx = c, .on_goroutine = on_gor};
    async_start(&a);
    async_join(&a);
    assert_int_equal(a.rc, -EPIPE); /* done closed */
    assert_int_equal(goro_ctx_err(c), -ETIMEDOUT);
    int64_t late = a.t_end - dl;
    print_message("deadline 50 ms (%s): fired %.3f ms late\n", on_gor ? "goroutine" : "thread",
                  (double)late / 1e6);
    assert_true(late >= 0);
    assert_true(late < 200 * TU_MS); /* generous: shared 2-CPU machine, sanitizers */
    goro_ctx_release(c);
  }
}

static void test_deadline_inheritance(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  goro_ctx_t *parent, *child, *shorter, *plain;
  assert_int_equal(
      goro_ctx_with_timeout(goro_ctx_background(), TU_SCALE(60, 300, 400) * TU_MS, &parent), 0);
  assert_int_equal(goro_ctx_with_timeout(parent, 100 * GORO_SEC, &child), 0);
  assert_int_equal(goro_ctx_with_timeout(parent, 10 * TU_MS, &shorter), 0);
  assert_int_equal(goro_ctx_with_cancel(parent, &plain), 0);
  int64_t dp, dc, ds, dn;
  goro_ctx_deadline(parent, &dp);
  goro_ctx_deadline(child, &dc);
  goro_ctx_deadline(shorter, &ds);
  goro_ctx_deadline(plain, &dn);
  assert_true(dc == dp); /* min(parent's, own) */
  assert_true(dn == dp);
  assert_true(ds < dp);
  async_t a = {.fn = wait_done, .ctx = shorter, .on_goroutine = 1};
  async_start(&a);
  async_join(&a);
  assert_int_equal(goro_ctx_err(shorter), -ETIMEDOUT);
  if (tu_now_ns() < dp) /* a child's deadline does not reach up */
    assert_int_equal(goro_ctx_err(parent), 0);
  async_t b = {.fn = wait_done, .ctx = child, .on_goroutine = 0};
  async_start(&b);
  async_join(&b);
  assert_true(b.t_end >= dp);
  assert_int_equal(goro_ctx_err(child), -ETIMEDOUT);
  /* The parent's error propagates. (A tree is cancelled node by node, as in
   * Go: wait for this node's done channel before looking at its error.) */
  assert_int_equal(goro_chan_recv(goro_ctx_done(plain), NULL, GORO_NO_DEADLINE), -EPIPE);
  assert_int_equal(goro_ctx_err(plain), -ETIMEDOUT);
  assert_int_equal(goro_ctx_err(parent), -ETIMEDOUT);
  /* A deadline already past starts cancelled; a cancelled context keeps its
   * first error. */
  goro_ctx_t *past;
  assert_int_equal(goro_ctx_with_deadline(goro_ctx_background(), goro_now() - 1, &past), 0);
  assert_int_equal(goro_ctx_err(past), -ETIMEDOUT);
  assert_int_equal(goro_ctx_cancel(past), 0);
  assert_int_equal(goro_ctx_err(past), -ETIMEDOUT);
  goro_ctx_release(past);
  /* Releasing a context whose timer is pending deletes the timer. */
  goro_ctx_t *pending;
  assert_int_equal(goro_ctx_with_timeout(goro_ctx_background(), 20 * TU_MS, &pending), 0);
  goro_ctx_release(pending);
  tu_sleep_ms(40); /* the timer would have fired on freed memory (ASan) */
  goro_ctx_release(plain);
  goro_ctx_release(shorter);
  goro_ctx_release(child);
  goro_ctx_release(parent);
}

/* ------------------------------------------------------------------------- */
/* Every _ctx call wakes on cancel                                            */
/* ------------------------------------------------------------------------- */

typedef struct fixture {
  goro_chan_t *full;   /* capacity 1, holding one value */
  goro_chan_t *empty;  /* capacity 1, empty */
  goro_chan_t *unbuf;  /* unbuffered */
  goro_mutex_t *m;     /* held by the test */
  goro_rwmutex_t *rw;  /* write-locked by the test */
  goro_mutex_t *cm;    /* the cond's mutex */
  goro_cond_t *cv;
  goro_sem_t *s;       /* size 3, all held */
  goro_wg_t *wg;       /* count 1 */
} fixture_t;

static fixture_t F;

static int op_send(async_t *a) {
  int v = 7;
  return goro_chan_send_ctx(F.full, &v, a->ctx);
}
static int op_send_unbuf(async_t *a) {
  int v = 7;
  return goro_chan_send_ctx(F.unbuf, &v, a->ctx);
}
static int op_recv(async_t *a) {
  int v = 0;
  return goro_chan_recv_ctx(F.empty, &v, a->ctx);
}
static int op_select(async_t *a) {
  int v = 0, w = 9;
  goro_select_case_t cs[2] = {{F.empty, GORO_SELECT_RECV, &v, 0}, {F.full, GORO_SELECT_SEND, &w, 0}};
  return goro_select_ctx(cs, 2, 0, a->ctx);
}
static int op_select_none(async_t *a) { return goro_select_ctx(NULL, 0, 0, a->ctx); }
static int op_sleep(async_t *a) { return goro_sleep_ctx(100 * GORO_SEC, a->ctx); }
static int op_mutex(async_t *a) { return goro_mutex_lock_ctx(F.m, a->ctx); }
static int op_rlock(async_t *a) { return goro_rwmutex_rlock_ctx(F.rw, a->ctx); }
static int op_wlock(async_t *a) { return goro_rwmutex_lock_ctx(F.rw, a->ctx); }
static int op_cond(async_t *a) {
  GCHECK(goro_mutex_lock(F.cm) == 0);
  int rc = goro_cond_wait_ctx(F.cv, a->ctx);
  /* The mutex is held again on return, whatever the result. */
  GCHECK(goro_mutex_trylock(F.cm) == -EBUSY);
  GCHECK(goro_mutex_unlock(F.cm) == 0);
  return rc;
}
static int op_sem(async_t *a) { return goro_sem_acquire_ctx(F.s, 2, a->ctx); }
static int op_wg(async_t *a) { return goro_wg_wait_ctx(F.wg, a->ctx); }

typedef struct opdef {
  const char *name;
  int (*fn)(async_t *);
} opdef_t;

static const opdef_t OPS[] = {
    {"chan_send_ctx", op_send},     {"chan_send_ctx(unbuffered)", op_send_unbuf},
    {"chan_recv_ctx", op_recv},     {"select_ctx", op_select},
    {"select_ctx(no cases)", op_select_none}, {"sleep_ctx", op_sleep},
    {"mutex_lock_ctx", op_mutex},   {"cond_wait_ctx", op_cond},
    {"sem_acquire_ctx", op_sem},    {"wg_wait_ctx", op_wg},
    {"rwmutex_rlock_ctx", op_rlock}, {"rwmutex_lock_ctx", op_wlock},
};
#define NOPS (sizeof OPS / sizeof OPS[0])

static void fixture_make(void) {
  int v = 1;
  assert_int_equal(goro_chan_make(&F.full, sizeof(int), 1), 0);
  assert_int_equal(goro_chan_send(F.full, &v, GORO_NO_DEADLINE), 0);
  assert_int_equal(goro_chan_make(&F.empty, sizeof(int), 1), 0);
  assert_int_equal(goro_chan_make(&F.unbuf, sizeof(int), 0), 0);
  assert_int_equal(goro_mutex_new(&F.m), 0);
  assert_int_equal(goro_mutex_lock(F.m), 0);
  assert_int_equal(goro_rwmutex_new(&F.rw), 0);
  assert_int_equal(goro_rwmutex_lock(F.rw), 0);
  assert_int_equal(goro_mutex_new(&F.cm), 0);
  assert_int_equal(goro_cond_new(&F.cv, F.cm), 0);
  assert_int_equal(goro_sem_new(&F.s, 3), 0);
  assert_int_equal(goro_sem_acquire(F.s, 3, GORO_NO_DEADLINE), 0);
  assert_int_equal(goro_wg_new(&F.wg), 0);
  assert_int_equal(goro_wg_add(F.wg, 1), 0);
}

/* fixture_check: nothing was done by the cancelled calls. */
static void fixture_check_and_free(void) {
  int v = 0;
  assert_int_equal(goro_chan_len(F.full), 1);
  assert_int_equal(goro_chan_try_recv(F.full, &v), 0);
  assert_int_equal(v, 1);
  assert_int_equal(goro_chan_len(F.empty), 0);
  assert_int_equal(goro_chan_try_recv(F.unbuf, &v), -EAGAIN); /* no sender left queued */
  assert_int_equal(goro_mutex_trylock(F.m), -EBUSY); /* still ours, not taken */
  assert_int_equal(goro_mutex_unlock(F.m), 0);
  assert_int_equal(goro_mutex_trylock(F.m), 0);
  assert_int_equal(goro_mutex_unlock(F.m), 0);
  /* Still write-locked by us; the cancelled readers and writer left no trace. */
  assert_int_equal(goro_rwmutex_tryrlock(F.rw), -EBUSY);
  assert_int_equal(goro_rwmutex_unlock(F.rw), 0);
  assert_int_equal(goro_rwmutex_tryrlock(F.rw), 0);
  assert_int_equal(goro_rwmutex_runlock(F.rw), 0);
  assert_int_equal(goro_rwmutex_trylock(F.rw), 0);
  assert_int_equal(goro_rwmutex_unlock(F.rw), 0);
  assert_int_equal(goro_rwmutex_free(F.rw), 0);
  assert_int_equal(goro_sem_try_acquire(F.s, 1), -EAGAIN); /* no units taken or leaked */
  assert_int_equal(goro_sem_release(F.s, 3), 0);
  assert_int_equal(goro_sem_try_acquire(F.s, 3), 0);
  assert_int_equal(goro_sem_release(F.s, 3), 0);
  assert_int_equal(goro_wg_done(F.wg), 0);
  goro_chan_release(F.full);
  goro_chan_release(F.empty);
  goro_chan_release(F.unbuf);
  assert_int_equal(goro_mutex_free(F.m), 0);
  assert_int_equal(goro_cond_free(F.cv), 0);
  assert_int_equal(goro_mutex_free(F.cm), 0);
  assert_int_equal(goro_sem_free(F.s), 0);
  assert_int_equal(goro_wg_free(F.wg), 0);
}

/* Each call blocks on its own context; cancelling a common ancestor (so the
 * tree path is exercised too) wakes every one of them with -ECANCELED. */
static void every_call(int on_goroutine) {
  fixture_make();
  goro_ctx_t *root;
  assert_int_equal(goro_ctx_with_cancel(goro_ctx_background(), &root), 0);
  async_t a[NOPS];
  memset(a, 0, sizeof a);
  for (size_t i = 0; i < NOPS; i++) {
    a[i].fn = OPS[i].fn;
    a[i].on_goroutine = on_goroutine;
    assert_int_equal(goro_ctx_with_cancel(root, &a[i].ctx), 0);
    if (on_goroutine) {
      a[i].wg = tu_wg;
    }
  }
  if (on_goroutine) assert_int_equal(goro_wg_add(tu_wg, (int64_t)NOPS), 0);
  for (size_t i = 0; i < NOPS; i++) {
    atomic_store(&a[i].started, 0);
    atomic_store(&a[i].done, 0);
    a[i].wg = tu_wg;
    if (on_goroutine)
      assert_int_equal(goro_go(async_gor, &a[i]), 0);
    else
      assert_int_equal(pthread_create(&a[i].th, NULL, async_thr, &a[i]), 0);
  }
  for (size_t i = 0; i < NOPS; i++)
    while (!atomic_load(&a[i].started)) tu_sleep_ms(1);
  tu_sleep_ms(50); /* let them all block */
  for (size_t i = 0; i < NOPS; i++)
    if (atomic_load(&a[i].done)) fail_msg("%s returned %d before the cancel", OPS[i].name, a[i].rc);
  int64_t t0 = tu_now_ns();
  assert_int_equal(goro_ctx_cancel(root), 0);
  if (on_goroutine)
    assert_int_equal(goro_wg_wait(tu_wg), 0);
  else
    for (size_t i = 0; i < NOPS; i++) pthread_join(a[i].th, NULL);
  GASSERT_OK();
  int64_t worst = 0;
  for (size_t i = 0; i < NOPS; i++) {
    if (a[i].rc != -ECANCELED)
      fail_msg("%s on a %s returned %d, want -ECANCELED", OPS[i].name,
               on_goroutine ? "goroutine" : "thread", a[i].rc);
    if (a[i].t_end - t0 > worst) worst = a[i].t_end - t0;
    goro_ctx_release(a[i].ctx);
  }
  print_message("%zu _ctx calls on %s woke %.3f ms after the cancel (slowest)\n", NOPS,
                on_goroutine ? "goroutines" : "threads", (double)worst / 1e6);
  assert_true(worst < 1000 * TU_MS);
  goro_ctx_release(root);
  fixture_check_and_free();
}

static void test_every_call_cancel_goroutine(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  every_call(1);
}
static void test_every_call_cancel_thread(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  every_call(0);
}

/* With a deadline instead of a cancel: every call returns -ETIMEDOUT, not
 * before the deadline. With a context already cancelled: every call that
 * would block returns -ECANCELED at once. */
static void every_call_deadline(int on_goroutine) {
  for (size_t i = 0; i < NOPS; i++) {
    fixture_make();
    async_t a;
    memset(&a, 0, sizeof a);
    a.fn = OPS[i].fn;
    a.on_goroutine = on_goroutine;
    assert_int_equal(goro_ctx_with_timeout(goro_ctx_background(), 20 * TU_MS, &a.ctx), 0);
    int64_t dl;
    goro_ctx_deadline(a.ctx, &dl);
    async_start(&a);
    async_join(&a);
    GASSERT_OK();
    if (a.rc != -ETIMEDOUT) fail_msg("%s returned %d, want -ETIMEDOUT", OPS[i].name, a.rc);
    assert_true(a.t_end >= dl);
    goro_ctx_release(a.ctx);

    goro_ctx_t *dead;
    assert_int_equal(goro_ctx_with_cancel(goro_ctx_background(), &dead), 0);
    goro_ctx_cancel(dead);
    memset(&a, 0, sizeof a);
    a.fn = OPS[i].fn;
    a.on_goroutine = on_goroutine;
    a.ctx = dead;
    async_start(&a);
    async_join(&a);
    GASSERT_OK();
    if (a.rc != -ECANCELED) fail_msg("%s (cancelled ctx) returned %d", OPS[i].name, a.rc);
    goro_ctx_release(dead);
    fixture_check_and_free();
  }
}
static void test_every_call_deadline_goroutine(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  every_call_deadline(1);
}
static void test_every_call_deadline_thread(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  every_call_deadline(0);
}

/* A call that can complete without waiting completes even with a cancelled
 * context (the deadline rule); and an uncancelled context lets calls succeed. */
static void test_ready_call_ignores_done_ctx(void **state) {
  (void)state;
  goro_ctx_t *dead;
  assert_int_equal(goro_ctx_with_cancel(goro_ctx_background(), &dead), 0);
  goro_ctx_cancel(dead);
  goro_chan_t *ch;
  int v = 5, out = 0;
  assert_int_equal(goro_chan_make(&ch, sizeof v, 1), 0);
  assert_int_equal(goro_chan_send_ctx(ch, &v, dead), 0);
  assert_int_equal(goro_chan_recv_ctx(ch, &out, dead), 0);
  assert_int_equal(out, 5);
  goro_sem_t *s;
  assert_int_equal(goro_sem_new(&s, 1), 0);
  assert_int_equal(goro_sem_acquire_ctx(s, 1, dead), 0);
  assert_int_equal(goro_sem_acquire_ctx(s, 1, dead), -ECANCELED);
  assert_int_equal(goro_sem_release(s, 1), 0);
  assert_int_equal(goro_sem_free(s), 0);
  /* select with the done channel as a case: the Go idiom. */
  goro_select_case_t cs[1] = {{goro_ctx_done(dead), GORO_SELECT_RECV, NULL, 0}};
  assert_int_equal(goro_select(cs, 1, 0, GORO_NO_DEADLINE), 0);
  assert_int_equal(cs[0].result, -EPIPE);
  goro_chan_release(ch);
  goro_ctx_release(dead);
}

/* Stress: goroutines and threads receive with their own contexts while a
 * sender feeds the channel and a canceller cancels contexts at random. Every
 * value sent is received exactly once (no value is lost to a cancelled
 * receiver) and every receiver ends. */
typedef struct stress {
  goro_chan_t *ch;
  atomic_long received;
  atomic_long cancelled;
  long nsend;
  int nrecv;
  goro_ctx_t *ctxs[64];
} stress_t;

static stress_t S;

static void stress_recv_body(int idx) {
  for (;;) {
    long v;
    int rc = goro_chan_recv_ctx(S.ch, &v, S.ctxs[idx]);
    if (rc == 0) {
      atomic_fetch_add(&S.received, 1);
      continue;
    }
    if (rc == -ECANCELED) {
      atomic_fetch_add(&S.cancelled, 1);
      /* Keep draining with the background context until closed. */
      while ((rc = goro_chan_recv_ctx(S.ch, &v, goro_ctx_background())) == 0)
        atomic_fetch_add(&S.received, 1);
    }
    GCHECK_CMP(rc, ==, -EPIPE);
    return;
  }
}
static void stress_recv_gor(void *arg) {
  stress_recv_body((int)(intptr_t)arg);
  goro_wg_done(tu_wg);
}
static void *stress_recv_thr(void *arg) {
  stress_recv_body((int)(intptr_t)arg);
  return NULL;
}

static void test_cancel_stress(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  memset(&S, 0, sizeof S);
  S.nsend = TU_SCALE(200000, 40000, 10000);
  S.nrecv = 12;
  const int nthr = 3;
  assert_int_equal(goro_chan_make(&S.ch, sizeof(long), 4), 0);
  for (int i = 0; i < S.nrecv; i++)
    assert_int_equal(goro_ctx_with_cancel(goro_ctx_background(), &S.ctxs[i]), 0);
  pthread_t th[8];
  assert_int_equal(goro_wg_add(tu_wg, S.nrecv - nthr), 0);
  for (int i = 0; i < S.nrecv; i++) {
    if (i < S.nrecv - nthr)
      assert_int_equal(goro_go(stress_recv_gor, (void *)(intptr_t)i), 0);
    else
      assert_int_equal(pthread_create(&th[i - (S.nrecv - nthr)], NULL, stress_recv_thr,
                                      (void *)(intptr_t)i), 0);
  }
  for (long k = 0; k < S.nsend; k++) {
    assert_int_equal(goro_chan_send(S.ch, &k, GORO_NO_DEADLINE), 0);
    if (k % (S.nsend / S.nrecv) == 0) goro_ctx_cancel(S.ctxs[(k / (S.nsend / S.nrecv)) % S.nrecv]);
  }
  assert_int_equal(goro_chan_close(S.ch), 0);
  assert_int_equal(goro_wg_wait(tu_wg), 0);
  for (int i = 0; i < nthr; i++) pthread_join(th[i], NULL);
  GASSERT_OK();
  ASSERT_EQ(atomic_load(&S.received), S.nsend);
  print_message("stress: %ld values, %ld receivers cancelled mid-stream\n", S.nsend,
                (long)atomic_load(&S.cancelled));
  for (int i = 0; i < S.nrecv; i++) goro_ctx_release(S.ctxs[i]);
  goro_chan_release(S.ch);
}

/* goro_sleep_ctx() with sleeps so short that the deadline fires while the
 * parking M is still finishing the park. The G may then run again on the
 * other P at once; nothing of its wait may be touched after that. Each
 * round scribbles a canary over the stack region the sleep's frame used and
 * checks it after a yield, so a late write into the old frame is caught
 * here as well as by ASan. (A Mutex on the sleeping G's stack, unlocked by
 * the parking M after the timer was armed, once did exactly that.) */
static atomic_long sleep_bad;
static TU_UNUSED __attribute__((noinline)) long scribble_and_check(uint32_t seed) {
  volatile uint32_t buf[512];
  for (int i = 0; i < 512; i++) buf[i] = seed ^ (uint32_t)i;
  goro_yield();
  long bad = 0;
  for (int i = 0; i < 512; i++) bad += buf[i] != (seed ^ (uint32_t)i);
  return bad;
}
static void sleep_race_gor(void *arg) {
  int rounds = (int)(intptr_t)arg;
  for (int i = 0; i < rounds; i++) {
    int rc = goro_sleep_ctx(1 + i % 3000, goro_ctx_background());
    GCHECK_CMP(rc, ==, 0);
    atomic_fetch_add(&sleep_bad, scribble_and_check(0x9e3779b9u * (uint32_t)i));
  }
  goro_wg_done(tu_wg);
}
static void test_sleep_ctx_wakes_during_park(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  atomic_store(&sleep_bad, 0);
  const int ng = 8, rounds = TU_SCALE(100000, 50000, 5000);
  assert_int_equal(goro_wg_add(tu_wg, ng), 0);
  for (int i = 0; i < ng; i++)
    assert_int_equal(goro_go(sleep_race_gor, (void *)(intptr_t)rounds), 0);
  assert_int_equal(goro_wg_wait(tu_wg), 0);
  GASSERT_OK();
  ASSERT_EQ(atomic_load(&sleep_bad), 0);
}

/* A cancellation racing with the park of a goroutine waiting with both a
 * context and a deadline. The canceller fires after a random number of
 * yields, so over many rounds it lands before, during and after the park.
 * Whichever way, the wait ends once, -ECANCELED or (rarely) -ETIMEDOUT at
 * the context's deadline, the G's stack is not written after it returns, and
 * no timer armed for this wait survives to claim a later one: a later wait
 * at the same stack address would end -ETIMEDOUT early. */
typedef struct {
  goro_ctx_t *ctx;
  int spins;
  goro_chan_t *done;
} race_cancel_t;
static void race_canceller(void *arg) {
  race_cancel_t *rc = arg;
  for (int i = 0; i < rc->spins; i++) goro_yield();
  goro_ctx_cancel(rc->ctx);
  int one = 1;
  goro_chan_send(rc->done, &one, GORO_NO_DEADLINE);
}
static void race_waiter_gor(void *arg) {
  int rounds = (int)(intptr_t)arg;
  goro_chan_t *done, *never;
  GCHECK_CMP(goro_chan_make(&done, sizeof(int), 1), ==, 0);
  GCHECK_CMP(goro_chan_make(&never, sizeof(int), 0), ==, 0);
  uint32_t seed = (uint32_t)goro_self() * 2654435761u;
  for (int i = 0; i < rounds; i++) {
    race_cancel_t rc = {NULL, 0, done};
    seed = seed * 1103515245u + 12345u;
    rc.spins = (int)((seed >> 16) % 4);
    int64_t timeout = (int64_t)(1 + (seed >> 8) % 4) * TU_MS;
    int64_t t0 = tu_now_ns();
    GCHECK_CMP(goro_ctx_with_timeout(goro_ctx_background(), timeout, &rc.ctx), ==, 0);
    GCHECK_CMP(goro_go(race_canceller, &rc), ==, 0);
    int r;
    if (i % 2 == 0) {
      r = goro_sleep_ctx(10 * GORO_SEC, rc.ctx);
    } else {
      int v;
      r = goro_chan_recv_ctx(never, &v, rc.ctx);
    }
    /* Cancelled, or timed out by the context's own deadline: never early. */
    if (r == -ETIMEDOUT)
      GCHECK_CMP(tu_now_ns() - t0, >=, timeout);
    else
      GCHECK_CMP(r, ==, -ECANCELED);
    atomic_fetch_add(&sleep_bad, scribble_and_check(seed));
    int one;
    GCHECK_CMP(goro_chan_recv(done, &one, GORO_NO_DEADLINE), ==, 0);
    goro_ctx_release(rc.ctx);
    if (i % 64 == 0) {
      /* A stale timer would end this early (or claim some other wait). */
      int v;
      int64_t t1 = tu_now_ns();
      GCHECK_CMP(goro_chan_recv(never, &v, t1 + 2 * TU_MS), ==, -ETIMEDOUT);
      GCHECK_CMP(tu_now_ns() - t1, >=, 2 * TU_MS);
    }
  }
  goro_chan_release(never);
  goro_chan_release(done);
  goro_wg_done(tu_wg);
}
static void test_cancel_races_park(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  atomic_store(&sleep_bad, 0);
  const int ng = 4, rounds = TU_SCALE(20000, 5000, 1000);
  assert_int_equal(goro_wg_add(tu_wg, ng), 0);
  for (int i = 0; i < ng; i++)
    assert_int_equal(goro_go(race_waiter_gor, (void *)(intptr_t)rounds), 0);
  assert_int_equal(goro_wg_wait(tu_wg), 0);
  GASSERT_OK();
  ASSERT_EQ(atomic_load(&sleep_bad), 0);
}

/* Contexts work between plain threads without the runtime touching them,
 * and after goro_shutdown(): a context with a pending timer may outlive the
 * runtime and be released afterwards. */
static void test_outlives_runtime(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  goro_ctx_t *c, *k;
  assert_int_equal(goro_ctx_with_timeout(goro_ctx_background(), 100 * GORO_SEC, &c), 0);
  assert_int_equal(goro_ctx_with_cancel(c, &k), 0);
  assert_int_equal(goro_wg_free(tu_wg), 0);
  assert_int_equal(goro_shutdown(), 0);
  /* Runtime down: a deadline cannot be armed; cancel still works. */
  goro_ctx_t *x = NULL;
  assert_int_equal(goro_ctx_with_timeout(goro_ctx_background(), GORO_SEC, &x), -ESHUTDOWN);
  assert_int_equal(goro_ctx_cancel(c), 0);
  assert_int_equal(goro_ctx_err(k), -ECANCELED);
  goro_ctx_release(k);
  goro_ctx_release(c);
  assert_int_equal(tu_init_procs(2), 0);
  assert_int_equal(goro_wg_new(&tu_wg), 0);
}

int main(void) {
  tu_apply_filter();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_inputs),
      cmocka_unit_test(test_cancel_tree),
      cmocka_unit_test(test_deep_chain),
      cmocka_unit_test(test_deadline_accuracy),
      cmocka_unit_test(test_deadline_inheritance),
      cmocka_unit_test(test_every_call_cancel_goroutine),
      cmocka_unit_test(test_every_call_cancel_thread),
      cmocka_unit_test(test_every_call_deadline_goroutine),
      cmocka_unit_test(test_every_call_deadline_thread),
      cmocka_unit_test(test_ready_call_ignores_done_ctx),
      cmocka_unit_test(test_cancel_stress),
      cmocka_unit_test(test_sleep_ctx_wakes_during_park),
      cmocka_unit_test(test_cancel_races_park),
      cmocka_unit_test(test_outlives_runtime),
  };
  return cmocka_run_group_tests(tests, tu_group_setup_wg, tu_group_teardown_wg);
}
