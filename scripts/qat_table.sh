#!/usr/bin/env bash
# The README's QAT table: ResNet-8 on Fashion-MNIST, starting from a float model, flat 4/8/16-bit
# quantization with 'auto' and 'auto_po2' scales, and the 16-bit po2 run with QKeras' scale floor
# (--qkeras-po2-floor) that reproduces the study's collapse.
#   scripts/qat_table.sh FLOAT_MODEL.tqm OUT_DIR [EPOCHS] [THREADS] [SCHEDULE]
# ROWS="flat8_auto_po2 flat4_auto" runs only those rows (e.g. to split the table over processes).
set -euo pipefail
BIN=${TQ_BIN:-build/tinyq}
FLOAT=$1
OUT=$2
EPOCHS=${3:-4}
THREADS=${4:-2}
SCHEDULE=${5:-exp:0.5}
ROWS=${ROWS:-}
mkdir -p "$OUT"
acc() { sed -n 's/^test: loss [0-9.]*, accuracy \([0-9.]*\).*/\1/p' "$1"; }
echo "| configuration | test accuracy | command |" > "$OUT/table.md"
echo "|---|---:|---|" >> "$OUT/table.md"
"$BIN" eval "$FLOAT" > "$OUT/float.txt"
echo "| float | $(sed -n 's/^accuracy: //p' "$OUT/float.txt") | \`tinyq train --model resnet8 --data fashion-mnist\` |" >> "$OUT/table.md"
run() {
  local name=$1; shift
  [ -z "$ROWS" ] || [[ " $ROWS " == *" $name "* ]] || return 0
  local cmd=(train --model resnet8 --data fashion-mnist --init "$FLOAT" --epochs "$EPOCHS" --lr 2e-4
             --schedule "$SCHEDULE" --progress lines --threads "$THREADS" --out "$OUT/$name" "$@")
  "$BIN" "${cmd[@]}" > "$OUT/$name.txt" 2>&1 || true
  local a; a=$(acc "$OUT/$name.txt"); [ -n "$a" ] || a="failed: $(tail -1 "$OUT/$name.txt")"
  echo "| $name | $a | \`tinyq ${cmd[*]/#$FLOAT/FLOAT.tqm}\` |" >> "$OUT/table.md"
  tail -2 "$OUT/$name.txt"
}
for bits in 8 4 16; do
  for alpha in auto_po2 auto; do
    run "flat${bits}_${alpha}" --flat "$bits" --alpha "$alpha"
  done
done
run "flat16_auto_po2_qkeras_floor" --flat 16 --alpha auto_po2 --qkeras-po2-floor
cat "$OUT/table.md"
