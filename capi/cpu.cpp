// cpu.cpp: the extern "C" layer of the CPU limits and the automatic maxprocs
// (goro_cpu_limits, goro_maxprocs_auto). The policy is core/sched/maxprocs.cpp.
#include <cerrno>
#include <cstring>

#include "goro/goro.h"
#include "sched/maxprocs.h"
#include "sched/sched.h"

using namespace goro::rt;

extern "C" {

GORO_API int goro_cpu_limits(goro_cpu_limits_t* lim) noexcept {
  if (!lim) return -EINVAL;
  size_t size = lim->size;
  if (size < sizeof(size_t) || size > 65536) return -EINVAL;
  goro_cpu_limits_t full;
  maxprocs_limits(&full);
  // Older callers get the prefix they know; newer ones get zeros past ours.
  size_t n = size < sizeof full ? size : sizeof full;
  memcpy(reinterpret_cast<char*>(lim) + sizeof(size_t),
         reinterpret_cast<char*>(&full) + sizeof(size_t), n - sizeof(size_t));
  if (size > sizeof full) memset(reinterpret_cast<char*>(lim) + sizeof full, 0, size - sizeof full);
  return 0;
}

GORO_API int goro_maxprocs_auto(void) noexcept {
  if (int err = rt_ensure_started()) return err;
  ApiRef ref;
  if (!ref.ok()) return -ESHUTDOWN;
  return maxprocs_unpin();
}

}  // extern "C"
