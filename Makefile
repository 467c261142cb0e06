# The two commands of the README's quick start.
BUILD ?= build
JOBS ?= 2

.PHONY: demo test build setup bench fuzz install package

setup:
	@./scripts/setup.sh

build: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j1 --timeout 1800

demo: build
	@./scripts/demo.sh $(BUILD)/tinyq

# Benchmarks (not part of the test suite): installs PyTorch and valgrind as outside references.
bench: build
	@./scripts/setup.sh --bench
	$(BUILD)/train_throughput
	$(BUILD)/int_inference

# libFuzzer targets of fuzz/ (clang-14, ASan + UBSan), each for FUZZ_SECONDS; see README "Fuzzing".
FUZZ_SECONDS ?= 60
fuzz: setup
	@./fuzz/run.sh --seconds $(FUZZ_SECONDS) --build build-fuzz

# cmake --install into PREFIX (default /usr/local): the program, the library with its headers,
# pkg-config and CMake files, the runtime, examples, man pages and bash completion.
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# The Debian package, from the portable build (TQ_PORTABLE=ON) so that it runs on any CPU of the
# architecture: build-portable/tinyq_<version>_<arch>.deb.
package: setup
	@cmake -S . -B build-portable -DCMAKE_BUILD_TYPE=Release -DTQ_PORTABLE=ON >/dev/null
	@cmake --build build-portable -j$(JOBS)
	cd build-portable && cpack -G DEB
