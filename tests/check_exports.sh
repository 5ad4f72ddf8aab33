#!/bin/sh
# check_exports.sh LIBGORO_SO
# Checks the dynamic symbol table of libgoro.so: every defined symbol is goro_*
# (or the version node GORO_0.1 itself), every goro_* symbol is the default
# version @@GORO_0.1, and the SONAME is libgoro.so.0.
set -eu

lib=${1:?usage: check_exports.sh path/to/libgoro.so}
node=GORO_0.1
soname=libgoro.so.0
[ -f "$lib" ] || { echo "check_exports: no such file: $lib" >&2; exit 1; }

fail=0
syms=$(nm -D --defined-only --with-symbol-versions "$lib" | awk 'NF >= 3 { print $3 }')
total=0
goro=0
for s in $syms; do
  total=$((total + 1))
  name=${s%%@*}
  case "$name" in
    "$node") continue ;;
    goro_*)
      goro=$((goro + 1))
      case "$s" in
        "$name@@$node") ;;
        *) echo "check_exports: FAIL: $s is not versioned @@$node" >&2; fail=1 ;;
      esac
      ;;
    *) echo "check_exports: FAIL: unexpected exported symbol: $s" >&2; fail=1 ;;
  esac
done
echo "check_exports: $lib: checked $total defined dynamic symbols ($goro goro_*): only goro_* and $node allowed, goro_* must be @@$node"
if [ "$goro" -eq 0 ]; then
  echo "check_exports: FAIL: no goro_* symbol exported" >&2
  fail=1
fi

got=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
if [ "$got" = "$soname" ]; then
  echo "check_exports: SONAME is $got"
else
  echo "check_exports: FAIL: SONAME is '$got', expected '$soname'" >&2
  fail=1
fi

# Hardening the link line asks for (-z now, -z relro).
if readelf -d "$lib" | grep -q 'BIND_NOW\|FLAGS_1.*NOW'; then
  echo "check_exports: BIND_NOW set"
else
  echo "check_exports: FAIL: not linked with -z now" >&2
  fail=1
fi
if readelf -lW "$lib" | grep -q 'GNU_RELRO'; then
  echo "check_exports: GNU_RELRO present"
else
  echo "check_exports: FAIL: no GNU_RELRO segment (-z relro)" >&2
  fail=1
fi

if [ "$fail" -ne 0 ]; then
  echo "check_exports: FAILED" >&2
  exit 1
fi
echo "check_exports: OK"
