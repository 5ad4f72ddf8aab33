// net.cpp: the extern "C" layer of the "Network I/O" section of goro.h:
// fd waits, read/write, recv/send, accept, connect and close on top of the
// poll descriptors (core/netpoll/polldesc.h).
//
// Every call first tries its system call on the non-blocking fd, as Go's
// internal/poll.FD does, and waits for readiness only on EAGAIN: a goroutine
// parks on the netpoller, a plain thread blocks in ppoll(2). Argument checks
// and error mapping live here; errors are documented in goro.h.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "goro/goro.h"
#include "netpoll/polldesc.h"
#include "sched/sched.h"
#include "sync/context.h"

using namespace goro::rt;

static_assert(GORO_POLLIN == kPollIn && GORO_POLLOUT == kPollOut && GORO_POLLERR == kPollErr &&
              GORO_POLLHUP == kPollHup);

namespace {

// Largest count handed to one read/write system call (Linux caps a single
// transfer at 0x7ffff000 bytes anyway).
constexpr size_t kMaxIO = 1u << 30;

// Back-off of goro_accept while the process (or system) is out of fds or
// memory: 1 ms doubling to 100 ms between retries, so EMFILE never spins.
constexpr int64_t kAcceptBackoffMin = 1000000;
constexpr int64_t kAcceptBackoffMax = 100000000;

// check_io validates what every read/write-like call gets.
int check_io(int fd, const void* buf, size_t n) {
  if (fd < 0) return -EBADF;
  if (!buf && n > 0) return -EINVAL;
  if (n > size_t(SSIZE_MAX)) return -EINVAL;
  return 0;
}

PollDesc* prepare(int fd, int* err) { return pd_get(fd, true, err); }

// write_all is the loop shared by goro_write and goro_send (Go's FD.Write):
// it writes until all n bytes are out. On a socket it uses send() with
// MSG_NOSIGNAL so a closed peer is -EPIPE, never SIGPIPE.
ssize_t write_all(PollDesc* pd, const char* p, size_t n, int flags, bool use_send, int64_t deadline,
                  Context* ctx) {
  size_t done = 0;
  bool dontwait = flags & MSG_DONTWAIT;
  for (;;) {
    size_t chunk = std::min(n - done, kMaxIO);
    ssize_t r;
    if (use_send || pd->is_socket.load(std::memory_order_relaxed) != 0) {
      r = send(pd->fd, p + done, chunk, flags | MSG_NOSIGNAL);
      if (r < 0 && errno == ENOTSOCK && !use_send) {
        pd->is_socket.store(0, std::memory_order_relaxed);
        continue;
      }
    } else {
      r = write(pd->fd, p + done, chunk);
    }
    if (r >= 0) {
      done += size_t(r);
      if (done == n) return ssize_t(done);
      continue;
    }
    int err = errno;
    if (err == EINTR) continue;
    int rc = -err;
    if (err == EAGAIN && !dontwait) {
      rc = pd_wait(pd, kPollOut, deadline, ctx);
      if (rc > 0) continue;
    }
    // Stopped early: report the bytes that went out, else the error.
    return done > 0 ? ssize_t(done) : ssize_t(rc);
  }
}

int fd_wait_impl(int fd, int events, int64_t deadline, Context* ctx) {
  if (fd < 0) return -EBADF;
  if (events == 0 || (events & ~(GORO_POLLIN | GORO_POLLOUT))) return -EINVAL;
  int err = 0;
  PollDesc* pd = pd_get(fd, false, &err);
  if (!pd) return err;
  short pev = short(((events & GORO_POLLIN) ? POLLIN | POLLRDHUP : 0) |
                    ((events & GORO_POLLOUT) ? POLLOUT : 0));
  for (;;) {
    // Level semantics on top of the edge-triggered poller: report what is
    // ready now, and park only if nothing is.
    struct pollfd pf = {fd, pev, 0};
    int r = poll(&pf, 1, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -errno;
    if (r > 0) {
      if (pf.revents & POLLNVAL) return -EBADF;
      int bits = 0;
      if (pf.revents & (POLLIN | POLLRDHUP)) bits |= GORO_POLLIN;
      if (pf.revents & POLLOUT) bits |= GORO_POLLOUT;
      if (pf.revents & POLLERR) bits |= GORO_POLLERR;
      if (pf.revents & POLLHUP) bits |= GORO_POLLHUP;
      return bits & (events | GORO_POLLERR | GORO_POLLHUP);
    }
    int rc = pd_wait(pd, events, deadline, ctx);
    if (rc < 0) return rc;
    if (!getg()) return rc;  // ppoll already reported the level state
    // A goroutine may be woken by an edge whose data someone else consumed:
    // look again.
  }
}

// read_some is read_impl and recv_impl: read(2) or, for a socket call,
// recv(2) with flags, parking on EAGAIN (not with MSG_DONTWAIT) until the
// fd is readable, the deadline passes or ctx is cancelled.
ssize_t read_some(int fd, void* buf, size_t n, int flags, bool sock, int64_t deadline,
                  Context* ctx) {
  if (int e = check_io(fd, buf, n)) return e;
  int err = 0;
  PollDesc* pd = prepare(fd, &err);
  if (!pd) return err;
  n = std::min(n, kMaxIO);
  for (;;) {
    ssize_t r = sock ? recv(fd, buf, n, flags) : read(fd, buf, n);
    if (r >= 0) return r;
    if (errno == EINTR) continue;
    if (errno != EAGAIN || (flags & MSG_DONTWAIT)) return -errno;
    int rc = pd_wait(pd, kPollIn, deadline, ctx);
    if (rc < 0) return rc;
  }
}

ssize_t read_impl(int fd, void* buf, size_t n, int64_t deadline, Context* ctx) {
  return read_some(fd, buf, n, 0, false, deadline, ctx);
}

ssize_t write_impl(int fd, const void* buf, size_t n, int64_t deadline, Context* ctx) {
  if (int e = check_io(fd, buf, n)) return e;
  int err = 0;
  PollDesc* pd = prepare(fd, &err);
  if (!pd) return err;
  if (n == 0) return write(fd, buf, 0) < 0 ? -errno : 0;
  return write_all(pd, static_cast<const char*>(buf), n, 0, false, deadline, ctx);
}

ssize_t recv_impl(int fd, void* buf, size_t n, int flags, int64_t deadline, Context* ctx) {
  return read_some(fd, buf, n, flags, true, deadline, ctx);
}

ssize_t send_impl(int fd, const void* buf, size_t n, int flags, int64_t deadline, Context* ctx) {
  if (int e = check_io(fd, buf, n)) return e;
  int err = 0;
  PollDesc* pd = prepare(fd, &err);
  if (!pd) return err;
  if (n == 0) return send(fd, buf, 0, flags | MSG_NOSIGNAL) < 0 ? -errno : 0;
  return write_all(pd, static_cast<const char*>(buf), n, flags, true, deadline, ctx);
}

int accept_impl(int fd, struct sockaddr* addr, socklen_t* addrlen, int64_t deadline, Context* ctx) {
  if (fd < 0) return -EBADF;
  if (addr && !addrlen) return -EINVAL;
  int err = 0;
  PollDesc* pd = prepare(fd, &err);
  if (!pd) return err;
  int64_t backoff = 0;
  for (;;) {
    int nfd = accept4(fd, addr, addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (nfd >= 0) {
      // A new open file owns this number now: whatever goro knew about the
      // number belongs to a file closed behind its back.
      if (PollDesc* npd = pd_get(nfd, false, &err)) pd_new_generation(npd, true);
      return nfd;
    }
    int e = errno;
    switch (e) {
      case EINTR:
      case ECONNABORTED:  // the peer gave up while queued: take the next one
        continue;
      case EAGAIN: {
        int rc = pd_wait(pd, kPollIn, deadline, ctx);
        if (rc < 0) return rc;
        continue;
      }
      case EMFILE:
      case ENFILE:
      case ENOBUFS:
      case ENOMEM: {
        // Out of fds or memory: the pending connection stays queued and the
        // listener stays readable, so retrying at once would spin. Back off
        // (only goro_close interrupts it) and retry; at the deadline report
        // the error itself.
        int64_t now = nanotime();
        if (deadline >= 0 && now >= deadline) return -e;
        backoff = backoff ? std::min(backoff * 2, kAcceptBackoffMax) : kAcceptBackoffMin;
        int64_t until = now + backoff;
        if (deadline >= 0 && deadline < until) until = deadline;
        int rc = pd_sleep(pd, until, ctx);
        if (rc < 0) return rc;
        continue;
      }
      default:
        return -e;
    }
  }
}

int connect_impl(int fd, const struct sockaddr* addr, socklen_t addrlen, int64_t deadline,
                 Context* ctx) {
  if (fd < 0) return -EBADF;
  if (!addr || addrlen == 0) return -EINVAL;
  int err = 0;
  PollDesc* pd = pd_get(fd, false, &err);
  if (!pd) return err;
  // connect() starts a new life for this socket: register it afresh.
  pd_new_generation(pd, false);
  if (!(pd = prepare(fd, &err))) return err;
  int r = connect(fd, addr, addrlen);
  if (r == 0) return 0;
  int e = errno;
  if (e != EINPROGRESS && e != EALREADY && e != EINTR) return e == EISCONN ? 0 : -e;
  for (;;) {
    int rc = pd_wait(pd, kPollOut, deadline, ctx);
    if (rc < 0) return rc;
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) return -errno;
    switch (soerr) {
      case 0:
      case EISCONN: {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getpeername(fd, reinterpret_cast<struct sockaddr*>(&ss), &sl) == 0) return 0;
        if (errno != ENOTCONN) return -errno;
        continue;  // woken before the handshake finished
      }
      case EINPROGRESS:
      case EALREADY:
      case EINTR:
        continue;
      default:
        return -soerr;
    }
  }
}

// with_ctx runs an impl with ctx's deadline and cancellation, holding a
// reference on ctx, and maps a wait that ctx ended to ctx's error.
template <typename Op>
auto with_ctx(goro_ctx_t* ctx, Op op) -> decltype(op(nullptr)) {
  Context* c = reinterpret_cast<Context*>(ctx);
  ctx_retain(c);
  auto rc = op(c);
  if (rc == -ETIMEDOUT) rc = ctx_wait_error(c, -ETIMEDOUT);
  ctx_release(c);
  return rc;
}

}  // namespace

