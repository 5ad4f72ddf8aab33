/*
 * test_cgroup.c: the cgroup reader over fixture trees, the maxprocs policy,
 * and goro_cpu_limits / goro_maxprocs_auto / pinning through the public API.
 *
 * The reader (core/os/cgroup.cpp) is compiled into this test with
 * GORO_CGROUP_TEST_HOOKS, which adds the goro_test_cg_* entry points below;
 * libgoro itself exports none of them. Every path the reader opens is
 * prefixed with a root, so tests/fixtures/cgroup/<name>/ stands in for / .
 * Real cgroups are exercised by test_cgroup_live.c.
 */
#include "testutil.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>

#ifndef GORO_CGROUP_FIXTURES
#error "GORO_CGROUP_FIXTURES must name tests/fixtures/cgroup"
#endif

struct goro_test_cg_snapshot {
  int version;
  int64_t quota_us, period_us;
  int cpuset_cpus, levels, warnings;
  char cgroup[256], limit_cgroup[256], warning[256];
};
void *goro_test_cg_new(const char *root);
void goro_test_cg_free(void *r);
int goro_test_cg_fds(void *r);
int goro_test_cg_read(void *r, struct goro_test_cg_snapshot *o);
int goro_test_cg_auto(int affinity, int64_t quota, int64_t period, int cpuset, int rounding,
                      int min, int *by);
int goro_test_cg_count(const char *s);

/* ------------------------------------------------------------------------- */
/* Allocation counting (plain builds: the sanitizers own malloc)              */
/* ------------------------------------------------------------------------- */
#if GORO_TEST_SANITIZER == 0
extern void *__libc_malloc(size_t);
static _Atomic long g_mallocs;
static _Atomic int g_counting;
void *malloc(size_t n) {
  if (atomic_load_explicit(&g_counting, memory_order_relaxed))
    atomic_fetch_add_explicit(&g_mallocs, 1, memory_order_relaxed);
  return __libc_malloc(n);
}
#endif

static void read_fixture(const char *name, struct goro_test_cg_snapshot *s) {
  char root[PATH_MAX];
  snprintf(root, sizeof root, "%s/%s", GORO_CGROUP_FIXTURES, name);
  void *r = goro_test_cg_new(root);
  assert_non_null(r);
  memset(s, 0x5a, sizeof *s);
  assert_int_equal(goro_test_cg_read(r, s), 1); /* first read opens */
  struct goro_test_cg_snapshot again;
  assert_int_equal(goro_test_cg_read(r, &again), 0); /* steady: no re-open */
  assert_int_equal(again.quota_us, s->quota_us);
  assert_int_equal(again.period_us, s->period_us);
  assert_string_equal(again.limit_cgroup, s->limit_cgroup);
  goro_test_cg_free(r);
}

/* ------------------------------------------------------------------------- */
/* Fixture layouts                                                            */
/* ------------------------------------------------------------------------- */

static void test_v1(void **state) {
  (void)state;
  struct goro_test_cg_snapshot s;
  read_fixture("v1", &s);
  assert_int_equal(s.version, 1);
  assert_string_equal(s.cgroup, "/app");
  /* cpu,cpuacct co-mounted; the cpuacct-only mount (10000) is not "cpu" */
  assert_int_equal(s.quota_us, 150000);
  assert_int_equal(s.period_us, 100000);
  assert_string_equal(s.limit_cgroup, "/app");
  assert_int_equal(s.levels, 2);
  assert_int_equal(s.cpuset_cpus, 6); /* effective_cpus wins over cpus */
  assert_int_equal(s.warnings, 0);
}

static void test_v2(void **state) {
  (void)state;
  struct goro_test_cg_snapshot s;
  read_fixture("v2", &s);
  assert_int_equal(s.version, 2);
  assert_string_equal(s.cgroup, "/user.slice/app.scope");
  assert_int_equal(s.quota_us, 250000);
  assert_int_equal(s.period_us, 100000);
  assert_string_equal(s.limit_cgroup, "/user.slice/app.scope");
  assert_int_equal(s.levels, 2); /* the v2 root has no cpu.max */
  assert_int_equal(s.cpuset_cpus, 4);
  assert_int_equal(s.warnings, 0);
}

