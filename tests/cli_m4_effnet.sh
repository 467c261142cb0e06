#!/usr/bin/env bash
# EfficientNet-B0 (Keras applications layout: swish and sigmoid tables, squeeze-excite with its channel
# multiply, zero padding before the stride-2 depthwise convs, residual adds; 4.14 MB of 8-bit weights)
# -> flat 8-bit auto_po2 QAT -> tinyq export -> the Cortex-M4F on QEMU, DSP and portable kernels,
# output codes identical to the host build and to tinyq eval --integer on every sample
# (tests/m4_lib.sh). At 28x28x1 with 10 classes its image fits the board's 4 MiB code memory with
# about 19 KB to spare; linked again for a 2 MB flash, its const data goes to the PSRAM (tq_m4_an386.ld)
# and the codes stay the same.
# It trains for two short epochs on the first 1,000 Fashion-MNIST images (tests/fashion_subset.py, also
# its test set, so that the end-of-training test pass stays short) with batch-norm momentum 0.9, as
# cli_m4_vision.sh does, the second on static activation scales (--freeze-ranges 1): so that the
# outputs vary from sample to sample. Trained on per-batch scales only, EfficientNet's integer model
# gives nearly one answer for every image (README, "EfficientNet-B0 on the VWW stand-in"); one epoch
# passed the distinct-output check by luck of the dropout draws and failed when they changed.
set -eu
N=${TQ_M4_SAMPLES:-100}
. "${TQ_SRC:?}/tests/m4_lib.sh"  # BIN, SRC, T, fail, run_m4

python3 "$SRC/tests/fashion_subset.py" "$T/fm" 1000
mkdir -p "$T/effnet"
"$BIN" train --model efficientnetb0 --data "fashion-mnist:$T/fm" --batch 32 --epochs 2 --freeze-ranges 1 \
  --bn-momentum 0.9 --progress none --threads 2 --flat 8 --alpha auto_po2 --layer-stats off --out "$T/effnet/q" > /dev/null
run_m4 effnet "$T/effnet/q/model.tqm" calib:200
run_m4_psram effnet
p="$T/effnet/plan.txt"
grep -q "tq_rt_lut_s8_s8 " "$p" || fail "effnet: no swish/sigmoid table in the plan"
grep -q "tq_rt_mul_bcast_s8" "$p" || fail "effnet: no squeeze-excite multiply in the plan"
grep -q "tq_rt_depthwise_conv2d_s8_s8w_s8 " "$p" || fail "effnet: plan lacks int8 depthwise convs"
grep -q "tq_rt_add_s8" "$p" || fail "effnet: no residual add in the plan"
echo "PASS"
