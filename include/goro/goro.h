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

/* How a fractional CPU quota (e.g. 1.5 CPUs) becomes a whole maxprocs.
 * See docs/maxprocs.md for the measurements behind the default. */
typedef enum goro_maxprocs_rounding {
  GORO_MAXPROCS_ROUND_DEFAULT = 0, /* the documented default policy */
  GORO_MAXPROCS_ROUND_CEIL = 1,    /* round up (Go 1.25) */
  GORO_MAXPROCS_ROUND_FLOOR = 2    /* round down (automaxprocs) */
} goro_maxprocs_rounding_t;

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
   * default). Stacks beyond the budget come from shared slabs; their overflow
   * is caught, best effort, by a stack-pointer check at every switch and in
   * the fault handler (see docs/design.md, "Stacks").
   * 0: vm.max_map_count / 4. -1: no guard pages at all. */
  long guarded_stacks;
  /* Hard cap on the number of OS threads (Ms) the runtime creates, counting
   * threads blocked in goro_syscall_enter()/goro_blocking(). At the cap a
   * wake-up waits for a thread instead of creating one. 0: 10000. */
  int max_threads;
  /* Signal sysmon sends to a thread whose goroutine has run too long.
   * 0: SIGURG. -1: send no signal (the request is still set and honoured at
   * the goroutine's next runtime call). */
  int preempt_signal;
  /* How long a goroutine may run while other work waits before it is asked
   * to yield, in nanoseconds. 0: 10 ms. */
  int64_t preempt_ns;
  /* How a fractional CPU quota becomes maxprocs: a goro_maxprocs_rounding_t
   * value. 0: the default policy (see goro_maxprocs_rounding_t). */
  int maxprocs_rounding;
  /* Lower bound for the automatic maxprocs. 0: 1. */
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
 * completes only when a receiver takes the value.
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

/* goro_chan_len() / goro_chan_cap(): values buffered now / the capacity.
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

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* GORO_GORO_H */