static void test_hybrid(void **state) {
  (void)state;
  struct goro_test_cg_snapshot s;
  read_fixture("hybrid", &s);
  /* cpu is bound to v1; the unified tree's cpu.max (0.2) is ignored */
  assert_int_equal(s.version, 1);
  assert_string_equal(s.cgroup, "/svc");
  assert_int_equal(s.quota_us, 50000);
  assert_int_equal(s.period_us, 100000);
  assert_string_equal(s.limit_cgroup, "/svc");
  assert_int_equal(s.cpuset_cpus, 2);
  assert_int_equal(s.warnings, 0);
}

static void test_nested_tighter_parent_v2(void **state) {
  (void)state;
  struct goro_test_cg_snapshot s;
  read_fixture("nested_v2", &s);
  assert_int_equal(s.version, 2);
  assert_string_equal(s.cgroup, "/a/b/c");
  assert_int_equal(s.levels, 3);
  assert_int_equal(s.quota_us, 100000); /* /a: 1 CPU beats the leaf's 3 */
  assert_int_equal(s.period_us, 100000);
  assert_string_equal(s.limit_cgroup, "/a");
}

static void test_nested_tighter_parent_v1(void **state) {
  (void)state;
  struct goro_test_cg_snapshot s;
  read_fixture("nested_v1", &s);
  assert_int_equal(s.version, 1);
  assert_int_equal(s.levels, 3);
  /* /p: 25000/50000 = 0.5 CPU beats /p/q: 80000/100000 = 0.8 */
  assert_int_equal(s.quota_us, 25000);
  assert_int_equal(s.period_us, 50000);
  assert_string_equal(s.limit_cgroup, "/p");
}

static void test_nonroot_mount_v1(void **state) {
  (void)state;
  struct goro_test_cg_snapshot s;
  read_fixture("nonroot_v1", &s);
  assert_int_equal(s.version, 1);
  assert_string_equal(s.cgroup, "/docker/abc123");
  assert_int_equal(s.levels, 1); /* nothing above the mount root is visible */
  assert_int_equal(s.quota_us, 50000);
  assert_int_equal(s.period_us, 100000);
  assert_string_equal(s.limit_cgroup, "/docker/abc123");
  assert_int_equal(s.warnings, 0);
}

static void test_nonroot_mount_v2(void **state) {
  (void)state;
  struct goro_test_cg_snapshot s;
  read_fixture("nonroot_v2", &s);
  assert_int_equal(s.version, 2);
  assert_string_equal(s.cgroup, "/kubepods/pod1/ctr");
  assert_int_equal(s.levels, 2);
  assert_int_equal(s.quota_us, 200000);
  assert_string_equal(s.limit_cgroup, "/kubepods/pod1");
}

static void test_escaped_mountpoint(void **state) {
  (void)state;
  struct goro_test_cg_snapshot s;
  read_fixture("escaped", &s);
  assert_int_equal(s.version, 1);
  assert_int_equal(s.quota_us, 30000);
  assert_string_equal(s.limit_cgroup, "/");
}

static void test_outside_mount_root(void **state) {
  (void)state;
  struct goro_test_cg_snapshot s;
  read_fixture("outside_root", &s);
  assert_int_equal(s.version, 1);
  assert_int_equal(s.quota_us, 40000); /* the mount point's files */
  assert_int_equal(s.warnings, 1);
  assert_non_null(strstr(s.warning, "outside"));
}

static void test_max(void **state) {
  (void)state;
  struct goro_test_cg_snapshot s;
  read_fixture("max_v2", &s);
  assert_int_equal(s.version, 2);
  assert_int_equal(s.levels, 2);
  assert_int_equal(s.quota_us, -1);
  assert_int_equal(s.period_us, 0);
  assert_string_equal(s.limit_cgroup, "");
  assert_int_equal(s.warnings, 0);
  read_fixture("max_v1", &s);
  assert_int_equal(s.version, 1);
  assert_int_equal(s.levels, 2);
  assert_int_equal(s.quota_us, -1);
  assert_int_equal(s.warnings, 0);
}

static void test_malformed_v1_falls_back(void **state) {
  (void)state;
  struct goro_test_cg_snapshot s;
  read_fixture("malformed_v1", &s);
  assert_int_equal(s.version, 1);
  /* root "12abc", /x period 0, /x/y unreadable: each counts as no limit */
  assert_int_equal(s.warnings, 3);
  assert_true(s.warning[0] != 0);
  assert_int_equal(s.quota_us, 70000);
  assert_string_equal(s.limit_cgroup, "/x/y/z");
}

