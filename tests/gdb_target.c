/* gdb_target.c: a process for check_gdb.sh and check_usdt.sh to look at.
 * Parks named goroutines on a channel, a long sleep and a mutex, keeps one
 * running on a P, then calls
 * gdb_target_ready() (a breakpoint for gdb) and exits cleanly. With an
 * argument it also prints goro_dump() after that point. */
#define _GNU_SOURCE
#include <goro/goro.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static goro_chan_t *ch;
static goro_mutex_t *mu;
static goro_wg_t *wg;

/* Not static and never inlined: gdb breaks here once everything is parked. */
void gdb_target_ready(void) __attribute__((noinline));
void gdb_target_ready(void) { __asm__ volatile("" ::: "memory"); }

static void recv_waiter(void *arg) {
  (void)arg;
  int v;
  goro_chan_recv(ch, &v, GORO_NO_DEADLINE);
  goro_wg_done(wg);
}

static void sleeper(void *arg) {
  (void)arg;
  goro_sleep(600000 * GORO_MS); /* abandoned at shutdown */
}

static atomic_int spin_stop;

/* Runs on one P until told to stop: goro-bt must find its thread. */
static void spinner(void *arg) {
  (void)arg;
  while (!atomic_load(&spin_stop)) {
  }
  goro_wg_done(wg);
}

static void mutex_waiter(void *arg) {
  (void)arg;
  goro_mutex_lock(mu);
  goro_mutex_unlock(mu);
  goro_wg_done(wg);
}

static int all_parked(void) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return 0;
  goro_dump(f);
  fclose(f);
  int ok = buf && strstr(buf, "[chan receive]") && strstr(buf, "[sleep]") &&
           strstr(buf, "[sync.Mutex.Lock]") && strstr(buf, "goroutine 4 [running]");
  free(buf);
  return ok;
}

int main(int argc, char **argv) {
  (void)argv;
  goro_config_t cfg = GORO_CONFIG_INIT;
  cfg.maxprocs = 2;
  if (goro_init(&cfg) != 0) return 1;
  goro_chan_make(&ch, sizeof(int), 0);
  goro_mutex_new(&mu);
  goro_mutex_lock(mu);
  goro_wg_new(&wg);
  goro_wg_add(wg, 3);
  goro_go_opts_t o = GORO_GO_OPTS_INIT;
  uint64_t id;
  o.name = "gdb-recv";
  goro_go_opts(&o, recv_waiter, NULL, &id);
  printf("recv %llu\n", (unsigned long long)id);
  o.name = "gdb-sleep";
  goro_go_opts(&o, sleeper, NULL, &id);
  printf("sleep %llu\n", (unsigned long long)id);
  o.name = "gdb-mutex";
  goro_go_opts(&o, mutex_waiter, NULL, &id);
  printf("mutex %llu\n", (unsigned long long)id);
  o.name = "gdb-spin";
  goro_go_opts(&o, spinner, NULL, &id);
  printf("spin %llu\n", (unsigned long long)id);
  fflush(stdout);
  /* Wait until all three are parked, as goro_dump() shows them. */
  for (int i = 0; i < 2000 && !all_parked(); i++) usleep(5 * 1000);
  gdb_target_ready();
  if (argc > 1) goro_dump(stdout); /* what gdb's listing must agree with */
  atomic_store(&spin_stop, 1);
  int v = 1;
  goro_chan_send(ch, &v, GORO_NO_DEADLINE);
  goro_mutex_unlock(mu);
  goro_wg_wait(wg);
  goro_chan_release(ch);
  goro_mutex_free(mu);
  goro_wg_free(wg);
  return goro_shutdown() == 1 ? 0 : 2; /* the sleeper is abandoned */
}
