#!/bin/sh
# check_usdt.sh LIBGORO_SO PROBES_H [HAVE_SDT] [SANITIZER]
# Checks that every USDT probe listed in core/sched/probes.h (the contract
# with goro-audit, docs/probes.md) is in libgoro.so as a stapsdt note of
# provider "goro", with the documented number of arguments (readelf -n).
# HAVE_SDT=0 (sys/sdt.h was missing at configure time): skip (exit 77).
# SANITIZER=thread: the TSan build has no asynchronous preemption
# (core/sched/preempt.cpp), so goro:preempt_signal is compiled out there.
# That a probe really fires is checked by check_gdb.sh (gdb break -probe-stap).
set -eu

usage="usage: check_usdt.sh path/to/libgoro.so path/to/probes.h [have_sdt] [sanitizer]"
lib=${1:?$usage}
hdr=${2:?$usage}
have=${3:-1}
san=${4:-}
[ -f "$lib" ] || { echo "check_usdt: no such file: $lib" >&2; exit 1; }
[ -f "$hdr" ] || { echo "check_usdt: no such file: $hdr" >&2; exit 1; }
if [ "$have" = 0 ]; then
  echo "check_usdt: SKIP: built without sys/sdt.h (install systemtap-sdt-dev)"
  exit 77
fi
command -v readelf > /dev/null || { echo "check_usdt: SKIP: no readelf"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The contract: lines "//   goro:NAME   arg, arg, ..." in probes.h.
sed -n 's|^//   goro:\([a-z_]*\) *\(.*\)$|\1 \2|p' "$hdr" > "$tmp/want"
[ -s "$tmp/want" ] || { echo "check_usdt: FAIL: no probe listed in $hdr" >&2; exit 1; }

# readelf -n prints, per probe site: Provider, Name, Location, Arguments.
readelf -n "$lib" | awk '
  /^ *Provider:/ { prov = $2 }
  /^ *Name:/ { name = $2 }
  /^ *Arguments:/ { if (prov == "goro") print name, NF - 1 }
' > "$tmp/have"

fail=0
n=0
while read -r name args; do
  n=$((n + 1))
  # Argument count: commas + 1, ignoring "(...)" remarks.
  nargs=$(printf '%s\n' "$args" | sed 's/([^)]*)//g' | awk -F, '{ print NF }')
  sites=$(awk -v p="$name" '$1 == p' "$tmp/have" | wc -l)
  if [ "$sites" -eq 0 ] && [ "$san" = thread ] && [ "$name" = preempt_signal ]; then
    echo "check_usdt: goro:$name: not in the TSan build (no async preemption there): expected"
    continue
  fi
  if [ "$sites" -eq 0 ]; then
    echo "check_usdt: FAIL: probe goro:$name is not in $lib" >&2
    fail=1
    continue
  fi
  bad=$(awk -v p="$name" -v k="$nargs" '$1 == p && $2 != k { print $2 }' "$tmp/have" | sort -u)
  if [ -n "$bad" ]; then
    echo "check_usdt: FAIL: goro:$name has $bad argument(s) at some site, probes.h says $nargs" >&2
    fail=1
    continue
  fi
  echo "check_usdt: goro:$name: $sites site(s), $nargs argument(s)"
done < "$tmp/want"

# And nothing undocumented: every goro probe in the .so is in probes.h.
for p in $(awk '{ print $1 }' "$tmp/have" | sort -u); do
  if ! awk -v p="$p" '$1 == p { f = 1 } END { exit !f }' "$tmp/want"; then
    echo "check_usdt: FAIL: goro:$p is in $lib but not documented in probes.h" >&2
    fail=1
  fi
done

if [ "$fail" -ne 0 ]; then
  echo "check_usdt: FAILED" >&2
  exit 1
fi
echo "check_usdt: OK: the $n probes of probes.h checked in $lib"
