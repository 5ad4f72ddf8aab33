/*
 * goro-audit: attach to a live process (a goro program, a Go program, any
 * process) and verify from the kernel side its threads, the CFS throttling
 * of its cgroup and the preemption signals it receives.
 *
 *   goro-audit --pid N [--duration S] [--interval S] [--json] [--signal SIG]
 *
 * This file is the loader and the report. It owns the order of the attach
 * (tracepoints first, then the iter/task pass that seeds the threads that
 * already exist, then the USDT probes of libgoro when the target maps it),
 * the user-space view of the cgroup (quota, period, cpu.stat, read from
 * cgroupfs at both ends) and the verdicts. The kernel side and the meaning of
 * each counter are described in goro_audit.bpf.c; the user guide is
 * docs/goro-audit.md.
 *
 * Exit status: 0 audit done and no verdict failed; 3 audit done and at least
 * one verdict failed; 1 error (no such process, attach failure); 2 usage;
 * 4 not permitted (needs root or CAP_BPF+CAP_PERFMON); 5 the kernel has no BTF.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "goro_audit.h"
#include "goro_audit.skel.h"

#define EXIT_VERDICT 3
#define EXIT_PERM 4
#define EXIT_NOBTF 5

static struct {
  int pid;
  double duration; /* 0: until the process exits or SIGINT */
  double interval; /* 0: no interval lines */
  bool json;
  int signo;
  double min_block_ms;
  bool verbose;
  const char *btf; /* kernel BTF: /sys/kernel/btf/vmlinux, or --btf PATH */
} opt = {.signo = SIGURG, .min_block_ms = 1.0, .btf = "/sys/kernel/btf/vmlinux"};

static volatile sig_atomic_t stop_requested;
static void on_stop(int sig) {
  (void)sig;
  stop_requested = 1;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap) {
  if (!opt.verbose && level != LIBBPF_WARN) return 0;
  if (!opt.verbose) return 0; /* our own messages say what went wrong */
  return vfprintf(stderr, fmt, ap);
}

static void die(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("goro-audit: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(code);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *f) {
  fputs(
      "usage: goro-audit --pid N [--duration S] [--interval S] [--json] [--signal SIG]\n"
      "                  [--min-block MS] [--btf PATH] [--verbose]\n"
      "Verify a live process from the kernel side: its threads, the CFS throttling of its\n"
      "cgroup and the preemption signals (SIGURG) it receives; for goro programs, compare\n"
      "with the runtime's own view (libgoro's USDT probes).\n"
      "  --pid N        process to audit (required)\n"
      "  --duration S   stop after S seconds (default: when the process exits or on Ctrl-C)\n"
      "  --interval S   print a summary line every S seconds\n"
      "  --json         machine-readable output (JSON lines; the last one is the report)\n"
      "  --signal SIG   signal audited as the preemption signal (default URG)\n"
      "  --min-block MS shortest unannounced blocking syscall reported (default 1)\n"
      "  --btf PATH     kernel BTF to relocate against (default /sys/kernel/btf/vmlinux)\n"
      "  --verbose      show libbpf's messages\n"
      "Needs root (or CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE) and a kernel with BTF.\n",
      f);
}

static double parse_seconds(const char *s, const char *what) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || v < 0 || v > 1e7) {
    fprintf(stderr, "goro-audit: bad %s '%s': want seconds >= 0\n", what, s);
    exit(2);
  }
  return v;
}

static int parse_signal(const char *s) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s && !*end) return v >= 1 && v < NSIG ? (int)v : -1;
  if (strncasecmp(s, "SIG", 3) == 0) s += 3;
  for (int i = 1; i < NSIG; i++) {
    const char *ab = sigabbrev_np(i);
    if (ab && strcasecmp(ab, s) == 0) return i;
  }
  return -1;
}

static void parse_args(int argc, char **argv) {
  bool have_pid = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      exit(0);
    }
    if (!strcmp(a, "--json")) {
      opt.json = true;
      continue;
    }
    if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
      opt.verbose = true;
      continue;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "goro-audit: %s needs a value (or is unknown)\n", a);
      usage(stderr);
      exit(2);
    }
    const char *v = argv[++i];
    if (!strcmp(a, "--pid") || !strcmp(a, "-p")) {
      char *end;
      errno = 0;
      long p = strtol(v, &end, 10);
      if (errno || end == v || *end || p <= 0 || p > INT_MAX) {
        fprintf(stderr, "goro-audit: bad pid '%s'\n", v);
        exit(2);
      }
      opt.pid = (int)p;
      have_pid = true;
    } else if (!strcmp(a, "--duration") || !strcmp(a, "-d")) {
      opt.duration = parse_seconds(v, "duration");
    } else if (!strcmp(a, "--interval") || !strcmp(a, "-i")) {
      opt.interval = parse_seconds(v, "interval");
    } else if (!strcmp(a, "--signal")) {
      opt.signo = parse_signal(v);
      if (opt.signo < 0) {
        fprintf(stderr, "goro-audit: unknown signal '%s'\n", v);
        exit(2);
      }
    } else if (!strcmp(a, "--btf")) {
      opt.btf = v;
    } else if (!strcmp(a, "--min-block")) {
      opt.min_block_ms = parse_seconds(v, "min-block");
    } else {
      fprintf(stderr, "goro-audit: unknown option '%s'\n", a);
      usage(stderr);
      exit(2);
    }
  }
  if (!have_pid) {
    fprintf(stderr, "goro-audit: --pid is required\n");
    usage(stderr);
    exit(2);
  }
}

/* ---- /proc and cgroupfs --------------------------------------------------- */

static bool read_file(const char *path, char *buf, size_t n) {
  FILE *f = fopen(path, "re");
  if (!f) return false;
  size_t r = fread(buf, 1, n - 1, f);
  buf[r] = '\0';
  fclose(f);
  return true;
}

/* 1 alive, 0 gone or zombie */
static int process_alive(int pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  if (!read_file(path, buf, sizeof buf)) return 0;
  char *rp = strrchr(buf, ')');
  if (!rp || rp[1] != ' ') return 1;
  return rp[2] != 'Z' && rp[2] != 'X';
}

static int proc_task_count(int pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", pid);
  DIR *d = opendir(path);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (isdigit((unsigned char)e->d_name[0])) n++;
  closedir(d);
  return n;
}

struct cg_stat {
  bool ok;
  long long nr_periods, nr_throttled, throttled_ns;
};

struct cgroup_info {
  bool found;
  bool v2;
  char rel[512];  /* path inside the hierarchy */
  char dir[1024]; /* directory in cgroupfs */
  unsigned long long ino;
  long long quota_us; /* -1 unlimited */
  long long period_us;
  struct cg_stat start, end;
};

