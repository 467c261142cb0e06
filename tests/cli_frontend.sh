#!/usr/bin/env bash
# tinyq export --frontend: the generated PCM front-end + integer model against tinyq itself, on the
# host build and on the emulated Cortex-M4F (QEMU mps2-an386, as tests/cli_m4.sh):
#   (1) MFCC: features of the emitted C front-end vs tinyq's training features (eval --dump-inputs)
#       on every row of a synthetic Speech Commands test split: max abs / relative error;
#   (2) PCM in -> class out agrees with tinyq eval --integer on >= 99 % of those clips (host, M4);
#   (3) log-mel + FC-AutoEncoder: features, per-file anomaly scores and per-id AUC vs tinyq eval
#       --integer on a synthetic DCASE test folder (host, M4);
#   and --frontend on a model of another input shape: one error line, nothing written.
# The clips are the rows' own PCM from tinyq eval --dump-pcm: the keyword rows, then the silence rows
# (cuts of background noise at seeded offsets), then the sampled unknown rows; its error paths too.
set -u
source "${TQ_SRC:?}/tests/lib.sh"
export OMP_NUM_THREADS=1
CHECK="/usr/bin/python3 $SRC/tests/frontend_check.py"
for tool in qemu-system-arm arm-none-eabi-gcc sox; do
  command -v "$tool" > /dev/null || { bad "$tool not found (scripts/setup.sh installs it)"; exit 1; }
done
HOST_CFLAGS="-std=c99 -O2 -Wall -Wextra -Werror"
M4_CFLAGS="-std=c99 -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -O2 -ffunction-sections \
-fdata-sections -Wall -Wextra -Werror -Wdouble-promotion"
DOUBLE_SYMS=' (__aeabi_c?d[a-z0-9]*|__aeabi_[a-z0-9]*2d|__[a-z]*df[0-9]*)$'

# build DIR: the host driver and the Cortex-M4F image (single-precision only, no double routine)
build() {
  make -s -C "$1" -f Makefile.frontend pcm_test CFLAGS="$HOST_CFLAGS" > "$1/build.txt" 2>&1 &&
    make -s -C "$1" -f Makefile.frontend pcm_m4.elf M4_CFLAGS="$M4_CFLAGS" >> "$1/build.txt" 2>&1 &&
    arm-none-eabi-nm "$1/pcm_m4.elf" > "$1/syms.txt" && ! grep -qE "$DOUBLE_SYMS" "$1/syms.txt" &&
    grep -q " logf\| log10f" "$1/syms.txt"
}

# ---- keyword spotting: a small DS-CNN (float, then QAT flat 8 po2), as tests/cli_audio.sh trains it
K="$T/kws"
"$SRC/scripts/synth-kws.sh" "$K" 40 > /dev/null || bad "synth-kws.sh"
"$BIN" train --model dscnn --data "speech-commands:$K" --epochs 30 --batch 16 --lr 1e-3 --progress none \
  --threads 1 --out "$T/kf" > "$T/kf.txt" 2>&1 || bad "float DS-CNN trains"
"$BIN" train --model dscnn --init "$T/kf/model.tqm" --data "speech-commands:$K" --epochs 5 --batch 16 --lr 2e-4 \
  --flat 8 --alpha auto_po2 --progress none --threads 1 --out "$T/kq" > "$T/kq.txt" 2>&1 || bad "QAT DS-CNN trains"
out=$("$BIN" export "$T/kq/model.tqm" --out "$T/kx" --frontend mfcc --static calib:200)
check '[ $? -eq 0 ] && grep -q "the PCM front-end" <<< "$out" && [ -f "$T/kx/tq_fe_tables.c" ]' "export --frontend mfcc"
check 'grep -q "int tq_model_classify_pcm(const int16_t pcm\[TQ_MODEL_PCM_SAMPLES\], int32_t \*output_codes);" "$T/kx/model.h"' \
  "model.h declares tq_model_classify_pcm"
# what the MCU compiles (the host driver prints with printf's double)
mcu_sources() { ls "$1"/tq_fe*.[ch] | grep -v tq_fe_main_host.c; }
check '[ "$(mcu_sources "$T/kx" | wc -l)" -eq 6 ] && ! grep -n "double\|malloc" $(mcu_sources "$T/kx")' \
  "MCU front-end sources: no double, no malloc"
check 'build "$T/kx"' "MFCC front-end builds for the host and the Cortex-M4F (no double-precision routine)"
"$BIN" eval "$T/kq/model.tqm" --integer --static calib:200 --dump-inputs "$T/k_in.f32" --dump-codes "$T/k_codes.txt" \
  --dump-pcm "$T/k.s16" > "$T/k_eval.txt" || bad "eval --integer --dump-pcm"
