/*
 * goro.h: the public C API of goro, a Go-style M:N runtime for C, C++, Rust and Zig.
 *
 * This header is the manual. Every function below is documented in one shape:
 * what it does, @return, the errors it can return, where it may be called from
 * (goroutine, plain thread, both) and the version it appeared in.
 *
 * Conventions
 *  - Names are goro_<noun>_<verb>; handles are opaque goro_<noun>_t.
 *  - Functions that can fail return int: 0 (or a documented non-negative value)
 *    on success, a negative errno value (-EINVAL, -ENOMEM, ...) on failure.
 *    goro_strerror() turns either sign into a message.
 *  - Option structs begin with their own size (set it to sizeof the struct);
 *    fields past the size the caller passes take their defaults, so old
 *    binaries keep working against newer libraries.
 *  - No C++ exception ever crosses this ABI. Exceptions thrown by user code
 *    inside a goroutine are caught at the goroutine's base (see
 *    goro_config_t.exception_policy).
 *  - Every call that can block works both inside a goroutine, where it parks
 *    only the goroutine, and on a plain thread of the host program, where it
 *    blocks that thread. A "plain thread" is any thread goro did not create.
 *  - Every blocking call that takes a deadline has a _ctx twin that takes a
 *    goro_ctx_t * instead and returns the context's error (-ECANCELED or
 *    -ETIMEDOUT) when the context ends the wait (see Contexts).
 *
 * ABI rule: the same SONAME (libgoro.so.0) means a symbol never changes meaning.
 * Symbols are versioned (GORO_0.1, ...); CHANGELOG.md records every addition.
 */
#ifndef GORO_GORO_H
#define GORO_GORO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h> /* FILE, for goro_dump() */
#include <sys/socket.h> /* struct sockaddr, socklen_t (Network I/O) */
#include <sys/types.h>  /* ssize_t */

#define GORO_VERSION_MAJOR 0
#define GORO_VERSION_MINOR 1
#define GORO_VERSION_PATCH 0
/* MAJOR*10000 + MINOR*100 + PATCH, as returned by goro_version(). */
#define GORO_VERSION_NUMBER \
  (GORO_VERSION_MAJOR * 10000 + GORO_VERSION_MINOR * 100 + GORO_VERSION_PATCH)
#define GORO_VERSION_STRING "0.1.0"

#if defined(__GNUC__) || defined(__clang__)
#define GORO_API __attribute__((visibility("default")))
#else
#define GORO_API
#endif

