#!/usr/bin/env bash
# Simulated = deployed: the fake-quant model with static scales (tinyq eval --static) and the
# integer model (tinyq eval --integer) agree sample by sample — top-1 on >= 99.5 % of samples,
# output codes at most one step apart on >= 99 % of values — for ResNet-8 (flat 8 auto_po2 from
# scratch), DS-CNN (flat 4 auto) and FC-AutoEncoder (the study's MPQ configuration: 4/8/16-bit
# mixed, int64 accumulators). Deliberately broken (the fake-quant model without the simulation),
# --compare and export name the layer where the two diverge, and export writes nothing.
# Short runs on few samples: agreement does not need a trained model.
set -eu
BIN=${TQ_BIN:?}
SRC=${TQ_SRC:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# One thread: the evaluations are small, and two OpenMP threads on a busy machine only wait.
run=(--epochs 1 --progress none --threads 1)

# check NAME MODEL STATIC EVAL-ARGS...: --compare within the bounds, and its figures checked here.
check() {
  local name=$1 model=$2 static=$3
  shift 3
  "$BIN" eval "$model" --integer --compare --static "$static" --threads 1 "$@" > "$T/$name.txt" \
    || { cat "$T/$name.txt"; fail "$name: integer and fake-quant models disagree beyond the bounds"; }
  local top1 within steps
  top1=$(sed -n 's/^  top-1: \([0-9.]*\) %.*/\1/p' "$T/$name.txt")
  within=$(sed -n 's/^  output codes: \([0-9.]*\) % within.*/\1/p' "$T/$name.txt")
  steps=$(sed -n 's/.*largest difference \([0-9]*\) step.*/\1/p' "$T/$name.txt")
  [ -n "$within" ] && [ -n "$steps" ] || fail "$name: no agreement figures"
  awk -v t="${top1:-100}" -v w="$within" 'BEGIN { exit !(t >= 99.5 && w >= 99) }' \
    || fail "$name: top-1 $top1 %, $within % within one step"
  grep -q "^no tensor more than one step apart" "$T/$name.txt" \
    || { cat "$T/$name.txt"; fail "$name: a tensor more than one step apart"; }
  echo "$name: top-1 ${top1:+$top1 %}${top1:-n/a (regression)}, $within % within one step," \
    "largest difference $steps"
}

"$BIN" train --model resnet8 --data fashion-mnist --train-limit 600 --batch 32 --flat 8 \
  --alpha auto_po2 "${run[@]}" --out "$T/r8" > /dev/null
check resnet8_flat8_auto_po2_ema "$T/r8/model.tqm" ema --limit 500
check resnet8_flat8_auto_po2_calib "$T/r8/model.tqm" calib:200 --limit 500

"$BIN" train --model dscnn --data noise:49x10x1:12 --train-limit 200 --flat 4 --alpha auto \
  "${run[@]}" --out "$T/ds" > /dev/null
check dscnn_flat4_auto "$T/ds/model.tqm" ema --split train --limit 500

"$BIN" train --model fc_autoencoder --data noise:1x1x640 --train-limit 300 \
  --quant "$SRC/examples/fc_autoencoder_mpq_study.json" "${run[@]}" --out "$T/ae" > /dev/null
grep -q "int64" <("$BIN" export "$T/ae/model.tqm" --plan) || fail "fc_autoencoder MPQ: no int64 accumulator"
check fc_autoencoder_mpq "$T/ae/model.tqm" ema --split train --limit 500

# Broken on purpose: without the simulation the fake-quant model rounds as QAT does (ties down,
# float tensors before the residual adds, biases off the accumulator grid): --compare fails and
# names the first diverging tensor and its layer.
if "$BIN" eval "$T/r8/model.tqm" --integer --compare --static ema --no-simulate --limit 500 \
  --threads 1 > "$T/broken.txt" 2> "$T/broken.err"; then
  cat "$T/broken.txt"
  fail "--compare accepted a model that does not simulate the lowering"
fi
layer=$(sed -n 's/^first divergence beyond one step: .* (written by \(.*\))$/\1/p' "$T/broken.txt")
[ -n "$layer" ] || fail "--compare named no diverging tensor: $(cat "$T/broken.txt")"
grep -q "first diverging layer: $layer" "$T/broken.err" || fail "error lacks the layer: $(cat "$T/broken.err")"
echo "broken case: --compare diverges at $layer"

# export checks the same on its calibration samples: refused with the layer, nothing written;
# --allow-divergence writes it anyway.
if "$BIN" export "$T/r8/model.tqm" --out "$T/c" --no-simulate > /dev/null 2> "$T/export.err"; then
  fail "export wrote a model that diverges"
fi
grep -q "diverges from the fake-quant model beyond the bounds (top-1 99.5 %, 99 % within one step) from layer [a-z_0-9]* (tensor [a-z_0-9]*)" \
  "$T/export.err" || fail "export refusal: $(cat "$T/export.err")"
[ ! -e "$T/c" ] || fail "a refused export left files behind"
"$BIN" export "$T/r8/model.tqm" --out "$T/c" --no-simulate --allow-divergence > /dev/null \
  2> "$T/allow.err" || fail "--allow-divergence: $(cat "$T/allow.err")"
[ -s "$T/c/model.c" ] || fail "--allow-divergence wrote nothing"
grep -q "warning" "$T/allow.err" || fail "--allow-divergence without a warning"
# and without --no-simulate the same export passes its check
"$BIN" export "$T/r8/model.tqm" --out "$T/c2" > "$T/ok.txt" || fail "export refused a simulated model"
grep -q "calibration samples: top-1 100.00 %" "$T/ok.txt" || fail "export agreement: $(grep agreement "$T/ok.txt")"
echo "export: refused with the layer, --allow-divergence writes, a simulated model passes"
