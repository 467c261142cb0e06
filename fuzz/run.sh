#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/CMakeLists.txt, clang-14 with ASan + UBSan) and runs each
# target: first its saved reproducers (fuzz/regressions/<target>/, each run once), then fuzzing
# from its seed corpus (fuzz/corpus/<target>/) for a set time or number of inputs. Any crash,
# sanitizer report, leak, timeout or broken invariant fails the run; the input that did it is
# saved under BUILD/artifacts/<target>/. The corpus it grows lives in BUILD/corpus/<target>/,
# never in the tree.
#
#   fuzz/run.sh [--seconds N | --runs N] [--build DIR] [TARGET ...]
#     --seconds N   fuzz each target for N seconds (default 60)
#     --runs N      fuzz each target for N inputs instead
#     --build DIR   build directory (default build-fuzz)
#     TARGET        quant_parse, qconfig, space, modelfile, idx, cifar10, journal (default: all)
# Prints one line per target: inputs run, seconds, inputs/s, corpus size, result.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_PER=60
RUNS=""
BUILD="$ROOT/build-fuzz"
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_PER=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz/run.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done

CC_FUZZ=""
for c in clang-14 clang; do
  if command -v "$c" >/dev/null 2>&1; then CC_FUZZ=$(command -v "$c"); break; fi
done
if [ -z "$CC_FUZZ" ]; then
  echo "fuzz/run.sh: clang-14 not found (libFuzzer needs clang; scripts/setup.sh installs clang-14 and libclang-rt-14-dev)" >&2
  exit 1
fi

if [ ${#targets[@]} -eq 0 ]; then
  for f in "$ROOT"/fuzz/fuzz_*.c; do
    t=$(basename "$f" .c); targets+=("${t#fuzz_}")
  done
fi

mkdir -p "$BUILD"
if ! { cmake -S "$ROOT/fuzz" -B "$BUILD" -DCMAKE_C_COMPILER="$CC_FUZZ" >"$BUILD/configure.log" 2>&1 &&
       cmake --build "$BUILD" -j2 >"$BUILD/build.log" 2>&1; }; then
  echo "fuzz/run.sh: building the fuzzers failed:" >&2
  tail -n 30 "$BUILD/configure.log" "$BUILD/build.log" >&2
  exit 1
fi

# A small ASan quarantine: the loaders allocate and free buffers of hundreds of KiB per input,
# and the default 256 MiB quarantine turns each into fresh page faults (2-3x slower). Freed
# memory is still poisoned; a use after free is caught while the block is in the last 4 MiB
# freed, which covers every free within one input.
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=4}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

if [ -n "$RUNS" ]; then limit=(-runs="$RUNS"); else limit=(-max_total_time="$SECONDS_PER"); fi
failed=0
printf '%-12s %12s %8s %10s %8s  %s\n' target inputs seconds inputs/s corpus result
for t in "${targets[@]}"; do
  bin="$BUILD/fuzz_$t"
  if [ ! -x "$bin" ]; then echo "fuzz/run.sh: no target '$t' ($bin)" >&2; exit 2; fi
  log="$BUILD/logs/$t.log"
  mkdir -p "$BUILD/logs" "$BUILD/corpus/$t" "$BUILD/artifacts/$t"
  : > "$log"
  common=(-timeout=25 -rss_limit_mb=2048 -malloc_limit_mb=2048 -artifact_prefix="$BUILD/artifacts/$t/")
  dict=()
  if [ -f "$ROOT/fuzz/dict/$t.dict" ]; then dict=(-dict="$ROOT/fuzz/dict/$t.dict"); fi

  # Saved reproducers: each file once.
  regs=()
  if [ -d "$ROOT/fuzz/regressions/$t" ]; then
    while IFS= read -r -d '' f; do regs+=("$f"); done < <(find "$ROOT/fuzz/regressions/$t" -type f -print0 | sort -z)
  fi
  if [ ${#regs[@]} -gt 0 ] && ! "$bin" "${common[@]}" "${regs[@]}" >>"$log" 2>&1; then
    printf '%-12s %12s %8s %10s %8s  %s\n' "$t" - - - - "FAILED on a saved reproducer (fuzz/regressions/$t)"
    tail -n 40 "$log"
    failed=1
    continue
  fi

  start=$(date +%s)
  rc=0
  "$bin" "${common[@]}" "${dict[@]}" "${limit[@]}" -print_final_stats=1 \
    "$BUILD/corpus/$t" "$ROOT/fuzz/corpus/$t" >>"$log" 2>&1 || rc=$?
  secs=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  corpus=$(find "$BUILD/corpus/$t" -type f | wc -l)
  rate=-
  if [ -n "$execs" ] && [ "$secs" -gt 0 ]; then rate=$(( execs / secs )); fi
  if [ "$rc" -eq 0 ] && ! grep -qE "ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|invariant failed" "$log"; then
    result=ok
  else
    result="FAILED (exit $rc); input in $BUILD/artifacts/$t/, log $log"
    failed=1
  fi
  printf '%-12s %12s %8s %10s %8s  %s\n' "$t" "${execs:-?}" "$secs" "$rate" "$corpus" "$result"
  if [ "$result" != ok ]; then grep -aE "invariant failed|ERROR:|runtime error:|SUMMARY" "$log" | head -10; fi
done
exit $failed
