// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * goro_audit.bpf.c: the kernel side of goro-audit. One target process
 * (target_tgid); everything is counted from the kernel's own events, so it
 * can be compared with what the process (or its runtime) believes.
 *
 * Owns:
 *  - threads: the per-thread map `threads` (tid -> struct audit_thread) and
 *    the thread totals. Entries are created only by the iter/task pass at
 *    attach (AT_SEEN_AT_ATTACH) and by sched_process_fork (AT_CREATED); every
 *    other handler only looks threads up. nvcsw/nivcsw come from the task
 *    itself at both ends (iter pass, or sched_process_exit), never from
 *    counting switches: the kernel increments them before sched_switch fires.
 *  - CFS throttling: a switch-out with prev_state == 0 of a task whose
 *    task_struct::throttled is set (6.18 task-based throttling; older kernels:
 *    its cfs_rq's throttle_count > 0, chosen with bpf_core_field_exists) is a
 *    throttle switch-out. cpu.stat's nr_throttled counts periods, so we count
 *    DISTINCT tg->cfs_bandwidth.nr_periods values among throttle switch-outs
 *    (the LRU set `periods`). Throttled time is measured per thread from the
 *    throttle switch-out to its next switch-in.
 *  - signals: signal_generate (split by its result) and signal_deliver of the
 *    audited signal (SIGURG by default), and a generate->deliver latency
 *    histogram keyed by the target thread (tgkill) or the tgid (kill).
 *  - runtime view: libgoro's USDT probes (core/sched/probes.h), attached by
 *    user space only when the target maps libgoro.
 *
 * Invariants: counters only grow; handlers never block and touch only the
 * target's entries; the sched_switch fast path for other processes is two
 * tgid compares.
 */
#include "vmlinux.h" /* first: the kernel types every BPF header below uses */

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

#include "goro_audit.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 target_tgid = 0;
const volatile __u32 audit_signo = 23;             /* SIGURG */
const volatile __u64 unannounced_min_ns = 1000000; /* 1 ms */
const volatile __u32 nr_cpus = 1;                  /* possible CPUs, at most AUDIT_MAX_CPUS */

struct audit_totals totals = {};
/* 1: the attach pass, 2: the end pass; set by user space before each run. */
__u32 iter_pass = 0;
/* &tg->cfs_bandwidth.period_timer of the target's task group, and when it
 * last fired: the refill that ends a throttle (see switch_in). */
__u64 period_timer = 0;
__u64 last_refill_ns = 0;
/* The last REFILLS refill times, a ring: a throttle ends at the FIRST refill
 * after its switch-out, even if the task gets the CPU only later. */
#define REFILLS 16
__u64 refills[REFILLS] = {};
__u32 refill_idx = 0;
/* Set by user space before the end pass: every handler but the iterator
 * returns at once, so the counters describe one consistent moment. */
__u32 stopped = 0;

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, AUDIT_MAX_THREADS);
  __type(key, __u32);
  __type(value, struct audit_thread);
} threads SEC(".maps");

/* Per CPU: when the first thread of the target was throttled there in the
 * current period (0: none). cpu.stat's throttled_time is per CPU too. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, AUDIT_MAX_CPUS);
  __type(key, __u32);
  __type(value, __u64);
} cpu_thr_since SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 4096);
  __type(key, struct audit_period_key);
  __type(value, __u8);
} periods SEC(".maps");

/* generate time of a queued audited signal: key tid (tgkill) or tgid | 1<<31 (kill) */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, AUDIT_MAX_THREADS);
  __type(key, __u32);
  __type(value, __u64);
} sig_ts SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, __u32);
  __type(value, struct audit_sys);
} sys_off SEC(".maps");

/* Local CO-RE flavours: only the fields read, so clang need not see the
 * bitfields of the generated cfs_rq (clang 14 crashes on them). */
struct task_struct___thr {
  bool throttled;
} __attribute__((preserve_access_index));

struct cfs_rq___old {
  int throttle_count;
} __attribute__((preserve_access_index));

static __always_inline __u32 log2_slot(__u64 v) {
  __u32 r = 0;
  if (v >= (1ull << 32)) {
    v >>= 32;
    r += 32;
  }
  if (v >= (1u << 16)) {
    v >>= 16;
    r += 16;
  }
  if (v >= (1u << 8)) {
    v >>= 8;
    r += 8;
  }
  if (v >= (1u << 4)) {
    v >>= 4;
    r += 4;
  }
  if (v >= (1u << 2)) {
    v >>= 2;
    r += 2;
  }
  if (v >= (1u << 1)) {
    r += 1;
  }
  return r < AUDIT_HIST_SLOTS ? r : AUDIT_HIST_SLOTS - 1;
}

