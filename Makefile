# goro: top-level commands. CMake builds; this file only drives it.
#   make deps | build | test | asan | tsan | check | demo | bench | install PREFIX=... | clean
# Build dirs: build/ (normal), build-asan/ (ASan+UBSan), build-tsan/ (TSan).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.NOTPARALLEL:
.DEFAULT_GOAL := build

NPROC      := $(shell nproc 2>/dev/null || echo 2)
BUILD_TYPE ?= RelWithDebInfo
WERROR     ?= ON
PREFIX     ?= /usr/local
CMAKE      ?= cmake
CTEST      ?= ctest
CTEST_JOBS ?= 2
# Extra ctest arguments for every run, e.g. CTEST_ARGS='-L quick' or '-R test_wg'.
CTEST_ARGS ?=

# $(call configure,DIR,SANITIZER)
configure = mkdir -p $(1) && $(CMAKE) -S . -B $(1) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
            -DGORO_WERROR=$(WERROR) -DGORO_SANITIZE=$(2) > $(1)/configure.log \
            || { cat $(1)/configure.log; exit 1; }
# $(call compile,DIR)
compile = env -u MAKELEVEL -u MAKEFLAGS -u MFLAGS $(CMAKE) --build $(1) -j$(NPROC)
# $(call run_ctest,DIR): run the tests; if TSan died on "unexpected memory mapping"
# (high-entropy ASLR on some kernels), re-run the failed tests with ASLR off.
define run_ctest
	@cd $(1) && set +e; \
	$(CTEST) --output-on-failure -j$(CTEST_JOBS) $(CTEST_ARGS) 2>&1 | tee ctest.log; \
	rc=$${PIPESTATUS[0]}; \
	if [ $$rc -ne 0 ] && grep -q 'unexpected memory mapping' ctest.log; then \
	  echo "== $(1): TSan saw an unexpected memory mapping; re-running failed tests under setarch -R"; \
	  setarch "$$(uname -m)" -R $(CTEST) --output-on-failure --rerun-failed $(CTEST_ARGS); rc=$$?; \
	fi; \
	exit $$rc
endef

.PHONY: help deps deps-bench build test asan tsan check demo bench install clean

help:
	@sed -n '2,3p' Makefile

deps:
	@scripts/install-deps.sh build

deps-bench:
	@scripts/install-deps.sh bench

build:
	@$(call configure,build,)
	$(call compile,build)

test: build
	$(call run_ctest,build)

asan:
	@$(call configure,build-asan,address)
	$(call compile,build-asan)
	$(call run_ctest,build-asan)

tsan:
	@$(call configure,build-tsan,thread)
	$(call compile,build-tsan)
	$(call run_ctest,build-tsan)

# Runs every suite even if an earlier one fails, then fails if any did.
check: deps
	@failed=""; \
	for t in test asan tsan; do \
	  echo "== make $$t"; \
	  $(MAKE) --no-print-directory $$t || failed="$$failed $$t"; \
	done; \
	if [ -n "$$failed" ]; then echo "== make check: FAILED:$$failed"; exit 1; fi; \
	echo "== make check: OK (test asan tsan)"

demo: deps build
	./build/examples/demo

bench: deps-bench build
	@if [ -x scripts/bench.sh ]; then scripts/bench.sh; \
	elif [ -f scripts/bench.sh ]; then bash scripts/bench.sh; \
	else echo "bench: scripts/bench.sh does not exist yet"; fi
	@# Quota benchmarks in real cgroups (root only; prints why when it skips).
	BUILD_DIR=$(CURDIR)/build bash scripts/bench-throttle.sh

install: build
	$(CMAKE) --install build --prefix "$(PREFIX)"

clean:
	rm -rf build build-asan build-tsan
