// pool.h: Pool, the worker pool behind goro_pool_t. See pool.cpp.
#pragma once

#include <atomic>
#include <cstdint>

#include "goro/goro.h"
#include "os/futex.h"
#include "sync/chan.h"
#include "sync/context.h"
#include "sync/sem.h"
#include "sync/waitgroup.h"

namespace goro::rt {

// Event is a one-sleeper wake-up flag built on the Waiter protocol: notify()
// before wait() is remembered. The supervisor sleeps on it.
class Event {
 public:
  void wait();
  void notify();  // any thread, also timer callbacks

 private:
  Mutex mu_;
  bool set_ = false;       // (mu_)
  Waiter* w_ = nullptr;    // (mu_) the sleeper
};

struct PoolTask;

struct Pool {
  std::atomic<int32_t> refs{1};   // user + each worker + supervisor
  Context* ctx = nullptr;         // tasks' (grand)parent; cancelled by GORO_POOL_CANCEL
  Chan* q = nullptr;              // queue of QItem
  Chan* results = nullptr;        // optional, retained
  goro_pool_result_fn on_result = nullptr;
  void* result_user = nullptr;
  int64_t timeout = 0;
  int flags = 0;
  Semaphore* run_sem = nullptr;   // caps running tasks when max_running < workers
  WaitGroup wg;                   // worker slots (a hung worker's slot passes to its replacement)
  WaitGroup sup_wg;               // the supervisor
  Mutex mu;
  bool closed = false;            // (mu) no more submits; queue closed
  bool cancelled = false;         // (mu) GORO_POOL_CANCEL requested
  bool sup_exit = false;          // (mu)
  PoolTask* hung_list = nullptr;  // (mu) timed-out tasks for the supervisor
  std::atomic<bool> drop{false};  // workers drop what they dequeue
  std::atomic<bool> down{false};  // shutdown finished
  Event ev;                       // wakes the supervisor

  // Counters (goro_pool_stats), grouped by who writes them, each group on
  // lines of its own: every task reads the fields above, and a counter
  // sharing their line, or a line written from the other side of the queue,
  // moved that line between CPUs on each task (pool.cpp, "Counters").
  // Submitters:
  alignas(64) std::atomic<uint64_t> seq{0};
  std::atomic<uint64_t> submitted{0};
  std::atomic<uint64_t> enq{0};  // items offered to the queue, less failed sends
  // Every task's start and end: the one line all workers share.
  alignas(64) std::atomic<uint64_t> running{0};
  std::atomic<uint64_t> peak_running{0};
  // Timeouts and cancellation only.
  alignas(64) std::atomic<uint64_t> timed_out{0}, dropped{0}, hung{0};
  // Workers, by the P they run on (P id & (kStripes - 1)): summed by stats.
  struct alignas(64) Stripe {
    std::atomic<uint64_t> deq{0};  // items taken off the queue (dropped ones too)
    std::atomic<uint64_t> completed{0}, failed{0};
  };
  static constexpr int kStripes = 8;  // power of two
  Stripe stripes[kStripes];
};

int pool_new(const goro_pool_opts_t* o, Pool** out);
int pool_submit(Pool* p, Context* ctx, goro_task_fn fn, void* arg, bool block);
int pool_shutdown(Pool* p, int how, uint64_t* dropped);
void pool_stats(Pool* p, goro_pool_stats_t* st);
int pool_free(Pool* p);

}  // namespace goro::rt
