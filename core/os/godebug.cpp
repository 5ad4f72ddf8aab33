// godebug.cpp: parses GORO_DEBUG (see godebug.h for the names and the rules).
#include "os/godebug.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace goro::rt {

DebugVars g_debug;

namespace {

// Parses a non-negative decimal integer that fills [s, s+n) exactly.
bool parse_int(const char* s, size_t n, int64_t* out) {
  if (n == 0 || n > 18) return false;
  int64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

bool name_is(const char* s, size_t n, const char* name) {
  return strlen(name) == n && memcmp(s, name, n) == 0;
}

}  // namespace

int debug_parse(const char* s, DebugVars* out, bool warn) {
  *out = DebugVars{};
  if (!s) return 0;
  int bad = 0;
  while (*s) {
    const char* end = strchr(s, ',');
    size_t len = end ? size_t(end - s) : strlen(s);
    const char* eq = static_cast<const char*>(memchr(s, '=', len));
    int64_t v = 0;
    bool ok = false;
    if (eq && parse_int(eq + 1, len - size_t(eq + 1 - s), &v)) {
      size_t nl = size_t(eq - s);
      ok = true;
      if (name_is(s, nl, "schedtrace")) out->schedtrace_ms = v;
      else if (name_is(s, nl, "scheddetail")) out->scheddetail = v != 0;
      else if (name_is(s, nl, "asyncpreemptoff")) out->asyncpreemptoff = v != 0;
      else if (name_is(s, nl, "maxprocs")) out->maxprocs = v != 0;
      else if (name_is(s, nl, "sigquitdump")) out->sigquitdump = v != 0;
      else ok = false;
    }
    if (!ok && len > 0) {
      bad++;
      if (warn) fprintf(stderr, "goro: GORO_DEBUG: ignoring \"%.*s\"\n", int(len), s);
    }
    s += len;
    if (*s == ',') s++;
  }
  return bad;
}

void debug_parse_env() { debug_parse(getenv("GORO_DEBUG"), &g_debug, true); }

}  // namespace goro::rt
