#!/usr/bin/env bash
# tinyq train --layer-stats end to end: layers.csv's header and rows (a row per weighted layer and
# activation slot per epoch), the warning line of a frozen run (--lr 1e-12), a resume that continues
# the file exactly (no duplicated epoch), --save-every's checkpoints for tinyq diff, --layer-stats
# off, and a truncated layers.csv refused by tinyq report. (Known numbers: tests/test_layer_stats.c.)
set -u
. "${TQ_SRC:?}/tests/lib.sh"

python3 "$SRC/tests/fashion_subset.py" "$T/fm" 400 > /dev/null
C=(--model resnet8 --data "fashion-mnist:$T/fm" --max-steps 3 --progress none --seed 5 --threads 2)
Q=(--flat 8 --alpha auto_po2)
HEADER="epoch,layer,tensor,sparsity,zero_codes,mean_abs_dw,max_abs_dw,update_ratio,codes_changed,grad_norm,sqnr_db,clip_fraction"

# QAT, 3 epochs at once with checkpoints every 2 epochs; resnet8: 10 kernels and 10 slots
"$BIN" train "${C[@]}" "${Q[@]}" --epochs 3 --save-every 2 --out "$T/a" > "$T/a.out" || bad "QAT run failed"
check '[ "$(head -1 "$T/a/layers.csv")" = "$HEADER" ]' "layers.csv header"
check '[ "$(tail -n +2 "$T/a/layers.csv" | wc -l)" -eq 60 ]' "60 rows: 3 epochs x (10 kernels + 10 slots)"
check '[ "$(grep -c "^2,conv2d\(_[0-9]\)\?,kernel," "$T/a/layers.csv")" -eq 9 ]' "epoch 2 has the 9 conv kernels"
check 'awk -F, '\''$3 == "kernel" && !($11 > 30 && $9 > 0) { exit 1 }'\'' "$T/a/layers.csv"' \
  "every 8-bit kernel: SQNR above 30 dB and some codes changed"
check 'awk -F, '\''$3 == "activation" && !($11 > 10) { exit 1 }'\'' "$T/a/layers.csv"' "every slot has an SQNR"
check 'grep -q "^layer statistics: layers.csv, " "$T/a.out"' "the overhead line"
check '! grep -q warning "$T/a.out"' "no warning in a normal run"
check '[ -f "$T/a/epoch-002.tqm" ] && [ ! -e "$T/a/epoch-001.tqm" ] && [ ! -e "$T/a/epoch-003.tqm" ]' \
  "--save-every 2: epoch-002.tqm only"
if "$BIN" diff "$T/a/epoch-002.tqm" "$T/a/model.tqm" > "$T/diff.out"; then
  check 'grep -q "^conv2d  *kernel " "$T/diff.out"' "tinyq diff reads the per-epoch checkpoint"
else bad "tinyq diff epoch-002.tqm model.tqm failed"; fi

# Resume: 1 epoch, then to 3 == the uninterrupted run; rows beyond the checkpoint are dropped
"$BIN" train "${C[@]}" "${Q[@]}" --epochs 1 --out "$T/b" > /dev/null
cp "$T/a/layers.csv" "$T/b/layers.csv" # as if the file had run ahead of last.tqm
"$BIN" train --resume "$T/b" --epochs 3 --progress none > /dev/null || bad "resume failed"
check 'cmp -s "$T/a/layers.csv" "$T/b/layers.csv"' "resumed layers.csv == uninterrupted (no epoch twice)"
check 'cmp -s "$T/a/log.csv" "$T/b/log.csv"' "resumed log.csv == uninterrupted"

# A frozen run (the smallest --lr): every layer's updates vanish, named on the epoch's warning line
"$BIN" train "${C[@]}" --epochs 2 --lr 1e-12 --out "$T/frozen" > "$T/frozen.out" || bad "--lr 1e-12 run failed"
check 'grep -q "^epoch 1: warning: updates vanish (every |dw| < 0.0001, or no code changed) in conv2d (max |dw| [0-9.e-]*)," "$T/frozen.out"' \
  "lr 1e-12: epoch 1 warns that conv2d's updates vanish"
check '[ "$(grep -c "warning: updates vanish .*, dense (max |dw| [0-9.e-]*)$" "$T/frozen.out")" -eq 2 ]' "...every epoch, every layer"
check '[ "$(tail -n +2 "$T/frozen/layers.csv" | wc -l)" -eq 20 ]' "float: 10 kernel rows per epoch, no slots"

# Off: no file, no line
"$BIN" train "${C[@]}" --epochs 1 --layer-stats off --out "$T/off" > "$T/off.out"
check '[ ! -e "$T/off/layers.csv" ] && ! grep -q "layer statistics" "$T/off.out"' "--layer-stats off"

# The report refuses a truncated layers.csv with one line naming it
cp -r "$T/a" "$T/torn"
head -c -30 "$T/a/layers.csv" > "$T/torn/layers.csv"
expect_error "torn/layers.csv: line 61 has" "$BIN" report "$T/torn"
expect_error "--layer-stats" "$BIN" train "${C[@]}" --epochs 1 --layer-stats maybe --out "$T/x"
exit $fail
