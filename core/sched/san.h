// san.h: sanitizer hooks for fiber switches, in one place.
//
// Boost.Context switches stacks in assembly the sanitizers cannot see, so
// every switch (g0 -> G and G -> g0) tells them, in this order (see
// docs/design.md, "Sanitizers"):
//   TSan: __tsan_switch_to_fiber(target) immediately before the jump.
//   ASan: __sanitizer_start_switch_fiber(&save, target_stack) before the
//         jump (save == NULL when the current fiber ends for good), and
//         __sanitizer_finish_switch_fiber(save, &from_bottom, &from_size) as
//         the first thing after it.
// In normal builds everything here compiles to nothing.
#pragma once

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define GORO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORO_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define GORO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GORO_TSAN 1
#endif
#endif

#if GORO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if GORO_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace goro::rt::san {

#if GORO_ASAN
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif
#if GORO_TSAN
constexpr bool kTsan = true;
#else
constexpr bool kTsan = false;
#endif
#if GORO_ASAN || GORO_TSAN
constexpr bool kEnabled = true;
#else
constexpr bool kEnabled = false;
#endif

inline void* tsan_current_fiber() {
#if GORO_TSAN
  return __tsan_get_current_fiber();
#else
  return nullptr;
#endif
}
inline void* tsan_create_fiber() {
#if GORO_TSAN
  return __tsan_create_fiber(0);
#else
  return nullptr;
#endif
}
inline void tsan_destroy_fiber(void* f) {
#if GORO_TSAN
  if (f) __tsan_destroy_fiber(f);
#else
  (void)f;
#endif
}
inline void tsan_switch(void* f) {
#if GORO_TSAN
  __tsan_switch_to_fiber(f, 0);
#else
  (void)f;
#endif
}
inline void asan_start_switch(void** save, const void* bottom, size_t size) {
#if GORO_ASAN
  __sanitizer_start_switch_fiber(save, bottom, size);
#else
  (void)save, (void)bottom, (void)size;
#endif
}
inline void asan_finish_switch(void* save, const void** bottom_old, size_t* size_old) {
#if GORO_ASAN
  __sanitizer_finish_switch_fiber(save, bottom_old, size_old);
#else
  (void)save, (void)bottom_old, (void)size_old;
#endif
}
inline void asan_unpoison(void* p, size_t n) {
#if GORO_ASAN
  __asan_unpoison_memory_region(p, n);
#else
  (void)p, (void)n;
#endif
}

}  // namespace goro::rt::san
