// context.h: Context, the object behind goro_ctx_t (Go's context package:
// cancellation and deadlines that flow down a tree). See context.cpp.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstdint>

#include "os/futex.h"
#include "sync/chan.h"
#include "sync/waiter.h"
#include "time/timer.h"

namespace goro::rt {

// LiveTimer is a Timer that goro_shutdown() knows about: armed through
// live_timer_arm(), it is deleted from its heap before the heaps are freed
// (live_timers_shutdown(), called from chan_timers_shutdown()), so an object
// that outlives the runtime can still call live_timer_del() safely.
struct LiveTimer {
  Timer t;  // first: a Timer* is a LiveTimer*
  LiveTimer* next = nullptr;  // (registry lock)
  LiveTimer* prev = nullptr;
  bool live = false;          // (registry lock) armed and not yet deleted
};
// live_timer_arm() arms lt (t.f, t.arg, t.when set by the caller). Returns 0
// or -ESHUTDOWN when the runtime is not running. Any thread.
int live_timer_arm(LiveTimer* lt);
// live_timer_del() deletes lt if armed and waits for a callback under way
// (timer_del). Never call it from lt's own callback.
void live_timer_del(LiveTimer* lt);
void live_timers_shutdown();

struct Context {
  explicit Context(bool bg = false) : background(bg) {}

  std::atomic<int32_t> refs{1};
  const bool background;       // the static root: never cancelled, not counted
  int64_t deadline = -1;         // effective (min with parent's); immutable
  Context* parent = nullptr;     // holds a reference; immutable
  Chan* done = nullptr;          // closed at cancellation; null for background
  std::atomic<int> err{0};       // 0, -ECANCELED or -ETIMEDOUT; set once under mu
  Mutex mu;
  Context* children = nullptr;   // (mu) children that may still need cancelling
  Context* sib_next = nullptr;   // (parent->mu) links in parent's children
  Context* sib_prev = nullptr;
  bool in_parent = false;        // (parent->mu)
  Waiter* waiters = nullptr;     // (mu) ctx_watch()ed waiters
  Context* cancel_next = nullptr;  // cancel's work list; only its one canceller touches it
  LiveTimer timer;               // deadline timer, armed only if this context's own
                                 // deadline is earlier than its parent's
};

// The static Background context.
Context* ctx_background();
// ctx_new() makes a child of parent (retained) with an optional deadline
// (< 0: only the parent's). A parent already cancelled, or a deadline
// already past, makes it start cancelled. arm_timer == false leaves the
// deadline to the caller (it cancels with -ETIMEDOUT itself).
// Returns 0, -ENOMEM or -ESHUTDOWN (a deadline needs the runtime).
int ctx_new(Context* parent, int64_t deadline, bool arm_timer, Context** out);
void ctx_retain(Context* c);
void ctx_release(Context* c);
// ctx_cancel() cancels c and every descendant with err (first one wins).
// c must be kept alive by the caller. Any thread, also timer callbacks.
void ctx_cancel(Context* c, int err);
inline int ctx_err(Context* c) { return c->err.load(std::memory_order_acquire); }

// ctx_wait_error() maps the result of a wait done with w.ctx = c and
// deadline c->deadline to what a _ctx call returns: a failed wait
// (-ETIMEDOUT) becomes the context's error once it has one.
inline int ctx_wait_error(Context* c, int rc) {
  if (rc != -ETIMEDOUT) return rc;
  int e = ctx_err(c);
  return e ? e : -ETIMEDOUT;
}

// ctx_call() runs a _ctx call's wait: op(c) must block with w.ctx = c and
// deadline c->deadline. It holds a reference on the context meanwhile and
// maps the result with ctx_wait_error(). (The caller checked ctx != NULL.)
template <typename Op>
int ctx_call(goro_ctx_t* ctx, Op op) {
  Context* c = reinterpret_cast<Context*>(ctx);
  ctx_retain(c);
  int rc = ctx_wait_error(c, op(c));
  ctx_release(c);
  return rc;
}

}  // namespace goro::rt
