// chan.cpp: channels and select (Go's chan.go and select.go).
//
// Owns: Chan (a ring buffer plus queues of blocked senders and receivers),
// the select algorithm, and the timers behind goro_after and tickers.
//
// Invariants:
//  - At most one of sendq and recvq holds claimable waiters: a waiter is
//    queued only when no partner was available under the same lock.
//  - qcount > 0 implies recvq has no claimable waiter; qcount < dataqsiz
//    implies sendq has none (for buffered channels).
//  - A value goes straight from sender to a blocked receiver (and, for a
//    full buffer, the blocked sender's value goes into the slot the receiver
//    emptied): no extra copy through the buffer, as in Go.
//  - A channel outlives the operations blocked on it. A select holds a
//    reference on each of its channels until it returns. A blocked send or
//    receive is counted in nblocked instead (two atomic operations fewer on
//    the hot path): the last reference, dropped while nblocked > 0, leaves
//    the channel orphaned, and the last blocked operation to leave frees it.
//    A waker that claims a waiter counts it out (the woken operation does not
//    touch the channel again); one that timed out counts itself out. The
//    M parking a waiter may still be inside c->lock.unlock() (its
//    futex_wake) when the channel is freed: a wake on freed memory is at
//    worst a spurious wake-up, which every futex wait here tolerates.
//  - select locks its channels in address order (each once), so two selects
//    over the same channels cannot deadlock; every other path takes a single
//    channel lock.
#include "sync/chan.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "sched/sched.h"
#include "sync/context.h"
#include "time/timer.h"