static void test_malformed_v2_falls_back(void **state) {
  (void)state;
  struct goro_test_cg_snapshot s;
  read_fixture("malformed_v2", &s);
  assert_int_equal(s.version, 2);
  assert_int_equal(s.quota_us, -1);
  assert_int_equal(s.warnings, 4); /* three cpu.max and the cpuset */
  assert_non_null(strstr(s.warning, "malformed"));
  assert_int_equal(s.cpuset_cpus, 0);
}

static void test_malformed_proc(void **state) {
  (void)state;
  struct goro_test_cg_snapshot s;
  read_fixture("malformed_proc", &s);
  assert_int_equal(s.version, 0);
  assert_int_equal(s.quota_us, -1);
  assert_true(s.warnings >= 1);
  read_fixture("nomount", &s);
  assert_int_equal(s.version, 0);
  assert_int_equal(s.quota_us, -1);
  assert_int_equal(s.warnings, 1);
  assert_non_null(strstr(s.warning, "no mount"));
  read_fixture("none", &s);
  assert_int_equal(s.version, 0);
  assert_int_equal(s.quota_us, -1);
  assert_int_equal(s.warnings, 0);
  assert_string_equal(s.cgroup, "");
}

/* ------------------------------------------------------------------------- */
/* A writable tree: live quota changes, moves, fds, allocation                */
/* ------------------------------------------------------------------------- */

static void put(const char *root, const char *rel, const char *text) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", root, rel);
  for (char *p = path + strlen(root) + 1; *p; p++) {
    if (*p == '/') {
      *p = 0;
      mkdir(path, 0755);
      *p = '/';
    }
  }
  /* O_TRUNC keeps the inode, as writing a cgroup file does: open fds see it */
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
}

static int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

static void rm_rf(const char *root) {
  char cmd[PATH_MAX + 16];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  assert_int_equal(system(cmd), 0);
}

static void test_live_change_and_move(void **state) {
  (void)state;
  char root[] = "/tmp/goro-cgroup-XXXXXX";
  assert_non_null(mkdtemp(root));
  put(root, "proc/self/cgroup", "0::/a\n");
  put(root, "proc/self/mountinfo",
      "35 22 0:30 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n");
  put(root, "sys/fs/cgroup/a/cpu.max", "max 100000\n");
  put(root, "sys/fs/cgroup/b/cpu.max", "150000 100000\n");

  int fds0 = count_fds();
  void *r = goro_test_cg_new(root);
  struct goro_test_cg_snapshot s;
  assert_int_equal(goro_test_cg_read(r, &s), 1);
  assert_int_equal(s.quota_us, -1);
  assert_int_equal(goro_test_cg_fds(r), 2); /* /proc/self/cgroup, a/cpu.max */

  /* The quota changes: the kept-open fd sees it without a re-open. */
  put(root, "sys/fs/cgroup/a/cpu.max", "50000 100000\n");
  assert_int_equal(goro_test_cg_read(r, &s), 0);
  assert_int_equal(s.quota_us, 50000);
  assert_string_equal(s.limit_cgroup, "/a");

  /* The process moves to /b: the reader re-opens and follows. */
  put(root, "proc/self/cgroup", "0::/b\n");
  assert_int_equal(goro_test_cg_read(r, &s), 1);
  assert_string_equal(s.cgroup, "/b");
  assert_int_equal(s.quota_us, 150000);
  assert_int_equal(goro_test_cg_read(r, &s), 0);

  /* Moving back and forth leaks no fd. */
  for (int i = 0; i < 50; i++) {
    put(root, "proc/self/cgroup", i % 2 ? "0::/b\n" : "0::/a\n");
    assert_int_equal(goro_test_cg_read(r, &s), 1);
    assert_int_equal(s.quota_us, i % 2 ? 150000 : 50000);
  }
  assert_int_equal(count_fds(), fds0 + goro_test_cg_fds(r));

  /* A file that turns malformed falls back to "no limit" with a warning,
   * and recovers when it is fixed. */
  put(root, "proc/self/cgroup", "0::/a\n");
  goro_test_cg_read(r, &s);
  put(root, "sys/fs/cgroup/a/cpu.max", "lots 100000\n");
  assert_int_equal(goro_test_cg_read(r, &s), 0);
  assert_int_equal(s.quota_us, -1);
  assert_int_equal(s.warnings, 1);
  put(root, "sys/fs/cgroup/a/cpu.max", "50000 100000\n");
  goro_test_cg_read(r, &s);
  assert_int_equal(s.quota_us, 50000);
  assert_int_equal(s.warnings, 0);

  goro_test_cg_free(r);
  assert_int_equal(count_fds(), fds0);
  rm_rf(root);
}

