// context.cpp: contexts (Go's context package) and the cancellation hook of
// the Waiter protocol.
//
// Owns: the context tree (parent -> children links), each context's list of
// watched waiters, its done channel and its deadline timer; the registry of
// LiveTimers that goro_shutdown() clears.
//
// Lifetime. A context is reference counted. A child holds a reference on its
// parent, so parents outlive children. A parent lists its children without
// holding references; a child leaves that list when it is cancelled or when
// its last reference goes (under the parent's lock), so a parent never walks
// onto a freed child. A blocking _ctx call holds its own reference for the
// duration of the wait.
//
// Cancellation (ctx_cancel) is iterative, not recursive, so a deep tree
// cannot overflow a goroutine stack: a work list of contexts linked through
// cancel_next. For each context, under its lock: set err (once; a context
// already cancelled ends that branch), claim and unlink every watched
// waiter, take the children (each retained only if its count is not already
// zero: a child at zero is being freed and waits for our lock to unlink
// itself). After the lock: close the done channel, ready the
// claimed waiters, continue with the children.
//
// Invariants:
//  - err goes from 0 to non-zero once, under mu; after that, children and
//    waiters are empty and stay empty (ctx_new and ctx_watch check err
//    under mu).
//  - Lock order: an object's lock (channel, mutex, ...) before a context's
//    lock; a parent's lock before a child's. Cancellation holds one context
//    lock at a time.
//  - A context's deadline timer refers to the context without a reference;
//    the last release deletes the timer first (waiting for a callback under
//    way), then frees.
#include "sync/context.h"

#include <new>

#include "sched/sched.h"
#include "sync/wake.h"

