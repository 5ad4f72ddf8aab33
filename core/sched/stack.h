// stack.h: goroutine stacks.
//
// Owns: allocation, pooling and overflow checking of goroutine stacks.
//
// Two kinds of stack, because Linux allows only vm.max_map_count (65530 by
// default) mappings per process and a guard page costs two of them:
//  - guarded: its own mapping with a PROT_NONE guard region below it. An
//    overflow faults in the guard and the SIGSEGV handler reports
//    "goroutine N overflowed its stack". At most `guarded budget` exist at
//    once (default max_map_count / 4).
//  - slab: carved out of large shared mappings (no VMA cost). Below each
//    stack lies a 16 KiB gap that nothing writes, so a small overflow lands
//    there rather than in a neighbour's frames. Overflow is detected by a
//    stack-pointer check at every switch out of the G and in the fault
//    handler: after the fact and best effort. A bottom canary was rejected:
//    it costs a second resident page per goroutine (and a ~12 us page fault
//    per new stack on a VM), doubling memory per parked goroutine.
// Invariants:
//  - A Stack is owned by exactly one G, by one P (its spare: the scheduler
//    swaps it with a new G's own at the G's first run) or by the pool.
//  - Free stacks stay mapped (munmap costs a TLB shootdown, ~50 us on a VM).
//    Their pages go back to the kernel with MADV_DONTNEED: beyond a hot cache
//    in the pool, and through the scheduler's scavenger for stacks cached on
//    free Gs (proc.cpp), so RSS follows the live goroutine count, not its peak.
#pragma once

#include <cstddef>
#include <cstdint>

namespace goro::rt {

enum class StackKind : uint8_t { None, Guarded, Slab, Plain };

constexpr size_t kStackGuardBytes = 64 * 1024;  // PROT_NONE region below a guarded stack
constexpr size_t kStackGapBytes = 16 * 1024;    // untouched gap below a slab stack

// 24 bytes, so that it fits in the G's second cache line with the rest of
// what the running M uses (runtime2.h): the mapping of a Guarded or Plain
// stack is derived, not stored.
struct Stack {
  char* lo = nullptr;      // lowest usable byte
  char* hi = nullptr;      // one past the highest byte; the stack grows down from here
  StackKind kind = StackKind::None;
  bool cold = false;       // pages returned to the kernel (MADV_DONTNEED) while free

  size_t size() const { return size_t(hi - lo); }
  // The stack's own mapping (Guarded: the guard region, then the stack;
  // Plain: the stack); null for a slab stack, which lives in a slab's.
  char* map() const {
    return kind == StackKind::Guarded ? lo - kStackGuardBytes
           : kind == StackKind::Plain ? lo
                                      : nullptr;
  }
  size_t maplen() const { return size() + (kind == StackKind::Guarded ? kStackGuardBytes : 0); }
  bool in_guard(const void* addr) const {
    return kind == StackKind::Guarded && (const char*)addr >= map() && (const char*)addr < lo;
  }
};

// stack_pool_init() configures the pool: the default stack size (page
// rounded) and how many guarded stacks may exist (<0: none).
void stack_pool_init(size_t default_size, long guarded_budget);
// stack_pool_destroy() unmaps every pooled stack and slab. All stacks must
// have been returned first.
void stack_pool_destroy();

// stack_alloc() returns false on out-of-memory.
bool stack_alloc(Stack* s, size_t size);
void stack_free(Stack* s);
// stack_unmap() drops a stack for good, at shutdown: its own mapping is
// unmapped; a slab stack goes with its slab in stack_pool_destroy().
void stack_unmap(Stack* s);
// stack_release_batch() returns the pages of n free stacks to the kernel
// (MADV_DONTNEED, mappings kept) and marks them cold. Adjacent stacks are
// released in one call: on a VM every madvise costs a TLB shootdown.
void stack_release_batch(Stack** stacks, size_t n);
// stack_prepare() readies a (possibly reused) stack for a new goroutine.
void stack_prepare(Stack* s);
// stack_sp_ok() is false if sp (a saved stack pointer) lies below the stack.
inline bool stack_sp_ok(const Stack* s, const void* sp) {
  return s->kind == StackKind::Guarded || static_cast<const char*>(sp) >= s->lo;
}

}  // namespace goro::rt
