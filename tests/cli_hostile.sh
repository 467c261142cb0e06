#!/usr/bin/env bash
# Hostile inputs through the CLI (issue 10): memory bombs under a 2 GB address-space limit (D6),
# concurrent resumes of one search (D8), special files written in place (D4), exports that fail
# half-way (staging directory). Each must give one clear error line, or the correct result.
set -u
. "$(dirname "$0")/lib.sh"

# Big-endian u32 as printf escapes.
be32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)); }
# idx FILE COUNT [ROWS COLS]: an IDX file of zero bytes (labels when only COUNT)
idx() {
  local f=$1 n=$2
  if [ $# -eq 4 ]; then
    printf "\\x00\\x00\\x08\\x03$(be32 "$n")$(be32 "$3")$(be32 "$4")" > "$f"
    head -c $(($2 * $3 * $4)) /dev/zero >> "$f"
  else
    printf "\\x00\\x00\\x08\\x01$(be32 "$n")" > "$f"
    head -c "$n" /dev/zero >> "$f"
  fi
}

# ---- D6: the reproducers under ulimit -v 2000000 (2 GB of address space)
limited() { (ulimit -v 2000000; "$@"); }

out=$(limited "$BIN" summary --model resnet8 --input 5000x5000x3 2>&1) \
  && printf '%s' "$out" | grep -q "Total params: 78,666" \
  && ok "summary of a 5000x5000x3 resnet8 (20 GB of activations before) prints without allocating them" \
  || bad "summary --input 5000x5000x3: $out"
expect_error "resnet8: input shape 2147483647x2147483647x2147483647" \
  limited "$BIN" summary --model resnet8 --input 2147483647x2147483647x2147483647
expect_error "resnet8: conv2d: conv shape: a 46000x46000x16 output (batch 1) is too large" \
  limited "$BIN" summary --model resnet8 --input 46000x46000x1
expect_error "fc_autoencoder: needs about" limited "$BIN" summary --model fc_autoencoder --input 5000x5000x3

# --batch 5000 on 540 training samples: capped at the data, the run succeeds
out=$(limited "$BIN" train --model resnet8 --data noise:16x16x1 --train-limit 600 --batch 5000 --epochs 1 \
  --max-steps 1 --progress none --out "$T/b5000" 2>&1) \
  && printf '%s' "$out" | grep -q "540 train / 60 validation samples, 1 epochs, batch 540" \
  && ok "--batch 5000 on 540 samples trains with batch 540" || bad "--batch 5000: $out"

# 40 images of 1x50000 pixels: refused before the activations are allocated
mkdir -p "$T/wide"
idx "$T/wide/train-images-idx3-ubyte" 40 1 50000
idx "$T/wide/train-labels-idx1-ubyte" 40
idx "$T/wide/t10k-images-idx3-ubyte" 10 1 50000
idx "$T/wide/t10k-labels-idx1-ubyte" 10
expect_error "resnet8: needs about" limited "$BIN" train --model resnet8 --data "mnist:$T/wide" --epochs 1 \
  --progress none --out "$T/wide_run"

# a gzip IDX whose header announces 10 images of 28x28, followed by 300 MB of zeros: the inflation
# stops just past what the header announces
mkdir -p "$T/bomb"
{ printf "\\x00\\x00\\x08\\x03$(be32 10)$(be32 28)$(be32 28)"; head -c 300000000 /dev/zero; } | gzip -1 \
  > "$T/bomb/train-images-idx3-ubyte.gz"
idx "$T/bomb/train-labels-idx1-ubyte" 10
t0=$(date +%s)
expect_error "train-images-idx3-ubyte.gz: longer than its IDX header announces: 11952 bytes" \
  limited "$BIN" train --model resnet8 --data "mnist:$T/bomb" --out "$T/bomb_run"
[ $(($(date +%s) - t0)) -le 5 ] && ok "the bomb is refused at once" || bad "the bomb took $(($(date +%s) - t0)) s"

# --max-memory: the budget is the user's
expect_error "needs 10.5 MiB more memory, over the limit of 20.0 MiB" "$BIN" train --model resnet8 --data noise:32x32x3 --max-memory 20M --epochs 1 \
  --progress none --out "$T/small_budget"
expect_error "--max-memory: 'lots' is not a size" "$BIN" summary --model resnet8 --max-memory lots

# ---- D8: one process per search directory
SP="$SRC/examples/search_space_study.json"
search() { "$BIN" search --model resnet8 --data noise:32x32x3 --space "$SP" --epochs 1 --max-steps 4 \
  --train-limit 320 --threads 1 "$@"; }
search --trials 2 --out "$T/s" > /dev/null 2>&1 || bad "the first search failed"
# process $1 holds the lock once it can no longer be taken; waits as long as the process lives (a
# loaded machine can take many seconds to start it), failing only if it ends without holding it
wait_locked() {
  while kill -0 "$1" 2>/dev/null; do
    flock -n "$T/s/search.lock" true 2>/dev/null || return 0
    sleep 0.05
  done
  return 1
}
# 18 trials to run: with 4 the resume could be done before the first poll saw it holding the lock
# (it was, once, in CI).
"$BIN" search --resume "$T/s" --trials 20 > "$T/first.log" 2>&1 &
first=$!
wait_locked $first || bad "the first resume never took the lock"
expect_error "search: $T/s is in use by process $first" "$BIN" search --resume "$T/s" --trials 20
wait $first && ok "the first resume finished" || bad "the first resume failed: $(cat "$T/first.log")"
[ "$(wc -l < "$T/s/trials.jsonl")" -eq 20 ] && ok "trials.jsonl has exactly 20 trials" \
  || bad "trials.jsonl has $(wc -l < "$T/s/trials.jsonl") lines for 20 trials"
# a crashed holder's lock frees itself. The holder has far more trials to run than it gets time
# for, so that it still holds the lock when polled on a loaded machine (with 2 trials left it could
# finish between two polls).
"$BIN" search --resume "$T/s" --trials 60 > /dev/null 2>&1 &
holder=$!
wait_locked $holder || bad "the second resume never took the lock"
kill -9 $holder; wait $holder 2>/dev/null
done_trials=$(wc -l < "$T/s/trials.jsonl") # whole lines: a torn last one is repaired by the resume
want=$((done_trials + 2))
"$BIN" search --resume "$T/s" --trials $want > /dev/null 2>&1 && ok "resume after kill -9 of the holder" \
  || bad "resume after a crashed holder failed"
[ "$(wc -l < "$T/s/trials.jsonl")" -eq $want ] && ok "trials.jsonl has exactly $want trials" \
  || bad "trials.jsonl has $(wc -l < "$T/s/trials.jsonl") lines for $want trials"
# the D5 pattern, through the CLI
sed 's/"limit": {/"limit": {"((((((a{1,100}){1,100}){1,100}){1,100}){1,100}){1,100})": 8,/' "$SP" > "$T/bomb_space.json"
expect_error "regular expression refused: too complex" limited "$BIN" search --model resnet8 \
  --data noise:8x8x1 --space "$T/bomb_space.json" --out "$T/s_bomb"

# ---- D4: a FIFO stays a FIFO and its reader gets the data
"$BIN" train --model resnet8 --data noise:8x8x1:3 --flat 8 --epochs 1 --max-steps 1 --train-limit 64 \
  --progress none --out "$T/q" > /dev/null 2>&1 || bad "QAT model for the FIFO test"
mkfifo "$T/p"
cat "$T/p" > "$T/from_fifo" &
reader=$!
"$BIN" eval "$T/q/model.tqm" --integer --dump-inputs "$T/p" > /dev/null 2>&1 || bad "eval --dump-inputs FIFO"
wait $reader
[ -p "$T/p" ] && ok "the FIFO is still a FIFO" || bad "the FIFO was replaced by a regular file"
# noise test split: 200 samples of 8x8x1 float32
[ "$(stat -c %s "$T/from_fifo")" -eq $((200 * 64 * 4)) ] && ok "its reader got all 51200 bytes" \
  || bad "the FIFO reader got $(stat -c %s "$T/from_fifo") bytes"
echo old > "$T/target.bin"; ln -s target.bin "$T/link.bin"
"$BIN" eval "$T/q/model.tqm" --integer --dump-inputs "$T/link.bin" > /dev/null 2>&1
[ -L "$T/link.bin" ] && [ "$(stat -c %s "$T/target.bin")" -eq 51200 ] && ok "a symlink stays a link, its target is written" \
  || bad "symlink: $(ls -l "$T/link.bin" "$T/target.bin")"

# ---- export: a failure half-way (file size limit) leaves the directory as it was
mkdir "$T/exp"; echo mine > "$T/exp/notes.txt"
(trap '' XFSZ; ulimit -f 16; "$BIN" export "$T/q/model.tqm" --out "$T/exp" > /dev/null 2>&1) && bad "export under ulimit -f 16 succeeded"
[ "$(ls -A "$T/exp")" = "notes.txt" ] && ok "a failed export leaves no model.c without its runtime" \
  || bad "a failed export left: $(ls -A "$T/exp")"
(trap '' XFSZ; ulimit -f 16; "$BIN" export "$T/q/model.tqm" --out "$T/exp_new" > /dev/null 2>&1)
[ ! -e "$T/exp_new" ] && ok "a failed export to a new directory leaves nothing" || bad "left $(ls -A "$T/exp_new")"
"$BIN" export "$T/q/model.tqm" --out "$T/exp" > /dev/null 2>&1 && [ -f "$T/exp/model.c" ] && [ -f "$T/exp/tq_rt.h" ] \
  && [ -f "$T/exp/notes.txt" ] && ok "export into a directory keeps the files it does not write" || bad "export: $(ls -A "$T/exp")"

exit $fail
