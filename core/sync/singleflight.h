// singleflight.h: SingleFlight, behind goro_sf_t. See singleflight.cpp.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>

#include "goro/goro.h"
#include "os/futex.h"

namespace goro::rt {

struct SfCall;

struct SingleFlight {
  Mutex mu;
  std::unordered_map<std::string, SfCall*> calls;  // (mu) in flight, not forgotten
  int64_t inflight = 0;                             // (mu) leaders still running, forgotten too
};

int sf_do(SingleFlight* sf, const void* key, size_t keylen, goro_sf_fn fn, void* arg,
          void** result, int* shared);
int sf_forget(SingleFlight* sf, const void* key, size_t keylen);
bool sf_busy(SingleFlight* sf);

}  // namespace goro::rt
