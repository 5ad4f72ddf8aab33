// singleflight.cpp: goro_sf_t, golang.org/x/sync/singleflight's Group.Do and
// Forget.
//
// Owns: the map from key to the call in flight for it.
//
// The first caller for a key (the leader) inserts a call, runs fn outside
// the lock, then removes the call from the map (if it is still the one
// there: goro_sf_forget may have removed it and a new leader inserted
// another) and releases the followers, which wait on the call's WaitGroup.
//
// Invariants:
//  - A key maps to at most one call; a follower joins a call only while it
//    is in the map, under mu, so once the leader removed it no one joins and
//    `dups` is final.
//  - A call is freed by the last of its leader and followers (refs).
//  - inflight counts leaders that have not yet left mu for the last time, so
//    goro_sf_free() can refuse while one would still touch the group.
#include "sync/singleflight.h"

#include <atomic>
#include <cerrno>
#include <new>

#include "sync/waitgroup.h"

namespace goro::rt {

struct SfCall {
  WaitGroup wg;                 // 1 until the leader is done
  std::atomic<int32_t> refs{1};
  int dups = 0;                 // (sf->mu) followers that joined
  int rc = 0;                   // written by the leader before wg reaches 0
  void* result = nullptr;
  std::string key;              // the map key, for the leader's removal
};

namespace {

void call_unref(SfCall* c) {
  if (c->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete c;
}

}  // namespace

int sf_do(SingleFlight* sf, const void* key, size_t keylen, goro_sf_fn fn, void* arg,
          void** result, int* shared) {
  SfCall* c;
  try {
    std::string k(keylen ? static_cast<const char*>(key) : "", keylen);
    sf->mu.lock();
    auto it = sf->calls.find(k);
    if (it != sf->calls.end()) {
      c = it->second;
      c->dups++;
      c->refs.fetch_add(1, std::memory_order_relaxed);
      sf->mu.unlock();
      c->wg.wait();
      if (result) *result = c->result;
      if (shared) *shared = 1;
      int rc = c->rc;
      call_unref(c);
      return rc;
    }
    c = new (std::nothrow) SfCall;
    if (!c) {
      sf->mu.unlock();
      return -ENOMEM;
    }
    c->wg.add(1);
    try {
      c->key = k;
      sf->calls.emplace(std::move(k), c);
    } catch (...) {
      sf->mu.unlock();
      delete c;
      return -ENOMEM;
    }
    sf->inflight++;
    sf->mu.unlock();
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  }
  void* res = nullptr;
  int rc = fn(arg, &res);
  c->rc = rc;
  c->result = res;
  int dups;
  {
    LockGuard lg(sf->mu);
    auto it = sf->calls.find(c->key);
    if (it != sf->calls.end() && it->second == c) sf->calls.erase(it);
    dups = c->dups;
    sf->inflight--;
  }
  c->wg.add(-1);
  if (result) *result = res;
  if (shared) *shared = dups > 0;
  call_unref(c);
  return rc;
}

int sf_forget(SingleFlight* sf, const void* key, size_t keylen) {
  try {
    std::string k(keylen ? static_cast<const char*>(key) : "", keylen);
    LockGuard lg(sf->mu);
    return sf->calls.erase(k) ? 0 : -ENOENT;
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  }
}

bool sf_busy(SingleFlight* sf) {
  LockGuard lg(sf->mu);
  return sf->inflight > 0 || !sf->calls.empty();
}

}  // namespace goro::rt