static __always_inline void atomic_max(__u64 *p, __u64 v) {
  for (int i = 0; i < 8; i++) {
    __u64 old = *(volatile __u64 *)p;
    if (old >= v) return;
    if (__sync_val_compare_and_swap(p, old, v) == old) return;
  }
}

/* first_refill(): the earliest refill in (after, before), or 0. */
static __always_inline __u64 first_refill(__u64 after, __u64 before) {
  __u64 best = 0;
  for (int i = 0; i < REFILLS; i++) {
    __u64 r = refills[i];
    if (r > after && r < before && (best == 0 || r < best)) best = r;
  }
  return best;
}

static __always_inline void read_bw(struct task_struct *t, struct audit_bw *bw) {
  struct task_group *tg = BPF_CORE_READ(t, sched_task_group);
  if (!tg) return;
  period_timer = (__u64)(void *)__builtin_preserve_access_index(&tg->cfs_bandwidth.period_timer);
  bw->cgid = BPF_CORE_READ(tg, css.cgroup, kn, id);
  bw->quota_ns = BPF_CORE_READ(tg, cfs_bandwidth.quota);
  bw->period_ns = BPF_CORE_READ(tg, cfs_bandwidth.period);
  bw->nr_periods = BPF_CORE_READ(tg, cfs_bandwidth.nr_periods);
  bw->nr_throttled = BPF_CORE_READ(tg, cfs_bandwidth.nr_throttled);
  bw->throttled_time = BPF_CORE_READ(tg, cfs_bandwidth.throttled_time);
  bw->valid = 1;
}

static __always_inline bool task_throttled(struct task_struct *t) {
  struct task_struct___thr *tt = (void *)t;
  if (bpf_core_field_exists(tt->throttled)) {
    totals.throttle_via = 1;
    return BPF_CORE_READ(tt, throttled);
  }
  totals.throttle_via = 2;
  struct cfs_rq___old *cfs = (void *)BPF_CORE_READ(t, se.cfs_rq);
  return cfs && BPF_CORE_READ(cfs, throttle_count) > 0;
}

static __always_inline void thread_init(struct audit_thread *a, struct task_struct *t,
                                        __u32 flags) {
  __builtin_memset(a, 0, sizeof(*a));
  a->tid = BPF_CORE_READ(t, pid);
  a->flags = flags;
  BPF_CORE_READ_STR_INTO(&a->comm, t, comm);
  a->cur_sys = -1;
  a->out_sys = -1;
  a->m_id = -1;
  a->p_id = -1;
  a->unannounced_sys = -1;
}

/* ---- threads -------------------------------------------------------------- */

