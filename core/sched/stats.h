// stats.h: the runtime's event counters, read by goro_stats() and schedtrace.
//
// Invariants:
//   - Every counter is a relaxed atomic that only ever grows; readers take a
//     snapshot field by field, so a snapshot is not atomic as a whole (as in
//     Go's runtime/metrics). Derived "live" values are created - exited.
//   - Only rare events are counted here (thread creation, steals, handoffs,
//     preemption, netpoll wake-ups, maxprocs changes). Hot-path events
//     (yields, channel operations) are never counted: one shared cache line
//     written from every P would cost more than the event itself.
#pragma once

#include <atomic>
#include <cstdint>

namespace goro::rt {

struct RtCounters {
  std::atomic<uint64_t> threads_created{0};   // Ms started (newm)
  std::atomic<uint64_t> threads_exited{0};    // Ms that ended
  std::atomic<uint64_t> steals{0};            // successful runqsteal batches
  std::atomic<uint64_t> handoffs{0};          // Ps handed off from a syscall or a blocked M
  std::atomic<uint64_t> syscalls{0};          // goro_syscall_enter calls from goroutines
  std::atomic<uint64_t> thread_cap_waits{0};  // times a wake-up waited because of the M cap
  std::atomic<uint64_t> preempt_sent{0};      // preemption signals sent by sysmon
  std::atomic<uint64_t> preempt_honoured{0};  // requests the G honoured (yielded)
  std::atomic<uint64_t> preempt_ignored{0};   // requests still pending at the next sysmon look
  std::atomic<uint64_t> netpoll_wakeups{0};   // Gs made ready by the netpoller
  std::atomic<uint64_t> maxprocs_changes{0};  // effective changes of maxprocs
};

extern RtCounters g_counters;

inline void stat_add(std::atomic<uint64_t>& c, uint64_t n = 1) {
  c.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace goro::rt
