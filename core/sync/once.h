// once.h: the state behind goro_once_t (Go's sync.Once). See once.cpp.
#pragma once

#include <atomic>
#include <cstdint>
#include <type_traits>

#include "goro/goro.h"
#include "os/futex.h"
#include "sync/waiter.h"

namespace goro::rt {

// OnceState lives inside the caller's goro_once_t, which GORO_ONCE_INIT
// zero-fills: all-zero bytes must be its initial state, and nothing may need
// destroying.
struct OnceState {
  static constexpr uint64_t kFinished = ~0ull;  // owner once fn has returned

  std::atomic<uint32_t> done;  // 1: fn has returned (the fast path's flag)
  Mutex lk;                    // protects q and owner
  WaitQueue q;                 // callers waiting for fn to return (lk)
  uint64_t owner;              // 0: not started; else who runs fn, or kFinished (lk)
};

static_assert(sizeof(OnceState) <= sizeof(goro_once_t), "OnceState must fit goro_once_t");
static_assert(alignof(OnceState) <= alignof(goro_once_t), "OnceState alignment");
static_assert(std::is_trivially_destructible_v<OnceState>, "goro_once_t has no destructor");
static_assert(std::is_standard_layout_v<OnceState>, "OnceState must be plain data");

int once_do(goro_once_t* o, goro_fn fn, void* arg);

}  // namespace goro::rt