static void test_steady_read_does_not_allocate(void **state) {
  (void)state;
#if GORO_TEST_SANITIZER != 0
  skip(); /* the sanitizers replace malloc; counted in the plain build */
#else
  char root[PATH_MAX];
  snprintf(root, sizeof root, "%s/%s", GORO_CGROUP_FIXTURES, "v1");
  void *r = goro_test_cg_new(root);
  struct goro_test_cg_snapshot s;
  goro_test_cg_read(r, &s); /* opens: allocates */
  atomic_store(&g_mallocs, 0);
  atomic_store(&g_counting, 1);
  for (int i = 0; i < 1000; i++) goro_test_cg_read(r, &s);
  atomic_store(&g_counting, 0);
  assert_int_equal(atomic_load(&g_mallocs), 0);
  assert_int_equal(s.quota_us, 150000);
  /* And the counter does count: a re-open allocates. */
  goro_test_cg_free(r);
  atomic_store(&g_counting, 1);
  r = goro_test_cg_new(root);
  goro_test_cg_read(r, &s);
  atomic_store(&g_counting, 0);
  assert_true(atomic_load(&g_mallocs) > 0);
  goro_test_cg_free(r);
#endif
}

/* ------------------------------------------------------------------------- */
/* Policy arithmetic                                                          */
/* ------------------------------------------------------------------------- */

static void test_policy(void **state) {
  (void)state;
  int by;
  /* 1.5 CPUs */
  assert_int_equal(goro_test_cg_auto(8, 150000, 100000, 0, GORO_MAXPROCS_ROUND_CEIL, 1, &by), 2);
  assert_int_equal(by, GORO_CPU_LIMITED_BY_QUOTA);
  assert_int_equal(goro_test_cg_auto(8, 150000, 100000, 0, GORO_MAXPROCS_ROUND_FLOOR, 1, &by), 1);
  /* 0.5 CPUs: one P either way, never 0 */
  assert_int_equal(goro_test_cg_auto(8, 50000, 100000, 0, GORO_MAXPROCS_ROUND_CEIL, 1, &by), 1);
  assert_int_equal(goro_test_cg_auto(8, 50000, 100000, 0, GORO_MAXPROCS_ROUND_FLOOR, 1, &by), 1);
  assert_int_equal(goro_test_cg_auto(8, 1000, 100000, 0, GORO_MAXPROCS_ROUND_FLOOR, 0, &by), 1);
  /* exact quotas round to themselves */
  assert_int_equal(goro_test_cg_auto(8, 300000, 100000, 0, GORO_MAXPROCS_ROUND_FLOOR, 1, &by), 3);
  assert_int_equal(goro_test_cg_auto(8, 300000, 100000, 0, GORO_MAXPROCS_ROUND_CEIL, 1, &by), 3);
  /* a quota above the affinity does not raise it */
  assert_int_equal(goro_test_cg_auto(2, 400000, 100000, 0, GORO_MAXPROCS_ROUND_CEIL, 1, &by), 2);
  assert_int_equal(by, GORO_CPU_LIMITED_BY_AFFINITY);
  /* cpuset */
  assert_int_equal(goro_test_cg_auto(8, -1, 0, 3, GORO_MAXPROCS_ROUND_CEIL, 1, &by), 3);
  assert_int_equal(by, GORO_CPU_LIMITED_BY_CPUSET);
  /* min raises (Go 1.25's minimum of 2) */
  assert_int_equal(goro_test_cg_auto(8, 50000, 100000, 0, GORO_MAXPROCS_ROUND_CEIL, 2, &by), 2);
  assert_int_equal(by, GORO_CPU_LIMITED_BY_MIN);
  /* clamped */
  assert_int_equal(goro_test_cg_auto(5000, -1, 0, 0, GORO_MAXPROCS_ROUND_CEIL, 1, &by),
                   GORO_MAXPROCS_MAX);
  assert_int_equal(goro_test_cg_auto(0, -1, 0, 0, GORO_MAXPROCS_ROUND_CEIL, 1, &by), 1);
}

