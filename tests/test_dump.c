/*
 * test_dump.c: goro_dump() (Go's goroutine dump) and GORO_DEBUG=sigquitdump=1.
 *
 * Goroutines are parked on every kind of wait the runtime has; the dump must
 * list each with Go's wait reason, its name, its wait time and where it was
 * created. This program is linked with -rdynamic (tests/CMakeLists.txt), so
 * dladdr() names the creating function; that function is therefore not
 * static.
 *
 * Each test starts and stops its own runtime: the SIGQUIT test forks.
 */
#include "testutil.h"

#include <sys/resource.h>
#include <sys/wait.h>

/* ------------------------------------------------------------------------- */
/* Helpers                                                                    */
/* ------------------------------------------------------------------------- */

/* The goroutine block of id in a dump, or NULL. */
static const char *find_goroutine(const char *dump, uint64_t id) {
  char head[64];
  snprintf(head, sizeof head, "goroutine %" PRIu64 " [", id);
  const char *p = dump;
  while ((p = strstr(p, head)) != NULL) {
    if (p == dump || p[-1] == '\n') return p;
    p++;
  }
  return NULL;
}

/* Copies the block of one goroutine (up to the next blank line). */
static void block_of(const char *start, char *out, size_t n) {
  const char *end = strstr(start, "\n\n");
  size_t len = end ? (size_t)(end - start) + 1 : strlen(start);
  if (len >= n) len = n - 1;
  memcpy(out, start, len);
  out[len] = '\0';
}

/* ------------------------------------------------------------------------- */
/* The waiters                                                                */
/* ------------------------------------------------------------------------- */

enum { W_RECV, W_SEND, W_SELECT, W_SLEEP, W_MUTEX, W_WG, W_COND, W_RLOCK, W_SEM, W_LOCKED, W_N };

static const char *const want_reason[W_N] = {
    "chan receive", "chan send",          "select",         "sleep",      "sync.Mutex.Lock",
    "sync.WaitGroup.Wait", "sync.Cond.Wait", "sync.RWMutex.RLock", "semacquire", "chan receive",
};

static struct {
  goro_chan_t *recv_ch, *send_ch, *sel_a, *sel_b, *lock_ch;
  goro_mutex_t *mu, *cmu;
  goro_cond_t *cond;
  int cond_go;
  goro_wg_t *wg_blocked; /* what W_WG waits on */
  goro_rwmutex_t *rw;
  goro_sem_t *sem;
  goro_wg_t *all_done;   /* every waiter counts itself out */
  uint64_t ids[W_N];
  goro_wg_t *spawned;
} S;

/* Not static: -rdynamic names it in the dump's "entry:" line. */
void dump_waiter(void *arg);
void dump_waiter(void *arg) {
  long kind = (long)arg;
  int v = 0;
  switch (kind) {
    case W_RECV: GCHECK(goro_chan_recv(S.recv_ch, &v, GORO_NO_DEADLINE) == 0); break;
    case W_SEND: v = 7; GCHECK(goro_chan_send(S.send_ch, &v, GORO_NO_DEADLINE) == 0); break;
    case W_SELECT: {
      goro_select_case_t cs[2] = {{S.sel_a, GORO_SELECT_RECV, &v, 0},
                                  {S.sel_b, GORO_SELECT_RECV, &v, 0}};
      GCHECK(goro_select(cs, 2, 0, GORO_NO_DEADLINE) >= 0);
      break;
    }
    case W_SLEEP: goro_sleep(TU_SCALE(2000, 3000, 6000) * TU_MS); break;
    case W_MUTEX:
      GCHECK(goro_mutex_lock(S.mu) == 0);
      GCHECK(goro_mutex_unlock(S.mu) == 0);
      break;
    case W_WG: GCHECK(goro_wg_wait(S.wg_blocked) == 0); break;
    case W_COND:
      GCHECK(goro_mutex_lock(S.cmu) == 0);
      while (!S.cond_go) GCHECK(goro_cond_wait(S.cond) == 0);
      GCHECK(goro_mutex_unlock(S.cmu) == 0);
      break;
    case W_RLOCK:
      GCHECK(goro_rwmutex_rlock(S.rw) == 0);
      GCHECK(goro_rwmutex_runlock(S.rw) == 0);
      break;
    case W_SEM:
      GCHECK(goro_sem_acquire(S.sem, 1, GORO_NO_DEADLINE) == 0);
      GCHECK(goro_sem_release(S.sem, 1) == 0);
      break;
    case W_LOCKED:
      GCHECK(goro_lock_thread() == 0);
      GCHECK(goro_chan_recv(S.lock_ch, &v, GORO_NO_DEADLINE) == 0);
      GCHECK(goro_unlock_thread() == 0);
      break;
  }
  goro_wg_done(S.all_done);
}

