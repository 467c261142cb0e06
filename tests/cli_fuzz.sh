#!/usr/bin/env bash
# The short CI fuzz run: builds the libFuzzer harnesses of fuzz/ (clang-14, ASan + UBSan), runs
# every saved reproducer of fuzz/regressions/, then fuzzes each target from its seed corpus for
# TQ_FUZZ_SECONDS (default 12) seconds. Fails on any crash, sanitizer report, leak, timeout or
# broken invariant. A missing clang is a failure, not a skip: scripts/setup.sh installs it.
set -euo pipefail
SRC=${TQ_SRC:?}
BUILD=${TQ_BUILD:?}
exec "$SRC/fuzz/run.sh" --seconds "${TQ_FUZZ_SECONDS:-12}" --build "$BUILD/fuzz"