static void test_cpu_list(void **state) {
  (void)state;
  assert_int_equal(goro_test_cg_count("0-3,8,10-11"), 7);
  assert_int_equal(goro_test_cg_count("0"), 1);
  assert_int_equal(goro_test_cg_count(""), 0);
  assert_int_equal(goro_test_cg_count("3-1"), -1);
  assert_int_equal(goro_test_cg_count("0-x"), -1);
  assert_int_equal(goro_test_cg_count("1,,2"), -1);
  assert_int_equal(goro_test_cg_count("1,"), -1);
  assert_int_equal(goro_test_cg_count("-1"), -1);
  assert_int_equal(goro_test_cg_count("0-99999999999999999999"), -1);
}

/* ------------------------------------------------------------------------- */
/* Public API                                                                 */
/* ------------------------------------------------------------------------- */

static void test_cpu_limits_args(void **state) {
  (void)state;
  assert_int_equal(goro_cpu_limits(NULL), -EINVAL);
  goro_cpu_limits_t lim;
  memset(&lim, 0, sizeof lim);
  assert_int_equal(goro_cpu_limits(&lim), -EINVAL); /* size 0 */
  lim.size = 100000;
  assert_int_equal(goro_cpu_limits(&lim), -EINVAL);
  lim.size = 4;
  assert_int_equal(goro_cpu_limits(&lim), -EINVAL);

  /* Not running: still reports, maxprocs 0. */
  lim.size = sizeof lim;
  assert_int_equal(goro_cpu_limits(&lim), 0);
  assert_true(lim.affinity_cpus >= 1);
  assert_int_equal(lim.maxprocs, 0);
  assert_true(lim.auto_maxprocs >= 1 && lim.auto_maxprocs <= lim.affinity_cpus);
  assert_true(lim.rounding == GORO_MAXPROCS_ROUND_CEIL ||
              lim.rounding == GORO_MAXPROCS_ROUND_FLOOR);
  assert_true(lim.quota_us == -1 || lim.quota_milli == lim.quota_us * 1000 / lim.period_us);

  /* An older caller's smaller struct: nothing past its size is written. */
  unsigned char buf[sizeof(goro_cpu_limits_t) + 32];
  memset(buf, 0xee, sizeof buf);
  goro_cpu_limits_t *small = (goro_cpu_limits_t *)(void *)buf;
  small->size = offsetof(goro_cpu_limits_t, cpuset_cpus);
  assert_int_equal(goro_cpu_limits(small), 0);
  assert_int_equal(small->affinity_cpus, lim.affinity_cpus);
  for (size_t i = offsetof(goro_cpu_limits_t, cpuset_cpus); i < sizeof buf; i++)
    assert_int_equal(buf[i], 0xee);
  /* A newer caller's larger struct: the unknown tail is zeroed. */
  memset(buf, 0xee, sizeof buf);
  small->size = sizeof buf;
  assert_int_equal(goro_cpu_limits(small), 0);
  for (size_t i = sizeof(goro_cpu_limits_t); i < sizeof buf; i++) assert_int_equal(buf[i], 0);
}

static void test_config_validation(void **state) {
  (void)state;
  goro_config_t c = GORO_CONFIG_INIT;
  c.maxprocs_rounding = 3;
  assert_int_equal(goro_init(&c), -EINVAL);
  c.maxprocs_rounding = -1;
  assert_int_equal(goro_init(&c), -EINVAL);
  c.maxprocs_rounding = 0;
  c.maxprocs_min = -1;
  assert_int_equal(goro_init(&c), -EINVAL);
  c.maxprocs_min = GORO_MAXPROCS_MAX + 1;
  assert_int_equal(goro_init(&c), -EINVAL);
}

static void get_limits(goro_cpu_limits_t *lim) {
  memset(lim, 0, sizeof *lim);
  lim->size = sizeof *lim;
  assert_int_equal(goro_cpu_limits(lim), 0);
}