/* Functions never throw; C++ callers get that in the type, as glibc's __THROW does. */
#ifdef __cplusplus
#define GORO_NOEXCEPT noexcept
extern "C" {
#else
#define GORO_NOEXCEPT
#endif

/* goro_ctx_t, a context (see Contexts below), is declared first: blocking
 * calls in several sections take one. */
typedef struct goro_ctx goro_ctx_t;

/* ------------------------------------------------------------------------- */
/* Version and errors                                                         */
/* ------------------------------------------------------------------------- */

/* goro_version() returns GORO_VERSION_NUMBER of the library actually loaded,
 * which may be newer than the header the program was compiled with.
 * @return MAJOR*10000 + MINOR*100 + PATCH. Any thread. Since 0.1. */
GORO_API unsigned goro_version(void) GORO_NOEXCEPT;

/* goro_version_string() returns the loaded library's version as "X.Y.Z".
 * @return a static string. Any thread. Since 0.1. */
GORO_API const char *goro_version_string(void) GORO_NOEXCEPT;

/* goro_strerror() describes an error code returned by any goro function.
 * err may be negative (as returned) or positive. Codes with a goro-specific
 * meaning (for example -ESHUTDOWN: "goro runtime is shut down") get goro's
 * wording; the rest get the C library's description.
 * @return a static, never NULL string. Any thread. Since 0.1. */
GORO_API const char *goro_strerror(int err) GORO_NOEXCEPT;

/* ------------------------------------------------------------------------- */
/* Runtime                                                                    */
/* ------------------------------------------------------------------------- */

/* Largest value goro_maxprocs() accepts. */
#define GORO_MAXPROCS_MAX 1024
/* Smallest and largest goroutine stack sizes accepted (bytes, before rounding
 * up to whole pages). Small stacks: besides the goroutine's own frames, leave
 * room for signal frames (~3.5 KB with AVX-512 state) and for the dynamic
 * linker's lazy binding of a function's first call, which saves the same
 * state on the calling stack; linking with -Wl,-z,now avoids the latter. */
#define GORO_STACK_MIN (16u * 1024u)
#define GORO_STACK_MAX (256u * 1024u * 1024u)

/* What happens when a C++ exception escapes a goroutine's function. */
typedef enum goro_exception_policy {
  /* Print "goroutine N: uncaught exception: <what()>" to stderr and abort(),
   * as an unrecovered panic does in Go and std::thread does in C++. Default. */
  GORO_EXCEPTION_ABORT = 0,
  /* Print the same line, count it, and end only that goroutine; the runtime
   * and every other goroutine keep running. */
  GORO_EXCEPTION_CONTINUE = 1
} goro_exception_policy_t;

/* How a fractional CPU quota (e.g. 1.5 CPUs) becomes a whole maxprocs. A
 * quota below one CPU always gives 1 before goro_config_t.maxprocs_min.
 * See docs/maxprocs.md for the measurements behind the default. */
typedef enum goro_maxprocs_rounding {
  GORO_MAXPROCS_ROUND_DEFAULT = 0, /* the default: currently FLOOR (measured:
                                      docs/maxprocs.md, "Rounding") */
  GORO_MAXPROCS_ROUND_CEIL = 1,    /* round up (Go 1.25): 1.5 CPUs -> 2 */
  GORO_MAXPROCS_ROUND_FLOOR = 2    /* round down (automaxprocs): 1.5 -> 1 */
} goro_maxprocs_rounding_t;

/* goro_config_t configures goro_init(). Zero means "default" in every field.
 * Initialise with GORO_CONFIG_INIT, or memset to 0 and set .size. */
typedef struct goro_config {
  /* sizeof(goro_config_t) as the caller compiled it. Required. */
  size_t size;
  /* Number of Ps (the parallelism limit, Go's GOMAXPROCS), 1..GORO_MAXPROCS_MAX.
   * A value here pins maxprocs (no automatic updates until
   * goro_maxprocs_auto()). 0: the GORO_MAXPROCS environment variable if set
   * (also pinned), else automatic: the CPUs the process may use, from its
   * affinity mask, cpuset and CFS quota, re-read once a second (see "CPU
   * limits and the automatic maxprocs" below). */
  int maxprocs;
  /* What to do with an exception that escapes a goroutine: a
   * goro_exception_policy_t value. */
  int exception_policy;
  /* Default goroutine stack size in bytes, GORO_STACK_MIN..GORO_STACK_MAX,
   * rounded up to whole pages. 0: 64 KiB (256 KiB in sanitizer builds). */
  size_t stack_size;
  /* How many goroutine stacks may carry a guard page at once. Each guarded
   * stack costs two kernel memory mappings out of vm.max_map_count (65530 by
   * default). Stacks beyond the budget come from shared slabs; their overflow
   * is caught, best effort, by a stack-pointer check at every switch and in
   * the fault handler (see docs/design.md, "Stacks").
   * 0: vm.max_map_count / 4. -1: no guard pages at all. */
  long guarded_stacks;
  /* Hard cap on the number of OS threads the runtime runs at once: its
   * worker threads (Ms), including those blocked between
   * goro_syscall_enter() and goro_syscall_exit(), plus the sysmon thread.
   * 2..1048576. At the cap no thread is created: work waits, queued, until a
   * thread is free (a blocking call returns, a goroutine parks or ends).
   * Nothing fails; goro_stats()'s thread_cap_waits counter shows how often
   * it happened. If every thread blocks on something only a queued
   * goroutine would provide, the program deadlocks, as Go's does at its own
   * cap. 0: the GORO_MAX_THREADS environment variable if set, else 10000
   * (Go's limit). See "Blocking system calls". */
  int max_threads;
  /* Signal sysmon sends to the thread of a goroutine that has run too long
   * (see "Preemption"). Any signal but SIGKILL, SIGSTOP, SIGSEGV, SIGBUS,
   * SIGFPE, SIGILL, SIGTRAP, SIGABRT and SIGSYS. 0: SIGURG, as Go. -1: send
   * no signal (no asynchronous preemption; requests are still made and
   * honoured at the goroutine's next preemption point). */
  int preempt_signal;
  /* How long a goroutine may run while other work waits before it is asked
   * to yield, in nanoseconds (values below 100 us count as 100 us).
   * 0: 10 ms (Go's forcePreemptNS). */
  int64_t preempt_ns;
  /* How a fractional CPU quota becomes the automatic maxprocs: a
   * goro_maxprocs_rounding_t value (anything else: -EINVAL). 0: the default
   * (see goro_maxprocs_rounding_t). */
  int maxprocs_rounding;
  /* Lower bound for the automatic maxprocs, 0..GORO_MAXPROCS_MAX (else
   * -EINVAL); it applies after every limit, so it may exceed the CPUs (2
   * gives Go 1.25's rule). Pinned values ignore it. 0: 1. */
  int maxprocs_min;
} goro_config_t;

#define GORO_CONFIG_INIT {sizeof(goro_config_t), 0, 0, 0, 0, 0, 0, 0, 0, 0}

/* goro_init() starts the runtime with the given configuration (NULL: all
 * defaults). The runtime is otherwise started lazily by the first goro_go(),
 * goro_run() or goro_maxprocs() call, with defaults. There is one runtime per
 * process. After goro_shutdown() the runtime is restarted only by goro_init():
 * other calls return -ESHUTDOWN until then.
 * @return 0.
 *   -EINVAL    cfg->size is smaller than sizeof(size_t), or a field is out of range.
 *   -E2BIG     cfg->size is larger than this library's goro_config_t and the
 *              bytes it does not know are not all zero (a newer program asked
 *              for an option this library does not have).
 *   -EALREADY  the runtime is already running.
 *   -EDEADLK   called from inside a goroutine.
 *   -ENOMEM, -EAGAIN  out of memory, or the first thread could not be created.
 * Plain threads only. Thread-safe. Since 0.1. */
GORO_API int goro_init(const goro_config_t *cfg) GORO_NOEXCEPT;

/* goro_shutdown() stops the runtime and frees everything it owns: all its
 * threads are joined, all stacks unmapped.
 * Goroutines that are still running are waited for until they next switch
 * (return, block, yield or sleep); a goroutine that never switches makes
 * goro_shutdown() wait forever. Goroutines still alive after that (parked or
 * runnable) are abandoned: they never run again and their stacks are freed
 * without unwinding. Plain threads blocked in goro_run() return -ESHUTDOWN.
 * @return the number of goroutines abandoned (0 for a clean shutdown).
 *   -EALREADY  the runtime is not running.
 *   -EDEADLK   called from inside a goroutine.
 * Plain threads only. Thread-safe. Since 0.1. */
GORO_API int goro_shutdown(void) GORO_NOEXCEPT;

/* goro_fn is the function a goroutine runs. */
typedef void (*goro_fn)(void *arg);

/* goro_run() runs fn(arg) as a goroutine and waits until it returns: the
 * simplest way into goro (a C program's main can be `return goro_run(...)`).
 * Starts the runtime lazily. Goroutines that fn started keep running after
 * goro_run() returns.
 * @return 0 once fn has returned.
 *   -EINVAL    fn is NULL.
 *   -ESHUTDOWN the runtime is shut down (before or while fn ran).
 *   -ENOMEM, -EAGAIN  as goro_go().
 * Goroutines (parks the caller) and plain threads (blocks). Since 0.1. */
GORO_API int goro_run(goro_fn fn, void *arg) GORO_NOEXCEPT;

/* goro_maxprocs() queries or sets the number of Ps, as runtime.GOMAXPROCS.
 * n == 0 only queries. n > 0 changes it while goroutines run: new Ps start
 * taking work at once; a removed P is given up by its thread at its next
 * scheduling point and its queued goroutines move to the global run queue.
 * n > 0 also pins maxprocs, even when it equals the current value: the
 * automatic updates stop until goro_maxprocs_auto().
 * Starts the runtime lazily.
 * @return the value before the call (>= 1).
 *   -EINVAL    n < 0 or n > GORO_MAXPROCS_MAX.
 *   -ESHUTDOWN the runtime is shut down.
 * Any thread. Since 0.1. */
GORO_API int goro_maxprocs(int n) GORO_NOEXCEPT;

/* goro_num_goroutine() counts the goroutines that exist: running, runnable
 * or parked. A goroutine no longer counted has exited, and everything it
 * wrote is visible to the caller (acquire ordering).
 * @return the count (0 when the runtime is not running). Any thread. Since 0.1. */
GORO_API int goro_num_goroutine(void) GORO_NOEXCEPT;

/* ------------------------------------------------------------------------- */
/* CPU limits and the automatic maxprocs (docs/maxprocs.md)                   */
/* ------------------------------------------------------------------------- */
/* Unless pinned, maxprocs follows what the process may really use:
 * min(CPUs in the affinity mask, CPUs in the cgroup's cpuset, the tightest
 * CFS quota of the process's cpu cgroup and all its ancestors, rounded per
 * goro_config_t.maxprocs_rounding), at least goro_config_t.maxprocs_min.
 * cgroup v1, v2 and hybrid layouts are read, also when the hierarchy is
 * mounted from a non-root cgroup (containers). The runtime re-reads the
 * limits once a second and follows quota, cpuset and affinity changes and
 * moves to another cgroup. A value is pinned (automatic updates stop) by
 * goro_config_t.maxprocs, by the GORO_MAXPROCS environment variable, or by
 * goro_maxprocs(n > 0); goro_maxprocs_auto() unpins. With
 * GORO_DEBUG=maxprocs=1 every change is logged on stderr, and the USDT probe
 * goro:maxprocs_change(old, new, reason) fires on every change. */

/* Which bound decided the automatic maxprocs (goro_cpu_limits_t.limited_by). */
typedef enum goro_cpu_limited_by {
  GORO_CPU_LIMITED_BY_AFFINITY = 1, /* the affinity mask */
  GORO_CPU_LIMITED_BY_CPUSET = 2,   /* the cgroup's cpuset */
  GORO_CPU_LIMITED_BY_QUOTA = 3,    /* the CFS quota */
  GORO_CPU_LIMITED_BY_MIN = 4       /* goro_config_t.maxprocs_min raised it */
} goro_cpu_limited_by_t;

/* Who pinned maxprocs (goro_cpu_limits_t.pinned). */
typedef enum goro_maxprocs_pin {
  GORO_MAXPROCS_PIN_NONE = 0,   /* automatic */
  GORO_MAXPROCS_PIN_CONFIG = 1, /* goro_config_t.maxprocs */
  GORO_MAXPROCS_PIN_ENV = 2,    /* the GORO_MAXPROCS environment variable */
  GORO_MAXPROCS_PIN_API = 3     /* goro_maxprocs(n) */
} goro_maxprocs_pin_t;

/* goro_cpu_limits_t: what goro sees, filled by goro_cpu_limits(). */
typedef struct goro_cpu_limits {
  /* sizeof(goro_cpu_limits_t) as the caller compiled it. Required. */
  size_t size;
  /* CPUs in the process's affinity mask (sched_getaffinity of the process). */
  int affinity_cpus;
  /* CPUs in the effective cpuset of the process's cgroup; 0: none found. */
  int cpuset_cpus;
  /* The tightest CFS quota and its period, in microseconds, over the
   * process's cpu cgroup and every ancestor visible to it; quota_us is -1
   * and period_us 0 when no level has a quota ("max" or -1 everywhere). */
  int64_t quota_us;
  int64_t period_us;
  /* quota_us / period_us in thousandths of a CPU, rounded down (1500 is
   * 1.5 CPUs); -1 when there is no quota. */
  int64_t quota_milli;
  /* The cgroup hierarchy the cpu controller was found on: 1 or 2; 0 when
   * the process is in no cpu cgroup or none could be read. */
  int cgroup_version;
  /* The automatic value now: what maxprocs would be if not pinned. */
  int auto_maxprocs;
  /* The current maxprocs (number of Ps); 0 when the runtime is not running. */
  int maxprocs;
  /* A goro_maxprocs_pin_t: who pinned maxprocs, or GORO_MAXPROCS_PIN_NONE. */
  int pinned;
  /* A goro_cpu_limited_by_t: which bound decided auto_maxprocs. */
  int limited_by;
  /* The effective rounding: GORO_MAXPROCS_ROUND_CEIL or _FLOOR, never
   * _DEFAULT. */
  int rounding;
  /* The effective minimum (goro_config_t.maxprocs_min, or 1). */
  int min;
  /* Automatic changes of maxprocs since the process started. */
  uint64_t auto_changes;
  /* The process's cpu cgroup, as in /proc/self/cgroup (e.g. "/kubepods/x");
   * "" when none. Truncated to 255 bytes. */
  char cgroup[256];
  /* The cgroup the quota came from: cgroup itself or an ancestor; "" when
   * there is no quota. */
  char limit_cgroup[256];
  /* The first problem met reading the limits (a malformed or unreadable
   * file, which then counts as "no limit"); "" when none. */
  char warning[256];
} goro_cpu_limits_t;

/* goro_cpu_limits() reads the CPU limits now and reports them, with the
 * maxprocs goro chose and why. Set lim->size first; fields past the size the
 * caller passes are not written, and bytes past this library's struct are
 * zeroed. Does not start the runtime; it works before goro_init and after
 * goro_shutdown (maxprocs is then 0). The rounding and minimum are those of
 * the last start (defaults before the first).
 * @return 0.
 *   -EINVAL    lim is NULL, or lim->size is smaller than sizeof(size_t) or
 *              larger than 65536.
 * Any thread. Since 0.1.0. */
GORO_API int goro_cpu_limits(goro_cpu_limits_t *lim) GORO_NOEXCEPT;

/* goro_maxprocs_auto() unpins maxprocs (see goro_maxprocs(), GORO_MAXPROCS
 * and goro_config_t.maxprocs) and applies the automatic value at once; the
 * once-a-second re-evaluation resumes. Starts the runtime lazily.
 * @return the new maxprocs (>= 1).
 *   -ESHUTDOWN the runtime is shut down.
 * Any thread. Since 0.1.0. */
GORO_API int goro_maxprocs_auto(void) GORO_NOEXCEPT;

/* ------------------------------------------------------------------------- */
/* Goroutines                                                                 */
/* ------------------------------------------------------------------------- */

/* goro_go_opts_t tunes one goro_go_opts() spawn. Zero means default. */
typedef struct goro_go_opts {
  size_t size;        /* sizeof(goro_go_opts_t). Required. */
  size_t stack_size;  /* GORO_STACK_MIN..GORO_STACK_MAX; 0: the runtime default. */
  const char *name;   /* copied (up to 31 bytes kept); shown in dumps. NULL: none. */
  /* Non-zero: the whole goroutine is async-preemptible, as if fn began with
   * goro_async_preemptible_begin() (see "Preemption"); fn's own code module
   * is the one that may be interrupted. Since 0.1. */
  int async_preemptible;
} goro_go_opts_t;

#define GORO_GO_OPTS_INIT {sizeof(goro_go_opts_t), 0, NULL, 0}

/* goro_go() starts fn(arg) in a new goroutine, as Go's `go` statement.
 * From a goroutine the new one goes to the front of the current P's queue
 * (Go's runnext); from a plain thread it goes to the global run queue. Starts
 * the runtime lazily. From a goroutine it is a preemption point (see
 * "Preemption"): after the spawn, the caller yields if sysmon asked it to,
 * or if its P's local run queue is full (backpressure: a spawning loop runs
 * what it spawned before spawning more; not for a goroutine locked to its
 * thread). Either way it goes to the back of the global run queue.
 * @return 0.
 *   -EINVAL    fn is NULL.
 *   -ENOMEM    no memory for the goroutine or its stack.
 *   -ESHUTDOWN the runtime is shut down.
 *   -EAGAIN    the runtime could not be started (thread creation failed).
 * Any thread. Since 0.1. */
GORO_API int goro_go(goro_fn fn, void *arg) GORO_NOEXCEPT;

/* goro_go_opts() is goro_go() with options. If id is not NULL the new
 * goroutine's id is stored there.
 * @return 0.
 *   -EINVAL    fn or opts is NULL, opts->size is too small, or stack_size is
 *              out of range.
 *   -E2BIG     opts->size is larger than this library's struct and the
 *              unknown bytes are not zero.
 *   others as goro_go().
 * Any thread. Since 0.1. */
GORO_API int goro_go_opts(const goro_go_opts_t *opts, goro_fn fn, void *arg,
                          uint64_t *id) GORO_NOEXCEPT;

/* goro_yield() lets other goroutines run, as runtime.Gosched. The caller stays
 * runnable and goes to the back of its P's run queue. On a plain thread it
 * calls sched_yield().
 * @return 0. Any thread. Since 0.1. */
GORO_API int goro_yield(void) GORO_NOEXCEPT;

/* goro_sleep() pauses the caller for at least ns nanoseconds (CLOCK_MONOTONIC).
 * A goroutine parks on a timer of its P; a plain thread sleeps in
 * clock_nanosleep(). ns <= 0 returns at once.
 * @return 0.
 * Any thread. Since 0.1. */
GORO_API int goro_sleep(int64_t ns) GORO_NOEXCEPT;

/* goro_self() identifies the calling goroutine.
 * @return its id (ids start at 1 and are never reused while the process
 * lives), or 0 on a plain thread. Any thread. Since 0.1. */
GORO_API uint64_t goro_self(void) GORO_NOEXCEPT;

/* goro_lock_thread() wires the calling goroutine to the OS thread it runs on,
 * as runtime.LockOSThread: until the matching goro_unlock_thread() it runs on
 * no other thread and no other goroutine runs on this one. Use it around
 * thread-affine code (thread_local state, OpenGL contexts, setns()). Calls
 * nest. A goroutine that returns while still locked takes its thread with it:
 * the thread exits, as in Go, so state the goroutine left on it cannot leak.
 * On a plain thread it does nothing.
 * @return 0. Any thread. Since 0.1. */
GORO_API int goro_lock_thread(void) GORO_NOEXCEPT;

/* goro_unlock_thread() undoes one goro_lock_thread().
 * @return 0.
 *   -EPERM  the goroutine is not locked to its thread.
 * On a plain thread it does nothing and returns 0. Since 0.1. */
GORO_API int goro_unlock_thread(void) GORO_NOEXCEPT;

/* ------------------------------------------------------------------------- */
/* Blocking system calls                                                      */
/* ------------------------------------------------------------------------- */
/* A goroutine that blocks its thread in a system call (read() on a disk file,
 * a blocking library call, sleep()) also blocks the P it runs on, and with
 * it every goroutine queued there. Announce such calls, as Go's runtime does
 * around every syscall:
 *
 *     goro_syscall_enter();
 *     n = read(fd, buf, len);
 *     goro_syscall_exit();
 *
 * or goro_blocking(fn, arg). On enter the P stays with the thread for a
 * moment; if the call is still running when sysmon next looks (about 20 us)
 * and other work waits, or after 10 ms in any case, sysmon hands the P to
 * another thread (an idle one, or a new one up to goro_config_t.max_threads).
 * On exit the goroutine takes its P back if it is still free, else any idle
 * P; failing both it queues and its thread parks. Short calls therefore cost
 * two atomic operations; long ones cost a thread each, up to the cap.
 * Calls nest (only the outermost pair acts). Between enter and exit the
 * goroutine may still call goro functions: one that parks or yields gives
 * up the syscall state for the switch and takes it back afterwards.
 * A goroutine that returns without goro_syscall_exit() is taken out of the
 * syscall state first. On a plain thread there is no P to hand off: the
 * calls do nothing. goro_lock_thread()ed goroutines may use them: they stay
 * on their thread, only the P moves. */

/* goro_syscall_enter() marks the start of a blocking call (Go's entersyscall).
 * @return 0 (also on a plain thread, where it does nothing).
 *   -EOVERFLOW  nested 2^32-1 deep already.
 * Any thread. Since 0.1. */
GORO_API int goro_syscall_enter(void) GORO_NOEXCEPT;

/* goro_syscall_exit() marks the end of the blocking call begun by the
 * matching goro_syscall_enter(). May park the goroutine until a P is free;
 * a pending preemption request is honoured here.
 * @return 0 (also on a plain thread, where it does nothing).
 *   -EINVAL  the goroutine is not between goro_syscall_enter() and exit.
 * Any thread. Since 0.1. */
GORO_API int goro_syscall_exit(void) GORO_NOEXCEPT;

/* goro_blocking() calls fn(arg) between goro_syscall_enter() and
 * goro_syscall_exit(), and returns fn's result.
 * @return what fn returned.
 *   -EINVAL  fn is NULL.
 * Any thread (on a plain thread it simply calls fn). Since 0.1. */
GORO_API int goro_blocking(int (*fn)(void *arg), void *arg) GORO_NOEXCEPT;

/* ------------------------------------------------------------------------- */
/* Preemption                                                                 */
/* ------------------------------------------------------------------------- */
/* A C compiler inserts no safe points, so goro cannot stop arbitrary code
 * the way Go does. What it does instead (docs/design.md, "Preemption"):
 *  - sysmon asks a goroutine that has run for preempt_ns (10 ms) while other
 *    work waits on its P (queued goroutines, due timers) to yield, and sends
 *    the preemption signal (SIGURG) to its thread;
 *  - the goroutine yields at its next preemption point: goro_yield(),
 *    goro_preempt_point(), goro_syscall_exit(), the end of an
 *    async-preemptible region, the entry of channel send, receive and
 *    select and of goro_mutex_lock(), and goro_go()/goro_go_opts() after
 *    the spawn (so a loop that spawns lets what it spawned run); any call
 *    that parks (sleep, a blocking channel operation, a WaitGroup wait)
 *    yields anyway. A goroutine that yields to a request goes to the back
 *    of the global run queue, as in Go: it runs again after the work
 *    queued before it;
 *  - code the program marks async-preemptible is switched out by the signal
 *    handler at once, wherever it is, and resumed later (maybe on another
 *    thread) with all registers, FP and vector state included, intact;
 *  - a goroutine that leaves a request pending for another whole slice is
 *    counted as ignoring it (goro_preempt_info()), and asked again.
 * The P of a hog that ignores requests is not handed to another thread: the
 * measurements behind that default are in docs/design.md.
 *
 * Async-preemptible code must be pure computation: no locks held, no
 * malloc, no thread_local (the goroutine may resume on another thread), no
 * signal-unsafe library state. The handler only switches while the
 * interrupted instruction lies in the code module (executable or shared
 * object) that began the region; inside goro, libc or any other library it
 * leaves the request for the next preemption point, so calls out of the
 * region stay safe. Code linked statically into the same object as goro
 * cannot be told apart from goro's own and is never switched
 * asynchronously. Asynchronous switches are off with
 * GORO_DEBUG=asyncpreemptoff=1, with preempt_signal = -1, and in
 * ThreadSanitizer builds (TSan delays signals to its own interception
 * points); goro_preempt_info() tells which applies.
 *
 * The signal: a handler is installed once per process for the configured
 * signal. Signals that are not goro's requests (another process, the kernel
 * for out-of-band data, the program's own kill or tgkill) go to the handler
 * that was installed before goro's, with SIG_DFL and SIG_IGN meaning what
 * they mean (SIGURG's default is to ignore it). A program that installs its
 * own handler for the signal after goro started replaces goro's: sysmon
 * notices and sends it nothing more (cooperative requests still work). A
 * request coinciding with a foreign SIGURG to the same thread may merge
 * with it, as standard signals do. With SA_RESTART, most interrupted system
 * calls resume by themselves; those Linux never restarts (nanosleep,
 * epoll_wait, ...) may return EINTR, as in Go. */

/* goro_preempt_point() is an explicit preemption point: if sysmon asked the
 * calling goroutine to yield, it yields now (to the back of the global run
 * queue; see above); otherwise it
 * returns at once (one thread-local read and one load). Put it in long loops
 * that do not otherwise call goro.
 * @return 0. Any thread (no-op on a plain thread). Since 0.1. */
GORO_API int goro_preempt_point(void) GORO_NOEXCEPT;

/* goro_async_preemptible_begin() starts a region in which the calling
 * goroutine may be switched out by the preemption signal at any
 * instruction of the caller's own code module (see above). Regions nest;
 * only the outermost begin records the module.
 * @return 0 (also on a plain thread, where it does nothing).
 *   -EOVERFLOW  nested 2^32-1 deep already.
 * Any thread. Since 0.1. */
GORO_API int goro_async_preemptible_begin(void) GORO_NOEXCEPT;

/* goro_async_preemptible_end() ends one level of the region; at the
 * outermost level a pending request is honoured.
 * @return 0 (also on a plain thread).
 *   -EINVAL  the goroutine is not in an async-preemptible region.
 * Any thread. Since 0.1. */
GORO_API int goro_async_preemptible_end(void) GORO_NOEXCEPT;

/* goro_preempt_info_t: the preemption counters, since the process started. */
typedef struct goro_preempt_info {
  size_t size;                /* sizeof(goro_preempt_info_t). Required. */
  uint64_t signals_sent;      /* preemption signals sysmon sent (tgkill) */
  uint64_t signals_handled;   /* of those, seen by goro's handler */
  uint64_t signals_chained;   /* signals of the same number that were not
                               * goro's and went to the previous handler */
  uint64_t async_switches;    /* goroutines switched out by the handler */
  uint64_t requests_honoured; /* requests the goroutine yielded for */
  uint64_t requests_ignored;  /* requests left pending a whole slice */
  uint64_t self_ignored;      /* requests the calling goroutine ignored since
                               * it started (0 on a plain thread) */
  int signo;                  /* the preemption signal; 0: none */
  int async_enabled;          /* 1 if the handler may switch goroutines out */
} goro_preempt_info_t;

#define GORO_PREEMPT_INFO_INIT {sizeof(goro_preempt_info_t), 0, 0, 0, 0, 0, 0, 0, 0, 0}

/* goro_preempt_info() fills *info (up to info->size bytes) with the
 * preemption counters. Works whether or not the runtime is running.
 * @return 0.
 *   -EINVAL  info is NULL or info->size < sizeof(size_t).
 * Any thread. Since 0.1. */
GORO_API int goro_preempt_info(goro_preempt_info_t *info) GORO_NOEXCEPT;

/* ------------------------------------------------------------------------- */
/* Goroutine-local storage                                                    */
/* ------------------------------------------------------------------------- */
/* Goroutines move between threads at every switch, so C/C++ thread_local is
 * wrong inside them. These keys work like pthread keys but belong to the
 * goroutine: a value set before a switch is there after it, on any thread.
 * Called on a plain thread they act on that thread's own values. */

typedef uint32_t goro_key_t;
typedef void (*goro_key_dtor)(void *value);

/* Largest number of keys that can exist at once. */
#define GORO_KEYS_MAX 1024

/* goro_key_create() makes a new key. Every goroutine and thread starts with
 * NULL for it. When a goroutine returns (or a plain thread exits) with a
 * non-NULL value, dtor(value) runs on it, up to 4 rounds as pthreads do.
 * @return 0 and stores the key in *key.
 *   -EINVAL  key is NULL.
 *   -EAGAIN  GORO_KEYS_MAX keys exist already.
 * Any thread. Since 0.1. */
GORO_API int goro_key_create(goro_key_t *key, goro_key_dtor dtor) GORO_NOEXCEPT;

/* goro_key_delete() deletes a key. Values still set are not destroyed (as
 * pthread_key_delete). A deleted key is never valid again, even if its slot is
 * reused.
 * @return 0.  -EINVAL  key is not a live key. Any thread. Since 0.1. */
GORO_API int goro_key_delete(goro_key_t key) GORO_NOEXCEPT;

/* goro_key_get() reads the caller's value for key.
 * @return the value, or NULL if none was set or key is not a live key.
 * Any thread. Since 0.1. */
GORO_API void *goro_key_get(goro_key_t key) GORO_NOEXCEPT;

/* goro_key_set() sets the caller's value for key.
 * @return 0.  -EINVAL  key is not a live key.  -ENOMEM.
 * Any thread. Since 0.1. */
GORO_API int goro_key_set(goro_key_t key, const void *value) GORO_NOEXCEPT;

/* ------------------------------------------------------------------------- */
/* WaitGroup                                                                  */
/* ------------------------------------------------------------------------- */
/* goro_wg_t waits for a collection of goroutines (or threads) to finish, as
 * Go's sync.WaitGroup. Usable from goroutines and plain threads alike. */

typedef struct goro_wg goro_wg_t;

/* goro_wg_new() creates a WaitGroup with a counter of zero.
 * @return 0 and stores the handle in *wg.  -EINVAL wg is NULL.  -ENOMEM.
 * Any thread. Since 0.1. */
GORO_API int goro_wg_new(goro_wg_t **wg) GORO_NOEXCEPT;

/* goro_wg_free() destroys a WaitGroup. NULL is accepted and ignored.
 * @return 0.
 *   -EBUSY  someone is blocked in goro_wg_wait() on it; nothing is freed.
 * Any thread. Since 0.1. */
GORO_API int goro_wg_free(goro_wg_t *wg) GORO_NOEXCEPT;

/* goro_wg_add() adds delta (which may be negative) to the counter. When the
 * counter reaches zero every waiter is released.
 * @return 0.
 *   -EINVAL  wg is NULL.
 *   -ERANGE  the counter would become negative or overflow; it is unchanged.
 * Any thread. Since 0.1. */
GORO_API int goro_wg_add(goro_wg_t *wg, int64_t delta) GORO_NOEXCEPT;

/* goro_wg_done() is goro_wg_add(wg, -1). Same errors. Since 0.1. */
GORO_API int goro_wg_done(goro_wg_t *wg) GORO_NOEXCEPT;

/* goro_wg_wait() blocks until the counter is zero (returns at once if it is).
 * @return 0.  -EINVAL  wg is NULL.
 * Goroutines (parks) and plain threads (blocks). Since 0.1. */
GORO_API int goro_wg_wait(goro_wg_t *wg) GORO_NOEXCEPT;


/* ------------------------------------------------------------------------- */
/* Sync                                                                       */
/* ------------------------------------------------------------------------- */
/* Go's sync package (Mutex, RWMutex, Cond, Once) and golang.org/x/sync's
 * weighted semaphore. Every one works between goroutines on any P and plain
 * threads in any mix: a goroutine that has to wait parks only itself, a plain
 * thread blocks on a futex.
 *
 * Deadlines are absolute goro_now() times in nanoseconds (see Time below);
 * GORO_NO_DEADLINE waits forever. A deadline already in the past makes a
 * call that would block return -ETIMEDOUT at once; a call that can succeed
 * without blocking succeeds whatever its deadline.
 *
 * Freeing an object someone still uses (holds, waits on, or is returning
 * from) is the caller's bug, as in C; the free functions catch the cases
 * they can see and return -EBUSY without freeing anything. */

typedef struct goro_mutex goro_mutex_t;

/* goro_mutex_new() creates an unlocked mutex (Go's sync.Mutex).
 *
 * Fairness, as Go's: in normal mode waiters queue in FIFO order, but a woken
 * waiter competes with goroutines and threads arriving at that moment, which
 * usually win (they are already running): good throughput, no fairness. A
 * waiter that fails to get the lock for more than 1 ms switches the mutex to
 * starvation mode: unlock then hands the mutex directly to the waiter at the
 * head of the queue, and new arrivals queue at the tail without trying to
 * take it. The mutex goes back to normal mode when the waiter it is handed to
 * is the last one or waited less than 1 ms.
 *
 * The mutex is not owned: any goroutine or thread may unlock it, as in Go.
 * It is not recursive: locking it again from its holder blocks forever (or
 * until the deadline).
 * @return 0 and stores the handle in *m.  -EINVAL m is NULL.  -ENOMEM.
 * Any thread. Since 0.1. */
GORO_API int goro_mutex_new(goro_mutex_t **m) GORO_NOEXCEPT;

/* goro_mutex_free() destroys a mutex. NULL is accepted and ignored.
 * @return 0.
 *   -EBUSY  the mutex is locked or waited on; nothing is freed.
 * Any thread. Since 0.1. */
GORO_API int goro_mutex_free(goro_mutex_t *m) GORO_NOEXCEPT;

/* goro_mutex_lock() locks m, waiting as long as it takes.
 * @return 0.  -EINVAL m is NULL.
 * Goroutines (parks) and plain threads (blocks). Since 0.1. */
GORO_API int goro_mutex_lock(goro_mutex_t *m) GORO_NOEXCEPT;

/* goro_mutex_lock_until() locks m, waiting at most until deadline (absolute
 * goro_now() time; GORO_NO_DEADLINE: forever).
 * @return 0.
 *   -ETIMEDOUT  the deadline passed first; m is not locked by the caller.
 *   -EINVAL     m is NULL.
 * Goroutines (parks) and plain threads (blocks). Since 0.1. */
GORO_API int goro_mutex_lock_until(goro_mutex_t *m, int64_t deadline) GORO_NOEXCEPT;

/* goro_mutex_trylock() locks m if that needs no waiting (as Go's TryLock; it
 * fails in starvation mode, where the mutex belongs to its waiters).
 * @return 0.  -EBUSY m is locked.  -EINVAL m is NULL.
 * Any thread. Since 0.1. */
GORO_API int goro_mutex_trylock(goro_mutex_t *m) GORO_NOEXCEPT;

/* goro_mutex_unlock() unlocks m and lets one waiter (if any) have it: in
 * starvation mode it is handed over, in normal mode the waiter is woken to
 * compete for it. Any goroutine or thread may unlock, not only the locker.
 * @return 0.
 *   -EPERM   m is not locked (Go throws "unlock of unlocked mutex").
 *   -EINVAL  m is NULL.
 * Any thread. Since 0.1. */
GORO_API int goro_mutex_unlock(goro_mutex_t *m) GORO_NOEXCEPT;

typedef struct goro_rwmutex goro_rwmutex_t;

/* goro_rwmutex_new() creates an unlocked reader/writer mutex (Go's
 * sync.RWMutex): any number of readers or one writer.
 *
 * Writers are preferred, as in Go: once a writer waits, new readers wait too
 * (so a steady stream of readers cannot starve it); the readers already in
 * go on until they unlock, then the writer gets the lock. When the writer
 * unlocks, every reader that queued meanwhile gets the lock before the next
 * writer. A reader must not rlock again while it holds a read lock: a writer
 * queued in between makes that deadlock, as in Go. Not owned, as goro_mutex_t.
 * @return 0 and stores the handle in *rw.  -EINVAL rw is NULL.  -ENOMEM.
 * Any thread. Since 0.1. */
GORO_API int goro_rwmutex_new(goro_rwmutex_t **rw) GORO_NOEXCEPT;

/* goro_rwmutex_free() destroys a reader/writer mutex. NULL is ignored.
 * @return 0.
 *   -EBUSY  it is read- or write-locked or waited on; nothing is freed.
 * Any thread. Since 0.1. */
GORO_API int goro_rwmutex_free(goro_rwmutex_t *rw) GORO_NOEXCEPT;

/* goro_rwmutex_rlock() takes a read lock, waiting while a writer holds the
 * lock or waits for it.
 * @return 0.  -EINVAL rw is NULL.
 * Goroutines (parks) and plain threads (blocks). Since 0.1. */
GORO_API int goro_rwmutex_rlock(goro_rwmutex_t *rw) GORO_NOEXCEPT;

/* goro_rwmutex_rlock_until() is goro_rwmutex_rlock() with a deadline
 * (absolute goro_now() time; GORO_NO_DEADLINE: forever).
 * @return 0.  -ETIMEDOUT the deadline passed first (no lock taken).
 *   -EINVAL rw is NULL.
 * Goroutines (parks) and plain threads (blocks). Since 0.1. */
GORO_API int goro_rwmutex_rlock_until(goro_rwmutex_t *rw, int64_t deadline) GORO_NOEXCEPT;

/* goro_rwmutex_tryrlock() takes a read lock if that needs no waiting: it
 * fails while a writer holds the lock or waits for it.
 * @return 0.  -EBUSY it would have to wait.  -EINVAL rw is NULL.
 * Any thread. Since 0.1. */
GORO_API int goro_rwmutex_tryrlock(goro_rwmutex_t *rw) GORO_NOEXCEPT;

/* goro_rwmutex_runlock() drops one read lock; the last reader out lets a
 * waiting writer in.
 * @return 0.
 *   -EPERM   no read lock is held (Go throws "RUnlock of unlocked RWMutex").
 *   -EINVAL  rw is NULL.
 * Any thread. Since 0.1. */
GORO_API int goro_rwmutex_runlock(goro_rwmutex_t *rw) GORO_NOEXCEPT;

/* goro_rwmutex_lock() takes the write lock: waits for the writer ahead (if
 * any) and for every reader holding the lock, while stopping new readers.
 * @return 0.  -EINVAL rw is NULL.
 * Goroutines (parks) and plain threads (blocks). Since 0.1. */
GORO_API int goro_rwmutex_lock(goro_rwmutex_t *rw) GORO_NOEXCEPT;

/* goro_rwmutex_lock_until() is goro_rwmutex_lock() with a deadline
 * (absolute goro_now() time; GORO_NO_DEADLINE: forever). A writer that
 * times out lets in the readers it was holding back.
 * @return 0.  -ETIMEDOUT the deadline passed first (no lock taken).
 *   -EINVAL rw is NULL.
 * Goroutines (parks) and plain threads (blocks). Since 0.1. */
GORO_API int goro_rwmutex_lock_until(goro_rwmutex_t *rw, int64_t deadline) GORO_NOEXCEPT;

/* goro_rwmutex_trylock() takes the write lock if that needs no waiting.
 * @return 0.  -EBUSY it is held (read or write) or waited on.
 *   -EINVAL rw is NULL.
 * Any thread. Since 0.1. */
GORO_API int goro_rwmutex_trylock(goro_rwmutex_t *rw) GORO_NOEXCEPT;

/* goro_rwmutex_unlock() drops the write lock. Readers that queued while it
 * was held get the lock first; otherwise the next writer does.
 * @return 0.
 *   -EPERM   it is not write-locked.
 *   -EINVAL  rw is NULL.
 * Any thread. Since 0.1. */
GORO_API int goro_rwmutex_unlock(goro_rwmutex_t *rw) GORO_NOEXCEPT;

typedef struct goro_cond goro_cond_t;

/* goro_cond_new() creates a condition variable bound to mutex m for its
 * whole life (Go's sync.Cond with L = m). m must outlive it.
 * @return 0 and stores the handle in *c.  -EINVAL c or m is NULL.  -ENOMEM.
 * Any thread. Since 0.1. */
GORO_API int goro_cond_new(goro_cond_t **c, goro_mutex_t *m) GORO_NOEXCEPT;

/* goro_cond_free() destroys a condition variable (not its mutex). NULL is
 * ignored.
 * @return 0.  -EBUSY someone waits on it; nothing is freed.
 * Any thread. Since 0.1. */
GORO_API int goro_cond_free(goro_cond_t *c) GORO_NOEXCEPT;

/* goro_cond_wait() atomically unlocks the mutex and waits for a
 * goro_cond_signal() or goro_cond_broadcast() made after that unlock, then
 * locks the mutex again before returning. The caller must hold the mutex.
 * As in Go, waking does not mean the condition holds: wait in a loop.
 * @return 0 (with the mutex locked).
 *   -EPERM   the mutex is not locked (nothing waited).
 *   -EINVAL  c is NULL.
 * Goroutines (parks) and plain threads (blocks). Since 0.1. */
GORO_API int goro_cond_wait(goro_cond_t *c) GORO_NOEXCEPT;

/* goro_cond_wait_until() is goro_cond_wait() with a deadline (absolute
 * goro_now() time; GORO_NO_DEADLINE: forever). The mutex is locked again
 * on return either way (that may take past the deadline).
 * @return 0 (signalled).
 *   -ETIMEDOUT  the deadline passed first; no signal was consumed.
 *   -EPERM, -EINVAL  as goro_cond_wait().
 * Goroutines (parks) and plain threads (blocks). Since 0.1. */
GORO_API int goro_cond_wait_until(goro_cond_t *c, int64_t deadline) GORO_NOEXCEPT;

/* goro_cond_signal() wakes the longest-waiting waiter, if any. The caller
 * may but need not hold the mutex.
 * @return 0.  -EINVAL c is NULL.
 * Any thread. Since 0.1. */
GORO_API int goro_cond_signal(goro_cond_t *c) GORO_NOEXCEPT;

/* goro_cond_broadcast() wakes every waiter.
 * @return 0.  -EINVAL c is NULL.
 * Any thread. Since 0.1. */
GORO_API int goro_cond_broadcast(goro_cond_t *c) GORO_NOEXCEPT;

/* goro_once_t runs a function exactly once (Go's sync.Once). It needs no
 * constructor or destructor: initialise it with GORO_ONCE_INIT (static,
 * automatic or heap storage); it holds nothing to free. The contents are
 * private. */
typedef struct goro_once {
  uint64_t opaque[4];
} goro_once_t;

#define GORO_ONCE_INIT {{0, 0, 0, 0}}

/* goro_once_do() calls fn(arg) if no goro_once_do() on o has called its fn
 * yet. Callers that arrive while fn runs wait until it has returned, so when
 * goro_once_do() returns the one call has completed and everything it wrote
 * is visible. fn must not throw a C++ exception (it would reach this noexcept
 * function and terminate the program).
 * @return 0 (whether this call ran fn or not).
 *   -EDEADLK  called from inside fn on the same o (Go deadlocks here).
 *   -EINVAL   o or fn is NULL.
 * Goroutines (parks) and plain threads (blocks). Since 0.1. */
GORO_API int goro_once_do(goro_once_t *o, goro_fn fn, void *arg) GORO_NOEXCEPT;

typedef struct goro_sem goro_sem_t;

/* goro_sem_new() creates a weighted semaphore of size units, all free
 * (golang.org/x/sync/semaphore.Weighted).
 *
 * Strictly FIFO: acquirers are served in arrival order, and one that cannot
 * be served yet holds back every later one even if those would fit (a large
 * request is not starved by a stream of small ones).
 * @return 0 and stores the handle in *s.
 *   -EINVAL  s is NULL or size <= 0.
 *   -ENOMEM.
 * Any thread. Since 0.1. */
GORO_API int goro_sem_new(goro_sem_t **s, int64_t size) GORO_NOEXCEPT;

/* goro_sem_free() destroys a semaphore. NULL is ignored.
 * @return 0.  -EBUSY units are held or someone waits; nothing is freed.
 * Any thread. Since 0.1. */
GORO_API int goro_sem_free(goro_sem_t *s) GORO_NOEXCEPT;

/* goro_sem_acquire() takes n units, waiting until they are free and every
 * earlier waiter is served, or until deadline (absolute goro_now() time;
 * GORO_NO_DEADLINE: forever). n == 0 succeeds as soon as no one is ahead.
 * @return 0.
 *   -ETIMEDOUT  the deadline passed first; nothing is taken (and waiters
 *               behind that now fit are served).
 *   -EINVAL     s is NULL, n < 0 or n > size (it could never succeed).
 * Goroutines (parks) and plain threads (blocks). Since 0.1. */
GORO_API int goro_sem_acquire(goro_sem_t *s, int64_t n, int64_t deadline) GORO_NOEXCEPT;

/* goro_sem_try_acquire() takes n units if they are free and no one waits.
 * @return 0.  -EAGAIN it would have to wait.
 *   -EINVAL s is NULL, n < 0 or n > size.
 * Any thread. Since 0.1. */
GORO_API int goro_sem_try_acquire(goro_sem_t *s, int64_t n) GORO_NOEXCEPT;

/* goro_sem_release() gives back n units and serves the waiters at the head
 * of the queue that now fit, in order.
 * @return 0.
 *   -ERANGE  n is more than the units held (x/sync panics); nothing changes.
 *   -EINVAL  s is NULL or n < 0.
 * Any thread. Since 0.1. */
GORO_API int goro_sem_release(goro_sem_t *s, int64_t n) GORO_NOEXCEPT;

/* ------------------------------------------------------------------------- */
/* Time                                                                       */
/* ------------------------------------------------------------------------- */
/* Deadlines are absolute CLOCK_MONOTONIC times in nanoseconds, as libdill's:
 * build one with goro_now() + timeout. GORO_NO_DEADLINE (-1) waits forever;
 * a deadline already in the past makes a call that would block return
 * -ETIMEDOUT at once. */

#define GORO_NO_DEADLINE ((int64_t)-1)
#define GORO_NS ((int64_t)1)
#define GORO_US ((int64_t)1000)
#define GORO_MS ((int64_t)1000000)
#define GORO_SEC ((int64_t)1000000000)

/* goro_now() reads the runtime's clock (CLOCK_MONOTONIC).
 * @return nanoseconds. Any thread. Since 0.1. */
GORO_API int64_t goro_now(void) GORO_NOEXCEPT;

/* ------------------------------------------------------------------------- */
/* Channels                                                                   */
/* ------------------------------------------------------------------------- */
/* goro_chan_t is Go's chan: a typed-by-size FIFO between goroutines and/or
 * plain threads. Elements are copied in and out (elem_size bytes; 0 is
 * allowed, for signal-only channels like Go's chan struct{}).
 *
 * Go's `v, ok := <-ch` maps to goro_chan_recv(): 0 is ok == true; -EPIPE is
 * ok == false (the channel is closed and drained, and *elem is zeroed).
 *
 * Lifetime: a channel is reference counted. goro_chan_make() returns one
 * reference; goro_chan_retain() adds one; goro_chan_release() drops one and
 * frees the channel with the last. Every blocked operation holds its own
 * reference, so releasing a channel that goroutines wait on never frees it
 * under them: they keep waiting (for another holder, their deadline, or a
 * close), exactly as a Go goroutine blocked on a channel no one else can
 * reach. Close, not release, is how to wake them. */

typedef struct goro_chan goro_chan_t;

/* Largest element size and capacity goro_chan_make() accepts. */
#define GORO_CHAN_ELEM_MAX (64u * 1024u)
#define GORO_CHAN_CAP_MAX (1u << 30)

/* goro_chan_make() creates a channel. capacity 0 makes it unbuffered: a send
 * completes only when a receiver takes the value. A buffered channel
 * allocates its buffer at once: capacity * elem_size bytes below 8 slots;
 * from 8 slots on, capacity slots of 8 + elem_size bytes (elem_size rounded
 * up to a multiple of 8), and a send or receive that neither blocks nor
 * wakes anyone then takes no lock.
 * @return 0 and stores the handle in *ch.
 *   -EINVAL  ch is NULL, elem_size > GORO_CHAN_ELEM_MAX or
 *            capacity > GORO_CHAN_CAP_MAX.
 *   -ENOMEM.
 * Any thread. Since 0.1. */
GORO_API int goro_chan_make(goro_chan_t **ch, size_t elem_size, size_t capacity) GORO_NOEXCEPT;

/* goro_chan_retain() adds a reference. @return 0. -EINVAL ch is NULL. Since 0.1. */
GORO_API int goro_chan_retain(goro_chan_t *ch) GORO_NOEXCEPT;

/* goro_chan_release() drops a reference; the last frees the channel and any
 * values still buffered. NULL is accepted and ignored. @return 0. Since 0.1. */
GORO_API int goro_chan_release(goro_chan_t *ch) GORO_NOEXCEPT;

/* goro_chan_send() copies *elem into the channel, blocking until there is
 * room or a receiver (unbuffered), the deadline passes, or the channel is
 * closed.
 * @return 0.
 *   -EPIPE      the channel is closed (before or during the wait).
 *   -ETIMEDOUT  the deadline passed first.
 *   -EINVAL     ch is NULL, or elem is NULL while elem_size > 0.
 * Goroutines (parks) and plain threads (blocks). Since 0.1. */
GORO_API int goro_chan_send(goro_chan_t *ch, const void *elem, int64_t deadline) GORO_NOEXCEPT;

/* goro_chan_recv() takes the next value into *elem (elem may be NULL to drop
 * it), blocking until one arrives, the deadline passes, or the channel is
 * closed and drained.
 * @return 0.
 *   -EPIPE      closed and drained; *elem is zeroed.
 *   -ETIMEDOUT  the deadline passed first.
 *   -EINVAL     ch is NULL.
 * Goroutines (parks) and plain threads (blocks). Since 0.1. */
GORO_API int goro_chan_recv(goro_chan_t *ch, void *elem, int64_t deadline) GORO_NOEXCEPT;

/* goro_chan_try_send() / goro_chan_try_recv() never block.
 * @return 0, -EAGAIN if the operation would block, or as send/recv.
 * Any thread. Since 0.1. */
GORO_API int goro_chan_try_send(goro_chan_t *ch, const void *elem) GORO_NOEXCEPT;
GORO_API int goro_chan_try_recv(goro_chan_t *ch, void *elem) GORO_NOEXCEPT;

/* goro_chan_close() closes the channel: every blocked receiver and sender
 * wakes (receivers with -EPIPE once the buffer is drained, senders with
 * -EPIPE); later sends fail with -EPIPE; receives drain the buffer first.
 * @return 0.  -EPIPE already closed (Go panics here).  -EINVAL ch is NULL.
 * Any thread. Since 0.1. */
GORO_API int goro_chan_close(goro_chan_t *ch) GORO_NOEXCEPT;

/* goro_chan_len() / goro_chan_cap(): values buffered now (a send that is
 * completing counts; racy by nature, as Go's len) / the capacity.
 * @return the count, or -EINVAL if ch is NULL. Any thread. Since 0.1. */
GORO_API int goro_chan_len(goro_chan_t *ch) GORO_NOEXCEPT;
GORO_API int goro_chan_cap(goro_chan_t *ch) GORO_NOEXCEPT;

/* ------------------------------------------------------------------------- */
/* select                                                                     */
/* ------------------------------------------------------------------------- */

typedef enum goro_select_op { GORO_SELECT_RECV = 0, GORO_SELECT_SEND = 1 } goro_select_op_t;

/* One case of goro_select(). */
typedef struct goro_select_case {
  goro_chan_t *ch;  /* NULL: the case is never ready (as a nil channel in Go) */
  int op;           /* GORO_SELECT_RECV or GORO_SELECT_SEND */
  void *elem;       /* send: the value to copy in; recv: where to copy out (may be NULL) */
  int result;       /* out, for the chosen case: 0, or -EPIPE (closed) */
} goro_select_case_t;

/* Largest number of cases goro_select() accepts. */
#define GORO_SELECT_MAX 65536

/* Flag for goro_select(): do not block; return -EAGAIN if no case is ready
 * (Go's select with a default clause). */
#define GORO_SELECT_NONBLOCK 1

/* goro_select() waits until one of the cases can proceed and performs it, as
 * Go's select. Among cases ready at once it picks uniformly at random.
 * A receive from a closed channel, or a send to one, is ready: the case is
 * chosen and its result is -EPIPE.
 * @return the index of the chosen case.
 *   -EAGAIN     GORO_SELECT_NONBLOCK and no case was ready.
 *   -ETIMEDOUT  the deadline passed first.
 *   -EINVAL     cases is NULL with n > 0, n > GORO_SELECT_MAX, an op is
 *               invalid, or a send case has a NULL elem with elem_size > 0.
 *   -ENOMEM.
 * With n == 0 and no deadline it blocks forever, as an empty Go select.
 * Goroutines (parks) and plain threads (blocks). Since 0.1. */
GORO_API int goro_select(goro_select_case_t *cases, size_t n, int flags,
                         int64_t deadline) GORO_NOEXCEPT;

/* ------------------------------------------------------------------------- */
/* Timers                                                                     */
/* ------------------------------------------------------------------------- */

/* goro_after() returns a new channel (elem_size 8, capacity 1) that receives
 * the firing time (int64_t, goro_now() units) once, ns from now, as Go's
 * time.After. The caller owns one reference; release it when done (the
 * timer holds its own until it fires).
 * @return 0.  -EINVAL ch is NULL or ns < 0.  -ENOMEM.  -ESHUTDOWN.
 * Any thread. Since 0.1. */
GORO_API int goro_after(goro_chan_t **ch, int64_t ns) GORO_NOEXCEPT;

/* goro_ticker_t delivers the time every period on a channel, as time.Ticker.
 * The channel has capacity 1: a slow reader misses ticks rather than
 * queueing them. */
typedef struct goro_ticker goro_ticker_t;

/* goro_ticker_new() starts a ticker.
 * @return 0.  -EINVAL t is NULL or period_ns <= 0.  -ENOMEM.  -ESHUTDOWN.
 * Any thread. Since 0.1. */
GORO_API int goro_ticker_new(goro_ticker_t **t, int64_t period_ns) GORO_NOEXCEPT;

/* goro_ticker_chan() returns the ticker's channel (borrowed: valid until
 * goro_ticker_free; retain it to keep it longer). NULL if t is NULL. */
GORO_API goro_chan_t *goro_ticker_chan(goro_ticker_t *t) GORO_NOEXCEPT;

/* goro_ticker_stop() stops the ticks; a tick already buffered stays.
 * @return 0.  -EALREADY already stopped.  -EINVAL t is NULL. Since 0.1. */
GORO_API int goro_ticker_stop(goro_ticker_t *t) GORO_NOEXCEPT;

/* goro_ticker_free() stops the ticker if needed and frees it (its channel
 * lives on while someone else retains it). NULL is ignored. @return 0. */
GORO_API int goro_ticker_free(goro_ticker_t *t) GORO_NOEXCEPT;

/* ------------------------------------------------------------------------- */
/* Network I/O                                                                */
/* ------------------------------------------------------------------------- */
/* File-descriptor I/O that parks the goroutine, not the thread, as Go's net
 * and os packages do. Each call first tries its system call on the fd and
 * waits only when the fd is not ready (EAGAIN):
 *  - in a goroutine the goroutine parks on the netpoller (one epoll instance
 *    shared by the runtime); its thread runs other goroutines meanwhile;
 *  - on a plain thread the thread blocks in ppoll(2). No runtime is needed:
 *    these calls work before goro_init() and after goro_shutdown() there.
 * Every call sets O_NONBLOCK on the fd's open file the first time goro sees
 * it (that flag is shared with dup()s of the fd and with other processes
 * holding the same file). Deadlines are absolute goro_now() times or
 * GORO_NO_DEADLINE; a deadline already past makes a call time out only if it
 * would have to wait.
 *
 * Rule: close an fd that goro has waited on with goro_close(), not close(2).
 * goro keeps per-fd state (its epoll registration, its waiters) under the fd
 * number, and only goro_close() (or a new fd from goro_accept(), or
 * goro_connect() on a fresh socket) tells it the file behind the number
 * changed. A goroutine waiting on an fd that is close(2)d elsewhere is not
 * woken before its deadline.
 *
 * Sockets: writes use send(MSG_NOSIGNAL), so a peer that went away gives
 * -EPIPE, never SIGPIPE. Errors are the system call's, negated (-ECONNRESET,
 * -EPIPE, -ENOTSOCK, ...), plus the ones listed with each function. */

/* Readiness bits for goro_fd_wait() (the same values as poll(2)'s). */
#define GORO_POLLIN 0x001  /* readable (or a peer hung up its sending side) */
#define GORO_POLLOUT 0x004 /* writable */
#define GORO_POLLERR 0x008 /* error pending on the fd (returned, never asked for) */
#define GORO_POLLHUP 0x010 /* hung up (returned, never asked for) */

/* goro_fd_wait() waits until fd is ready for events (GORO_POLLIN,
 * GORO_POLLOUT or both) or the deadline passes. Level-triggered, like
 * poll(2): if fd is ready already it returns at once. Does not change the
 * fd's flags.
 * @return the ready bits (> 0): a subset of events, plus GORO_POLLERR /
 *         GORO_POLLHUP if those conditions hold.
 *   -ETIMEDOUT  the deadline passed first.
 *   -EBADF      fd is negative or not open, or goro_close(fd) ran during the
 *               wait (Go's "use of closed network connection").
 *   -EINVAL     events is 0 or has bits other than GORO_POLLIN/GORO_POLLOUT.
 *   -ENOMEM.
 * A regular file is always ready (epoll cannot watch it), as poll(2) says.
 * Goroutines (parks) and plain threads (blocks in ppoll). Since 0.1.0. */
GORO_API int goro_fd_wait(int fd, int events, int64_t deadline) GORO_NOEXCEPT;

/* goro_read() reads up to n bytes from fd into buf, waiting until some are
 * available, as read(2) on a blocking fd (and Go's Conn.Read).
 * @return the number of bytes read (> 0), 0 at end of file (or n == 0).
 *   -ETIMEDOUT  the deadline passed before any byte arrived.
 *   -EBADF      fd is negative or not open, or goro_close(fd) ran meanwhile.
 *   -EINVAL     buf is NULL with n > 0, or n > SSIZE_MAX.
 *   -ENOMEM, or read(2)'s error negated.
 * Reads at most 1 GiB per call. Goroutines (parks) and plain threads
 * (blocks). Since 0.1.0. */
GORO_API ssize_t goro_read(int fd, void *buf, size_t n, int64_t deadline) GORO_NOEXCEPT;

/* goro_write() writes all n bytes of buf to fd, waiting for room as often
 * as needed (Go's Conn.Write loop: a short count is never returned just
 * because the socket buffer filled up).
 * @return n once everything is written. If an error or the deadline stops
 *         it after some bytes went out it returns that count (0 < count < n)
 *         and the error is not reported (a persistent one is reported by the
 *         next call); if nothing went out it returns the error:
 *   -ETIMEDOUT  the deadline passed first.
 *   -EBADF      fd is negative or not open, or goro_close(fd) ran meanwhile.
 *   -EPIPE      the peer closed the connection (no SIGPIPE is raised on
 *               sockets).
 *   -EINVAL     buf is NULL with n > 0, or n > SSIZE_MAX.
 *   -ENOMEM, or write(2)/send(2)'s error negated.
 * Goroutines (parks) and plain threads (blocks). Since 0.1.0. */
GORO_API ssize_t goro_write(int fd, const void *buf, size_t n, int64_t deadline) GORO_NOEXCEPT;

/* goro_recv() is goro_read() through recv(2) with its flags (MSG_PEEK,
 * MSG_WAITALL, ...). With MSG_DONTWAIT it never waits: -EAGAIN instead.
 * @return as goro_read(); -ENOTSOCK if fd is not a socket.
 * Goroutines (parks) and plain threads (blocks). Since 0.1.0. */
GORO_API ssize_t goro_recv(int fd, void *buf, size_t n, int flags,
                           int64_t deadline) GORO_NOEXCEPT;

/* goro_send() is goro_write() through send(2) with its flags; MSG_NOSIGNAL
 * is always added. With MSG_DONTWAIT it never waits: it returns what went
 * out, or -EAGAIN if nothing did.
 * @return as goro_write(); -ENOTSOCK if fd is not a socket.
 * Goroutines (parks) and plain threads (blocks). Since 0.1.0. */
GORO_API ssize_t goro_send(int fd, const void *buf, size_t n, int flags,
                           int64_t deadline) GORO_NOEXCEPT;

/* goro_accept() waits for and accepts a connection on the listening socket
 * fd, as accept(2) (addr/addrlen as there, both may be NULL). The new fd is
 * O_NONBLOCK and O_CLOEXEC (accept4). Several goroutines may accept on one
 * listener at once.
 * Out of fds or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) it does not fail at
 * once and does not spin: it backs off (1 ms, doubling up to 100 ms between
 * tries, parked) and retries, since a server usually recovers when other
 * connections close, as Go's net/http does. The pending connection stays
 * queued meanwhile. When the deadline passes during the back-off it returns
 * that error (-EMFILE ...), not -ETIMEDOUT, so the caller learns why.
 * @return the new fd (>= 0).
 *   -ETIMEDOUT  the deadline passed with no connection to accept.
 *   -EMFILE, -ENFILE, -ENOBUFS, -ENOMEM  still out of resources at the
 *               deadline (see above).
 *   -EBADF      fd is negative or not open, or goro_close(fd) ran meanwhile.
 *   -EINVAL     addr is non-NULL and addrlen NULL, or fd does not listen.
 *   or accept4(2)'s error negated (-ENOTSOCK, ...).
 * Goroutines (parks) and plain threads (blocks). Since 0.1.0. */
GORO_API int goro_accept(int fd, struct sockaddr *addr, socklen_t *addrlen,
                         int64_t deadline) GORO_NOEXCEPT;

/* goro_connect() connects the socket fd to addr, waiting for the handshake
 * (non-blocking connect, then the SO_ERROR outcome), as Go's Dial on a
 * socket it made. Sets O_NONBLOCK.
 * @return 0 once connected.
 *   -ETIMEDOUT  the deadline passed first (the socket is left half-open:
 *               close it).
 *   -ECONNREFUSED, -ENETUNREACH, ...  the connection failed.
 *   -EBADF      fd is negative or not open, or goro_close(fd) ran meanwhile.
 *   -EINVAL     addr is NULL or addrlen is 0.
 *   or connect(2)'s error negated.
 * Goroutines (parks) and plain threads (blocks). Since 0.1.0. */
GORO_API int goro_connect(int fd, const struct sockaddr *addr, socklen_t addrlen,
                          int64_t deadline) GORO_NOEXCEPT;

/* goro_close() closes fd after waking every goroutine and thread waiting on
 * it in any goro call: those return -EBADF (Go's "use of closed network
 * connection"). Then the fd's epoll registration is removed and close(2)
 * runs. Use it instead of close(2) for every fd goro has waited on.
 * @return 0.
 *   -EBADF  fd is negative or not open (a double close).
 *   -EINTR, -EIO  as close(2) (the fd is closed anyway).
 * Any thread. Since 0.1.0. */
GORO_API int goro_close(int fd) GORO_NOEXCEPT;

/* The _ctx twins of the calls above (see Contexts): the deadline is
 * replaced by ctx, whose deadline and cancellation end a wait. Besides the
 * base call's results: -ECANCELED or -ETIMEDOUT (the context's error) when
 * the call had to wait and ctx ended the wait, and -EINVAL when ctx is
 * NULL. As with the deadline, a call that needs no wait succeeds even on a
 * cancelled context. A goroutine is woken at the cancellation; a plain
 * thread (blocked in ppoll, which a context cannot interrupt) notices it
 * within 10 ms. goro_write_ctx/goro_send_ctx report the bytes already sent
 * instead, if any went out. (struct goro_ctx is goro_ctx_t, declared under
 * Contexts below.)
 * Goroutines (park) and plain threads (block). Since 0.1.0. */
GORO_API int goro_fd_wait_ctx(int fd, int events, struct goro_ctx *ctx) GORO_NOEXCEPT;
GORO_API ssize_t goro_read_ctx(int fd, void *buf, size_t n, struct goro_ctx *ctx) GORO_NOEXCEPT;
GORO_API ssize_t goro_write_ctx(int fd, const void *buf, size_t n, struct goro_ctx *ctx) GORO_NOEXCEPT;
GORO_API ssize_t goro_recv_ctx(int fd, void *buf, size_t n, int flags,
                               struct goro_ctx *ctx) GORO_NOEXCEPT;
GORO_API ssize_t goro_send_ctx(int fd, const void *buf, size_t n, int flags,
                               struct goro_ctx *ctx) GORO_NOEXCEPT;
GORO_API int goro_accept_ctx(int fd, struct sockaddr *addr, socklen_t *addrlen,
                             struct goro_ctx *ctx) GORO_NOEXCEPT;
GORO_API int goro_connect_ctx(int fd, const struct sockaddr *addr, socklen_t addrlen,
                              struct goro_ctx *ctx) GORO_NOEXCEPT;

/* ------------------------------------------------------------------------- */
/* Contexts                                                                   */
/* ------------------------------------------------------------------------- */
/* goro_ctx_t carries cancellation and a deadline down a tree of work, as
 * Go's context.Context. A context is cancelled by goro_ctx_cancel(), by its
 * deadline passing (fired by the runtime's timers), or by its parent being
 * cancelled: cancellation reaches every descendant. A child's deadline is
 * the earlier of its own and its parent's.
 *
 * The rule for blocking calls: every goro call that blocks and takes a
 * deadline has a _ctx twin taking a goro_ctx_t * in place of the deadline
 * (goro_chan_send_ctx, goro_chan_recv_ctx, goro_select_ctx, goro_sleep_ctx,
 * goro_mutex_lock_ctx, goro_rwmutex_rlock_ctx, goro_rwmutex_lock_ctx,
 * goro_cond_wait_ctx, goro_sem_acquire_ctx, goro_wg_wait_ctx, and the
 * network calls goro_fd_wait_ctx, goro_read_ctx, ...; goro_pool_submit
 * takes one too). The context gives the
 * call both its deadline and its cancellation: a call that has to wait
 * returns the context's error, -ECANCELED once it is cancelled or
 * -ETIMEDOUT once its deadline has passed, having done nothing (no value
 * sent or taken, no lock or units held). As with deadlines, a call that can
 * complete without waiting completes even if the context is already done.
 * A NULL context is always -EINVAL (there is no implicit background).
 *
 * Lifetime: contexts are reference counted. The with_* constructors return
 * one reference; the caller must goro_ctx_release() it (releasing does not
 * cancel; a released child that is not yet cancelled simply leaves its
 * parent's tree). A child keeps its parent alive. goro_ctx_background() is
 * static: retain and release do nothing to it. Contexts work between plain
 * threads without the runtime, except that a deadline needs the runtime's
 * timers (it is started lazily). */

/* (goro_ctx_t itself is declared near the top of this header.) */

/* goro_ctx_background() returns the root context: never cancelled, no
 * deadline (Go's context.Background()).
 * @return a static, never NULL context. Any thread. Since 0.1. */
GORO_API goro_ctx_t *goro_ctx_background(void) GORO_NOEXCEPT;

/* goro_ctx_with_cancel() makes a child of parent that goro_ctx_cancel() can
 * cancel (context.WithCancel). If parent is already cancelled the child
 * starts cancelled with the parent's error.
 * @return 0 and stores the new context (one reference) in *out.
 *   -EINVAL  parent or out is NULL.
 *   -ENOMEM.
 * Any thread. Since 0.1. */
GORO_API int goro_ctx_with_cancel(goro_ctx_t *parent, goro_ctx_t **out) GORO_NOEXCEPT;

/* goro_ctx_with_deadline() is goro_ctx_with_cancel() plus a deadline
 * (absolute goro_now() time): the context cancels itself with -ETIMEDOUT
 * when it passes (context.WithDeadline). Its deadline is the earlier of
 * this one and the parent's. A deadline already past makes it start
 * cancelled. GORO_NO_DEADLINE (or any negative value) adds none.
 * @return 0 and stores the new context in *out.
 *   -EINVAL     parent or out is NULL.
 *   -ENOMEM.
 *   -ESHUTDOWN  the runtime (needed for the timer) is shut down.
 * Any thread. Since 0.1. */
GORO_API int goro_ctx_with_deadline(goro_ctx_t *parent, int64_t deadline,
                                    goro_ctx_t **out) GORO_NOEXCEPT;

/* goro_ctx_with_timeout() is goro_ctx_with_deadline(parent, goro_now() + ns).
 * @return as goro_ctx_with_deadline(); -EINVAL also for ns < 0.
 * Any thread. Since 0.1. */
GORO_API int goro_ctx_with_timeout(goro_ctx_t *parent, int64_t ns,
                                   goro_ctx_t **out) GORO_NOEXCEPT;

/* goro_ctx_cancel() cancels ctx and all its descendants with -ECANCELED:
 * their done channels close and every _ctx call waiting on any of them
 * returns. Cancelling again does nothing (the first error stays).
 * @return 0.
 *   -EINVAL  ctx is NULL or the background context (it cannot be cancelled).
 * Any thread. Since 0.1. */
GORO_API int goro_ctx_cancel(goro_ctx_t *ctx) GORO_NOEXCEPT;

/* goro_ctx_done() returns a channel (elem_size 0) that is closed when ctx is
 * cancelled, for goro_select (Go's Done()). Borrowed: valid while the caller
 * holds ctx; goro_chan_retain() it to keep it longer; never close it.
 * @return the channel; NULL for the background context (as Go's nil Done:
 * a NULL case in goro_select is never ready) and for a NULL ctx.
 * Any thread. Since 0.1. */
GORO_API goro_chan_t *goro_ctx_done(goro_ctx_t *ctx) GORO_NOEXCEPT;

/* goro_ctx_err() tells whether and why ctx is done (Go's Err()).
 * @return 0 (not done), -ECANCELED (cancelled, itself or through an
 * ancestor) or -ETIMEDOUT (its deadline, or an ancestor's, passed).
 *   -EINVAL  ctx is NULL.
 * Any thread. Since 0.1. */
GORO_API int goro_ctx_err(goro_ctx_t *ctx) GORO_NOEXCEPT;

/* goro_ctx_deadline() stores ctx's deadline (absolute goro_now() time, or
 * GORO_NO_DEADLINE) in *deadline.
 * @return 0.  -EINVAL ctx or deadline is NULL. Any thread. Since 0.1. */
GORO_API int goro_ctx_deadline(goro_ctx_t *ctx, int64_t *deadline) GORO_NOEXCEPT;

/* goro_ctx_retain() adds a reference.
 * @return 0.  -EINVAL ctx is NULL. Any thread. Since 0.1. */
GORO_API int goro_ctx_retain(goro_ctx_t *ctx) GORO_NOEXCEPT;

/* goro_ctx_release() drops a reference; the last one frees the context
 * (without cancelling its children: they keep their own references on it).
 * NULL is ignored. @return 0. Any thread. Since 0.1. */
GORO_API int goro_ctx_release(goro_ctx_t *ctx) GORO_NOEXCEPT;

/* The _ctx twins. Each is its base call with the deadline replaced by ctx,
 * as stated in the rule above; the other results are the base call's.
 * Besides those: -ECANCELED or -ETIMEDOUT (the context's error) when the
 * call had to wait and ctx ended the wait, and -EINVAL when ctx is NULL.
 * Goroutines (park) and plain threads (block). Since 0.1. */
GORO_API int goro_chan_send_ctx(goro_chan_t *ch, const void *elem, goro_ctx_t *ctx) GORO_NOEXCEPT;
GORO_API int goro_chan_recv_ctx(goro_chan_t *ch, void *elem, goro_ctx_t *ctx) GORO_NOEXCEPT;
GORO_API int goro_select_ctx(goro_select_case_t *cases, size_t n, int flags,
                             goro_ctx_t *ctx) GORO_NOEXCEPT;
GORO_API int goro_mutex_lock_ctx(goro_mutex_t *m, goro_ctx_t *ctx) GORO_NOEXCEPT;
GORO_API int goro_rwmutex_rlock_ctx(goro_rwmutex_t *rw, goro_ctx_t *ctx) GORO_NOEXCEPT;
GORO_API int goro_rwmutex_lock_ctx(goro_rwmutex_t *rw, goro_ctx_t *ctx) GORO_NOEXCEPT;
/* goro_cond_wait_ctx() relocks the mutex before returning, also on -ECANCELED. */
GORO_API int goro_cond_wait_ctx(goro_cond_t *c, goro_ctx_t *ctx) GORO_NOEXCEPT;
GORO_API int goro_sem_acquire_ctx(goro_sem_t *s, int64_t n, goro_ctx_t *ctx) GORO_NOEXCEPT;
GORO_API int goro_wg_wait_ctx(goro_wg_t *wg, goro_ctx_t *ctx) GORO_NOEXCEPT;
/* goro_sleep_ctx() sleeps ns nanoseconds unless ctx ends first.
 * @return 0 after the full sleep (at once if ns <= 0); -ECANCELED; -ETIMEDOUT
 * (ctx's deadline came before the end of the sleep; returns at that deadline);
 * -EINVAL ctx is NULL. */
GORO_API int goro_sleep_ctx(int64_t ns, goro_ctx_t *ctx) GORO_NOEXCEPT;

/* goro_task_fn is the work of an errgroup or pool task: ctx is the task's
 * context (borrowed for the call; retain it to keep it), arg the caller's.
 * Return 0 for success, anything else is the task's error. */
typedef int (*goro_task_fn)(goro_ctx_t *ctx, void *arg);

/* ------------------------------------------------------------------------- */
/* errgroup                                                                   */
/* ------------------------------------------------------------------------- */
/* goro_group_t runs tasks in goroutines, waits for them and keeps the first
 * error, as golang.org/x/sync/errgroup with WithContext: the group's context
 * (a child of the parent given to goro_group_new) is cancelled by the first
 * task that fails and by goro_group_wait(). With a limit (SetLimit), at most
 * that many tasks run at once and goro_group_go() waits for a free slot. */

typedef struct goro_group goro_group_t;

/* goro_group_new() creates a group whose context is a child of parent.
 * @return 0 and stores the group in *g.  -EINVAL g or parent is NULL.  -ENOMEM.
 * Any thread. Since 0.1. */
GORO_API int goro_group_new(goro_ctx_t *parent, goro_group_t **g) GORO_NOEXCEPT;

/* goro_group_set_limit() limits the tasks running at once to n (n < 0: no
 * limit, the default). Like SetLimit it may not change while tasks are in
 * the group (Go panics).
 * @return 0.
 *   -EBUSY   tasks are running or waiting in goro_group_go(); nothing changed.
 *   -EINVAL  g is NULL, or n == 0 (every goro_group_go() would wait forever).
 * Any thread. Since 0.1. */
GORO_API int goro_group_set_limit(goro_group_t *g, int n) GORO_NOEXCEPT;

/* goro_group_go() runs fn(group ctx, arg) in a new goroutine, first waiting
 * while the limit is reached (Go's Go). The task runs even if the group's
 * context is already cancelled, as in Go; fn should check it.
 * @return 0.
 *   -EINVAL  g or fn is NULL.
 *   -ENOMEM, -ESHUTDOWN, -EAGAIN  as goro_go() (the task did not start).
 * Goroutines (park) and plain threads (block). Since 0.1. */
GORO_API int goro_group_go(goro_group_t *g, goro_task_fn fn, void *arg) GORO_NOEXCEPT;

/* goro_group_try_go() is goro_group_go() that never waits (Go's TryGo).
 * @return 0.  -EAGAIN the limit is reached (nothing started).  Others as
 * goro_group_go(). Any thread. Since 0.1. */
GORO_API int goro_group_try_go(goro_group_t *g, goro_task_fn fn, void *arg) GORO_NOEXCEPT;

/* goro_group_wait() waits for every task started so far, cancels the group's
 * context and returns the first error (Go's Wait).
 * @return 0 if every task returned 0, else the first non-zero task result.
 *   -EINVAL  g is NULL.
 * Goroutines (park) and plain threads (block). Since 0.1. */
GORO_API int goro_group_wait(goro_group_t *g) GORO_NOEXCEPT;

/* goro_group_ctx() returns the group's context (borrowed: valid until
 * goro_group_free; retain it to keep it longer), or NULL if g is NULL.
 * Any thread. Since 0.1. */
GORO_API goro_ctx_t *goro_group_ctx(goro_group_t *g) GORO_NOEXCEPT;

/* goro_group_free() frees the group (and drops its context). NULL is ignored.
 * @return 0.  -EBUSY tasks are still in the group (call goro_group_wait()
 * first); nothing is freed. Any thread. Since 0.1. */
GORO_API int goro_group_free(goro_group_t *g) GORO_NOEXCEPT;

/* ------------------------------------------------------------------------- */
/* Worker pool                                                                */
/* ------------------------------------------------------------------------- */
/* goro_pool_t: a fixed set of worker goroutines, created once and reused,
 * fed through a bounded queue (seed 003's blueprint). goro_pool_submit()
 * blocks while the queue is full (backpressure); goro_pool_try_submit()
 * says -EAGAIN instead. Each task runs as fn(task ctx, arg); the task
 * context is cancelled when the pool is shut down with GORO_POOL_CANCEL and,
 * with a per-task timeout, when the task overruns it. Results (one per task
 * that ran) go to a callback or a channel.
 *
 * A task that overruns its timeout is "hung": its context is cancelled with
 * -ETIMEDOUT, its result is delivered at once with status -ETIMEDOUT (so
 * whoever waits for it is released and told), it counts in timed_out, and
 * a new worker replaces the hung one so the pool keeps its capacity. The
 * hung task's own return value is discarded whenever it comes; its worker
 * then exits.
 *
 * Keeping a pool from crowding out everything else (CPU-bound vs I/O-bound
 * work): max_running caps how many of the pool's tasks run at once, whatever
 * the number of workers; GORO_POOL_CPU sets it to goro_maxprocs() - 1 (at
 * least 1), so a pool of CPU-bound tasks always leaves a P for the other
 * goroutines, and its workers yield between tasks. I/O-bound pools keep the
 * default (every worker may run). See docs/concurrency.md. */

typedef struct goro_pool goro_pool_t;

/* One task's outcome. */
typedef struct goro_pool_result {
  void *arg;      /* the arg given to submit */
  uint64_t seq;   /* submission number, from 1, in submit order */
  int status;     /* fn's return value, or -ETIMEDOUT (hung) */
} goro_pool_result_t;

/* Result callback: runs on the worker (or, for a hung task, on the pool's
 * supervisor goroutine) right after the task; it should be quick. */
typedef void (*goro_pool_result_fn)(void *user, const goro_pool_result_t *r);

/* Flag for goro_pool_opts_t.flags: a CPU-bound pool (see above). */
#define GORO_POOL_CPU 1

typedef struct goro_pool_opts {
  size_t size;            /* sizeof(goro_pool_opts_t). Required. */
  int workers;            /* worker goroutines, 1..65536. 0: goro_maxprocs(). */
  int queue_cap;          /* queued tasks before submit blocks, 0..GORO_CHAN_CAP_MAX.
                             0: unbuffered (submit waits for a free worker). */
  int64_t task_timeout;   /* ns a task may run before it is hung; 0: none. */
  goro_pool_result_fn on_result;  /* NULL: no callback */
  void *result_user;              /* first argument of on_result */
  goro_chan_t *results;   /* NULL, or a channel with elem_size ==
                             sizeof(goro_pool_result_t) that receives every
                             result (the pool retains it; a worker blocks while
                             it is full: keep reading it) */
  int max_running;        /* tasks running at once; 0: workers */
  int flags;              /* GORO_POOL_CPU */
  goro_ctx_t *parent;     /* parent of the pool's context; NULL: background */
} goro_pool_opts_t;

#define GORO_POOL_OPTS_INIT {sizeof(goro_pool_opts_t), 0, 0, 0, NULL, NULL, NULL, 0, 0, NULL}

/* goro_pool_new() creates a pool and starts its workers.
 * @return 0 and stores the pool in *pool.
 *   -EINVAL  pool or opts NULL, opts->size too small, a field out of range,
 *            results has the wrong elem_size, or flags unknown.
 *   -E2BIG   opts->size is larger than this library's struct and the extra
 *            bytes are not zero.
 *   -ENOMEM, -ESHUTDOWN, -EAGAIN  as goro_go().
 * Any thread. Since 0.1. */
GORO_API int goro_pool_new(const goro_pool_opts_t *opts, goro_pool_t **pool) GORO_NOEXCEPT;

/* goro_pool_submit() queues fn(task ctx, arg), waiting while the queue is
 * full until there is room or ctx ends (the _ctx rule; ctx bounds only the
 * wait, not the task: pass what the task needs in arg).
 * @return 0 (queued).
 *   -ECANCELED, -ETIMEDOUT  ctx ended first; nothing queued.
 *   -EPIPE   the pool is shut down (or shutting down).
 *   -EINVAL  pool, fn or ctx is NULL.
 * Goroutines (park) and plain threads (block). Since 0.1. */
GORO_API int goro_pool_submit(goro_pool_t *pool, goro_ctx_t *ctx, goro_task_fn fn,
                              void *arg) GORO_NOEXCEPT;

/* goro_pool_try_submit() queues the task only if that needs no waiting.
 * @return 0.  -EAGAIN the queue is full.  -EPIPE, -EINVAL as submit.
 * Any thread. Since 0.1. */
GORO_API int goro_pool_try_submit(goro_pool_t *pool, goro_task_fn fn, void *arg) GORO_NOEXCEPT;

/* Shutdown modes. */
#define GORO_POOL_DRAIN 0  /* run everything queued, then stop */
#define GORO_POOL_CANCEL 1 /* cancel the pool's context, drop the queue */

/* goro_pool_shutdown() stops accepting tasks and waits until the workers
 * have stopped: with GORO_POOL_DRAIN after every queued task ran; with
 * GORO_POOL_CANCEL after the running tasks returned (their context is
 * cancelled) and every queued task was dropped without running (dropped
 * tasks produce no result). Idempotent: later calls wait the same way and
 * report the same count; a CANCEL during a DRAIN escalates it. Hung tasks
 * (timed out) are not waited for.
 * @return 0, and if dropped is not NULL stores there how many queued tasks
 * were dropped in total.
 *   -EINVAL  pool is NULL or how is not a mode above.
 * Goroutines (park) and plain threads (block); not from one of the pool's
 * own tasks (-EDEADLK). Since 0.1. */
GORO_API int goro_pool_shutdown(goro_pool_t *pool, int how, uint64_t *dropped) GORO_NOEXCEPT;

/* Counters of a pool. Every submitted task ends up in exactly one of
 * completed, failed, timed_out and dropped. */
typedef struct goro_pool_stats {
  size_t size;         /* sizeof(goro_pool_stats_t), set by the caller */
  uint64_t submitted;  /* accepted by submit/try_submit */
  uint64_t queued;     /* waiting in the queue now */
  uint64_t running;    /* running now (hung ones included) */
  uint64_t completed;  /* returned 0 */
  uint64_t failed;     /* returned non-zero */
  uint64_t timed_out;  /* overran task_timeout (hung) */
  uint64_t dropped;    /* dropped by GORO_POOL_CANCEL */
  uint64_t hung;       /* hung tasks that have not returned yet */
  uint64_t peak_running; /* most tasks seen running at once */
} goro_pool_stats_t;

/* goro_pool_stats() copies the counters (each read atomically, not all at
 * one instant) into *st, up to st->size bytes.
 * @return 0.  -EINVAL pool or st NULL, or st->size < sizeof(size_t).
 * Any thread. Since 0.1. */
GORO_API int goro_pool_stats(goro_pool_t *pool, goro_pool_stats_t *st) GORO_NOEXCEPT;

/* goro_pool_ctx() returns the pool's context (borrowed, valid until
 * goro_pool_free), or NULL if pool is NULL. Any thread. Since 0.1. */
GORO_API goro_ctx_t *goro_pool_ctx(goro_pool_t *pool) GORO_NOEXCEPT;

/* goro_pool_free() frees a pool that was shut down. NULL is ignored. Hung
 * tasks still running keep their share of the pool until they return.
 * @return 0.  -EBUSY the pool is not shut down; nothing is freed.
 * Any thread. Since 0.1. */
GORO_API int goro_pool_free(goro_pool_t *pool) GORO_NOEXCEPT;

/* ------------------------------------------------------------------------- */
/* singleflight                                                               */
/* ------------------------------------------------------------------------- */
/* goro_sf_t suppresses duplicate calls, as golang.org/x/sync/singleflight:
 * while a call for a key is in flight, other callers with the same key wait
 * for it and share its result instead of calling again. */

typedef struct goro_sf goro_sf_t;

/* The function behind a key: store a result in *result, return 0 or an error. */
typedef int (*goro_sf_fn)(void *arg, void **result);

/* goro_sf_new() creates a group. @return 0.  -EINVAL sf NULL.  -ENOMEM.
 * Any thread. Since 0.1. */
GORO_API int goro_sf_new(goro_sf_t **sf) GORO_NOEXCEPT;

/* goro_sf_do() calls fn(arg, &result) unless a call for the same key (keylen
 * bytes; 0 allowed) is in flight, in which case it waits for that call.
 * Either way *result (if not NULL) receives the call's result and *shared
 * (if not NULL) is 1 when the result went to more than one caller.
 * fn must not call goro_sf_do() on the same key (it would wait for itself).
 * @return the call's return value (0 or fn's error).
 *   -EINVAL  sf or fn is NULL, or key is NULL with keylen > 0.
 *   -ENOMEM.
 * Goroutines (park) and plain threads (block). Since 0.1. */
GORO_API int goro_sf_do(goro_sf_t *sf, const void *key, size_t keylen, goro_sf_fn fn, void *arg,
                        void **result, int *shared) GORO_NOEXCEPT;

/* goro_sf_forget() forgets the call in flight for key: the next goro_sf_do()
 * calls fn again rather than waiting (callers already waiting still get the
 * old call's result).
 * @return 0.  -ENOENT no call in flight for key.  -EINVAL as goro_sf_do.
 * Any thread. Since 0.1. */
GORO_API int goro_sf_forget(goro_sf_t *sf, const void *key, size_t keylen) GORO_NOEXCEPT;

/* goro_sf_free() frees the group. NULL is ignored.
 * @return 0.  -EBUSY calls are in flight; nothing is freed. Any thread. Since 0.1. */
GORO_API int goro_sf_free(goro_sf_t *sf) GORO_NOEXCEPT;

/* ------------------------------------------------------------------------- */
/* Object pool                                                                */
/* ------------------------------------------------------------------------- */
/* goro_objpool_t caches free objects for reuse, as Go's sync.Pool: a small
 * cache per P (no sharing, so no contention, on the fast path) plus a shared
 * overflow list. get() takes from the caller's P cache, then the shared
 * list, then calls new_fn; put() gives back to the P cache, then the shared
 * list, and when both are full frees the object with free_fn. Memory is
 * bounded: at most per_p_cap objects per P plus shared_cap shared, and
 * goro_objpool_trim() frees them all (Go drops pools at GC; goro has no GC).
 * Objects are not zeroed or reset: that is the caller's job. */

typedef struct goro_objpool goro_objpool_t;

typedef struct goro_objpool_opts {
  size_t size;                   /* sizeof(goro_objpool_opts_t). Required. */
  void *(*new_fn)(void *user);   /* makes an object; required; may return NULL */
  void (*free_fn)(void *user, void *obj); /* frees one; NULL: free() */
  void *user;                    /* first argument of both */
  int per_p_cap;                 /* objects cached per P, 0..1024. 0: 16 */
  int shared_cap;                /* objects in the shared list, >= 0. 0: 64; -1: none */
} goro_objpool_opts_t;

#define GORO_OBJPOOL_OPTS_INIT {sizeof(goro_objpool_opts_t), NULL, NULL, NULL, 0, 0}

/* goro_objpool_new() creates an object pool.
 * @return 0.  -EINVAL pool/opts/new_fn NULL, size too small or a cap out of
 * range.  -E2BIG unknown non-zero option bytes.  -ENOMEM.
 * Any thread. Since 0.1. */
GORO_API int goro_objpool_new(const goro_objpool_opts_t *opts, goro_objpool_t **pool) GORO_NOEXCEPT;

/* goro_objpool_get() returns a cached object or a new one from new_fn.
 * @return the object; NULL if pool is NULL or new_fn returned NULL.
 * Any thread (a plain thread uses the shared list only). Since 0.1. */
GORO_API void *goro_objpool_get(goro_objpool_t *pool) GORO_NOEXCEPT;

/* goro_objpool_put() gives obj back for reuse (or frees it when the caches
 * are full). The caller must not use obj afterwards.
 * @return 0.  -EINVAL pool or obj is NULL. Any thread. Since 0.1. */
GORO_API int goro_objpool_put(goro_objpool_t *pool, void *obj) GORO_NOEXCEPT;

/* goro_objpool_trim() frees every cached object (from all P caches and the
 * shared list).
 * @return the number freed.  -EINVAL pool is NULL. Any thread. Since 0.1. */
GORO_API int goro_objpool_trim(goro_objpool_t *pool) GORO_NOEXCEPT;

/* goro_objpool_free() trims and frees the pool. Objects handed out and not
 * put back are the caller's. NULL is ignored. @return 0. Since 0.1. */
GORO_API int goro_objpool_free(goro_objpool_t *pool) GORO_NOEXCEPT;

/* ------------------------------------------------------------------------- */
/* Observability                                                              */
/* ------------------------------------------------------------------------- */
/* What the scheduler is doing, without stopping it: the numbers of Go's
 * GODEBUG=schedtrace line plus event counters (goro_stats), and a listing of
 * every goroutine (goro_dump, Go's SIGQUIT dump). GORO_DEBUG (Go's GODEBUG)
 * switches on the rest; see docs/observability.md:
 *   GORO_DEBUG=schedtrace=N      a SCHED line on stderr every N ms, Go's format
 *   GORO_DEBUG=schedtrace=N,scheddetail=1   plus the P, M and G lines
 *   GORO_DEBUG=sigquitdump=1     SIGQUIT prints goro_dump() to stderr, then
 *                                kills the process with SIGQUIT as usual
 * USDT probes (provider "goro") are listed in docs/probes.md; a gdb script
 * (share/goro/gdb/goro-gdb.py) lists goroutines and their stacks. */

/* goro_stats_t is filled by goro_stats(). Values are read one by one while
 * the scheduler runs, so they are not one atomic snapshot (as in Go's
 * runtime/metrics): two related values may disagree by an event in flight.
 * Fields are only ever added at the end. */
typedef struct goro_stats {
  /* Set by goro_stats(): how many bytes of the struct it filled (the
   * smaller of the caller's size and the library's struct). */
  size_t size;
  /* 1 while the runtime is running, else 0 (and every field down to
   * goroutines_live is then 0). */
  int32_t running;
  /* The SCHED line's fields, now. */
  int32_t gomaxprocs;      /* Ps (gomaxprocs=) */
  int32_t idleprocs;       /* Ps on the idle list (idleprocs=) */
  int32_t threads;         /* Ms (worker threads) that exist (threads=) */
  int32_t spinningthreads; /* Ms looking for work to steal (spinningthreads=) */
  int32_t idlethreads;     /* Ms parked with no P (idlethreads=) */
  int32_t runqueue;        /* goroutines in the global run queue (runqueue=) */
  int32_t local_runqueue;  /* goroutines in the Ps' local run queues and
                            * runnext slots ([q0 q1 ...] plus runnext) */
  /* Goroutines since the runtime last started: created, and alive now
   * (running, runnable or parked: goro_num_goroutine()). */
  uint64_t goroutines_created;
  uint64_t goroutines_live;
  /* Event counters since the process started; they keep counting across
   * goro_shutdown()/goro_init() cycles and never go down. */
  uint64_t threads_created;   /* Ms started */
  uint64_t threads_live;      /* Ms started and not yet ended */
  uint64_t steals;            /* successful steals of another P's run queue */
  uint64_t handoffs;          /* Ps handed off from a syscall or a blocked M */
  uint64_t syscalls;          /* goro_syscall_enter() calls from goroutines */
  uint64_t thread_cap_waits;  /* wake-ups that waited for a thread (max_threads) */
  uint64_t preempt_sent;      /* preemption requests signalled by sysmon */
  uint64_t preempt_honoured;  /* requests the goroutine honoured by yielding */
  uint64_t preempt_ignored;   /* requests still pending at sysmon's next look */
  uint64_t netpoll_wakeups;   /* goroutines made ready by the network poller */
  uint64_t maxprocs_changes;  /* effective changes of maxprocs */
} goro_stats_t;

/* goro_stats() fills *st with the scheduler's numbers and counters. It never
 * starts the runtime and may be called at any time: before the runtime
 * starts and after goro_shutdown() it succeeds with running == 0, the
 * scheduler fields zero and the process-wide counters as they stand.
 * size is sizeof(goro_stats_t) as the caller compiled it: the library fills
 * min(size, its own sizeof) bytes, zeroes the rest of the caller's struct
 * (fields a newer header has and this library does not), and stores the
 * number of bytes it filled in st->size.
 * @return 0.
 *   -EINVAL  st is NULL, size is smaller than the first two fields
 *            (offsetof(goro_stats_t, gomaxprocs)), or larger than 65536.
 * Any thread or goroutine; not from a signal handler (it takes the
 * scheduler lock briefly). Since 0.1.0. */
GORO_API int goro_stats(goro_stats_t *st, size_t size) GORO_NOEXCEPT;

/* goro_dump() writes every goroutine to f, ordered by id, in the shape of
 * Go's traceback, without stopping the scheduler:
 *     goroutine 7 [chan receive, 3 minutes]:
 *     \tname: worker-3
 *     \twaiting for 183.204s
 *     \tentry: worker (/path/prog+0x1189)
 *     created by main_goroutine+0x2a (/path/prog+0x12a4) in goroutine 1
 * The state is Go's wait reason for a parked goroutine ("chan receive",
 * "chan send", "select", "sleep", "sync.Mutex.Lock", "sync.WaitGroup.Wait",
 * ...; see docs/observability.md), else "running", "runnable" or "syscall".
 * ", N minutes" appears past one minute and ", locked to thread" for a
 * goroutine wired by goro_lock_thread(), as in Go. "name:" is the
 * goro_go_opts() name. "created by" is the code that called goro_go(),
 * named through dladdr(): an executable's functions have names only if it
 * was linked with -rdynamic, otherwise the line shows module+offset (feed it
 * to addr2line -e module). For a goroutine started by goro_run() the
 * creator is goro_run()'s caller and the entry is a trampoline inside goro.
 * Each goroutine is read without stopping it, so a
 * goroutine that changes state during the dump may show either state.
 * @return the number of goroutines written (>= 0).
 *   -EINVAL    f is NULL.
 *   -ESHUTDOWN the runtime is not running (never started, or shut down).
 *   -EIO       writing to f failed.
 * Any thread or goroutine (a goroutine lists itself as running); not from a
 * signal handler (GORO_DEBUG=sigquitdump=1 is the signal-safe way).
 * Since 0.1.0. */
GORO_API int goro_dump(FILE *f) GORO_NOEXCEPT;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* GORO_GORO_H */
