// rwmutex.cpp: goro_rwmutex_t, Go's sync.RWMutex (sync/rwmutex.go) for
// goroutines and plain threads, with deadlines.
//
// Owns: the state word (readers holding + flags) and two FIFOs, one of
// waiting writers and one of waiting readers.
//
// Policy, as Go's: a waiting writer stops new readers (writer preference);
// the readers already in finish, and the last one out hands the lock to the
// head writer. A writer's unlock lets in every reader that queued meanwhile
// (as one batch, counted for them) before the next writer, which then waits
// for that batch; with no queued reader it hands the lock to the next writer.
// Go serialises writers with a separate mutex and counts readers with a
// negative bias; here one word and one lock carry both, which makes
// deadlines (a writer giving up) simple to undo.
//
// Invariants:
//  - state = readers holding (low 32 bits) | kWriter | kWriterWaiting |
//    kReaderWaiting; readers holding and kWriter are never both non-zero.
//  - kWriterWaiting == (wq_ not empty) and kReaderWaiting == (rq_ not
//    empty) outside lk_; both change only under lk_.
//  - Lock-free fast paths touch the word only as: rlock +1 with no flag
//    set; runlock -1 unless it is the last reader with a writer waiting;
//    lock 0 -> kWriter; unlock kWriter -> 0. So under lk_ with a waiting
//    flag set only other readers' runlock can change the word, and with
//    kWriter set (or the last reader before a waiting writer) nothing can.
//  - Readers queue only while kWriter or kWriterWaiting is set; whoever
//    clears the last of those (writer unlock, the last writer timing out)
//    lets them all in, so a queued reader is never left behind.
//  - A waiting writer with no one holding the lock exists only inside an
//    lk_ section: the last reader out, a writer's unlock, and a writer timing
//    out all pass the lock on before dropping lk_.
//  - Handed-over locks are counted in the word by the one handing over; the
//    waiters are readied after lk_ is dropped.
#include "sync/rwmutex.h"

#include <cerrno>

#include "sched/sched.h"
#include "sync/wake.h"

namespace goro::rt {

// take_readers dequeues every reader still waiting (timed-out ones are
// dropped) and returns them in FIFO order, linked through next. lk_ held.
Waiter* RWMutex::take_readers(uint64_t* n) {
  Waiter* head = nullptr;
  Waiter** tail = &head;
  uint64_t k = 0;
  while (Waiter* w = rq_.dequeue()) {
    w->next = nullptr;
    *tail = w;
    tail = &w->next;
    k++;
  }
  *n = k;
  return head;
}

int RWMutex::rlock_slow(int64_t deadline, Context* ctx) {
  Waiter w;
  w.g = getg();
  w.ctx = ctx;
  w.waitreason = "sync.RWMutex.RLock";
  SyscallPause sp(w.g);  // before the lock: leaving may wait for a P (sched.h)
  lk_.lock();
  uint64_t s = state_.load(std::memory_order_relaxed);
  for (;;) {
    if (!(s & (kWriter | kWriterWaiting))) {
      if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        lk_.unlock();
        return 0;
      }
      continue;
    }
    if (deadline >= 0 && nanotime() >= deadline) {
      lk_.unlock();
      return -ETIMEDOUT;
    }
    if (state_.compare_exchange_weak(s, s | kReaderWaiting, std::memory_order_relaxed)) break;
  }
  rq_.push_back(&w);
  if (w.block(&lk_, deadline)) return 0;  // let in: counted by whoever did it
  lk_.lock();
  rq_.remove(&w);
  if (rq_.empty()) state_.fetch_and(~kReaderWaiting, std::memory_order_relaxed);
  lk_.unlock();
  return -ETIMEDOUT;
}

int RWMutex::runlock_slow() {
  lk_.lock();
  uint64_t s = state_.load(std::memory_order_relaxed);
  for (;;) {
    uint64_t r = s & kReaderMask;
    if (r == 0) {
      lk_.unlock();
      return -EPERM;
    }
    if (r == 1 && (s & kWriterWaiting)) break;
    if (state_.compare_exchange_weak(s, s - 1, std::memory_order_release,
                                     std::memory_order_relaxed)) {
      lk_.unlock();
      return 0;
    }
  }
  // The last reader out with a writer waiting: no one else can change the
  // word now. Hand the lock to the head writer.
  uint64_t ns = s - 1;
  Waiter* list = nullptr;
  if (Waiter* w = wq_.dequeue()) {
    w->next = nullptr;
    list = w;
    ns |= kWriter;
    if (wq_.empty()) ns &= ~kWriterWaiting;
  } else {
    // Every waiting writer timed out: the readers they held back go in.
    uint64_t n;
    list = take_readers(&n);
    ns = (ns & ~(kWriterWaiting | kReaderWaiting)) + n;
  }
  state_.store(ns, std::memory_order_release);
  lk_.unlock();
  ready_list(list);
  return 0;
}

int RWMutex::lock_slow(int64_t deadline, Context* ctx) {
  Waiter w;
  w.g = getg();
  w.ctx = ctx;
  w.waitreason = "sync.RWMutex.Lock";
  SyscallPause sp(w.g);  // before the lock: leaving may wait for a P (sched.h)
  lk_.lock();
  uint64_t s = state_.load(std::memory_order_relaxed);
  for (;;) {
    if (!(s & kWriter) && (s & kReaderMask) == 0 && wq_.empty()) {
      if (state_.compare_exchange_weak(s, s | kWriter, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        lk_.unlock();
        return 0;
      }
      continue;
    }
    if (deadline >= 0 && nanotime() >= deadline) {
      lk_.unlock();
      return -ETIMEDOUT;
    }
    if (state_.compare_exchange_weak(s, s | kWriterWaiting, std::memory_order_relaxed)) break;
  }
  wq_.push_back(&w);
  if (w.block(&lk_, deadline)) return 0;  // handed over: kWriter set for us
  lk_.lock();
  wq_.remove(&w);
  Waiter* list = nullptr;
  if (wq_.empty()) {
    // No writer waits any more. Unless a writer holds the lock (its unlock
    // will let them in), the readers this one held back go in now.
    s = state_.load(std::memory_order_relaxed);
    uint64_t n = 0;
    if (!(s & kWriter)) list = take_readers(&n);
    uint64_t clear = kWriterWaiting | (rq_.empty() ? kReaderWaiting : 0);
    while (!state_.compare_exchange_weak(s, (s & ~clear) + n, std::memory_order_release,
                                         std::memory_order_relaxed)) {
    }
  }
  lk_.unlock();
  ready_list(list);
  return -ETIMEDOUT;
}

int RWMutex::unlock_slow() {
  lk_.lock();
  uint64_t s = state_.load(std::memory_order_relaxed);
  if (!(s & kWriter)) {
    lk_.unlock();
    return -EPERM;
  }
  // kWriter is set: no one else can change the word now.
  uint64_t n;
  Waiter* list = take_readers(&n);
  uint64_t ns = s & ~kReaderWaiting;
  if (n > 0) {
    ns = (ns & ~kWriter) + n;  // readers that queued during the write go first
  } else if (Waiter* w = wq_.dequeue()) {
    w->next = nullptr;
    list = w;  // kWriter stays: handed over
    if (wq_.empty()) ns &= ~kWriterWaiting;
  } else {
    ns &= ~(kWriter | kWriterWaiting);
  }
  state_.store(ns, std::memory_order_release);
  lk_.unlock();
  ready_list(list);
  return 0;
}

bool RWMutex::busy() {
  LockGuard lg(lk_);
  return state_.load(std::memory_order_acquire) != 0;
}

}  // namespace goro::rt