static void test_pin_unpin(void **state) {
  (void)state;
  goro_cpu_limits_t lim;
  goro_config_t c = GORO_CONFIG_INIT;
  c.maxprocs_rounding = GORO_MAXPROCS_ROUND_CEIL;
  assert_int_equal(goro_init(&c), 0);
  get_limits(&lim);
  assert_int_equal(lim.pinned, GORO_MAXPROCS_PIN_NONE);
  assert_int_equal(lim.rounding, GORO_MAXPROCS_ROUND_CEIL);
  assert_int_equal(lim.min, 1);
  assert_int_equal(lim.maxprocs, lim.auto_maxprocs);
  assert_int_equal(goro_maxprocs(0), lim.auto_maxprocs);
  int autov = lim.auto_maxprocs;

  /* goro_maxprocs(n) pins, even to the value it already has. */
  assert_int_equal(goro_maxprocs(autov), autov);
  get_limits(&lim);
  assert_int_equal(lim.pinned, GORO_MAXPROCS_PIN_API);
  assert_int_equal(goro_maxprocs(5), autov);
  assert_int_equal(goro_maxprocs(0), 5);
  get_limits(&lim);
  assert_int_equal(lim.maxprocs, 5);
  assert_int_equal(lim.auto_maxprocs, autov);

  /* goro_maxprocs_auto unpins and applies at once. */
  assert_int_equal(goro_maxprocs_auto(), autov);
  assert_int_equal(goro_maxprocs(0), autov);
  get_limits(&lim);
  assert_int_equal(lim.pinned, GORO_MAXPROCS_PIN_NONE);
  assert_true(lim.auto_changes >= 1);
  assert_true(goro_shutdown() >= 0);

  /* After shutdown */
  assert_int_equal(goro_maxprocs_auto(), -ESHUTDOWN);
  get_limits(&lim);
  assert_int_equal(lim.maxprocs, 0);

  /* goro_config_t.maxprocs pins */
  c.maxprocs = 3;
  assert_int_equal(goro_init(&c), 0);
  get_limits(&lim);
  assert_int_equal(lim.pinned, GORO_MAXPROCS_PIN_CONFIG);
  assert_int_equal(lim.maxprocs, 3);
  assert_true(goro_shutdown() >= 0);

  /* GORO_MAXPROCS pins; a bad value is ignored (auto). */
  setenv("GORO_MAXPROCS", "4", 1);
  c.maxprocs = 0;
  assert_int_equal(goro_init(&c), 0);
  get_limits(&lim);
  assert_int_equal(lim.pinned, GORO_MAXPROCS_PIN_ENV);
  assert_int_equal(lim.maxprocs, 4);
  assert_int_equal(goro_maxprocs_auto(), autov);
  assert_true(goro_shutdown() >= 0);
  setenv("GORO_MAXPROCS", "0x", 1);
  assert_int_equal(goro_init(&c), 0);
  get_limits(&lim);
  assert_int_equal(lim.pinned, GORO_MAXPROCS_PIN_NONE);
  assert_int_equal(lim.maxprocs, autov);
  assert_true(goro_shutdown() >= 0);
  unsetenv("GORO_MAXPROCS");

  /* maxprocs_min raises the automatic value */
  c.maxprocs_min = lim.affinity_cpus + 1;
  assert_int_equal(goro_init(&c), 0);
  get_limits(&lim);
  assert_int_equal(lim.maxprocs, lim.affinity_cpus + 1);
  assert_int_equal(lim.limited_by, GORO_CPU_LIMITED_BY_MIN);
  assert_int_equal(lim.min, lim.affinity_cpus + 1);
  assert_true(goro_shutdown() >= 0);
}

/* The affinity mask is a limit too, and needs no root to change: shrink it
 * to one CPU and see the automatic value follow, first through
 * goro_maxprocs_auto (at once), then through sysmon's re-evaluation. */
