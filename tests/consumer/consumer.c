/* consumer.c: a program built against an *installed* goro (see check_install.sh).
 * Spawns 100 goroutines under a WaitGroup and checks that all of them ran. */
#include <goro/goro.h>

#include <stdatomic.h>
#include <stdio.h>

enum { kGoroutines = 100 };

struct state {
  goro_wg_t *wg;
  atomic_int count;
  int failed;
};

static void worker(void *arg) {
  struct state *st = arg;
  atomic_fetch_add(&st->count, 1);
  goro_wg_done(st->wg);
}

static void body(void *arg) {
  struct state *st = arg;
  int rc = goro_wg_add(st->wg, kGoroutines);
  if (rc != 0) {
    fprintf(stderr, "consumer: goro_wg_add: %s\n", goro_strerror(rc));
    st->failed = 1;
    return;
  }
  for (int i = 0; i < kGoroutines; i++) {
    rc = goro_go(worker, st);
    if (rc != 0) {
      fprintf(stderr, "consumer: goro_go: %s\n", goro_strerror(rc));
      st->failed = 1;
      goro_wg_done(st->wg);
    }
  }
  rc = goro_wg_wait(st->wg);
  if (rc != 0) {
    fprintf(stderr, "consumer: goro_wg_wait: %s\n", goro_strerror(rc));
    st->failed = 1;
  }
}

int main(void) {
  struct state st = {NULL, 0, 0};
  if (goro_version() / 100 != GORO_VERSION_NUMBER / 100) {
    fprintf(stderr, "consumer: header %s but library %s\n", GORO_VERSION_STRING,
            goro_version_string());
    return 1;
  }
  int rc = goro_wg_new(&st.wg);
  if (rc != 0) {
    fprintf(stderr, "consumer: goro_wg_new: %s\n", goro_strerror(rc));
    return 1;
  }
  rc = goro_run(body, &st);
  if (rc != 0) {
    fprintf(stderr, "consumer: goro_run: %s\n", goro_strerror(rc));
    return 1;
  }
  int count = atomic_load(&st.count);
  goro_wg_free(st.wg);
  if (st.failed || count != kGoroutines) {
    fprintf(stderr, "consumer: FAIL: %d of %d goroutines ran\n", count, kGoroutines);
    return 1;
  }
  printf("consumer: OK: libgoro %s ran %d goroutines\n", goro_version_string(), count);
  return 0;
}