SEC("iter/task")
int audit_iter(struct bpf_iter__task *ctx) {
  struct task_struct *t = ctx->task;
  if (!t || t->tgid != target_tgid) return 0;
  __u32 tid = t->pid;
  __u64 nthreads = BPF_CORE_READ(t, signal, nr_threads);
  if (iter_pass == 1) {
    struct audit_thread a;
    thread_init(&a, t, AT_SEEN_AT_ATTACH);
    a.nvcsw_base = t->nvcsw;
    a.nivcsw_base = t->nivcsw;
    if (bpf_map_update_elem(&threads, &tid, &a, BPF_NOEXIST) == 0)
      __sync_fetch_and_add(&totals.at_attach, 1);
    else if (!bpf_map_lookup_elem(&threads, &tid))
      __sync_fetch_and_add(&totals.untracked, 1);
    atomic_max(&totals.peak, nthreads);
    if (!totals.bw_attach.valid) read_bw(t, &totals.bw_attach);
  } else if (iter_pass == 2) {
    struct audit_thread *a = bpf_map_lookup_elem(&threads, &tid);
    if (a) {
      a->nvcsw_end = t->nvcsw;
      a->nivcsw_end = t->nivcsw;
      a->flags |= AT_ALIVE_AT_END;
    } else {
      __sync_fetch_and_add(&totals.late_born, 1); /* created after `stopped` */
    }
    __sync_fetch_and_add(&totals.at_end, 1);
    totals.nr_threads_end = nthreads;
    if (!totals.bw_end.valid) read_bw(t, &totals.bw_end);
  }
  return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(audit_fork, struct task_struct *parent, struct task_struct *child) {
  if (stopped) return 0;
  if (child->tgid != target_tgid || child->pid == child->tgid) return 0;
  __u32 tid = child->pid;
  struct audit_thread a;
  thread_init(&a, child, AT_CREATED);
  if (bpf_map_update_elem(&threads, &tid, &a, BPF_NOEXIST) != 0 &&
      !bpf_map_lookup_elem(&threads, &tid))
    __sync_fetch_and_add(&totals.untracked, 1);
  __sync_fetch_and_add(&totals.created, 1);
  atomic_max(&totals.peak, BPF_CORE_READ(child, signal, nr_threads));
  return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(audit_exit, struct task_struct *p, bool group_dead) {
  if (stopped) return 0;
  if (p->tgid != target_tgid) return 0;
  __u32 tid = p->pid;
  struct audit_thread *a = bpf_map_lookup_elem(&threads, &tid);
  if (a) {
    a->flags |= AT_EXITED;
    a->nvcsw_end = p->nvcsw;
    a->nivcsw_end = p->nivcsw;
  }
  __sync_fetch_and_add(&totals.exited, 1);
  if (group_dead) totals.group_dead = 1;
  return 0;
}

/* The end of a blocked stretch (wakeup, or switch-in without a wakeup seen):
 * charge it to the syscall it blocked in. */
static __always_inline void blocked_done(struct audit_thread *a, __u64 d) {
  if (a->out_sys < 0) return;
  __u32 nr = a->out_sys;
  struct audit_sys *s = bpf_map_lookup_elem(&sys_off, &nr);
  if (!s) {
    struct audit_sys z = {};
    bpf_map_update_elem(&sys_off, &nr, &z, BPF_NOEXIST);
    s = bpf_map_lookup_elem(&sys_off, &nr);
  }
  if (s) {
    __sync_fetch_and_add(&s->n, 1);
    __sync_fetch_and_add(&s->ns, d);
    atomic_max(&s->max_ns, d);
  }
  if ((a->flags & (AT_HOLDS_P | AT_IN_GSYSCALL)) == AT_HOLDS_P && d >= unannounced_min_ns) {
    a->unannounced_n++;
    if (d > a->unannounced_max_ns) {
      a->unannounced_max_ns = d;
      a->unannounced_sys = a->out_sys;
    }
    __sync_fetch_and_add(&totals.unannounced, 1);
  }
}

static __always_inline void note_runnable(__u32 tid) {
  struct audit_thread *a = bpf_map_lookup_elem(&threads, &tid);
  /* A throttled task stays queued, so a wakeup aimed at it (ttwu on a
   * runnable task) fires sched_wakeup without ending the throttle: keep
   * the throttle's state; the refill or the switch-in ends it. */
  if (!a || a->last_in != 0 || a->out_kind == OUT_THROTTLED) return;
  __u64 now = bpf_ktime_get_ns();
  if (a->out_kind == OUT_BLOCKED && a->last_out) blocked_done(a, now - a->last_out);
  a->last_out = now;
  a->out_kind = OUT_PREEMPTED;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(audit_wakeup, struct task_struct *p) {
  if (stopped) return 0;
  if (p->tgid != target_tgid) return 0;
  note_runnable(p->pid);
  return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(audit_wakeup_new, struct task_struct *p) {
  if (stopped) return 0;
  if (p->tgid != target_tgid) return 0;
  note_runnable(p->pid);
  return 0;
}

/* note_period(): the group of t is throttled now; count its current period
 * once (cpu.stat's nr_throttled counts periods, not throttles). */
static __always_inline void note_period(struct task_struct *t) {
  read_bw(t, &totals.bw_last);
  struct audit_period_key k = {.cgid = totals.bw_last.cgid,
                               .nr_periods = totals.bw_last.nr_periods};
  __u8 one = 1;
  if (bpf_map_update_elem(&periods, &k, &one, BPF_NOEXIST) == 0)
    __sync_fetch_and_add(&totals.throttled_periods, 1);
}

static __always_inline void switch_out(struct task_struct *prev, unsigned int prev_state,
                                       __u64 now) {
  __u32 tid = prev->pid;
  struct audit_thread *a = bpf_map_lookup_elem(&threads, &tid);
  if (!a) return;
  if (a->last_out && !a->last_in) {
    /* Its switch-in was never seen (rare: a few in 1000 switches on this
     * kernel under load). A throttle still ended at the refill, if one came;
     * a run-queue wait of unknown length is dropped. */
    __sync_fetch_and_add(&totals.missed_switch_in, 1);
    if (a->out_kind == OUT_THROTTLED) __sync_fetch_and_add(&totals.missed_throttle_ends, 1);
    __u64 refill = a->out_kind == OUT_THROTTLED ? first_refill(a->last_out, now) : 0;
    if (refill) {
      a->throttled_ns += refill - a->last_out;
      __sync_fetch_and_add(&totals.thread_throttled_ns, refill - a->last_out);
    }
  }
  if (a->last_in) {
    a->oncpu_ns += now - a->last_in;
    a->last_in = 0;
    __sync_fetch_and_add(&totals.running, -1);
  }
  a->last_out = now;
  /* cpu.stat's nr_throttled counts periods in which the group's runqueue was
   * throttled, even when the refill came before any task reached its throttle
   * point (say it was preempted first): count those periods too. */
  struct cfs_rq___old *cfs = (void *)BPF_CORE_READ(prev, se.cfs_rq);
  if (cfs && BPF_CORE_READ(cfs, throttle_count) > 0) note_period(prev);
  if (prev_state != 0) {
    a->out_kind = OUT_BLOCKED;
    a->out_sys = a->cur_sys;
    return;
  }
  if (!task_throttled(prev)) {
    a->out_kind = OUT_PREEMPTED;
    return;
  }
  a->out_kind = OUT_THROTTLED;
  a->throttle_outs++;
  __u32 cpu = bpf_get_smp_processor_id();
  a->thr_cpu = cpu;
  __u64 *since = bpf_map_lookup_elem(&cpu_thr_since, &cpu);
  if (since && *since == 0) *since = now;
  __sync_fetch_and_add(&totals.throttle_outs, 1);
  note_period(prev);
}

static __always_inline void switch_in(struct task_struct *next, __u64 now) {
  __u32 tid = next->pid;
  struct audit_thread *a = bpf_map_lookup_elem(&threads, &tid);
  if (!a) return;
  if (a->last_in == 0) {
    __u64 r = __sync_fetch_and_add(&totals.running, 1) + 1;
    atomic_max(&totals.running_peak, r);
  }
  a->last_in = now;
  if (!a->last_out) return;
  __u64 d = now - a->last_out;
  a->last_out = 0;
  if (a->out_kind == OUT_THROTTLED) {
    /* The throttle ended when the period timer refilled the quota; the rest
     * is run-queue wait after the unthrottle. Without a refill seen since
     * the switch-out (e.g. unthrottled by the slack timer), up to now. */
    __u64 out = now - d, end = now, refill = first_refill(out, now);
    if (refill) end = refill;
    a->throttled_ns += end - out;
    __sync_fetch_and_add(&totals.thread_throttled_ns, end - out);
    /* Unthrottled before any refill was seen (the slack timer, or runtime
     * handed back): the throttle of that CPU ended by now at the latest. */
    __u32 c = a->thr_cpu;
    __u64 *since = bpf_map_lookup_elem(&cpu_thr_since, &c);
    if (since && *since && *since <= out) {
      __sync_fetch_and_add(&totals.throttled_ns, end - *since);
      *since = 0;
    }
    if (end < now) {
      __u64 w = now - end;
      a->runq_ns += w;
      a->runq_n++;
      __u32 s = log2_slot(w / 1000);
      if (s < AUDIT_HIST_SLOTS) a->runq_hist[s]++;
    }
  } else if (a->out_kind == OUT_PREEMPTED) {
    a->runq_ns += d;
    a->runq_n++;
    __u32 s = log2_slot(d / 1000);
    if (s < AUDIT_HIST_SLOTS) a->runq_hist[s]++;
  } else if (a->out_kind == OUT_BLOCKED) {
    blocked_done(a, d);
  }
  a->out_kind = OUT_NONE;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(audit_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
             unsigned int prev_state) {
  if (stopped) return 0;
  bool p = prev->tgid == target_tgid, n = next->tgid == target_tgid;
  if (!p && !n) return 0;
  __u64 now = bpf_ktime_get_ns();
  if (p) switch_out(prev, prev_state, now);
  if (n) switch_in(next, now);
  return 0;
}

SEC("tp_btf/hrtimer_expire_entry")
int BPF_PROG(audit_hrtimer, struct hrtimer *timer, ktime_t *expires_now) {
  if (stopped) return 0;
  if (!period_timer || (__u64)(void *)timer != period_timer) return 0;
  __u64 now = bpf_ktime_get_ns();
  last_refill_ns = now;
  refills[__sync_fetch_and_add(&refill_idx, 1) % REFILLS] = now;
  /* the refill unthrottles every CPU's runqueue of the group */
  for (__u32 i = 0; i < AUDIT_MAX_CPUS && i < nr_cpus; i++) {
    __u32 k = i;
    __u64 *since = bpf_map_lookup_elem(&cpu_thr_since, &k);
    if (since && *since) {
      __sync_fetch_and_add(&totals.throttled_ns, now - *since);
      *since = 0;
    }
  }
  return 0;
}

/* ---- syscalls (off-CPU time per syscall) ---------------------------------- */

SEC("tp_btf/sys_enter")
int BPF_PROG(audit_sys_enter, struct pt_regs *regs, long id) {
  if (stopped) return 0;
  __u64 pt = bpf_get_current_pid_tgid();
  if ((pt >> 32) != target_tgid) return 0;
  __u32 tid = (__u32)pt;
  struct audit_thread *a = bpf_map_lookup_elem(&threads, &tid);
  if (a) a->cur_sys = (__s32)id;
  return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(audit_sys_exit, struct pt_regs *regs, long ret) {
  if (stopped) return 0;
  __u64 pt = bpf_get_current_pid_tgid();
  if ((pt >> 32) != target_tgid) return 0;
  __u32 tid = (__u32)pt;
  struct audit_thread *a = bpf_map_lookup_elem(&threads, &tid);
  if (a) a->cur_sys = -1;
  return 0;
}

/* ---- signals -------------------------------------------------------------- */

SEC("tp_btf/signal_generate")
int BPF_PROG(audit_sig_gen, int sig, struct kernel_siginfo *info, struct task_struct *task,
             int group, int result) {
  if (stopped) return 0;
  if (sig != (int)audit_signo || !task || task->tgid != target_tgid) return 0;
  __u32 r = result >= 0 && result < SIGRES_N ? (__u32)result : SIGRES_OVERFLOW;
  __sync_fetch_and_add(&totals.sig_gen[r], 1);
  if (group) __sync_fetch_and_add(&totals.sig_group, 1);
  __u32 tid = task->pid;
  struct audit_thread *a = bpf_map_lookup_elem(&threads, &tid);
  if (a) __sync_fetch_and_add(&a->sig_gen[r], 1);
  if (r == SIGRES_QUEUED) {
    __u32 key = group ? (target_tgid | (1u << 31)) : tid;
    __u64 now = bpf_ktime_get_ns();
    bpf_map_update_elem(&sig_ts, &key, &now, BPF_NOEXIST);
  }
  return 0;
}

SEC("tp_btf/signal_deliver")
int BPF_PROG(audit_sig_deliver, int sig, struct kernel_siginfo *info, struct k_sigaction *ka) {
  if (stopped) return 0;
  __u64 pt = bpf_get_current_pid_tgid();
  if (sig != (int)audit_signo || (pt >> 32) != target_tgid) return 0;
  __u32 tid = (__u32)pt;
  __sync_fetch_and_add(&totals.sig_delivered, 1);
  struct audit_thread *a = bpf_map_lookup_elem(&threads, &tid);
  if (a) __sync_fetch_and_add(&a->sig_delivered, 1);
  __u32 key = tid;
  __u64 *ts = bpf_map_lookup_elem(&sig_ts, &key);
  if (!ts) {
    key = target_tgid | (1u << 31);
    ts = bpf_map_lookup_elem(&sig_ts, &key);
  }
  if (ts) {
    __u64 d = bpf_ktime_get_ns() - *ts;
    bpf_map_delete_elem(&sig_ts, &key);
    __sync_fetch_and_add(&totals.sig_lat_n, 1);
    __sync_fetch_and_add(&totals.sig_lat_ns, d);
    __u32 s = log2_slot(d / 1000);
    if (s < AUDIT_HIST_SLOTS) __sync_fetch_and_add(&totals.sig_lat_hist[s], 1);
  }
  return 0;
}

/* ---- runtime view: libgoro's USDT probes (core/sched/probes.h) ------------ */

static __always_inline struct audit_thread *cur_thread(void) {
  __u64 pt = bpf_get_current_pid_tgid();
  if ((pt >> 32) != target_tgid) return 0;
  __u32 tid = (__u32)pt;
  return bpf_map_lookup_elem(&threads, &tid);
}

SEC("usdt")
int BPF_USDT(goro_thread_start, long m_id, long tid) {
  if (stopped) return 0;
  if ((bpf_get_current_pid_tgid() >> 32) != target_tgid) return 0;
  __sync_fetch_and_add(&totals.rt_thread_start, 1);
  __u32 t = (__u32)tid;
  struct audit_thread *a = bpf_map_lookup_elem(&threads, &t);
  if (a) {
    a->flags |= AT_IS_M;
    a->m_id = m_id;
  }
  return 0;
}

SEC("usdt")
int BPF_USDT(goro_thread_exit, long m_id, long tid) {
  if (stopped) return 0;
  if ((bpf_get_current_pid_tgid() >> 32) != target_tgid) return 0;
  __sync_fetch_and_add(&totals.rt_thread_exit, 1);
  __u32 t = (__u32)tid;
  struct audit_thread *a = bpf_map_lookup_elem(&threads, &t);
  if (a) {
    a->flags |= AT_IS_M | AT_M_EXITED;
    a->m_id = m_id;
  }
  return 0;
}

SEC("usdt")
int BPF_USDT(goro_p_acquire, long p_id, long m_id) {
  if (stopped) return 0;
  struct audit_thread *a = cur_thread();
  if ((bpf_get_current_pid_tgid() >> 32) != target_tgid) return 0;
  __sync_fetch_and_add(&totals.rt_p_acquire, 1);
  atomic_max((__u64 *)&totals.rt_max_p_id, (__u64)p_id + 1); /* stored +1: 0 = none */
  if (a) {
    a->flags |= AT_HOLDS_P;
    a->p_id = p_id;
    if (a->m_id < 0) a->m_id = m_id;
  }
  return 0;
}

SEC("usdt")
int BPF_USDT(goro_p_release, long p_id, long m_id) {
  if (stopped) return 0;
  struct audit_thread *a = cur_thread();
  if (a) {
    a->flags &= ~AT_HOLDS_P;
    a->p_id = -1;
  }
  return 0;
}

SEC("usdt")
int BPF_USDT(goro_syscall_enter, long goid, long p_id) {
  if (stopped) return 0;
  if ((bpf_get_current_pid_tgid() >> 32) != target_tgid) return 0;
  __sync_fetch_and_add(&totals.rt_syscall_enter, 1);
  struct audit_thread *a = cur_thread();
  if (a) a->flags |= AT_IN_GSYSCALL;
  return 0;
}

SEC("usdt")
int BPF_USDT(goro_syscall_exit, long goid, long p_id) {
  if (stopped) return 0;
  if ((bpf_get_current_pid_tgid() >> 32) != target_tgid) return 0;
  __sync_fetch_and_add(&totals.rt_syscall_exit, 1);
  struct audit_thread *a = cur_thread();
  if (a) a->flags &= ~AT_IN_GSYSCALL;
  return 0;
}

SEC("usdt")
int BPF_USDT(goro_handoff, long p_id, long reason) {
  if (stopped) return 0;
  if ((bpf_get_current_pid_tgid() >> 32) != target_tgid) return 0;
  __sync_fetch_and_add(&totals.rt_handoff, 1);
  return 0;
}

SEC("usdt")
int BPF_USDT(goro_preempt_signal, long tid, long goid, long signo) {
  if (stopped) return 0;
  if ((bpf_get_current_pid_tgid() >> 32) != target_tgid) return 0;
  __sync_fetch_and_add(&totals.rt_preempt_signal, 1);
  __u32 t = (__u32)tid;
  struct audit_thread *a = bpf_map_lookup_elem(&threads, &t);
  if (a) __sync_fetch_and_add(&a->rt_preempt_sent, 1);
  return 0;
}

SEC("usdt")
int BPF_USDT(goro_maxprocs_change, long old, long new_, long reason) {
  if (stopped) return 0;
  if ((bpf_get_current_pid_tgid() >> 32) != target_tgid) return 0;
  __sync_fetch_and_add(&totals.rt_maxprocs_changes, 1);
  totals.rt_maxprocs = new_;
  return 0;
}

SEC("usdt")
int BPF_USDT(goro_g_create, long goid, long creator) {
  if (stopped) return 0;
  if ((bpf_get_current_pid_tgid() >> 32) != target_tgid) return 0;
  __sync_fetch_and_add(&totals.rt_g_create, 1);
  return 0;
}

SEC("usdt")
int BPF_USDT(goro_g_exit, long goid) {
  if (stopped) return 0;
  if ((bpf_get_current_pid_tgid() >> 32) != target_tgid) return 0;
  __sync_fetch_and_add(&totals.rt_g_exit, 1);
  return 0;
}
