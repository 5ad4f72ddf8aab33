#!/usr/bin/env bash
# check_gdb.sh GDB_TARGET GORO_GDB_PY [SANITIZER] [HAVE_SDT]
# Runs tests/gdb_target under gdb in batch mode and checks that the goro gdb
# script (tools/gdb/goro-gdb.py):
#   1. lists the three parked goroutines with their wait reasons and names,
#      and the running one (goro-goroutines) in the live process;
#   2. walks a parked goroutine's stack from its saved context (goro-bt),
#      and finds the thread of the running one;
#   3. does both again on a core file written with gcore;
# and that a USDT probe really fires (gdb's break -probe-stap goro:g_create).
# Skips (exit 77) if gdb is missing or ptrace is not permitted.
set -uo pipefail

target=${1:?usage: check_gdb.sh gdb_target goro-gdb.py [sanitizer] [have_sdt]}
script=${2:?usage: check_gdb.sh gdb_target goro-gdb.py [sanitizer] [have_sdt]}
san=${3:-}
have_sdt=${4:-1}
command -v gdb > /dev/null || { echo "check_gdb: SKIP: gdb is not installed (scripts/install-deps.sh)"; exit 77; }
[ -x "$target" ] || { echo "check_gdb: no such program: $target" >&2; exit 1; }
[ -f "$script" ] || { echo "check_gdb: no such file: $script" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
shown=""
gdbq=(gdb -batch -nx -q -ex 'set debuginfod enabled off' -ex 'set confirm off'
      -ex 'set pagination off' -ex 'set print thread-events off')
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}

check() {  # check FILE WHAT PATTERN (extended regex, one line)
  if grep -Eq -- "$3" "$1"; then
    echo "check_gdb: ok: $2"
  else
    echo "check_gdb: FAIL: $2: no line matching /$3/ in $(basename "$1")" >&2
    fail=1
    shown="$shown $1"
  fi
}

listing_checks() {  # listing_checks FILE WHERE
  check "$1" "$2: goroutine 1 parked on a channel" \
    '^goroutine 1 \[chan receive\] name="gdb-recv" entry=recv_waiter$'
  check "$1" "$2: goroutine 2 sleeping" '^goroutine 2 \[sleep\] name="gdb-sleep" entry=sleeper$'
  check "$1" "$2: goroutine 3 waiting for a mutex" \
    '^goroutine 3 \[sync\.Mutex\.Lock\] name="gdb-mutex" entry=mutex_waiter$'
  check "$1" "$2: goroutine 4 running" '^goroutine 4 \[running\] name="gdb-spin" entry=spinner$'
  check "$1" "$2: count" '^4 goroutines$'
  check "$1" "$2: goro-bt 4 finds the running goroutine's thread" \
    '^  running on thread [0-9]+ \(LWP [0-9]+\):$'
  check "$1" "$2: goro-bt 4 shows that thread's stack" '^#[0-9]+ +(0x[0-9a-f]+ in )?spinner '
  check "$1" "$2: goro-bt 1 header" '^goroutine 1 \[chan receive\]:$'
  check "$1" "$2: goro-bt 1 reaches goro_chan_recv" '^#[0-9]+ +(0x[0-9a-f]+ in )?goro_chan_recv'
  check "$1" "$2: goro-bt 1 reaches the goroutine's function" \
    '^#[0-9]+ +0x[0-9a-f]+ in recv_waiter at .*gdb_target\.c:[0-9]+$'
  check "$1" "$2: goro-bt 3 reaches goro_mutex_lock" '^#[0-9]+ +(0x[0-9a-f]+ in )?goro_mutex_lock'
  check "$1" "$2: goro-bt 3 reaches the goroutine's function" \
    '^#[0-9]+ +0x[0-9a-f]+ in mutex_waiter at .*gdb_target\.c:[0-9]+$'
}

# 1-2. Live. A sanitizer build reserves terabytes of shadow memory, which
# gcore would try to read: the core part runs in the plain build only.
core="$tmp/gdb_target.core"
gcore=(-ex "gcore $core")
[ -n "$san" ] && gcore=()
"${gdbq[@]}" -ex "source $script" -ex 'break gdb_target_ready' -ex run \
  -ex goro-goroutines -ex 'goro-bt 1' -ex 'goro-bt 3' -ex 'goro-bt 4' "${gcore[@]}" -ex kill \
  "$target" > "$tmp/live.txt" 2>&1
if grep -Eq 'ptrace: Operation not permitted|Could not trace the inferior|not permitted to trace' "$tmp/live.txt"; then
  echo "check_gdb: SKIP: ptrace is not permitted here"; cat "$tmp/live.txt"; exit 77
fi
if ! grep -q 'Breakpoint 1, .*gdb_target_ready' "$tmp/live.txt"; then
  echo "check_gdb: FAIL: gdb_target did not reach gdb_target_ready under gdb:" >&2
  cat "$tmp/live.txt" >&2
  exit 1
fi
listing_checks "$tmp/live.txt" live

# 3. Core file.
if [ -n "$san" ]; then
  echo "check_gdb: note: $san sanitizer build: the core-file part runs in the plain build only"
elif [ -s "$core" ]; then
  "${gdbq[@]}" -ex "source $script" -ex goro-goroutines -ex 'goro-bt 1' -ex 'goro-bt 3' -ex 'goro-bt 4' \
    "$target" "$core" > "$tmp/core.txt" 2>&1
  listing_checks "$tmp/core.txt" core
else
  echo "check_gdb: FAIL: gcore wrote no core file:" >&2
  cat "$tmp/live.txt" >&2
  fail=1
fi

# 4. A USDT probe fires: the first goroutine (id 1) created from a plain thread (0).
if [ "$have_sdt" != 0 ]; then
  # libgoro.so is loaded once main runs: only then can the probe be found.
  "${gdbq[@]}" -ex 'break main' -ex run -ex 'break -probe-stap goro:g_create' -ex continue \
    -ex 'printf "probe g_create goid=%d creator=%d\n", $_probe_arg0, $_probe_arg1' -ex kill \
    "$target" > "$tmp/probe.txt" 2>&1
  check "$tmp/probe.txt" "USDT goro:g_create fires with its arguments" \
    '^probe g_create goid=1 creator=0$'
else
  echo "check_gdb: note: built without sys/sdt.h, probe firing not checked"
fi

[ -n "$san" ] && echo "check_gdb: sanitizer build: $san"
for f in $(printf '%s\n' $shown | sort -u); do
  echo "---- $(basename "$f"):" >&2
  cat "$f" >&2
done
if [ "$fail" -ne 0 ]; then
  echo "check_gdb: FAILED" >&2
  exit 1
fi
echo "check_gdb: OK"
