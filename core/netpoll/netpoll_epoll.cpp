// netpoll_epoll.cpp: the Linux epoll backend of the netpoller.
//
// Owns: the epoll fd and an eventfd used by netpoll_break(). See netpoll.h
// for the contract. Timeouts use epoll_pwait2 (ns resolution, Linux 5.11+),
// falling back to epoll_wait rounded up to whole milliseconds.
//
// Each registered fd carries (seq << 32 | fd) as its event data, where seq is
// the generation of its PollDesc (polldesc.h). An event whose seq no longer
// matches belongs to a file that was closed and whose number was reused; it
// is dropped, so a stale wake-up never reaches the new file's waiters.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <ctime>

#include "netpoll/netpoll.h"
#include "netpoll/polldesc.h"
#include "sched/stats.h"

namespace goro::rt {

namespace {
constexpr uint64_t kBreakTag = ~uint64_t(0);  // data of the break eventfd
std::atomic<int> g_epfd{-1};
int g_breakfd = -1;
std::atomic<uint32_t> g_break_pending{0};
std::atomic<bool> g_have_pwait2{true};
std::atomic<int64_t> g_last_poll{0};

int64_t now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Maps epoll bits to the kPoll* bits of the read and write directions.
int to_bits(uint32_t ev) {
  int b = 0;
  if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLPRI)) b |= kPollIn;
  if (ev & EPOLLOUT) b |= kPollOut;
  if (ev & EPOLLERR) b |= kPollErr;
  if (ev & EPOLLHUP) b |= kPollHup;
  return b;
}
}  // namespace

bool netpoll_init() {
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return false;
  g_breakfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (g_breakfd < 0) {
    close(epfd);
    return false;
  }
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.u64 = kBreakTag;
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, g_breakfd, &ev) != 0) {
    close(g_breakfd);
    close(epfd);
    g_breakfd = -1;
    return false;
  }
  g_break_pending.store(0);
  g_last_poll.store(now_ns());
  g_epfd.store(epfd, std::memory_order_release);
  return true;
}

void netpoll_close() {
  pd_evict_goroutines();
  int epfd = g_epfd.exchange(-1);
  if (g_breakfd >= 0) close(g_breakfd);
  if (epfd >= 0) close(epfd);
  g_breakfd = -1;
}

void netpoll_break() {
  // Coalesce: only the first caller since the poller last drained writes.
  uint32_t z = 0;
  if (!g_break_pending.compare_exchange_strong(z, 1)) return;
  uint64_t one = 1;
  for (;;) {
    ssize_t n = write(g_breakfd, &one, sizeof one);
    if (n == sizeof one || errno == EAGAIN) return;
    if (errno != EINTR) return;
  }
}

bool netpoll_any_waiters() { return g_pd_waiters.load(std::memory_order_relaxed) > 0; }

int64_t netpoll_last_poll_ns() { return g_last_poll.load(std::memory_order_relaxed); }

int netpoll_register(int fd, uint32_t seq) {
  int epfd = g_epfd.load(std::memory_order_acquire);
  if (epfd < 0) return -ESHUTDOWN;
  struct epoll_event ev = {};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = uint64_t(seq) << 32 | uint32_t(fd);
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0) return 0;
  if (errno == EEXIST && epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) == 0) return 0;
  return -errno;
}

void netpoll_deregister(int fd) {
  int epfd = g_epfd.load(std::memory_order_acquire);
  if (epfd < 0) return;
  struct epoll_event ev = {};
  (void)epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev);
}

G* netpoll(int64_t delay) {
  int epfd = g_epfd.load(std::memory_order_acquire);
  if (epfd < 0) return nullptr;
  struct epoll_event evs[128];
  int n;
  if (g_have_pwait2.load(std::memory_order_relaxed)) {
    struct timespec ts, *tsp = nullptr;
    if (delay >= 0) {
      ts.tv_sec = time_t(delay / 1000000000);
      ts.tv_nsec = long(delay % 1000000000);
      tsp = &ts;
    }
    n = epoll_pwait2(epfd, evs, 128, tsp, nullptr);
    if (n < 0 && errno == ENOSYS) {
      g_have_pwait2.store(false, std::memory_order_relaxed);
      return nullptr;  // caller re-evaluates and polls again
    }
  } else {
    int ms = delay < 0 ? -1 : int((delay + 999999) / 1000000);
    n = epoll_wait(epfd, evs, 128, ms);
  }
  G* list = nullptr;
  int woken = 0;
  for (int i = 0; i < n; i++) {
    uint64_t data = evs[i].data.u64;
    if (data == kBreakTag) {
      uint64_t v;
      ssize_t r = read(g_breakfd, &v, sizeof v);
      (void)r;
      g_break_pending.store(0);
      continue;
    }
    int bits = to_bits(evs[i].events);
    woken += pd_ready(int(uint32_t(data)), uint32_t(data >> 32), bits, &list);
  }
  g_last_poll.store(now_ns(), std::memory_order_relaxed);
  if (woken) stat_add(g_counters.netpoll_wakeups, uint64_t(woken));
  return list;
}

}  // namespace goro::rt
