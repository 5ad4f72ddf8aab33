// chan.cpp: channels and select (Go's chan.go and select.go).
//
// Owns: Chan (its buffer, an array or a lock-free ring, and the queues of
// blocked senders and receivers behind its lock), the select algorithm, and
// the timers behind goro_after and tickers.
//
// An unbuffered channel, and one with a buffer smaller than kRingMinCap, is
// Go's: every operation takes c->lock; a value goes from a sender straight
// to a receiver, or through an array of dataqsiz elements. A larger buffer
// adds a lock-free fast path Go does not have. It is a ring of dataqsiz
// slots, each a stamp and an element (Vyukov's bounded MPMC queue, with the
// lap encoding crossbeam's ArrayQueue uses so that no division is needed):
//  - A position is lap * one_lap + index, one_lap being the power of two
//    above dataqsiz. tail is the next position to send to, head the next to
//    receive from, each shifted left by two flag bits.
//  - Slot i's stamp starts at i. A sender that finds stamp == tail claims
//    the position with one CAS on tail, writes the element and stores
//    stamp = position + 1 (published). A receiver that finds
//    stamp == head + 1 claims it with one CAS on head, reads the element and
//    stores stamp = position + one_lap (free for the next lap). So a send or
//    receive that neither blocks nor wakes anyone costs one atomic
//    read-modify-write, on a line only its own side writes.
//  - Blocking goes through the lock. A receiver about to park sets kRecvWait
//    in tail, and only while the ring is empty with no send in flight
//    (tail == head); a sender about to park sets kSendWait in head, only
//    while the ring is full (tail == head + one_lap). The flag lives in the
//    word the other side CASes, so a fast-path operation either lands before
//    the flag (and the parker, whose CAS then fails, sees it) or sees the
//    flag and takes the lock: no wake-up is lost, and no fence is needed.
//  - close sets kClosed in tail, under the lock: a send either reserved its
//    position before (it lands, and receivers drain it) or fails.
//
// Invariants:
//  - Array (and unbuffered): at most one of sendq and recvq holds claimable
//    waiters; qcount > 0 implies recvq has none, qcount < dataqsiz implies
//    sendq has none.
//  - (lock) kRecvWait set => the ring is empty and no send is in flight;
//    kSendWait set => the ring is full. Neither side's fast path moves its
//    position while the other side's flag is set, so these hold until the
//    flag is cleared, which happens only under the lock, when the matching
//    queue has no claimable waiter (or at close).
//  - A claimable waiter in recvq (sendq) implies kRecvWait (kSendWait): a
//    waiter sets the flag, under the lock, before it queues.
//  - A value goes straight from a sender to a blocked receiver; a receiver
//    that finds senders blocked on a full ring takes the head and moves the
//    first sender's value into the same slot as the new tail. No value is
//    copied twice, as in Go.
//  - An operation that finds a position claimed but its slot not yet
//    written or freed (the other side is between its CAS and its stamp
//    store: a few instructions, never a preemption point) spins, then
//    yields the thread, then naps 20 us at a time; it never parks on it.
//  - A channel outlives the operations blocked on it. A select holds a
//    reference on each of its channels until it returns. A blocked send or
//    receive is counted in nblocked instead (two atomic operations fewer on
//    the hot path): the last reference, dropped while nblocked > 0, leaves
//    the channel orphaned, and the last blocked operation to leave frees it.
//    A waker that claims a waiter counts it out (the woken operation does not
//    touch the channel again); one that timed out counts itself out. The
//    M parking a waiter releases c->lock with its last access to the
//    channel (a SpinMutex unlock is one store, with nobody to wake), so the
//    channel may be freed as soon as that store lands.
//  - c->lock is a SpinMutex (os/spin.h), not the futex Mutex Go's runtime
//    lock is: every critical section here is short and never parks, and
//    the unlock becomes a plain store (design.md, Channels).
//  - select locks its channels in address order (each once), so two selects
//    over the same channels cannot deadlock; every other path takes a single
//    channel lock. A select sets the flags of all its ring channels before it
//    queues, and polls again if one of them has become ready meanwhile.
#include "sync/chan.h"

#include <sched.h>
#include <time.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "sched/sched.h"
#include "sync/context.h"
#include "time/timer.h"

