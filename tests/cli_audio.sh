#!/usr/bin/env bash
# Audio end to end on tiny generated sets: DS-CNN on speech-commands:DIR and the FC-AutoEncoder on
# dcase:DIR/MACHINE through tinyq train and tinyq eval (per-id AUC/pAUC, undefined without
# anomalies), and each bad input refused with one error line naming the file or folder.
set -u
source "${TQ_SRC:?}/tests/lib.sh"
export OMP_NUM_THREADS=1

K="$T/kws"
"$SRC/scripts/synth-kws.sh" "$K" 3 >/dev/null || bad "synth-kws.sh"
MACHINES=fan "$SRC/scripts/synth-machines.sh" "$T/ad" 2 >/dev/null || bad "synth-machines.sh"
A="$T/ad/fan"

out=$("$BIN" train --model dscnn --data "speech-commands:$K" --epochs 2 --batch 8 --out "$T/k" 2>&1)
check '[ $? -eq 0 ]' "dscnn trains on speech-commands"
check 'grep -q "12 word folders outside the 12 classes go to unknown" <<< "$out"' "other word folders counted"
check 'grep -q "background noise mixed into the training clips afresh every epoch" <<< "$out"' "per-epoch mixing on"
check 'grep -qE "^test: loss [0-9.]+, accuracy [0-9.]+ \(9 samples\)" <<< "$out"' "test split: 7 words + 1 silence + 1 unknown"
out=$("$BIN" eval "$T/k/model.tqm" 2>&1)
check 'grep -q "^accuracy: " <<< "$out"' "eval on the run's speech-commands data"

out=$("$BIN" train --model fc_autoencoder --data "dcase:$A" --epochs 1 --batch 64 --out "$T/a" 2>&1)
check '[ $? -eq 0 ]' "fc_autoencoder trains on dcase"
check '[ "$(grep -cE "^id 0[123]: AUC [0-9.]+  pAUC [0-9.]+  \(2 normal, 2 anomalous files\)" <<< "$out")" = 3 ]' "test AUC per id after training"
check 'grep -qE "^epoch 1: test AUC [0-9.]+  pAUC [0-9.]+  \(mean over 3 ids; not used to choose best.tqm\)" <<< "$out"' "AUC per epoch in the log"
check '[ "$(head -1 "$T/a/auc.csv")" = "epoch,id,auc,pauc" ] && [ "$(grep -c "^1," "$T/a/auc.csv")" = 4 ]' "auc.csv: 3 ids and the mean for epoch 1"
last=$(grep "^id 01:" <<< "$out" | grep -oE "AUC [0-9.]+" | head -1 | cut -d" " -f2)
check '[ "$(grep "^1,01," "$T/a/auc.csv" | cut -d, -f3 | cut -c1-6)" = "$last" ]' "auc.csv's last epoch is what the test report prints"
# roc.csv: per id from (0,0) to (1,1), its AUC column what the test report printed; the report draws
# it (headless Chromium: every chart drawn, no console error).
check '[ "$(head -1 "$T/a/roc.csv")" = "id,fpr,tpr,auc" ] && [ "$(grep -c "^0[123],1.000000,1.000000," "$T/a/roc.csv")" = 3 ]' "roc.csv: a curve per id ending at (1, 1)"
check '[ "$(grep "^01,0,0," "$T/a/roc.csv" | cut -d, -f4 | cut -c1-6)" = "$last" ]' "roc.csv's AUC is the printed one"
"$BIN" report "$T/a" --out "$T/a/report.html" > /dev/null 2>&1
check '/usr/bin/python3 "$SRC/tests/report_check.py" "$T/a/report.html" --log "$T/a/log.csv" --roc "$T/a/roc.csv" > "$T/rc.txt" 2>&1' "the report draws the ROC per id, every point of roc.csv (headless Chromium)"
out=$("$BIN" train --resume "$T/a" --epochs 2 2>&1)
check '[ $? -eq 0 ] && [ "$(grep -c "^2," "$T/a/auc.csv")" = 4 ] && [ "$(grep -c "^1," "$T/a/auc.csv")" = 4 ]' "resume appends epoch 2 to auc.csv"
out=$("$BIN" eval "$T/a/model.tqm" --data "dcase:$A" 2>&1)
check 'grep -qE "^mean over 3 ids: AUC [0-9.]+  pAUC [0-9.]+" <<< "$out"' "eval prints the mean AUC and pAUC"
# The search scores trials by the test folder's mean AUC with --metric auc; resume keeps it.
out=$("$BIN" search --model fc_autoencoder --data "dcase:$A" --space "$SRC/examples/search_space_study.json" \
  --metric auc --trials 1 --epochs 1 --max-steps 2 --batch 64 --out "$T/s" 2>&1)
