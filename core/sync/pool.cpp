// pool.cpp: goro_pool_t, a worker pool with a bounded queue (seed 003's
// blueprint, with the bug of seed 004's example avoided: submitting never
// spawns a goroutine per task, it blocks on the queue instead).
//
// Owns: the worker goroutines, the queue (a Chan of QItem, so submit's
// backpressure, try_submit's -EAGAIN and submit's context are the channel's
// own), the pool's context, the supervisor goroutine (only with a per-task
// timeout) and the counters.
//
// Shutdown protocol (goro_pool_shutdown; any number of callers):
//  1. Under mu: the first caller marks the pool closed; the first CANCEL
//     caller marks it cancelled and sets `drop`.
//  2. The closer closes the queue: blocked submitters wake with -EPIPE,
//     workers run what is still queued and exit when it is empty.
//  3. The canceller cancels the pool's context (running tasks see it) and
//     empties the queue itself, counting each item dropped; a worker that
//     dequeues an item while `drop` is set counts it dropped too. Every
//     queued item is dequeued exactly once, so the count is exact.
//  4. Everyone waits for the worker slots (wg), then stops the supervisor.
//
// Per-task timeout. A worker gives its task a child context with the
// deadline and arms a LiveTimer for it. If the timer fires first it claims
// the task (state kRunning -> kTimedOut), cancels the task's context with
// -ETIMEDOUT and hands the task to the supervisor, which delivers its result
// (-ETIMEDOUT) at once, gives back its max_running slot and starts a
// replacement worker that inherits the hung worker's wg slot. The hung
// worker, when its task finally returns, finds the claim lost, discards the
// result and exits without touching wg. If the task returns first, the
// worker deletes the timer (timer_del waits for a callback under way), so
// exactly one of them reports the task.
//
// Invariants:
//  - Every accepted task ends in exactly one of completed, failed,
//    timed_out, dropped.
//  - refs: the user's reference plus one per live worker (hung ones too) and
//    the supervisor; the last one frees the pool, so a hung task returning
//    after goro_pool_free() still finds it.
//  - Lock order: a context's lock, then mu (the timer path cancels the
//    task's context before taking mu; nothing takes a context lock under mu).
//
// Counters. A task's path through the pool (submit, dequeue, run, finish)
// updates goro_pool_stats' counters, and at 2 Ps each update of a line the
// other CPU wrote last is a transfer between CPUs: with all of them on one
// line, next to fields every task reads, bench/bounded's pool spent more
// per item than Go's bare channel. So submitters write their own line (seq,
// submitted, enq), workers count dequeues and results on a stripe per P,
// and only `running` (with its peak, which needs the one true count) is
// shared by every worker. queued is enq less every stripe's deq; stats read
// the stripes one by one, so a figure may be off by tasks moving meanwhile,
// as any figure read while the pool runs.
#include "sync/pool.h"

#include <cerrno>
#include <cstring>
#include <new>

#include "sched/sched.h"
#include "sync/wake.h"

