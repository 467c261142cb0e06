#!/usr/bin/env bash
# tinyq import / predict against an outside reference: MLPerf Tiny's trained Keras models
# (tests/data/mlperf-tiny: ResNet-8 and MobileNetV1 0.25 VWW) imported, their Keras totals in
# tinyq summary, and tinyq predict compared with tests/keras_reference.py (numpy, float64, written
# from Keras' layer semantics, reading the .h5 with h5py) on fixed random inputs: at most 1e-4
# relative error per sample, the same top-1. Then bad files (each refused in one line naming the
# file, nothing written), and QAT from an import down to an integer model with identical codes.
set -eu
BIN=${TQ_BIN:?}
SRC=${TQ_SRC:?}
MODELS=${TQ_MLPERF_TINY:-$SRC/tests/data/mlperf-tiny}
PY=/usr/bin/python3
REF="$PY $SRC/tests/keras_reference.py"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
[ -r "$MODELS/pretrainedResnet.h5" ] && [ -r "$MODELS/vww_96.h5" ] || fail "MLPerf Tiny models not in $MODELS"
$PY -c "import h5py, numpy" || fail "python3-h5py / python3-numpy missing (scripts/setup.sh installs them)"

# ---- the shipped models: import, totals, agreement with the reference
check_model() { # name h5 params input-shape samples scale classes
  local name=$1 h5=$2 params=$3 shape=$4 n=$5 scale=$6 k=$7
  "$BIN" import "$h5" --out "$T/$name.tqm" > "$T/imp.txt" || fail "import $name: $(cat "$T/imp.txt")"
  "$BIN" summary "$T/$name.tqm" > "$T/$name.sum"
  grep -q "^Total params: $params\$" "$T/$name.sum" || fail "$name: summary total is not $params: $(grep Total "$T/$name.sum")"
  $REF inputs "$shape" "$n" 7 "$scale" "$T/$name.in.f32"
  $REF predict "$h5" "$T/$name.in.f32" "$T/$name.ref.f32"
  $REF predict "$h5" "$T/$name.in.f32" "$T/$name.refl.f32" --logits
  "$BIN" predict "$T/$name.tqm" --input "$T/$name.in.f32" --output "$T/$name.tq.f32"
  "$BIN" predict "$T/$name.tqm" --input "$T/$name.in.f32" --output "$T/$name.tql.f32" --logits
  local r
  r=$($REF compare "$T/$name.tq.f32" "$T/$name.ref.f32" "$k" 1e-4) || fail "$name: probabilities differ: $r"
  echo "$name, probabilities: $r"
  r=$($REF compare "$T/$name.tql.f32" "$T/$name.refl.f32" "$k" 1e-4) || fail "$name: logits differ: $r"
  echo "$name, logits:        $r"
}
# ResNet-8 as MLPerf feeds CIFAR-10 (raw 0..255 pixels), MobileNet as VWW feeds it (pixel/255)
check_model resnet "$MODELS/pretrainedResnet.h5" 78,666 32,32,3 64 255 10
check_model vww "$MODELS/vww_96.h5" 221,794 96,96,3 16 1 2

# The file's layer names and Keras' configuration, kept
grep -q "^ conv2d_5 (Conv2D) .*(None, 16, 16, 32) .* 544 .*activation_2" "$T/resnet.sum" || fail "resnet: shortcut conv2d_5"
grep -q "^ add_1 (Add) .*conv2d_5, batch_normalization_4" "$T/resnet.sum" || fail "resnet: add_1 inputs"
grep -q "^ depthwise_conv2d_12 (DepthwiseConv2D) .*(None, 3, 3, 256) .* 2,560" "$T/vww.sum" || fail "vww: depthwise_conv2d_12"
grep -q "^Total MACs: 7,489,664\$" "$T/vww.sum" || fail "vww: MACs (SPEC §2: 7,489,664)"

# predict: text output is the same numbers; inputs that are not whole samples are refused
"$BIN" predict "$T/resnet.tqm" --input "$T/resnet.in.f32" > "$T/text.txt"
[ "$(wc -l < "$T/text.txt")" = 64 ] || fail "text output: not one line per sample"
head -c 1000 "$T/resnet.in.f32" > "$T/short.f32"
if "$BIN" predict "$T/resnet.tqm" --input "$T/short.f32" --output "$T/o.f32" 2> "$T/err.txt"; then fail "partial sample accepted"; fi
grep -q "short.f32: 1000 bytes is not a whole number of samples of 3072 float32 values" "$T/err.txt" || fail "$(cat "$T/err.txt")"
[ ! -e "$T/o.f32" ] || fail "refused predict wrote its output"

