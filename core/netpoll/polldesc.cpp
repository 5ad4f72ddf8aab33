// polldesc.cpp: per-fd poll descriptors and waits on them. See polldesc.h
// for what it owns and its invariants.
#include "netpoll/polldesc.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <new>

#include "netpoll/netpoll.h"
#include "sched/sched.h"
#include "sync/context.h"
#include "sync/wake.h"

namespace goro::rt {

std::atomic<int32_t> g_pd_waiters{0};

namespace {

// The table: kTop chunks of kChunk descriptors, allocated on first use and
// never freed. 2^24 fd numbers is beyond Linux's default fs.nr_open (2^20).
constexpr int kChunkBits = 10;
constexpr int kChunk = 1 << kChunkBits;
constexpr int kTop = 1 << 14;
constexpr int kMaxFd = kTop * kChunk;

std::atomic<PollDesc*> g_table[kTop];
Mutex g_table_lock;

// Waiter::index carries what the waiter waits for: kPoll* bits, plus
// kSleepOnly for accept's back-off, which only goro_close ends early.
constexpr int32_t kSleepOnly = 0x10000;

// A plain thread's eventfd, written by goro_close() to interrupt its ppoll.
struct ThreadWake {
  int fd = -2;  // -2: not made yet, -1: could not be made
  ~ThreadWake() {
    if (fd >= 0) close(fd);
  }
  int get() {
    if (fd == -2) fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return fd;
  }
};
thread_local ThreadWake tls_wake;

void wake_thread_waiter(Waiter* w) {  // pd->lock held: the thread cannot be gone
  int fd = *static_cast<int*>(w->elem);
  uint64_t one = 1;
  ssize_t r = write(fd, &one, sizeof one);
  (void)r;
}

// take_all() unlinks every waiter of pd and claims it with result err.
// Claimed goroutine waiters are returned linked through next (to ready
// after the lock is dropped); thread waiters are woken at once. pd->lock held.
Waiter* take_all(PollDesc* pd, int err) {
  Waiter* list = nullptr;
  for (WaitQueue& q : pd->q) {
    while (Waiter* w = q.first) {
      q.remove(w);
      if (w->claim()) {
        w->result = err;
        w->next = list;
        list = w;
      }
    }
  }
  while (Waiter* w = pd->threads.first) {
    pd->threads.remove(w);
    if (w->claim()) {
      w->result = err;
      wake_thread_waiter(w);
    }
  }
  return list;
}

// ready_claimed() readies goroutine waiters claimed by take_all().
void ready_claimed(Waiter* list) {
  if (!list) return;
  ApiRef ref;  // a plain thread may be the waker; harmless on a goroutine
  while (list) {
    Waiter* w = list;
    list = w->next;  // read before goready: w lives on the G's stack
    if (getg() || ref.ok()) goready(w->g);
  }
}

int set_nonblock(PollDesc* pd) {
  int fl = fcntl(pd->fd, F_GETFL);
  if (fl < 0) return -errno;
  if (!(fl & O_NONBLOCK) && fcntl(pd->fd, F_SETFL, fl | O_NONBLOCK) < 0) return -errno;
  pd->nonblock.store(true, std::memory_order_relaxed);
  return 0;
}

int64_t now_ns() { return nanotime(); }

// cancel_error is what a wait ended by ctx returns.
int cancel_error(Context* ctx) {
  int e = ctx ? ctx_err(ctx) : 0;
  return e ? e : -ECANCELED;
}

// wait_g parks the calling goroutine. See pd_wait / pd_sleep.
int wait_g(G* gp, PollDesc* pd, int events, int64_t deadline, bool sleep_only, Context* ctx) {
  SyscallPause sp(gp);  // before the lock: leaving may wait for a P (sched.h)
  pd->lock.lock();
  if (!sleep_only) {
    if (!pd->registered) {
      int err = netpoll_register(pd->fd, pd->seq);
      if (err == -EPERM) {  // a regular file or the like: always ready, as poll(2) says
        pd->lock.unlock();
        return events;
      }
      if (err < 0) {
        pd->lock.unlock();
        return err == -ENOENT ? -EBADF : err;
      }
      pd->registered = true;
    }
    int got = 0;
    if ((events & kPollIn) && pd->ready[kRead]) {
      pd->ready[kRead] = false;
      got |= kPollIn;
    }
    if ((events & kPollOut) && pd->ready[kWrite]) {
      pd->ready[kWrite] = false;
      got |= kPollOut;
    }
    if (got) {
      pd->lock.unlock();
      return got;
    }
  }
  if (deadline >= 0 && deadline <= now_ns()) {
    pd->lock.unlock();
    return sleep_only ? 0 : -ETIMEDOUT;
  }
  Waiter wr, ww;
  wr.g = ww.g = gp;
  wr.index = ww.index = events | (sleep_only ? kSleepOnly : 0);
  Waiter* first;
  bool both = !sleep_only && (events & kPollIn) && (events & kPollOut);
  if (both) {
    // One claim word for both directions (as select shares one across cases).
    wr.sel_first = &wr;
    ww.sel_first = &wr;
    pd->q[kRead].push_back(&wr);
    pd->q[kWrite].push_back(&ww);
    first = &wr;
  } else if (sleep_only || (events & kPollIn)) {
    pd->q[kRead].push_back(&wr);
    first = &wr;
  } else {
    pd->q[kWrite].push_back(&ww);
    first = &ww;
  }
  first->ctx = ctx;  // block() watches it under pd->lock, before unlocking
  first->waitreason = sleep_only ? "sleep" : "IO wait";  // Go's wait reasons
  g_pd_waiters.fetch_add(1, std::memory_order_relaxed);
  bool woken = first->block(&pd->lock, deadline);  // drops pd->lock
  g_pd_waiters.fetch_sub(1, std::memory_order_relaxed);
  if (!woken || both) {
    // Timed out (still linked, maybe), or one of two was claimed.
    LockGuard lg(pd->lock);
    pd->q[kRead].remove(&wr);
    pd->q[kWrite].remove(&ww);
  }
  if (!woken) {
    if (first->cancelled()) return cancel_error(ctx);
    return sleep_only ? 0 : -ETIMEDOUT;
  }
  Waiter* won = both ? wr.won : first;
  return won->result;
}

int poll_bits(short revents) {
  if (revents & POLLNVAL) return -EBADF;
  int b = 0;
  if (revents & (POLLIN | POLLRDHUP | POLLPRI)) b |= kPollIn;
  if (revents & POLLOUT) b |= kPollOut;
  if (revents & POLLERR) b |= kPollErr;
  if (revents & POLLHUP) b |= kPollHup;
  return b;
}

// wait_thread blocks a plain thread in ppoll(2) on fd and its eventfd.
int wait_thread(PollDesc* pd, int events, int64_t deadline, bool sleep_only, Context* ctx) {
  int wfd = tls_wake.get();
  Waiter w;
  w.elem = &wfd;
  w.index = events | (sleep_only ? kSleepOnly : 0);
  {
    LockGuard lg(pd->lock);
    if (ctx && !ctx_watch(ctx, &w)) return cancel_error(ctx);
    if (wfd >= 0) pd->threads.push_back(&w);
  }
  int res = 0;
  for (;;) {
    struct pollfd pf[2];
    nfds_t n = 0;
    int fdidx = -1, widx = -1;
    if (!sleep_only) {
      pf[n] = {pd->fd,
               short(((events & kPollIn) ? POLLIN | POLLRDHUP : 0) |
                     ((events & kPollOut) ? POLLOUT : 0)),
               0};
      fdidx = int(n++);
    }
    if (wfd >= 0) {
      pf[n] = {wfd, POLLIN, 0};
      widx = int(n++);
    }
    if (ctx && w.cancelled()) {
      res = cancel_error(ctx);
      break;
    }
    struct timespec ts, *tsp = nullptr;
    int64_t d = deadline >= 0 ? deadline - now_ns() : -1;
    if (deadline >= 0 && d <= 0) {
      res = sleep_only ? 0 : -ETIMEDOUT;
      break;
    }
    if (ctx && (d < 0 || d > kCtxSliceNs)) d = kCtxSliceNs;  // look at ctx now and then
    if (d >= 0) {
      ts = {time_t(d / 1000000000), long(d % 1000000000)};
      tsp = &ts;
    }
    int r = ppoll(pf, n, tsp, nullptr);
    if (r < 0) {
      if (errno == EINTR) continue;
      res = -errno;
      break;
    }
    if (widx >= 0 && pf[widx].revents) {
      uint64_t v;
      ssize_t rr = read(wfd, &v, sizeof v);
      (void)rr;
      if (w.claimed.load(std::memory_order_acquire) == Waiter::kClaimed) break;
      // A wake-up left over from an earlier wait: keep waiting.
    }
    if (fdidx >= 0 && pf[fdidx].revents) {
      res = poll_bits(pf[fdidx].revents);
      break;
    }
  }
  {
    LockGuard lg(pd->lock);
    if (w.linked) {
      pd->threads.remove(&w);
    } else if (w.claimed.load(std::memory_order_acquire) == Waiter::kClaimed) {
      res = w.result;  // goro_close claimed us: closing wins over readiness
    } else if (w.cancelled() && res >= 0) {
      res = cancel_error(ctx);  // unlinked by goro_close, but the context came first
    }
  }
  if (ctx) ctx_unwatch(ctx, &w);
  return res;
}

}  // namespace

PollDesc* pd_lookup(int fd) {
  if (fd < 0 || fd >= kMaxFd) return nullptr;
  PollDesc* chunk = g_table[fd >> kChunkBits].load(std::memory_order_acquire);
  return chunk ? &chunk[fd & (kChunk - 1)] : nullptr;
}

PollDesc* pd_get(int fd, bool prepare, int* err) {
  if (fd < 0 || fd >= kMaxFd) {
    *err = -EBADF;
    return nullptr;
  }
  PollDesc* pd = pd_lookup(fd);
  if (!pd) {
    LockGuard lg(g_table_lock);
    std::atomic<PollDesc*>& slot = g_table[fd >> kChunkBits];
    PollDesc* chunk = slot.load(std::memory_order_relaxed);
    if (!chunk) {
      chunk = new (std::nothrow) PollDesc[kChunk];
      if (!chunk) {
        *err = -ENOMEM;
        return nullptr;
      }
      int base = fd & ~(kChunk - 1);
      for (int i = 0; i < kChunk; i++) chunk[i].fd = base + i;
      slot.store(chunk, std::memory_order_release);
    }
    pd = &chunk[fd & (kChunk - 1)];
  }
  if (prepare && !pd->nonblock.load(std::memory_order_relaxed)) {
    if (int e = set_nonblock(pd)) {
      *err = e;
      return nullptr;
    }
  }
  return pd;
}

int pd_wait(PollDesc* pd, int events, int64_t deadline, Context* ctx) {
  events &= kPollIn | kPollOut;
  if (!events) return -EINVAL;
  if (G* gp = getg()) return wait_g(gp, pd, events, deadline, false, ctx);
  return wait_thread(pd, events, deadline, false, ctx);
}

int pd_sleep(PollDesc* pd, int64_t deadline, Context* ctx) {
  if (G* gp = getg()) return wait_g(gp, pd, kPollIn, deadline, true, ctx);
  return wait_thread(pd, kPollIn, deadline, true, ctx);
}

void pd_new_generation(PollDesc* pd, bool nonblock) {
  Waiter* stale;
  {
    LockGuard lg(pd->lock);
    pd->seq++;
    pd->registered = false;
    pd->ready[kRead] = pd->ready[kWrite] = false;
    pd->nonblock.store(nonblock, std::memory_order_relaxed);
    pd->is_socket.store(1, std::memory_order_relaxed);
    stale = (pd->q[kRead].empty() && pd->q[kWrite].empty() && pd->threads.empty())
                ? nullptr
                : take_all(pd, -EBADF);
  }
  ready_claimed(stale);
}

int pd_close(int fd) {
  if (fd < 0) return -EBADF;
  PollDesc* pd = pd_lookup(fd);
  if (!pd) return close(fd) == 0 ? 0 : -errno;
  Waiter* list;
  int r;
  {
    // Everything up to close(2) happens under the lock, so no wait can
    // start on the dying file (one that comes later finds the number closed
    // or owned by a new file), and nothing is left to reset afterwards.
    LockGuard lg(pd->lock);
    pd->seq++;  // events already in flight for this file are now stale
    pd->ready[kRead] = pd->ready[kWrite] = false;
    pd->nonblock.store(false, std::memory_order_relaxed);
    pd->is_socket.store(-1, std::memory_order_relaxed);
    list = take_all(pd, -EBADF);
    // Deregister before close: a dup of fd elsewhere would keep the
    // registration (and its events) alive otherwise.
    if (pd->registered) netpoll_deregister(fd);
    pd->registered = false;
    r = close(fd) == 0 ? 0 : -errno;
  }
  ready_claimed(list);
  return r;
}

void pd_evict_goroutines() {
  for (int i = 0; i < kTop; i++) {
    PollDesc* chunk = g_table[i].load(std::memory_order_acquire);
    if (!chunk) continue;
    for (int j = 0; j < kChunk; j++) {
      PollDesc* pd = &chunk[j];
      LockGuard lg(pd->lock);
      // The abandoned Gs' stacks may be gone: drop the queues without
      // walking them.
      for (WaitQueue& q : pd->q) q.first = q.last = nullptr;
      if (pd->registered) {
        pd->registered = false;
        pd->seq++;
      }
      pd->ready[kRead] = pd->ready[kWrite] = false;
    }
  }
  g_pd_waiters.store(0);
}

int pd_ready(int fd, uint32_t seq, int bits, G** list) {
  PollDesc* pd = pd_lookup(fd);
  if (!pd) return 0;
  int n = 0;
  LockGuard lg(pd->lock);
  if (pd->seq != seq) return 0;  // stale: the file is gone
  static constexpr int kDirBits[2] = {kPollIn | kPollErr | kPollHup,
                                      kPollOut | kPollErr | kPollHup};
  for (int d = 0; d < 2; d++) {
    if (!(bits & kDirBits[d])) continue;
    bool woke = false;
    WaitQueue& q = pd->q[d];
    for (Waiter* w = q.first; w;) {
      Waiter* next = w->next;
      if (!(w->index & kSleepOnly)) {
        q.remove(w);
        if (w->claim()) {
          w->result = bits & ((w->index & (kPollIn | kPollOut)) | kPollErr | kPollHup);
          w->g->schedlink = *list;
          *list = w->g;
          n++;
          woke = true;
        }
      }
      w = next;
    }
    if (!woke) pd->ready[d] = true;
  }
  return n;
}

}  // namespace goro::rt
