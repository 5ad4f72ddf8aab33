// maxprocs.h: the automatic maxprocs policy (maxprocs.cpp) and the one
// entry it needs from proc.cpp.
#pragma once

#include <cstdint>

#include "goro/goro.h"

namespace goro::rt {

// Reasons of the goro:maxprocs_change probe (probes.h).
enum MaxprocsReason : int { kMaxprocsApi = 1, kMaxprocsEnv = 2, kMaxprocsAuto = 3 };

// maxprocs_init decides the first maxprocs at runtime start: cfg->maxprocs
// (pinned), else GORO_MAXPROCS (pinned), else the automatic value. It takes
// the rounding and minimum from cfg, registers the once-a-second sysmon
// re-evaluation (once per process), logs and fires the probe. Called by
// start_locked after debug_parse_env and before the first procresize.
int maxprocs_init(const goro_config_t& cfg);

// maxprocs_pin sets n (1..GORO_MAXPROCS_MAX) and stops automatic updates
// (goro_maxprocs(n)). Returns the previous value. Caller holds an ApiRef.
int maxprocs_pin(int n);

// maxprocs_unpin turns automatic updates back on and applies the automatic
// value at once (goro_maxprocs_auto). Returns the new value. Caller holds
// an ApiRef.
int maxprocs_unpin();

// maxprocs_reevaluate re-reads the limits and applies the automatic value
// unless pinned; the sysmon hook. Returns the current maxprocs. No
// allocation unless the process moved to another cgroup or maxprocs grows
// past every P ever created. Caller holds an ApiRef.
int maxprocs_reevaluate();

// maxprocs_limits fills a whole goro_cpu_limits_t (goro_cpu_limits).
void maxprocs_limits(goro_cpu_limits_t* out);

// In proc.cpp: sets the number of Ps to n (0: only query) without stopping
// the world, from any thread including sysmon. Returns the previous value.
// Caller holds an ApiRef (the runtime is running).
int rt_procresize(int n);

}  // namespace goro::rt