# ---- bad files: one line naming the file, exit 1, nothing written (and a good file is not replaced)
R8="$MODELS/pretrainedResnet.h5"
head -c 600000 "$R8" > "$T/truncated.h5"
cp "$SRC/README.md" "$T/readme.h5"
for kind in no_config lambda wrong_shape missing_weight absurd_shape; do $REF mutate "$R8" "$kind" "$T/$kind.h5"; done
expect_refusal() { # file pattern
  cp "$T/resnet.tqm" "$T/keep.tqm"
  if "$BIN" import "$1" --out "$T/keep.tqm" 2> "$T/err.txt"; then fail "$1 imported"; fi
  [ "$(wc -l < "$T/err.txt")" = 1 ] || fail "$1: not one line: $(cat "$T/err.txt")"
  grep -q "^tinyq: error: import: $1: $2" "$T/err.txt" || fail "$1: $(cat "$T/err.txt")"
  cmp -s "$T/keep.tqm" "$T/resnet.tqm" || fail "$1: a refused import replaced the output"
  if "$BIN" import "$1" --out "$T/new.tqm" 2> /dev/null || [ -e "$T/new.tqm" ]; then fail "$1: wrote a file"; fi
  echo "refused: $(cat "$T/err.txt")"
}
expect_refusal "$T/truncated.h5" "the HDF5 file cannot be opened (truncated or corrupted)"
expect_refusal "$T/readme.h5" "not an HDF5 file"
expect_refusal "$T/no_config.h5" "no model_config attribute"
expect_refusal "$T/lambda.h5" "layer 'flatten' (Lambda): not supported"
expect_refusal "$T/wrong_shape.h5" "layer 'conv2d_1' (Conv2D): weight 'kernel' has shape 3x3x16x15, the layer needs 3x3x16x16"
expect_refusal "$T/missing_weight.h5" "layer 'batch_normalization_2' (BatchNormalization): weight 'moving_variance' missing"
expect_refusal "$T/absurd_shape.h5" "layer 'input_1' (InputLayer): input shape 1000000x1000000x3 has more than"
expect_refusal "$T/nonexistent.h5" "No such file or directory"

# ---- QAT from an import.
# Zoo route: the zoo's resnet8 (with its activation-quantizer slots) takes the imported weights
# layer by layer by name (Keras' auto-names are the zoo's), QAT flat 8 auto_po2, then the integer
# model gives the fake-quant model's codes exactly.
common=(--data noise:32x32x3:10 --flat 8 --alpha auto_po2 --epochs 1 --max-steps 3 --lr 1e-4 --progress none)
"$BIN" train --model resnet8 --init "$T/resnet.tqm" "${common[@]}" --out "$T/qz" > "$T/train.txt" \
  || fail "zoo-route QAT: $(cat "$T/train.txt")"
"$BIN" eval "$T/qz/model.tqm" --integer --static ema --compare > "$T/cmp.txt" || { cat "$T/cmp.txt"; fail "zoo route: integer model disagrees"; }
grep -q "no tensor more than one step apart" "$T/cmp.txt" || fail "zoo route: $(tail -3 "$T/cmp.txt")"
grep -q "top-1: 100.00 %" "$T/cmp.txt" || fail "zoo route: top-1 $(grep top-1 "$T/cmp.txt")"
# ... and the weights did come from the file: one step at lr 1e-12 later (the BN statistics moved
# once), the zoo model still predicts as the import does
"$BIN" train --model resnet8 --init "$T/resnet.tqm" --data noise:32x32x3:10 --epochs 1 --max-steps 1 --lr 1e-12 \
  --progress none --out "$T/fz" > /dev/null
"$BIN" predict "$T/fz/model.tqm" --input "$T/resnet.in.f32" --output "$T/fz.f32" --logits
$REF compare "$T/fz.f32" "$T/resnet.refl.f32" 10 0.05 > "$T/fz.txt" || fail "zoo route did not take the imported weights: $(cat "$T/fz.txt")"
echo "zoo resnet8 initialised from the import (1 step at lr 1e-12; BN statistics moved once): $(cat "$T/fz.txt")"

# --zoo: the import written as the zoo's resnet8 (its names and slots), weights matched by
# structure; it predicts what Keras predicts. A model of another structure is refused, nothing written.
"$BIN" import "$MODELS/pretrainedResnet.h5" --zoo resnet8 --out "$T/r8z.tqm" > /dev/null || fail "import --zoo resnet8"
"$BIN" summary "$T/r8z.tqm" | grep -q '^ activation_1 (Activation) .*(None, 32, 32, 16)' || fail "--zoo: not the zoo's slots"
"$BIN" predict "$T/r8z.tqm" --input "$T/resnet.in.f32" --output "$T/r8z.f32"
r=$($REF compare "$T/r8z.f32" "$T/resnet.ref.f32" 10 1e-4) || fail "--zoo resnet8 predicts otherwise: $r"
echo "import --zoo resnet8, probabilities: $r"
"$BIN" import "$MODELS/vww_96.h5" --zoo mobilenetv1 --out "$T/mz.tqm" > /dev/null || fail "import --zoo mobilenetv1"
"$BIN" predict "$T/mz.tqm" --input "$T/vww.in.f32" --output "$T/mz.f32"
r=$($REF compare "$T/mz.f32" "$T/vww.ref.f32" 2 1e-4) || fail "--zoo mobilenetv1 predicts otherwise: $r"
echo "import --zoo mobilenetv1, probabilities: $r"
out=$("$BIN" import "$MODELS/vww_96.h5" --zoo resnet8 --out "$T/bad.tqm" 2>&1) && fail "--zoo resnet8 took vww_96.h5"
grep -q "tinyq: error: import: .*vww_96.h5: --zoo resnet8: layer conv2d: parameter shapes differ" <<< "$out" || fail "--zoo mismatch: $out"
[ ! -e "$T/bad.tqm" ] || fail "--zoo mismatch wrote a file"

