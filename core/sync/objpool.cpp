// objpool.cpp: goro_objpool_t, Go's sync.Pool without a GC: a bounded cache
// of free objects, per P first, then shared.
//
// Owns: one ObjShard per P id (allocated on first use, kept for the pool's
// life) and the shared overflow array.
//
// The per-P fast path. A goroutine finds its P through getm()->p and works
// on that P's shard. A G changes P only inside runtime calls (park, yield,
// exit: the scheduler runs on g0 between two Gs), and the shard's critical
// section makes no runtime call, so normally no two Gs are ever inside the
// same shard at once and the shard needs no lock, as in Go (which pins the G
// with procPin instead). That invariant is not airtight here: an M that
// gives up its P in a syscall, a P retired by goro_maxprocs() while its G
// still runs, or asynchronous preemption would break it. So each shard
// carries a try-lock: taking it is one uncontended atomic exchange on a
// cache line only this P touches, and if it is ever found taken the caller
// simply uses the shared list instead (no waiting, no loss). Plain threads
// (no P) always use the shared list.
//
// Bounded memory: per_p_cap objects per P that has used the pool, plus
// shared_cap; put() frees objects beyond that; trim() frees all cached.
//
// Invariants:
//  - An object is in at most one place: a shard, the shared array, or the
//    caller's hands.
//  - shards[i] never changes once set (until objpool_free).
#include "sync/objpool.h"

#include <cerrno>
#include <cstdlib>
#include <new>

#include "sched/sched.h"

namespace goro::rt {

namespace {

ObjShard* my_shard(ObjPool* p) {
  P* pp = curp();
  if (!pp || !getg()) return nullptr;  // plain thread, or no P right now
  int id = pp->id;
  if (id < 0 || id >= GORO_MAXPROCS_MAX) return nullptr;
  ObjShard* s = p->shards[id].load(std::memory_order_acquire);
  if (s) return s;
  size_t bytes = sizeof(ObjShard) + sizeof(void*) * size_t(p->per_p_cap);
  void* mem = aligned_alloc(64, (bytes + 63) & ~size_t(63));
  if (!mem) return nullptr;
  ObjShard* ns = new (mem) ObjShard;
  ns->items = reinterpret_cast<void**>(ns + 1);
  if (p->shards[id].compare_exchange_strong(s, ns, std::memory_order_acq_rel)) return ns;
  ns->~ObjShard();
  free(mem);
  return s;
}

bool shard_lock(ObjShard* s) { return s->busy.exchange(1, std::memory_order_acquire) == 0; }
void shard_unlock(ObjShard* s) { s->busy.store(0, std::memory_order_release); }

void drop(ObjPool* p, void* obj) {
  if (p->free_fn)
    p->free_fn(p->user, obj);
  else
    free(obj);
}

}  // namespace

int objpool_new(const goro_objpool_opts_t* o, ObjPool** out) {
  ObjPool* p = new (std::nothrow) ObjPool;
  if (!p) return -ENOMEM;
  p->new_fn = o->new_fn;
  p->free_fn = o->free_fn;
  p->user = o->user;
  p->per_p_cap = o->per_p_cap ? o->per_p_cap : 16;
  p->shared_cap = o->shared_cap == 0 ? 64 : (o->shared_cap < 0 ? 0 : o->shared_cap);
  if (p->shared_cap) {
    p->shared = static_cast<void**>(calloc(size_t(p->shared_cap), sizeof(void*)));
    if (!p->shared) {
      delete p;
      return -ENOMEM;
    }
  }
  *out = p;
  return 0;
}

void* objpool_get(ObjPool* p) {
  if (ObjShard* s = my_shard(p)) {
    if (shard_lock(s)) {
      void* obj = s->n > 0 ? s->items[--s->n] : nullptr;
      shard_unlock(s);
      if (obj) return obj;
    }
  }
  {
    LockGuard lg(p->mu);
    if (p->shared_n > 0) return p->shared[--p->shared_n];
  }
  return p->new_fn(p->user);
}

void objpool_put(ObjPool* p, void* obj) {
  if (ObjShard* s = my_shard(p)) {
    if (shard_lock(s)) {
      bool kept = s->n < p->per_p_cap;
      if (kept) s->items[s->n++] = obj;
      shard_unlock(s);
      if (kept) return;
    }
  }
  {
    LockGuard lg(p->mu);
    if (p->shared_n < p->shared_cap) {
      p->shared[p->shared_n++] = obj;
      return;
    }
  }
  drop(p, obj);
}

int objpool_trim(ObjPool* p) {
  int freed = 0;
  for (auto& slot : p->shards) {
    ObjShard* s = slot.load(std::memory_order_acquire);
    if (!s) continue;
    while (!shard_lock(s)) cpu_relax();  // held only for a few instructions
    int n = s->n;
    void* local[1024];
    for (int i = 0; i < n; i++) local[i] = s->items[i];
    s->n = 0;
    shard_unlock(s);
    for (int i = 0; i < n; i++) drop(p, local[i]);
    freed += n;
  }
  for (;;) {
    void* obj;
    {
      LockGuard lg(p->mu);
      if (p->shared_n == 0) break;
      obj = p->shared[--p->shared_n];
    }
    drop(p, obj);
    freed++;
  }
  return freed;
}

void objpool_free(ObjPool* p) {
  objpool_trim(p);
  for (auto& slot : p->shards) {
    if (ObjShard* s = slot.load(std::memory_order_acquire)) {
      s->~ObjShard();
      free(s);
    }
  }
  free(p->shared);
  delete p;
}

}  // namespace goro::rt
