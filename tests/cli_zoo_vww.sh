#!/usr/bin/env bash
# The visual-wake-words networks of the zoo end to end on a few steps of 96x96 RGB noise: summary and
# stats at their reference totals, float training and flat-8 auto_po2 QAT without NaN, and the
# MobileNetV1 QAT model exported and evaluated in integers, bit-exact with the fake-quant model.
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
check '"$BIN" summary --model mobilenetv1 | grep -q "Total MACs: 7,489,664"' "mobilenetv1: 7,489,664 MACs"

"$BIN" export "$T/mobilenetv1-q/model.tqm" --static calib:16 --out "$T/c" > "$T/export.txt" 2>&1; rc=$?
check '[ $rc -eq 0 ] && grep -q "top-1 100.00 %" "$T/export.txt"' "mobilenetv1: export, integer model agrees"
"$BIN" eval "$T/mobilenetv1-q/model.tqm" --integer --compare --static calib:16 --limit 16 \
  > "$T/eval.txt" 2>&1; rc=$?
check '[ $rc -eq 0 ] && grep -q "no tensor more than one step apart" "$T/eval.txt"' "mobilenetv1: integer eval"
exit $fail