namespace goro::rt {

// ---------------------------------------------------------------------------
// Event

void Event::wait() {
  Waiter w;
  w.g = getg();
  SyscallPause sp(w.g);  // before the lock: leaving may wait for a P (sched.h)
  mu_.lock();
  if (set_) {
    set_ = false;
    mu_.unlock();
    return;
  }
  w_ = &w;
  w.block(&mu_, -1);  // only notify() claims it
}

void Event::notify() {
  Waiter* w = nullptr;
  {
    LockGuard lg(mu_);
    if (w_) {
      if (w_->claim()) w = w_;
      w_ = nullptr;
    } else {
      set_ = true;
    }
  }
  if (w) ready_waiter(w);
}

// ---------------------------------------------------------------------------
// Pool

struct QItem {
  goro_task_fn fn;
  void* arg;
  uint64_t seq;
};

struct PoolTask {
  enum : uint32_t { kRunning = 0, kDone = 1, kTimedOut = 2 };
  std::atomic<int32_t> refs{2};  // the worker and the timeout path
  std::atomic<uint32_t> state{kRunning};
  Pool* p = nullptr;
  QItem it{};
  Context* ctx = nullptr;
  LiveTimer timer;
  PoolTask* next = nullptr;  // (p->mu) hung list
};

namespace {

void task_unref(PoolTask* t) {
  if (t->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete t;
}

void pool_unref(Pool* p) {
  if (p->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  ctx_release(p->ctx);
  chan_release(p->q);
  if (p->results) chan_release(p->results);
  delete p->run_sem;
  delete p;
}

// worker_key marks a pool's workers (goroutine-local), so that shutdown from
// a task can say -EDEADLK instead of waiting for itself.
bool worker_key(goro_key_t* k) {
  static goro_key_t key;
  static bool ok = goro_key_create(&key, nullptr) == 0;
  *k = key;
  return ok;
}

void deliver(Pool* p, const QItem& it, int status) {
  goro_pool_result_t r;
  r.arg = it.arg;
  r.seq = it.seq;
  r.status = status;
  if (p->on_result) p->on_result(p->result_user, &r);
  if (p->results) chan_send(p->results, &r, true, -1);  // -EPIPE: the user closed it
}

// stripe: the counters of the P the caller runs on (stripe 0 off a P). A G
// moved to another P between this and its update only shares a line.
Pool::Stripe& stripe(Pool* p) {
  P* pp = curp();
  return p->stripes[pp ? pp->id & (Pool::kStripes - 1) : 0];
}

void note_running(Pool* p) {
  uint64_t r = p->running.fetch_add(1, std::memory_order_relaxed) + 1;
  uint64_t pk = p->peak_running.load(std::memory_order_relaxed);
  while (r > pk && !p->peak_running.compare_exchange_weak(pk, r, std::memory_order_relaxed)) {
  }
}

void task_timeout(Timer* tm) {
  PoolTask* t = static_cast<PoolTask*>(tm->arg);
  uint32_t expect = PoolTask::kRunning;
  if (!t->state.compare_exchange_strong(expect, PoolTask::kTimedOut, std::memory_order_acq_rel))
    return;
  Pool* p = t->p;  // alive: the hung worker holds a reference
  p->timed_out.fetch_add(1, std::memory_order_relaxed);
  p->hung.fetch_add(1, std::memory_order_relaxed);
  ctx_cancel(t->ctx, -ETIMEDOUT);
  {
    LockGuard lg(p->mu);
    t->next = p->hung_list;
    p->hung_list = t;
  }
  p->ev.notify();
}

// run_with_timeout() runs the task under a deadline. Returns false if the
// task was declared hung (its result is no longer ours).
bool run_with_timeout(Pool* p, const QItem& it, int* st) {
  PoolTask* t = new (std::nothrow) PoolTask;
  int64_t when = nanotime() + p->timeout;
  if (t && ctx_new(p->ctx, when, false, &t->ctx) == 0) {
    t->p = p;
    t->it = it;
    t->timer.t.f = task_timeout;
    t->timer.t.arg = t;
    t->timer.t.when = when;
    if (live_timer_arm(&t->timer) == 0) {
      *st = it.fn(reinterpret_cast<goro_ctx_t*>(t->ctx), it.arg);
      live_timer_del(&t->timer);
      uint32_t expect = PoolTask::kRunning;
      bool mine =
          t->state.compare_exchange_strong(expect, PoolTask::kDone, std::memory_order_acq_rel);
      ctx_release(t->ctx);
      if (mine) t->refs.fetch_sub(1, std::memory_order_relaxed);  // no timeout path
      task_unref(t);
      return mine;
    }
    ctx_release(t->ctx);
  }
  delete t;
  // No memory (or no runtime) for the timeout: run it without one.
  *st = it.fn(reinterpret_cast<goro_ctx_t*>(p->ctx), it.arg);
  return true;
}

void worker_main(void* a) {
  Pool* p = static_cast<Pool*>(a);
  goro_key_t key;
  if (worker_key(&key)) goro_key_set(key, p);
  bool hung = false;
  for (;;) {
    QItem it;
    if (chan_recv(p->q, &it, true, -1) != 0) break;  // closed and drained
    stripe(p).deq.fetch_add(1, std::memory_order_release);
    if (p->drop.load(std::memory_order_acquire)) {
      p->dropped.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (p->run_sem) {
      p->run_sem->acquire(1, -1);
      if (p->drop.load(std::memory_order_acquire)) {
        p->run_sem->release(1);
        p->dropped.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
    }
    note_running(p);
    int st = 0;
    if (p->timeout > 0) {
      if (!run_with_timeout(p, it, &st)) {
        // Reported as hung by the supervisor, which also gave back our
        // run_sem slot and started our replacement. We just leave.
        p->running.fetch_sub(1, std::memory_order_relaxed);
        p->hung.fetch_sub(1, std::memory_order_relaxed);
        hung = true;
        break;
      }
    } else {
      st = it.fn(reinterpret_cast<goro_ctx_t*>(p->ctx), it.arg);
    }
    p->running.fetch_sub(1, std::memory_order_relaxed);
    Pool::Stripe& sp = stripe(p);
    (st == 0 ? sp.completed : sp.failed).fetch_add(1, std::memory_order_relaxed);
    deliver(p, it, st);
    if (p->run_sem) p->run_sem->release(1);
    if (p->flags & GORO_POOL_CPU) goro_yield();  // let the P's other goroutines in
  }
  if (worker_key(&key)) goro_key_set(key, nullptr);
  if (!hung) p->wg.add(-1);
  pool_unref(p);
}

int start_worker(Pool* p) {
  p->refs.fetch_add(1, std::memory_order_relaxed);
  int err = goro_go(worker_main, p);
  if (err) p->refs.fetch_sub(1, std::memory_order_relaxed);
  return err;
}

void supervisor_main(void* a) {
  Pool* p = static_cast<Pool*>(a);
  for (;;) {
    PoolTask* list;
    bool exit;
    {
      LockGuard lg(p->mu);
      list = p->hung_list;
      p->hung_list = nullptr;
      exit = p->sup_exit;
    }
    while (list) {
      PoolTask* t = list;
      list = t->next;
      deliver(p, t->it, -ETIMEDOUT);
      if (p->run_sem) p->run_sem->release(1);
      if (start_worker(p) != 0) p->wg.add(-1);  // no replacement: give up the slot
      task_unref(t);
    }
    if (exit) break;
    p->ev.wait();
  }
  p->sup_wg.add(-1);
  pool_unref(p);
}

}  // namespace

int pool_new(const goro_pool_opts_t* o, Pool** out) {
  int workers = o->workers;
  if (workers == 0) {
    workers = goro_maxprocs(0);
    if (workers < 0) return workers;
  }
  int maxprocs = goro_maxprocs(0);
  if (maxprocs < 0) return maxprocs;
  int k = o->max_running ? o->max_running : workers;
  if ((o->flags & GORO_POOL_CPU) && o->max_running == 0) k = maxprocs > 1 ? maxprocs - 1 : 1;
  Pool* p = new (std::nothrow) Pool;
  if (!p) return -ENOMEM;
  p->q = chan_make(sizeof(QItem), size_t(o->queue_cap));
  if (!p->q) {
    delete p;
    return -ENOMEM;
  }
  if (k < workers && !(p->run_sem = new (std::nothrow) Semaphore(k))) {
    chan_release(p->q);
    delete p;
    return -ENOMEM;
  }
  Context* parent = o->parent ? reinterpret_cast<Context*>(o->parent) : ctx_background();
  if (int err = ctx_new(parent, -1, true, &p->ctx)) {
    chan_release(p->q);
    delete p->run_sem;
    delete p;
    return err;
  }
  p->on_result = o->on_result;
  p->result_user = o->result_user;
  if (o->results) {
    p->results = reinterpret_cast<Chan*>(o->results);
    chan_retain(p->results);
  }
  p->timeout = o->task_timeout;
  p->flags = o->flags;
  int err = 0;
  for (int i = 0; i < workers && !err; i++) {
    p->wg.add(1);
    if ((err = start_worker(p))) p->wg.add(-1);
  }
  if (!err && p->timeout > 0) {
    p->sup_wg.add(1);
    p->refs.fetch_add(1, std::memory_order_relaxed);
    if ((err = goro_go(supervisor_main, p))) {
      p->refs.fetch_sub(1, std::memory_order_relaxed);
      p->sup_wg.add(-1);
    }
  }
  if (err) {
    pool_shutdown(p, GORO_POOL_CANCEL, nullptr);
    pool_unref(p);
    return err;
  }
  *out = p;
  return 0;
}

int pool_submit(Pool* p, Context* ctx, goro_task_fn fn, void* arg, bool block) {
  QItem it{fn, arg, p->seq.fetch_add(1, std::memory_order_relaxed) + 1};
  p->enq.fetch_add(1, std::memory_order_relaxed);
  int rc = block ? chan_send(p->q, &it, true, ctx->deadline, ctx) : chan_send(p->q, &it, false, -1);
  if (rc) {
    p->enq.fetch_sub(1, std::memory_order_relaxed);
    return rc;
  }
  p->submitted.fetch_add(1, std::memory_order_relaxed);
  return 0;
}

int pool_shutdown(Pool* p, int how, uint64_t* dropped) {
  goro_key_t key;
  if (worker_key(&key) && goro_key_get(key) == p) return -EDEADLK;
  bool close_q = false, cancel = false;
  {
    LockGuard lg(p->mu);
    if (!p->closed) p->closed = close_q = true;
    if (how == GORO_POOL_CANCEL && !p->cancelled) p->cancelled = cancel = true;
  }
  if (cancel) p->drop.store(true, std::memory_order_release);
  if (close_q) chan_close(p->q);
  if (cancel) {
    ctx_cancel(p->ctx, -ECANCELED);
    QItem it;
    while (chan_recv(p->q, &it, false, -1) == 0) {
      stripe(p).deq.fetch_add(1, std::memory_order_release);
      p->dropped.fetch_add(1, std::memory_order_relaxed);
    }
  }
  p->wg.wait();
  {
    LockGuard lg(p->mu);
    p->sup_exit = true;
  }
  p->ev.notify();
  p->sup_wg.wait();
  p->down.store(true, std::memory_order_release);
  if (dropped) *dropped = p->dropped.load(std::memory_order_relaxed);
  return 0;
}

void pool_stats(Pool* p, goro_pool_stats_t* st) {
  goro_pool_stats_t s;
  memset(&s, 0, sizeof s);
  s.size = sizeof s;
  // Dequeues first, then enq: an item's enq precedes its dequeue (through
  // the channel) and the release on deq, so every dequeue counted here has
  // its offer counted below, and queued never counts a taken item negative.
  uint64_t deq = 0;
  for (const Pool::Stripe& sp : p->stripes) {
    deq += sp.deq.load(std::memory_order_acquire);
    s.completed += sp.completed.load(std::memory_order_relaxed);
    s.failed += sp.failed.load(std::memory_order_relaxed);
  }
  uint64_t enq = p->enq.load(std::memory_order_relaxed);
  s.queued = enq > deq ? enq - deq : 0;
  s.submitted = p->submitted.load(std::memory_order_relaxed);
  s.running = p->running.load(std::memory_order_relaxed);
  s.timed_out = p->timed_out.load(std::memory_order_relaxed);
  s.dropped = p->dropped.load(std::memory_order_relaxed);
  s.hung = p->hung.load(std::memory_order_relaxed);
  s.peak_running = p->peak_running.load(std::memory_order_relaxed);
  size_t n = st->size < sizeof s ? st->size : sizeof s;
  memcpy(reinterpret_cast<char*>(st) + sizeof(size_t), reinterpret_cast<char*>(&s) + sizeof(size_t),
         n - sizeof(size_t));
}

int pool_free(Pool* p) {
  if (!p->down.load(std::memory_order_acquire)) return -EBUSY;
  pool_unref(p);
  return 0;
}

}  // namespace goro::rt
