// godebug.h: GORO_DEBUG, the runtime's debugging switches (Go's GODEBUG).
//
// GORO_DEBUG is a comma-separated list of name=value pairs, read once at
// every runtime start (goro_init or the lazy start), before any M exists;
// after that g_debug is read-only, so any thread may read it without
// synchronisation. Unknown names and malformed values are reported once on
// stderr and otherwise ignored, as Go does with GODEBUG.
//
//   schedtrace=N       print a SCHED line every N ms (Go's format)
//   scheddetail=1      with schedtrace: add the P, M and G lines
//   asyncpreemptoff=1  never switch a G out from the preemption signal handler
//   maxprocs=1         log every automatic maxprocs change and why
//   sigquitdump=1      SIGQUIT prints the goroutine dump (goro_dump) to stderr
#pragma once

#include <cstdint>

namespace goro::rt {

struct DebugVars {
  int64_t schedtrace_ms = 0;
  bool scheddetail = false;
  bool asyncpreemptoff = false;
  bool maxprocs = false;
  bool sigquitdump = false;
};

extern DebugVars g_debug;

// Parses getenv("GORO_DEBUG") into g_debug (resetting it first). Called by
// the runtime at start with no M running.
void debug_parse_env();
// Parses `s` (for tests and for debug_parse_env). Returns the number of
// entries it could not understand.
int debug_parse(const char* s, DebugVars* out, bool warn);

}  // namespace goro::rt
