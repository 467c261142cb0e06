#!/usr/bin/env bash
# scripts/agreement_table.sh OUT_DIR: agreement of the integer model (tinyq eval --integer) with the
# fake-quant model with the same static scales (tinyq eval --static ema), sample by sample, for
# every zoo model x flat {4, 8, 16} x {auto, auto_po2} and the study's MPQ configurations (as
# written, and with --alpha auto_po2), trained from scratch and from a float model (--init).
# Short runs (1 epoch): agreement is about the arithmetic, not accuracy. ResNet-8 and DS-CNN on
# Fashion-MNIST (R8_TRAIN training images, R8_EVAL test images compared; DS-CNN with a 28x28 input
# instead of 49x10 MFCCs — there is no KWS data on the machine, and on `noise:` data it answers the
# same class for every sample, which would make its agreement meaningless); FC-AutoEncoder on
# `noise:1x1x640` (Gaussian noise; no ToyADMOS data), compared on its 1,000 training samples. The columns "without simulation" compare the integer model with the
# fake-quant model rounding as QAT does (--no-simulate): what the simulation corrects.
# Prints a markdown table and writes it to OUT_DIR/agreement.md.
# Environment: TQ_BIN (build/tinyq), THREADS (1), R8_TRAIN (2000), R8_EVAL (1000), ROWS (a regex on
# the row id, e.g. 'resnet8.*flat8').
set -eu
OUT=${1:?usage: scripts/agreement_table.sh OUT_DIR}
SRC=$(cd "$(dirname "$0")/.." && pwd)
BIN=${TQ_BIN:-$SRC/build/tinyq}
THREADS=${THREADS:-1}
R8_TRAIN=${R8_TRAIN:-2000}
R8_EVAL=${R8_EVAL:-1000}
ROWS=${ROWS:-.}
[ -x "$BIN" ] || { echo "agreement_table: $BIN not built (make, or set TQ_BIN)" >&2; exit 2; }
mkdir -p "$OUT"

data_of() {
  case $1 in
    resnet8) echo "fashion-mnist" ;;
    dscnn) echo "fashion-mnist" ;;
    fc_autoencoder) echo "noise:1x1x640" ;;
  esac
}
train_args() { # model -> data-size arguments
  case $1 in
    resnet8 | dscnn) echo "--train-limit $R8_TRAIN --batch 32" ;;
    *) echo "" ;;
  esac
}
eval_args() {
  case $1 in
    resnet8 | dscnn) echo "--limit $R8_EVAL" ;;
    *) echo "--split train" ;;
  esac
}
mpq_of() {
  case $1 in
    dscnn) echo "$SRC/examples/dscnn_mpq_study.json" ;;
    fc_autoencoder) echo "$SRC/examples/fc_autoencoder_mpq_study.json" ;;
    *) echo "" ;;
  esac
}

# fig FILE: "top1|within|steps|metric" from an eval --integer --compare output
fig() {
  local top1 within steps metric
  top1=$(sed -n 's/^  top-1: \([0-9.]*\) %.*/\1 %/p' "$1")
  within=$(sed -n 's/^  output codes: \([0-9.]*\) % within.*/\1 %/p' "$1")
  steps=$(sed -n 's/.*largest difference \([0-9]*\) step.*/\1/p' "$1")
  metric=$(sed -n 's/^accuracy: \(.*\)/acc \1/p; s/^loss: \(.*\)/mse \1/p' "$1" | head -1)
  echo "${top1:-n/a}|${within:-?}|${steps:-?}|${metric:-?}"
}

table=$OUT/agreement.md
{
  echo "| model (data) | quantization | start | top-1 agreement | output codes within one step | largest code difference | fake-quant / integer metric | without simulation: top-1, within one step |"
  echo "|---|---|---|---:|---:|---:|---|---|"
} > "$table"
cat "$table"

for model in resnet8 dscnn fc_autoencoder; do
  data=$(data_of $model)
  configs="flat4:auto flat4:auto_po2 flat8:auto flat8:auto_po2 flat16:auto flat16:auto_po2"
  [ -n "$(mpq_of $model)" ] && configs="$configs mpq:asis mpq:auto_po2"
  float=$OUT/$model-float
  for cfg in $configs; do
    for start in scratch init; do
      id="$model-${cfg/:/-}-$start"
      echo "$id" | grep -Eq "$ROWS" || continue
      q=()
      case $cfg in
        flat*)
          bits=${cfg%%:*}
          bits=${bits#flat}
          q=(--flat "$bits" --alpha "${cfg#*:}")
          qname="flat $bits ${cfg#*:}"
          ;;
        mpq:asis) q=(--quant "$(mpq_of $model)"); qname="study MPQ ($(basename "$(mpq_of $model)"))" ;;
        mpq:auto_po2) q=(--quant "$(mpq_of $model)" --alpha auto_po2); qname="study MPQ, auto_po2" ;;
      esac
      if [ "$start" = init ]; then
        if [ ! -s "$float/model.tqm" ]; then
          # shellcheck disable=SC2046
          "$BIN" train --model $model --data "$data" --epochs 1 $(train_args $model) --progress none \
            --threads "$THREADS" --out "$float" > "$OUT/$model-float.log"
        fi
        q+=(--init "$float/model.tqm")
      fi
      # shellcheck disable=SC2046
      "$BIN" train --model $model --data "$data" --epochs 1 $(train_args $model) "${q[@]}" \
        --progress none --threads "$THREADS" --out "$OUT/$id" > "$OUT/$id.log"
      # shellcheck disable=SC2046
      "$BIN" eval "$OUT/$id/model.tqm" --integer --compare --static ema --threads "$THREADS" \
        $(eval_args $model) > "$OUT/$id.compare.txt" 2>&1 || true
      # shellcheck disable=SC2046
      "$BIN" eval "$OUT/$id/model.tqm" --integer --compare --static ema --no-simulate \
        --threads "$THREADS" $(eval_args $model) > "$OUT/$id.nosim.txt" 2>&1 || true
      # shellcheck disable=SC2046
      "$BIN" eval "$OUT/$id/model.tqm" --static ema --threads "$THREADS" $(eval_args $model) \
        > "$OUT/$id.static.txt" 2>&1 || true
      IFS='|' read -r top1 within steps metric <<< "$(fig "$OUT/$id.compare.txt")"
      fq=$(sed -n 's/^accuracy: //p' "$OUT/$id.static.txt")
      [ -n "$fq" ] || fq=$(sed -n 's/^loss: //p' "$OUT/$id.static.txt")
      IFS='|' read -r ntop1 nwithin _ _ <<< "$(fig "$OUT/$id.nosim.txt")"
      n=$(sed -n 's/^agreement of the integer model.*(\([0-9]*\) samples).*/\1/p' "$OUT/$id.compare.txt")
      src=$data
      src="fashion-mnist, $n test images"
      [ $model = fc_autoencoder ] && src="noise, $n samples"
      row="| $model ($src) | $qname | $([ $start = init ] && echo "--init float" || echo scratch) | $top1 | $within | $steps | ${metric% *} ${fq:-?} / ${metric#* } | $ntop1, $nwithin |"
      echo "$row" | tee -a "$table"
    done
  done
done
echo "table: $table"