static void cg_read_stat(struct cgroup_info *cg, struct cg_stat *st) {
  char path[1100], buf[1024];
  memset(st, 0, sizeof *st);
  snprintf(path, sizeof path, "%s/cpu.stat", cg->dir);
  if (!read_file(path, buf, sizeof buf)) return;
  for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
    char k[64];
    long long v;
    if (sscanf(l, "%63s %lld", k, &v) != 2) continue;
    if (!strcmp(k, "nr_periods"))
      st->nr_periods = v;
    else if (!strcmp(k, "nr_throttled"))
      st->nr_throttled = v;
    else if (!strcmp(k, "throttled_time"))
      st->throttled_ns = v; /* v1: ns */
    else if (!strcmp(k, "throttled_usec"))
      st->throttled_ns = v * 1000; /* v2 */
  }
  st->ok = true;
}

static void cg_find(int pid, struct cgroup_info *cg) {
  char path[64], buf[4096];
  memset(cg, 0, sizeof *cg);
  cg->quota_us = -1;
  snprintf(path, sizeof path, "/proc/%d/cgroup", pid);
  if (!read_file(path, buf, sizeof buf)) return;
  char v2rel[512] = "";
  for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
    char *c1 = strchr(l, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) continue;
    *c2 = '\0';
    const char *ctrls = c1 + 1, *rel = c2 + 1;
    if (!*ctrls) {
      snprintf(v2rel, sizeof v2rel, "%s", rel);
      continue;
    }
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", ctrls);
    for (char *save, *c = strtok_r(tmp, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
      if (strcmp(c, "cpu") != 0) continue;
      const char *mounts[] = {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"};
      for (size_t i = 0; i < 2 && !cg->found; i++) {
        char d[1024];
        snprintf(d, sizeof d, "%s%s", mounts[i], rel);
        struct stat sb;
        if (stat(d, &sb) == 0 && S_ISDIR(sb.st_mode)) {
          snprintf(cg->dir, sizeof cg->dir, "%s", d);
          snprintf(cg->rel, sizeof cg->rel, "%s", rel);
          cg->ino = sb.st_ino;
          cg->found = true;
        }
      }
    }
  }
  if (!cg->found && v2rel[0]) {
    const char *roots[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
    for (size_t i = 0; i < 2 && !cg->found; i++) {
      char d[1024], f[1100];
      snprintf(d, sizeof d, "%s%s", roots[i], v2rel);
      snprintf(f, sizeof f, "%s/cpu.max", d);
      struct stat sb;
      if (access(f, R_OK) == 0 && stat(d, &sb) == 0) {
        snprintf(cg->dir, sizeof cg->dir, "%s", d);
        snprintf(cg->rel, sizeof cg->rel, "%s", v2rel);
        cg->ino = sb.st_ino;
        cg->found = cg->v2 = true;
      }
    }
  }
  if (!cg->found) return;
  char f[1100];
  if (cg->v2) {
    snprintf(f, sizeof f, "%s/cpu.max", cg->dir);
    if (read_file(f, buf, sizeof buf)) {
      char q[32];
      long long p;
      if (sscanf(buf, "%31s %lld", q, &p) == 2) {
        cg->quota_us = strcmp(q, "max") ? atoll(q) : -1;
        cg->period_us = p;
      }
    }
  } else {
    snprintf(f, sizeof f, "%s/cpu.cfs_quota_us", cg->dir);
    if (read_file(f, buf, sizeof buf)) cg->quota_us = atoll(buf);
    snprintf(f, sizeof f, "%s/cpu.cfs_period_us", cg->dir);
    if (read_file(f, buf, sizeof buf)) cg->period_us = atoll(buf);
  }
}

/* ---- the runtime view: libgoro's USDT probes ------------------------------ */

struct probe_def {
  const char *name;
  struct bpf_program *prog;
  struct bpf_link *link;
};

struct runtime_view {
  bool available;
  char reason[PATH_MAX + 256];
  char path[PATH_MAX];
  int attached, missing;
  char missing_names[256];
};

static bool find_libgoro(int pid, char *out, size_t n) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/maps", pid);
  FILE *f = fopen(path, "re");
  if (!f) return false;
  char line[PATH_MAX + 128];
  bool found = false;
  while (!found && fgets(line, sizeof line, f)) {
    char *p = strchr(line, '/');
    if (!p) continue;
    p[strcspn(p, "\n")] = '\0';
    const char *base = strrchr(p, '/') + 1;
    if (strncmp(base, "libgoro.so", 10) == 0) {
      snprintf(out, n, "%s", p);
      found = true;
    }
  }
  fclose(f);
  return found;
}

/* attach every goro:* probe found in `bin`; returns how many attached */
static int attach_usdt_all(struct probe_def *pd, size_t np, int pid, const char *bin,
                           struct runtime_view *rv) {
  int n = 0;
  rv->missing = 0;
  rv->missing_names[0] = '\0';
  for (size_t i = 0; i < np; i++) {
    pd[i].link = bpf_program__attach_usdt(pd[i].prog, pid, bin, "goro", pd[i].name, NULL);
    if (pd[i].link) {
      n++;
    } else {
      rv->missing++;
      size_t l = strlen(rv->missing_names);
      snprintf(rv->missing_names + l, sizeof rv->missing_names - l, "%s%s", l ? "," : "",
               pd[i].name);
    }
  }
  return n;
}

static void detach_all(struct probe_def *pd, size_t np) {
  for (size_t i = 0; i < np; i++) {
    bpf_link__destroy(pd[i].link);
    pd[i].link = NULL;
  }
}

/* ---- collecting the results ----------------------------------------------- */

static int run_iter(struct goro_audit_bpf *skel, int pass) {
  skel->bss->iter_pass = (__u32)pass;
  DECLARE_LIBBPF_OPTS(bpf_iter_attach_opts, o);
  union bpf_iter_link_info li;
  memset(&li, 0, sizeof li);
  li.task.pid = (__u32)opt.pid;
  o.link_info = &li;
  o.link_info_len = sizeof li;
  struct bpf_link *l = bpf_program__attach_iter(skel->progs.audit_iter, &o);
  if (!l) return -errno;
  int fd = bpf_iter_create(bpf_link__fd(l));
  if (fd < 0) {
    int e = -errno;
    bpf_link__destroy(l);
    return e;
  }
  char buf[256];
  ssize_t r;
  while ((r = read(fd, buf, sizeof buf)) > 0) {
  }
  int e = r < 0 ? -errno : 0;
  close(fd);
  bpf_link__destroy(l);
  return e;
}

static int cmp_thread(const void *a, const void *b) {
  const struct audit_thread *x = a, *y = b;
  return x->tid < y->tid ? -1 : x->tid > y->tid;
}

static struct audit_thread *collect_threads(int fd, size_t *n) {
  size_t cap = 64, len = 0;
  struct audit_thread *v = malloc(cap * sizeof *v);
  if (!v) die(1, "out of memory");
  __u32 key, next;
  __u32 *kp = NULL;
  while (bpf_map_get_next_key(fd, kp, &next) == 0) {
    if (len == cap) {
      cap *= 2;
      struct audit_thread *nv = realloc(v, cap * sizeof *v);
      if (!nv) die(1, "out of memory");
      v = nv;
    }
    if (bpf_map_lookup_elem(fd, &next, &v[len]) == 0) len++;
    key = next;
    kp = &key;
  }
  qsort(v, len, sizeof *v, cmp_thread);
  *n = len;
  return v;
}

struct sysrow {
  __u32 nr;
  struct audit_sys s;
};

static int cmp_sys(const void *a, const void *b) {
  const struct sysrow *x = a, *y = b;
  return x->s.ns > y->s.ns ? -1 : x->s.ns < y->s.ns;
}

static struct sysrow *collect_sys(int fd, size_t *n) {
  size_t cap = 1024, len = 0;
  struct sysrow *v = calloc(cap, sizeof *v);
  if (!v) die(1, "out of memory");
  __u32 key, next, *kp = NULL;
  while (len < cap && bpf_map_get_next_key(fd, kp, &next) == 0) {
    if (bpf_map_lookup_elem(fd, &next, &v[len].s) == 0) v[len++].nr = next;
    key = next;
    kp = &key;
  }
  qsort(v, len, sizeof *v, cmp_sys);
  *n = len;
  return v;
}

static int count_map(int fd) {
  __u32 key, next, *kp = NULL;
  int n = 0;
  while (bpf_map_get_next_key(fd, kp, &next) == 0) {
    n++;
    key = next;
    kp = &key;
  }
  return n;
}

static const char *sys_name(unsigned nr) {
#if defined(__x86_64__)
  static const struct {
    unsigned nr;
    const char *name;
  } t[] = {
      {0, "read"},
      {1, "write"},
      {7, "poll"},
      {17, "pread64"},
      {18, "pwrite64"},
      {19, "readv"},
      {20, "writev"},
      {23, "select"},
      {24, "sched_yield"},
      {34, "pause"},
      {35, "nanosleep"},
      {43, "accept"},
      {42, "connect"},
      {44, "sendto"},
      {45, "recvfrom"},
      {46, "sendmsg"},
      {47, "recvmsg"},
      {61, "wait4"},
      {72, "fcntl"},
      {74, "fsync"},
      {130, "rt_sigsuspend"},
      {128, "rt_sigtimedwait"},
      {202, "futex"},
      {230, "clock_nanosleep"},
      {232, "epoll_wait"},
      {257, "openat"},
      {270, "pselect6"},
      {271, "ppoll"},
      {281, "epoll_pwait"},
      {288, "accept4"},
      {299, "recvmmsg"},
      {307, "sendmmsg"},
      {441, "epoll_pwait2"},
      {9, "mmap"},
      {11, "munmap"},
      {16, "ioctl"},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (t[i].nr == nr) return t[i].name;
#endif
  (void)nr;
  return NULL;
}

/* ---- output helpers ------------------------------------------------------- */

static void print_hist(const char *unit, const __u32 *h, int slots) {
  int last = -1;
  __u32 max = 0;
  for (int i = 0; i < slots; i++)
    if (h[i]) {
      last = i;
      if (h[i] > max) max = h[i];
    }
  if (last < 0) {
    printf("     (no samples)\n");
    return;
  }
  printf("     %-19s : %-8s |%-40s|\n", unit, "count", "distribution");
  for (int i = 0; i <= last; i++) {
    unsigned long long lo = i == 0 ? 0 : 1ull << i, hi = (1ull << (i + 1)) - 1;
    int stars = max ? (int)((unsigned long long)h[i] * 40 / max) : 0;
    char bar[41];
    memset(bar, '*', (size_t)stars);
    bar[stars] = '\0';
    printf("     %8llu -> %-8llu : %-8u |%-40s|\n", lo, hi, h[i], bar);
  }
}

static void json_hist(const __u32 *h, int slots) {
  int last = -1;
  for (int i = 0; i < slots; i++)
    if (h[i]) last = i;
  putchar('[');
  for (int i = 0; i <= last; i++) printf("%s%u", i ? "," : "", h[i]);
  putchar(']');
}

static void json_str(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      printf("\\%c", c);
    else if (c < 0x20)
      printf("\\u%04x", c);
    else
      putchar(c);
  }
  putchar('"');
}

/* ---- verdicts ------------------------------------------------------------- */

enum { V_OK, V_FAIL, V_NA };
struct verdict {
  const char *name;
  int result;
  char evidence[640];
};

static void vset(struct verdict *v, const char *name, int result, const char *fmt, ...) {
  va_list ap;
  v->name = name;
  v->result = result;
  va_start(ap, fmt);
  vsnprintf(v->evidence, sizeof v->evidence, fmt, ap);
  va_end(ap);
}

static const char *vres(int r) { return r == V_OK ? "ok" : r == V_FAIL ? "fail" : "n/a"; }

/* ---- main ----------------------------------------------------------------- */

int main(int argc, char **argv) {
  parse_args(argc, argv);
  setvbuf(stdout, NULL, _IOLBF, 0);

  if (kill(opt.pid, 0) != 0 && errno == ESRCH) die(1, "no such process: pid %d", opt.pid);
  char comm[64] = "?", path[64];
  snprintf(path, sizeof path, "/proc/%d/comm", opt.pid);
  if (read_file(path, comm, sizeof comm)) comm[strcspn(comm, "\n")] = '\0';
  if (!process_alive(opt.pid)) die(1, "pid %d has already exited (zombie)", opt.pid);
  if (access(opt.btf, R_OK) != 0)
    die(EXIT_NOBTF,
        "no kernel BTF (%s: %s); goro-audit's CO-RE probes need a kernel built with "
        "CONFIG_DEBUG_INFO_BTF=y, or its BTF as a file given with --btf PATH",
        opt.btf, strerror(errno));

  libbpf_set_print(libbpf_print);
  struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
  setrlimit(RLIMIT_MEMLOCK, &rl); /* old kernels charge BPF maps to memlock */

  DECLARE_LIBBPF_OPTS(bpf_object_open_opts, oo);
  if (strcmp(opt.btf, "/sys/kernel/btf/vmlinux") != 0) oo.btf_custom_path = opt.btf;
  struct goro_audit_bpf *skel = goro_audit_bpf__open_opts(&oo);
  if (!skel) die(1, "cannot open the BPF object: %s", strerror(errno));
  skel->rodata->target_tgid = (__u32)opt.pid;
  skel->rodata->audit_signo = (__u32)opt.signo;
  skel->rodata->unannounced_min_ns = (__u64)(opt.min_block_ms * 1e6);
  int ncpu = libbpf_num_possible_cpus();
  skel->rodata->nr_cpus = ncpu <= 0 ? 1 : ncpu > AUDIT_MAX_CPUS ? AUDIT_MAX_CPUS : (__u32)ncpu;
  skel->bss->totals.rt_maxprocs = -1;
  int err = goro_audit_bpf__load(skel);
  if (err) {
    int e = errno ? errno : -err;
    if (e == EPERM || e == EACCES)
      die(EXIT_PERM,
          "the kernel refused to load the BPF programs (%s): run goro-audit as root, or give it "
          "CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE (e.g. sudo goro-audit --pid %d)",
          strerror(e), opt.pid);
    die(1,
        "cannot load the BPF programs (%s); the kernel needs BPF, BTF and tp_btf tracepoints "
        "(CONFIG_BPF_SYSCALL, CONFIG_DEBUG_INFO_BTF); rerun with --verbose for libbpf's log",
        strerror(e));
  }

  /* 1. kernel tracepoints */
  struct bpf_program *kprogs[] = {
      skel->progs.audit_fork,       skel->progs.audit_exit,    skel->progs.audit_wakeup,
      skel->progs.audit_wakeup_new, skel->progs.audit_switch,  skel->progs.audit_sys_enter,
      skel->progs.audit_sys_exit,   skel->progs.audit_sig_gen, skel->progs.audit_sig_deliver,
      skel->progs.audit_hrtimer,
  };
  struct bpf_link *klinks[sizeof kprogs / sizeof kprogs[0]] = {0};
  for (size_t i = 0; i < sizeof kprogs / sizeof kprogs[0]; i++) {
    klinks[i] = bpf_program__attach(kprogs[i]);
    if (!klinks[i]) {
      int e = errno;
      die(e == EPERM || e == EACCES ? EXIT_PERM : 1, "cannot attach %s: %s",
          bpf_program__section_name(kprogs[i]), strerror(e));
    }
  }
  /* 2. baseline of the existing threads */
  err = run_iter(skel, 1);
  if (err)
    die(1, "iter/task pass failed: %s (kernel too old for task iterators filtered by pid?)",
        strerror(-err));
  if (skel->bss->totals.at_attach == 0) {
    if (!process_alive(opt.pid)) die(1, "pid %d exited before the audit could attach", opt.pid);
    die(1, "the iter/task pass found no thread of pid %d (is it in another PID namespace?)",
        opt.pid);
  }

  /* 3. the runtime view */
  struct probe_def probes[] = {
      {"thread_start", skel->progs.goro_thread_start, NULL},
      {"thread_exit", skel->progs.goro_thread_exit, NULL},
      {"p_acquire", skel->progs.goro_p_acquire, NULL},
      {"p_release", skel->progs.goro_p_release, NULL},
      {"syscall_enter", skel->progs.goro_syscall_enter, NULL},
      {"syscall_exit", skel->progs.goro_syscall_exit, NULL},
      {"handoff", skel->progs.goro_handoff, NULL},
      {"preempt_signal", skel->progs.goro_preempt_signal, NULL},
      {"maxprocs_change", skel->progs.goro_maxprocs_change, NULL},
      {"g_create", skel->progs.goro_g_create, NULL},
      {"g_exit", skel->progs.goro_g_exit, NULL},
  };
  const size_t nprobes = sizeof probes / sizeof probes[0];
  struct runtime_view rv = {0};
  char exe[PATH_MAX];
  snprintf(path, sizeof path, "/proc/%d/exe", opt.pid);
  ssize_t el = readlink(path, exe, sizeof exe - 1);
  exe[el > 0 ? el : 0] = '\0';
  if (find_libgoro(opt.pid, rv.path, sizeof rv.path)) {
    rv.attached = attach_usdt_all(probes, nprobes, opt.pid, rv.path, &rv);
    if (rv.attached == 0)
      snprintf(rv.reason, sizeof rv.reason,
               "%s has no goro:* USDT probes (built without sys/sdt.h?)", rv.path);
  } else if (el > 0) {
    /* libgoro.a linked into the executable: its probes are in the executable */
    snprintf(rv.path, sizeof rv.path, "%s", exe);
    rv.attached = attach_usdt_all(probes, nprobes, opt.pid, rv.path, &rv);
    if (rv.attached == 0) {
      detach_all(probes, nprobes);
      rv.path[0] = '\0';
      snprintf(rv.reason, sizeof rv.reason,
               "the process does not map libgoro and has no goro:* probes");
    }
  } else {
    snprintf(rv.reason, sizeof rv.reason, "cannot read /proc/%d/exe or maps", opt.pid);
  }
  rv.available = rv.attached > 0 && probes[0].link && probes[1].link;
  if (rv.attached > 0 && !rv.available)
    snprintf(rv.reason, sizeof rv.reason, "%s lacks goro:thread_start/thread_exit", rv.path);

  struct cgroup_info cg;
  cg_find(opt.pid, &cg);
  if (cg.found) cg_read_stat(&cg, &cg.start);

  signal(SIGINT, on_stop);
  signal(SIGTERM, on_stop);
  fprintf(stderr, "goro-audit: attached to pid %d (%s); runtime view: %s%s%s\n", opt.pid, comm,
          rv.available ? "libgoro USDT at " : "unavailable: ", rv.available ? rv.path : rv.reason,
          opt.duration > 0 ? "" : "; Ctrl-C to stop");
  fflush(stderr);

  /* 4. wait */
  struct audit_totals *T = &skel->bss->totals;
  double t0 = now_s(), next_iv = t0 + opt.interval, t_exit = 0;
  bool exited = false;
  __u64 iv_created = 0, iv_exited = 0, iv_periods = 0, iv_gen = 0, iv_dlv = 0;
  while (!stop_requested) {
    double t = now_s();
    if (opt.duration > 0 && t - t0 >= opt.duration) break;
    if (T->group_dead || !process_alive(opt.pid)) {
      exited = true;
      t_exit = t - t0;
      break;
    }
    if (opt.interval > 0 && t >= next_iv) {
      next_iv += opt.interval;
      __u64 gen = 0;
      for (int i = 0; i < SIGRES_N; i++) gen += T->sig_gen[i];
      __u64 live = T->at_attach + T->created - T->exited;
      if (opt.json)
        printf(
            "{\"type\":\"interval\",\"t\":%.3f,\"threads_live\":%llu,\"created\":%llu,\"exited\":%"
            "llu,"
            "\"throttled_periods\":%llu,\"sig_generated\":%llu,\"sig_delivered\":%llu}\n",
            t - t0, (unsigned long long)live, (unsigned long long)(T->created - iv_created),
            (unsigned long long)(T->exited - iv_exited),
            (unsigned long long)(T->throttled_periods - iv_periods),
            (unsigned long long)(gen - iv_gen), (unsigned long long)(T->sig_delivered - iv_dlv));
      else
        printf(
            "%8.3fs threads live %llu (+%llu -%llu)  throttled periods +%llu  sig gen +%llu dlv "
            "+%llu\n",
            t - t0, (unsigned long long)live, (unsigned long long)(T->created - iv_created),
            (unsigned long long)(T->exited - iv_exited),
            (unsigned long long)(T->throttled_periods - iv_periods),
            (unsigned long long)(gen - iv_gen), (unsigned long long)(T->sig_delivered - iv_dlv));
      iv_created = T->created;
      iv_exited = T->exited;
      iv_periods = T->throttled_periods;
      iv_gen = gen;
      iv_dlv = T->sig_delivered;
    }
    usleep(20000);
  }
  double elapsed = now_s() - t0;

  /* 5. final pass: counters of the live threads, the cgroup at the end */
  int proc_tasks = -1;
  skel->bss->stopped = 1; /* freeze: later events would race with the end pass */
  if (!exited) {
    if (run_iter(skel, 2) != 0 || T->at_end == 0) {
      exited = !process_alive(opt.pid);
      if (exited) t_exit = elapsed;
    }
    proc_tasks = proc_task_count(opt.pid);
  }
  if (cg.found) cg_read_stat(&cg, &cg.end);
  bool have_preempt = probes[7].link != NULL, have_psys = probes[2].link && probes[4].link;
  detach_all(probes, nprobes);
  for (size_t i = 0; i < sizeof klinks / sizeof klinks[0]; i++) bpf_link__destroy(klinks[i]);

  size_t nth = 0, nsys = 0;
  struct audit_thread *th = collect_threads(bpf_map__fd(skel->maps.threads), &nth);
  struct sysrow *sys = collect_sys(bpf_map__fd(skel->maps.sys_off), &nsys);
  int sig_inflight = count_map(bpf_map__fd(skel->maps.sig_ts));

  /* derived figures */
  __u64 live_end = exited ? 0 : T->nr_threads_end;
  __u64 rt_ms_live = T->rt_thread_start - T->rt_thread_exit;
  __u64 k_ms_live = 0, created_unannounced = 0, rt_bad = 0, late_exited = 0;
  char rt_bad_ev[256] = "";
  __u32 hist_all[AUDIT_HIST_SLOTS] = {0};
  for (size_t i = 0; i < nth; i++) {
    struct audit_thread *a = &th[i];
    for (int s = 0; s < AUDIT_HIST_SLOTS; s++) hist_all[s] += a->runq_hist[s];
    bool k_alive = exited ? false : (a->flags & AT_ALIVE_AT_END) != 0;
    if (!exited && !k_alive && !(a->flags & AT_EXITED)) late_exited++; /* exited after the stop */
    if ((a->flags & AT_IS_M) && !(a->flags & AT_M_EXITED) && k_alive) k_ms_live++;
    if ((a->flags & AT_CREATED) && !(a->flags & AT_IS_M)) created_unannounced++;
    /* contradictions: the runtime says an M lives but the kernel thread is gone (or the reverse) */
    bool bad = (a->flags & AT_IS_M) && !exited && !(a->flags & AT_M_EXITED) && !k_alive;
    if (bad) {
      rt_bad++;
      size_t l = strlen(rt_bad_ev);
      snprintf(rt_bad_ev + l, sizeof rt_bad_ev - l, " tid %u (M%lld)", a->tid, (long long)a->m_id);
    }
  }
  __u64 gen = 0;
  for (int i = 0; i < SIGRES_N; i++) gen += T->sig_gen[i];
  struct audit_bw *bwa = &T->bw_attach, *bwe = T->bw_end.valid ? &T->bw_end : &T->bw_last;
  bool bw_ok = bwa->valid && bwe->valid && bwa->cgid == bwe->cgid;
  double cpus = cg.found && cg.quota_us > 0 && cg.period_us > 0
                    ? (double)cg.quota_us / (double)cg.period_us
                    : 0;
  struct cg_stat d = {0};
  if (cg.start.ok && cg.end.ok) {
    d.ok = true;
    d.nr_periods = cg.end.nr_periods - cg.start.nr_periods;
    d.nr_throttled = cg.end.nr_throttled - cg.start.nr_throttled;
    d.throttled_ns = cg.end.throttled_ns - cg.start.throttled_ns;
  }

  /* verdicts */
  struct verdict V[4];
  int nv = 0;
  {
    __u64 expect = T->at_attach + T->created - T->exited;
    if (exited) {
      bool ok = T->exited == T->at_attach + T->created;
      vset(&V[nv++], "threads", ok ? V_OK : V_FAIL,
           "process exited after %.2fs: kernel saw %llu threads at attach + %llu created = %llu, "
           "%llu exited",
           t_exit, (unsigned long long)T->at_attach, (unsigned long long)T->created,
           (unsigned long long)(T->at_attach + T->created), (unsigned long long)T->exited);
    } else {
      /* threads born or gone between the stop and the end pass are told apart */
      bool ok = expect + T->late_born - late_exited == T->at_end &&
                T->at_end == T->nr_threads_end && T->untracked == 0;
      char late[128] = "";
      if (T->late_born || late_exited)
        snprintf(late, sizeof late, " (%llu born, %llu gone after the probes stopped)",
                 (unsigned long long)T->late_born, (unsigned long long)late_exited);
      char rt[400] = "";
      if (rv.available) {
        ok = ok && rt_ms_live == k_ms_live && rt_bad == 0;
        snprintf(rt, sizeof rt,
                 "; runtime: %llu Ms started, %llu exited during the audit, %llu Ms live; kernel: "
                 "%llu of them live"
                 "%s%s; %llu threads created without goro:thread_start",
                 (unsigned long long)T->rt_thread_start, (unsigned long long)T->rt_thread_exit,
                 (unsigned long long)rt_ms_live, (unsigned long long)k_ms_live,
                 rt_bad ? "; contradicted by" : "", rt_bad_ev,
                 (unsigned long long)created_unannounced);
      }
      vset(&V[nv++], "threads", ok ? V_OK : V_FAIL,
           "kernel: %llu at attach + %llu created - %llu exited = %llu; iter pass found %llu%s, "
           "signal->nr_threads %llu, /proc/%d/task %d%s%s",
           (unsigned long long)T->at_attach, (unsigned long long)T->created,
           (unsigned long long)T->exited, (unsigned long long)expect, (unsigned long long)T->at_end,
           late, (unsigned long long)T->nr_threads_end, opt.pid, proc_tasks, rt,
           rv.available ? "" : "; runtime view unavailable");
    }
  }
  {
    long long par = rv.available ? (T->rt_maxprocs > 0 ? T->rt_maxprocs : T->rt_max_p_id)
                                 : (long long)T->running_peak;
    const char *what = rv.available ? (T->rt_maxprocs > 0 ? "maxprocs" : "Ps seen")
                                    : "threads on CPU at once (peak)";
    if (cpus <= 0)
      vset(&V[nv++], "maxprocs-vs-quota", V_NA, "no CPU quota on the cgroup%s%s",
           cg.found ? " " : "", cg.found ? cg.rel : " (cgroup not found)");
    else {
      bool over = (double)par > cpus + 0.999 && T->throttled_periods > 0;
      vset(&V[nv++], "maxprocs-vs-quota", over ? V_FAIL : V_OK,
           "%s %lld vs quota %.2f CPUs; %llu throttled periods, %.1f ms throttled", what, par, cpus,
           (unsigned long long)T->throttled_periods, (double)T->throttled_ns / 1e6);
    }
  }
  {
    __u64 lost = T->sig_gen[SIGRES_OVERFLOW] + T->sig_gen[SIGRES_LOSE_INFO];
    __u64 undelivered = T->sig_gen[SIGRES_QUEUED] > T->sig_delivered + (__u64)sig_inflight
                            ? T->sig_gen[SIGRES_QUEUED] - T->sig_delivered - (__u64)sig_inflight
                            : 0;
    __u64 slow = 0;
    for (int s = 14; s < AUDIT_HIST_SLOTS; s++) slow += T->sig_lat_hist[s]; /* >= 16.4 ms */
    char rt[160] = "";
    if (rv.available && have_preempt)
      snprintf(rt, sizeof rt, "; runtime sent %llu (goro:preempt_signal)",
               (unsigned long long)T->rt_preempt_signal);
    if (gen == 0)
      vset(&V[nv++], "preemption-signals", V_NA, "no SIG%s generated for the process%s",
           sigabbrev_np(opt.signo), rt);
    else {
      bool bad = lost || undelivered || (T->sig_lat_n && slow * 100 > T->sig_lat_n);
      vset(&V[nv++], "preemption-signals", bad ? V_FAIL : V_OK,
           "generated %llu (queued %llu, coalesced %llu, ignored %llu, lost %llu), delivered %llu, "
           "in flight %d, undelivered %llu; %llu of %llu took >= 16 ms to deliver%s",
           (unsigned long long)gen, (unsigned long long)T->sig_gen[SIGRES_QUEUED],
           (unsigned long long)T->sig_gen[SIGRES_COALESCED],
           (unsigned long long)T->sig_gen[SIGRES_IGNORED], (unsigned long long)lost,
           (unsigned long long)T->sig_delivered, sig_inflight, (unsigned long long)undelivered,
           (unsigned long long)slow, (unsigned long long)T->sig_lat_n, rt);
    }
  }
  {
    if (!rv.available || !have_psys)
      vset(&V[nv++], "unannounced-syscalls", V_NA,
           "needs goro:p_acquire and goro:syscall_enter (%s)",
           rv.available ? "probes missing" : "runtime view unavailable");
    else {
      char ev[320] = "";
      for (size_t i = 0; i < nth; i++)
        if (th[i].unannounced_n) {
          size_t l = strlen(ev);
          const char *sn =
              th[i].unannounced_sys >= 0 ? sys_name((unsigned)th[i].unannounced_sys) : NULL;
          snprintf(ev + l, sizeof ev - l, "; tid %u: %llu times, longest %.1f ms in %s(%d)",
                   th[i].tid, (unsigned long long)th[i].unannounced_n,
                   (double)th[i].unannounced_max_ns / 1e6, sn ? sn : "syscall",
                   th[i].unannounced_sys);
        }
      vset(&V[nv++], "unannounced-syscalls", T->unannounced ? V_FAIL : V_OK,
           "%llu blocking syscalls >= %.1f ms while holding a P without goro:syscall_enter%s",
           (unsigned long long)T->unannounced, opt.min_block_ms, ev);
    }
  }
  int failed = 0;
  for (int i = 0; i < nv; i++) failed += V[i].result == V_FAIL;

  const char *via = T->throttle_via == 1   ? "task_struct::throttled"
                    : T->throttle_via == 2 ? "cfs_rq->throttle_count"
                                           : "-";
  if (opt.json) {
    printf("{\"type\":\"report\",\"pid\":%d,\"comm\":", opt.pid);
    json_str(comm);
    printf(",\"duration_s\":%.3f,\"exited\":%s,\"exited_after_s\":%.3f", elapsed,
           exited ? "true" : "false", exited ? t_exit : 0.0);
    printf(",\"runtime\":{\"available\":%s,\"reason\":", rv.available ? "true" : "false");
    json_str(rv.available ? "" : rv.reason);
    printf(",\"library\":");
    json_str(rv.path);
    printf(",\"probes_attached\":%d,\"probes_missing\":", rv.attached);
    json_str(rv.attached ? rv.missing_names : "");
    printf(
        ",\"thread_start\":%llu,\"thread_exit\":%llu,\"ms_live\":%llu,\"kernel_ms_live\":%llu,"
        "\"created_unannounced\":%llu,\"p_acquire\":%llu,\"max_p\":%lld,\"maxprocs\":%lld,"
        "\"preempt_signal\":%llu,\"syscall_enter\":%llu,\"syscall_exit\":%llu,\"handoff\":%llu,"
        "\"g_create\":%llu,\"g_exit\":%llu}",
        (unsigned long long)T->rt_thread_start, (unsigned long long)T->rt_thread_exit,
        (unsigned long long)rt_ms_live, (unsigned long long)k_ms_live,
        (unsigned long long)created_unannounced, (unsigned long long)T->rt_p_acquire,
        (long long)T->rt_max_p_id, (long long)T->rt_maxprocs,
        (unsigned long long)T->rt_preempt_signal, (unsigned long long)T->rt_syscall_enter,
        (unsigned long long)T->rt_syscall_exit, (unsigned long long)T->rt_handoff,
        (unsigned long long)T->rt_g_create, (unsigned long long)T->rt_g_exit);
    printf(
        ",\"threads\":{\"at_attach\":%llu,\"created\":%llu,\"exited\":%llu,\"live\":%llu,"
        "\"peak\":%llu,\"iter_end\":%llu,\"missed_switch_in\":%llu,\"late_born\":%llu,"
        "\"late_exited\":%llu,\"proc_task\":%d,\"untracked\":%llu,\"running_peak\":%llu,"
        "\"runq_hist_us\":",
        (unsigned long long)T->at_attach, (unsigned long long)T->created,
        (unsigned long long)T->exited, (unsigned long long)live_end, (unsigned long long)T->peak,
        (unsigned long long)T->at_end, (unsigned long long)T->missed_switch_in,
        (unsigned long long)T->late_born, (unsigned long long)late_exited, proc_tasks,
        (unsigned long long)T->untracked, (unsigned long long)T->running_peak);
    json_hist(hist_all, AUDIT_HIST_SLOTS);
    printf(",\"list\":[");
    for (size_t i = 0; i < nth; i++) {
      struct audit_thread *a = &th[i];
      printf("%s{\"tid\":%u,\"comm\":", i ? "," : "", a->tid);
      json_str(a->comm);
      printf(
          ",\"origin\":\"%s\",\"alive\":%s,\"vcsw\":%llu,\"ivcsw\":%llu,\"oncpu_ns\":%llu,\"runq_"
          "ns\":%llu,"
          "\"runq_n\":%llu,\"throttle_outs\":%llu,\"throttled_ns\":%llu,\"sig_queued\":%llu,"
          "\"sig_coalesced\":%llu,\"sig_ignored\":%llu,\"sig_delivered\":%llu,\"m_id\":%lld,"
          "\"rt_preempt_sent\":%llu,\"runq_hist_us\":",
          a->flags & AT_CREATED ? "created" : "attach",
          !exited && (a->flags & AT_ALIVE_AT_END) ? "true" : "false",
          (unsigned long long)(a->nvcsw_end - a->nvcsw_base),
          (unsigned long long)(a->nivcsw_end - a->nivcsw_base), (unsigned long long)a->oncpu_ns,
          (unsigned long long)a->runq_ns, (unsigned long long)a->runq_n,
          (unsigned long long)a->throttle_outs, (unsigned long long)a->throttled_ns,
          (unsigned long long)a->sig_gen[SIGRES_QUEUED],
          (unsigned long long)a->sig_gen[SIGRES_COALESCED],
          (unsigned long long)a->sig_gen[SIGRES_IGNORED], (unsigned long long)a->sig_delivered,
          (long long)a->m_id, (unsigned long long)a->rt_preempt_sent);
      json_hist(a->runq_hist, AUDIT_HIST_SLOTS);
      putchar('}');
    }
    printf("]}");
    printf(",\"throttle\":{\"via\":\"%s\",\"cgroup\":", via);
    json_str(cg.found ? cg.rel : "");
    printf(
        ",\"cgroup_ino\":%llu,\"kernel_cgid\":%llu,\"quota_us\":%lld,\"period_us\":%lld,\"switch_"
        "outs\":%llu,"
        "\"periods\":%llu,\"throttled_ns\":%llu,\"thread_throttled_ns\":%llu,"
        "\"missed_ends\":%llu",
        cg.ino, (unsigned long long)bwa->cgid, cg.quota_us, cg.period_us,
        (unsigned long long)T->throttle_outs, (unsigned long long)T->throttled_periods,
        (unsigned long long)T->throttled_ns, (unsigned long long)T->thread_throttled_ns,
        (unsigned long long)T->missed_throttle_ends);
    if (bw_ok)
      printf(
          ",\"bw_nr_periods\":%u,\"bw_nr_throttled\":%u,\"bw_throttled_ns\":%llu,\"bw_at\":\"%s\"",
          bwe->nr_periods - bwa->nr_periods, bwe->nr_throttled - bwa->nr_throttled,
          (unsigned long long)(bwe->throttled_time - bwa->throttled_time),
          T->bw_end.valid ? "end" : "last-throttle");
    if (d.ok)
      printf(",\"stat_nr_periods\":%lld,\"stat_nr_throttled\":%lld,\"stat_throttled_ns\":%lld",
             d.nr_periods, d.nr_throttled, d.throttled_ns);
    printf("}");
    printf(
        ",\"signals\":{\"signo\":%d,\"name\":\"SIG%s\",\"generated\":%llu,\"queued\":%llu,"
        "\"ignored\":%llu,"
        "\"coalesced\":%llu,\"overflow\":%llu,\"lose_info\":%llu,\"group\":%llu,\"delivered\":%llu,"
        "\"in_flight\":%d,\"latency_n\":%llu,\"latency_avg_ns\":%llu,\"latency_hist_us\":",
        opt.signo, sigabbrev_np(opt.signo), (unsigned long long)gen,
        (unsigned long long)T->sig_gen[0], (unsigned long long)T->sig_gen[1],
        (unsigned long long)T->sig_gen[2], (unsigned long long)T->sig_gen[3],
        (unsigned long long)T->sig_gen[4], (unsigned long long)T->sig_group,
        (unsigned long long)T->sig_delivered, sig_inflight, (unsigned long long)T->sig_lat_n,
        (unsigned long long)(T->sig_lat_n ? T->sig_lat_ns / T->sig_lat_n : 0));
    json_hist(T->sig_lat_hist, AUDIT_HIST_SLOTS);
    printf("},\"syscalls\":[");
    for (size_t i = 0; i < nsys; i++) {
      const char *sn = sys_name(sys[i].nr);
      printf("%s{\"nr\":%u,\"name\":", i ? "," : "", sys[i].nr);
      json_str(sn ? sn : "");
      printf(",\"n\":%llu,\"ns\":%llu,\"max_ns\":%llu}", (unsigned long long)sys[i].s.n,
             (unsigned long long)sys[i].s.ns, (unsigned long long)sys[i].s.max_ns);
    }
    printf("],\"verdicts\":[");
    for (int i = 0; i < nv; i++) {
      printf("%s{\"name\":\"%s\",\"result\":\"%s\",\"evidence\":", i ? "," : "", V[i].name,
             vres(V[i].result));
      json_str(V[i].evidence);
      putchar('}');
    }
    printf("]}\n");
  } else {
    printf("goro-audit: pid %d (%s), %.2f s", opt.pid, comm, elapsed);
    if (exited)
      printf(" -- the process exited after %.2f s; the report covers what was seen until then",
             t_exit);
    printf("\nruntime view: %s%s%s\n", rv.available ? "goro, USDT probes of " : "unavailable: ",
           rv.available ? rv.path : rv.reason, "");
    if (rv.available && rv.missing)
      printf("  probes not in the library (not checked): %s\n", rv.missing_names);

    printf("\nTHREADS (kernel: sched_process_fork/exit, iter/task at attach and end)\n");
    printf(
        "  at attach %llu, created %llu, exited %llu, live at end %llu, peak %llu, /proc task "
        "count %d\n",
        (unsigned long long)T->at_attach, (unsigned long long)T->created,
        (unsigned long long)T->exited, (unsigned long long)live_end, (unsigned long long)T->peak,
        proc_tasks);
    printf("  %-8s %-16s %-7s %-5s %8s %8s %10s %10s %7s %9s %5s %5s %4s\n", "TID", "COMM",
           "ORIGIN", "ALIVE", "VCSW", "IVCSW", "ONCPU_MS", "RUNQ_MS", "THR_OUT", "THR_MS", "SIGQ",
           "SIGD", "M");
    for (size_t i = 0; i < nth; i++) {
      struct audit_thread *a = &th[i];
      char m[24] = "-";
      if (a->m_id >= 0) snprintf(m, sizeof m, "%lld", (long long)a->m_id);
      printf("  %-8u %-16.16s %-7s %-5s %8llu %8llu %10.2f %10.2f %7llu %9.1f %5llu %5llu %4s\n",
             a->tid, a->comm, a->flags & AT_CREATED ? "created" : "attach",
             !exited && (a->flags & AT_ALIVE_AT_END) ? "yes" : "no",
             (unsigned long long)(a->nvcsw_end - a->nvcsw_base),
             (unsigned long long)(a->nivcsw_end - a->nivcsw_base), (double)a->oncpu_ns / 1e6,
             (double)a->runq_ns / 1e6, (unsigned long long)a->throttle_outs,
             (double)a->throttled_ns / 1e6, (unsigned long long)a->sig_gen[SIGRES_QUEUED],
             (unsigned long long)a->sig_delivered, m);
    }
    printf("  run-queue wait, all threads:\n");
    print_hist("usecs", hist_all, AUDIT_HIST_SLOTS);

    printf("\nCFS THROTTLING (kernel: throttle switch-outs via %s)\n", via);
    if (cg.found)
      printf("  cgroup %s (%s, inode %llu; kernel cgid %llu): quota %lld us / period %lld us%s\n",
             cg.rel, cg.v2 ? "v2" : "v1 cpu", cg.ino, (unsigned long long)bwa->cgid, cg.quota_us,
             cg.period_us, cpus > 0 ? "" : " (no quota)");
    else
      printf("  cgroup with the cpu controller: not found\n");
    if (cpus > 0) printf("  quota = %.2f CPUs\n", cpus);
    printf(
        "  kernel: %llu throttle switch-outs in %llu distinct periods; throttled %.1f ms (CPU "
        "time, as cpu.stat), "
        "%.1f ms summed over threads; up to %llu threads on CPU at once\n",
        (unsigned long long)T->throttle_outs, (unsigned long long)T->throttled_periods,
        (double)T->throttled_ns / 1e6, (double)T->thread_throttled_ns / 1e6,
        (unsigned long long)T->running_peak);
    if (T->missed_throttle_ends)
      printf(
          "  %llu throttled threads' switch-ins never reached the probe: the throttled time may be "
          "off by up to one period for each\n",
          (unsigned long long)T->missed_throttle_ends);
    if (bw_ok)
      printf(
          "  tg->cfs_bandwidth (BTF, attach..%s): nr_periods +%u, nr_throttled +%u, throttled_time "
          "+%.1f ms\n",
          T->bw_end.valid ? "end" : "last throttle", bwe->nr_periods - bwa->nr_periods,
          bwe->nr_throttled - bwa->nr_throttled,
          (double)(bwe->throttled_time - bwa->throttled_time) / 1e6);
    if (d.ok)
      printf(
          "  cpu.stat (cgroupfs, attach..end):   nr_periods +%lld, nr_throttled +%lld, "
          "throttled_time +%.1f ms\n",
          d.nr_periods, d.nr_throttled, (double)d.throttled_ns / 1e6);

    printf("\nPREEMPTION SIGNALS (SIG%s: signal_generate / signal_deliver)\n",
           sigabbrev_np(opt.signo));
    printf(
        "  generated %llu: queued %llu, coalesced %llu, ignored %llu, overflow %llu, lose-info "
        "%llu (%llu to the whole group)\n",
        (unsigned long long)gen, (unsigned long long)T->sig_gen[0],
        (unsigned long long)T->sig_gen[2], (unsigned long long)T->sig_gen[1],
        (unsigned long long)T->sig_gen[3], (unsigned long long)T->sig_gen[4],
        (unsigned long long)T->sig_group);
    printf("  delivered %llu, in flight %d\n", (unsigned long long)T->sig_delivered, sig_inflight);
    printf("  generate -> deliver latency:\n");
    print_hist("usecs", T->sig_lat_hist, AUDIT_HIST_SLOTS);

    printf("\nOFF-CPU TIME BY SYSCALL (blocked inside the syscall)\n");
    if (!nsys)
      printf("  (none)\n");
    else
      printf("  %-18s %8s %12s %10s\n", "SYSCALL", "COUNT", "TOTAL_MS", "MAX_MS");
    for (size_t i = 0; i < nsys && i < 12; i++) {
      const char *sn = sys_name(sys[i].nr);
      char nm[32];
      snprintf(nm, sizeof nm, "%s", sn ? sn : "");
      if (!sn) snprintf(nm, sizeof nm, "nr %u", sys[i].nr);
      printf("  %-18s %8llu %12.2f %10.2f\n", nm, (unsigned long long)sys[i].s.n,
             (double)sys[i].s.ns / 1e6, (double)sys[i].s.max_ns / 1e6);
    }

    if (rv.available) {
      printf("\nRUNTIME VIEW (libgoro USDT)\n");
      printf("  Ms started %llu, exited %llu (live by the runtime: %llu; by the kernel: %llu)\n",
             (unsigned long long)T->rt_thread_start, (unsigned long long)T->rt_thread_exit,
             (unsigned long long)rt_ms_live, (unsigned long long)k_ms_live);
      printf(
          "  maxprocs %lld, Ps seen %lld, preempt signals sent %llu, syscalls %llu/%llu, handoffs "
          "%llu, "
          "goroutines +%llu -%llu\n",
          (long long)T->rt_maxprocs, (long long)T->rt_max_p_id,
          (unsigned long long)T->rt_preempt_signal, (unsigned long long)T->rt_syscall_enter,
          (unsigned long long)T->rt_syscall_exit, (unsigned long long)T->rt_handoff,
          (unsigned long long)T->rt_g_create, (unsigned long long)T->rt_g_exit);
    }

    printf("\nVERDICTS\n");
    for (int i = 0; i < nv; i++)
      printf("  [%-4s] %-21s %s\n",
             V[i].result == V_OK     ? "OK"
             : V[i].result == V_FAIL ? "FAIL"
                                     : "n/a",
             V[i].name, V[i].evidence);
  }
  free(th);
  free(sys);
  goro_audit_bpf__destroy(skel);
  return failed ? EXIT_VERDICT : 0;
}
