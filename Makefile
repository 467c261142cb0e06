# The two commands of the README's quick start.
BUILD ?= build
JOBS ?= 2

.PHONY: demo test build setup bench

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