extern "C" {

GORO_API int goro_fd_wait(int fd, int events, int64_t deadline) noexcept {
  return fd_wait_impl(fd, events, deadline, nullptr);
}

GORO_API ssize_t goro_read(int fd, void* buf, size_t n, int64_t deadline) noexcept {
  return read_impl(fd, buf, n, deadline, nullptr);
}

GORO_API ssize_t goro_write(int fd, const void* buf, size_t n, int64_t deadline) noexcept {
  return write_impl(fd, buf, n, deadline, nullptr);
}

GORO_API ssize_t goro_recv(int fd, void* buf, size_t n, int flags, int64_t deadline) noexcept {
  return recv_impl(fd, buf, n, flags, deadline, nullptr);
}

GORO_API ssize_t goro_send(int fd, const void* buf, size_t n, int flags,
                           int64_t deadline) noexcept {
  return send_impl(fd, buf, n, flags, deadline, nullptr);
}

GORO_API int goro_accept(int fd, struct sockaddr* addr, socklen_t* addrlen,
                         int64_t deadline) noexcept {
  return accept_impl(fd, addr, addrlen, deadline, nullptr);
}

GORO_API int goro_connect(int fd, const struct sockaddr* addr, socklen_t addrlen,
                          int64_t deadline) noexcept {
  return connect_impl(fd, addr, addrlen, deadline, nullptr);
}

GORO_API int goro_close(int fd) noexcept { return pd_close(fd); }

GORO_API int goro_fd_wait_ctx(int fd, int events, struct goro_ctx* ctx) noexcept {
  if (!ctx) return -EINVAL;
  return with_ctx(ctx, [&](Context* c) { return fd_wait_impl(fd, events, c->deadline, c); });
}

GORO_API ssize_t goro_read_ctx(int fd, void* buf, size_t n, struct goro_ctx* ctx) noexcept {
  if (!ctx) return -EINVAL;
  return with_ctx(ctx, [&](Context* c) { return read_impl(fd, buf, n, c->deadline, c); });
}

GORO_API ssize_t goro_write_ctx(int fd, const void* buf, size_t n, struct goro_ctx* ctx) noexcept {
  if (!ctx) return -EINVAL;
  return with_ctx(ctx, [&](Context* c) { return write_impl(fd, buf, n, c->deadline, c); });
}

GORO_API ssize_t goro_recv_ctx(int fd, void* buf, size_t n, int flags,
                               struct goro_ctx* ctx) noexcept {
  if (!ctx) return -EINVAL;
  return with_ctx(ctx, [&](Context* c) { return recv_impl(fd, buf, n, flags, c->deadline, c); });
}

GORO_API ssize_t goro_send_ctx(int fd, const void* buf, size_t n, int flags,
                               struct goro_ctx* ctx) noexcept {
  if (!ctx) return -EINVAL;
  return with_ctx(ctx, [&](Context* c) { return send_impl(fd, buf, n, flags, c->deadline, c); });
}

GORO_API int goro_accept_ctx(int fd, struct sockaddr* addr, socklen_t* addrlen,
                             struct goro_ctx* ctx) noexcept {
  if (!ctx) return -EINVAL;
  return with_ctx(ctx, [&](Context* c) { return accept_impl(fd, addr, addrlen, c->deadline, c); });
}

GORO_API int goro_connect_ctx(int fd, const struct sockaddr* addr, socklen_t addrlen,
                              struct goro_ctx* ctx) noexcept {
  if (!ctx) return -EINVAL;
  return with_ctx(ctx, [&](Context* c) { return connect_impl(fd, addr, addrlen, c->deadline, c); });
}

}  // extern "C"
