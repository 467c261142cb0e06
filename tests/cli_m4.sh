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
BIN=${TQ_BIN:?}
N=${TQ_M4_SAMPLES:-200}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

for tool in qemu-system-arm arm-none-eabi-gcc arm-none-eabi-nm; do
  command -v "$tool" > /dev/null || fail "$tool not found (scripts/setup.sh installs it)"
done

# Software double-precision routines: EABI helpers (__aeabi_dadd, __aeabi_cdcmple, __aeabi_f2d,
# __aeabi_d2iz, ...) and their libgcc names (__adddf3, __extendsfdf2, __fixdfsi, ...).
DOUBLE_SYMS=' (__aeabi_c?d[a-z0-9]*|__aeabi_[a-z0-9]*2d|__[a-z]*df[0-9]*)$'

# run_m4 NAME MODEL.tqm STATIC: export, compare qemu vs host vs tinyq eval --integer on N samples.
run_m4() {
  local name=$1 model=$2 static=$3 d="$T/$1"
  "$BIN" export "$model" --out "$d/c" --static "$static" > "$d/plan.txt" || fail "$name: export"
  "$BIN" eval "$model" --integer --static "$static" --limit "$N" \
    --dump-inputs "$d/in.f32" --dump-codes "$d/codes_tinyq.txt" > /dev/null || fail "$name: eval"
  make -s -C "$d/c" CC=cc CFLAGS="-std=c99 -O2 -Wall -Wextra -Werror" > /dev/null || fail "$name: host build"
  "$d/c/model_test" "$d/in.f32" > "$d/codes_host.txt"
  local m4flags="-std=c99 -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -O2 \
    -ffunction-sections -fdata-sections -Wall -Wextra -Werror -Wdouble-promotion"
  make -s -C "$d/c" model_m4.elf M4_CFLAGS="$m4flags" \
    > "$d/m4build.txt" 2>&1 || { cat "$d/m4build.txt"; fail "$name: Cortex-M4F build"; }
  # the image is ARMv7E-M (Cortex-M4) code, hard-float ABI, single-precision FPU, no double routine
  arm-none-eabi-readelf -A "$d/c/model_m4.elf" > "$d/attrs.txt"
  grep -q "Tag_CPU_arch: v7E-M" "$d/attrs.txt" || fail "$name: not an ARMv7E-M image"
  grep -q "Tag_ABI_VFP_args: VFP registers" "$d/attrs.txt" || fail "$name: not hard-float"
  grep -q "Tag_ABI_HardFP_use: SP only" "$d/attrs.txt" || fail "$name: FPU use is not single precision only"
  arm-none-eabi-nm "$d/c/model_m4.elf" > "$d/syms.txt"
  grep -q " tq_model_run_codes$" "$d/syms.txt" || fail "$name: nm sees no model in the image"
  if grep -E "$DOUBLE_SYMS" "$d/syms.txt"; then fail "$name: software double-precision routines linked"; fi
  local t0=$SECONDS
  make -s -C "$d/c" qemu INPUTS="$d/in.f32" N="$N" QEMU_TIMEOUT=600 > "$d/codes_m4.txt" 2> "$d/m4.txt" \
    || { cat "$d/m4.txt"; fail "$name: qemu run (exit status $?)"; }
  cat "$d/m4.txt"
  [ "$(wc -l < "$d/codes_tinyq.txt")" -eq "$N" ] || fail "$name: tinyq eval dumped $(wc -l < "$d/codes_tinyq.txt") samples"
  [ "$(wc -l < "$d/codes_m4.txt")" -eq "$N" ] || fail "$name: the Cortex-M4F ran $(wc -l < "$d/codes_m4.txt") of $N samples"
  cmp "$d/codes_host.txt" "$d/codes_m4.txt" || fail "$name: Cortex-M4F codes differ from the host build"
  cmp "$d/codes_tinyq.txt" "$d/codes_m4.txt" || fail "$name: Cortex-M4F codes differ from tinyq eval --integer"
  # distinct outputs: a model stuck on one answer would make the comparison weak
  [ "$(sort -u "$d/codes_m4.txt" | wc -l)" -gt $((N / 2)) ] || fail "$name: too few distinct outputs"
  local stack arena
  stack=$(sed -n 's/^m4: stack used by one inference: \([0-9]*\) bytes.*/\1/p' "$d/m4.txt")
  arena=$(sed -n 's/^m4: arena: \([0-9]*\) bytes$/\1/p' "$d/m4.txt")
  [ -n "$stack" ] && [ "$stack" -gt 0 ] && [ "$stack" -lt 65536 ] || fail "$name: stack figure '$stack'"
  grep -q "^arena: $arena bytes" "$d/plan.txt" || fail "$name: arena $arena is not the plan's"
  echo "$name: Cortex-M4F codes identical to the host build and tinyq eval --integer on $N samples;" \
    "stack $stack bytes, arena $arena bytes ($((SECONDS - t0)) s in QEMU)"
  # the DSP image multiplies int8 pairs with SMLAD; the portable image has no SMLAD and the same codes
  arm-none-eabi-objdump -d "$d/c/model_m4.elf" > "$d/dis.txt"
  if grep -q "tq_rt_conv2d_s8_s8w_s8 " "$d/plan.txt"; then
    grep -q "smlad" "$d/dis.txt" || fail "$name: the Cortex-M4F image uses no SMLAD (DSP kernels missing)"
  fi
  t0=$SECONDS
  rm -f "$d/c/model_m4.elf"
  make -s -C "$d/c" model_m4.elf M4_CFLAGS="$m4flags -DTQ_RT_NO_DSP" > "$d/m4build_c.txt" 2>&1 \
    || { cat "$d/m4build_c.txt"; fail "$name: Cortex-M4F build with -DTQ_RT_NO_DSP"; }
  if arm-none-eabi-objdump -d "$d/c/model_m4.elf" | grep -q smlad; then
    fail "$name: -DTQ_RT_NO_DSP left SMLAD in the image"
  fi
  make -s -C "$d/c" qemu INPUTS="$d/in.f32" N="$N" QEMU_TIMEOUT=600 > "$d/codes_m4_c.txt" 2> "$d/m4_c.txt" \
    || { cat "$d/m4_c.txt"; fail "$name: qemu run of the portable C kernels (exit status $?)"; }
  cmp "$d/codes_host.txt" "$d/codes_m4_c.txt" || fail "$name: portable C kernels on the Cortex-M4F differ from the host"
  cmp "$d/codes_tinyq.txt" "$d/codes_m4_c.txt" || fail "$name: portable C kernels on the Cortex-M4F differ from tinyq eval"
  echo "$name: the portable C kernels (-DTQ_RT_NO_DSP) give the same codes ($((SECONDS - t0)) s in QEMU)"
}

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
