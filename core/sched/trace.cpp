// trace.cpp: the scheduler's observers (Go's schedtrace, the goroutine
// dump of Go's SIGQUIT/traceback, and the allgs registry they walk).
//
// Owns:
//  - g_allgs, the all-goroutines registry (trace.h): an append-only list of
//    the G chunks proc.cpp allocates. Gs are never freed while the runtime
//    runs, so a G pointer read from it stays valid until goro_shutdown().
//  - schedtrace(): GORO_DEBUG=schedtrace=N[,scheddetail=1], printed to fd 2
//    by a sysmon hook in Go's format, field for field.
//  - dump_goroutines(): goro_dump() and the SIGQUIT dump.
//  - The SIGQUIT handler (GORO_DEBUG=sigquitdump=1) and its dumper thread.
//
// Invariants:
//  - Nothing here stops the world. Scheduler counters are atomics read
//    relaxed; the M list, mcount and nmidle are read under sched.lock (as
//    Go's schedtrace does); fields of P, M and G that their owners write
//    without a lock (schedtick, curg, spinning, a G's goid/status/name...)
//    are read racily through racy_*(), which TSan does not instrument: the
//    values are a best-effort snapshot, exactly as in Go, never a crash.
//  - An M pointer found in a P or G is never dereferenced: an M whose
//    locked G exited is freed. Ids come from the M list read under
//    sched.lock, matched by pointer. P and G pointers are always safe to
//    dereference while the runtime runs (never freed before shutdown).
//  - Whoever calls in holds an ApiRef (or runs where shutdown cannot free
//    the runtime), so the Ps and Gs stay allocated for the whole walk.
//  - The SIGQUIT handler only calls sem_post() (async-signal-safe); the dump
//    itself runs on a dedicated thread that may take locks and allocate.
#include "sched/trace.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <climits>
#include <cstdarg>
#include <cstring>
#include <new>
#include <vector>

#include "os/godebug.h"
#include "sched/sched.h"
#include "sched/stats.h"
#include "sched/sysmon.h"

namespace goro::rt {

std::atomic<AllgChunk*> g_allgs{nullptr};

bool allg_add(G* chunk, int32_t n) {
  AllgChunk* c = new (std::nothrow) AllgChunk{chunk, n, g_allgs.load(std::memory_order_relaxed)};
  if (!c) return false;
  g_allgs.store(c, std::memory_order_release);
  return true;
}

void allg_reset() {
  AllgChunk* c = g_allgs.exchange(nullptr, std::memory_order_acq_rel);
  while (c) {
    AllgChunk* next = c->next;
    delete c;
    c = next;
  }
}

namespace {

// ---------------------------------------------------------------------------
// Racy reads (see the invariants above).

template <typename T>
__attribute__((no_sanitize("thread"), noinline)) T racy(const T* p) {
  return *static_cast<const volatile T*>(p);
}

// ld() reads a field that may be an atomic (relaxed) or a plain racy one.
template <typename T>
T ld(const std::atomic<T>* p) {
  return p->load(std::memory_order_relaxed);
}
template <typename T>
T ld(const T* p) {
  return racy(p);
}

__attribute__((no_sanitize("thread"), noinline)) void racy_copy(char* dst, const char* src,
                                                                size_t n) {
  const volatile char* s = src;
  for (size_t i = 0; i < n; i++) dst[i] = s[i];
}

// ---------------------------------------------------------------------------
// Output: a small buffer flushed to a file descriptor or a FILE*. Whole lines
// go out together; nothing is allocated.

class Out {
 public:
  explicit Out(int fd) : fd_(fd) {}
  explicit Out(FILE* f) : f_(f) {}
  ~Out() { flush(); }