namespace goro::rt {

namespace {

// Word-sized elements are copied inline: a call into libc's memcpy costs
// more than the copy, and on the ring it widens the window between a
// position's claim and its stamp store, which the other side may wait on.
inline void copy_elem(Chan* c, void* dst, const void* src) {
  if (!dst || !src) return;
  switch (c->elemsize) {
    case 0:
      return;
    case 4:
      __builtin_memcpy(dst, src, 4);
      return;
    case 8:
      __builtin_memcpy(dst, src, 8);
      return;
    case 16:
      __builtin_memcpy(dst, src, 16);
      return;
    default:
      memcpy(dst, src, c->elemsize);
  }
}

inline void zero_elem(Chan* c, void* dst) {
  if (c->elemsize && dst) memset(dst, 0, c->elemsize);
}

// Readying a goroutine from a plain thread touches the scheduler: keep the
// runtime alive for the duration (see ApiRef). self: the caller's G (getg()),
// null on a plain thread.
inline void ready_peer(Waiter* w, G* self) {
  if (w->g && !self) {
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

// ---------------------------------------------------------------------------
// The ring of a buffered channel.

constexpr uint64_t kClosed = 1;    // tail: closed; no send may claim a position
constexpr uint64_t kRecvWait = 2;  // tail: receivers may be queued; senders take the lock
constexpr uint64_t kSendWait = 1;  // head: senders may be queued; receivers take the lock
constexpr int kFlagBits = 2;

// The smallest capacity that gets a ring. Below it the buffer is nearly
// always full or empty when several goroutines share the channel, so most
// operations park or wake through the lock anyway, and the ring's extra
// work there (the flags, the other side's lines read under the lock) made
// them slower than Go's array (bench in docs/design.md, "Channels").
constexpr uint32_t kRingMinCap = 8;

enum RingResult { kRingDone, kRingClosed, kRingLocked, kRingWouldBlock };

struct Slot {
  std::atomic<uint64_t>* stamp;
  char* elem;
};

inline Slot slot_of(Chan* c, uint64_t pos) {
  char* s = c->buf + (pos & (c->one_lap - 1)) * c->slotsize;
  return {reinterpret_cast<std::atomic<uint64_t>*>(s), s + sizeof(uint64_t)};
}

// The position after pos: the next index, or index 0 of the next lap.
inline uint64_t ring_next(const Chan* c, uint64_t pos) {
  uint64_t idx = pos & (c->one_lap - 1);
  return idx + 1 < c->dataqsiz ? pos + 1 : (pos & ~(c->one_lap - 1)) + c->one_lap;
}

// ring_send puts *ep into the ring without the lock. kRingWouldBlock: the
// ring is full (no receive in flight). kRingLocked: receivers may be
// waiting (kRecvWait): hand the value over under the lock instead.
RingResult ring_send(Chan* c, const void* ep) {
  Backoff bo;
  uint64_t t = c->tail.load(std::memory_order_relaxed);
  for (;;) {
    if (t & kClosed) return kRingClosed;
    if (t & kRecvWait) return kRingLocked;
    uint64_t pos = t >> kFlagBits;
    Slot s = slot_of(c, pos);
    uint64_t st = s.stamp->load(std::memory_order_acquire);
    if (st == pos) {  // free in this lap: claim it
      if (c->tail.compare_exchange_weak(t, ring_next(c, pos) << kFlagBits,
                                        std::memory_order_relaxed, std::memory_order_relaxed)) {
        copy_elem(c, s.elem, ep);
        s.stamp->store(pos + 1, std::memory_order_release);
        return kRingDone;
      }
      continue;  // t reloaded by the failed CAS
    }
    if (st + c->one_lap == pos + 1) {  // still holds the previous lap's value
      uint64_t h = c->head.load(std::memory_order_acquire);
      if ((h >> kFlagBits) + c->one_lap == pos) return kRingWouldBlock;  // full
      // else a receive of that value is in flight
    }
    // else another sender claimed pos: tail has moved
    bo.snooze();
    t = c->tail.load(std::memory_order_relaxed);
  }
}

// ring_recv takes the head of the ring into *ep without the lock.
// kRingWouldBlock: empty (no send in flight); kRingClosed: empty and closed;
// kRingLocked: senders may be waiting (kSendWait): receive under the lock.
RingResult ring_recv(Chan* c, void* ep) {
  Backoff bo;
  uint64_t h = c->head.load(std::memory_order_relaxed);
  for (;;) {
    if (h & kSendWait) return kRingLocked;
    uint64_t pos = h >> kFlagBits;
    Slot s = slot_of(c, pos);
    uint64_t st = s.stamp->load(std::memory_order_acquire);
    if (st == pos + 1) {  // published: claim it
      if (c->head.compare_exchange_weak(h, ring_next(c, pos) << kFlagBits,
                                        std::memory_order_relaxed, std::memory_order_relaxed)) {
        copy_elem(c, ep, s.elem);
        s.stamp->store(pos + c->one_lap, std::memory_order_release);
        return kRingDone;
      }
      continue;
    }
    if (st == pos) {  // not written in this lap
      uint64_t t = c->tail.load(std::memory_order_acquire);
      if ((t >> kFlagBits) == pos) return (t & kClosed) ? kRingClosed : kRingWouldBlock;
      // else a send to pos is in flight
    }
    // else another receiver claimed pos: head has moved
    bo.snooze();
    h = c->head.load(std::memory_order_relaxed);
  }
}

// ring_exchange (lock held, kSendWait set, so the ring is full and neither
// position moves under us): takes the head value into out and puts in,
// the first blocked sender's value, into the same slot as the new tail.
void ring_exchange(Chan* c, void* out, const void* in) {
  uint64_t pos = c->head.load(std::memory_order_relaxed) >> kFlagBits;
  Slot s = slot_of(c, pos);
  Backoff bo;
  while (s.stamp->load(std::memory_order_acquire) != pos + 1) bo.snooze();  // send in flight
  copy_elem(c, out, s.elem);
  copy_elem(c, s.elem, in);
  uint64_t tpos = pos + c->one_lap;  // full: the tail is one lap ahead
  s.stamp->store(tpos + 1, std::memory_order_release);
  uint64_t t = c->tail.load(std::memory_order_relaxed);
  while (!c->tail.compare_exchange_weak(t, (ring_next(c, tpos) << kFlagBits) | (t & kClosed),
                                        std::memory_order_release, std::memory_order_relaxed)) {
  }
  c->head.store((ring_next(c, pos) << kFlagBits) | (c->sendq.empty() ? 0 : kSendWait),
                std::memory_order_release);
}

// ring_mark_recv / ring_mark_send (lock held) set the caller's waiting flag
// before it queues. false: the ring is no longer empty (full), or a send
// (receive) is in flight: try the operation again. Each reads the other
// side's position first, then CASes its flag into the word the other side
// claims with: if that CAS succeeds, neither position moved in between
// (head <= tail <= head + capacity), so the ring was empty (full) at it.
bool ring_mark_recv(Chan* c) {
  uint64_t h = c->head.load(std::memory_order_acquire);
  uint64_t t = c->tail.load(std::memory_order_acquire);
  if (t & kRecvWait) return true;
  if ((t & kClosed) || (t >> kFlagBits) != (h >> kFlagBits)) return false;
  return c->tail.compare_exchange_strong(t, t | kRecvWait, std::memory_order_acq_rel,
                                         std::memory_order_relaxed);
}

bool ring_mark_send(Chan* c) {
  uint64_t t = c->tail.load(std::memory_order_acquire);
  uint64_t h = c->head.load(std::memory_order_acquire);
  if (h & kSendWait) return true;
  if ((t & kClosed) || (h >> kFlagBits) + c->one_lap != (t >> kFlagBits)) return false;
  return c->head.compare_exchange_strong(h, h | kSendWait, std::memory_order_acq_rel,
                                         std::memory_order_relaxed);
}

// ring_tidy (lock held) clears a waiting flag whose queue is empty, after a
// waiter left on its own (deadline, cancellation, select won elsewhere).
void ring_tidy(Chan* c) {
  if (!c->ring) return;
  if (c->recvq.empty() && (c->tail.load(std::memory_order_relaxed) & kRecvWait))
    c->tail.fetch_and(~kRecvWait, std::memory_order_release);
  if (c->sendq.empty() && (c->head.load(std::memory_order_relaxed) & kSendWait))
    c->head.fetch_and(~kSendWait, std::memory_order_release);
}

// ---------------------------------------------------------------------------
// Operations under the lock.

// Go's chansend/chanrecv under the lock, for unbuffered channels and small
// buffers (no ring): the buffer is a plain array indexed by sendx/recvx.
inline char* array_slot(Chan* c, uint32_t i) { return c->buf + size_t(i) * c->elemsize; }

int send_locked_array(Chan* c, const void* ep, int* rc, Waiter** peer) {
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
    copy_elem(c, array_slot(c, c->sendx), ep);
    if (++c->sendx == c->dataqsiz) c->sendx = 0;
    c->qcount++;
    *rc = 0;
    return 1;
  }
  return 0;
}

int recv_locked_array(Chan* c, void* ep, int* rc, Waiter** peer) {
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
      copy_elem(c, ep, array_slot(c, c->recvx));
      copy_elem(c, array_slot(c, c->recvx), w->elem);
      if (++c->recvx == c->dataqsiz) c->recvx = 0;
      c->sendx = c->recvx;
    }
    w->result = 0;
    *peer = w;
    *rc = 0;
    return 1;
  }
  if (c->qcount > 0) {
    copy_elem(c, ep, array_slot(c, c->recvx));
    if (++c->recvx == c->dataqsiz) c->recvx = 0;
    c->qcount--;
    *rc = 0;
    return 1;
  }
  return 0;
}

// send_locked / recv_locked perform the operation if it can proceed now.
// Return 1 and set *rc if done; 0 if it would block. *peer is the waiter
// to ready after unlocking. c->lock held.
int send_locked(Chan* c, const void* ep, int* rc, Waiter** peer) {
  if (!c->ring) return send_locked_array(c, ep, rc, peer);
  for (;;) {
    if (c->closed) {
      *rc = -EPIPE;
      return 1;
    }
    if (c->tail.load(std::memory_order_relaxed) & kRecvWait) {
      if (Waiter* w = take(c, c->recvq)) {
        copy_elem(c, w->elem, ep);
        w->result = 0;
        *peer = w;
        *rc = 0;
        ring_tidy(c);
        return 1;
      }
      ring_tidy(c);  // every queued receiver had given up
    }
    switch (ring_send(c, ep)) {
      case kRingDone:
        *rc = 0;
        return 1;
      case kRingClosed:  // not under this lock; kept for completeness
        *rc = -EPIPE;
        return 1;
      case kRingWouldBlock:
        return 0;
      case kRingLocked:
        continue;
    }
  }
}

int recv_locked(Chan* c, void* ep, int* rc, Waiter** peer) {
  if (!c->ring) return recv_locked_array(c, ep, rc, peer);
  for (;;) {
    if (c->head.load(std::memory_order_relaxed) & kSendWait) {
      if (Waiter* w = take(c, c->sendq)) {
        ring_exchange(c, ep, w->elem);  // also clears kSendWait with the last sender
        w->result = 0;
        *peer = w;
        *rc = 0;
        return 1;
      }
      ring_tidy(c);
    }
    switch (ring_recv(c, ep)) {
      case kRingDone:
        *rc = 0;
        return 1;
      case kRingClosed:
        zero_elem(c, ep);
        *rc = -EPIPE;
        return 1;
      case kRingWouldBlock:
        return 0;
      case kRingLocked:
        continue;
    }
  }
}

}  // namespace

