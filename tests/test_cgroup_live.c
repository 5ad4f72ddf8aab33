/*
 * test_cgroup_live.c: the automatic maxprocs in real cgroup v1 cpu cgroups.
 *
 * Needs root and the v1 cpu controller at /sys/fs/cgroup/cpu (see
 * /work/shared/notes/ebpf.md, "Real cgroups here"); every test skips with a
 * message otherwise. Each test creates cgroups named goro-live-<pid>-*,
 * forks a child that moves itself in and starts goro, and removes them in
 * the group teardown, also after a failure (stale ones of dead test
 * processes are removed at the next start). The child reports through its
 * exit status and stderr; the parent asserts.
 */
#include "testutil.h"

#include <sys/stat.h>
#include <sys/wait.h>

#define CPU "/sys/fs/cgroup/cpu"

static char g_skip[256];
static char g_base[128]; /* goro-live-<pid> */

/* Within this long the once-a-second re-evaluation must have followed. */
#define FOLLOW_MS TU_SCALE(2000, 4000, 8000)

static int write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) return -errno;
  int ok = fputs(text, f) >= 0;
  if (fclose(f) != 0 || !ok) return -errno ? -errno : -EIO;
  return 0;
}

static int cg_write(const char *cg, const char *file, const char *text) {
  char path[512];
  snprintf(path, sizeof path, CPU "/%s/%s", cg, file);
  return write_file(path, text);
}

static int cg_quota(const char *cg, long quota) {
  char buf[32];
  snprintf(buf, sizeof buf, "%ld", quota);
  int err = cg_write(cg, "cpu.cfs_period_us", "100000");
  return err ? err : cg_write(cg, "cpu.cfs_quota_us", buf);
}

static void cg_name(char *out, size_t n, const char *suffix) {
  snprintf(out, n, "%s-%s", g_base, suffix);
}

/* Moves every process of cgroup dir `path` to the root, then removes it
 * (children first). */
static void cg_remove(const char *path) {
  DIR *d = opendir(path);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
    char sub[768];
    snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
    cg_remove(sub);
  }
  closedir(d);
  char procs[768];
  snprintf(procs, sizeof procs, "%s/cgroup.procs", path);
  FILE *f = fopen(procs, "r");
  if (f) {
    long pid;
    while (fscanf(f, "%ld", &pid) == 1) {
      char buf[32];
      snprintf(buf, sizeof buf, "%ld", pid);
      write_file(CPU "/cgroup.procs", buf);
    }
    fclose(f);
  }
  if (rmdir(path) != 0 && errno != ENOENT)
    fprintf(stderr, "test_cgroup_live: could not remove %s: %s\n", path, strerror(errno));
}

/* Removes every goro-live-<pid>-* of this process (pid == 0) or of dead ones. */
static void cg_sweep(pid_t mine) {
  DIR *d = opendir(CPU);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    long pid;
    if (sscanf(e->d_name, "goro-live-%ld-", &pid) != 1) continue;
    if (pid == mine || (kill((pid_t)pid, 0) != 0 && errno == ESRCH)) {
      char path[512];
      snprintf(path, sizeof path, CPU "/%s", e->d_name);
      cg_remove(path);
    }
  }
  closedir(d);
}

static int group_setup(void **state) {
  (void)state;
  snprintf(g_base, sizeof g_base, "goro-live-%ld", (long)getpid());
  if (geteuid() != 0) {
    snprintf(g_skip, sizeof g_skip, "not root: real cgroups cannot be created");
  } else if (access(CPU "/cpu.cfs_quota_us", F_OK) != 0) {
    snprintf(g_skip, sizeof g_skip, "no cgroup v1 cpu controller at " CPU);
  } else {
    cg_sweep(-1);
    char probe[512];
    snprintf(probe, sizeof probe, CPU "/%s-probe", g_base);
    if (mkdir(probe, 0755) != 0)
      snprintf(g_skip, sizeof g_skip, "cannot create a cgroup in " CPU ": %s", strerror(errno));
    else
      rmdir(probe);
  }
  if (g_skip[0]) fprintf(stderr, "test_cgroup_live: skipping: %s\n", g_skip);
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  if (!g_skip[0]) cg_sweep(getpid());
  return 0;
}