# the rows per kind, as the loader builds a split: the keywords, then 10 % of their count each of
# silence and unknown (sampled from the other words' clips)
known=$(grep -cE "^(down|go|left|no|off|on|right|stop|up|yes)/" "$K/testing_list.txt")
others=$(($(grep -c . "$K/testing_list.txt") - known))
silence=$(((known + 9) / 10))
unknown=$((others < silence ? others : silence))
n=$((known + silence + unknown))
KINDS="keyword=$known silence=$silence unknown=$unknown"
check 'grep -q "^data: $n samples$" "$T/k_eval.txt" && [ "$(stat -c %s "$T/k.s16")" -eq $((n * 32000)) ]' \
  "--dump-pcm: 16,000 samples for each of the $n test rows ($KINDS)"
"$T/kx/pcm_test" "$T/k.s16" "$T/k_fe.f32" > "$T/k_host.txt" || bad "pcm_test runs"
check '[ "$(wc -l < "$T/k_host.txt")" -eq "$n" ] && [ "$n" -ge 100 ] && [ "$silence" -ge 9 ] && [ "$unknown" -ge 9 ]' \
  "pcm_test: a line per clip ($n clips)"
check '$CHECK features "$T/k_fe.f32" "$T/k_in.f32" 1e-3 1e-5 490 $KINDS' \
  "MFCC features match tinyq's (max abs 1e-3, 1e-5 of the largest)"
check '$CHECK classes "$T/k_host.txt" "$T/k_codes.txt" 99 $KINDS' "host: PCM -> class agrees with eval --integer on >= 99 %"
make -s -C "$T/kx" -f Makefile.frontend qemu-pcm CLIPS="$T/k.s16" > "$T/k_m4.txt" 2> "$T/k_m4err.txt" ||
  { cat "$T/k_m4err.txt"; bad "qemu-pcm (mfcc)"; }
cat "$T/k_m4err.txt"
check '$CHECK classes "$T/k_m4.txt" "$T/k_codes.txt" 99 $KINDS' "Cortex-M4F: PCM -> class agrees with eval --integer on >= 99 %"
check 'cmp -s "$T/k_m4.txt" "$T/k_host.txt"' "Cortex-M4F output codes identical to the host build's"
check '[ "$(cut -d" " -f1 "$T/k_host.txt" | sort -u | wc -l)" -gt 10 ]' "varied outputs (a model stuck on one answer would prove little)"
make -s -C "$T/kx" -f Makefile.frontend arm-pcm > "$T/k_size.txt" 2>&1 && cat "$T/k_size.txt" | tail -2
check 'grep -q "pcm_arm.o" "$T/k_size.txt"' "make arm-pcm prints the footprint"

# ---- eval --dump-pcm refused: one error line, nothing written, an existing file left as it was
expect_error "--dump-pcm needs speech-commands: data" "$BIN" eval "$T/kq/model.tqm" --data noise:49x10x1:12 \
  --dump-pcm "$T/no.s16"
