#!/usr/bin/env bash
# Deployment end to end: QAT model -> tinyq export -> the generated C compiled with cc -std=c99 ->
# output codes identical to tinyq eval --integer for every sample; the same code cross-compiled
# for a Cortex-M4; bad exports refused without writing anything.
set -eu
BIN=${TQ_BIN:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

common=(--data fashion-mnist --train-limit 2000 --batch 32 --progress none --threads 2)
"$BIN" train --model resnet8 "${common[@]}" --epochs 1 --out "$T/f" > /dev/null
"$BIN" train --model resnet8 "${common[@]}" --epochs 1 --flat 8 --alpha auto_po2 \
  --init "$T/f/model.tqm" --out "$T/q" > /dev/null

# Refusals first: a float model cannot be lowered, and nothing is written.
if "$BIN" export "$T/f/model.tqm" --out "$T/bad" 2> "$T/err.txt"; then fail "float model exported"; fi
grep -q "no activation quantizers\|no quantizers" "$T/err.txt" || fail "float-model error: $(cat "$T/err.txt")"
[ ! -e "$T/bad" ] || fail "a refused export left files behind"

"$BIN" export "$T/q/model.tqm" --out "$T/c" --static calib:500 > "$T/plan.txt"
cat "$T/plan.txt"
grep -q "tq_rt_conv2d_s8_s8w_s8" "$T/plan.txt" || fail "plan lacks int8 conv"
grep -q "shift" "$T/plan.txt" || fail "po2 model without shifts"
for f in model.h model.c main_host.c Makefile tq_rt.h; do [ -s "$T/c/$f" ] || fail "missing $f"; done

# Bit-exactness over the first 2,000 test images (the full set in the README's run).
"$BIN" eval "$T/q/model.tqm" --integer --static calib:500 --limit 2000 \
  --dump-inputs "$T/in.f32" --dump-codes "$T/codes_tinyq.txt" > "$T/int.txt"
cat "$T/int.txt"
make -s -C "$T/c" CC=cc CFLAGS="-std=c99 -O2 -Wall -Wextra -Werror" > /dev/null
"$T/c/model_test" "$T/in.f32" > "$T/codes_c.txt"
[ "$(wc -l < "$T/codes_c.txt")" -eq 2000 ] || fail "generated code did not run every sample"
cmp "$T/codes_tinyq.txt" "$T/codes_c.txt" || fail "generated C differs from tinyq eval --integer"
echo "bit-exact on 2000 samples"

# Integer accuracy within 0.5 pp of the fake-quant model with the same static scales.
"$BIN" eval "$T/q/model.tqm" --static calib:500 --limit 2000 > "$T/fq.txt"
ia=$(sed -n 's/^accuracy: //p' "$T/int.txt"); fa=$(sed -n 's/^accuracy: //p' "$T/fq.txt")
awk -v a="$ia" -v b="$fa" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.005) }' \
  || fail "integer accuracy $ia vs fake-quant $fa"
echo "integer $ia, fake-quant static $fa"

# Cortex-M4 build of the same folder.
if command -v arm-none-eabi-gcc > /dev/null; then
  make -s -C "$T/c" arm > "$T/size.txt" 2>&1 || { cat "$T/size.txt"; fail "Cortex-M4 build"; }
  cat "$T/size.txt"
  grep -q "model_arm.o" "$T/size.txt" || fail "no size report"
else
  echo "arm-none-eabi-gcc missing: Cortex-M4 build skipped"
fi
