// netpoll.h: the contract every poller backend meets (as Go's netpoll.go).
//
//  netpoll_init()   creates the poller; called once per runtime start.
//  netpoll_close()  destroys it; no M may be inside netpoll().
//  netpoll(delay)   waits for I/O readiness: delay < 0 blocks until woken,
//                   0 polls, > 0 blocks at most delay ns. Returns the Gs the
//                   ready I/O made runnable, linked through G::schedlink.
//  netpoll_break()  makes a blocked netpoll() return early. Wake-ups are
//                   coalesced: many calls before the poller runs cost one
//                   write.
//
// At most one M blocks in netpoll() at a time (sched.lastpoll == 0 while it
// does); it is the M that sleeps until the earliest timer, so timers and I/O
// share one wake-up path.
#pragma once

#include <cstdint>

namespace goro::rt {

struct G;

bool netpoll_init();
void netpoll_close();
G* netpoll(int64_t delay);
void netpoll_break();

}  // namespace goro::rt
