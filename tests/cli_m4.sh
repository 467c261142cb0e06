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
echo "PASS"
