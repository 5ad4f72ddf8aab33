// netpoll_epoll.cpp: the Linux epoll backend of the netpoller.
//
// Owns: the epoll fd and an eventfd used by netpoll_break(). See netpoll.h
// for the contract. Timeouts use epoll_pwait2 (ns resolution, Linux 5.11+),
// falling back to epoll_wait rounded up to whole milliseconds.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <ctime>

#include "netpoll/netpoll.h"

namespace goro::rt {

namespace {
int g_epfd = -1;
int g_breakfd = -1;
std::atomic<uint32_t> g_break_pending{0};
std::atomic<bool> g_have_pwait2{true};
}  // namespace

bool netpoll_init() {
  g_epfd = epoll_create1(EPOLL_CLOEXEC);
  if (g_epfd < 0) return false;
  g_breakfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (g_breakfd < 0) {
    close(g_epfd);
    g_epfd = -1;
    return false;
  }
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.ptr = &g_breakfd;
  if (epoll_ctl(g_epfd, EPOLL_CTL_ADD, g_breakfd, &ev) != 0) {
    netpoll_close();
    return false;
  }
  g_break_pending.store(0);
  return true;
}

void netpoll_close() {
  if (g_breakfd >= 0) close(g_breakfd);
  if (g_epfd >= 0) close(g_epfd);
  g_breakfd = g_epfd = -1;
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

G* netpoll(int64_t delay) {
  if (g_epfd < 0) return nullptr;
  struct epoll_event evs[128];
  int n;
  if (g_have_pwait2.load(std::memory_order_relaxed)) {
    struct timespec ts, *tsp = nullptr;
    if (delay >= 0) {
      ts.tv_sec = time_t(delay / 1000000000);
      ts.tv_nsec = long(delay % 1000000000);
      tsp = &ts;
    }
    n = epoll_pwait2(g_epfd, evs, 128, tsp, nullptr);
    if (n < 0 && errno == ENOSYS) {
      g_have_pwait2.store(false, std::memory_order_relaxed);
      return nullptr;  // caller re-evaluates and polls again
    }
  } else {
    int ms = delay < 0 ? -1 : int((delay + 999999) / 1000000);
    n = epoll_wait(g_epfd, evs, 128, ms);
  }
  for (int i = 0; i < n; i++) {
    if (evs[i].data.ptr == &g_breakfd) {
      uint64_t v;
      ssize_t r = read(g_breakfd, &v, sizeof v);
      (void)r;
      g_break_pending.store(0);
    }
  }
  return nullptr;  // no descriptor is registered with the poller yet
}

}  // namespace goro::rt
