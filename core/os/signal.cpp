// signal.cpp: the runtime's signal handling.
//
// Owns: the SIGSEGV/SIGBUS handler that turns a goroutine stack overflow
// into "goroutine N overflowed its stack", each M's alternate signal stack
// (an overflowing goroutine has no stack left to run a handler on), and the
// signal mask of Ms.
//
// Invariants:
//  - The handler is installed once per process and stays across
//    init/shutdown cycles. A fault that is not a goroutine overflow goes to
//    the handler that was installed before ours (ASan's, the host's), or to
//    the default action.
//  - Ms block the asynchronous signals a host program typically handles
//    itself (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1/2, SIGCHLD, SIGALRM,
//    SIGWINCH, SIGIO and the real-time signals), so process-directed signals
//    go to the host's threads. Synchronous faults, SIGPIPE, SIGPROF and
//    SIGURG stay unblocked, and so does the configured preemption signal
//    (goro_config_t.preempt_signal; its handler lives in preempt.cpp).
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <atomic>
#include <cstring>

#include "sched/sched.h"

namespace goro::rt {

namespace {

constexpr size_t kAltStackSize = 64 * 1024;

struct sigaction g_old_segv, g_old_bus;
std::atomic<bool> g_installed{false};

void chain(int sig, siginfo_t* si, void* uc, const struct sigaction& old) {
  if (old.sa_flags & SA_SIGINFO) {
    if (old.sa_sigaction) {
      old.sa_sigaction(sig, si, uc);
      return;
    }
  } else if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) {
    old.sa_handler(sig);
    return;
  }
  // Default action: reinstall it and return; the fault repeats and the
  // kernel kills the process with the right signal (and a core dump).
  signal(sig, SIG_DFL);
}

void fault_handler(int sig, siginfo_t* si, void* ucv) {
  const void* sp = nullptr;
#if defined(__x86_64__)
  sp = reinterpret_cast<const void*>(static_cast<ucontext_t*>(ucv)->uc_mcontext.gregs[REG_RSP]);
#elif defined(__aarch64__)
  sp = reinterpret_cast<const void*>(static_cast<ucontext_t*>(ucv)->uc_mcontext.sp);
#endif
  report_if_stack_overflow(si->si_addr, sp);  // does not return on overflow
  chain(sig, si, ucv, sig == SIGSEGV ? g_old_segv : g_old_bus);
}

}  // namespace

void signals_install_once() {
  if (g_installed.exchange(true)) return;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = fault_handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &g_old_segv);
  sigaction(SIGBUS, &sa, &g_old_bus);
}

void* signals_m_init() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD, SIGALRM, SIGWINCH,
                SIGIO, SIGTSTP, SIGTTIN, SIGTTOU, SIGCONT})
    sigaddset(&set, s);
  for (int s = SIGRTMIN; s <= SIGRTMAX; s++) sigaddset(&set, s);
  // The preemption signal (preempt.cpp) may be configured to one of these.
  if (int ps = preempt_signo(); ps > 0) sigdelset(&set, ps);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  if (int ps = preempt_signo(); ps > 0) {
    sigset_t un;
    sigemptyset(&un);
    sigaddset(&un, ps);
    pthread_sigmask(SIG_UNBLOCK, &un, nullptr);
  }

  void* mem = mmap(nullptr, kAltStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
  if (mem == MAP_FAILED) return nullptr;
  stack_t ss;
  memset(&ss, 0, sizeof ss);
  ss.ss_sp = mem;
  ss.ss_size = kAltStackSize;
  if (sigaltstack(&ss, nullptr) != 0) {
    munmap(mem, kAltStackSize);
    return nullptr;
  }
  return mem;
}

void signals_m_fini(void* altstack) {
  if (!altstack) return;
  stack_t ss;
  memset(&ss, 0, sizeof ss);
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, nullptr);
  munmap(altstack, kAltStackSize);
}

}  // namespace goro::rt
