#!/usr/bin/env bash
# End to end on real data: train, log, checkpoints, resume, determinism, eval, QAT from a float model.
set -eu
BIN=${TQ_BIN:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

common=(--model resnet8 --data fashion-mnist --train-limit 4000 --batch 32 --progress lines --threads 2)

# Learns: 2 epochs on 3,600 images already reach far above chance (10 %) on the 10,000 test images.
"$BIN" train "${common[@]}" --epochs 2 --out "$T/a" > "$T/a.txt"
cat "$T/a.txt"
acc=$(sed -n 's/^test: loss [0-9.]*, accuracy \([0-9.]*\).*/\1/p' "$T/a.txt")
awk -v a="$acc" 'BEGIN { exit !(a > 0.5) }' || fail "test accuracy $acc after 2 short epochs"
head -1 "$T/a/log.csv" | grep -qx 'epoch,accuracy,loss,lr,val_accuracy,val_loss' || fail "CSV header"
[ "$(wc -l < "$T/a/log.csv")" -eq 3 ] || fail "CSV rows"
for f in model.tqm best.tqm last.tqm; do [ -s "$T/a/$f" ] || fail "missing $f"; done

# Same seed and threads -> identical run (CSV byte for byte).
"$BIN" train "${common[@]}" --epochs 2 --out "$T/b" > /dev/null
cmp "$T/a/log.csv" "$T/b/log.csv" || fail "same seed gave a different run"

# Resume: 1 epoch, then --resume to 2 epochs == the uninterrupted 2-epoch run.
"$BIN" train "${common[@]}" --epochs 1 --out "$T/c" > /dev/null
"$BIN" train --resume "$T/c" --epochs 2 --progress lines > "$T/c.txt"
grep -q "Resuming" "$T/c.txt" || fail "resume message"
cmp "$T/a/log.csv" "$T/c/log.csv" || { cat "$T/a/log.csv" "$T/c/log.csv"; fail "resumed run differs"; }

# --bn-momentum: every batch norm's moving statistics follow it (the validation loss, computed with
# them, changes) and a resumed run keeps it (the model file carries it).
bm=(--model resnet8 --data fashion-mnist --train-limit 800 --batch 32 --progress none --threads 2)
"$BIN" train "${bm[@]}" --epochs 2 --bn-momentum 0.9 --out "$T/m" > /dev/null
"$BIN" train "${bm[@]}" --epochs 2 --out "$T/m0" > /dev/null
"$BIN" train "${bm[@]}" --epochs 1 --bn-momentum 0.9 --out "$T/m1" > /dev/null
"$BIN" train --resume "$T/m1" --epochs 2 --progress none > /dev/null
cmp -s "$T/m/log.csv" "$T/m0/log.csv" && fail "--bn-momentum 0.9 changed nothing"
cmp "$T/m/log.csv" "$T/m1/log.csv" || fail "a resumed --bn-momentum run differs"

# --lr scales a recipe's piecewise schedule (absolute rates: it once changed nothing).
"$BIN" train --model mobilenetv1 --data noise:96x96x3 --train-limit 64 --epochs 1 --max-steps 1 --lr 2e-4 \
  --progress none --threads 1 --layer-stats off --out "$T/lr" > /dev/null
[ "$(cut -d, -f4 "$T/lr/log.csv" | tail -1)" = 0.0002 ] || { cat "$T/lr/log.csv"; fail "--lr ignored by the piecewise recipe"; }

# eval reproduces the final test accuracy.
"$BIN" eval "$T/a/model.tqm" > "$T/e.txt"
grep -q "accuracy: $acc" "$T/e.txt" || { cat "$T/e.txt"; fail "eval accuracy differs from training's"; }

# QAT from the float model: flat 8-bit auto_po2 keeps the accuracy.
"$BIN" train "${common[@]}" --epochs 1 --flat 8 --alpha auto_po2 --init "$T/a/model.tqm" --lr 2e-4 --out "$T/q" > "$T/q.txt"
cat "$T/q.txt"
grep -q "QAT" "$T/q.txt" || fail "QAT not announced"
qacc=$(sed -n 's/^test: loss [0-9.]*, accuracy \([0-9.]*\).*/\1/p' "$T/q.txt")
awk -v a="$qacc" -v f="$acc" 'BEGIN { exit !(a > f - 0.05) }' || fail "QAT accuracy $qacc vs float $acc"
"$BIN" summary "$T/q/model.tqm" | grep -q "auto_po2" || fail "quantizers not in the model file"
# QAT's parallel reductions (folded-BN statistics, fold gradient, ranges) do not depend on the
# thread count: one thread reproduces the two-thread run byte for byte.
"$BIN" train "${common[@]}" --epochs 1 --flat 8 --alpha auto_po2 --init "$T/a/model.tqm" \
  --lr 2e-4 --threads 1 --out "$T/q1" > /dev/null
cmp "$T/q/log.csv" "$T/q1/log.csv" || { cat "$T/q/log.csv" "$T/q1/log.csv"; fail "QAT differs between 1 and 2 threads"; }
# diff: a model against itself changes nothing; QAT from --init keeps the float model's batch-norm
# statistics (--freeze-bn 0 by default) while its kernels move.
"$BIN" diff "$T/a/model.tqm" "$T/a/model.tqm" > "$T/d0.txt"
awk '$2 == "kernel" && $4 != 0 { bad = 1 } END { exit bad }' "$T/d0.txt" || fail "self-diff not zero"
"$BIN" diff "$T/a/model.tqm" "$T/q/model.tqm" > "$T/d.txt"
cat "$T/d.txt"
awk '$2 == "kernel" && $4 > 0 { n++ } END { exit !(n >= 9) }' "$T/d.txt" || fail "QAT did not move the kernels"
grep -q "zero codes" "$T/d.txt" || fail "no quantized-kernel section"
awk '/^batch_normalization/ && NF == 3 { n++; if ($2 != "0.000" || $3 != "0.000") bad = 1 }
     END { exit bad || n != 7 }' "$T/d.txt" || fail "QAT from --init moved the batch-norm statistics"
# Static scales (moving averages learned in QAT) evaluate close to the dynamic ones.
"$BIN" eval "$T/q/model.tqm" --static ema > "$T/s.txt"
sacc=$(sed -n 's/^accuracy: //p' "$T/s.txt")
awk -v a="$sacc" -v q="$qacc" 'BEGIN { exit !(a > q - 0.03) }' || fail "static-scale accuracy $sacc vs $qacc"
echo "float $acc, QAT $qacc, static $sacc"

# --freeze-ranges: from epoch 2 on the slots train on static scales fixed from their moving
# averages; the model keeps them, so its test pass, eval, eval --static ema and the integer model
# agree, and a run resumed across the switch equals the uninterrupted one.
fr=("${common[@]}" --flat 8 --alpha auto_po2 --init "$T/a/model.tqm" --lr 2e-4 --max-steps 30 --freeze-ranges 1)
"$BIN" train "${fr[@]}" --epochs 2 --out "$T/f" > "$T/f.txt"
cat "$T/f.txt"
grep -q "^Epoch 2: activation ranges frozen" "$T/f.txt" || fail "--freeze-ranges: no switch announced"
facc=$(sed -n 's/^test: loss [0-9.]*, accuracy \([0-9.]*\) (10000 samples, static scales as deployed)$/\1/p' "$T/f.txt")
[ -n "$facc" ] || fail "--freeze-ranges: test line does not say static scales"
for how in "" "--static ema" "--integer"; do
  # shellcheck disable=SC2086
  "$BIN" eval "$T/f/model.tqm" $how > "$T/fe.txt"
  grep -q "^accuracy: $facc" "$T/fe.txt" || { cat "$T/fe.txt"; fail "eval $how differs from the frozen-range test pass $facc"; }
done
"$BIN" train "${fr[@]}" --epochs 1 --out "$T/f1" > /dev/null
"$BIN" train --resume "$T/f1" --epochs 2 --progress lines > /dev/null
cmp "$T/f/log.csv" "$T/f1/log.csv" || { cat "$T/f/log.csv" "$T/f1/log.csv"; fail "resumed --freeze-ranges run differs"; }
# (the files differ in their training time: compare what they compute)
"$BIN" eval "$T/f/model.tqm" --integer | grep -v '^model:' > "$T/fe0.txt"
"$BIN" eval "$T/f1/model.tqm" --integer | grep -v '^model:' > "$T/fe1.txt"
cmp "$T/fe0.txt" "$T/fe1.txt" || fail "resumed --freeze-ranges model differs"
echo "frozen ranges: test $facc = eval = --static ema = --integer"

# --profile: a row per layer with its passes, the total against the measured multiply-add peak.
"$BIN" train --model fc_autoencoder --data noise:1x1x640 --epochs 1 --max-steps 3 --batch 32 --threads 1 \
  --progress none --profile --out "$T/prof" > "$T/prof.txt" || fail "train --profile"
grep -qE "^profile \(1 thread; measured multiply-add peak [0-9.]+ GFLOP/s\):" "$T/prof.txt" || fail "--profile: no peak line"
grep -qE "^dense_9 +Dense +\| +[0-9.]+ +[0-9.]+ +[0-9.]+% +[0-9.]+% \| +[0-9.]+ +[0-9.]+" "$T/prof.txt" \
  || fail "--profile: no row for dense_9: $(grep dense_9 "$T/prof.txt")"
grep -qE "^profiled: [0-9.]+ s in the layers' passes, [0-9.]+ GFLOP/s overall" "$T/prof.txt" || fail "--profile: no total"
echo "profile: $(grep '^profiled:' "$T/prof.txt")"
