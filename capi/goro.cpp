// goro.cpp: the extern "C" layer. Thin on purpose: it validates arguments,
// turns handles into runtime objects, maps errors, and never lets a C++
// exception out (every function is noexcept; allocation uses nothrow).
// Errors and their meaning are documented in include/goro/goro.h.
#include <cerrno>
#include <cstring>
#include <new>

#include "goro/goro.h"
#include "sched/sched.h"
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
  return rt_run(fn, arg);
}

GORO_API int goro_maxprocs(int n) noexcept { return rt_maxprocs(n); }

GORO_API int goro_num_goroutine(void) noexcept { return rt_num_goroutine(); }

static int go_common(goro_fn fn, void* arg, size_t stack, const char* name, uint64_t* id) {
  if (getg()) return rt_newproc(fn, arg, stack, name, id);
  if (int err = rt_ensure_started()) return err;
  ApiRef ref;
  if (!ref.ok()) return -ESHUTDOWN;
  return rt_newproc(fn, arg, stack, name, id);
}

GORO_API int goro_go(goro_fn fn, void* arg) noexcept {
  if (!fn) return -EINVAL;
  return go_common(fn, arg, 0, nullptr, nullptr);
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
  return go_common(fn, arg, o.stack_size, o.name, id);
}

GORO_API int goro_yield(void) noexcept {
  gosched();
  return 0;
}

GORO_API int goro_sleep(int64_t ns) noexcept { return rt_sleep(ns); }

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

}  // extern "C"
