#!/usr/bin/env bash
# tinyq quanterr end to end: two QAT ResNet-8s (flat 8 and flat 4 auto_po2, a few steps) -> a row
# per quantized kernel and activation slot, on stdout and in the CSV; 8-bit kernels well above
# 4-bit ones; static scales; one-line errors. (Exact SQNR values: tests/test_quanterr.c.)
set -euo pipefail
BIN=${TQ_BIN:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "${TQ_SRC:?}/tests/expect_error.sh" # fail, expect_error

python3 "${TQ_SRC:?}/tests/fashion_subset.py" "$T/fm" 400 # train, test and quanterr in seconds
C=(--model resnet8 --data "fashion-mnist:$T/fm" --max-steps 3 --epochs 1 --progress none --seed 5 --threads 2)
"$BIN" train "${C[@]}" --out "$T/float" > /dev/null
for b in 8 4; do
  "$BIN" train "${C[@]}" --flat $b --alpha auto_po2 --init "$T/float/model.tqm" --out "$T/q$b" > /dev/null
  "$BIN" quanterr "$T/q$b/model.tqm" --samples 64 --csv "$T/q$b.csv" > "$T/q$b.txt"
done
cat "$T/q8.txt"
# resnet8: 10 kernels (conv2d .. conv2d_8, dense) and 10 activation slots, table and CSV alike
[ "$(grep -c ' kernel ' "$T/q8.txt")" -eq 10 ] || fail "expected 10 kernel rows"
[ "$(grep -c ' activation ' "$T/q8.txt")" -eq 10 ] || fail "expected 10 activation rows"
[ "$(tail -n +2 "$T/q8.csv" | wc -l)" -eq 20 ] || fail "expected 20 CSV rows"
head -1 "$T/q8.csv" | grep -q '^layer,tensor,bits,values,groups,sqnr_db,' || fail "CSV header"
# per-channel scales: conv2d has 16 output channels, so 16 groups; slots: one group per sample
grep -q '^conv2d,kernel,8,144,16,' "$T/q8.csv" || fail "conv2d: 144 weights in 16 channel groups"
grep -q '^activation,activation,8,50176,64,' "$T/q8.csv" || fail "activation: 64 samples of 784 values"
mean_kernel_sqnr() { awk -F, '$2 == "kernel" { s += $6; n++ } END { printf "%.2f", s / n }' "$1"; }
m8=$(mean_kernel_sqnr "$T/q8.csv") m4=$(mean_kernel_sqnr "$T/q4.csv")
echo "mean kernel SQNR: 8-bit $m8 dB, 4-bit $m4 dB"
awk -v a="$m8" -v b="$m4" 'BEGIN { exit !(a > 30 && a < 60 && a > b + 15) }' ||
  fail "8-bit kernels should be 30-60 dB and 15 dB above 4-bit ones"
# static scales: one group per slot
"$BIN" quanterr "$T/q8/model.tqm" --samples 32 --static ema --csv "$T/s.csv" > /dev/null
grep -q '^activation,activation,8,25088,1,' "$T/s.csv" || fail "static scales: one group per slot"

expect_error "float/model.tqm: a float model" "$BIN" quanterr "$T/float/model.tqm"
cp "$T/q8/model.tqm" "$T/future.tqm"
printf '\x02' | dd of="$T/future.tqm" bs=1 seek=8 conv=notrunc status=none
expect_error "future.tqm: unsupported format version 2" "$BIN" quanterr "$T/future.tqm"
expect_error "noise:5x5x1: samples are 5x5x1" "$BIN" quanterr "$T/q8/model.tqm" --data noise:5x5x1
expect_error "--samples" "$BIN" quanterr "$T/q8/model.tqm" --samples 0
echo "cli_quanterr: all checks passed"
