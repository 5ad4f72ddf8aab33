#!/usr/bin/env bash
# install-deps.sh [build|bench|all]: install the Debian 12 packages goro needs.
# Fast and silent-ish when everything is present: apt runs only if something is missing.
#   build  compiler, CMake, pkg-config, Boost.Context, cmocka, SDT probes, binutils,
#          goro-audit's clang/bpftool/libbpf and Go for its tests (default)
#   bench  build + the Go toolchain for the Go comparison benchmarks
#   all    everything above
set -euo pipefail

what=${1:-build}
build_pkgs=(
  build-essential   # gcc/g++ 12 (with libasan/libubsan/libtsan), make, libc headers
  cmake
  pkg-config
  libboost-context-dev
  libcmocka-dev
  systemtap-sdt-dev # sys/sdt.h (USDT probes, optional but wanted)
  binutils          # nm, readelf for the exports test
  util-linux        # setarch for the TSan ASLR fallback
  gdb               # the gdb script's test (tests/check_gdb.sh); skipped without it
  clang             # goro-audit: BPF programs (clang -target bpf)
  llvm              # goro-audit: llvm-strip/llvm-objdump for BPF objects
  libbpf-dev        # goro-audit: loader, skeletons, usdt.bpf.h
  bpftool           # goro-audit: vmlinux.h and skeleton generation (Debian 12 name)
  libelf-dev        # goro-audit: libbpf's dependency
  zlib1g-dev        # goro-audit: libbpf's dependency
  golang-go         # goro-audit's tests build a Go program (also the bench references)
)
bench_pkgs=(golang-go)

case "$what" in
  build) pkgs=("${build_pkgs[@]}") ;;
  bench | all) pkgs=("${build_pkgs[@]}" "${bench_pkgs[@]}") ;;
  -h | --help) sed -n '2,7p' "$0"; exit 0 ;;
  *) echo "usage: $0 [build|bench|all]" >&2; exit 2 ;;
esac

if ! command -v dpkg-query > /dev/null 2>&1; then
  echo "install-deps: not a Debian-based system; install the equivalents of: ${pkgs[*]}" >&2
  exit 1
fi

missing=()
for p in "${pkgs[@]}"; do
  status=$(dpkg-query -W -f='${Status}\n' "$p" 2> /dev/null || true)
  if ! grep -q 'install ok installed' <<< "$status"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: every package for '$what' is installed"
  exit 0
fi

echo "install-deps: missing: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: not root; run:" >&2
  echo "  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${missing[*]}"
