// netpoll.h: the contract every poller backend meets (as Go's netpoll.go).
//
//  netpoll_init()   creates the poller; called once per runtime start.
//  netpoll_close()  destroys it; no M may be inside netpoll(). Goroutines
//                   still parked on fds are forgotten (they are abandoned by
//                   shutdown) and every fd registration is dropped.
//  netpoll(delay)   waits for I/O readiness: delay < 0 blocks until woken,
//                   0 polls, > 0 blocks at most delay ns. Returns the Gs the
//                   ready I/O made runnable, linked through G::schedlink,
//                   still in status Gwaiting: the caller makes them
//                   runnable (injectglist). Safe to call from several
//                   threads at once (any M, or sysmon without a P).
//  netpoll_break()  makes a blocked netpoll() return early. Wake-ups are
//                   coalesced: many calls before the poller runs cost one
//                   write.
//
// At most one M blocks in netpoll() at a time (sched.lastpoll == 0 while it
// does); it is the M that sleeps until the earliest timer, so timers and I/O
// share one wake-up path. Ms that run out of work poll without blocking
// first (findRunnable), but only while netpoll_any_waiters().
//
// Sysmon's fallback (Go's sysmon "poll network if not polled for more than
// 10ms"): when netpoll_any_waiters(), no M is blocked in netpoll
// (sched.lastpoll != 0) and now - netpoll_last_poll_ns() > 10 ms, call
// netpoll(0) and injectglist() the result.
#pragma once

#include <cstdint>

namespace goro::rt {

struct G;

bool netpoll_init();
void netpoll_close();
G* netpoll(int64_t delay);
void netpoll_break();

// netpoll_any_waiters() is true while some G is parked on an fd.
bool netpoll_any_waiters();
// netpoll_last_poll_ns() is when a netpoll() call last returned
// (nanotime(); 0 before the first).
int64_t netpoll_last_poll_ns();

// netpoll_register() adds fd to the poller, edge-triggered for in+out,
// tagged with the generation seq (ADD, or MOD if this open file is already
// in the set). Returns 0 or -errno (-EPERM: fd cannot be polled, e.g. a
// regular file, which is always ready; -ESHUTDOWN: no poller).
int netpoll_register(int fd, uint32_t seq);
// netpoll_deregister() removes fd (errors ignored: the file may be gone).
void netpoll_deregister(int fd);

}  // namespace goro::rt