static void test_follows_affinity(void **state) {
  (void)state;
  cpu_set_t all, one;
  assert_int_equal(sched_getaffinity(0, sizeof all, &all), 0);
  if (CPU_COUNT(&all) < 2) skip();
  CPU_ZERO(&one);
  for (int i = 0; i < CPU_SETSIZE; i++)
    if (CPU_ISSET(i, &all)) {
      CPU_SET(i, &one);
      break;
    }
  int n = CPU_COUNT(&all);
  assert_int_equal(goro_init(NULL), 0);
  assert_int_equal(goro_maxprocs(0), n);
  assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
  assert_int_equal(goro_maxprocs_auto(), 1);
  goro_cpu_limits_t lim;
  get_limits(&lim);
  assert_int_equal(lim.affinity_cpus, 1);
  assert_int_equal(lim.limited_by, GORO_CPU_LIMITED_BY_AFFINITY);

  /* Back to all CPUs: sysmon notices within about a second. */
  assert_int_equal(sched_setaffinity(0, sizeof all, &all), 0);
  int64_t deadline = tu_now_ns() + TU_SCALE(3000, 5000, 10000) * TU_MS;
  while (goro_maxprocs(0) != n && tu_now_ns() < deadline) tu_sleep_ms(20);
  assert_int_equal(goro_maxprocs(0), n);

  /* Pinned: the affinity change is not followed. */
  assert_int_equal(goro_maxprocs(n), n);
  assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
  tu_sleep_ms(1500);
  assert_int_equal(goro_maxprocs(0), n);
  /* goro_maxprocs_auto resumes. */
  assert_int_equal(goro_maxprocs_auto(), 1);
  assert_int_equal(sched_setaffinity(0, sizeof all, &all), 0);
  assert_true(goro_shutdown() >= 0);
}

/* GORO_DEBUG=maxprocs=1 logs each change with its reason. */
static void test_debug_log(void **state) {
  (void)state;
  char path[] = "/tmp/goro-cgroup-log-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  fflush(stderr);
  int saved = dup(2);
  dup2(fd, 2);
  setenv("GORO_DEBUG", "maxprocs=1", 1);
  int init = goro_init(NULL);
  int autov = goro_maxprocs(0);
  goro_maxprocs(autov + 1);
  goro_maxprocs_auto();
  goro_shutdown();
  unsetenv("GORO_DEBUG");
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  char buf[4096] = {0};
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  close(fd);
  unlink(path);
  assert_int_equal(init, 0);
  assert_true(n > 0);
  char want[128];
  snprintf(want, sizeof want, "goro: maxprocs 0 -> %d (auto, limited by ", autov);
  assert_non_null(strstr(buf, want));
  snprintf(want, sizeof want, "goro: maxprocs %d -> %d (api, pinned)", autov, autov + 1);
  assert_non_null(strstr(buf, want));
  snprintf(want, sizeof want, "goro: maxprocs %d -> %d (auto", autov + 1, autov);
  assert_non_null(strstr(buf, want));
}

/* After a failure mid-test: the affinity back to every CPU, no runtime. */
static cpu_set_t g_all_cpus;
static int group_setup(void **state) {
  (void)state;
  return sched_getaffinity(0, sizeof g_all_cpus, &g_all_cpus);
}
static int restore(void **state) {
  (void)state;
  sched_setaffinity(0, sizeof g_all_cpus, &g_all_cpus);
  unsetenv("GORO_MAXPROCS");
  unsetenv("GORO_DEBUG");
  goro_shutdown(); /* -EALREADY when the test ended cleanly */
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_v1),
      cmocka_unit_test(test_v2),
      cmocka_unit_test(test_hybrid),
      cmocka_unit_test(test_nested_tighter_parent_v2),
      cmocka_unit_test(test_nested_tighter_parent_v1),
      cmocka_unit_test(test_nonroot_mount_v1),
      cmocka_unit_test(test_nonroot_mount_v2),
      cmocka_unit_test(test_escaped_mountpoint),
      cmocka_unit_test(test_outside_mount_root),
      cmocka_unit_test(test_max),
      cmocka_unit_test(test_malformed_v1_falls_back),
      cmocka_unit_test(test_malformed_v2_falls_back),
      cmocka_unit_test(test_malformed_proc),
      cmocka_unit_test(test_live_change_and_move),
      cmocka_unit_test(test_steady_read_does_not_allocate),
      cmocka_unit_test(test_policy),
      cmocka_unit_test(test_cpu_list),
      cmocka_unit_test(test_cpu_limits_args),
      cmocka_unit_test(test_config_validation),
      cmocka_unit_test_teardown(test_pin_unpin, restore),
      cmocka_unit_test_teardown(test_follows_affinity, restore),
      cmocka_unit_test_teardown(test_debug_log, restore),
  };
  return cmocka_run_group_tests(tests, group_setup, NULL);
}
