// chan.h: the channel behind goro_chan_t (Go's hchan). See chan.cpp.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "os/futex.h"
#include "sync/waiter.h"

namespace goro::rt {

struct Chan {
  std::atomic<int32_t> refs{1};
  Mutex lock;
  size_t elemsize = 0;
  uint32_t dataqsiz = 0;   // capacity
  char* buf = nullptr;     // ring of dataqsiz elements
  uint32_t qcount = 0;     // (lock) values buffered
  uint32_t sendx = 0;      // (lock) next slot to fill
  uint32_t recvx = 0;      // (lock) next slot to take
  bool closed = false;     // (lock)
  WaitQueue recvq;         // (lock) blocked receivers
  WaitQueue sendq;         // (lock) blocked senders
  // (lock) Blocked send/recv operations (not select cases) that may still
  // touch the channel: a waker that claims one counts it out, as it will
  // not; one that gave up counts itself out after unlinking itself.
  uint32_t nblocked = 0;
  // (lock) The last reference went while nblocked > 0: the last blocked
  // operation to leave frees the channel.
  bool orphaned = false;
};

Chan* chan_make(size_t elemsize, size_t cap);
void chan_retain(Chan* c);
void chan_release(Chan* c);
struct Context;

// chan_send / chan_recv: block=false never parks (-EAGAIN). deadline < 0: none.
// ctx (optional, held by the caller) also ends a blocked wait: it then
// fails with -ETIMEDOUT, which the caller maps with ctx_wait_error().
int chan_send(Chan* c, const void* ep, bool block, int64_t deadline, Context* ctx = nullptr);
int chan_recv(Chan* c, void* ep, bool block, int64_t deadline, Context* ctx = nullptr);
int chan_close(Chan* c);
int chan_select(goro_select_case_t* cases, size_t n, bool block, int64_t deadline,
                Context* ctx = nullptr);
// Frees the timers of goro_after and tickers still pending (at shutdown).
void chan_timers_shutdown();

}  // namespace goro::rt
