// conc.cpp: the extern "C" layer of goro.h's Contexts, errgroup, Worker
// pool, singleflight and Object pool sections. Thin, as goro.cpp: it
// validates arguments, turns handles into runtime objects and never lets a
// C++ exception out. (The _ctx twins of existing calls live beside their
// base calls: chan.cpp, sync.cpp, goro.cpp.) Errors are documented in goro.h.
#include <cerrno>
#include <cstring>
#include <new>

#include "goro/goro.h"
#include "sched/sched.h"
#include "sync/context.h"
#include "sync/group.h"
#include "sync/objpool.h"
#include "sync/pool.h"
#include "sync/singleflight.h"

using namespace goro::rt;

struct goro_sf {
  SingleFlight sf;
};

static Context* CX(goro_ctx_t* c) { return reinterpret_cast<Context*>(c); }
static goro_ctx_t* HX(Context* c) { return reinterpret_cast<goro_ctx_t*>(c); }

// copy_opts() copies a size-prefixed options struct: -EINVAL if size is too
// small to hold `size`, -E2BIG if it is larger than ours with non-zero extra bytes.
template <typename T>
static int copy_opts(const T* in, T* out) {
  if (in->size < sizeof(size_t) || in->size > 65536) return -EINVAL;
  memcpy(out, in, in->size < sizeof(T) ? in->size : sizeof(T));
  for (size_t i = sizeof(T); i < in->size; i++)
    if (reinterpret_cast<const unsigned char*>(in)[i] != 0) return -E2BIG;
  return 0;
}

