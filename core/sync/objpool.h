// objpool.h: ObjPool, the per-P object cache behind goro_objpool_t. See
// objpool.cpp.
#pragma once

#include <atomic>
#include <cstdint>

#include "goro/goro.h"
#include "os/futex.h"

namespace goro::rt {

// One P's cache. `busy` is a try-lock: uncontended in the normal case (only
// the G running on that P uses it), see objpool.cpp.
struct alignas(64) ObjShard {
  std::atomic<uint32_t> busy{0};
  int n = 0;           // (busy) objects cached
  void** items = nullptr;  // per_p_cap slots, allocated right after the shard
};

struct ObjPool {
  void* (*new_fn)(void*) = nullptr;
  void (*free_fn)(void*, void*) = nullptr;
  void* user = nullptr;
  int per_p_cap = 16;
  int shared_cap = 64;
  std::atomic<ObjShard*> shards[GORO_MAXPROCS_MAX] = {};  // by P id, made on first use
  Mutex mu;
  int shared_n = 0;        // (mu)
  void** shared = nullptr; // (mu) shared_cap slots
};

int objpool_new(const goro_objpool_opts_t* o, ObjPool** out);
void* objpool_get(ObjPool* p);
void objpool_put(ObjPool* p, void* obj);
int objpool_trim(ObjPool* p);
void objpool_free(ObjPool* p);

}  // namespace goro::rt
