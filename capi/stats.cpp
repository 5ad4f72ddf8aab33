// stats.cpp: the extern "C" observability calls, goro_stats() and
// goro_dump() (include/goro/goro.h, "Observability"). The walking and the
// formatting live in core/sched/trace.cpp; this layer validates arguments,
// keeps the runtime alive across the call (ApiRef) and copies the result out
// by the caller's struct size.
#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "goro/goro.h"
#include "sched/sched.h"
#include "sched/stats.h"
#include "sched/trace.h"

using namespace goro::rt;

namespace {

uint64_t ctr(const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); }

void fill(goro_stats_t* s) {
  const RtCounters& c = g_counters;
  // Exited before created: a thread counted out is surely counted in.
  uint64_t texit = ctr(c.threads_exited);
  s->threads_created = ctr(c.threads_created);
  s->threads_live = s->threads_created - std::min(texit, s->threads_created);
  s->steals = ctr(c.steals);
  s->handoffs = ctr(c.handoffs);
  s->syscalls = ctr(c.syscalls);
  s->thread_cap_waits = ctr(c.thread_cap_waits);
  s->preempt_sent = ctr(c.preempt_sent);
  s->preempt_honoured = ctr(c.preempt_honoured);
  s->preempt_ignored = ctr(c.preempt_ignored);
  s->netpoll_wakeups = ctr(c.netpoll_wakeups);
  s->maxprocs_changes = ctr(c.maxprocs_changes);

  ApiRef ref;
  if (!ref.ok()) return;  // not running: the scheduler fields stay 0
  SchedView v;
  sched_view(&v);
  s->running = 1;
  int32_t nallp = v.nallp->load(std::memory_order_relaxed);
  s->gomaxprocs = std::min(v.gomaxprocs->load(std::memory_order_relaxed), nallp);
  s->idleprocs = v.npidle->load(std::memory_order_relaxed);
  s->spinningthreads = v.nmspinning->load(std::memory_order_relaxed);
  s->runqueue = v.runqsize->load(std::memory_order_relaxed);
  {
    LockGuard lg(*v.lock);
    s->threads = *v.mcount;
    s->idlethreads = *v.nmidle;
  }
  // Goroutines: exits first (acquire), then creations, so live >= 0.
  int64_t exited = 0, created = v.foreign_created->load(std::memory_order_relaxed);
  int64_t local = 0;
  for (int32_t i = 0; i < nallp; i++) exited += v.allp[i]->gexited.load(std::memory_order_acquire);
  for (int32_t i = 0; i < nallp; i++) {
    P* p = v.allp[i];
    created += p->gcreated.load(std::memory_order_relaxed);
    if (i < s->gomaxprocs) {
      uint32_t h = p->runqhead.load(std::memory_order_relaxed);
      uint32_t t = p->runqtail.load(std::memory_order_relaxed);
      local += int32_t(t - h) > 0 ? int32_t(t - h) : 0;
      if (p->runnext.load(std::memory_order_relaxed)) local++;
    }
  }
  s->local_runqueue = int32_t(std::min<int64_t>(local, INT32_MAX));
  s->goroutines_created = uint64_t(std::max<int64_t>(created, 0));
  s->goroutines_live = uint64_t(std::max<int64_t>(created - exited, 0));
}

}  // namespace

extern "C" {

GORO_API int goro_stats(goro_stats_t* st, size_t size) noexcept {
  if (!st || size < offsetof(goro_stats_t, gomaxprocs) || size > 65536) return -EINVAL;
  goro_stats_t s;
  memset(&s, 0, sizeof s);
  fill(&s);
  size_t n = std::min(size, sizeof s);
  s.size = n;
  memcpy(st, &s, n);
  if (size > n) memset(reinterpret_cast<char*>(st) + n, 0, size - n);
  return 0;
}

GORO_API int goro_dump(FILE* f) noexcept {
  if (!f) return -EINVAL;
  ApiRef ref;
  if (!ref.ok()) return -ESHUTDOWN;
  return dump_goroutines(f);
}

}  // extern "C"
