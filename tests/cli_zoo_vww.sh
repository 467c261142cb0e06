#!/usr/bin/env bash
# The visual-wake-words networks of the zoo end to end on a few steps of 96x96 RGB noise: summary and
# stats at their reference totals, float training and flat-8 auto_po2 QAT without NaN, and the
# three QAT models exported and evaluated in integers, every tensor equal to the fake-quant model's.
set -u
. "$(dirname "$0")/lib.sh"

steps=(--data noise:96x96x3:2 --train-limit 40 --epochs 1 --max-steps 2 --batch 4 --progress none
       --threads 1)

run() { # NAME TOTAL [model options]
  local name=$1 total=$2 rc; shift 2
  opts=("$@")
  check '"$BIN" summary --model $name "${opts[@]}" | grep -q "Total params: $total"' "$name ${opts[*]}: $total parameters"
  check '"$BIN" stats --model $name "${opts[@]}" --flat 8 > "$T/$name.stats"' "$name: stats --flat 8"
  "$BIN" train --model $name "${opts[@]}" "${steps[@]}" --out "$T/$name-f" > "$T/$name-f.txt" 2>&1; rc=$?
  check '[ $rc -eq 0 ] && ! grep -qi nan "$T/$name-f.txt"' "$name: float training"
  "$BIN" train --model $name "${opts[@]}" "${steps[@]}" --flat 8 --alpha auto_po2 --out "$T/$name-q" \
    > "$T/$name-q.txt" 2>&1; rc=$?
  check '[ $rc -eq 0 ] && ! grep -qi nan "$T/$name-q.txt"' "$name: flat-8 auto_po2 QAT"
}

run mobilenetv1 221,794
run mobilenetv2 412,770 --width 0.35
run efficientnetb0 4,052,126
check '"$BIN" summary --model mobilenetv2 | grep -q "Total params: 2,260,546"' "mobilenetv2: 2,260,546 parameters at the default width 1.0"
expect_error "width 0.4 is not one of 0.35, 0.5, 0.75, 1.0" "$BIN" summary --model mobilenetv2 --width 0.4
expect_error "resnet8 has no width multiplier" "$BIN" train --model resnet8 --width 0.5 --data noise:32x32x3 --out "$T/x"
check '"$BIN" summary --model mobilenetv1 | grep -q "Total MACs: 7,489,664"' "mobilenetv1: 7,489,664 MACs"

# All three export bit-exact: every tensor of the integer model equals the fake-quant model's
# simulation (ReLU6 clamps, zero padding, residual adds, global pooling; EfficientNet's swish and
# sigmoid lookup tables and squeeze-excite's channel multiply).
for name in mobilenetv1 mobilenetv2 efficientnetb0; do
  "$BIN" export "$T/$name-q/model.tqm" --static calib:8 --out "$T/c-$name" > "$T/export.txt" 2>&1; rc=$?
  check '[ $rc -eq 0 ] && grep -q "top-1 100.00 %, output codes 100.000 % within one step (largest difference 0)" "$T/export.txt"' "$name: export, output codes equal"
  # MobileNetV1 alpha 0.25 at 8 bits: the plan reaches MLPerf Tiny's computed activation peak
  # (48x48x8 + 48x48x16 bytes alive during the second pointwise conv): nothing above the bound.
  [ "$name" = mobilenetv1 ] && check 'grep -q "^arena: 55296 bytes" "$T/export.txt"' "mobilenetv1: arena 55,296 B, MLPerf's activation peak"
  "$BIN" eval "$T/$name-q/model.tqm" --integer --compare --static calib:8 --limit 8 > "$T/eval.txt" 2>&1; rc=$?
  check '[ $rc -eq 0 ] && grep -q "no tensor more than one step apart" "$T/eval.txt" && ! awk '"'"'NF == 5 && $5 ~ /^[0-9]+$/ && $5 > 0'"'"' "$T/eval.txt" | grep -q .' "$name: integer eval, every tensor equal"
done

# The search at a width: MobileNetV2 alpha 0.35, recorded in search.json, kept by --resume, in the
# retrain hint; a width the model does not take is refused before any trial.
S=(search --model mobilenetv2 --width 0.35 --data noise:96x96x3:2 --space "$SRC/examples/search_space_study.json"
   --epochs 1 --max-steps 1 --train-limit 64 --batch 8)
out=$("$BIN" "${S[@]}" --trials 1 --out "$T/sw" 2>&1); rc=$?
check '[ $rc -eq 0 ] && grep -q "^retrain it: tinyq train --model mobilenetv2 --width 0.35 " <<< "$out"' "search --width 0.35: the retrain hint keeps the width"
check 'grep -qE "\"width\":[[:space:]]*0\.3499" "$T/sw/search.json"' "search.json records the width"
out=$("$BIN" search --resume "$T/sw" --trials 2 2>&1); rc=$?
check '[ $rc -eq 0 ] && [ "$(wc -l < "$T/sw/trials.jsonl")" = 2 ] && grep -q -- "--width 0.35 " <<< "$out"' "search --resume keeps the width"
expect_error "mobilenetv2: width 0.4 is not one of 0.35, 0.5, 0.75, 1.0" "$BIN" search --model mobilenetv2 --width 0.4 \
  --data noise:96x96x3:2 --space "$SRC/examples/search_space_study.json" --trials 1 --out "$T/sw2"
exit $fail
