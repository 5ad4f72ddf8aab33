#!/usr/bin/env bash
# scripts/bench-throttle.sh: CPU-quota benchmarks in real cgroup v1 cpu
# cgroups (needs root and the v1 cpu controller; prints why and exits 0 when
# they are missing). `make bench` runs it after scripts/bench.sh.
#
#   scripts/bench-throttle.sh              the seeds' scenario: a 1-CPU quota,
#       4 CPU-bound goroutines + a 1 ms sleeper, 5 s; goro with maxprocs forced
#       to 2 and automatic, Go 1.19 with GOMAXPROCS unset and =1.
#   scripts/bench-throttle.sh --rounding   the data behind the default rounding
#       (docs/maxprocs.md): quotas of 1.5 and 0.5 CPUs, goro automatic with
#       ceil, floor, and ceil with a minimum of 2 (Go 1.25's rule).
#
# For each run it prints nr_throttled per second (from the cgroup's cpu.stat,
# before and after), the throttled share of periods, the sleeper's lateness
# (p50, p99, max) and the work done per second (units of 2^16 xorshift steps,
# the same loop in C and Go).
#
# Environment: BUILD_DIR (default <repo>/build), GO (default go),
#   THROTTLE_SECS (5), THROTTLE_REPS (1 for the scenario, 3 for --rounding),
#   THROTTLE_SHARES (cpu.shares of the cgroup; default the kernel's 1024). On
#   a busy machine the cgroup competes as ONE entity of weight cpu.shares
#   against every other runnable task, so the quota may never be reached;
#   THROTTLE_SHARES=262144 shields the run from that load (the quota still
#   caps it).
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
GO=${GO:-go}
SECS=${THROTTLE_SECS:-5}
MODE=scenario
[[ ${1:-} == --rounding ]] && MODE=rounding
REPS=${THROTTLE_REPS:-$([[ $MODE == rounding ]] && echo 3 || echo 1)}
CPU=/sys/fs/cgroup/cpu

skip() { echo "bench-throttle: skipped: $*"; exit 0; }
[[ $(id -u) == 0 ]] || skip "needs root to create cgroups"
[[ -f $CPU/cpu.cfs_quota_us ]] || skip "no cgroup v1 cpu controller at $CPU"
BIN=$BUILD_DIR/bench/throttle
[[ -x $BIN ]] || { echo "bench-throttle: $BIN not found; build first" >&2; exit 2; }

GOBIN=
if command -v "$GO" >/dev/null 2>&1; then
  mkdir -p "$BUILD_DIR/bench/go"
  if (cd "$ROOT/bench/go/throttle" && "$GO" build -o "$BUILD_DIR/bench/go/throttle" main.go); then
    GOBIN=$BUILD_DIR/bench/go/throttle
  else
    echo "bench-throttle: go build failed; Go rows skipped" >&2
  fi
else
  echo "bench-throttle: '$GO' not found; Go rows skipped" >&2
fi

CG=$CPU/goro-bench-throttle-$$
cleanup() {
  if [[ -d $CG ]]; then
    # Anything still inside goes back to the root cgroup first.
    while read -r p; do echo "$p" >"$CPU/cgroup.procs" 2>/dev/null; done <"$CG/cgroup.procs"
    rmdir "$CG" 2>/dev/null || echo "bench-throttle: could not remove $CG" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir "$CG" || skip "cannot create $CG"
if [[ -n ${THROTTLE_SHARES:-} ]]; then
  echo "$THROTTLE_SHARES" >"$CG/cpu.shares" || { echo "bench-throttle: bad THROTTLE_SHARES" >&2; exit 2; }
fi

stat_field() { awk -v k="$1" '$1 == k { print $2 }' "$CG/cpu.stat"; }

# run LABEL QUOTA_US CMD...: one run inside the cgroup; prints a table row.
run() {
  local label=$1 quota=$2; shift 2
  echo 100000 >"$CG/cpu.cfs_period_us"
  echo "$quota" >"$CG/cpu.cfs_quota_us"
  local p0 t0 tt0 p1 t1 tt1 out
  p0=$(stat_field nr_periods); t0=$(stat_field nr_throttled); tt0=$(stat_field throttled_time)
  out=$(sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG" "$@")
  p1=$(stat_field nr_periods); t1=$(stat_field nr_throttled); tt1=$(stat_field throttled_time)
  if ! grep -q '^bench=throttle' <<<"$out"; then
    echo "bench-throttle: no result from: $*" >&2
    return 1
  fi
  awk -v label="$label" -v quota="$quota" -v secs="$SECS" -v np=$((p1 - p0)) -v nt=$((t1 - t0)) \
      -v tt=$((tt1 - tt0)) '
    { for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
    END {
      printf "%-26s %5.2f %8s %12.1f %9.0f%% %9.1f %9.1f %9.1f %9.1f %9.1f\n", label, quota / 100000,
        f["maxprocs"], nt / secs, np ? 100 * nt / np : 0, tt / 1e6 / secs, f["late_p50_us"] / 1e3,
        f["late_p99_us"] / 1e3, f["late_max_us"] / 1e3, f["work_per_s"]
    }' <<<"$out"
}

header() {
  printf '%-26s %5s %8s %12s %10s %9s %9s %9s %9s %9s\n' run quota maxprocs "throttled/s" \
    "% periods" "thr ms/s" "p50 ms" "p99 ms" "max ms" "work/s"
}

echo "bench-throttle: $(nproc) CPUs, $(uname -r), load: $(cut -d' ' -f1-3 /proc/loadavg), ${SECS}s per run, $REPS rep(s), cpu.shares $(cat "$CG/cpu.shares")"
header
fail=0
for ((rep = 1; rep <= REPS; rep++)); do
  if [[ $MODE == scenario ]]; then
    run "goro maxprocs=2 (forced)" 100000 "$BIN" -t "$SECS" -m 2 || fail=1
    run "goro auto" 100000 "$BIN" -t "$SECS" || fail=1
    if [[ -n $GOBIN ]]; then
      run "go1.19 GOMAXPROCS unset" 100000 env -u GOMAXPROCS "$GOBIN" -t "$SECS" || fail=1
      run "go1.19 GOMAXPROCS=1" 100000 env GOMAXPROCS=1 "$GOBIN" -t "$SECS" || fail=1
    fi
  else
    for q in 150000 50000; do
      run "goro auto ceil" $q "$BIN" -t "$SECS" -r ceil || fail=1
      run "goro auto floor" $q "$BIN" -t "$SECS" -r floor || fail=1
      run "goro ceil min 2 (Go 1.25)" $q "$BIN" -t "$SECS" -r ceil -n 2 || fail=1
    done
  fi
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $fail
