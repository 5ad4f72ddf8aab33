// group.h: Group, the errgroup behind goro_group_t. See group.cpp.
#pragma once

#include <cstdint>

#include "goro/goro.h"
#include "os/futex.h"
#include "sync/context.h"
#include "sync/sem.h"
#include "sync/waitgroup.h"

namespace goro::rt {

struct Group {
  Context* ctx = nullptr;     // child of the parent; cancelled at first error and by wait
  Mutex mu;
  int limit = -1;             // (mu) < 0: none
  Semaphore* sem = nullptr;   // (mu) limit slots; replaced only while active == 0
  int64_t active = 0;         // (mu) tasks inside go() or running
  bool has_err = false;       // (mu)
  int err = 0;                // (mu) first non-zero task result
  WaitGroup wg;               // tasks started and not yet finished
};

int group_new(Context* parent, Group** out);
int group_set_limit(Group* g, int n);
// group_go() starts fn(ctx, arg); block == false: -EAGAIN at the limit.
int group_go(Group* g, goro_task_fn fn, void* arg, bool block);
int group_wait(Group* g);
int group_free(Group* g);

}  // namespace goro::rt