static const char *const names[W_N] = {"w-recv", "w-send", "w-select", "w-sleep", "w-mutex",
                                        "w-wg",   "w-cond", "w-rlock",  "w-sem",   "w-locked"};

/* dump_spawner is the "created by" function the dump must name: not static,
 * so -rdynamic puts it in the dynamic symbol table. */
void dump_spawner(void *arg);
void dump_spawner(void *arg) {
  (void)arg;
  for (long k = 0; k < W_N; k++) {
    goro_go_opts_t o = GORO_GO_OPTS_INIT;
    o.name = names[k];
    GCHECK(goro_go_opts(&o, dump_waiter, (void *)k, &S.ids[k]) == 0);
  }
  goro_wg_done(S.spawned);
}

static void setup_objects(void) {
  memset(&S, 0, sizeof S);
  assert_int_equal(goro_chan_make(&S.recv_ch, sizeof(int), 0), 0);
  assert_int_equal(goro_chan_make(&S.send_ch, sizeof(int), 0), 0);
  assert_int_equal(goro_chan_make(&S.sel_a, sizeof(int), 0), 0);
  assert_int_equal(goro_chan_make(&S.sel_b, sizeof(int), 0), 0);
  assert_int_equal(goro_chan_make(&S.lock_ch, sizeof(int), 0), 0);
  assert_int_equal(goro_mutex_new(&S.mu), 0);
  assert_int_equal(goro_mutex_lock(S.mu), 0); /* held by the test thread */
  assert_int_equal(goro_mutex_new(&S.cmu), 0);
  assert_int_equal(goro_cond_new(&S.cond, S.cmu), 0);
  assert_int_equal(goro_wg_new(&S.wg_blocked), 0);
  assert_int_equal(goro_wg_add(S.wg_blocked, 1), 0);
  assert_int_equal(goro_rwmutex_new(&S.rw), 0);
  assert_int_equal(goro_rwmutex_lock(S.rw), 0); /* writer: readers wait */
  assert_int_equal(goro_sem_new(&S.sem, 1), 0);
  assert_int_equal(goro_sem_acquire(S.sem, 1, GORO_NO_DEADLINE), 0); /* empty */
  assert_int_equal(goro_wg_new(&S.all_done), 0);
  assert_int_equal(goro_wg_add(S.all_done, W_N), 0);
  assert_int_equal(goro_wg_new(&S.spawned), 0);
  assert_int_equal(goro_wg_add(S.spawned, 1), 0);
}

static void release_all(void) {
  int v = 1;
  assert_int_equal(goro_chan_send(S.recv_ch, &v, GORO_NO_DEADLINE), 0);
  assert_int_equal(goro_chan_recv(S.send_ch, &v, GORO_NO_DEADLINE), 0);
  assert_int_equal(goro_chan_send(S.sel_a, &v, GORO_NO_DEADLINE), 0);
  assert_int_equal(goro_mutex_unlock(S.mu), 0);
  assert_int_equal(goro_wg_done(S.wg_blocked), 0);
  assert_int_equal(goro_mutex_lock(S.cmu), 0);
  S.cond_go = 1;
  assert_int_equal(goro_cond_broadcast(S.cond), 0);
  assert_int_equal(goro_mutex_unlock(S.cmu), 0);
  assert_int_equal(goro_rwmutex_unlock(S.rw), 0);
  assert_int_equal(goro_sem_release(S.sem, 1), 0);
  assert_int_equal(goro_chan_send(S.lock_ch, &v, GORO_NO_DEADLINE), 0);
  assert_int_equal(goro_wg_wait(S.all_done), 0);
}

static void free_objects(void) {
  goro_chan_release(S.recv_ch);
  goro_chan_release(S.send_ch);
  goro_chan_release(S.sel_a);
  goro_chan_release(S.sel_b);
  goro_chan_release(S.lock_ch);
  assert_int_equal(goro_mutex_free(S.mu), 0);
  assert_int_equal(goro_cond_free(S.cond), 0);
  assert_int_equal(goro_mutex_free(S.cmu), 0);
  assert_int_equal(goro_wg_free(S.wg_blocked), 0);
  assert_int_equal(goro_rwmutex_free(S.rw), 0);
  assert_int_equal(goro_sem_free(S.sem), 0);
  assert_int_equal(goro_wg_free(S.all_done), 0);
  assert_int_equal(goro_wg_free(S.spawned), 0);
}

