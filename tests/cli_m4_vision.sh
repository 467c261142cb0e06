#!/usr/bin/env bash
# The visual-wake-words networks on the target CPU: MobileNetV1 alpha 0.25 (depthwise-separable
# blocks, ReLU6 clamps) and MobileNetV2 alpha 0.35 (inverted residuals: zero padding before the
# stride-2 depthwise convs, residual adds, linear bottlenecks) -> flat 8-bit auto_po2 QAT -> tinyq
# export -> the Cortex-M4F on QEMU, DSP and portable kernels, output codes identical to the host build
# and to tinyq eval --integer on every sample (tests/m4_lib.sh). They train on Fashion-MNIST at
# 28x28x1 (the same layers as at 96x96x3, an eleventh of the work) for one short epoch with batch-norm
# momentum 0.9, so that the moving statistics have left their initial values and the outputs vary
# from sample to sample (a model answering the same for every input would make the comparison weak;
# after 1,000 samples MobileNetV1 gave 45-59 distinct answers out of 100 depending on the last bit of
# its float kernels, after 2,000 it gives 100).
# EfficientNet-B0 (swish/sigmoid tables, squeeze-excite, 4.1 MB of weights) runs in cli_m4_effnet.sh.
set -eu
N=${TQ_M4_SAMPLES:-100}
. "${TQ_SRC:?}/tests/m4_lib.sh"  # BIN, SRC, T, fail, run_m4

for model in mobilenetv1 "mobilenetv2 --width 0.35"; do
  name=${model%% *}
  mkdir -p "$T/$name"
  # shellcheck disable=SC2086  # the width option splits into words on purpose
  "$BIN" train --model $model --data fashion-mnist --train-limit 2000 --batch 32 --epochs 1 --bn-momentum 0.9 \
    --progress none --threads 2 --flat 8 --alpha auto_po2 --out "$T/$name/q" > /dev/null
  run_m4 "$name" "$T/$name/q/model.tqm" calib:200
  grep -q "tq_rt_depthwise_conv2d_s8_s8w_s8 " "$T/$name/plan.txt" || fail "$name: plan lacks int8 depthwise convs"
done
grep -q "tq_rt_pad_s8" "$T/mobilenetv2/plan.txt" || fail "mobilenetv2: no zero padding in the plan"
grep -q "tq_rt_add_s8" "$T/mobilenetv2/plan.txt" || fail "mobilenetv2: no residual add in the plan"
echo "PASS"