# Graph route: without --model, the import's own architecture and names train (QAT flat 8); a
# --quant key by the file's layer names applies.
"$BIN" train --init "$T/resnet.tqm" "${common[@]}" --out "$T/qg" > "$T/train.txt" || fail "graph-route QAT: $(cat "$T/train.txt")"
"$BIN" summary "$T/qg/model.tqm" > "$T/qg.sum"
grep -A1 "^ conv2d_8 (Conv2D)" "$T/qg.sum" | grep -q "kernel: quantized_bits(8,8,1,alpha='auto_po2')" || fail "graph route: conv2d_8 not quantized"
grep -A1 "^ input_1/quantizer (Activation)" "$T/qg.sum" | grep -q "quantized_bits_featuremap(8" || fail "graph route: input slot"
"$BIN" predict "$T/qg/model.tqm" --input "$T/resnet.in.f32" --output "$T/qg.f32" || fail "predict of the QAT model"
# ... and deploys: its Activation('relu') layers carry quantizers under --flat and lower as "ReLU
# clamp + slot" in both the simulation and the lowering, so fake-quant and integer give identical
# codes (before, they diverged at conv2d_1 and export refused), and the generated C is bit-exact.
deploys() { # RUN DATA N WHAT: fake-quant = integer codes on N samples, export, generated C bit-exact
  local R=$1 D=$2 N=$3 W=$4
  "$BIN" eval "$R/model.tqm" --data "$D" --integer --compare --static calib:$N --limit $N \
    --dump-inputs "$R.in.f32" --dump-codes "$R.codes_tinyq.txt" > "$R.cmp.txt" \
    || { cat "$R.cmp.txt"; fail "$W: integer model disagrees"; }
  grep -q "no tensor more than one step apart" "$R.cmp.txt" || fail "$W: $(tail -3 "$R.cmp.txt")"
  grep -q "largest difference 0 steps" "$R.cmp.txt" || fail "$W: $(grep 'output codes' "$R.cmp.txt")"
  grep -q "top-1: 100.00 %" "$R.cmp.txt" || fail "$W: top-1 $(grep top-1 "$R.cmp.txt")"
  "$BIN" export "$R/model.tqm" --static calib:$N --data "$D" --out "$R.c" > "$R.exp.txt" \
    || fail "$W: export: $(tail -2 "$R.exp.txt")"
  make -s -C "$R.c" CC=cc CFLAGS="-std=c99 -O2 -Wall -Wextra -Werror" > /dev/null || fail "$W: generated C does not build"
  "$R.c/model_test" "$R.in.f32" > "$R.codes_c.txt"
  cmp "$R.codes_tinyq.txt" "$R.codes_c.txt" || fail "$W: generated C differs from tinyq eval --integer"
  echo "$W: identical codes (fake-quant vs integer), exported C bit-exact on $N samples; $(grep -o 'arena: .*bytes' "$R.exp.txt")"
}
deploys "$T/qg" noise:32x32x3:10 100 "graph route"
# MobileNet vww_96.h5: some channels of its pointwise convolutions are all but switched off (~1e-30
# after folding); they take the largest channel's step (src/quant/scale.c), so their bias fits.
"$BIN" train --init "$T/vww.tqm" --data noise:96x96x3:2 --flat 8 --alpha auto_po2 --epochs 1 --max-steps 2 \
  --batch 8 --progress none --out "$T/vq" > "$T/vtrain.txt" || fail "vww graph-route QAT: $(cat "$T/vtrain.txt")"
deploys "$T/vq" noise:96x96x3:2 32 "vww_96 graph route"
echo '{"conv2d_7": {"kernel_quantizer": "quantized_bits(4,4,1,alpha=\"auto_po2\")", "bias_quantizer": "quantized_bits(16,16,1,alpha=\"auto_po2\")"}, "input_1/quantizer": "quantized_bits_featuremap(8,8,1,1,alpha=\"auto_po2\",scale_axis=0)"}' > "$T/q.json"
"$BIN" train --init "$T/resnet.tqm" --data noise:32x32x3:10 --quant "$T/q.json" --epochs 1 --max-steps 1 --progress none --out "$T/qq" > /dev/null
"$BIN" summary "$T/qq/model.tqm" | grep -A1 "^ conv2d_7 (Conv2D)" | grep -q "quantized_bits(4,4,1" || fail "--quant by imported name"
echo "cli_import: OK"