/* Dumps until every waiter shows its reason (they park asynchronously), or
 * 10 s pass. Returns the last dump (caller frees). */
static char *dump_until_parked(void) {
  int64_t end = tu_now_ns() + 10000 * TU_MS;
  char *d = NULL;
  for (;;) {
    int rc = 0;
    free(d);
    d = tu_dump_string(&rc);
    assert_non_null(d);
    assert_true(rc >= W_N);
    int ok = 1;
    for (int k = 0; k < W_N && ok; k++) {
      const char *g = find_goroutine(d, S.ids[k]);
      char head[128];
      snprintf(head, sizeof head, "goroutine %" PRIu64 " [%s", S.ids[k], want_reason[k]);
      ok = g && strncmp(g, head, strlen(head)) == 0;
    }
    if (ok || tu_now_ns() > end) return d;
    tu_sleep_ms(5);
  }
}

/* ------------------------------------------------------------------------- */
/* Tests                                                                      */
/* ------------------------------------------------------------------------- */

static void test_dump_wait_reasons(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  assert_int_equal(tu_init_procs(2), 0);
  setup_objects();
  assert_int_equal(goro_go(dump_spawner, NULL), 0);
  assert_int_equal(goro_wg_wait(S.spawned), 0);
  tu_sleep_ms(150); /* so that "waiting for" is measurably > 0 */
  char *d = dump_until_parked();
  for (int k = 0; k < W_N; k++) {
    const char *g = find_goroutine(d, S.ids[k]);
    if (!g) fail_msg("goroutine %" PRIu64 " (%s) missing from the dump:\n%s", S.ids[k], names[k], d);
    char blk[1024];
    block_of(g, blk, sizeof blk);
    char want[256];
    /* Header: Go's shape, with the locked goroutine marked. */
    if (k == W_LOCKED)
      snprintf(want, sizeof want, "goroutine %" PRIu64 " [%s, locked to thread]:\n", S.ids[k],
               want_reason[k]);
    else
      snprintf(want, sizeof want, "goroutine %" PRIu64 " [%s]:\n", S.ids[k], want_reason[k]);
    if (strncmp(blk, want, strlen(want)) != 0)
      fail_msg("want header \"%s\" in block:\n%s", want, blk);
    snprintf(want, sizeof want, "\tname: %s\n", names[k]);
    if (!strstr(blk, want)) fail_msg("no \"%s\" in:\n%s", want, blk);
    /* Entry function and creator, named by dladdr (-rdynamic). */
    if (!strstr(blk, "\tentry: dump_waiter+0x0 (")) fail_msg("no entry line in:\n%s", blk);
    const char *cb = strstr(blk, "created by dump_spawner+0x");
    if (!cb) fail_msg("no \"created by dump_spawner+0x\" in:\n%s", blk);
    if (!strstr(cb, "test_dump+0x")) fail_msg("creator module not shown in:\n%s", blk);
    if (!strstr(cb, " in goroutine ")) fail_msg("creator goroutine not shown in:\n%s", blk);
    /* Waited at least the 150 ms slept above (coarse clock: allow 20 ms). */
    const char *w = strstr(blk, "\twaiting for ");
    if (!w) fail_msg("no wait time in:\n%s", blk);
    long sec = 0, ms = 0;
    assert_int_equal(sscanf(w, "\twaiting for %ld.%03lds", &sec, &ms), 2);
    ASSERT_CMP(sec * 1000 + ms, >=, 130);
    ASSERT_CMP(sec, <, 60);
  }
  /* The spawner itself has exited: not listed. */
  free(d);
  release_all();
  GASSERT_OK();
  free_objects();
  tu_settle(0);
  assert_int_equal(goro_shutdown(), 0);
  TU_WATCHDOG(0);
}

static void self_dump(void *arg) {
  int *out = arg;
  int rc = 0;
  char *buf = tu_dump_string(&rc);
  GCHECK(buf != NULL);
  if (!buf) return;
  GCHECK(rc >= 1);
  char head[64];
  snprintf(head, sizeof head, "goroutine %" PRIu64 " [running]:", goro_self());
  GCHECK(buf && strstr(buf, head) != NULL);
  *out = 1;
  free(buf);
}

static void test_dump_from_goroutine(void **state) {
  (void)state;
  TU_WATCHDOG(30);
  assert_int_equal(tu_init_procs(2), 0);
  int done = 0;
  assert_int_equal(goro_run(self_dump, &done), 0);
  GASSERT_OK();
  assert_int_equal(done, 1);
  assert_int_equal(goro_shutdown(), 0);
  TU_WATCHDOG(0);
}