namespace goro::rt {

namespace {

inline char* slot(Chan* c, uint32_t i) { return c->buf + size_t(i) * c->elemsize; }

inline void copy_elem(Chan* c, void* dst, const void* src) {
  if (c->elemsize && dst && src) memcpy(dst, src, c->elemsize);
}

inline void zero_elem(Chan* c, void* dst) {
  if (c->elemsize && dst) memset(dst, 0, c->elemsize);
}

// Readying a goroutine from a plain thread touches the scheduler: keep the
// runtime alive for the duration (see ApiRef).
inline void ready_peer(Waiter* w) {
  if (w->g && !getg()) {
    ApiRef ref;
    if (ref.ok()) w->ready();
    return;
  }
  w->ready();
}

// take claims and unlinks the first claimable waiter of q (c->sendq or
// c->recvq), or returns null. c->lock held. A blocked send/recv it claims
// never touches c again, so it leaves nblocked; a select case keeps its own
// reference.
inline Waiter* take(Chan* c, WaitQueue& q) {
  Waiter* w = q.dequeue();
  if (w && !w->sel_first) c->nblocked--;
  return w;
}

// send_locked / recv_locked perform the operation if it can proceed now.
// Return 1 and set *rc if done; 0 if it would block. *peer is the waiter
// to ready after unlocking.
int send_locked(Chan* c, const void* ep, int* rc, Waiter** peer) {
  if (c->closed) {
    *rc = -EPIPE;
    return 1;
  }
  if (Waiter* w = take(c, c->recvq)) {
    copy_elem(c, w->elem, ep);
    w->result = 0;
    *peer = w;
    *rc = 0;
    return 1;
  }
  if (c->qcount < c->dataqsiz) {
    copy_elem(c, slot(c, c->sendx), ep);
    if (++c->sendx == c->dataqsiz) c->sendx = 0;
    c->qcount++;
    *rc = 0;
    return 1;
  }
  return 0;
}

int recv_locked(Chan* c, void* ep, int* rc, Waiter** peer) {
  if (c->closed && c->qcount == 0) {
    zero_elem(c, ep);
    *rc = -EPIPE;
    return 1;
  }
  if (Waiter* w = take(c, c->sendq)) {
    if (c->dataqsiz == 0) {
      copy_elem(c, ep, w->elem);
    } else {
      // Full buffer: take the head, put the sender's value at the tail.
      copy_elem(c, ep, slot(c, c->recvx));
      copy_elem(c, slot(c, c->recvx), w->elem);
      if (++c->recvx == c->dataqsiz) c->recvx = 0;
      c->sendx = c->recvx;
    }
    w->result = 0;
    *peer = w;
    *rc = 0;
    return 1;
  }
  if (c->qcount > 0) {
    copy_elem(c, ep, slot(c, c->recvx));
    if (++c->recvx == c->dataqsiz) c->recvx = 0;
    c->qcount--;
    *rc = 0;
    return 1;
  }
  return 0;
}

}  // namespace

Chan* chan_make(size_t elemsize, size_t cap) {
  Chan* c = new (std::nothrow) Chan;
  if (!c) return nullptr;
  c->elemsize = elemsize;
  c->dataqsiz = uint32_t(cap);
  if (cap && elemsize) {
    c->buf = static_cast<char*>(calloc(cap, elemsize));
    if (!c->buf) {
      delete c;
      return nullptr;
    }
  }
  return c;
}

void chan_retain(Chan* c) { c->refs.fetch_add(1, std::memory_order_relaxed); }

namespace {
void chan_free(Chan* c) {
  free(c->buf);
  delete c;
}
}  // namespace

void chan_release(Chan* c) {
  if (c->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  c->lock.lock();
  bool waiting = c->nblocked > 0;
  c->orphaned = waiting;
  c->lock.unlock();
  if (!waiting) chan_free(c);
}

namespace {

// chan_op performs a send (q = sendq) or receive (q = recvq): at once if
// try_locked() can, else, if allowed, by queueing on q until a partner, the
// deadline or close. The blocked operation is counted in c->nblocked.
template <typename TryLocked>
int chan_op(Chan* c, WaitQueue& q, void* ep, bool block, int64_t deadline, Context* ctx,
            TryLocked try_locked) {
  preempt_check();  // a preemption point (sched.h)
  int rc = 0;
  Waiter* peer = nullptr;
  c->lock.lock();
  if (try_locked(&rc, &peer)) {
    c->lock.unlock();
    if (peer) ready_peer(peer);
    return rc;
  }
  if (!block) {
    c->lock.unlock();
    return -EAGAIN;
  }
  if (deadline >= 0 && deadline <= nanotime()) {
    c->lock.unlock();
    return -ETIMEDOUT;
  }
  Waiter w;
  w.g = getg();
  w.elem = ep;
  w.ctx = ctx;
  w.waitreason = &q == &c->recvq ? "chan receive" : "chan send";  // Go's wait reasons
  q.push_back(&w);
  c->nblocked++;
  if (!w.block(&c->lock, deadline)) {
    c->lock.lock();
    q.remove(&w);
    bool last = --c->nblocked == 0 && c->orphaned;
    c->lock.unlock();
    if (last) chan_free(c);
    return -ETIMEDOUT;
  }
  return w.result;
}

}  // namespace

int chan_send(Chan* c, const void* ep, bool block, int64_t deadline, Context* ctx) {
  return chan_op(c, c->sendq, const_cast<void*>(ep), block, deadline, ctx,
                 [&](int* rc, Waiter** peer) { return send_locked(c, ep, rc, peer); });
}

int chan_recv(Chan* c, void* ep, bool block, int64_t deadline, Context* ctx) {
  return chan_op(c, c->recvq, ep, block, deadline, ctx,
                 [&](int* rc, Waiter** peer) { return recv_locked(c, ep, rc, peer); });
}

int chan_close(Chan* c) {
  Waiter* list = nullptr;
  {
    LockGuard lg(c->lock);
    if (c->closed) return -EPIPE;
    c->closed = true;
    while (Waiter* w = take(c, c->recvq)) {
      zero_elem(c, w->elem);
      w->result = -EPIPE;
      w->next = list;
      list = w;
    }
    while (Waiter* w = take(c, c->sendq)) {
      w->result = -EPIPE;
      w->next = list;
      list = w;
    }
  }
  while (list) {
    Waiter* w = list;
    list = w->next;  // read before ready(): the waiter may return at once
    ready_peer(w);
  }
  return 0;
}

// ---------------------------------------------------------------------------
// select (Go's selectgo).

namespace {

void sel_lock(std::vector<Chan*>& order) {
  for (Chan* c : order) c->lock.lock();
}

// sel_unlock runs off the selecting G's stack while it parks (block_with).
// Once the last lock is dropped the G can be woken, finish the select and
// free `order` (the vector lives on its stack), so nothing of it may be read
// after that unlock: take the array and count first, count down in a local.
// Go's selunlock has the same rule.
void sel_unlock(void* a) {
  auto* order = static_cast<std::vector<Chan*>*>(a);
  Chan* const* cs = order->data();
  for (size_t i = order->size(); i-- > 0;) cs[i]->lock.unlock();
}

uint32_t sel_rand() {
  // xorshift per thread; select fairness only needs a uniform pick.
  thread_local uint64_t x = 0x9E3779B97F4A7C15ull ^ uint64_t(nanotime());
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return uint32_t(x >> 32);
}

}  // namespace

int chan_select(goro_select_case_t* cases, size_t n, bool block, int64_t deadline,
                Context* ctx) {
  preempt_check();  // a preemption point (sched.h)
  std::vector<uint32_t> pollorder;
  std::vector<Chan*> order;
  try {
    pollorder.reserve(n);
    order.reserve(n);
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    if (!cases[i].ch) continue;
    // Fisher-Yates while filling: a uniformly random poll order.
    uint32_t j = sel_rand() % uint32_t(pollorder.size() + 1);
    pollorder.push_back(uint32_t(i));
    std::swap(pollorder[j], pollorder.back());
    order.push_back(reinterpret_cast<Chan*>(cases[i].ch));
  }
  std::sort(order.begin(), order.end());
  order.erase(std::unique(order.begin(), order.end()), order.end());

  // Pass 1: is any case ready?
  sel_lock(order);
  for (uint32_t i : pollorder) {
    Chan* c = reinterpret_cast<Chan*>(cases[i].ch);
    int rc = 0;
    Waiter* peer = nullptr;
    int done = cases[i].op == GORO_SELECT_SEND ? send_locked(c, cases[i].elem, &rc, &peer)
                                               : recv_locked(c, cases[i].elem, &rc, &peer);
    if (done) {
      sel_unlock(&order);
      if (peer) ready_peer(peer);
      cases[i].result = rc;
      return int(i);
    }
  }
  if (!block) {
    sel_unlock(&order);
    return -EAGAIN;
  }
  if (deadline >= 0 && deadline <= nanotime()) {
    sel_unlock(&order);
    return -ETIMEDOUT;
  }

  // Pass 2: enqueue on every channel and park. All case waiters share the
  // first one's claim word, so exactly one case can win.
  size_t nw = pollorder.size();
  Waiter* ws = nw ? new (std::nothrow) Waiter[nw] : nullptr;
  Waiter single;  // n == 0 (or only nil channels): block until the deadline
  if (nw && !ws) {
    sel_unlock(&order);
    return -ENOMEM;
  }
  G* gp = getg();
  Waiter* first = nw ? &ws[0] : &single;
  first->g = gp;
  first->ctx = ctx;
  first->waitreason = nw ? "select" : "select (no cases)";
  for (size_t k = 0; k < nw; k++) {
    uint32_t i = uint32_t(pollorder[k]);
    Waiter* w = &ws[k];
    Chan* c = reinterpret_cast<Chan*>(cases[i].ch);
    w->g = gp;
    w->elem = cases[i].elem;
    w->index = int32_t(i);
    w->sel_first = first;
    if (cases[i].op == GORO_SELECT_SEND)
      c->sendq.push_back(w);
    else
      c->recvq.push_back(w);
  }
  for (Chan* c : order) chan_retain(c);
  bool ok = first->block_with(sel_unlock, &order, deadline);

  // Dequeue from every channel we did not win on.
  sel_lock(order);
  for (size_t k = 0; k < nw; k++) {
    Chan* c = reinterpret_cast<Chan*>(cases[ws[k].index].ch);
    if (cases[ws[k].index].op == GORO_SELECT_SEND)
      c->sendq.remove(&ws[k]);
    else
      c->recvq.remove(&ws[k]);
  }
  sel_unlock(&order);
  int ret;
  if (!ok) {
    ret = -ETIMEDOUT;
  } else {
    Waiter* won = first->won;
    cases[won->index].result = won->result;
    ret = won->index;
  }
  for (Chan* c : order) chan_release(c);
  delete[] ws;
  return ret;
}

// ---------------------------------------------------------------------------
// Timers delivering to channels: goro_after and tickers.

namespace {

struct ChanTimer {
  Timer t;
  Chan* c = nullptr;
  int64_t period = 0;      // 0: one-shot (goro_after)
  Mutex mu;                // serializes fire against stop
  bool stopped = false;    // (mu)
  bool owned_by_user = false;  // a ticker handle still exists
  ChanTimer* next = nullptr;   // live list (g_live_mu)
  ChanTimer* prev = nullptr;
};

Mutex g_live_mu;
ChanTimer* g_live = nullptr;

void live_add(ChanTimer* ct) {
  LockGuard lg(g_live_mu);
  ct->next = g_live;
  if (g_live) g_live->prev = ct;
  g_live = ct;
}

void live_remove(ChanTimer* ct) {
  LockGuard lg(g_live_mu);
  if (ct->prev)
    ct->prev->next = ct->next;
  else if (g_live == ct)
    g_live = ct->next;
  if (ct->next) ct->next->prev = ct->prev;
  ct->next = ct->prev = nullptr;
}

void chan_timer_fired(Timer* t) {
  ChanTimer* ct = reinterpret_cast<ChanTimer*>(t);
  int64_t now = nanotime();
  if (ct->period == 0) {
    chan_send(ct->c, &now, false, -1);  // capacity 1 and sent once: never blocks
    live_remove(ct);
    chan_release(ct->c);
    delete ct;
    return;
  }
  LockGuard lg(ct->mu);
  if (ct->stopped) return;
  chan_send(ct->c, &now, false, -1);  // a slow reader misses ticks, as in Go
  // Next tick: the next multiple of the period after now (no bursts).
  int64_t when = ct->t.when + ct->period;
  if (when <= now) when += ((now - when) / ct->period + 1) * ct->period;
  ct->t.when = when;
  arm_timer(&ct->t);
}

}  // namespace

void chan_timers_shutdown() {
  live_timers_shutdown();  // contexts' and pools' timers (context.h)
  // No M runs any more: timers are inert. Free what is left.
  LockGuard lg(g_live_mu);
  while (ChanTimer* ct = g_live) {
    g_live = ct->next;
    timer_del(&ct->t);
    if (ct->period == 0 || !ct->owned_by_user) {
      chan_release(ct->c);
      delete ct;
    } else {
      // The user's ticker handle still owns it; just mark it stopped.
      LockGuard tl(ct->mu);
      ct->stopped = true;
      ct->next = ct->prev = nullptr;
    }
  }
}

}  // namespace goro::rt

// ---------------------------------------------------------------------------
// C API.

using namespace goro::rt;

struct goro_ticker {
  ChanTimer* ct;
};

static Chan* C(goro_chan_t* ch) { return reinterpret_cast<Chan*>(ch); }

extern "C" {

GORO_API int64_t goro_now(void) noexcept { return nanotime(); }

GORO_API int goro_chan_make(goro_chan_t** ch, size_t elem_size, size_t capacity) noexcept {
  if (!ch || elem_size > GORO_CHAN_ELEM_MAX || capacity > GORO_CHAN_CAP_MAX) return -EINVAL;
  Chan* c = chan_make(elem_size, capacity);
  if (!c) return -ENOMEM;
  *ch = reinterpret_cast<goro_chan_t*>(c);
  return 0;
}

GORO_API int goro_chan_retain(goro_chan_t* ch) noexcept {
  if (!ch) return -EINVAL;
  chan_retain(C(ch));
  return 0;
}

GORO_API int goro_chan_release(goro_chan_t* ch) noexcept {
  if (ch) chan_release(C(ch));
  return 0;
}

GORO_API int goro_chan_send(goro_chan_t* ch, const void* elem, int64_t deadline) noexcept {
  if (!ch || (!elem && C(ch)->elemsize)) return -EINVAL;
  return chan_send(C(ch), elem, true, deadline);
}

GORO_API int goro_chan_recv(goro_chan_t* ch, void* elem, int64_t deadline) noexcept {
  if (!ch) return -EINVAL;
  return chan_recv(C(ch), elem, true, deadline);
}

GORO_API int goro_chan_send_ctx(goro_chan_t* ch, const void* elem, goro_ctx_t* ctx) noexcept {
  if (!ch || !ctx || (!elem && C(ch)->elemsize)) return -EINVAL;
  Context* cx = reinterpret_cast<Context*>(ctx);
  ctx_retain(cx);
  int rc = ctx_wait_error(cx, chan_send(C(ch), elem, true, cx->deadline, cx));
  ctx_release(cx);
  return rc;
}

GORO_API int goro_chan_recv_ctx(goro_chan_t* ch, void* elem, goro_ctx_t* ctx) noexcept {
  if (!ch || !ctx) return -EINVAL;
  Context* cx = reinterpret_cast<Context*>(ctx);
  ctx_retain(cx);
  int rc = ctx_wait_error(cx, chan_recv(C(ch), elem, true, cx->deadline, cx));
  ctx_release(cx);
  return rc;
}

GORO_API int goro_chan_try_send(goro_chan_t* ch, const void* elem) noexcept {
  if (!ch || (!elem && C(ch)->elemsize)) return -EINVAL;
  return chan_send(C(ch), elem, false, -1);
}

GORO_API int goro_chan_try_recv(goro_chan_t* ch, void* elem) noexcept {
  if (!ch) return -EINVAL;
  return chan_recv(C(ch), elem, false, -1);
}

GORO_API int goro_chan_close(goro_chan_t* ch) noexcept {
  if (!ch) return -EINVAL;
  return chan_close(C(ch));
}

GORO_API int goro_chan_len(goro_chan_t* ch) noexcept {
  if (!ch) return -EINVAL;
  LockGuard lg(C(ch)->lock);
  return int(C(ch)->qcount);
}

GORO_API int goro_chan_cap(goro_chan_t* ch) noexcept {
  if (!ch) return -EINVAL;
  return int(C(ch)->dataqsiz);
}

static int select_check(goro_select_case_t* cases, size_t n, int flags) {
  if ((!cases && n > 0) || n > GORO_SELECT_MAX || (flags & ~GORO_SELECT_NONBLOCK)) return -EINVAL;
  for (size_t i = 0; i < n; i++) {
    if (cases[i].op != GORO_SELECT_RECV && cases[i].op != GORO_SELECT_SEND) return -EINVAL;
    if (cases[i].ch && cases[i].op == GORO_SELECT_SEND && !cases[i].elem &&
        C(cases[i].ch)->elemsize)
      return -EINVAL;
  }
  return 0;
}

GORO_API int goro_select(goro_select_case_t* cases, size_t n, int flags,
                         int64_t deadline) noexcept {
  if (int err = select_check(cases, n, flags)) return err;
  return chan_select(cases, n, !(flags & GORO_SELECT_NONBLOCK), deadline);
}

GORO_API int goro_select_ctx(goro_select_case_t* cases, size_t n, int flags,
                             goro_ctx_t* ctx) noexcept {
  if (!ctx) return -EINVAL;
  if (int err = select_check(cases, n, flags)) return err;
  Context* cx = reinterpret_cast<Context*>(ctx);
  ctx_retain(cx);
  int rc = ctx_wait_error(
      cx, chan_select(cases, n, !(flags & GORO_SELECT_NONBLOCK), cx->deadline, cx));
  ctx_release(cx);
  return rc;
}

GORO_API int goro_after(goro_chan_t** ch, int64_t ns) noexcept {
  if (!ch || ns < 0) return -EINVAL;
  if (int err = rt_ensure_started()) return err;
  ApiRef ref;
  if (!ref.ok()) return -ESHUTDOWN;
  Chan* c = chan_make(sizeof(int64_t), 1);
  ChanTimer* ct = c ? new (std::nothrow) ChanTimer : nullptr;
  if (!ct) {
    if (c) chan_release(c);
    return -ENOMEM;
  }
  chan_retain(c);  // the timer's reference
  ct->c = c;
  ct->t.f = chan_timer_fired;
  ct->t.tracked = false;  // it frees itself when it fires
  ct->t.when = nanotime() + ns;
  live_add(ct);
  arm_timer(&ct->t);
  *ch = reinterpret_cast<goro_chan_t*>(c);
  return 0;
}

GORO_API int goro_ticker_new(goro_ticker_t** t, int64_t period_ns) noexcept {
  if (!t || period_ns <= 0) return -EINVAL;
  if (int err = rt_ensure_started()) return err;
  ApiRef ref;
  if (!ref.ok()) return -ESHUTDOWN;
  auto* tk = new (std::nothrow) goro_ticker;
  Chan* c = tk ? chan_make(sizeof(int64_t), 1) : nullptr;
  ChanTimer* ct = c ? new (std::nothrow) ChanTimer : nullptr;
  if (!ct) {
    if (c) chan_release(c);
    delete tk;
    return -ENOMEM;
  }
  ct->c = c;
  ct->period = period_ns;
  ct->owned_by_user = true;
  ct->t.f = chan_timer_fired;
  ct->t.when = nanotime() + period_ns;
  tk->ct = ct;
  live_add(ct);
  arm_timer(&ct->t);
  *t = tk;
  return 0;
}

GORO_API goro_chan_t* goro_ticker_chan(goro_ticker_t* t) noexcept {
  return t ? reinterpret_cast<goro_chan_t*>(t->ct->c) : nullptr;
}

GORO_API int goro_ticker_stop(goro_ticker_t* t) noexcept {
  if (!t) return -EINVAL;
  ChanTimer* ct = t->ct;
  {
    LockGuard lg(ct->mu);
    if (ct->stopped) return -EALREADY;
    ct->stopped = true;
  }
  timer_del(&ct->t);  // removes it, or waits for a tick under way (which sees stopped)
  live_remove(ct);
  return 0;
}

GORO_API int goro_ticker_free(goro_ticker_t* t) noexcept {
  if (!t) return 0;
  goro_ticker_stop(t);
  chan_release(t->ct->c);
  delete t->ct;
  delete t;
  return 0;
}

}  // extern "C"
