// preempt.cpp: preemption of long-running goroutines, the signal side.
//
// sysmon (sysmon.cpp, proc.cpp's sysmon_retake) decides who is asked to
// yield: a G that has run for a whole slice (goro_config_t.preempt_ns, 10 ms)
// while work waits gets gp->preempt = true, and its M gets the preemption
// signal (SIGURG by default) through tgkill. This file owns what happens
// then:
//  - the signal handler: it tells our requests (SI_TKILL from this process,
//    with a request pending on this M) from anybody else's signal, which goes
//    to the handler installed before ours;
//  - asynchronous switches: if the interrupted code is in a region the
//    program marked async-preemptible (goro_async_preemptible_begin/end or
//    the spawn option) and the interrupted PC lies in the code module that
//    marked it, the handler yields the G right there. The handler runs on
//    the G's own stack (no SA_ONSTACK), so the signal frame stays on that
//    stack while the G is switched out; when the G resumes, on any M, the
//    handler returns and sigreturn restores every register, FP/SSE/AVX state
//    included, from the frame (docs/design.md, "Preemption", explains why
//    this replaces Go's asyncPreempt trampoline);
//  - the table of code modules (executable segments of loaded objects) that
//    the PC check uses.
//
// Invariants:
//  - The handler never switches a G out while the interrupted PC is outside
//    the marking module: in libgoro (the runtime may hold a lock or be in
//    the middle of a switch), in libc (malloc's lock), in the sanitizer
//    runtimes or anywhere else. There it only leaves the request set, and
//    the G yields at its next preemption point.
//  - A module table entry never changes once published (g_nsegs grows with
//    release ordering), so the handler reads it without a lock.
//  - The handler of a signal is installed once per process and stays across
//    runtime restarts; the handler it replaced is remembered and chained to.
//    If the host installs its own handler later, sysmon notices before each
//    signal and stops sending (requests still work cooperatively).
//  - TSan delivers signals late, at its own interception points, so async
//    preemption is off in TSan builds and no signal is sent there.
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "os/godebug.h"
#include "sched/probes.h"
#include "sched/san.h"
#include "sched/sched.h"
#include "sched/stats.h"

namespace goro::rt {

namespace {

// Signals whose handler we installed, with the one each replaced.
struct Installed {
  std::atomic<int> sig{0};
  struct sigaction old;
};
constexpr int kMaxInstalled = 8;
Installed g_inst[kMaxInstalled];
std::atomic<int> g_ninst{0};
Mutex g_instlock;

std::atomic<int> g_signo{0};  // the running runtime's preemption signal (0: none)

std::atomic<uint64_t> g_handled{0};   // our requests seen by the handler
std::atomic<uint64_t> g_chained{0};   // foreign signals passed to the previous handler
std::atomic<uint64_t> g_switches{0};  // asynchronous switches

// Executable segments of loaded objects; `base` identifies the object.
struct Seg {
  uintptr_t lo, hi, base;
};
constexpr int kMaxSegs = 128;
Seg g_segs[kMaxSegs];
std::atomic<int> g_nsegs{0};
Mutex g_seglock;
std::atomic<uintptr_t> g_self_base{0};  // libgoro's own object

#if GORO_TSAN
constexpr bool kAsyncBuild = false;
#else
constexpr bool kAsyncBuild = true;
#endif

bool async_enabled() {
  return kAsyncBuild && !g_debug.asyncpreemptoff && g_signo.load(std::memory_order_relaxed) > 0;
}

const struct sigaction* old_action(int sig) {
  int n = g_ninst.load(std::memory_order_acquire);
  for (int i = 0; i < n; i++)
    if (g_inst[i].sig.load(std::memory_order_relaxed) == sig) return &g_inst[i].old;
  return nullptr;
}

// chain passes a signal that is not ours to the handler that was there before.
void chain(int sig, siginfo_t* si, void* uc) {
  g_chained.fetch_add(1, std::memory_order_relaxed);
  const struct sigaction* old = old_action(sig);
  if (!old) return;
  if (old->sa_flags & SA_SIGINFO) {
    if (old->sa_sigaction) old->sa_sigaction(sig, si, uc);
    return;
  }
  if (old->sa_handler == SIG_IGN) return;
  if (old->sa_handler == SIG_DFL) {
    switch (sig) {
      case SIGURG:
      case SIGCHLD:
      case SIGWINCH:
      case SIGCONT:
        return;  // the default action is to ignore them
      default:
        // The default action ends the process: restore it; the signal, blocked
        // while this handler runs, is delivered again as soon as it returns.
        signal(sig, SIG_DFL);
        syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), sig);
        return;
    }
  }
  old->sa_handler(sig);
}

