// trace.h: the runtime's observability hooks into the scheduler (trace.cpp):
// the all-goroutines registry (Go's allgs), the scheduler view that
// schedtrace, goro_stats() and goro_dump() read, and their start hook.
#pragma once

#include <time.h>

#include <atomic>
#include <cstdint>
#include <cstdio>

#include "goro/goro.h"
#include "os/futex.h"
#include "sched/runtime2.h"

namespace goro::rt {

// AllgChunk registers one array of G structs (proc.cpp allocates Gs
// kGChunk at a time and never frees them while the runtime runs). The list
// is append-only: galloc() pushes a node under sched.gflock with a release
// store; readers (goro_dump, scheddetail, the gdb script) walk it without a
// lock from an acquire load of g_allgs. Nodes are freed only by
// allg_reset() at shutdown, when nothing walks the list any more.
struct AllgChunk {
  G* gs;
  int32_t n;
  AllgChunk* next;
};
extern std::atomic<AllgChunk*> g_allgs;

// allg_add registers a chunk of n Gs. sched.gflock held. False: out of
// memory (the caller must not use the chunk).
bool allg_add(G* chunk, int32_t n);
// allg_reset forgets every chunk (shutdown, after the Gs are freed).
void allg_reset();

// SchedView points at the scheduler state (proc.cpp's Sched) that the
// observers read. Fields marked (lock) are read under *lock; the atomics are
// read relaxed without it; P, M and G fields are read racily (see trace.cpp).
struct SchedView {
  const std::atomic<int32_t>* gomaxprocs;
  const std::atomic<int32_t>* npidle;
  const std::atomic<int32_t>* nmspinning;
  const std::atomic<int32_t>* runqsize;
  const std::atomic<int32_t>* nallp;
  const std::atomic<int64_t>* foreign_created;  // goroutines created from plain threads
  P* const* allp;                               // allp[0..nallp)
  Mutex* lock;
  M* const* allm;        // (lock)
  M* const* midle;       // (lock)
  const int32_t* mcount; // (lock)
  const int32_t* nmidle; // (lock)
};
void sched_view(SchedView* v);  // proc.cpp

// trace_start runs at every runtime start, after GORO_DEBUG is parsed:
// registers the schedtrace hook with sysmon and the SIGQUIT dump handler
// (each at most once per process).
void trace_start();

// schedtrace prints one SCHED line (and with detail the P, M and G lines)
// to fd 2, in Go's format. Runs on the sysmon thread (or a test's).
void schedtrace(bool detail);

// dump writes the goroutine dump to f. The runtime must be kept alive by
// the caller (ApiRef). Returns the number of goroutines listed.
int dump_goroutines(FILE* f);

}  // namespace goro::rt