extern "C" {

// ---------------------------------------------------------------------------
// Contexts

GORO_API goro_ctx_t* goro_ctx_background(void) noexcept { return HX(ctx_background()); }

GORO_API int goro_ctx_with_cancel(goro_ctx_t* parent, goro_ctx_t** out) noexcept {
  if (!parent || !out) return -EINVAL;
  Context* c;
  if (int err = ctx_new(CX(parent), -1, true, &c)) return err;
  *out = HX(c);
  return 0;
}

GORO_API int goro_ctx_with_deadline(goro_ctx_t* parent, int64_t deadline,
                                    goro_ctx_t** out) noexcept {
  if (!parent || !out) return -EINVAL;
  Context* c;
  if (int err = ctx_new(CX(parent), deadline < 0 ? -1 : deadline, true, &c)) return err;
  *out = HX(c);
  return 0;
}

GORO_API int goro_ctx_with_timeout(goro_ctx_t* parent, int64_t ns, goro_ctx_t** out) noexcept {
  if (!parent || !out || ns < 0) return -EINVAL;
  int64_t d = nanotime() + ns;
  if (d < 0) d = -1;  // overflow: no deadline
  return goro_ctx_with_deadline(parent, d, out);
}

GORO_API int goro_ctx_cancel(goro_ctx_t* ctx) noexcept {
  if (!ctx || CX(ctx)->background) return -EINVAL;
  ctx_cancel(CX(ctx), -ECANCELED);
  return 0;
}

GORO_API goro_chan_t* goro_ctx_done(goro_ctx_t* ctx) noexcept {
  if (!ctx) return nullptr;
  return reinterpret_cast<goro_chan_t*>(CX(ctx)->done);
}

GORO_API int goro_ctx_err(goro_ctx_t* ctx) noexcept {
  if (!ctx) return -EINVAL;
  return ctx_err(CX(ctx));
}

GORO_API int goro_ctx_deadline(goro_ctx_t* ctx, int64_t* deadline) noexcept {
  if (!ctx || !deadline) return -EINVAL;
  *deadline = CX(ctx)->deadline < 0 ? GORO_NO_DEADLINE : CX(ctx)->deadline;
  return 0;
}

GORO_API int goro_ctx_retain(goro_ctx_t* ctx) noexcept {
  if (!ctx) return -EINVAL;
  ctx_retain(CX(ctx));
  return 0;
}

GORO_API int goro_ctx_release(goro_ctx_t* ctx) noexcept {
  if (ctx) ctx_release(CX(ctx));
  return 0;
}

// ---------------------------------------------------------------------------
// errgroup

GORO_API int goro_group_new(goro_ctx_t* parent, goro_group_t** g) noexcept {
  if (!parent || !g) return -EINVAL;
  Group* gr;
  if (int err = group_new(CX(parent), &gr)) return err;
  *g = reinterpret_cast<goro_group_t*>(gr);
  return 0;
}

GORO_API int goro_group_set_limit(goro_group_t* g, int n) noexcept {
  if (!g) return -EINVAL;
  return group_set_limit(reinterpret_cast<Group*>(g), n);
}

GORO_API int goro_group_go(goro_group_t* g, goro_task_fn fn, void* arg) noexcept {
  if (!g || !fn) return -EINVAL;
  return group_go(reinterpret_cast<Group*>(g), fn, arg, true);
}

GORO_API int goro_group_try_go(goro_group_t* g, goro_task_fn fn, void* arg) noexcept {
  if (!g || !fn) return -EINVAL;
  return group_go(reinterpret_cast<Group*>(g), fn, arg, false);
}

GORO_API int goro_group_wait(goro_group_t* g) noexcept {
  if (!g) return -EINVAL;
  return group_wait(reinterpret_cast<Group*>(g));
}

GORO_API goro_ctx_t* goro_group_ctx(goro_group_t* g) noexcept {
  return g ? HX(reinterpret_cast<Group*>(g)->ctx) : nullptr;
}

GORO_API int goro_group_free(goro_group_t* g) noexcept {
  if (!g) return 0;
  return group_free(reinterpret_cast<Group*>(g));
}

// ---------------------------------------------------------------------------
// Worker pool

GORO_API int goro_pool_new(const goro_pool_opts_t* opts, goro_pool_t** pool) noexcept {
  if (!opts || !pool) return -EINVAL;
  goro_pool_opts_t o = GORO_POOL_OPTS_INIT;
  if (int err = copy_opts(opts, &o)) return err;
  if (o.workers < 0 || o.workers > 65536 || o.queue_cap < 0 ||
      size_t(o.queue_cap) > GORO_CHAN_CAP_MAX || o.task_timeout < 0 || o.max_running < 0 ||
      (o.flags & ~GORO_POOL_CPU))
    return -EINVAL;
  if (o.results && goro_chan_cap(o.results) >= 0 &&
      reinterpret_cast<Chan*>(o.results)->elemsize != sizeof(goro_pool_result_t))
    return -EINVAL;
  Pool* p;
  if (int err = pool_new(&o, &p)) return err;
  *pool = reinterpret_cast<goro_pool_t*>(p);
  return 0;
}

GORO_API int goro_pool_submit(goro_pool_t* pool, goro_ctx_t* ctx, goro_task_fn fn,
                              void* arg) noexcept {
  if (!pool || !ctx || !fn) return -EINVAL;
  return ctx_call(ctx, [&](Context* c) {
    return pool_submit(reinterpret_cast<Pool*>(pool), c, fn, arg, true);
  });
}

GORO_API int goro_pool_try_submit(goro_pool_t* pool, goro_task_fn fn, void* arg) noexcept {
  if (!pool || !fn) return -EINVAL;
  return pool_submit(reinterpret_cast<Pool*>(pool), nullptr, fn, arg, false);
}

GORO_API int goro_pool_shutdown(goro_pool_t* pool, int how, uint64_t* dropped) noexcept {
  if (!pool || (how != GORO_POOL_DRAIN && how != GORO_POOL_CANCEL)) return -EINVAL;
  return pool_shutdown(reinterpret_cast<Pool*>(pool), how, dropped);
}

GORO_API int goro_pool_stats(goro_pool_t* pool, goro_pool_stats_t* st) noexcept {
  if (!pool || !st || st->size < sizeof(size_t)) return -EINVAL;
  pool_stats(reinterpret_cast<Pool*>(pool), st);
  return 0;
}

GORO_API goro_ctx_t* goro_pool_ctx(goro_pool_t* pool) noexcept {
  return pool ? HX(reinterpret_cast<Pool*>(pool)->ctx) : nullptr;
}

GORO_API int goro_pool_free(goro_pool_t* pool) noexcept {
  if (!pool) return 0;
  return pool_free(reinterpret_cast<Pool*>(pool));
}

// ---------------------------------------------------------------------------
// singleflight

GORO_API int goro_sf_new(goro_sf_t** sf) noexcept {
  if (!sf) return -EINVAL;
  *sf = new (std::nothrow) goro_sf;
  return *sf ? 0 : -ENOMEM;
}

GORO_API int goro_sf_do(goro_sf_t* sf, const void* key, size_t keylen, goro_sf_fn fn, void* arg,
                        void** result, int* shared) noexcept {
  if (!sf || !fn || (!key && keylen)) return -EINVAL;
  return sf_do(&sf->sf, key, keylen, fn, arg, result, shared);
}

GORO_API int goro_sf_forget(goro_sf_t* sf, const void* key, size_t keylen) noexcept {
  if (!sf || (!key && keylen)) return -EINVAL;
  return sf_forget(&sf->sf, key, keylen);
}

GORO_API int goro_sf_free(goro_sf_t* sf) noexcept {
  if (!sf) return 0;
  if (sf_busy(&sf->sf)) return -EBUSY;
  delete sf;
  return 0;
}

// ---------------------------------------------------------------------------
// Object pool

GORO_API int goro_objpool_new(const goro_objpool_opts_t* opts, goro_objpool_t** pool) noexcept {
  if (!opts || !pool) return -EINVAL;
  goro_objpool_opts_t o = GORO_OBJPOOL_OPTS_INIT;
  if (int err = copy_opts(opts, &o)) return err;
  if (!o.new_fn || o.per_p_cap < 0 || o.per_p_cap > 1024 || o.shared_cap < -1) return -EINVAL;
  ObjPool* p;
  if (int err = objpool_new(&o, &p)) return err;
  *pool = reinterpret_cast<goro_objpool_t*>(p);
  return 0;
}

GORO_API void* goro_objpool_get(goro_objpool_t* pool) noexcept {
  if (!pool) return nullptr;
  return objpool_get(reinterpret_cast<ObjPool*>(pool));
}

GORO_API int goro_objpool_put(goro_objpool_t* pool, void* obj) noexcept {
  if (!pool || !obj) return -EINVAL;
  objpool_put(reinterpret_cast<ObjPool*>(pool), obj);
  return 0;
}

GORO_API int goro_objpool_trim(goro_objpool_t* pool) noexcept {
  if (!pool) return -EINVAL;
  return objpool_trim(reinterpret_cast<ObjPool*>(pool));
}

GORO_API int goro_objpool_free(goro_objpool_t* pool) noexcept {
  if (pool) objpool_free(reinterpret_cast<ObjPool*>(pool));
  return 0;
}

}  // extern "C"