check '[ ! -e "$T/no.s16" ]' "nothing written"
expect_error "--dump-pcm: $T/none/k.s16: cannot create file" "$BIN" eval "$T/kq/model.tqm" --dump-pcm "$T/none/k.s16"
expect_error "--dump-pcm: /dev/full: write failed" "$BIN" eval "$T/kq/model.tqm" --limit 2 --dump-pcm /dev/full
# noises as 32-bit float at 0.3 of their level: the keyword rows are written, then the first silence
# row has no exact int16 clip (its features could not come from 16-bit PCM)
mkdir "$T/kfloat" && cp -r "$K"/*.txt "$K"/down "$K"/_background_noise_ "$T/kfloat"
for f in "$T/kfloat/_background_noise_"/*.wav; do
  sox -V1 "$f" -e floating-point -b 32 "$T/f.wav" vol 0.3 && mv "$T/f.wav" "$f" || bad "sox float noise"
done
printf old > "$T/old.s16"
expect_error "_background_noise_/" "$BIN" eval "$T/kq/model.tqm" --data "speech-commands:$T/kfloat" --dump-pcm "$T/old.s16"
check '[ "$(cat "$T/old.s16")" = old ] && [ -z "$(ls "$T" | grep "old.s16.tmp")" ]' "the old file kept, no temporary file left"

# ---- anomaly detection: FC-AutoEncoder (float, then QAT flat 8 po2) on synthetic fan sounds
A="$T/ad/fan"
MACHINES=fan "$SRC/scripts/synth-machines.sh" "$T/ad" 6 > /dev/null || bad "synth-machines.sh"
"$BIN" train --model fc_autoencoder --data "dcase:$A" --epochs 20 --batch 64 --progress none --threads 1 \
  --out "$T/af" > "$T/af.txt" 2>&1 || bad "float FC-AutoEncoder trains"
"$BIN" train --model fc_autoencoder --init "$T/af/model.tqm" --data "dcase:$A" --flat 8 --alpha auto_po2 --epochs 3 \
  --batch 64 --progress none --threads 1 --out "$T/aq" > "$T/aq.txt" 2>&1 || bad "QAT FC-AutoEncoder trains"
"$BIN" export "$T/aq/model.tqm" --out "$T/ax" --frontend logmel --static calib:500 > /dev/null || bad "export --frontend logmel"
check '! grep -n "double\|malloc" $(mcu_sources "$T/ax") && grep -q "tq_model_anomaly_push" "$T/ax/model.h" && build "$T/ax"' "log-mel front-end builds for the host and the Cortex-M4F"
"$BIN" eval "$T/aq/model.tqm" --integer --static calib:500 --dump-inputs "$T/a_in.f32" --dump-codes "$T/a_codes.txt" \
  > "$T/a_eval.txt" || bad "eval --integer (dcase)"
ls "$A/test" | LC_ALL=C sort > "$T/names.txt"
while read -r f; do sox -V1 "$A/test/$f" -t raw -e signed -b 16 -L - pad 0 10 trim 0 160000s; done < "$T/names.txt" > "$T/a.s16"
"$T/ax/pcm_test" "$T/a.s16" "$T/a_fe.f32" > "$T/a_host.txt" || bad "pcm_test runs (logmel)"
check '$CHECK features "$T/a_fe.f32" "$T/a_in.f32" 0.2 2e-3' "log-mel features match tinyq's (max abs 0.2 dB, 2e-3 of the largest)"
scale=$(sed -n 's/^const float tq_model_output_scale = \([0-9.e+-]*\)f;$/\1/p' "$T/ax/model.c")
zp=$(sed -n 's/^const int32_t tq_model_output_zp = \(-*[0-9]*\);$/\1/p' "$T/ax/model.c")
check '$CHECK scores "$T/a_host.txt" "$T/a_in.f32" "$T/a_codes.txt" "$scale" "$zp" "$T/names.txt" 2e-3 0.01 > "$T/a_cmp.txt"' \
  "host: anomaly scores within 2e-3 (relative) of eval --integer's, AUC per id within 0.01"
cat "$T/a_cmp.txt"
# the reference AUCs are the ones tinyq eval --integer prints
check 'diff <(sed -n "s/^id \(..\): AUC \([0-9.]*\) .*/\1 \2/p" "$T/a_eval.txt") \
  <(sed -n "s/^id \(..\): AUC [0-9.]* from the front-end, \([0-9.]*\) from .*/\1 \2/p" "$T/a_cmp.txt")' \
  "the reference AUCs are eval --integer's"
make -s -C "$T/ax" -f Makefile.frontend qemu-pcm CLIPS="$T/a.s16" > "$T/a_m4.txt" 2> "$T/a_m4err.txt" ||
  { cat "$T/a_m4err.txt"; bad "qemu-pcm (logmel)"; }
cat "$T/a_m4err.txt"
check '$CHECK scores "$T/a_m4.txt" "$T/a_in.f32" "$T/a_codes.txt" "$scale" "$zp" "$T/names.txt" 2e-3 0.01' \
  "Cortex-M4F: anomaly scores within 2e-3 of eval --integer's, AUC per id within 0.01"

# ---- bad input: a model whose input is not the front-end's, refused before anything is written
"$BIN" train --model resnet8 --data noise:32x32x3:10 --epochs 1 --max-steps 1 --train-limit 64 --progress none \
  --flat 8 --alpha auto_po2 --out "$T/r" > /dev/null 2>&1 || bad "resnet8 trains"
expect_error "--frontend mfcc feeds 49x10x1 MFCCs (490 values); the model takes 32x32x3 (3072 values)" \
  "$BIN" export "$T/r/model.tqm" --out "$T/rx" --frontend mfcc --static calib:10
check '[ ! -e "$T/rx" ]' "nothing written"
expect_error "--frontend logmel feeds 1x1x640 log-mel vectors (640 values); the model takes 49x10x1 (490 values)" \
  "$BIN" export "$T/kq/model.tqm" --out "$T/rx" --frontend logmel
expect_error "--frontend" "$BIN" export "$T/kq/model.tqm" --out "$T/rx" --frontend fft
check '[ ! -e "$T/rx" ]' "nothing written"
exit $fail