check '[ $? -eq 0 ] && grep -q "\"metric\":.*\"auc\"" "$T/s/search.json"' "search --metric auc runs and records it"
m=$(grep -o '"metric": *[0-9.e+-]*' "$T/s/trials.jsonl" | head -1 | grep -oE '[0-9.e+-]+$')
check 'awk -v m="$m" "BEGIN { exit !(m >= 0 && m <= 1) }"' "the trial's metric is an AUC in [0, 1] ($m)"
"$BIN" search --resume "$T/s" --trials 2 > /dev/null 2>&1
check '[ "$(grep -c "\"metric\":.*\"auc\"" "$T/s/search.json")" = 1 ] && [ "$(wc -l < "$T/s/trials.jsonl")" = 2 ]' "resume keeps --metric auc"
expect_error "--metric auc needs an auto-encoder on dcase:DIR/MACHINE data" "$BIN" search --model dscnn \
  --data "speech-commands:$K" --space "$SRC/examples/search_space_study.json" --metric auc --trials 1 --out "$T/s2"

# The integer model's AUC per id (QAT flat 8, static scales).
"$BIN" train --model fc_autoencoder --init "$T/a/model.tqm" --data "dcase:$A" --flat 8 --alpha auto_po2 \
  --epochs 1 --max-steps 2 --batch 64 --progress none --out "$T/aq" > /dev/null 2>&1
out=$("$BIN" eval "$T/aq/model.tqm" --integer --static calib:256 2>&1)
check 'grep -q "integer-only" <<< "$out" && grep -qE "^mean over 3 ids: AUC [0-9.]+  pAUC [0-9.]+" <<< "$out"' "eval --integer prints AUC per id"
rm "$A"/test/anomaly_id_02_*.wav
out=$("$BIN" eval "$T/a/model.tqm" --data "dcase:$A" 2>&1)
check 'grep -q "^id 02: AUC undefined (2 normal, 0 anomalous files" <<< "$out"' "an id without anomalies: AUC undefined, said so"
rm "$A"/test/anomaly_id_*.wav
out=$("$BIN" eval "$T/a/model.tqm" --data "dcase:$A" 2>&1)
check 'grep -q "^AUC undefined for every id" <<< "$out"' "a machine folder without anomalies: said so"
expect_error "--metric auc: dcase:$A: no machine id has both normal and anomalous test clips" "$BIN" search \
  --model fc_autoencoder --data "dcase:$A" --space "$SRC/examples/search_space_study.json" --metric auc --out "$T/s3"

# Bad input, one line naming the file.
mv "$K/testing_list.txt" "$T/list"
expect_error "testing_list.txt: cannot open" "$BIN" eval "$T/k/model.tqm" --data "speech-commands:$K"
mv "$T/list" "$K/testing_list.txt"
sox -R -n -r 44100 -b 16 -c 1 "$K/up/rate.wav" synth 0.5 sine 300
expect_error "up/rate.wav: sample rate 44100 Hz" "$BIN" eval "$T/k/model.tqm" --data "speech-commands:$K" --split train
rm "$K/up/rate.wav"
sox -R -n -r 16000 -b 8 -c 1 "$A/train/normal_id_01_00000099.wav" synth 10 sine 300
expect_error "normal_id_01_00000099.wav: 8-bit PCM" "$BIN" train --model fc_autoencoder --data "dcase:$A" --epochs 1 --out "$T/b"
rm "$A/train/normal_id_01_00000099.wav"
expect_error "nothing/train: cannot open directory" "$BIN" train --model fc_autoencoder --data "dcase:$T/nothing" --epochs 1 --out "$T/b"
exit $fail
