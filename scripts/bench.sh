#!/usr/bin/env bash
# scripts/bench.sh: run goro's benchmarks beside their Go references and print
# one table with the ratio and the verdict against each target.
#
#   scripts/bench.sh            (what `make bench` runs, after building)
#
# The C benchmarks come from build/bench/ (bench/*.c, built by CMake); the Go
# references (bench/go/<name>/main.go) are built here with `go build`. Both
# print `bench=NAME procs=P ns_per_op=X best=Y stat=median reps=R n=N`; the
# table shows the medians. Each runs at every P count in BENCH_PROCS.
#
# It is a report, not a test: a target that is not met still exits 0. It exits
# 1 if a benchmark crashes, hangs (BENCH_TIMEOUT) or prints no result, and 2 if
# the benchmark binaries are missing.
#
# Environment:
#   BUILD_DIR      CMake build directory (default: <repo>/build)
#   BENCH_PROCS    P counts to run (default: "1 2")
#   BENCH_REPS     timed repetitions per run, after one warm-up (default: 5)
#   BENCH_TIMEOUT  seconds before one run counts as hung (default: 60)
#   GO             the go command (default: go); if absent, Go columns show "-"
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
BENCH_BIN=$BUILD_DIR/bench
BENCH_PROCS=${BENCH_PROCS:-1 2}
BENCH_REPS=${BENCH_REPS:-5}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-60}
GO=${GO:-go}

# name | table label | Go reference (bench/go/<dir>, "-" for none) | target goro/go ("-" for none)
BENCHES=(
  "spawn|spawn+exit+wg|spawn|0.25"
  "yield|yield pair|yield|0.5"
  "spawn_thread|spawn from thread|-|-"
  "pingpong|unbuffered ping-pong|pingpong|0.5"
  "bufchan|buffered chan (1024)|bufchan|0.75"
  "chanmpmc|8x8 goroutines, chan (8)|chanmpmc|-"
  "timer|1ms sleep lateness|timer|-"
  "mutex|mutex vs sync.Mutex|mutex|-"
  "hog|wait behind hogs (async)|hog|-"
  "blockburst|10k blocking calls|blockburst|-"
  "audit_overhead|ping-pong, goro-audit on|-|-"
  "echo|echo 1000 conns|echo|1.0"
  "bounded|bounded 1M items (pool)|bounded|-"
)

failed=0
fail() { echo "bench.sh: $*" >&2; failed=1; }

for b in "${BENCHES[@]}"; do
  IFS='|' read -r name _ _ _ <<<"$b"
  if [[ ! -x $BENCH_BIN/$name ]]; then
    echo "bench.sh: $BENCH_BIN/$name not found; build first (make, or cmake --build $BUILD_DIR)" >&2
    exit 2
  fi
done

# --- Go references ----------------------------------------------------------
GO_OUT=$BENCH_BIN/go
have_go=0
if command -v "$GO" >/dev/null 2>&1; then
  mkdir -p "$GO_OUT"
  # go needs a cache directory; CI sometimes runs without HOME.
  if [[ -z ${HOME:-} && -z ${XDG_CACHE_HOME:-} ]]; then
    export GOCACHE=${GOCACHE:-$GO_OUT/cache}
  fi
  if [[ -z ${HOME:-} ]]; then
    export GOPATH=${GOPATH:-$GO_OUT/gopath}
  fi
  have_go=1
  for b in "${BENCHES[@]}"; do
    IFS='|' read -r name _ godir _ <<<"$b"
    [[ $godir == - ]] && continue
    # Single-file, std-only programs: no module needed (GO111MODULE=off would
    # also do, but building a file list works in module mode outside a module).
    if ! (cd "$ROOT/bench/go/$godir" && "$GO" build -o "$GO_OUT/$godir" main.go); then
      fail "go build of bench/go/$godir failed"
      have_go=0
    fi
  done
else
  echo "bench.sh: '$GO' not found; Go reference columns will be empty" >&2
fi

# --- Runs -------------------------------------------------------------------
RESULTS=$BENCH_BIN/results.txt
: >"$RESULTS"
DETAILS=$BENCH_BIN/details.txt
: >"$DETAILS"

# run LABEL CMD...: runs one benchmark with a timeout, appends its bench= lines
# to $RESULTS prefixed with LABEL ("goro" or "go"), reports crashes and hangs.
run() {
  local who=$1; shift
  local out err rc
  err=$(mktemp)
  out=$(timeout -k 5 "$BENCH_TIMEOUT" "$@" 2>"$err")
  rc=$?
  if ((rc != 0)); then
    if ((rc == 124 || rc == 137)); then
      fail "HUNG (no exit after ${BENCH_TIMEOUT}s): $*"
    elif ((rc > 128)); then
      fail "CRASHED (signal $((rc - 128))): $*"
    else
      fail "FAILED (exit $rc): $*"
    fi
    sed 's/^/    /' "$err" >&2
  elif ! grep -q '^bench=' <<<"$out"; then
    fail "no bench= line from: $*"
    sed 's/^/    /' "$err" >&2
  fi
  rm -f "$err"
  grep '^bench=' <<<"$out" | sed "s/^/who=$who /" >>"$RESULTS"
  # Anything else a benchmark prints (e.g. bounded's side-by-side table) is
  # kept for the end of the report.
  grep -v '^bench=' <<<"$out" >>"$DETAILS" || true
}

