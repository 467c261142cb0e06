#!/usr/bin/env bash
# tinyq search end to end on a tiny Fashion-MNIST subset (trials of 2 steps): errors, the journal,
# resume equivalence (2 trials + --resume to 4 = 4 uninterrupted), a kill -9 in the middle of a trial
# plus a torn journal line, best.json accepted by train/stats, pareto.csv non-dominated, the MSE metric.
set -u
BIN=${TQ_BIN:?}
SRC=${TQ_SRC:?}
. "$SRC/tests/search_lib.sh"

mkdata "$T/fm" 400 # 360 training, 40 validation samples

# "trial choice" per finished trial, sorted by trial; the scores likewise.
choices() { grep -o '"trial":[0-9]*,"status":"[a-z]*","rank":[0-9]*,"choice":\[[0-9,]*\]' "$1" |
            sed 's/"trial":\([0-9]*\),"status":"\([a-z]*\)","rank":[0-9]*,"choice":/\1 \2 /' | sort -n; }
scores() { grep -o '"trial":[0-9]*\|"score":[-0-9.e+]*' "$1" | paste - - | sort -t: -k2 -n; }

SPACE="$SRC/examples/search_space_study.json"
COMMON=(--model resnet8 --data "fashion-mnist:$T/fm" --space "$SPACE" --epochs 1 --train-fraction 0.5
        --max-steps 2 --augment none --initial-points 2 --threads 2 --seed 3)

# ---- errors: one line naming the file and the entry
printf '{"quantization_config": {' > "$T/malformed.json"
expect_error "malformed.json: not valid JSON" "$BIN" search --model resnet8 --space "$T/malformed.json" --out "$T/e"
QC='"quantization_config": {"kernel": {"quantized_bits(4,4,1)": 4, "quantized_bits(8,8,1)": 8},
 "bias": {"quantized_bits(16,16,1,alpha='"'auto_po2'"')": 16}, "activation": {"quantized_bits(8,8,1)": 8}}'
echo "{$QC, \"limit\": {\"^conv9\$\": 8}}" > "$T/nomatch.json"
expect_error 'nomatch.json: limit "^conv9$": the pattern matches no layer of model resnet8' \
  "$BIN" search --model resnet8 --space "$T/nomatch.json" --out "$T/e"
echo "{$QC, \"limit\": {\"Conv2D\": [2, 31]}}" > "$T/empty.json"
expect_error 'empty.json: limit "Conv2D": no kernel quantizer costs <= 2' \
  "$BIN" search --model resnet8 --space "$T/empty.json" --out "$T/e"
echo '{"quantization_config": {"kernel": {"quantized_bitz(4,4,1)": 4}, "bias": {"quantized_bits(16,16,1)": 16},
 "activation": {"quantized_bits(8,8,1)": 8}}}' > "$T/unknown.json"
expect_error 'unknown.json: quantization_config.kernel: quantizer "quantized_bitz(4,4,1)"' \
  "$BIN" search --model resnet8 --space "$T/unknown.json" --out "$T/e"
echo "{$QC, \"limit\": {\"^activation_[12]\$\": [8, 16]}}" > "$T/mismatch.json"
expect_error 'mismatch.json: limit "^activation_[12]$": [kernel, bias] has no activation limit, but the pattern matches activation slots of model resnet8' \
  "$BIN" search --model resnet8 --space "$T/mismatch.json" --out "$T/e"
echo "{$QC, \"limits\": {}}" > "$T/key.json"
expect_error 'key.json: unknown key "limits"' "$BIN" search --model resnet8 --space "$T/key.json" --out "$T/e"
expect_error "--space" "$BIN" search --model resnet8 --out "$T/e"
expect_error "nothing.json: cannot open" "$BIN" search --model resnet8 --space "$T/nothing.json" --out "$T/e"
expect_error "unknown tuner 'annealing'" "$BIN" search "${COMMON[@]}" --tuner annealing --out "$T/e"
expect_error "--train-fraction" "$BIN" search "${COMMON[@]}" --train-fraction 0 --out "$T/e"
expect_error "unknown model 'resnet9'" "$BIN" search --model resnet9 --space "$SPACE" --out "$T/e"
expect_error "--init $T/none.tqm" "$BIN" search "${COMMON[@]}" --init "$T/none.tqm" --out "$T/e"
expect_error "--resume: $T/nowhere/search.json: cannot open" "$BIN" search --resume "$T/nowhere"
check '[ ! -e "$T/e/search.json" ]' "a failed start leaves no search.json"