static void recv_one(void *arg) {
  int v;
  GCHECK(goro_chan_recv(arg, &v, GORO_NO_DEADLINE) == 0);
}

static void test_dump_bad_input(void **state) {
  (void)state;
  /* Before any start and after shutdown: -ESHUTDOWN; NULL: -EINVAL. */
  assert_int_equal(goro_dump(NULL), -EINVAL);
  assert_int_equal(goro_dump(stderr), -ESHUTDOWN);
  assert_int_equal(tu_init_procs(1), 0);
  assert_int_equal(goro_dump(NULL), -EINVAL);
  /* No goroutine: nothing written, 0 listed. */
  char *d;
  int rc = -1;
  d = tu_dump_string(&rc);
  assert_int_equal(rc, 0);
  assert_string_equal(d, "");
  free(d);
  /* A stream that cannot be written to: -EIO. */
  goro_chan_t *ch;
  assert_int_equal(goro_chan_make(&ch, sizeof(int), 0), 0);
  assert_int_equal(goro_go(recv_one, ch), 0);
  FILE *ro = fopen("/dev/null", "r");
  assert_non_null(ro);
  assert_int_equal(goro_dump(ro), -EIO);
  fclose(ro);
  int v = 1;
  assert_int_equal(goro_chan_send(ch, &v, GORO_NO_DEADLINE), 0);
  tu_settle(0);
  goro_chan_release(ch);
  assert_int_equal(goro_shutdown(), 0);
  assert_int_equal(goro_dump(stderr), -ESHUTDOWN);
}

/* A goroutine that blocks forever in the child of the SIGQUIT test. */
static goro_chan_t *quit_ch;
static void quit_waiter(void *arg) {
  (void)arg;
  int v;
  goro_chan_recv(quit_ch, &v, GORO_NO_DEADLINE);
}

static void test_sigquit_dump(void **state) {
  (void)state;
  TU_WATCHDOG(60);
  int errp[2], readyp[2];
  assert_int_equal(pipe(errp), 0);
  assert_int_equal(pipe(readyp), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    tu_child_reset_signals();
    struct rlimit rl = {0, 0};
    setrlimit(RLIMIT_CORE, &rl); /* the default action of SIGQUIT dumps core */
    dup2(errp[1], 2);
    close(errp[0]);
    close(readyp[0]);
    setenv("GORO_DEBUG", "sigquitdump=1", 1);
    if (tu_init_procs(2) != 0) _exit(10);
    if (goro_chan_make(&quit_ch, sizeof(int), 0) != 0) _exit(11);
    goro_go_opts_t o = GORO_GO_OPTS_INIT;
    o.name = "quit-waiter";
    uint64_t id = 0;
    if (goro_go_opts(&o, quit_waiter, NULL, &id) != 0) _exit(12);
    char line[64];
    int n = snprintf(line, sizeof line, "%" PRIu64 "\n", id);
    /* Let it park: poll until the dump shows it waiting. */
    tu_wait_parked("chan receive", 1, 10000);
    if (write(readyp[1], line, (size_t)n) != n) _exit(13);
    /* Killed by SIGQUIT. usleep, not clock_nanosleep: TSan delivers a
     * signal only when the thread passes one of its interceptors. */
    for (;;) usleep(100 * 1000);
  }
  close(errp[1]);
  close(readyp[1]);
  char line[64] = {0};
  ssize_t r = read(readyp[0], line, sizeof line - 1);
  assert_true(r > 0);
  uint64_t id = strtoull(line, NULL, 10);
  assert_true(id > 0);
  assert_int_equal(kill(pid, SIGQUIT), 0);
  static char out[1 << 16];
  tu_read_all(errp[0], out, sizeof out);
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  close(errp[0]);
  close(readyp[0]);
  if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGQUIT)
    fail_msg("child did not die of SIGQUIT (status 0x%x); stderr:\n%s", st, out);
  if (!strstr(out, "SIGQUIT: quit\n")) fail_msg("no SIGQUIT header in:\n%s", out);
  char want[96];
  snprintf(want, sizeof want, "goroutine %" PRIu64 " [chan receive]:\n\tname: quit-waiter\n", id);
  if (!strstr(out, want)) fail_msg("no \"%s\" in:\n%s", want, out);
  TU_WATCHDOG(0);
}

int main(void) {
  tu_apply_filter();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dump_bad_input),
      cmocka_unit_test(test_dump_wait_reasons),
      cmocka_unit_test(test_dump_from_goroutine),
      cmocka_unit_test(test_sigquit_dump),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
