#!/usr/bin/env bash
# Sigmoid, swish and the squeeze-excite multiply through the whole chain: a tiny Keras .h5 in the
# layout of Keras' EfficientNet (tests/se_keras.py: ZeroPadding2D stem, swish activations, an SE
# block with Reshape, 1x1 convs with fused swish/sigmoid and Multiply) -> tinyq import -> QAT at 8
# and 16 bits, power-of-two and free scales -> tinyq eval --integer --compare: every tensor, the
# tables and the multiply included, has the fake-quant model's codes exactly -> tinyq export: the
# generated C gives tinyq eval --integer's codes for every sample (and on an emulated Cortex-M4F
# when qemu-system-arm is there).
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
$PY -c "import h5py, numpy" || { bad "python3-h5py / python3-numpy missing (scripts/setup.sh installs them)"; exit 1; }

$PY "$SRC/tests/se_keras.py" "$T/se.h5" 3 || { bad "se_keras.py"; exit 1; }
"$BIN" import "$T/se.h5" --out "$T/se.tqm" > /dev/null || { bad "import"; exit 1; }
"$BIN" summary "$T/se.tqm" > "$T/sum.txt"
check 'grep -q "^ block1a_se_excite (Multiply) .*block1a_activation, block1a_se_expand/sigmoid" "$T/sum.txt"' \
  "import: the excite multiplies the feature map by the sigmoid gate"

data=(--data noise:12x12x3:2)
for cfg in "8 auto_po2 s8_s8" "8 auto s8_s8" "16 auto_po2 s16_s16" "16 auto s16_s16"; do
  set -- $cfg
  bits=$1 alpha=$2 types=$3 R="$T/q$1$2"
  "$BIN" train --init "$T/se.tqm" "${data[@]}" --flat "$bits" --alpha "$alpha" --epochs 1 --max-steps 6 \
    --batch 16 --progress none --threads 1 --out "$R" > /dev/null || { bad "QAT flat $bits $alpha"; continue; }
  "$BIN" eval "$R/model.tqm" "${data[@]}" --integer --compare --static calib:64 --threads 1 \
    --dump-inputs "$R/in.f32" --dump-codes "$R/codes_tinyq.txt" > "$R/eval.txt"
  check '[ $? -eq 0 ]' "flat $bits $alpha: eval --integer --compare within the bounds"
  # every tensor's largest difference (last column) is 0: identical codes, not only within one step
  diffs=$(awk '/^  tensor /{t=1; next} t && $NF ~ /^[0-9]+$/ && $NF != 0 {print $1 "=" $NF}' "$R/eval.txt")
  check '[ -z "$diffs" ] && grep -q "largest difference 0 steps" "$R/eval.txt"' \
    "flat $bits $alpha: identical codes in every tensor (sigmoid/swish tables, multiply)${diffs:+: $diffs}"
  "$BIN" export "$R/model.tqm" --out "$R/c" "${data[@]}" --static calib:64 > "$R/plan.txt" \
    || { bad "flat $bits $alpha: export: $(tail -2 "$R/plan.txt")"; continue; }
  check 'grep -q "tq_rt_lut_${types} .* table" "$R/plan.txt" && grep -q "tq_rt_mul_bcast_${types}_${types#*_}" "$R/plan.txt"' \
    "flat $bits $alpha: the plan runs the tables (tq_rt_lut_${types}) and the multiply (tq_rt_mul_bcast)"
  make -s -C "$R/c" CC=cc CFLAGS="-std=c99 -O2 -Wall -Wextra -Werror" > "$R/make.txt" 2>&1 \
    || { bad "flat $bits $alpha: generated C does not build: $(head -5 "$R/make.txt")"; continue; }
  "$R/c/model_test" "$R/in.f32" > "$R/codes_c.txt"
  n=$(wc -l < "$R/codes_c.txt")
  check 'cmp -s "$R/codes_tinyq.txt" "$R/codes_c.txt" && [ "$n" -ge 200 ]' \
    "flat $bits $alpha: generated C = tinyq eval --integer on $n samples"
done

# The same C on the target CPU (emulated), for the shifts-only 8-bit model.
R="$T/q8auto_po2"
if command -v arm-none-eabi-gcc > /dev/null && command -v qemu-system-arm > /dev/null && [ -d "$R/c" ]; then
  make -s -C "$R/c" qemu INPUTS="$R/in.f32" N=50 > "$R/codes_m4.txt" 2> "$R/m4.txt"
  check 'cmp -s "$R/codes_m4.txt" <(head -50 "$R/codes_tinyq.txt")' \
    "Cortex-M4F (qemu mps2-an386): the same codes on 50 samples"
else
  echo "skip: arm-none-eabi-gcc or qemu-system-arm missing: no Cortex-M4F run"
fi
exit $fail
