// chan.h: the channel behind goro_chan_t (Go's hchan). See chan.cpp.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "os/futex.h"
#include "os/spin.h"
#include "sync/waiter.h"

namespace goro::rt {

struct Chan {
  // Set at make and never written again: the one line a ring's fast path
  // reads besides its own position and the slots. What the lock guards, and
  // refs (every select retains and releases), start on the next line, so
  // the slow side never takes this line away from other CPUs.
  uint32_t dataqsiz = 0;   // capacity; 0: unbuffered
  bool ring = false;       // dataqsiz >= kRingMinCap: the buffer is a lock-free ring
  size_t elemsize = 0;
  size_t slotsize = 0;     // ring: bytes per slot (stamp, then the element)
  uint64_t one_lap = 0;    // ring: the power of two above dataqsiz (see chan.cpp)
  char* buf = nullptr;     // ring of dataqsiz slots, or of dataqsiz elements
  alignas(64) std::atomic<int32_t> refs{1};
  SpinMutex lock;          // never held across a park (os/spin.h)
  bool closed = false;     // (lock) the ring's copy is kClosed in tail
  uint32_t qcount = 0;     // (lock) small buffer (no ring): values buffered
  uint32_t sendx = 0;      // (lock) small buffer: next slot to fill
  uint32_t recvx = 0;      // (lock) small buffer: next slot to take
  WaitQueue recvq;         // (lock) blocked receivers
  WaitQueue sendq;         // (lock) blocked senders
  // (lock) Blocked send/recv operations (not select cases) that may still
  // touch the channel: a waker that claims one counts it out, as it will
  // not; one that gave up counts itself out after unlinking itself.
  uint32_t nblocked = 0;
  // (lock) The last reference went while nblocked > 0: the last blocked
  // operation to leave frees the channel.
  bool orphaned = false;
  // Ring positions, each with two flag bits (chan.cpp). tail is written by
  // senders, head by receivers: a line each, so neither side's position
  // moves the other's cache line.
  alignas(64) std::atomic<uint64_t> tail{0};
  alignas(64) std::atomic<uint64_t> head{0};
};

Chan* chan_make(size_t elemsize, size_t cap);
void chan_retain(Chan* c);
void chan_release(Chan* c);
// chan_len: values buffered (sends under way included), racy as Go's len.
uint32_t chan_len(Chan* c);
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