  void printf(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    for (int tries = 0; tries < 2; tries++) {
      va_list ap;
      va_start(ap, fmt);
      int n = vsnprintf(buf_ + len_, sizeof buf_ - len_, fmt, ap);
      va_end(ap);
      if (n < 0) return;
      if (len_ + size_t(n) < sizeof buf_) {
        len_ += size_t(n);
        return;
      }
      if (len_ == 0) {  // longer than the whole buffer: keep what fits
        len_ = sizeof buf_ - 1;
        return;
      }
      flush();
    }
  }
  void flush() {
    if (len_ == 0) return;
    if (f_) {
      if (fwrite(buf_, 1, len_, f_) != len_) err_ = true;
    } else {
      size_t off = 0;
      while (off < len_) {
        ssize_t w = write(fd_, buf_ + off, len_ - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
          err_ = true;
          break;
        }
        off += size_t(w);
      }
    }
    len_ = 0;
  }
  bool failed() const { return err_; }

 private:
  int fd_ = -1;
  FILE* f_ = nullptr;
  bool err_ = false;
  size_t len_ = 0;
  char buf_[4096];
};

// ---------------------------------------------------------------------------
// Go's numbering of G and P states, so that tools reading Go's schedtrace
// read ours the same way (runtime2.go: _Gidle 0, _Grunnable 1, _Grunning 2,
// _Gsyscall 3, _Gwaiting 4, _Gdead 6; _Pidle 0, _Prunning 1, _Psyscall 2,
// _Pdead 4).
int go_gstatus(uint32_t s) {
  switch (s) {
    case Gidle: return 0;
    case Grunnable: return 1;
    case Grunning: return 2;
    case Gsyscall: return 3;
    case Gwaiting: return 4;
    case Gdead: return 6;
    default: return int(s);
  }
}

int go_pstatus(uint32_t s) {
  switch (s) {
    case Pidle: return 0;
    case Prunning: return 1;
    case Psyscall: return 2;
    case Pdead: return 4;
    default: return int(s);
  }
}

const char* gstatus_name(uint32_t s) {
  switch (s) {
    case Gidle: return "idle";
    case Grunnable: return "runnable";
    case Grunning: return "running";
    case Gsyscall: return "syscall";
    case Gwaiting: return "waiting";
    case Gdead: return "dead";
    default: return "unknown";
  }
}

// One M as seen under sched.lock.
struct MInfo {
  const M* m;
  int64_t id;
  const P* p;
  const G* curg;
  const G* lockedg;
  bool spinning;
  bool blocked;  // parked on the idle M list
};

int64_t mid_of(const std::vector<MInfo>& ms, const M* m) {
  if (!m) return -1;
  for (const MInfo& mi : ms)
    if (mi.m == m) return mi.id;
  return -1;
}

int64_t mid_running(const std::vector<MInfo>& ms, const G* gp) {
  for (const MInfo& mi : ms)
    if (mi.curg == gp) return mi.id;
  return -1;
}

int64_t mid_locked(const std::vector<MInfo>& ms, const G* gp) {
  for (const MInfo& mi : ms)
    if (mi.lockedg == gp) return mi.id;
  return -1;
}

int64_t g_traceStart = 0;  // first schedtrace call (sysmon thread only)

}  // namespace

// ---------------------------------------------------------------------------
// schedtrace (Go's schedtrace in proc.go).
//
// Fields goro has no equivalent for are printed as constants so that a
// parser of Go's lines reads ours: needspinning=0, gcwaiting=0,
// nmidlelocked=0, stopwait=0, sysmonwait=0, and on M lines
// mallocing=0 throwing=0 preemptoff= locks=0 dying=0.

void schedtrace(bool detail) {
  ApiRef ref;
  if (!ref.ok()) return;
  int64_t now = nanotime();
  if (g_traceStart == 0) g_traceStart = now;
  SchedView v;
  sched_view(&v);
  int32_t procs = v.gomaxprocs->load(std::memory_order_relaxed);
  int32_t nallp = v.nallp->load(std::memory_order_relaxed);
  procs = std::min(procs, nallp);
  // Timer heap sizes first: their lock is not taken under sched.lock.
  static size_t timerslen[GORO_MAXPROCS_MAX];
  if (detail)
    for (int32_t i = 0; i < procs; i++) timerslen[i] = v.allp[i]->timers.size();
  std::vector<MInfo> ms;
  Out out(2);
  v.lock->lock();
  out.printf("SCHED %" PRId64 "ms: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d "
             "needspinning=0 idlethreads=%d runqueue=%d",
             (now - g_traceStart) / 1000000, procs, v.npidle->load(std::memory_order_relaxed),
             *v.mcount, v.nmspinning->load(std::memory_order_relaxed), *v.nmidle,
             v.runqsize->load(std::memory_order_relaxed));
  if (detail) {
    out.printf(" gcwaiting=0 nmidlelocked=0 stopwait=0 sysmonwait=0\n");
    for (M* m = *v.allm; m; m = m->alllink) {
      bool idle = false;
      for (M* i = *v.midle; i; i = i->schedlink)
        if (i == m) idle = true;
      ms.push_back(MInfo{m, m->id, ld(&m->p), ld(&m->curg), ld(&m->lockedg),
                         ld(&m->spinning), idle});
    }
  }
  for (int32_t i = 0; i < procs; i++) {
    P* p = v.allp[i];
    uint32_t h = p->runqhead.load(std::memory_order_relaxed);
    uint32_t t = p->runqtail.load(std::memory_order_relaxed);
    if (detail) {
      out.printf("  P%d: status=%d schedtick=%u syscalltick=%u m=%" PRId64
                 " runqsize=%u gfreecnt=%d timerslen=%zu\n",
                 i, go_pstatus(p->status.load(std::memory_order_relaxed)), ld(&p->schedtick),
                 ld(&p->syscalltick), mid_of(ms, ld(&p->m)), t - h, ld(&p->gfreecnt), timerslen[i]);
    } else {
      out.printf(" %s%u%s", i == 0 ? "[" : "", t - h, i == procs - 1 ? "]\n" : "");
    }
  }
  if (!detail && procs == 0) out.printf(" []\n");
  if (detail) {
    for (const MInfo& mi : ms)
      out.printf("  M%" PRId64 ": p=%d curg=%" PRId64
                 " mallocing=0 throwing=0 preemptoff= locks=0 dying=0 spinning=%s blocked=%s "
                 "lockedg=%" PRId64 "\n",
                 mi.id, mi.p ? mi.p->id : -1, mi.curg ? int64_t(ld(&mi.curg->goid)) : -1,
                 mi.spinning ? "true" : "false", mi.blocked ? "true" : "false",
                 mi.lockedg ? int64_t(ld(&mi.lockedg->goid)) : -1);
  }
  v.lock->unlock();
  if (!detail) return;
  // G lines: every G that ever ran (idle, never-used slots are left out).
  for (AllgChunk* c = g_allgs.load(std::memory_order_acquire); c; c = c->next) {
    for (int32_t i = 0; i < c->n; i++) {
      const G* gp = &c->gs[i];
      uint32_t s = gp->status.load(std::memory_order_relaxed);
      if (s == Gidle) continue;
      out.printf("  G%" PRIu64 ": status=%d(%s) m=%" PRId64 " lockedm=%" PRId64 "\n",
                 ld(&gp->goid), go_gstatus(s), s == Gwaiting ? ld(&gp->waitreason) : "",
                 (s == Grunning || s == Gsyscall) ? mid_running(ms, gp) : -1,
                 ld(&gp->lockedm) ? mid_locked(ms, gp) : -1);
    }
  }
}

namespace {

// The sysmon hook: sysmon calls it every schedtrace_ms (as Go's sysmon
// does with debug.schedtrace), never more often than its period.
void schedtrace_hook(int64_t) {
  if (g_debug.schedtrace_ms <= 0) return;
  schedtrace(g_debug.scheddetail);
}

// ---------------------------------------------------------------------------
// Symbols for the dump. dladdr() sees the dynamic symbol table only: the
// functions of an executable are named only if it was linked with -rdynamic
// (-Wl,--export-dynamic); otherwise, and for hidden functions of shared
// libraries, the address is printed as module+offset, which addr2line -e
// MODULE OFFSET turns into file:line.

void print_pc(Out& out, const void* pc, bool retaddr) {
  Dl_info di;
  // A return address may be one past the last instruction of the caller.
  const char* look = static_cast<const char*>(pc) - (retaddr ? 1 : 0);
  if (!dladdr(look, &di) || !di.dli_fname) {
    out.printf("%p", pc);
    return;
  }
  uintptr_t off = uintptr_t(pc) - uintptr_t(di.dli_fbase);
  if (di.dli_sname && di.dli_saddr)
    out.printf("%s+0x%" PRIxPTR " (%s+0x%" PRIxPTR ")", di.dli_sname,
               uintptr_t(pc) - uintptr_t(di.dli_saddr), di.dli_fname, off);
  else
    out.printf("%s+0x%" PRIxPTR, di.dli_fname, off);
}

struct GRef {
  uint64_t goid;
  const G* gp;
};

}  // namespace

// dump_goroutines writes every live goroutine, ordered by id, in the shape
// of Go's traceback:
//   goroutine 7 [chan receive, 3 minutes, locked to thread]:
//   	name: worker-3
//   	waiting for 183.204s
//   	entry: worker (./prog+0x1189)
//   created by main_goroutine+0x2a (./prog+0x12a4) in goroutine 1
// " N minutes" appears only past one minute, as in Go; the exact time is on
// the "waiting for" line. There is no stack trace of the goroutine itself
// (use the gdb script's goro-bt for that).
int dump_goroutines(FILE* f) {
  std::vector<GRef> gs;
  for (AllgChunk* c = g_allgs.load(std::memory_order_acquire); c; c = c->next)
    for (int32_t i = 0; i < c->n; i++) {
      const G* gp = &c->gs[i];
      uint32_t s = gp->status.load(std::memory_order_acquire);
      if (s != Gidle && s != Gdead) gs.push_back(GRef{ld(&gp->goid), gp});
    }
  std::sort(gs.begin(), gs.end(), [](const GRef& a, const GRef& b) { return a.goid < b.goid; });
  int64_t now = coarsetime();
  Out out(f);
  int n = 0;
  for (const GRef& r : gs) {
    const G* gp = r.gp;
    uint32_t s = gp->status.load(std::memory_order_acquire);
    if (s == Gidle || s == Gdead) continue;  // exited meanwhile
    const char* state = gstatus_name(s);
    int64_t waited = -1;
    if (s == Gwaiting) {
      const char* wr = ld(&gp->waitreason);
      state = wr && *wr ? wr : "waiting";
      int64_t since = ld(&gp->waitsince);
      if (since > 0) waited = std::max<int64_t>(0, now - since);
    }
    out.printf("%sgoroutine %" PRIu64 " [%s", n ? "\n" : "", r.goid, state);
    if (waited >= 60 * 1000000000LL) out.printf(", %lld minutes", (long long)(waited / 60000000000LL));
    if (ld(&gp->lockedm)) out.printf(", locked to thread");
    out.printf("]:\n");
    char name[sizeof gp->name];
    racy_copy(name, gp->name, sizeof name);
    name[sizeof name - 1] = 0;
    if (name[0]) out.printf("\tname: %s\n", name);
    if (waited >= 0)
      out.printf("\twaiting for %lld.%03llds\n", (long long)(waited / 1000000000),
                 (long long)(waited / 1000000 % 1000));
    if (goro_fn fn = ld(&gp->fn)) {
      out.printf("\tentry: ");
      print_pc(out, reinterpret_cast<const void*>(fn), false);
      out.printf("\n");
    }
    if (const void* pc = ld(&gp->gopc)) {
      out.printf("created by ");
      print_pc(out, pc, true);
      if (uint64_t parent = ld(&gp->parentgoid))
        out.printf(" in goroutine %" PRIu64 "\n", parent);
      else
        out.printf(" on a plain thread\n");
    }
    n++;
  }
  out.flush();
  if (out.failed()) return -EIO;
  return n;
}

// ---------------------------------------------------------------------------
// SIGQUIT (GORO_DEBUG=sigquitdump=1).
//
// The handler may interrupt a thread that holds any lock (malloc's, stdio's,
// sched.lock), so it does only one async-signal-safe thing: sem_post() to
// wake the dumper thread. That thread (all signals blocked) prints
// "SIGQUIT: quit" and the dump to stderr, then restores the default action
// and raises SIGQUIT again: the process ends as SIGQUIT always ends it
// (killed by the signal, with a core dump where enabled). Go instead exits
// with status 2; a C program's parent expects the signal.
// If SIGQUIT already had a handler or was ignored when the runtime first
// started, the host owns it: nothing is installed and a warning is printed.

namespace {

sem_t g_quitsem;
std::atomic<bool> g_quitInstalled{false};
std::atomic<bool> g_hookInstalled{false};

void sigquit_handler(int) {
  int saved = errno;
  sem_post(&g_quitsem);
  errno = saved;
}

void* dumper_main(void*) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  pthread_setname_np(pthread_self(), "goro-dump");
  while (sem_wait(&g_quitsem) != 0) {
  }
  static const char head[] = "SIGQUIT: quit\n\n";
  ssize_t w = write(2, head, sizeof head - 1);
  (void)w;
  {
    ApiRef ref;
    if (ref.ok()) {
      dump_goroutines(stderr);
    } else {
      static const char none[] = "goro: the runtime is not running: no goroutines\n";
      w = write(2, none, sizeof none - 1);
    }
  }
  fflush(stderr);
  signal(SIGQUIT, SIG_DFL);
  sigset_t q;
  sigemptyset(&q);
  sigaddset(&q, SIGQUIT);
  pthread_sigmask(SIG_UNBLOCK, &q, nullptr);
  raise(SIGQUIT);
  _exit(2);  // not reached unless SIGQUIT is somehow held off
}

void sigquit_install() {
  if (g_quitInstalled.exchange(true)) return;
  struct sigaction old;
  if (sigaction(SIGQUIT, nullptr, &old) != 0) return;
  bool dfl = !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL;
  if (!dfl) {
    fprintf(stderr, "goro: GORO_DEBUG=sigquitdump=1 ignored: SIGQUIT already has a handler\n");
    return;
  }
  if (sem_init(&g_quitsem, 0, 0) != 0) return;
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int err = pthread_create(&t, &attr, dumper_main, nullptr);
  pthread_attr_destroy(&attr);
  if (err != 0) {
    fprintf(stderr, "goro: GORO_DEBUG=sigquitdump=1 ignored: cannot create a thread: %s\n",
            strerror(err));
    return;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = sigquit_handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART | SA_ONSTACK;
  sigaction(SIGQUIT, &sa, nullptr);
}

}  // namespace

void trace_start() {
  // Hooks last for the process; registering again only updates the period,
  // so a restart with other GORO_DEBUG settings takes effect (a restart with
  // schedtrace off parks the hook on a period of centuries).
  if (g_debug.schedtrace_ms > 0) {
    g_hookInstalled.store(true);
    sysmon_add_hook(schedtrace_hook, g_debug.schedtrace_ms * 1000000);
  } else if (g_hookInstalled.load()) {
    sysmon_add_hook(schedtrace_hook, INT64_MAX / 4);
  }
  if (g_debug.sigquitdump) sigquit_install();
}

}  // namespace goro::rt
