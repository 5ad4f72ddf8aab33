/*
 * goro_audit.h: the data shared between goro-audit's BPF programs
 * (goro_audit.bpf.c) and its loader (goro-audit.c).
 *
 * Every structure here is written by the kernel side and read by user space
 * after (or during) the audit. Counters only grow. Fixed-width types only:
 * the same layout must come out of clang -target bpf and of the host
 * compiler. Histograms are bcc-style log2 buckets: slot i counts values v
 * with 2^i <= v < 2^(i+1) (slot 0 also holds v = 0), in microseconds.
 */
#ifndef GORO_AUDIT_H
#define GORO_AUDIT_H

#ifndef __VMLINUX_H__
#include <linux/types.h> /* __u32, __u64, ... (vmlinux.h has them on the BPF side) */
#endif

#define AUDIT_HIST_SLOTS 26    /* up to 2^26 us = 67 s */
#define AUDIT_MAX_THREADS 8192 /* threads of the target tracked individually */
#define AUDIT_COMM_LEN 16
#define AUDIT_MAX_CPUS 1024

/* audit_thread.flags */
#define AT_SEEN_AT_ATTACH (1u << 0) /* found by the iter/task pass at attach */
#define AT_CREATED (1u << 1)        /* created while the audit ran (sched_process_fork) */
#define AT_EXITED (1u << 2)         /* exited while the audit ran (sched_process_exit) */
#define AT_ALIVE_AT_END (1u << 3)   /* found by the iter/task pass at the end */
#define AT_IS_M (1u << 4)           /* the runtime announced it: goro:thread_start */
#define AT_M_EXITED (1u << 5)       /* the runtime announced its end: goro:thread_exit */
#define AT_HOLDS_P (1u << 6)        /* between goro:p_acquire and goro:p_release */
#define AT_IN_GSYSCALL (1u << 7)    /* between goro:syscall_enter and goro:syscall_exit */

/* audit_thread.out_kind: why the thread last left the CPU */
#define OUT_NONE 0
#define OUT_PREEMPTED 1 /* still runnable: back on the run queue */
#define OUT_THROTTLED 2 /* task_struct::throttled: CFS bandwidth throttle */
#define OUT_BLOCKED 3   /* sleeping (prev_state != 0) */

/* Result of signal_generate, as in include/trace/events/signal.h. */
#define SIGRES_QUEUED 0    /* TRACE_SIGNAL_DELIVERED: queued for delivery */
#define SIGRES_IGNORED 1   /* TRACE_SIGNAL_IGNORED */
#define SIGRES_COALESCED 2 /* TRACE_SIGNAL_ALREADY_PENDING */
#define SIGRES_OVERFLOW 3  /* TRACE_SIGNAL_OVERFLOW_FAIL */
#define SIGRES_LOSE_INFO 4 /* TRACE_SIGNAL_LOSE_INFO */
#define SIGRES_N 5

struct audit_thread {
  __u32 tid;
  __u32 flags;
  char comm[AUDIT_COMM_LEN];
  /* Kernel counters of the task: the baseline at attach (0 for threads born
   * during the audit) and the value at the end (iter pass) or at exit. */
  __u64 nvcsw_base, nivcsw_base, nvcsw_end, nivcsw_end;
  __u64 oncpu_ns; /* switch-in to switch-out, summed */
  __u64 runq_ns;  /* wakeup/preemption to switch-in, summed */
  __u64 runq_n;   /* run-queue waits measured */
  __u32 runq_hist[AUDIT_HIST_SLOTS];
  __u64 throttle_outs;     /* throttle switch-outs */
  __u64 throttled_ns;      /* throttle switch-out to the next switch-in */
  __u64 sig_gen[SIGRES_N]; /* audited signal generated for this thread, by result */
  __u64 sig_delivered;     /* audited signal delivered in this thread */
  /* bookkeeping of the state machines (kernel side only) */
  __u64 last_in;  /* switch-in time, 0 when off CPU */
  __u64 last_out; /* switch-out (or wakeup) time */
  __u32 out_kind;
  __s32 cur_sys; /* syscall in progress (sys_enter), -1 none */
  __s32 out_sys; /* syscall in progress when it blocked */
  __u32 thr_cpu; /* CPU of the last throttle switch-out */
  /* runtime view (USDT), -1 when unknown */
  __s64 m_id;
  __s64 p_id;
  __u64 rt_preempt_sent; /* goro:preempt_signal naming this thread */
  /* blocked in a syscall, holding a P, without goro:syscall_enter */
  __u64 unannounced_n;
  __u64 unannounced_max_ns;
  __s32 unannounced_sys;
  __u32 pad1;
};

