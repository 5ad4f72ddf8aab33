// group.cpp: goro_group_t, golang.org/x/sync/errgroup (WithContext + SetLimit).
//
// Owns: the group's context, its limit semaphore, the count of tasks in the
// group and the first error.
//
// A task holds one limit slot (Semaphore unit) from goro_group_go() until
// its function has returned, so the number of task functions running at
// once never exceeds the limit. The goroutine itself lives on for a few
// instructions after it gives the slot back.
//
// Invariants:
//  - active counts callers inside group_go() and tasks not yet finished,
//    under mu; sem (and limit) change only while active == 0 (Go panics
//    instead), so every task releases the semaphore it acquired.
//  - A task's last touch of the group is wg.add(-1): after group_wait()
//    returns, no task touches the group, so "wait, then free" is safe.
//  - The first non-zero result is recorded under mu and cancels ctx.
#include "sync/group.h"

#include <cerrno>
#include <new>
#include <utility>

namespace goro::rt {

namespace {

struct GTask {
  Group* g;
  Semaphore* sem;
  goro_task_fn fn;
  void* arg;
};

void task_main(void* a) {
  GTask* t = static_cast<GTask*>(a);
  Group* g = t->g;
  int rc = t->fn(reinterpret_cast<goro_ctx_t*>(g->ctx), t->arg);
  if (rc != 0) {
    bool first = false;
    {
      LockGuard lg(g->mu);
      if (!g->has_err) {
        g->has_err = true;
        g->err = rc;
        first = true;
      }
    }
    if (first) ctx_cancel(g->ctx, -ECANCELED);
  }
  if (t->sem) t->sem->release(1);
  {
    LockGuard lg(g->mu);
    g->active--;
  }
  delete t;
  g->wg.add(-1);  // last touch of g
}

}  // namespace

int group_new(Context* parent, Group** out) {
  Group* g = new (std::nothrow) Group;
  if (!g) return -ENOMEM;
  if (int err = ctx_new(parent, -1, true, &g->ctx)) {
    delete g;
    return err;
  }
  *out = g;
  return 0;
}

int group_set_limit(Group* g, int n) {
  if (n == 0) return -EINVAL;
  Semaphore* s = nullptr;
  if (n > 0) {
    s = new (std::nothrow) Semaphore(n);
    if (!s) return -ENOMEM;
  }
  int rc = 0;
  {
    LockGuard lg(g->mu);
    if (g->active) {
      rc = -EBUSY;  // s is freed below
    } else {
      std::swap(s, g->sem);  // s is now the old one
      g->limit = n < 0 ? -1 : n;
    }
  }
  delete s;
  return rc;
}

int group_go(Group* g, goro_task_fn fn, void* arg, bool block) {
  GTask* t = new (std::nothrow) GTask{g, nullptr, fn, arg};
  if (!t) return -ENOMEM;
  {
    LockGuard lg(g->mu);
    g->active++;
    t->sem = g->sem;
  }
  int err = 0;
  if (t->sem) err = block ? t->sem->acquire(1, -1) : t->sem->try_acquire(1);
  if (!err) {
    g->wg.add(1);
    err = goro_go(task_main, t);
    if (err) {
      if (t->sem) t->sem->release(1);
      g->wg.add(-1);
    }
  }
  if (err) {
    {
      LockGuard lg(g->mu);
      g->active--;
    }
    delete t;
  }
  return err;
}

int group_wait(Group* g) {
  g->wg.wait();
  ctx_cancel(g->ctx, -ECANCELED);
  LockGuard lg(g->mu);
  return g->err;
}

int group_free(Group* g) {
  {
    LockGuard lg(g->mu);
    if (g->active) return -EBUSY;
  }
  if (g->wg.count() != 0 || g->wg.busy()) return -EBUSY;
  ctx_release(g->ctx);
  delete g->sem;
  delete g;
  return 0;
}

}  // namespace goro::rt
