// sync.cpp: the extern "C" layer of the Sync section of goro.h (mutex,
// rwmutex, cond, once, weighted semaphore). Thin, as goro.cpp: it validates
// arguments, turns handles into runtime objects and never lets a C++
// exception out. The objects work without a running runtime (between plain
// threads only); readying a goroutine from a plain thread holds an ApiRef
// (sync/wake.h). Errors and their meaning are documented in goro.h.
#include <cerrno>
#include <new>

#include "goro/goro.h"
#include "sync/cond.h"
#include "sync/context.h"
#include "sync/mutex.h"
#include "sync/once.h"
#include "sync/rwmutex.h"
#include "sync/sem.h"

using namespace goro::rt;

struct goro_mutex {
  SyncMutex m;
};

struct goro_rwmutex {
  RWMutex rw;
};

struct goro_cond {
  explicit goro_cond(SyncMutex* m) : c(m) {}
  Cond c;
};

struct goro_sem {
  explicit goro_sem(int64_t size) : s(size) {}
  Semaphore s;
};

extern "C" {

// ---------------------------------------------------------------------------
// Mutex

GORO_API int goro_mutex_new(goro_mutex_t** m) noexcept {
  if (!m) return -EINVAL;
  *m = new (std::nothrow) goro_mutex;
  return *m ? 0 : -ENOMEM;
}

GORO_API int goro_mutex_free(goro_mutex_t* m) noexcept {
  if (!m) return 0;
  if (m->m.busy()) return -EBUSY;
  delete m;
  return 0;
}

GORO_API int goro_mutex_lock(goro_mutex_t* m) noexcept {
  if (!m) return -EINVAL;
  preempt_check();  // a preemption point (sched.h)
  return m->m.lock(-1);
}

GORO_API int goro_mutex_lock_until(goro_mutex_t* m, int64_t deadline) noexcept {
  if (!m) return -EINVAL;
  return m->m.lock(deadline < 0 ? -1 : deadline);
}

GORO_API int goro_mutex_lock_ctx(goro_mutex_t* m, goro_ctx_t* ctx) noexcept {
  if (!m || !ctx) return -EINVAL;
  return ctx_call(ctx, [&](Context* c) { return m->m.lock(c->deadline, c); });
}

GORO_API int goro_mutex_trylock(goro_mutex_t* m) noexcept {
  if (!m) return -EINVAL;
  return m->m.try_lock();
}

GORO_API int goro_mutex_unlock(goro_mutex_t* m) noexcept {
  if (!m) return -EINVAL;
  return m->m.unlock();
}

// ---------------------------------------------------------------------------
// RWMutex

GORO_API int goro_rwmutex_new(goro_rwmutex_t** rw) noexcept {
  if (!rw) return -EINVAL;
  *rw = new (std::nothrow) goro_rwmutex;
  return *rw ? 0 : -ENOMEM;
}

GORO_API int goro_rwmutex_free(goro_rwmutex_t* rw) noexcept {
  if (!rw) return 0;
  if (rw->rw.busy()) return -EBUSY;
  delete rw;
  return 0;
}

GORO_API int goro_rwmutex_rlock(goro_rwmutex_t* rw) noexcept {
  if (!rw) return -EINVAL;
  return rw->rw.rlock(-1);
}

GORO_API int goro_rwmutex_rlock_until(goro_rwmutex_t* rw, int64_t deadline) noexcept {
  if (!rw) return -EINVAL;
  return rw->rw.rlock(deadline < 0 ? -1 : deadline);
}

GORO_API int goro_rwmutex_tryrlock(goro_rwmutex_t* rw) noexcept {
  if (!rw) return -EINVAL;
  return rw->rw.try_rlock();
}

GORO_API int goro_rwmutex_runlock(goro_rwmutex_t* rw) noexcept {
  if (!rw) return -EINVAL;
  return rw->rw.runlock();
}

GORO_API int goro_rwmutex_lock(goro_rwmutex_t* rw) noexcept {
  if (!rw) return -EINVAL;
  return rw->rw.lock(-1);
}

GORO_API int goro_rwmutex_lock_until(goro_rwmutex_t* rw, int64_t deadline) noexcept {
  if (!rw) return -EINVAL;
  return rw->rw.lock(deadline < 0 ? -1 : deadline);
}

GORO_API int goro_rwmutex_rlock_ctx(goro_rwmutex_t* rw, goro_ctx_t* ctx) noexcept {
  if (!rw || !ctx) return -EINVAL;
  return ctx_call(ctx, [&](Context* c) { return rw->rw.rlock(c->deadline, c); });
}

GORO_API int goro_rwmutex_lock_ctx(goro_rwmutex_t* rw, goro_ctx_t* ctx) noexcept {
  if (!rw || !ctx) return -EINVAL;
  return ctx_call(ctx, [&](Context* c) { return rw->rw.lock(c->deadline, c); });
}

GORO_API int goro_rwmutex_trylock(goro_rwmutex_t* rw) noexcept {
  if (!rw) return -EINVAL;
  return rw->rw.try_lock();
}

GORO_API int goro_rwmutex_unlock(goro_rwmutex_t* rw) noexcept {
  if (!rw) return -EINVAL;
  return rw->rw.unlock();
}

// ---------------------------------------------------------------------------
// Cond

GORO_API int goro_cond_new(goro_cond_t** c, goro_mutex_t* m) noexcept {
  if (!c || !m) return -EINVAL;
  *c = new (std::nothrow) goro_cond(&m->m);
  return *c ? 0 : -ENOMEM;
}

GORO_API int goro_cond_free(goro_cond_t* c) noexcept {
  if (!c) return 0;
  if (c->c.busy()) return -EBUSY;
  delete c;
  return 0;
}

GORO_API int goro_cond_wait(goro_cond_t* c) noexcept {
  if (!c) return -EINVAL;
  return c->c.wait(-1);
}

GORO_API int goro_cond_wait_until(goro_cond_t* c, int64_t deadline) noexcept {
  if (!c) return -EINVAL;
  return c->c.wait(deadline < 0 ? -1 : deadline);
}

GORO_API int goro_cond_wait_ctx(goro_cond_t* c, goro_ctx_t* ctx) noexcept {
  if (!c || !ctx) return -EINVAL;
  return ctx_call(ctx, [&](Context* cx) { return c->c.wait(cx->deadline, cx); });
}

GORO_API int goro_cond_signal(goro_cond_t* c) noexcept {
  if (!c) return -EINVAL;
  c->c.signal();
  return 0;
}

GORO_API int goro_cond_broadcast(goro_cond_t* c) noexcept {
  if (!c) return -EINVAL;
  c->c.broadcast();
  return 0;
}

// ---------------------------------------------------------------------------
// Once

GORO_API int goro_once_do(goro_once_t* o, goro_fn fn, void* arg) noexcept {
  if (!o || !fn) return -EINVAL;
  return once_do(o, fn, arg);
}

// ---------------------------------------------------------------------------
// Weighted semaphore

GORO_API int goro_sem_new(goro_sem_t** s, int64_t size) noexcept {
  if (!s || size <= 0) return -EINVAL;
  *s = new (std::nothrow) goro_sem(size);
  return *s ? 0 : -ENOMEM;
}

GORO_API int goro_sem_free(goro_sem_t* s) noexcept {
  if (!s) return 0;
  if (s->s.busy()) return -EBUSY;
  delete s;
  return 0;
}

GORO_API int goro_sem_acquire(goro_sem_t* s, int64_t n, int64_t deadline) noexcept {
  if (!s) return -EINVAL;
  return s->s.acquire(n, deadline < 0 ? -1 : deadline);
}

GORO_API int goro_sem_acquire_ctx(goro_sem_t* s, int64_t n, goro_ctx_t* ctx) noexcept {
  if (!s || !ctx) return -EINVAL;
  return ctx_call(ctx, [&](Context* c) { return s->s.acquire(n, c->deadline, c); });
}

GORO_API int goro_sem_try_acquire(goro_sem_t* s, int64_t n) noexcept {
  if (!s) return -EINVAL;
  return s->s.try_acquire(n);
}

GORO_API int goro_sem_release(goro_sem_t* s, int64_t n) noexcept {
  if (!s) return -EINVAL;
  return s->s.release(n);
}

}  // extern "C"