static void cg_make(const char *name, long quota) {
  char path[512];
  snprintf(path, sizeof path, CPU "/%s", name);
  assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
  assert_int_equal(cg_quota(name, quota), 0);
}

/* ------------------------------------------------------------------------- */
/* The child side                                                             */
/* ------------------------------------------------------------------------- */

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "test_cgroup_live child: %s:%d: check failed: %s (maxprocs %d)\n", __FILE__, \
              __LINE__, #cond, goro_maxprocs(0));                                                  \
      _exit(1);                                                                                    \
    }                                                                                              \
  } while (0)

static void child_enter(const char *cg) {
  char buf[32];
  snprintf(buf, sizeof buf, "%ld", (long)getpid());
  if (cg_write(cg, "cgroup.procs", buf) != 0) {
    fprintf(stderr, "test_cgroup_live child: cannot enter %s\n", cg);
    _exit(3);
  }
}

static void child_init(int rounding) {
  goro_config_t c = GORO_CONFIG_INIT;
  c.maxprocs_rounding = rounding;
  int err = goro_init(&c);
  if (err) {
    fprintf(stderr, "test_cgroup_live child: goro_init: %s\n", goro_strerror(err));
    _exit(3);
  }
}

/* Waits until goro_maxprocs(0) == want; false after FOLLOW_MS. */
static int follows(int want) {
  int64_t deadline = tu_now_ns() + (int64_t)FOLLOW_MS * TU_MS;
  while (goro_maxprocs(0) != want) {
    if (tu_now_ns() > deadline) return 0;
    tu_sleep_ms(10);
  }
  return 1;
}

static void limits(goro_cpu_limits_t *lim) {
  memset(lim, 0, sizeof *lim);
  lim->size = sizeof *lim;
  CHECK(goro_cpu_limits(lim) == 0);
}

typedef void (*child_fn)(void);

static void run_child(child_fn fn) {
  if (g_skip[0]) {
    fprintf(stderr, "test_cgroup_live: skipped: %s\n", g_skip);
    skip();
  }
  fflush(stderr);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    fn();
    goro_shutdown();
    _exit(0);
  }
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
}

static int ncpu(void) {
  cpu_set_t s;
  sched_getaffinity(0, sizeof s, &s);
  return CPU_COUNT(&s);
}

/* ------------------------------------------------------------------------- */
/* Tests                                                                      */
/* ------------------------------------------------------------------------- */

static char A[160], B[160], AC[200];

static void child_half(void) {
  child_enter(A);
  child_init(GORO_MAXPROCS_ROUND_DEFAULT);
  CHECK(goro_maxprocs(0) == 1);
  goro_cpu_limits_t lim;
  limits(&lim);
  CHECK(lim.cgroup_version == 1);
  CHECK(lim.quota_us == 50000 && lim.period_us == 100000 && lim.quota_milli == 500);
  char want[200];
  snprintf(want, sizeof want, "/%s", A);
  CHECK(strcmp(lim.cgroup, want) == 0);
  CHECK(strcmp(lim.limit_cgroup, want) == 0);
  CHECK(lim.limited_by == GORO_CPU_LIMITED_BY_QUOTA);
  CHECK(lim.pinned == GORO_MAXPROCS_PIN_NONE);
}

static void test_half_cpu(void **state) {
  (void)state;
  if (!g_skip[0]) cg_make(A, 50000);
  run_child(child_half);
}

static void child_one_and_half_ceil(void) {
  child_enter(A);
  child_init(GORO_MAXPROCS_ROUND_CEIL);
  CHECK(goro_maxprocs(0) == 2);
}

static void child_one_and_half_floor(void) {
  child_enter(A);
  child_init(GORO_MAXPROCS_ROUND_FLOOR);
  CHECK(goro_maxprocs(0) == 1);
  goro_cpu_limits_t lim;
  limits(&lim);
  CHECK(lim.quota_milli == 1500 && lim.auto_maxprocs == 1);
}

