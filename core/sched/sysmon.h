// sysmon.h: the interface of sysmon, the runtime's monitor thread
// (sysmon.cpp; Go's sysmon in proc.go). Other subsystems hang periodic work
// on it instead of starting threads of their own.
#pragma once

#include <cstdint>

namespace goro::rt {

// A hook runs on the sysmon thread, with no runtime lock held, at most once
// per `period_ns` (sysmon's own sleep is the granularity). `now` is
// nanotime(). Hooks must not block for long and must not allocate on their
// steady path. Registration may happen at any time (including before the
// runtime starts) and lasts for the life of the process; at most
// kSysmonMaxHooks hooks exist. Returns 0 or -ENOSPC.
using SysmonHook = void (*)(int64_t now);
constexpr int kSysmonMaxHooks = 8;
int sysmon_add_hook(SysmonHook fn, int64_t period_ns);

}  // namespace goro::rt