for procs in $BENCH_PROCS; do
  for b in "${BENCHES[@]}"; do
    IFS='|' read -r name _ godir _ <<<"$b"
    run goro "$BENCH_BIN/$name" -p "$procs" -r "$BENCH_REPS"
    if ((have_go)) && [[ $godir != - ]]; then
      # Go's own name for the benchmark is the goro one (bench=<name>).
      run go env GOMAXPROCS="$procs" "$GO_OUT/$godir" -reps "$BENCH_REPS"
    fi
  done
done

# --- Table ------------------------------------------------------------------
# field WHO NAME PROCS KEY: a value from $RESULTS, or "-".
field() {
  awk -v who="$1" -v name="$2" -v procs="$3" -v key="$4" '
    { delete f; for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
    f["who"] == who && f["bench"] == name && f["procs"] == procs { v = f[key] }
    END { print (v == "" ? "-" : v) }' "$RESULTS"
}

echo
echo "goro benchmarks: $(nproc) CPUs, $(uname -sr), $("$GO" version 2>/dev/null | awk '{print $3}')"
echo "ns/op: median of $BENCH_REPS timed runs after one warm-up; ratio = goro/go, lower is better"
printf '%-20s %5s %12s %10s %8s %7s   %s\n' benchmark procs "goro ns/op" "go ns/op" goro/go target verdict
for b in "${BENCHES[@]}"; do
  IFS='|' read -r name label _ target <<<"$b"
  for procs in $BENCH_PROCS; do
    g=$(field goro "$name" "$procs" ns_per_op)
    r=$(field go "$name" "$procs" ns_per_op)
    ratio=- verdict=-
    if [[ $g != - && $r != - ]]; then
      ratio=$(awk -v a="$g" -v b="$r" 'BEGIN { printf "%.2f", a / b }')
      if [[ $target != - ]]; then
        if awk -v x="$ratio" -v t="$target" 'BEGIN { exit !(x <= t) }'; then
          verdict=met
        else
          verdict="NOT met (ratio $ratio vs target $target)"
        fi
      else
        verdict="(no target)"
      fi
    elif [[ $g == - ]]; then
      verdict="no result"
    else
      verdict="(no target)"
    fi
    printf '%-20s %5s %12s %10s %8s %7s   %s\n' "$label" "$procs" "$g" "$r" "$ratio" "$target" "$verdict"
  done
done
# goro-audit's probe cost: the audit_overhead line carries both sides.
awk '/bench=audit_overhead/ {
    delete f; for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    if (f["audit"] == "unavailable") { printf "goro-audit overhead (procs %s): not measured (needs root and the plain build)\n", f["procs"]; next }
    printf "goro-audit overhead (procs %s): thread ping-pong %s -> %s ns (x%s), goro ping-pong %s -> %s ns (x%s)\n",
      f["procs"], f["base"], f["ns_per_op"], f["ratio"], f["goro_base"], f["goro_audited"], f["goro_ratio"] }' "$RESULTS"
# The other preemption modes of bench/hog (docs/design.md, "Preemption").
awk '/bench=hog_(coop|ignore) / {
    delete f; for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    printf "%-5s %-11s procs %s: ready goroutine waits %.2f ms behind the hogs\n", f["who"], f["bench"], f["procs"], f["ns_per_op"] / 1e6 }' "$RESULTS"
# Thread counts of the blocking-call burst.
awk '/bench=blockburst / {
    delete f; for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    printf "%-5s blockburst procs %s: peak %s threads, %s created\n", f["who"], f["procs"], f["threads"], f["created"] }' "$RESULTS"
# Echo server (bench/echo.c vs Go net, one client program for both): req/s and latency.
awk '/bench=echo / {
    delete f; for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    rps[f["procs"], f["who"]] = f["rps"]; procs[f["procs"]] = 1
    printf "%-5s echo procs %s: %s req/s, p50 %s us, p99 %s us\n", f["who"], f["procs"], f["rps"], f["p50_us"], f["p99_us"] }
  END { for (p in procs) if (rps[p, "goro"] != "" && rps[p, "go"] > 0)
          printf "echo procs %s: goro/go req/s = %.2f (target >= 1.0)\n", p, rps[p, "goro"] / rps[p, "go"] }' "$RESULTS"
echo "raw results: $RESULTS"
if [[ -s $DETAILS ]]; then
  echo
  echo "tables printed by the benchmarks ($DETAILS):"
  cat "$DETAILS"
fi

if ((failed)); then
  echo "bench.sh: some benchmarks failed (see above)" >&2
  exit 1
fi
exit 0