static void child_one_and_half_default(void) {
  child_enter(A);
  child_init(GORO_MAXPROCS_ROUND_DEFAULT);
  goro_cpu_limits_t lim;
  limits(&lim);
  CHECK(goro_maxprocs(0) == (lim.rounding == GORO_MAXPROCS_ROUND_CEIL ? 2 : 1));
}

static void test_one_and_half_cpu(void **state) {
  (void)state;
  if (!g_skip[0]) {
    if (ncpu() < 2) skip();
    cg_make(A, 150000);
  }
  run_child(child_one_and_half_ceil);
  run_child(child_one_and_half_floor);
  run_child(child_one_and_half_default);
}

static void child_live_change(void) {
  child_enter(A);
  child_init(GORO_MAXPROCS_ROUND_CEIL);
  CHECK(goro_maxprocs(0) == 2);
  CHECK(cg_quota(A, 50000) == 0);
  CHECK(follows(1));
  CHECK(cg_quota(A, -1) == 0);
  CHECK(follows(2));
  CHECK(cg_quota(A, 100000) == 0);
  CHECK(follows(1));
}

static void test_quota_change_followed(void **state) {
  (void)state;
  if (!g_skip[0]) {
    if (ncpu() < 2) skip();
    cg_make(A, 150000);
  }
  run_child(child_live_change);
}

static void child_move(void) {
  child_enter(A);
  child_init(GORO_MAXPROCS_ROUND_DEFAULT);
  CHECK(goro_maxprocs(0) == 1);
  child_enter(B); /* no quota */
  CHECK(follows(2));
  goro_cpu_limits_t lim;
  limits(&lim);
  char want[200];
  snprintf(want, sizeof want, "/%s", B);
  CHECK(strcmp(lim.cgroup, want) == 0);
  CHECK(lim.quota_us == -1 && lim.limit_cgroup[0] == 0);
  child_enter(AC); /* a child of A, no quota of its own: A's applies */
  CHECK(follows(1));
  limits(&lim);
  snprintf(want, sizeof want, "/%s", A);
  CHECK(strcmp(lim.limit_cgroup, want) == 0);
  CHECK(lim.quota_us == 50000);
}

static void test_move_followed(void **state) {
  (void)state;
  if (!g_skip[0]) {
    if (ncpu() < 2) skip();
    cg_make(A, 50000);
    cg_make(B, -1);
    cg_make(AC, -1);
  }
  run_child(child_move);
}

static void child_pin(void) {
  child_enter(A);
  child_init(GORO_MAXPROCS_ROUND_DEFAULT);
  CHECK(goro_maxprocs(0) == 2);
  CHECK(goro_maxprocs(2) == 2); /* pins */
  CHECK(cg_quota(A, 50000) == 0);
  tu_sleep_ms(FOLLOW_MS);
  CHECK(goro_maxprocs(0) == 2);
  goro_cpu_limits_t lim;
  limits(&lim);
  CHECK(lim.pinned == GORO_MAXPROCS_PIN_API && lim.auto_maxprocs == 1);
  CHECK(goro_maxprocs_auto() == 1); /* at once */
  CHECK(goro_maxprocs(0) == 1);
  CHECK(cg_quota(A, -1) == 0);
  CHECK(follows(2)); /* and automatic again */
}

static void test_pin_stops_updates(void **state) {
  (void)state;
  if (!g_skip[0]) {
    if (ncpu() < 2) skip();
    cg_make(A, -1);
  }
  run_child(child_pin);
}

static int per_test_setup(void **state) {
  (void)state;
  cg_name(A, sizeof A, "a");
  cg_name(B, sizeof B, "b");
  snprintf(AC, sizeof AC, "%s/c", A);
  return 0;
}

static int per_test_teardown(void **state) {
  (void)state;
  if (!g_skip[0]) cg_sweep(getpid());
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_half_cpu, per_test_setup, per_test_teardown),
      cmocka_unit_test_setup_teardown(test_one_and_half_cpu, per_test_setup, per_test_teardown),
      cmocka_unit_test_setup_teardown(test_quota_change_followed, per_test_setup,
                                      per_test_teardown),
      cmocka_unit_test_setup_teardown(test_move_followed, per_test_setup, per_test_teardown),
      cmocka_unit_test_setup_teardown(test_pin_stops_updates, per_test_setup, per_test_teardown),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
