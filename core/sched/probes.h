// probes.h: libgoro's USDT probes, the contract with goro-audit and with any
// other tracer (bpftrace, perf, systemtap). Provider "goro". The probes are
// nops (one `nop` instruction each) unless a tracer attaches.
//
// Once released, a probe's name and argument list never change; new
// arguments go at the end. The user-facing table is docs/probes.md.
//
//   probe                 arguments
//   goro:thread_start     m_id, tid
//   goro:thread_exit      m_id, tid
//   goro:p_acquire        p_id, m_id
//   goro:p_release        p_id, m_id
//   goro:syscall_enter    goid, p_id
//   goro:syscall_exit     goid, p_id (-1 when no P could be reacquired at once)
//   goro:handoff          p_id, reason (1 syscall retake, 2 blocked M, 3 preempt handoff)
//   goro:preempt_signal   tid, goid, signo
//   goro:maxprocs_change  old, new, reason (1 api, 2 env, 3 cgroup/affinity re-evaluation)
//   goro:g_create         goid, creator goid (0 from a plain thread)
//   goro:g_exit           goid
#pragma once

#if defined(GORO_HAVE_SDT)
#include <sys/sdt.h>
#define GORO_PROBE0(name) DTRACE_PROBE(goro, name)
#define GORO_PROBE1(name, a) DTRACE_PROBE1(goro, name, a)
#define GORO_PROBE2(name, a, b) DTRACE_PROBE2(goro, name, a, b)
#define GORO_PROBE3(name, a, b, c) DTRACE_PROBE3(goro, name, a, b, c)
#else
#define GORO_PROBE0(name) ((void)0)
#define GORO_PROBE1(name, a) ((void)(a))
#define GORO_PROBE2(name, a, b) ((void)(a), (void)(b))
#define GORO_PROBE3(name, a, b, c) ((void)(a), (void)(b), (void)(c))
#endif
