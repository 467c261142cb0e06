#!/usr/bin/env bash
# The study's figures (SPEC §7) reproduced from tinyq's own runs, as the README shows them:
#   (a) accuracy per epoch of flat 8-bit QAT against mixed precision (MPQ) — ResNet-8, Fashion-MNIST;
#   (b) the trials of a small Bayesian search: bits against accuracy with the Pareto front, and the
#       GP's per-layer sensitivity (inverse ARD lengthscales, sensitivity.csv);
#   (c) the weight-update plot: mean |Δw| per layer and epoch against 1e-3 (layers.csv).
# The study's process, small: float training → search from the float weights → QAT of flat 8 and of
# the search's best configuration (the MPQ), both 'auto_po2', from the float weights. Then
# `tinyq report` draws the charts and headless Chromium screenshots one chart each
# (tests/report_check.py --only, which also checks that the page drew without errors and that the
# charted numbers are the files').
#   scripts/study_figures.sh [OUT_DIR] [IMG_DIR]      (runs/study, docs/img)
# Environment: TQ_BIN (build/tinyq), LIMIT training samples (20000), EPOCHS_FLOAT (6), EPOCHS_QAT (4),
# TRIALS (12), THREADS (1). A stage whose output exists is kept (delete OUT_DIR to redo everything).
# ~20 min on 2 cores of an AMD EPYC at THREADS=1.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${TQ_BIN:-build/tinyq}
OUT=${1:-runs/study}
IMG=${2:-docs/img}
LIMIT=${LIMIT:-20000}
EPOCHS_FLOAT=${EPOCHS_FLOAT:-6}
EPOCHS_QAT=${EPOCHS_QAT:-4}
TRIALS=${TRIALS:-12}
THREADS=${THREADS:-1}
DATA=fashion-mnist
mkdir -p "$OUT/qat" "$IMG"
C=(--data "$DATA" --seed 1 --threads "$THREADS" --progress lines)

stage() { # stage NAME DONE_FILE CMD...: runs CMD (output in OUT/NAME.txt) unless DONE_FILE exists
  local name=$1 done=$2
  shift 2
  if [ -e "$done" ]; then echo "$name: kept ($done exists)"; return; fi
  echo "$name: $*"
  nice -n 10 "$@" > "$OUT/$name.txt" 2>&1 || { tail -3 "$OUT/$name.txt"; exit 1; }
  tail -1 "$OUT/$name.txt"
}

stage float "$OUT/float/model.tqm" "$BIN" train --model resnet8 "${C[@]}" --epochs "$EPOCHS_FLOAT" \
  --train-limit "$LIMIT" --out "$OUT/float"
QAT=(--init "$OUT/float/model.tqm" --alpha auto_po2 --epochs "$EPOCHS_QAT" --lr 2e-4 --schedule exp:0.5
     --train-limit "$LIMIT")
stage flat8 "$OUT/qat/flat8/model.tqm" "$BIN" train --model resnet8 "${C[@]}" "${QAT[@]}" --flat 8 \
  --out "$OUT/qat/flat8"
stage search "$OUT/search/best.json" "$BIN" search --model resnet8 --data "$DATA" \
  --space examples/search_space_study.json --trials "$TRIALS" --epochs 1 --train-fraction 0.25 \
  --init "$OUT/float/model.tqm" --tuner bayesian --initial-points 6 --seed 1 --threads "$THREADS" --out "$OUT/search"
stage mpq "$OUT/qat/mpq/model.tqm" "$BIN" train --model resnet8 "${C[@]}" "${QAT[@]}" \
  --quant "$OUT/search/best.json" --out "$OUT/qat/mpq"

# ---- the charts: one screenshot each, checked against the files
CHECK=(python3 tests/report_check.py)
"$BIN" report "$OUT/qat" --out "$OUT/qat.html" > /dev/null # flat 8 and MPQ compared
"${CHECK[@]}" "$OUT/qat.html" --only compare-val_accuracy,compare-accuracy --screenshot "$IMG/study_flat8_vs_mpq.png" \
  --width 1100 --height 360
"$BIN" report "$OUT/search" --out "$OUT/search.html" > /dev/null
"${CHECK[@]}" "$OUT/search.html" --trials "$OUT/search/trials.jsonl" --pareto "$OUT/search/pareto.csv" \
  --only s0-trials,s0-pareto --screenshot "$IMG/study_search.png" --width 1100 --height 340
"${CHECK[@]}" "$OUT/search.html" --sensitivity "$OUT/search/sensitivity.csv" --only s0-sensitivity,s0-main-effect \
  --screenshot "$IMG/study_sensitivity.png" --width 1100 --height 640
for r in flat8 mpq; do # each run's charts against its own files
  "$BIN" report "$OUT/qat/$r" --out "$OUT/$r.html" > /dev/null
  "${CHECK[@]}" "$OUT/$r.html" --log "$OUT/qat/$r/log.csv" --layers "$OUT/qat/$r/layers.csv"
done
"${CHECK[@]}" "$OUT/qat.html" --only s0-layers-mean_abs_dw,s1-layers-mean_abs_dw \
  --screenshot "$IMG/study_weight_updates.png" --width 1100 --height 760

# ---- the numbers the README quotes
test_acc() { sed -n 's/^test: loss [0-9.]*, accuracy \([0-9.]*\).*/\1/p' "$1"; }
{
  avx512=$(grep -q avx512f /proc/cpuinfo && echo ", AVX-512" || true)
  echo "machine: $(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)$avx512; $(. /etc/os-release; echo "$PRETTY_NAME")"
  for r in float flat8 mpq; do echo "$r: test accuracy $(test_acc "$OUT/$r.txt")"; done
  for r in flat8 mpq; do
    d=$OUT/qat/$r
    echo "$r val_accuracy per epoch: $(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "val_accuracy") c = i }
      NR > 1 { printf "%s%s", sep, $c; sep = " " }' "$d/log.csv")"
    echo "$r mean |dw| range (kernels): $(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i }
      NR > 1 && $h["tensor"] == "kernel" { v = $h["mean_abs_dw"] + 0; if (!n++ || v < lo) lo = v; if (v > hi) hi = v;
      if (v < 1e-3) below++ } END { printf "%.3g .. %.3g, %d of %d below 1e-3", lo, hi, below, n }' "$d/layers.csv")"
  done
  sed -n '/^top [0-9]* trials by score/,/^Pareto front/p' "$OUT/search.txt"
  echo "most sensitive dimensions (sensitivity.csv, 1/lengthscale):"
  awk -F, 'NR > 1 && $6 != "" { print }' "$OUT/search/sensitivity.csv" | sort -t, -k6,6 -g -r | head -5
} | tee "$OUT/numbers.txt"