Chan* chan_make(size_t elemsize, size_t cap) {
  Chan* c = new (std::nothrow) Chan;
  if (!c) return nullptr;
  c->elemsize = elemsize;
  c->dataqsiz = uint32_t(cap);
  c->ring = cap >= kRingMinCap;
  if (cap && !c->ring && elemsize) {
    c->buf = static_cast<char*>(calloc(cap, elemsize));
    if (!c->buf) {
      delete c;
      return nullptr;
    }
  } else if (c->ring) {
    c->slotsize = sizeof(uint64_t) + (elemsize + 7) / 8 * 8;
    c->one_lap = std::bit_ceil(uint64_t(cap) + 1);
    c->buf = static_cast<char*>(calloc(cap, c->slotsize));
    if (!c->buf) {
      delete c;
      return nullptr;
    }
    for (uint64_t i = 0; i < cap; i++)
      new (c->buf + i * c->slotsize) std::atomic<uint64_t>(i);  // slot i's stamp
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

uint32_t chan_len(Chan* c) {
  if (!c->ring) {
    LockGuard lg(c->lock);
    return c->qcount;
  }
  for (;;) {
    uint64_t t = c->tail.load(std::memory_order_acquire);
    uint64_t h = c->head.load(std::memory_order_acquire);
    if (c->tail.load(std::memory_order_acquire) != t) continue;
    uint64_t tp = t >> kFlagBits, hp = h >> kFlagBits, mask = c->one_lap - 1;
    uint64_t ti = tp & mask, hi = hp & mask;
    if (hi < ti) return uint32_t(ti - hi);
    if (hi > ti) return uint32_t(c->dataqsiz - hi + ti);
    return tp == hp ? 0 : c->dataqsiz;
  }
}

namespace {

// chan_op performs a send (q = sendq) or receive (q = recvq): on a ring
// channel first through the ring without the lock; then, under the
// lock, at once if send_locked()/recv_locked() can, else, if allowed, by
// queueing on q until a partner, the deadline or close. The blocked
// operation is counted in c->nblocked. (No callable parameter: GCC passed a
// lambda's two captured pointers through a 16-byte stack store reloaded as
// two 8-byte pushes, a store-forwarding stall worth ~4% of a ping-pong.)
template <bool kSend>
int chan_op(Chan* c, void* ep, bool block, int64_t deadline, Context* ctx) {
  // getg() is a call (sched.h): read it once. A preemption may move the G
  // to another M, never change which G it is.
  G* self = getg();
  preempt_check(self);  // a preemption point (sched.h)
  if (c->ring) {
    switch (kSend ? ring_send(c, ep) : ring_recv(c, ep)) {
      case kRingDone:
        return 0;
      case kRingClosed:
        if (!kSend) zero_elem(c, ep);
        return -EPIPE;
      case kRingWouldBlock:
        if (!block) return -EAGAIN;
        break;
      case kRingLocked:
        break;
    }
  }
  WaitQueue& q = kSend ? c->sendq : c->recvq;
  int rc = 0;
  Waiter* peer = nullptr;
  SyscallPause sp(self);  // before the lock: leaving may wait for a P (sched.h)
  c->lock.lock();
  for (;;) {
    if (kSend ? send_locked(c, ep, &rc, &peer) : recv_locked(c, ep, &rc, &peer)) {
      c->lock.unlock();
      if (peer) ready_peer(peer, self);
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
    if (!c->ring || (kSend ? ring_mark_send(c) : ring_mark_recv(c))) break;
    // the ring changed between the attempt and the flag: try again
  }
  Waiter w;
  w.g = self;
  w.elem = ep;
  w.ctx = ctx;
  w.waitreason = kSend ? "chan send" : "chan receive";  // Go's wait reasons
  q.push_back(&w);
  c->nblocked++;
  if (!w.block(&c->lock, deadline)) {
    c->lock.lock();
    q.remove(&w);
    ring_tidy(c);
    bool last = --c->nblocked == 0 && c->orphaned;
    c->lock.unlock();
    if (last) chan_free(c);
    return -ETIMEDOUT;
  }
  return w.result;
}

}  // namespace

int chan_send(Chan* c, const void* ep, bool block, int64_t deadline, Context* ctx) {
  return chan_op<true>(c, const_cast<void*>(ep), block, deadline, ctx);
}

int chan_recv(Chan* c, void* ep, bool block, int64_t deadline, Context* ctx) {
  return chan_op<false>(c, ep, block, deadline, ctx);
}

int chan_close(Chan* c) {
  Waiter* list = nullptr;
  {
    LockGuard lg(c->lock);
    if (c->closed) return -EPIPE;
    c->closed = true;
    // From here no send claims a ring position; one that claimed before
    // lands, and receivers drain it.
    if (c->ring) c->tail.fetch_or(kClosed, std::memory_order_acq_rel);
    while (Waiter* w = take(c, c->recvq)) {  // kRecvWait: the ring is empty
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
    ring_tidy(c);
  }
  G* self = list ? getg() : nullptr;
  while (list) {
    Waiter* w = list;
    list = w->next;  // read before ready(): the waiter may return at once
    ready_peer(w, self);
  }
  return 0;
}

// ---------------------------------------------------------------------------
// select (Go's selectgo).

namespace {

// The distinct channels of a select, in address order (the lock order).
struct SelOrder {
  Chan** cs;
  size_t n;
};

void sel_lock(const SelOrder& order) {
  for (size_t i = 0; i < order.n; i++) order.cs[i]->lock.lock();
}

// sel_unlock runs off the selecting G's stack while it parks (block_with).
// Once the last lock is dropped the G can be woken, finish the select and
// return (`order` and its array live in its frame, or on the heap it
// frees), so nothing of it may be read after that unlock: take the array and
// count first, count down in a local.
// Go's selunlock has the same rule.
void sel_unlock(void* a) {
  auto* order = static_cast<SelOrder*>(a);
  Chan* const* cs = order->cs;
  for (size_t i = order->n; i-- > 0;) cs[i]->lock.unlock();
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
  G* self = getg();
  preempt_check(self);  // a preemption point (sched.h)
  // The poll order and the lock order live on the stack for up to
  // kSelInline cases, as Go's selectgo keeps them in its frame; two heap
  // allocations per select cost more than the rest of a ready select.
  constexpr size_t kSelInline = 8;
  uint32_t po_inline[kSelInline];
  Chan* cs_inline[kSelInline];
  std::unique_ptr<uint32_t[]> po_heap;
  std::unique_ptr<Chan*[]> cs_heap;
  uint32_t* pollorder = po_inline;
  Chan** cs = cs_inline;
  if (n > kSelInline) {
    po_heap.reset(new (std::nothrow) uint32_t[n]);
    cs_heap.reset(new (std::nothrow) Chan*[n]);
    if (!po_heap || !cs_heap) return -ENOMEM;
    pollorder = po_heap.get();
    cs = cs_heap.get();
  }
  size_t np = 0, nc = 0;
  for (size_t i = 0; i < n; i++) {
    if (!cases[i].ch) continue;
    // Fisher-Yates while filling: a uniformly random poll order.
    uint32_t j = sel_rand() % uint32_t(np + 1);
    pollorder[np] = uint32_t(i);
    std::swap(pollorder[j], pollorder[np]);
    np++;
    cs[nc++] = reinterpret_cast<Chan*>(cases[i].ch);
  }
  std::sort(cs, cs + nc);
  SelOrder order{cs, size_t(std::unique(cs, cs + nc) - cs)};

  // Pass 1: is any case ready?
  bool marked = false;  // waiting flags set by an earlier round
  SyscallPause sp(self);  // before the locks: leaving may wait for a P (sched.h)
  sel_lock(order);
poll:
  for (size_t k = 0; k < np; k++) {
    uint32_t i = pollorder[k];
    Chan* c = reinterpret_cast<Chan*>(cases[i].ch);
    int rc = 0;
    Waiter* peer = nullptr;
    int done = cases[i].op == GORO_SELECT_SEND ? send_locked(c, cases[i].elem, &rc, &peer)
                                               : recv_locked(c, cases[i].elem, &rc, &peer);
    if (done) {
      if (marked)
        for (size_t m = 0; m < order.n; m++) ring_tidy(order.cs[m]);
      sel_unlock(&order);
      if (peer) ready_peer(peer, self);
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

  // The ring channels' fast paths do not take the locks we hold: set every
  // case's waiting flag first, and poll again if a ring became ready after
  // its poll (its flag cannot be set then). Once all are set, a partner on
  // any of them takes the lock and finds our waiter.
  for (size_t k = 0; k < np; k++) {
    uint32_t i = pollorder[k];
    Chan* c = reinterpret_cast<Chan*>(cases[i].ch);
    if (!c->ring) continue;
    marked = true;
    if (!(cases[i].op == GORO_SELECT_SEND ? ring_mark_send(c) : ring_mark_recv(c))) goto poll;
  }

  // Pass 2: enqueue on every channel and park. All case waiters share the
  // first one's claim word, so exactly one case can win.
  size_t nw = np;
  Waiter* ws = nw ? new (std::nothrow) Waiter[nw] : nullptr;
  Waiter single;  // n == 0 (or only nil channels): block until the deadline
  if (nw && !ws) {
    sel_unlock(&order);
    return -ENOMEM;
  }
  G* gp = self;
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
  for (size_t m = 0; m < order.n; m++) chan_retain(order.cs[m]);
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
  for (size_t m = 0; m < order.n; m++) ring_tidy(order.cs[m]);
  sel_unlock(&order);
  int ret;
  if (!ok) {
    ret = -ETIMEDOUT;
  } else {
    Waiter* won = first->won;
    cases[won->index].result = won->result;
    ret = won->index;
  }
  for (size_t m = 0; m < order.n; m++) chan_release(order.cs[m]);
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
  return int(chan_len(C(ch)));
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
