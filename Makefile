# Thin wrapper over CMake: every target first makes sure the Debian packages are there.
# Knobs: BUILD_DIR, BUILD_TYPE, JOBS, ARGS (extra ragd flags for `make run`), ASAN_DIR, TSAN_DIR.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= 2
ARGS ?=
CCACHE := $(shell command -v ccache 2>/dev/null)
CMAKE_FLAGS := -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
ifneq ($(CCACHE),)
CMAKE_FLAGS += -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache
endif

# Sanitizer builds (tests/README.md): their own build directories, -O1 with line tables, no
# benchmarks; only the test executables of the label they run are built.
ASAN_DIR ?= build-asan
TSAN_DIR ?= build-tsan
SAN_FLAGS := -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRAGD_BUILD_BENCH=OFF \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG"
ifneq ($(CCACHE),)
SAN_FLAGS += -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache
endif
# The executables holding the tests labelled `unit` or `concurrency` (tests/*/CMakeLists.txt).
UNIT_TESTS := common_test concurrency_unit_test index_test lexical_test engine_test models_test embedder_test \
  chat_test ingest_test rag_test cli_test cluster_test router_unit_test http_wire_test
CONCURRENCY_TESTS := concurrency_unit_test index_test engine_test models_test ingest_test rag_test
# A sanitizer report fails the test; leaks are reported at exit.
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# FAISS parallelises with OpenMP, whose libgomp barriers TSan cannot see (false races inside
# FAISS): one OpenMP thread; ragd's own threads still race each other. The lock-order
# (deadlock) detector is off: with RocksDB's uninstrumented mutexes it reports cycles between
# garbage mutex ids with empty stacks (tests/README.md); data races are all checked.
TSAN_ENV := TSAN_OPTIONS=halt_on_error=1:detect_deadlocks=0:suppressions=$(CURDIR)/tests/tsan.supp \
  OMP_NUM_THREADS=1

.PHONY: all deps configure build run test test-asan test-tsan-core test-tsan bench bench-quant eval format clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j$(JOBS)

run: build
	$(BUILD_DIR)/bin/ragd $(ARGS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS) --timeout 600
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory test-tsan-core

# The in-process tests (labels unit and concurrency) under AddressSanitizer + UBSan.
test-asan: deps
	@cmake -S . -B $(ASAN_DIR) $(SAN_FLAGS) -DRAGD_SANITIZE=address,undefined >/dev/null
	@cmake --build $(ASAN_DIR) -j$(JOBS) --target $(UNIT_TESTS)
	cd $(ASAN_DIR) && $(ASAN_ENV) ctest -L 'unit|concurrency' --output-on-failure -j$(JOBS) --timeout 900

# The threading primitives of common/concurrency (bounded executor, stream threads, deadline
# timer), the router, and HnswIndex's parallel insertion (index_test's HnswParallelAdd cases)
# under ThreadSanitizer: part of `make test`. A few minutes (two small libraries, the index
# library and nine index_test cases), unlike the whole of test-tsan below, which would bring
# .ci/run near its 45-minute budget.
test-tsan-core: deps
	@cmake -S . -B $(TSAN_DIR) $(SAN_FLAGS) -DRAGD_SANITIZE=thread >/dev/null
	@cmake --build $(TSAN_DIR) -j$(JOBS) --target concurrency_unit_test router_unit_test index_test
	$(TSAN_ENV) $(TSAN_DIR)/tests/common/concurrency_unit_test
	$(TSAN_ENV) $(TSAN_DIR)/tests/cluster/router_unit_test
	$(TSAN_ENV) $(TSAN_DIR)/tests/index/index_test --gtest_filter='*HnswParallelAdd*'

# The tests that race threads (label concurrency) under ThreadSanitizer.
test-tsan: deps
	@cmake -S . -B $(TSAN_DIR) $(SAN_FLAGS) -DRAGD_SANITIZE=thread >/dev/null
	@cmake --build $(TSAN_DIR) -j$(JOBS) --target $(CONCURRENCY_TESTS)
	cd $(TSAN_DIR) && $(TSAN_ENV) ctest -L concurrency --output-on-failure -j$(JOBS) --timeout 1800

bench: build
	@scripts/bench.sh $(BUILD_DIR)

# Issue 16's targets alone (quantized storage, ragd INT8 over gRPC, SearchBatch): one run.
bench-quant: configure
	@scripts/bench-quant.sh $(BUILD_DIR)

# Retrieval quality on bench/eval/'s question sets, ragd beside SQLite FTS5 (scripts/eval.sh).
eval: build
	@scripts/eval.sh $(BUILD_DIR)

format:
	@git ls-files '*.h' '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(TSAN_DIR)
