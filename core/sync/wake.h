// wake.h: readying a claimed waiter from any caller, for the sync objects
// (mutex, rwmutex, cond, once, sem).
#pragma once

#include "sched/sched.h"
#include "sync/waiter.h"

namespace goro::rt {

// ready_waiter() calls w->ready() for a waiter claimed under the object's
// lock, after that lock is dropped. Readying a G from a plain thread touches
// the scheduler, so there it holds an ApiRef; if the runtime has stopped the
// G was abandoned and is left alone. (A goroutine needs no ApiRef: shutdown
// waits for running goroutines to switch.)
inline void ready_waiter(Waiter* w) {
  if (w->g && !getg()) {
    ApiRef ref;
    if (ref.ok()) w->ready();
    return;
  }
  w->ready();
}

// ready_list() readies a list of claimed waiters linked through next.
inline void ready_list(Waiter* list) {
  if (!list) return;
  if (getg()) {
    while (list) {
      Waiter* w = list;
      list = w->next;  // read before ready(): w may return and vanish after it
      w->ready();
    }
    return;
  }
  ApiRef ref;
  while (list) {
    Waiter* w = list;
    list = w->next;
    if (w->g && !ref.ok()) continue;
    w->ready();
  }
}

}  // namespace goro::rt
