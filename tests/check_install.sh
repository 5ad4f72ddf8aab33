#!/usr/bin/env bash
# check_install.sh BUILD_DIR [SANITIZER] [CC] [CXX]
# Installs the build into a temporary prefix and builds tests/consumer/consumer.c
# against it the ways a user would, running each result:
#   1. pkg-config --cflags --libs goro          (dynamic, libgoro.so.0)
#   2. CMake find_package(goro CONFIG) goro::goro (dynamic; + goro::goro_static)
#   3. pkg-config --static --libs goro          (static, libgoro.a)
# In sanitizer builds the static links are skipped and the script exits 77.
set -euo pipefail

build=${1:?usage: check_install.sh BUILD_DIR [SANITIZER] [CC] [CXX]}
sanitize=${2:-}
cc=${3:-cc}
cxx=${4:-c++}
here=$(cd "$(dirname "$0")" && pwd)
src="$here/consumer"

case "$sanitize" in
  "") sanflags="" ;;
  address) sanflags="-fsanitize=address,undefined -fno-sanitize-recover=all" ;;
  thread) sanflags="-fsanitize=thread" ;;
  *) echo "check_install: unknown sanitizer '$sanitize'" >&2; exit 2 ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/goro-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"

step() { echo "check_install: $*"; }
run() { echo "+ $*"; "$@"; }

step "installing $build into $prefix"
cmake --install "$build" --prefix "$prefix" > "$tmp/install.log" || { cat "$tmp/install.log"; exit 1; }

pc=$(find "$prefix" -name goro.pc -path '*/pkgconfig/*' | head -n1)
[ -n "$pc" ] || { echo "check_install: FAIL: goro.pc not installed" >&2; exit 1; }
libdir=$(dirname "$(dirname "$pc")")
for f in "$prefix/include/goro/goro.h" "$libdir/libgoro.so.0" "$libdir/libgoro.so" "$libdir/libgoro.a" \
         "$libdir/cmake/goro/goroConfig.cmake" "$libdir/cmake/goro/goroConfigVersion.cmake"; do
  [ -e "$f" ] || { echo "check_install: FAIL: $f not installed" >&2; exit 1; }
done
step "installed files:"
(cd "$prefix" && find . -type f -o -type l | sort | sed 's/^/  /')

pcdir=$(dirname "$pc")
export PKG_CONFIG_PATH="$pcdir"
export PKG_CONFIG_LIBDIR="$pcdir"  # only ours: a system-wide goro.pc must not win
pkg-config --exists 'goro >= 0.1' || { echo "check_install: FAIL: pkg-config cannot find goro >= 0.1" >&2; exit 1; }
step "pkg-config goro version $(pkg-config --modversion goro)"

needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p'; }

# 1. pkg-config, dynamic.
cflags=$(pkg-config --cflags goro)
libs=$(pkg-config --libs goro)
step "1/3 pkg-config dynamic: cflags='$cflags' libs='$libs'"
# shellcheck disable=SC2086
run "$cc" -std=c11 -Wall -Wextra -Werror $sanflags $cflags "$src/consumer.c" -o "$tmp/consumer_pc" $libs
needed "$tmp/consumer_pc" | grep -qx 'libgoro.so.0' \
  || { echo "check_install: FAIL: consumer_pc does not need libgoro.so.0" >&2; exit 1; }
LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" run "$tmp/consumer_pc"

# 2. CMake package.
static_cmake=ON
[ -z "$sanitize" ] || static_cmake=OFF
step "2/3 CMake find_package(goro CONFIG) (goro::goro_static too: $static_cmake)"
run cmake -S "$src" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_C_FLAGS="$sanflags" -DCMAKE_CXX_FLAGS="$sanflags" -DCMAKE_EXE_LINKER_FLAGS="$sanflags" \
  -DGORO_CONSUMER_STATIC="$static_cmake" > "$tmp/cmake.log" || { cat "$tmp/cmake.log"; exit 1; }
run cmake --build "$tmp/cmake" > "$tmp/cmake-build.log" 2>&1 || { cat "$tmp/cmake-build.log"; exit 1; }
LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" run "$tmp/cmake/consumer_cmake"

if [ -n "$sanitize" ]; then
  step "3/3 static links skipped in a $sanitize build"
  exit 77
fi

if needed "$tmp/cmake/consumer_cmake_static" | grep -q '^libgoro'; then
  echo "check_install: FAIL: consumer_cmake_static needs a shared libgoro" >&2; exit 1
fi
run "$tmp/cmake/consumer_cmake_static"

# 3. pkg-config, static. libgoro.so and libgoro.a share a directory and the linker
# prefers the .so, so ask for the archive by file name.
libs=$(pkg-config --static --libs goro)
libs_a=$(printf '%s\n' "$libs" | sed 's/\(^\| \)-lgoro\( \|$\)/\1-l:libgoro.a\2/')
step "3/3 pkg-config static: libs='$libs' -> '$libs_a'"
# shellcheck disable=SC2086
run "$cc" -std=c11 -Wall -Wextra -Werror $cflags "$src/consumer.c" -o "$tmp/consumer_static" $libs_a
if needed "$tmp/consumer_static" | grep -q '^libgoro'; then
  echo "check_install: FAIL: consumer_static needs a shared libgoro" >&2; exit 1
fi
run env -u LD_LIBRARY_PATH "$tmp/consumer_static"

step "OK"
