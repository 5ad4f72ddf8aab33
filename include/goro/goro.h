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
 *
 * ABI rule: the same SONAME (libgoro.so.0) means a symbol never changes meaning.
 * Symbols are versioned (GORO_0.1, ...); CHANGELOG.md records every addition.
 */
#ifndef GORO_GORO_H
#define GORO_GORO_H

#include <stddef.h>
#include <stdint.h>

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
 * up to whole pages). */
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

/* goro_config_t configures goro_init(). Zero means "default" in every field.
 * Initialise with GORO_CONFIG_INIT, or memset to 0 and set .size. */
typedef struct goro_config {
  /* sizeof(goro_config_t) as the caller compiled it. Required. */
  size_t size;
  /* Number of Ps (the parallelism limit, Go's GOMAXPROCS), 1..GORO_MAXPROCS_MAX.
   * 0: the GORO_MAXPROCS environment variable if set, else the number of CPUs
   * in the process's affinity mask. */
  int maxprocs;
  /* What to do with an exception that escapes a goroutine: a
   * goro_exception_policy_t value. */
  int exception_policy;
  /* Default goroutine stack size in bytes, GORO_STACK_MIN..GORO_STACK_MAX,
   * rounded up to whole pages. 0: 64 KiB (256 KiB in sanitizer builds). */
  size_t stack_size;
  /* How many goroutine stacks may carry a guard page at once. Each guarded
   * stack costs two kernel memory mappings out of vm.max_map_count (65530 by
   * default). Stacks beyond the budget come from shared slabs and are checked
   * for overflow by a canary at every switch instead.
   * 0: vm.max_map_count / 4. -1: no guard pages at all. */
  long guarded_stacks;
} goro_config_t;

#define GORO_CONFIG_INIT {sizeof(goro_config_t), 0, 0, 0, 0}

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
/* Goroutines                                                                 */
/* ------------------------------------------------------------------------- */

/* goro_go_opts_t tunes one goro_go_opts() spawn. Zero means default. */
typedef struct goro_go_opts {
  size_t size;        /* sizeof(goro_go_opts_t). Required. */
  size_t stack_size;  /* GORO_STACK_MIN..GORO_STACK_MAX; 0: the runtime default. */
  const char *name;   /* copied (up to 31 bytes kept); shown in dumps. NULL: none. */
} goro_go_opts_t;

#define GORO_GO_OPTS_INIT {sizeof(goro_go_opts_t), 0, NULL}

/* goro_go() starts fn(arg) in a new goroutine, as Go's `go` statement.
 * From a goroutine the new one goes to the front of the current P's queue
 * (Go's runnext); from a plain thread it goes to the global run queue. Starts
 * the runtime lazily.
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

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* GORO_GORO_H */