# ---- A: 4 trials uninterrupted
"$BIN" search "${COMMON[@]}" --trials 4 --out "$T/a" > "$T/a.log" 2>&1 || { bad "run A"; cat "$T/a.log"; }
check '[ "$(lines "$T/a/trials.jsonl")" -eq 4 ]' "A: 4 journal lines"
check '[ "$(choices "$T/a/trials.jsonl" | cut -d" " -f1 | tr "\n" " ")" = "1 2 3 4 " ]' "A: trials 1..4"
check '[ "$(choices "$T/a/trials.jsonl" | cut -d" " -f3 | sort -u | wc -l)" -eq 4 ]' "A: 4 distinct configurations"
check 'grep -q "Gaussian process" "$T/a.log"' "A: the GP proposed trials 3-4"
for f in trial status rank choice config trial_size reference_size delta metric score loss seconds; do
  check '[ "$(grep -c "\"$f\":" "$T/a/trials.jsonl")" -eq 4 ]' "A: every line has \"$f\""
done
check '[ "$(grep -c "^stats: delta_p=0.05 delta_n=0.05 rate=2.0 trial_size=" "$T/a.log")" -eq 4 ]' "A: a stats block per trial"
check 'grep -q "trial 4/4 done on rank 0 .*best .*ETA" "$T/a.log"' "A: progress lines"
check 'grep -q "top 4 trials by score" "$T/a.log"' "A: summary table"
expect_error "already holds a search" "$BIN" search "${COMMON[@]}" --trials 4 --out "$T/a"
expect_error "--epochs cannot be changed when resuming" "$BIN" search --resume "$T/a" --epochs 3

# ---- B: 2 trials, then --resume to 4: the same choices and scores as A
"$BIN" search "${COMMON[@]}" --trials 2 --out "$T/b" > "$T/b.log" 2>&1 || bad "run B"
"$BIN" search --resume "$T/b" --trials 4 > "$T/b2.log" 2>&1 || { bad "resume B"; cat "$T/b2.log"; }
check 'grep -q "2 of 4 trials finished, 0 interrupted" "$T/b2.log"' "B: resumed after 2 trials"
check '[ "$(choices "$T/a/trials.jsonl")" = "$(choices "$T/b/trials.jsonl")" ]' "B: same choices as the uninterrupted run"
check '[ "$(scores "$T/a/trials.jsonl")" = "$(scores "$T/b/trials.jsonl")" ]' "B: same scores as the uninterrupted run"
check 'cmp -s "$T/a/best.json" "$T/b/best.json"' "B: same best.json"
check 'cmp -s "$T/a/sensitivity.csv" "$T/b/sensitivity.csv"' "B: same sensitivity.csv (the GP refit on all 4 trials)"
"$BIN" search --resume "$T/b" > "$T/b3.log" 2>&1 || bad "resume of a finished search"
check '[ "$(lines "$T/b/trials.jsonl")" -eq 4 ]' "B: resuming a finished search runs nothing"

# ---- C: kill -9 in the middle of trial 2, a torn journal line, --resume
"$BIN" search "${COMMON[@]}" --trials 4 --out "$T/c" > "$T/c.log" 2>&1 &
pid=$!
for _ in $(seq 1 2400); do
  t=$(lines "$T/c/trials.jsonl"); s=$(lines "$T/c/started.jsonl")
  if [ "$t" -ge 1 ] && [ "$s" -eq $((t + 1)) ]; then break; fi
  sleep 0.05
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
t=$(lines "$T/c/trials.jsonl")
printf '{"trial":%d,"status":"ok","rank":0,"choice":[1,2' $((t + 1)) >> "$T/c/trials.jsonl"
"$BIN" search --resume "$T/c" > "$T/c2.log" 2>&1 || { bad "resume C"; cat "$T/c2.log"; }
# The trial seen started may finish between the last poll and the kill on a fast machine: then
# none is interrupted, and the torn line is still reported.
check 'grep -qE "of 4 trials finished, [01] interrupted.*a torn last journal line was cut off" "$T/c2.log"' \
  "C: killed during trial $((t + 1)): resume reports it and the torn line"
check '[ "$(choices "$T/c/trials.jsonl" | cut -d" " -f1 | tr "\n" " ")" = "1 2 3 4 " ]' "C: trials 1..4, each exactly once"
check '[ "$(choices "$T/a/trials.jsonl")" = "$(choices "$T/c/trials.jsonl")" ]' "C: same choices as the uninterrupted run"

# ---- best.json is a configuration train/stats accept; it is the best trial
best=$(grep -o '"trial":[0-9]*\|"score":[-0-9.e+]*\|"trial_size":[0-9.e+]*' "$T/a/trials.jsonl" | paste - - - |
       sed 's/"[a-z_]*"://g' | sort -s -k3,3 -g -r | head -1)
