// polldesc.h: per-fd poll descriptors (Go's pollDesc, runtime/netpoll.go).
//
// Owns: the table fd -> PollDesc, and every wait on an fd: goroutines park
// in the descriptor's reader or writer queue with the Waiter protocol
// (sync/waiter.h), plain threads block in ppoll(2).
//
// A PollDesc is created the first time goro touches an fd number and lives
// for the whole process (the table only grows), so a pointer to it never
// dangles. What it describes changes: each open file that gets the number is
// a new *generation* (seq). The fd is registered with epoll once per
// generation, edge-triggered for in+out, with (fd, seq) as the event's data,
// so an event that was already in flight when the fd was closed and its
// number reused carries the old seq and is dropped (netpoll_epoll.cpp).
//
// Invariants (all under PollDesc::lock):
//  - q[kRead] / q[kWrite] hold the goroutine Waiters parked for readiness
//    in that direction. A G waiter is linked only while its G is parked (the
//    lock is dropped by the park callback, once the G is off its stack).
//    threads holds plain threads blocked in ppoll(2) on the fd: they watch
//    the fd themselves and are linked only so goro_close() can wake them
//    (through their thread's eventfd). Keeping the two kinds apart lets
//    shutdown drop abandoned goroutine waiters without touching their
//    (already unmapped) stacks.
//  - ready[d] records an edge that arrived while nobody waited in direction
//    d; the next waiter consumes it instead of parking (Go's pdReady).
//  - goro_close() holds the lock from taking the waiters through close(2),
//    so no wait can start on a file that is about to go away: a wait that
//    comes later finds the number closed (-EBADF) or owned by a new file.
//  - Every readiness event wakes *all* G waiters of its direction (each
//    retries its syscall; losers park again). With edge-triggered epoll that
//    is what keeps several goroutines accepting on one listener correct.
#pragma once

#include <atomic>
#include <cstdint>

#include "os/futex.h"
#include "sync/waiter.h"

namespace goro::rt {

struct G;
struct Context;

enum : int { kRead = 0, kWrite = 1 };

// Readiness bits, equal to goro.h's GORO_POLL* (and to poll(2)'s values).
enum : int { kPollIn = 0x001, kPollOut = 0x004, kPollErr = 0x008, kPollHup = 0x010 };

struct PollDesc {
  Mutex lock;
  int fd = -1;
  uint32_t seq = 0;         // generation of the open file behind fd (lock)
  bool registered = false;  // added to epoll in this generation (lock)
  bool ready[2] = {false, false};
  // Hints read without the lock on the I/O fast path; written under it.
  std::atomic<bool> nonblock{false};  // O_NONBLOCK set in this generation
  std::atomic<int8_t> is_socket{-1};  // -1 unknown, 0 no, 1 yes (this generation)
  WaitQueue q[2];
  WaitQueue threads;
};

// pd_get() returns the descriptor of fd, creating it (and, with prepare,
// setting O_NONBLOCK on the file if not done in this generation). Null with
// *err set: fd out of range (-EBADF), no memory (-ENOMEM), fcntl failed.
PollDesc* pd_get(int fd, bool prepare, int* err);
// pd_lookup() returns the descriptor of fd if one exists, else null.
PollDesc* pd_lookup(int fd);

// pd_wait() waits until fd is ready for `events` (kPollIn | kPollOut) or
// the deadline (absolute nanotime(); < 0 none). Goroutines park (the fd is
// registered with epoll first), plain threads ppoll(2). Returns the ready
// kPoll* bits (> 0), -ETIMEDOUT, -EBADF (closed by goro_close meanwhile, or
// the number is not an open fd), or another -errno from epoll_ctl/ppoll.
//
// ctx (optional) also ends the wait when it is cancelled: the result is then
// the context's error (-ECANCELED, or -ETIMEDOUT for its deadline). A
// goroutine is woken at once (Waiter::ctx, the Waiter protocol's context
// hook); a plain thread notices within kCtxSliceNs (it sleeps in ppoll,
// which a context cannot interrupt, so it looks in slices).
int pd_wait(PollDesc* pd, int events, int64_t deadline, Context* ctx = nullptr);
// pd_sleep() parks the calling goroutine (or sleeps the thread) until the
// deadline, or until goro_close(fd) (-EBADF). Readiness does not wake it.
// Returns 0 at the deadline. Used by accept's EMFILE back-off.
int pd_sleep(PollDesc* pd, int64_t deadline, Context* ctx = nullptr);
constexpr int64_t kCtxSliceNs = 10000000;

// pd_new_generation() says the file behind fd is new (accept4 or connect
// just made it): forget the old registration and O_NONBLOCK state, and wake
// any goroutine still parked on the old file with -EBADF (it was closed
// behind goro's back).
void pd_new_generation(PollDesc* pd, bool nonblock);

// pd_close() wakes every waiter on fd with -EBADF, removes fd from epoll
// and closes it, all under pd->lock. Returns close(2)'s result (0 or -errno).
int pd_close(int fd);

// pd_evict_goroutines() drops every goroutine waiter and every epoll
// registration (the runtime is shutting down: those Gs are abandoned and
// the epoll instance goes away). Thread waiters stay.
void pd_evict_goroutines();

// Called by the epoll backend for an event on (fd, seq): wakes the waiters
// of the directions in `bits` (kPoll*), links their Gs onto *list through
// schedlink, and returns how many.
int pd_ready(int fd, uint32_t seq, int bits, G** list);

// Gs parked on descriptors right now (Go's netpollWaiters).
extern std::atomic<int32_t> g_pd_waiters;

}  // namespace goro::rt
