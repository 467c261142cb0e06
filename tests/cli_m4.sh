#!/usr/bin/env bash
# The generated code on the target CPU: two QAT models -> tinyq export -> `make qemu`, i.e. the code
# cross-compiled for a Cortex-M4F (hard float, single-precision FPU) and run on QEMU's mps2-an386 ->
# output codes identical, sample by sample, to the host build and to tinyq eval --integer; no software
# double-precision routine in the image; stack high-water mark and arena printed. Each model runs twice
# on the M4: with the DSP-extension kernels (SMLAD; the default for -mcpu=cortex-m4) and with the
# portable C kernels (-DTQ_RT_NO_DSP); both must give the same codes.
#   (a) ResNet-8, flat int8, po2 scales (shifts)
#   (b) ResNet-8 mixed precision: 16-bit input slot, a 16-bit first conv whose accumulator needs
#       int64, 4-bit conv kernels (packed), 4-, 8- and 16-bit activations, 'auto' scales (Q31 multipliers)
#   (c) DS-CNN flat 16: int16 conv2d, depthwise and dense with int64 sums (the DSP image: SMLALD,
#       SMLALBB)
#   (d) DS-CNN with packed int4 kernels (but the first conv's) on 8-bit activations: int4 conv2d,
#       depthwise and dense (the DSP image: the nibble loops' SMLAD)
# (Both train on Fashion-MNIST: on `noise:` data a global-average-pooled model answers nearly the same for
# every sample, which would make the comparison weak.)
# The emulator and cross compiler are part of the set-up (scripts/setup.sh): missing, the test fails.
set -eu
N=${TQ_M4_SAMPLES:-200}
# BIN, T, fail; run_m4: export, host, Cortex-M4F DSP and portable, all compared
. "${TQ_SRC:?}/tests/m4_lib.sh"

# (a) int8 ResNet-8 (Fashion-MNIST, 1 short epoch from scratch: enough for varied outputs)
mkdir -p "$T/int8" "$T/mixed"
"$BIN" train --model resnet8 --data fashion-mnist --train-limit 600 --batch 32 --epochs 1 \
  --progress none --threads 2 --flat 8 --alpha auto_po2 --out "$T/int8/q" > /dev/null
run_m4 int8 "$T/int8/q/model.tqm" calib:200
grep -q "tq_rt_conv2d_s8_s8w_s8 " "$T/int8/plan.txt" || fail "int8: plan lacks int8 convs"

# (b) mixed precision ResNet-8: 16-bit input slot, a 16-bit first conv whose worst-case accumulator
# (9 taps x 32767 x 32767 > 2^31) makes the lowering pick int64, 4-bit kernels everywhere else
# (packed, with 16-bit residual branches), a 4-bit activation, an 8-bit 'auto' dense with a 16-bit
# 'auto' output (Q31 multipliers).
cat > "$T/mixed/quant.json" << 'EOF'
{
  "Activation": "quantized_bits_featuremap(8,8,1,1,alpha='auto_po2',scale_axis=0)",
  "activation": "quantized_bits_featuremap(16,16,1,1,alpha='auto_po2',scale_axis=0)",
  "activation_4": "quantized_bits_featuremap(4,4,1,1,alpha='auto_po2',scale_axis=0)",
  "activation_9": "quantized_bits_featuremap(16,16,1,1,alpha='auto',scale_axis=0)",
  "conv2d": {"kernel_quantizer": "quantized_bits(16,16,1,alpha='auto_po2')",
             "bias_quantizer": "quantized_bits(31,31,1,alpha='auto_po2')"},
  "Conv2D": {"kernel_quantizer": "quantized_bits(4,4,1,alpha='auto_po2')",
             "bias_quantizer": "quantized_bits(16,16,1,alpha='auto_po2')"},
  "Dense": {"kernel_quantizer": "quantized_bits(8,8,1,alpha='auto')",
            "bias_quantizer": "quantized_bits(31,31,1,alpha='auto')"}
}
EOF
"$BIN" train --model resnet8 --data fashion-mnist --train-limit 600 --batch 32 --epochs 1 \
  --progress none --threads 2 --quant "$T/mixed/quant.json" --out "$T/mixed/q" > /dev/null