namespace goro::rt {

// ---------------------------------------------------------------------------
// LiveTimers.

namespace {

Mutex g_live_mu;
LiveTimer* g_live_timers = nullptr;  // (g_live_mu)

void live_unlink_locked(LiveTimer* lt) {
  if (lt->prev)
    lt->prev->next = lt->next;
  else
    g_live_timers = lt->next;
  if (lt->next) lt->next->prev = lt->prev;
  lt->next = lt->prev = nullptr;
  lt->live = false;
}

}  // namespace

int live_timer_arm(LiveTimer* lt) {
  ApiRef ref;  // arm_timer() needs a P's heap: keep the runtime up meanwhile
  if (!ref.ok()) return -ESHUTDOWN;
  {
    LockGuard lg(g_live_mu);
    lt->prev = nullptr;
    lt->next = g_live_timers;
    if (g_live_timers) g_live_timers->prev = lt;
    g_live_timers = lt;
    lt->live = true;
  }
  arm_timer(&lt->t);
  return 0;
}

void live_timer_del(LiveTimer* lt) {
  {
    LockGuard lg(g_live_mu);
    if (!lt->live) return;  // never armed, or goro_shutdown() took it
    live_unlink_locked(lt);
  }
  timer_del(&lt->t);
}

void live_timers_shutdown() {
  // No M runs: callbacks are over. Take every timer out of its heap before
  // the heaps go away.
  LockGuard lg(g_live_mu);
  while (LiveTimer* lt = g_live_timers) {
    live_unlink_locked(lt);
    timer_del(&lt->t);
  }
}

// ---------------------------------------------------------------------------
// Contexts.

namespace {

Context g_background{true};

bool try_retain(Context* c) {
  int32_t r = c->refs.load(std::memory_order_relaxed);
  while (r > 0)
    if (c->refs.compare_exchange_weak(r, r + 1, std::memory_order_acq_rel)) return true;
  return false;
}

// detach() takes c off its parent's children list, if it is there.
void detach(Context* c) {
  Context* p = c->parent;
  if (!p || p->background) return;
  LockGuard lg(p->mu);
  if (!c->in_parent) return;
  if (c->sib_prev)
    c->sib_prev->sib_next = c->sib_next;
  else
    p->children = c->sib_next;
  if (c->sib_next) c->sib_next->sib_prev = c->sib_prev;
  c->sib_next = c->sib_prev = nullptr;
  c->in_parent = false;
}

void deadline_fired(Timer* t) {
  // No reference is held: the last release deletes this timer (and waits
  // for this callback) before freeing the context.
  ctx_cancel(static_cast<Context*>(t->arg), -ETIMEDOUT);
}

}  // namespace

Context* ctx_background() { return &g_background; }

void ctx_retain(Context* c) {
  if (!c->background) c->refs.fetch_add(1, std::memory_order_relaxed);
}

void ctx_release(Context* c) {
  if (c->background) return;
  if (c->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  live_timer_del(&c->timer);
  detach(c);
  if (c->done) chan_release(c->done);
  Context* p = c->parent;
  delete c;
  if (p) ctx_release(p);
}

int ctx_new(Context* parent, int64_t deadline, bool arm, Context** out) {
  Context* c = new (std::nothrow) Context;
  if (!c) return -ENOMEM;
  c->done = chan_make(0, 0);
  if (!c->done) {
    delete c;
    return -ENOMEM;
  }
  ctx_retain(parent);
  c->parent = parent;
  int64_t own = deadline < 0 ? -1 : deadline;
  c->deadline = own;
  if (parent->deadline >= 0 && (own < 0 || parent->deadline <= own)) {
    c->deadline = parent->deadline;
    own = -1;  // the parent's timer (or an ancestor's) covers it
  }
  int perr = 0;
  if (!parent->background) {
    LockGuard lg(parent->mu);
    perr = ctx_err(parent);
    if (!perr) {
      c->sib_next = parent->children;
      if (parent->children) parent->children->sib_prev = c;
      parent->children = c;
      c->in_parent = true;
    }
  }
  if (perr) {
    ctx_cancel(c, perr);
  } else if (own >= 0 && arm) {
    if (own <= nanotime()) {
      ctx_cancel(c, -ETIMEDOUT);
    } else {
      c->timer.t.f = deadline_fired;
      c->timer.t.arg = c;
      c->timer.t.when = own;
      int err = rt_ensure_started();
      if (!err) err = live_timer_arm(&c->timer);
      if (err) {
        ctx_release(c);
        return err;
      }
    }
  }
  *out = c;
  return 0;
}

void ctx_cancel(Context* root, int err) {
  if (root->background) return;
  // root's cancel_next is not ours to use: root may at the same time sit
  // on the work list of an ancestor's canceller.
  Context* c = root;
  Context* work = nullptr;
  for (;;) {
    Waiter* ready = nullptr;
    bool fresh = false;
    {
      LockGuard lg(c->mu);
      if (ctx_err(c) == 0) {
        fresh = true;
        c->err.store(err, std::memory_order_release);
        // Claim every waiter still waiting; the ones a waker or a deadline
        // claimed first stay listed and unwatch themselves.
        Waiter** link = &c->waiters;
        while (Waiter* w = *link) {
          Waiter::GiveUp r = w->give_up(Waiter::kCancelled);
          if (r != Waiter::kLost) {
            *link = w->ctx_next;
            if (w->ctx_next) w->ctx_next->ctx_prev = w->ctx_prev;
            w->ctx_linked = false;
            w->ctx_prev = nullptr;
            w->ctx_next = nullptr;
            if (r == Waiter::kMustReady) {  // kClaimedArming: its park function sees it
              w->ctx_next = ready;
              ready = w;
            }
          } else {
            link = &w->ctx_next;
          }
        }
        while (Context* ch = c->children) {
          c->children = ch->sib_next;
          ch->sib_next = ch->sib_prev = nullptr;
          ch->in_parent = false;
          if (try_retain(ch)) {
            ch->cancel_next = work;
            work = ch;
          }
        }
      }
    }
    if (fresh) {
      chan_close(c->done);
      while (ready) {
        Waiter* w = ready;
        ready = w->ctx_next;  // read before ready(): w may return and vanish
        ready_waiter(w);
      }
      if (c == root) detach(c);
    }
    if (c != root) ctx_release(c);
    if (!work) break;
    c = work;
    work = c->cancel_next;
    c->cancel_next = nullptr;
  }
}

bool ctx_watch(Context* c, Waiter* w) {
  if (c->background) return true;  // never cancelled: nothing to watch
  LockGuard lg(c->mu);
  if (ctx_err(c)) {
    w->give_up(Waiter::kCancelled);  // nobody else can have it yet
    return false;
  }
  w->ctx_prev = nullptr;
  w->ctx_next = c->waiters;
  if (c->waiters) c->waiters->ctx_prev = w;
  c->waiters = w;
  w->ctx_linked = true;
  return true;
}

void ctx_unwatch(Context* c, Waiter* w) {
  if (c->background) return;
  LockGuard lg(c->mu);
  if (!w->ctx_linked) return;
  if (w->ctx_prev)
    w->ctx_prev->ctx_next = w->ctx_next;
  else
    c->waiters = w->ctx_next;
  if (w->ctx_next) w->ctx_next->ctx_prev = w->ctx_prev;
  w->ctx_next = w->ctx_prev = nullptr;
  w->ctx_linked = false;
}

}  // namespace goro::rt
