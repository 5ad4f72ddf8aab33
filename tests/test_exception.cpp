// test_exception: C++ exceptions that escape a goroutine never cross the
// runtime or the C ABI. Under GORO_EXCEPTION_CONTINUE the goroutine ends
// (its destructors run) and everything else keeps going; under the default
// GORO_EXCEPTION_ABORT the process aborts with a report naming the goroutine.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <setjmp.h>
#include <stdexcept>
#include <string>

extern "C" {
#include <cmocka.h>
}

#include "goro/goro.h"

static std::atomic<int> g_unwound{0};
static std::atomic<int> g_after{0};

struct Guard {
  goro_wg_t* wg;
  ~Guard() {
    g_unwound++;
    goro_wg_done(wg);
  }
};

static void throw_std(void* arg) {
  Guard g{static_cast<goro_wg_t*>(arg)};
  throw std::runtime_error("boom");
}

static void throw_int(void* arg) {
  Guard g{static_cast<goro_wg_t*>(arg)};
  throw 42;
}

static void fine(void* arg) {
  g_after++;
  goro_wg_done(static_cast<goro_wg_t*>(arg));
}

static void thrower_main(void*) { throw std::logic_error("from goro_run"); }

static void test_continue_policy(void**) {
  goro_config_t cfg = GORO_CONFIG_INIT;
  cfg.exception_policy = GORO_EXCEPTION_CONTINUE;
  cfg.maxprocs = 2;
  assert_int_equal(goro_init(&cfg), 0);
  goro_wg_t* wg;
  assert_int_equal(goro_wg_new(&wg), 0);
  const int n = 50;
  assert_int_equal(goro_wg_add(wg, 3 * n), 0);
  for (int i = 0; i < n; i++) {
    assert_int_equal(goro_go(throw_std, wg), 0);
    assert_int_equal(goro_go(throw_int, wg), 0);
    assert_int_equal(goro_go(fine, wg), 0);
  }
  assert_int_equal(goro_wg_wait(wg), 0);
  assert_int_equal(g_unwound.load(), 2 * n);  // destructors ran during unwinding
  assert_int_equal(g_after.load(), n);
  // goro_run returns once fn's goroutine is gone, even when fn threw.
  assert_int_equal(goro_run(thrower_main, nullptr), 0);
  // Every thrower has exited.
  for (int i = 0; i < 1000 && goro_num_goroutine() != 0; i++) usleep(1000);
  assert_int_equal(goro_num_goroutine(), 0);
  assert_int_equal(goro_wg_free(wg), 0);
  assert_int_equal(goro_shutdown(), 0);
}

static void abort_main(void*) { throw std::runtime_error("the answer is 42"); }

static void test_abort_policy_in_child(void**) {
  int pipefd[2];
  assert_int_equal(pipe(pipefd), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dup2(pipefd[1], 2);
    close(pipefd[0]);
    // The parent shut its runtime down in an earlier test: restart it.
    int rc = goro_init(nullptr);
    if (rc != 0 && rc != -EALREADY) _exit(3);
    goro_run(abort_main, nullptr);
    _exit(0);  // not reached: the default policy aborts
  }
  close(pipefd[1]);
  std::string out;
  char buf[512];
  ssize_t r;
  while ((r = read(pipefd[0], buf, sizeof buf)) > 0) out.append(buf, size_t(r));
  close(pipefd[0]);
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  fprintf(stderr, "child stderr: %s", out.c_str());
  assert_true(WIFSIGNALED(st));
  assert_int_equal(WTERMSIG(st), SIGABRT);
  assert_non_null(strstr(out.c_str(), "goroutine"));
  assert_non_null(strstr(out.c_str(), "uncaught exception: the answer is 42"));
}

static void test_bad_policy(void**) {
  goro_config_t cfg = GORO_CONFIG_INIT;
  cfg.exception_policy = 7;
  assert_int_equal(goro_init(&cfg), -EINVAL);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_policy),
      cmocka_unit_test(test_continue_policy),
      cmocka_unit_test(test_abort_policy_in_child),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
