#!/usr/bin/env bash
# The README's from-scratch QAT table: ResNet-8 on Fashion-MNIST trained from random weights,
# float and flat 4/8/16-bit with 'auto' and 'auto_po2' scales, with issue 9's recipe (batch 32,
# Adam 1e-3 constant, no augmentation) so that the rows compare with PyTorch eager QAT.
#   scripts/qat_scratch_table.sh OUT_DIR [EPOCHS] [THREADS]
# ROWS="flat8_auto_po2 float" runs only those rows (e.g. to split the table over processes).
set -euo pipefail
BIN=${TQ_BIN:-build/tinyq}
OUT=$1
EPOCHS=${2:-3}
THREADS=${3:-2}
ROWS=${ROWS:-}
mkdir -p "$OUT"
acc() { sed -n 's/^test: loss [0-9.]*, accuracy \([0-9.]*\).*/\1/p' "$1"; }
echo "| configuration | epochs | test accuracy | command |" > "$OUT/table.md"
echo "|---|---:|---:|---|" >> "$OUT/table.md"
run() {
  local name=$1; shift
  [ -z "$ROWS" ] || [[ " $ROWS " == *" $name "* ]] || return 0
  local cmd=(train --model resnet8 --data fashion-mnist --epochs "$EPOCHS" --batch 32 --lr 1e-3
             --schedule constant --augment none --progress lines --threads "$THREADS"
             --out "$OUT/$name" "$@")
  "$BIN" "${cmd[@]}" > "$OUT/$name.txt" 2>&1 || true
  local a; a=$(acc "$OUT/$name.txt"); [ -n "$a" ] || a="failed: $(tail -1 "$OUT/$name.txt")"
  echo "| $name | $EPOCHS | $a | \`tinyq ${cmd[*]}\` |" >> "$OUT/table.md"
  tail -2 "$OUT/$name.txt"
}
run float
for bits in 8 4 16; do
  for alpha in auto_po2 auto; do
    run "flat${bits}_${alpha}" --flat "$bits" --alpha "$alpha"
  done
done
cat "$OUT/table.md"