run_m4 mixed "$T/mixed/q/model.tqm" calib:200
p="$T/mixed/plan.txt"
# the plan line of the first conv: 16-bit input, 16-bit kernel, int64 accumulator
grep -E "^ *[0-9]+ +conv2d +tq_rt_conv2d_s16_s16w_[a-z0-9]+_acc64 " "$p" > /dev/null \
  || { cat "$p"; fail "mixed: conv2d is not a 16-bit-input int64-accumulator kernel"; }
grep -E " conv2d +.* int64 " "$p" > /dev/null || { cat "$p"; fail "mixed: the plan does not show int64 for conv2d"; }
grep -q "_s4w_" "$p" || fail "mixed: no 4-bit kernel in the plan"
grep -q "tq_rt_quantize_f32_s16 " "$p" || fail "mixed: the input is not quantized to 16 bits"
grep -q " mult" "$p" || fail "mixed: no multiplier requantization ('auto' scales)"
# (c) DS-CNN (depthwise-separable) flat 16, trained like the vision tests of cli_m4_vision.sh
mkdir -p "$T/dscnn16" "$T/dscnn4"
"$BIN" train --model dscnn --data fashion-mnist --train-limit 600 --batch 32 --epochs 1 --bn-momentum 0.9 \
  --progress none --threads 2 --flat 16 --alpha auto_po2 --out "$T/dscnn16/q" > /dev/null
run_m4 dscnn16 "$T/dscnn16/q/model.tqm" calib:200
# (d) DS-CNN, 4-bit kernels after an 8-bit first conv, 8-bit activations (at 4 bits everywhere one
# short epoch leaves it answering nearly the same for every sample)
cat > "$T/dscnn4/quant.json" << 'EOF'
{
  "Activation": "quantized_bits_featuremap(8,8,1,1,alpha='auto_po2',scale_axis=0)",
  "conv2d": {"kernel_quantizer": "quantized_bits(8,8,1,alpha='auto_po2')",
             "bias_quantizer": "quantized_bits(31,31,1,alpha='auto_po2')"},
  "Conv2D": {"kernel_quantizer": "quantized_bits(4,4,1,alpha='auto_po2')",
             "bias_quantizer": "quantized_bits(31,31,1,alpha='auto_po2')"},
  "DepthwiseConv2D": {"kernel_quantizer": "quantized_bits(4,4,1,alpha='auto_po2')",
                      "bias_quantizer": "quantized_bits(31,31,1,alpha='auto_po2')"},
  "Dense": {"kernel_quantizer": "quantized_bits(4,4,1,alpha='auto_po2')",
            "bias_quantizer": "quantized_bits(31,31,1,alpha='auto_po2')"}
}
EOF
"$BIN" train --model dscnn --data fashion-mnist --train-limit 1000 --batch 32 --epochs 1 --bn-momentum 0.9 \
  --progress none --threads 2 --quant "$T/dscnn4/quant.json" --out "$T/dscnn4/q" > /dev/null
run_m4 dscnn4 "$T/dscnn4/q/model.tqm" calib:200
p="$T/dscnn16/plan.txt"
grep -q "tq_rt_depthwise_conv2d_s16_s16w_s16_acc64 " "$p" || { cat "$p"; fail "dscnn16: no int16 depthwise with int64 sums"; }
grep -q "tq_rt_conv2d_s16_s16w_s16_acc64 " "$p" || { cat "$p"; fail "dscnn16: no int16 conv2d with int64 sums"; }
grep -q "smlald" "$T/dscnn16/dis.txt" || fail "dscnn16: the DSP image has no SMLALD (int16 DSP loops missing)"
grep -q "smlalbb" "$T/dscnn16/dis.txt" || fail "dscnn16: the DSP image has no SMLALBB (int16 depthwise DSP loop missing)"
p="$T/dscnn4/plan.txt"
grep -q "tq_rt_conv2d_s8_s4w_s8 " "$p" || { cat "$p"; fail "dscnn4: no packed int4 conv2d"; }
grep -q "tq_rt_depthwise_conv2d_s8_s4w_s8 " "$p" || { cat "$p"; fail "dscnn4: no packed int4 depthwise"; }
grep -q "tq_rt_i_dot4_s8_s4_a32>:" "$T/dscnn4/dis.txt" || fail "dscnn4: the DSP image lacks the int4 dot loop"
awk '/<(tq_rt_i_dot4_s8_s4_a32|tq_dot4r_nib)>:/,/^$/' "$T/dscnn4/dis.txt" | grep -q smlad \
  || fail "dscnn4: the int4 dot loop of the DSP image has no SMLAD"
echo "PASS"
