# The two commands of the README: `make run` and `make check`. Both install missing Debian
# packages first (as root), configure with CMake and build with Ninja.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
CMAKE_GEN  := -G Ninja -DKVSPILL_WERROR=ON
CTEST      := ctest --output-on-failure --no-tests=error -j $(JOBS)

.PHONY: all deps build build-asan build-matrix check check-fast check-asan run fuzz fuzz-long soak torture crash-torture bench bench-router bench-scale gpu-emu image clean format

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo

$(ASAN_BUILD)/build.ninja: | deps
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DKVSPILL_SANITIZE=ON -DKVSPILL_CUDA=OFF

build: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

build-asan: $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# Every build type (Release, RelWithDebInfo, Debug, MinSizeRel) with gcc and clang, warnings
# as errors: what a packager builds must build (scripts/build-matrix.sh; CI runs it).
build-matrix: | deps
	@bash scripts/build-matrix.sh

# Every test, in the optimised build and again under ASan+UBSan (without CUDA: nvcc code
# and sanitizers do not mix).
check: check-fast check-asan

check-fast: build
	cd $(BUILD) && $(CTEST)

check-asan: build-asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 KVSPILL_SANITIZED=1 $(CTEST)

# Builds and runs the main job on the embedded default: see scripts/run-demo.sh.
run: build
	@bash scripts/run-demo.sh $(BUILD)

# Coverage-guided fuzzing of every harness in tests/fuzz (FUZZ_SECONDS each).
FUZZ_SECONDS ?= 60
# CC=clang only takes on a fresh configure; CMake refuses a fuzz build dir made with gcc.
$(FUZZ_BUILD)/build.ninja: | deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKVSPILL_FUZZ=ON -DKVSPILL_CUDA=OFF

fuzz: $(FUZZ_BUILD)/build.ninja
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers
	@bash scripts/run-fuzzers.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# Every harness to 10^7 executions or an hour, FUZZ_PARALLEL at once (issue's regime).
FUZZ_PARALLEL ?= $(JOBS)
fuzz-long: $(FUZZ_BUILD)/build.ninja
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers
	@bash scripts/run-fuzzers.sh $(FUZZ_BUILD) 3600 10000000 $(FUZZ_PARALLEL)

# Three replicas behind the router, with RAM, file and Redis tiers, under SOAK_CLIENTS (64) clients for
# SOAK_SECONDS: scripts/soak.py.
SOAK_SECONDS ?= 600
soak: build
	@bash scripts/soak.sh $(BUILD) $(SOAK_SECONDS)

# Faults under load, one per phase of TORTURE_SECONDS (scripts/torture.py): a full disk, a
# read-only and a vanished file system, Redis and a replica SIGKILLed, objects corrupted
# while read, the clock stepped; 0 wrong answers, no leak. Needs root (mounts a tmpfs).
TORTURE_SECONDS ?= 60
torture: build
	@bash scripts/torture.sh $(BUILD) $(TORTURE_SECONDS)
	@bash scripts/crash-torture.sh $(BUILD) $(CRASH_TORTURE_SECONDS) 4 $(CRASH_TORTURE_KILLS)

# Benchmarks print ratios against baselines measured in the same run; see bench/README.md.
bench: build
	@bash bench/run-all.sh $(BUILD)

# 3 replicas behind the router, a 16-user multi-turn chat once per routing logic
# (bench/router_workload.py): TTFT p50/p99, turns/s and cache hit shares per logic.
bench-router: build
	@/usr/bin/python3 bench/router_workload.py $(BUILD)/kvspill

# The file tier's cost per operation at BENCH_SCALE_OBJECTS objects each (kvspill bench
# scale; ~12 KB per object on disk, in a scratch directory under $(BUILD)). Not in `make bench`
# or `make check`: 10^5 objects take several minutes.
BENCH_SCALE_OBJECTS ?= 10000,100000
bench-scale: build
	@d=$$(mktemp -d "$$(cd $(BUILD) && pwd)/bench-scale.XXXXXX") && \
	  trap 'rm -rf "$$d"' EXIT && $(BUILD)/kvspill bench scale --dir "$$d" --objects $(BENCH_SCALE_OBJECTS)

# Crash consistency of the file tier: writers SIGKILLed at random points, round after round
# for CRASH_TORTURE_SECONDS and at least CRASH_TORTURE_KILLS kills (scripts/crash-torture.sh). Not in `make check`.
CRASH_TORTURE_SECONDS ?= 120
CRASH_TORTURE_KILLS ?= 1000
crash-torture: build
	@bash scripts/crash-torture.sh $(BUILD) $(CRASH_TORTURE_SECONDS) 4 $(CRASH_TORTURE_KILLS)

# The GPU tests (tests/gpu) on a CPU emulation of the device, for machines without a GPU:
# kernels, transfers, XXH3, mixed batches, every weight type (tests/gpu/emu/run.sh).
gpu-emu: | deps
	@bash tests/gpu/emu/run.sh

# The container image of deploy/Containerfile (IMAGE=name:tag), with podman or docker.
IMAGE ?= kvspill:latest
image:
	@engine=$$(bash scripts/container-engine.sh) && $$engine build -f deploy/Containerfile -t $(IMAGE) .

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) build-matrix