/* Off-CPU time per syscall, key: syscall number. */
struct audit_sys {
  __u64 n;
  __u64 ns;
  __u64 max_ns;
};

/* Key of the set of distinct throttled periods. */
struct audit_period_key {
  __u64 cgid;
  __u32 nr_periods;
  __u32 pad;
};

/* The CFS bandwidth counters of a task group, read through BTF. */
struct audit_bw {
  __u64 cgid;     /* kernfs id of the cpu-controller cgroup = its inode */
  __u64 quota_ns; /* RUNTIME_INF (~0) when unlimited */
  __u64 period_ns;
  __u64 throttled_time;
  __u32 nr_periods;
  __u32 nr_throttled;
  __u32 valid;
  __u32 pad;
};

struct audit_totals {
  /* threads */
  __u64 at_attach; /* threads found by the attach iter pass */
  __u64 at_end;    /* threads found by the end iter pass */
  __u64 created;
  __u64 exited;
  __u64 peak;             /* highest signal->nr_threads seen */
  __u64 nr_threads_end;   /* signal->nr_threads at the end iter pass */
  __u64 group_dead;       /* the whole process exited */
  __u64 untracked;        /* threads not tracked: the map was full */
  __u64 missed_switch_in; /* switch-outs whose switch-in was never seen */
  __u64 late_born;        /* found by the end pass, created after the handlers stopped */
  __u64 running;          /* threads of the target on a CPU right now */
  __u64 running_peak;     /* most threads of the target on CPUs at once */
  /* CFS throttling */
  __u64 throttle_outs;
  __u64 throttled_periods; /* distinct tg->cfs_bandwidth.nr_periods among them */
  __u64 throttled_ns; /* per CPU: first throttle switch-out to the refill, summed (as cpu.stat) */
  __u64 thread_throttled_ns; /* per thread: throttle switch-out to the refill, summed */
  __u64 missed_throttle_ends; /* of missed_switch_in: the ones after a throttle switch-out */
  __u32 throttle_via;        /* 1 task_struct::throttled, 2 cfs_rq->throttle_count */
  __u32 pad;
  struct audit_bw bw_attach, bw_last, bw_end;
  /* signals */
  __u64 sig_gen[SIGRES_N];
  __u64 sig_group; /* of which sent to the whole group (kill, not tgkill) */
  __u64 sig_delivered;
  __u64 sig_lat_n;
  __u64 sig_lat_ns;
  __u32 sig_lat_hist[AUDIT_HIST_SLOTS];
  /* runtime view (USDT) */
  __u64 rt_thread_start;
  __u64 rt_thread_exit;
  __u64 rt_p_acquire;
  __u64 rt_syscall_enter;
  __u64 rt_syscall_exit;
  __u64 rt_handoff;
  __u64 rt_preempt_signal;
  __u64 rt_maxprocs_changes;
  __s64 rt_maxprocs; /* last goro:maxprocs_change "new", -1 unknown */
  __s64 rt_max_p_id; /* highest P id seen in goro:p_acquire + 1 (the Ps seen), 0 none */
  __u64 rt_g_create;
  __u64 rt_g_exit;
  __u64 unannounced; /* blocked syscalls while holding a P, unannounced */
};

#endif