best_size=$(echo "$best" | awk '{printf "%.0f", $2}')
"$BIN" stats --model resnet8 --input 28x28x1 --quant "$T/a/best.json" > "$T/stats.log" 2>&1 || bad "stats --quant best.json"
check 'grep -q "trial_size=$best_size " "$T/stats.log"' "best.json is the best-scoring trial (size $best_size)"
"$BIN" train --model resnet8 --data "fashion-mnist:$T/fm" --quant "$T/a/best.json" --alpha auto_po2 --epochs 1 \
  --max-steps 1 --augment none --out "$T/retrain" > "$T/retrain.log" 2>&1; rc=$?
check '[ $rc -eq 0 ] && grep -q QAT "$T/retrain.log"' "train --quant best.json --alpha auto_po2 runs"

# ---- pareto.csv: sorted by bits, every row non-dominated, every other trial dominated or equal
check '[ "$(head -1 "$T/a/pareto.csv")" = "trial,total_bits,metric,score" ]' "pareto.csv header"
grep -o '"trial":[0-9]*\|"trial_size":[0-9.e+]*\|"metric":[0-9.e+-]*' "$T/a/trials.jsonl" | paste - - - |
  sed 's/"[a-z_]*"://g' > "$T/all.txt"
tail -n +2 "$T/a/pareto.csv" | tr ',' ' ' > "$T/front.txt"
check '[ -s "$T/front.txt" ] && sort -k2 -g -c "$T/front.txt"' "pareto.csv sorted by bits"
check 'awk "NR==FNR{b[NR]=\$2; m[NR]=\$3; n=NR; next}
  {for(i=1;i<=n;i++) if (b[i]<=\$2 && m[i]>=\$3 && (b[i]<\$2 || m[i]>\$3)) bad=1} END{exit bad}" "$T/all.txt" "$T/front.txt"' \
  "pareto.csv rows are non-dominated"
check 'awk "NR==FNR{b[NR]=\$2; m[NR]=\$3; n=NR; next}
  {c=0; for(i=1;i<=n;i++) if (b[i]<=\$2 && m[i]>=\$3) c=1; if(!c) bad=1} END{exit bad}" "$T/front.txt" "$T/all.txt"' \
  "every trial is dominated by or equal to a front row"

# ---- failed trials (a learning rate that diverges): journaled as failed, never retried, no best.json.
# From a float model, whose batch-norm statistics the trials keep: from scratch, batch statistics
# normalise every conv and lr 100 only gives a huge finite loss.
"$BIN" train --model resnet8 --data "fashion-mnist:$T/fm" --epochs 1 --max-steps 2 --augment none \
  --threads 2 --progress none --out "$T/fl" > /dev/null 2>&1 || bad "float model for --init"
"$BIN" search "${COMMON[@]}" --lr 100 --trials 2 --init "$T/fl/model.tqm" --out "$T/f" > "$T/f.log" 2> "$T/f.err"; rc=$?
check '[ $rc -ne 0 ] && grep -q "tinyq: error: .*no trial succeeded" "$T/f.err"' "all trials failed: an error"
check '[ "$(grep -c "\"status\":\"failed\".*\"error\":\".*NaN" "$T/f/trials.jsonl")" -eq 2 ]' "2 failed trials journaled with their error"
check '[ "$(grep -o "\"choice\":\[[0-9,]*\]" "$T/f/trials.jsonl" | sort -u | wc -l)" -eq 2 ] && [ ! -e "$T/f/best.json" ]' \
  "a failed configuration is not proposed again; no best.json"

# ---- the autoencoder's metric: 1/(1 + loss^10); the random tuner
"$BIN" search --model fc_autoencoder --data "fashion-mnist:$T/fm" --space "$SPACE" --trials 2 --epochs 1 \
  --max-steps 2 --tuner random --out "$T/ae" > "$T/ae.log" 2>&1 || { bad "fc_autoencoder search"; cat "$T/ae.log"; }
check 'grep -o "\"metric\":[0-9.e+-]*,\"score\":[0-9.e+-]*,\"loss\":[0-9.e+-]*" "$T/ae/trials.jsonl" | tr ":," "  " |
  awk "{ if ((\$2 - 1/(1+\$6^10))^2 > 1e-20) bad=1; n++ } END { exit bad || n != 2 }"' "fc_autoencoder: metric = 1/(1+loss^10)"
check 'grep -q "\"tuner\":.*\"random\"" "$T/ae/search.json"' "search.json records the tuner"

exit $fail
