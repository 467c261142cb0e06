# Shared by the emulated Cortex-M4 tests (cli_m4.sh, cli_m4_vision.sh, cli_m4_effnet.sh); sourced after
# N (samples per model) is set; sets BIN, SRC, the scratch folder T and fail(). run_m4 NAME MODEL.tqm
# STATIC exports the model, builds it for the host and for a Cortex-M4F (hard float, single-precision
# FPU), runs it on QEMU's mps2-an386 with the DSP-extension kernels and with the portable C ones
# (-DTQ_RT_NO_DSP), and requires output codes identical, sample by sample, to the host build and to
# tinyq eval --integer. run_m4_psram NAME then links it for a 2 MB flash, which sends its const data
# to the board's PSRAM (tq_m4_an386.ld).
BIN=${TQ_BIN:?}
SRC=${TQ_SRC:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

for tool in qemu-system-arm arm-none-eabi-gcc arm-none-eabi-nm; do
  command -v "$tool" > /dev/null || fail "$tool not found (scripts/setup.sh installs it)"
done

# Software double-precision routines: EABI helpers (__aeabi_dadd, __aeabi_cdcmple, __aeabi_f2d,
# __aeabi_d2iz, ...) and their libgcc names (__adddf3, __extendsfdf2, __fixdfsi, ...).
DOUBLE_SYMS=' (__aeabi_c?d[a-z0-9]*|__aeabi_[a-z0-9]*2d|__[a-z]*df[0-9]*)$'
M4_FLAGS="-std=c99 -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -O2 \
  -ffunction-sections -fdata-sections -Wall -Wextra -Werror -Wdouble-promotion"

# run_m4 NAME MODEL.tqm STATIC: export, compare qemu vs host vs tinyq eval --integer on N samples.
run_m4() {
  local name=$1 model=$2 static=$3 d="$T/$1"
  "$BIN" export "$model" --out "$d/c" --static "$static" > "$d/plan.txt" || fail "$name: export"
  "$BIN" eval "$model" --integer --static "$static" --limit "$N" \
    --dump-inputs "$d/in.f32" --dump-codes "$d/codes_tinyq.txt" > /dev/null || fail "$name: eval"
  make -s -C "$d/c" CC=cc CFLAGS="-std=c99 -O2 -Wall -Wextra -Werror" > /dev/null || fail "$name: host build"
  "$d/c/model_test" "$d/in.f32" > "$d/codes_host.txt"
  make -s -C "$d/c" model_m4.elf M4_CFLAGS="$M4_FLAGS" \
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
  make -s -C "$d/c" model_m4.elf M4_CFLAGS="$M4_FLAGS -DTQ_RT_NO_DSP" > "$d/m4build_c.txt" 2>&1 \
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

# run_m4_psram NAME (after run_m4 NAME): the DSP build linked for a 2 MB flash (a VWW-class part),
# which cannot hold the model's const data: .rodata goes to the PSRAM, the code stays in the flash,
# and the codes are the same.
run_m4_psram() {
  local name=$1 d="$T/$1" t0=$SECONDS
  rm -f "$d/c/model_m4.elf"
  make -s -C "$d/c" model_m4.elf M4_CFLAGS="$M4_FLAGS -Wl,--defsym=TQ_M4_FLASH_SIZE=2M" \
    > "$d/m4build_p.txt" 2>&1 || { cat "$d/m4build_p.txt"; fail "$name: Cortex-M4F build for a 2 MB flash"; }
  make -s -C "$d/c" qemu INPUTS="$d/in.f32" N="$N" QEMU_TIMEOUT=600 > "$d/codes_m4_p.txt" 2> "$d/m4_p.txt" \
    || { cat "$d/m4_p.txt"; fail "$name: qemu run with the const data in PSRAM (exit status $?)"; }
  grep "PSRAM" "$d/m4_p.txt" || fail "$name: the const data did not move to the PSRAM"
  cmp "$d/codes_tinyq.txt" "$d/codes_m4_p.txt" || fail "$name: codes differ with the const data in PSRAM"
  echo "$name: the same codes with the const data in PSRAM ($((SECONDS - t0)) s)"
}
