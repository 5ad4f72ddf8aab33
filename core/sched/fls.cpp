// fls.cpp: goroutine-local storage (goro_key_*).
//
// Owns: the key table and the per-goroutine and per-thread value tables.
// A key is (generation << 10) | slot. Deleting a key bumps nothing; creating
// a key in a reused slot gives it a new generation, so values stored under
// the old key are never returned for the new one: every stored value keeps
// the full key it was set under.
//
// Invariants:
//  - A G's table is touched only by that G (or by g0 after it has exited).
//  - A plain thread's table lives in thread_local storage and is destroyed
//    by a pthread key destructor at thread exit. Goroutine code never uses
//    it: getg() decides which table applies on every call.
#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "os/futex.h"
#include "sched/sched.h"

namespace goro::rt {

namespace {

constexpr uint32_t kSlotBits = 10;
static_assert((1u << kSlotBits) == GORO_KEYS_MAX, "slot bits match GORO_KEYS_MAX");
constexpr uint32_t kSlotMask = GORO_KEYS_MAX - 1;

struct KeySlot {
  std::atomic<uint32_t> gen{0};   // generation of the live key, or of the last one
  std::atomic<bool> live{false};
  std::atomic<goro_key_dtor> dtor{nullptr};
};

KeySlot g_slots[GORO_KEYS_MAX];
Mutex g_keylock;

struct ThreadTable {
  G::FlsEntry* e = nullptr;
  uint32_t cap = 0;
};

thread_local ThreadTable t_table;
pthread_key_t g_thread_exit_key;
pthread_once_t g_thread_exit_once = PTHREAD_ONCE_INIT;

bool key_live(goro_key_t key, goro_key_dtor* dtor) {
  uint32_t slot = key & kSlotMask;
  uint32_t gen = key >> kSlotBits;
  const KeySlot& s = g_slots[slot];
  if (gen == 0 || !s.live.load(std::memory_order_acquire) ||
      s.gen.load(std::memory_order_acquire) != gen)
    return false;
  if (dtor) *dtor = s.dtor.load(std::memory_order_acquire);
  return true;
}

void thread_exit(void* p) {
  ThreadTable* t = static_cast<ThreadTable*>(p);
  fls_run_destructors(&t->e, &t->cap);
}

void make_thread_exit_key() { pthread_key_create(&g_thread_exit_key, thread_exit); }

// table() returns the caller's table: its goroutine's, or its thread's.
void current_table(G::FlsEntry*** e, uint32_t** cap, bool* is_thread) {
  if (G* gp = getg()) {
    gp->slow.store(true, std::memory_order_relaxed);  // goexit runs the destructors
    *e = &gp->fls;
    *cap = &gp->flscap;
    *is_thread = false;
  } else {
    *e = &t_table.e;
    *cap = &t_table.cap;
    *is_thread = true;
  }
}

}  // namespace

void fls_run_destructors(G::FlsEntry** table, uint32_t* cap) {
  for (int round = 0; round < 4; round++) {
    bool any = false;
    for (uint32_t i = 0; i < *cap; i++) {
      G::FlsEntry& e = (*table)[i];
      if (!e.value) continue;
      void* v = e.value;
      e.value = nullptr;
      goro_key_dtor d = nullptr;
      if (key_live(e.key, &d) && d) {
        d(v);
        any = true;
      }
    }
    if (!any) break;
  }
  free(*table);
  *table = nullptr;
  *cap = 0;
}

}  // namespace goro::rt

using namespace goro::rt;

extern "C" {

GORO_API int goro_key_create(goro_key_t* key, goro_key_dtor dtor) noexcept {
  if (!key) return -EINVAL;
  LockGuard lg(g_keylock);
  for (uint32_t i = 0; i < GORO_KEYS_MAX; i++) {
    KeySlot& s = g_slots[i];
    if (s.live.load(std::memory_order_relaxed)) continue;
    uint32_t gen = s.gen.load(std::memory_order_relaxed) + 1;
    if (gen >= (1u << (32 - kSlotBits))) gen = 1;
    s.dtor.store(dtor, std::memory_order_relaxed);
    s.gen.store(gen, std::memory_order_release);
    s.live.store(true, std::memory_order_release);
    *key = (gen << kSlotBits) | i;
    return 0;
  }
  return -EAGAIN;
}

GORO_API int goro_key_delete(goro_key_t key) noexcept {
  LockGuard lg(g_keylock);
  if (!key_live(key, nullptr)) return -EINVAL;
  g_slots[key & kSlotMask].live.store(false, std::memory_order_release);
  return 0;
}

GORO_API void* goro_key_get(goro_key_t key) noexcept {
  if (!key_live(key, nullptr)) return nullptr;
  G::FlsEntry** e;
  uint32_t* cap;
  bool is_thread;
  current_table(&e, &cap, &is_thread);
  uint32_t slot = key & kSlotMask;
  if (slot >= *cap || (*e)[slot].key != key) return nullptr;
  return (*e)[slot].value;
}

GORO_API int goro_key_set(goro_key_t key, const void* value) noexcept {
  if (!key_live(key, nullptr)) return -EINVAL;
  G::FlsEntry** e;
  uint32_t* cap;
  bool is_thread;
  current_table(&e, &cap, &is_thread);
  uint32_t slot = key & kSlotMask;
  if (slot >= *cap) {
    if (!value) return 0;  // unset and absent are the same
    uint32_t ncap = *cap ? *cap : 8;
    while (ncap <= slot) ncap *= 2;
    auto* ne = static_cast<G::FlsEntry*>(realloc(*e, ncap * sizeof(G::FlsEntry)));
    if (!ne) return -ENOMEM;
    memset(ne + *cap, 0, (ncap - *cap) * sizeof(G::FlsEntry));
    if (is_thread && *cap == 0) {
      pthread_once(&g_thread_exit_once, make_thread_exit_key);
      pthread_setspecific(g_thread_exit_key, &t_table);
    }
    *e = ne;
    *cap = ncap;
  }
  (*e)[slot].key = key;
  (*e)[slot].value = const_cast<void*>(value);
  return 0;
}

}  // extern "C"
