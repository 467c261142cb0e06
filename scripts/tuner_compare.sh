#!/usr/bin/env bash
# Bayesian vs random tuner at the same number of trials over several seeds (README, "Mixed-precision
# search"): ResNet-8 on Fashion-MNIST, the study's space, 1-epoch trials on 20 % of the data.
#   scripts/tuner_compare.sh FLOAT_INIT.tqm OUT_DIR [TRIALS] [SEEDS]
# Runs one search per tuner and seed (--threads 1; run two copies with disjoint SEEDS to use two
# cores), or resumes it if OUT_DIR/TUNER_sSEED exists, then prints the best score after every
# tenth trial. With only the tables wanted: TABLE_ONLY=1.
set -euo pipefail
BIN=${TQ_BIN:-build/tinyq}
INIT=$1
OUT=$2
TRIALS=${3:-30}
SEEDS=${4:-1 2 3}
SPACE=$(dirname "$0")/../examples/search_space_study.json
mkdir -p "$OUT"
if [ -z "${TABLE_ONLY:-}" ]; then
  for seed in $SEEDS; do
    for tuner in bayesian random; do
      dir="$OUT/${tuner}_s$seed"
      if [ -f "$dir/search.json" ]; then
        "$BIN" search --resume "$dir" --trials "$TRIALS" --threads 1 > "$dir.txt" 2>&1
      else
        "$BIN" search --model resnet8 --data fashion-mnist --space "$SPACE" --trials "$TRIALS" \
          --epochs 1 --train-fraction 0.2 --init "$INIT" --tuner "$tuner" --seed "$seed" \
          --threads 1 --out "$dir" > "$dir.txt" 2>&1
      fi
    done
  done
fi
# Best score after k trials, k = 10, 20, ..., TRIALS (journal lines are in trial order with one rank).
best_after() {
  grep -o '"score":[-0-9.e+]*' "$1" | cut -d: -f2 |
    awk -v step=10 -v n="$2" '{ if (NR == 1 || $1 > b) b = $1; if (NR % step == 0 || NR == n) printf " %.4f", b; if (NR == n) exit }'
}
printf '%-10s %-5s best score after 10, 20, ... trials\n' tuner seed
for seed in $SEEDS; do
  for tuner in bayesian random; do
    j="$OUT/${tuner}_s$seed/trials.jsonl"
    [ -f "$j" ] && printf '%-10s %-5s%s\n' "$tuner" "$seed" "$(best_after "$j" "$TRIALS")"
  done
done
