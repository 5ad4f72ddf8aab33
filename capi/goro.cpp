// goro.cpp: the extern "C" layer. Thin on purpose: it validates arguments,
// turns handles into runtime objects, maps errors, and never lets a C++
// exception out (every function is noexcept; allocation uses nothrow).
// Errors and their meaning are documented in include/goro/goro.h.
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <new>

#include "goro/goro.h"
#include "sched/sched.h"
#include "sync/context.h"
#include "sync/waitgroup.h"

using namespace goro::rt;

struct goro_wg {
  WaitGroup wg;
};

extern "C" {

GORO_API unsigned goro_version(void) noexcept { return GORO_VERSION_NUMBER; }

GORO_API const char* goro_version_string(void) noexcept { return GORO_VERSION_STRING; }

GORO_API const char* goro_strerror(int err) noexcept {
  // INT_MIN has no positive counterpart; it is no errno value either.
  long e = err < 0 ? -long(err) : long(err);
  if (e > 4095) return "unknown error";
  err = int(e);
  switch (err) {
    case 0:
      return "success";
    case ESHUTDOWN:
      return "goro runtime is shut down (restart it with goro_init)";
    case EALREADY:
      return "goro runtime is already in that state";
    case EDEADLK:
      return "not allowed from inside a goroutine (would deadlock)";
    case E2BIG:
      return "options struct is larger than this library knows and sets unknown fields";
    case ERANGE:
      return "counter would go out of range";
    default:
      break;
  }
  const char* s = strerrordesc_np(err);
  return s ? s : "unknown error";
}

GORO_API int goro_init(const goro_config_t* cfg) noexcept { return rt_init(cfg); }

GORO_API int goro_shutdown(void) noexcept { return rt_shutdown(); }

GORO_API int goro_run(goro_fn fn, void* arg) noexcept {
  if (!fn) return -EINVAL;
  return rt_run(fn, arg, __builtin_return_address(0));
}

GORO_API int goro_maxprocs(int n) noexcept { return rt_maxprocs(n); }

GORO_API int goro_num_goroutine(void) noexcept { return rt_num_goroutine(); }

// pc: the return address into goro_go's caller (goro_dump's "created by").
// asyncmod: preempt_module(fn) for an async-preemptible spawn, else 0.
static int go_common(goro_fn fn, void* arg, size_t stack, const char* name, uint64_t* id,
                     const void* pc, int asyncmod = 0) {
  // One TLS read for the spawn and the preemption point: nothing here
  // switches the G to another thread before gopreempt().
  M* m = getm();
  if (G* gp = m ? m->curg.load(std::memory_order_relaxed) : nullptr) {
    int err = newproc1(m, fn, arg, stack, name, id, nullptr, nullptr, pc, asyncmod);
    // A preemption point, and backpressure: a spawner whose local queue is
    // full yields to what it spawned (to the back of the global queue).
    if (spawn_backlog(m))
      gopreempt();
    else
      preempt_check(gp);
    return err;
  }
  if (int err = rt_ensure_started()) return err;
  ApiRef ref;
  if (!ref.ok()) return -ESHUTDOWN;
  return rt_newproc(fn, arg, stack, name, id, nullptr, nullptr, pc, asyncmod);
}

GORO_API int goro_go(goro_fn fn, void* arg) noexcept {
  if (!fn) return -EINVAL;
  return go_common(fn, arg, 0, nullptr, nullptr, __builtin_return_address(0));
}

GORO_API int goro_go_opts(const goro_go_opts_t* opts, goro_fn fn, void* arg,
                          uint64_t* id) noexcept {
  if (!fn || !opts) return -EINVAL;
  goro_go_opts_t o = GORO_GO_OPTS_INIT;
  if (opts->size < sizeof(size_t) || opts->size > 65536) return -EINVAL;
  memcpy(&o, opts, opts->size < sizeof o ? opts->size : sizeof o);
  for (size_t i = sizeof o; i < opts->size; i++)
    if (reinterpret_cast<const unsigned char*>(opts)[i] != 0) return -E2BIG;
  if (o.stack_size != 0 && (o.stack_size < GORO_STACK_MIN || o.stack_size > GORO_STACK_MAX))
    return -EINVAL;
  int asyncmod = 0;
  if (o.async_preemptible) {
    asyncmod = preempt_module(reinterpret_cast<const void*>(fn));
    if (asyncmod == 0) asyncmod = -1;  // counted as a region, never switched asynchronously
  }
  return go_common(fn, arg, o.stack_size, o.name, id, __builtin_return_address(0), asyncmod);
}

GORO_API int goro_yield(void) noexcept {
  gosched();
  return 0;
}

GORO_API int goro_sleep(int64_t ns) noexcept { return rt_sleep(ns); }

// Blocking system calls and preemption (proc.cpp, preempt.cpp).

GORO_API int goro_syscall_enter(void) noexcept { return rt_syscall_enter(); }

GORO_API int goro_syscall_exit(void) noexcept { return rt_syscall_exit(); }

GORO_API int goro_blocking(int (*fn)(void* arg), void* arg) noexcept {
  if (!fn) return -EINVAL;
  if (int err = rt_syscall_enter()) return err;
  int r = fn(arg);
  rt_syscall_exit();
  return r;
}

GORO_API int goro_preempt_point(void) noexcept {
  preempt_check();
  return 0;
}

GORO_API int goro_async_preemptible_begin(void) noexcept {
  return rt_async_begin(__builtin_return_address(0));
}

GORO_API int goro_async_preemptible_end(void) noexcept { return rt_async_end(); }

GORO_API int goro_preempt_info(goro_preempt_info_t* info) noexcept {
  if (!info || info->size < sizeof(size_t)) return -EINVAL;
  goro_preempt_info_t v;
  memset(&v, 0, sizeof v);
  preempt_info(&v);
  size_t n = info->size < sizeof v ? info->size : sizeof v;
  v.size = info->size;
  memcpy(info, &v, n);
  return 0;
}

// goro_sleep_ctx() is a wait no one wakes: a Waiter guarded by no lock at
// all, whose deadline is the end of the sleep or the context's, whichever is
// first. Only the deadline timer and the context can claim it, and both are
// armed before the G is parked. (It once used a Mutex on this stack; the M
// parking us unlocked it after arming the timer, and a timer that fired in
// between let us return and reuse this frame under that unlock.)
static void no_unlock(void*) {}

GORO_API int goro_sleep_ctx(int64_t ns, goro_ctx_t* ctx) noexcept {
  if (!ctx) return -EINVAL;
  if (ns <= 0) return 0;
  Context* c = reinterpret_cast<Context*>(ctx);
  int64_t end = nanotime() + ns;
  if (end < 0) end = INT64_MAX;  // overflow: forever
  bool ctx_first = c->deadline >= 0 && c->deadline < end;
  ctx_retain(c);
  Waiter w;
  w.g = getg();
  w.ctx = c;
  w.block_with(no_unlock, nullptr, ctx_first ? c->deadline : end);
  int rc = 0;
  if (w.cancelled())
    rc = ctx_err(c);
  else if (ctx_first)
    rc = -ETIMEDOUT;
  ctx_release(c);
  return rc;
}

GORO_API uint64_t goro_self(void) noexcept {
  G* gp = getg();
  return gp ? gp->goid : 0;
}

GORO_API int goro_lock_thread(void) noexcept { return rt_lock_thread(); }

GORO_API int goro_unlock_thread(void) noexcept { return rt_unlock_thread(); }

GORO_API int goro_wg_new(goro_wg_t** wg) noexcept {
  if (!wg) return -EINVAL;
  *wg = new (std::nothrow) goro_wg;
  return *wg ? 0 : -ENOMEM;
}

GORO_API int goro_wg_free(goro_wg_t* wg) noexcept {
  if (!wg) return 0;
  if (wg->wg.busy()) return -EBUSY;
  delete wg;
  return 0;
}

GORO_API int goro_wg_add(goro_wg_t* wg, int64_t delta) noexcept {
  if (!wg) return -EINVAL;
  return wg->wg.add(delta);
}

GORO_API int goro_wg_done(goro_wg_t* wg) noexcept {
  if (!wg) return -EINVAL;
  return wg->wg.add(-1);
}

GORO_API int goro_wg_wait(goro_wg_t* wg) noexcept {
  if (!wg) return -EINVAL;
  return wg->wg.wait();
}

GORO_API int goro_wg_wait_ctx(goro_wg_t* wg, goro_ctx_t* ctx) noexcept {
  if (!wg || !ctx) return -EINVAL;
  return ctx_call(ctx, [&](Context* c) { return wg->wg.wait(c->deadline, c); });
}

}  // extern "C"