int seg_index(uintptr_t pc) {
  int n = g_nsegs.load(std::memory_order_acquire);
  for (int i = 0; i < n; i++)
    if (pc >= g_segs[i].lo && pc < g_segs[i].hi) return i;
  return -1;
}

uintptr_t interrupted_pc(void* ucv) {
  auto* uc = static_cast<ucontext_t*>(ucv);
#if defined(__x86_64__)
  return uintptr_t(uc->uc_mcontext.gregs[REG_RIP]);
#elif defined(__aarch64__)
  return uintptr_t(uc->uc_mcontext.pc);
#else
  (void)uc;
  return 0;
#endif
}

// async_safe: may the handler switch gp out at the interrupted point?
bool async_safe(M* m, G* gp, void* ucv) {
  if (!async_enabled() || !gp->preempt.load(std::memory_order_relaxed)) return false;
  if (gp->asyncsafe.load(std::memory_order_relaxed) == 0 || gp->syscalldepth != 0) return false;
  int mod = gp->asyncmod.load(std::memory_order_relaxed);
  if (mod <= 0 || !m->p || m->op != SwitchOp::None) return false;
  int i = seg_index(interrupted_pc(ucv));
  return i >= 0 && g_segs[i].base == g_segs[mod - 1].base;
}

void preempt_handler(int sig, siginfo_t* si, void* ucv) {
  int saved_errno = errno;
  M* m = getm();
  bool ours = m && si && si->si_code == SI_TKILL && si->si_pid == getpid() &&
              m->signal_pending.exchange(0) != 0;
  if (!ours) {
    chain(sig, si, ucv);
    errno = saved_errno;
    return;
  }
  g_handled.fetch_add(1, std::memory_order_relaxed);
  G* gp = m->curg.load(std::memory_order_relaxed);
  if (gp && async_safe(m, gp, ucv)) {
    // The kernel blocked sig for this handler; the thread that resumes after
    // the switch must not inherit that (sigreturn restores the G's own mask
    // from the frame when it resumes).
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    g_switches.fetch_add(1, std::memory_order_relaxed);
    gopreempt();  // returns when gp runs again, possibly on another M
    // sigreturn also restores the sigaltstack setting saved in the frame,
    // which is the old M's. Point the frame at this thread's own altstack, or
    // two Ms would share one (and a freed one once the old M exits).
    stack_t cur;
    if (sigaltstack(nullptr, &cur) == 0) static_cast<ucontext_t*>(ucv)->uc_stack = cur;
  }
  errno = saved_errno;
}

struct FindCtx {
  uintptr_t addr;
  bool found;
  Seg segs[8];
  int n;
};

int find_object(struct dl_phdr_info* info, size_t, void* data) {
  auto* c = static_cast<FindCtx*>(data);
  Seg segs[8];
  int n = 0;
  bool hit = false;
  for (int i = 0; i < info->dlpi_phnum && n < 8; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
    uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    uintptr_t hi = lo + ph.p_memsz;
    segs[n++] = Seg{lo, hi, reinterpret_cast<uintptr_t>(info->dlpi_phdr)};  // unique per object
    if (c->addr >= lo && c->addr < hi) hit = true;
  }
  if (!hit) return 0;
  c->found = true;
  c->n = n;
  memcpy(c->segs, segs, sizeof(Seg) * size_t(n));
  return 1;
}

// module_of returns the table index + 1 of the segment holding addr,
// loading its object's segments into the table on first use; 0 if unknown.
int module_of(uintptr_t addr) {
  int i = seg_index(addr);
  if (i >= 0) return i + 1;
  LockGuard lg(g_seglock);
  i = seg_index(addr);
  if (i >= 0) return i + 1;
  FindCtx c{addr, false, {}, 0};
  dl_iterate_phdr(find_object, &c);
  if (!c.found) return 0;
  int n = g_nsegs.load(std::memory_order_relaxed);
  if (n + c.n > kMaxSegs) return 0;
  for (int k = 0; k < c.n; k++) g_segs[n + k] = c.segs[k];
  g_nsegs.store(n + c.n, std::memory_order_release);
  i = seg_index(addr);
  return i >= 0 ? i + 1 : 0;
}

