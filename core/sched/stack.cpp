// stack.cpp: goroutine stack allocation and pooling. See stack.h for the two
// kinds of stack and the invariants.
#include "sched/stack.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <cstring>
#include <vector>

#include "os/futex.h"
#include "sched/san.h"

namespace goro::rt {

namespace {

constexpr size_t kSlabStacks = 64;      // stacks per slab mapping
constexpr size_t kHotMax = 256;         // pooled stacks kept resident, per kind
constexpr size_t kSizedClasses = 16;    // non-default sizes cached
constexpr size_t kSizedMax = 64;        // stacks cached per non-default size

struct Pool {
  Mutex mu;
  size_t default_size = 0;
  long guarded_budget = 0;   // max guarded stacks alive (in use + cached)
  long guarded_live = 0;
  std::vector<Stack> guarded_free;   // cached guarded default-size stacks
  std::vector<char*> slab_hot;       // free slab stacks, still resident
  std::vector<char*> slab_cold;      // free slab stacks, returned with MADV_DONTNEED
  std::vector<std::pair<char*, size_t>> slabs;
  // Stacks of non-default sizes, by size (a few classes, a few stacks each).
  std::vector<std::pair<size_t, std::vector<Stack>>> sized;
};

Pool* pool() {
  static Pool* p = new Pool;  // never destroyed: Ms may outlive static destructors
  return p;
}

size_t page_size() {
  static size_t ps = size_t(sysconf(_SC_PAGESIZE));
  return ps;
}

long read_max_map_count() {
  long v = 65530;
  if (FILE* f = fopen("/proc/sys/vm/max_map_count", "re")) {
    if (fscanf(f, "%ld", &v) != 1) v = 65530;
    fclose(f);
  }
  return v;
}

bool map_guarded(Stack* s, size_t size) {
  size_t len = size + kStackGuardBytes;
  void* m = mmap(nullptr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return false;
  char* base = static_cast<char*>(m);
  if (mprotect(base + kStackGuardBytes, size, PROT_READ | PROT_WRITE) != 0) {
    munmap(m, len);
    return false;
  }
  s->lo = base + kStackGuardBytes;
  s->hi = base + len;
  s->kind = StackKind::Guarded;
  return true;
}

bool map_plain(Stack* s, size_t size) {
  void* m = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return false;
  s->lo = static_cast<char*>(m);
  s->hi = s->lo + size;
  s->kind = StackKind::Plain;
  return true;
}

// Called with pool mu held.
bool slab_take(Pool* p, Stack* s) {
  char* lo = nullptr;
  if (!p->slab_hot.empty()) {
    lo = p->slab_hot.back();
    p->slab_hot.pop_back();
  } else if (!p->slab_cold.empty()) {
    lo = p->slab_cold.back();
    p->slab_cold.pop_back();
  } else {
    size_t slot = p->default_size + kStackGapBytes;
    size_t len = slot * kSlabStacks;
    void* m = mmap(nullptr, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return false;
    char* base = static_cast<char*>(m);
    p->slabs.emplace_back(base, len);
    // Hand out the highest stack first; keep the rest cold (never touched).
    for (size_t i = 0; i + 1 < kSlabStacks; i++)
      p->slab_cold.push_back(base + i * slot + kStackGapBytes);
    lo = base + (kSlabStacks - 1) * slot + kStackGapBytes;
  }
  s->lo = lo;
  s->hi = lo + p->default_size;
  s->kind = StackKind::Slab;
  return true;
}

// cache_sized keeps a stack of a non-default size for reuse. False if its
// size class is full (or there are too many classes).
bool cache_sized(Pool* p, Stack* s) {
  LockGuard g(p->mu);
  size_t size = s->size();
  for (auto& [sz, v] : p->sized)
    if (sz == size) {
      if (v.size() >= kSizedMax) return false;
      v.push_back(*s);
      return true;
    }
  if (p->sized.size() >= kSizedClasses) return false;
  p->sized.emplace_back(size, std::vector<Stack>{*s});
  return true;
}

}  // namespace

void stack_pool_init(size_t default_size, long guarded_budget) {
  Pool* p = pool();
  LockGuard g(p->mu);
  p->default_size = default_size;
  if (guarded_budget == 0) guarded_budget = read_max_map_count() / 4;
  p->guarded_budget = guarded_budget < 0 ? 0 : guarded_budget;
  p->guarded_live = 0;
}

void stack_pool_destroy() {
  Pool* p = pool();
  LockGuard g(p->mu);
  for (Stack& s : p->guarded_free) munmap(s.map(), s.maplen());
  p->guarded_free.clear();
  p->guarded_free.shrink_to_fit();
  for (auto& [size, v] : p->sized)
    for (Stack& s : v) {
      if (s.kind == StackKind::Guarded) p->guarded_live--;
      munmap(s.map(), s.maplen());
    }
  p->sized.clear();
  for (auto& [base, len] : p->slabs) munmap(base, len);
  p->slabs.clear();
  p->slabs.shrink_to_fit();
  p->slab_hot.clear();
  p->slab_hot.shrink_to_fit();
  p->slab_cold.clear();
  p->slab_cold.shrink_to_fit();
  p->guarded_live = 0;
}

bool stack_alloc(Stack* s, size_t size) {
  Pool* p = pool();
  size_t ps = page_size();
  size = (size + ps - 1) & ~(ps - 1);
  bool dflt = size == p->default_size;
  {
    LockGuard g(p->mu);
    if (dflt && !p->guarded_free.empty()) {
      *s = p->guarded_free.back();
      p->guarded_free.pop_back();
      return true;
    }
    if (!dflt) {
      for (auto& [sz, v] : p->sized)
        if (sz == size && !v.empty()) {
          *s = v.back();
          v.pop_back();
          return true;
        }
    }
    if (p->guarded_live < p->guarded_budget) {
      p->guarded_live++;
    } else if (dflt) {
      return slab_take(p, s);
    } else {
      goto plain;
    }
  }
  // Guarded: map outside the lock.
  if (map_guarded(s, size)) return true;
  {
    LockGuard g(p->mu);
    p->guarded_live--;
  }
  return false;
plain:
  return map_plain(s, size);
}

void stack_free(Stack* s) {
  Pool* p = pool();
  switch (s->kind) {
    case StackKind::None:
      return;
    case StackKind::Guarded: {
      if (s->size() == p->default_size) {
        // Kept mapped (within the guard budget); only its pages are dropped
        // once the hot cache is full.
        bool cold;
        {
          LockGuard g(p->mu);
          cold = p->guarded_free.size() >= kHotMax;
        }
        if (cold && !s->cold) {
          madvise(s->lo, s->size(), MADV_DONTNEED);
          s->cold = true;
        }
        LockGuard g(p->mu);
        p->guarded_free.push_back(*s);
        break;
      }
      if (cache_sized(p, s)) break;
      {
        LockGuard g(p->mu);
        p->guarded_live--;
      }
      munmap(s->map(), s->maplen());
      break;
    }
    case StackKind::Slab: {
      bool cold = false;
      {
        LockGuard g(p->mu);
        if (p->slab_hot.size() < kHotMax) {
          p->slab_hot.push_back(s->lo);
        } else {
          cold = true;
        }
      }
      if (cold) {
        if (!s->cold) madvise(s->lo, s->size(), MADV_DONTNEED);
        LockGuard g(p->mu);
        p->slab_cold.push_back(s->lo);
      }
      break;
    }
    case StackKind::Plain:
      if (cache_sized(p, s)) break;
      munmap(s->map(), s->maplen());
      break;
  }
  *s = Stack{};
}

void stack_release_batch(Stack** stacks, size_t n) {
  std::sort(stacks, stacks + n, [](Stack* a, Stack* b) { return a->lo < b->lo; });
  size_t i = 0;
  while (i < n) {
    // For guarded stacks the range starts at the guard, so neighbouring
    // mappings coalesce too; MADV_DONTNEED on a PROT_NONE guard is harmless.
    char* start = stacks[i]->kind == StackKind::Guarded ? stacks[i]->map()
                  : stacks[i]->kind == StackKind::Slab  ? stacks[i]->lo - kStackGapBytes
                                                        : stacks[i]->lo;
    char* end = stacks[i]->hi;
    stacks[i]->cold = true;
    size_t j = i + 1;
    for (; j < n; j++) {
      char* s = stacks[j]->kind == StackKind::Guarded ? stacks[j]->map()
                : stacks[j]->kind == StackKind::Slab  ? stacks[j]->lo - kStackGapBytes
                                                      : stacks[j]->lo;
      if (s != end) break;
      end = stacks[j]->hi;
      stacks[j]->cold = true;
    }
    madvise(start, size_t(end - start), MADV_DONTNEED);
    i = j;
  }
}

void stack_unmap(Stack* s) {
  if (s->kind == StackKind::Guarded || s->kind == StackKind::Plain) {
    munmap(s->map(), s->maplen());
    if (s->kind == StackKind::Guarded) {
      LockGuard g(pool()->mu);
      pool()->guarded_live--;
    }
  }
  *s = Stack{};
}

void stack_prepare(Stack* s) {
  s->cold = false;
  // ASan leaves the redzones of the previous goroutine's frames poisoned.
  san::asan_unpoison(s->lo, s->size());
}

}  // namespace goro::rt