uintptr_t self_base() {
  uintptr_t b = g_self_base.load(std::memory_order_acquire);
  if (b) return b;
  int i = module_of(reinterpret_cast<uintptr_t>(&preempt_handler));
  b = i > 0 ? g_segs[i - 1].base : 1;
  g_self_base.store(b, std::memory_order_release);
  return b;
}

bool handler_is_ours(int sig) {
  struct sigaction cur;
  if (sigaction(sig, nullptr, &cur) != 0) return false;
  return (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == preempt_handler;
}

}  // namespace

bool preempt_signal_ok(int sig) {
  if (sig < 1 || sig > SIGRTMAX) return false;
  switch (sig) {
    case SIGKILL:
    case SIGSTOP:
    case SIGSEGV:
    case SIGBUS:
    case SIGFPE:
    case SIGILL:
    case SIGTRAP:
    case SIGABRT:
    case SIGSYS:
      return false;
    default:
      return true;
  }
}

void preempt_install(int sig) {
  g_signo.store(sig, std::memory_order_relaxed);
  if (sig <= 0) return;
  self_base();  // fills the module table with libgoro outside any handler
  LockGuard lg(g_instlock);
  if (old_action(sig)) return;
  int n = g_ninst.load(std::memory_order_relaxed);
  if (n >= kMaxInstalled) return;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = preempt_handler;
  // No SA_ONSTACK: an async switch needs the handler on the G's stack.
  // SA_RESTART: a syscall interrupted by a request resumes by itself.
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(sig, &sa, &g_inst[n].old) != 0) return;
  g_inst[n].sig.store(sig, std::memory_order_relaxed);
  g_ninst.store(n + 1, std::memory_order_release);
}

int preempt_signo() { return g_signo.load(std::memory_order_relaxed); }

void preempt_signal_m(M* m, G* gp) {
  int sig = g_signo.load(std::memory_order_relaxed);
  if (!async_enabled() || m->tid == 0) return;
  // A handler the host installed after ours gets no signals of ours.
  if (!handler_is_ours(sig)) return;
  if (m->signal_pending.exchange(1) != 0) return;  // one in flight already
  if (syscall(SYS_tgkill, getpid(), m->tid, sig) != 0) {
    m->signal_pending.store(0);
    return;
  }
  stat_add(g_counters.preempt_sent);
  GORO_PROBE3(preempt_signal, m->tid, gp->goid, sig);
}

int preempt_module(const void* addr) {
  uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  int i = module_of(a);
  if (i <= 0) return 0;
  // Code linked into the same object as libgoro (a static link) cannot be
  // told apart from the runtime's: no asynchronous switches there.
  if (g_segs[i - 1].base == self_base()) return 0;
  return i;
}

int rt_async_begin(const void* caller) {
  G* gp = getg();
  if (!gp) return 0;
  uint32_t n = gp->asyncsafe.load(std::memory_order_relaxed);
  if (n == UINT32_MAX) return -EOVERFLOW;
  gp->slow.store(true, std::memory_order_relaxed);  // gdestroy resets asyncsafe
  if (n == 0) gp->asyncmod.store(preempt_module(caller), std::memory_order_relaxed);
  // The handler runs on this thread: a signal fence orders it for the handler.
  std::atomic_signal_fence(std::memory_order_seq_cst);
  gp->asyncsafe.store(n + 1, std::memory_order_relaxed);
  return 0;
}

int rt_async_end() {
  G* gp = getg();
  if (!gp) return 0;
  uint32_t n = gp->asyncsafe.load(std::memory_order_relaxed);
  if (n == 0) return -EINVAL;
  gp->asyncsafe.store(n - 1, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (n == 1) preempt_check();
  return 0;
}

void preempt_info(goro_preempt_info_t* out) {
  out->signals_sent = g_counters.preempt_sent.load(std::memory_order_relaxed);
  out->signals_handled = g_handled.load(std::memory_order_relaxed);
  out->signals_chained = g_chained.load(std::memory_order_relaxed);
  out->async_switches = g_switches.load(std::memory_order_relaxed);
  out->requests_honoured = g_counters.preempt_honoured.load(std::memory_order_relaxed);
  out->requests_ignored = g_counters.preempt_ignored.load(std::memory_order_relaxed);
  G* gp = getg();
  out->self_ignored = gp ? gp->preempt_ignored.load(std::memory_order_relaxed) : 0;
  out->signo = g_signo.load(std::memory_order_relaxed);
  out->async_enabled = async_enabled() ? 1 : 0;
}

}  // namespace goro::rt
