#!/usr/bin/env bash
# tinyq search on 2 MPI ranks (localhost): both ranks evaluate trials, the journal holds N distinct
# trials, --resume under mpirun extends the search, and a search stopped under mpirun is finished by a
# single process (same files, same resume).
set -u
BIN=${TQ_BIN:?}
SRC=${TQ_SRC:?}
if ! command -v mpirun > /dev/null 2>&1; then
  echo "skipped: mpirun not found (install openmpi-bin)"
  exit 0
fi
if ! ldd "$BIN" 2>/dev/null | grep -q libmpi; then
  echo "skipped: $BIN was built without MPI"
  exit 0
fi
. "$SRC/tests/search_lib.sh"
trials() { grep -o '"trial":[0-9]*' "$1" | cut -d: -f2 | sort -n | tr '\n' ' '; }
export OMP_NUM_THREADS=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none # containers often forbid cross-memory attach
MPIRUN=(mpirun --allow-run-as-root --oversubscribe -n 2)

mkdata "$T/fm" 400
COMMON=(--model resnet8 --data "fashion-mnist:$T/fm" --space "$SRC/examples/search_space_study.json" --epochs 1
        --train-fraction 0.5 --max-steps 2 --augment none --initial-points 2)

TQ_SEARCH_TRACE=1 "${MPIRUN[@]}" "$BIN" search "${COMMON[@]}" --trials 4 --out "$T/m" > "$T/m.log" 2>&1 ||
  { bad "mpirun -n 2 search"; cat "$T/m.log"; }
check 'grep -q "^2 ranks (2 evaluating trials at once)" "$T/m.log"' "2 ranks, both evaluating"
check '[ "$(lines "$T/m/trials.jsonl")" -eq 4 ] && [ "$(trials "$T/m/trials.jsonl")" = "1 2 3 4 " ]' "journal: 4 distinct trials"
check 'grep -q "\"rank\":0" "$T/m/trials.jsonl" && grep -q "\"rank\":1" "$T/m/trials.jsonl"' "trials from rank 0 and rank 1"
check '[ "$(grep -o "\"choice\":\[[0-9,]*\]" "$T/m/trials.jsonl" | sort -u | wc -l)" -eq 4 ]' "4 distinct configurations"
check '[ -s "$T/m/best.json" ] && [ "$(head -1 "$T/m/pareto.csv")" = "trial,total_bits,metric,score" ]' "best.json and pareto.csv"
check '[ "$(grep -c "^tinyq: error" "$T/m.log")" -eq 0 ]' "no errors"
check '[ "$(grep -c "^trace [0-9.]* rank [01] cpu [0-9.]*: trial [0-9]*: done" "$T/m.log")" -eq 4 ]' \
  "TQ_SEARCH_TRACE=1: a timestamped line per finished trial, from both ranks"

# The same seed and rank count: the same trials (random tuner: trial i gets the i-th draw, whichever
# rank takes it) with the same scores.
runs() { grep -o '"trial":[0-9]*\|"choice":\[[0-9,]*\]\|"score":[-0-9.e+]*' "$1" | paste - - - | sort -n -t: -k2; }
for r in 1 2; do
  "${MPIRUN[@]}" "$BIN" search "${COMMON[@]}" --tuner random --trials 3 --out "$T/d$r" > "$T/d$r.log" 2>&1 ||
    { bad "mpirun -n 2 search, run $r"; cat "$T/d$r.log"; }
done
check '[ "$(runs "$T/d1/trials.jsonl" | wc -l)" -eq 3 ] && [ "$(runs "$T/d1/trials.jsonl")" = "$(runs "$T/d2/trials.jsonl")" ]' \
  "2 ranks, same seed: the same trials, choices and scores"

# (with 2 threads per rank on a machine of fewer than 4 cores: a warning, and the search still runs)
"${MPIRUN[@]}" "$BIN" search --resume "$T/m" --trials 6 --threads 2 > "$T/m2.log" 2>&1 || { bad "mpirun resume"; cat "$T/m2.log"; }
check '[ "$(trials "$T/m/trials.jsonl")" = "1 2 3 4 5 6 " ]' "resume under mpirun: trials 1..6 exactly once"
check '! grep -q "warning" "$T/m.log"' "1 thread per rank: no warning"
if [ "$(nproc --all)" -lt 4 ]; then
  check 'grep -q "^tinyq: warning: search: 2 ranks on this machine x 2 threads each" "$T/m2.log"' \
    "2 ranks x 2 threads on $(nproc --all) cores: a warning"
fi

# Stop a 2-rank search in the middle (SIGTERM to mpirun), finish it in one process. The search asks
# for 40 trials so that the stop always lands mid-search, however fast the machine; the single
# process then finishes the interrupted trials and one more.
"${MPIRUN[@]}" "$BIN" search "${COMMON[@]}" --max-steps 20 --trials 40 --out "$T/k" > "$T/k.log" 2>&1 &
pid=$!
for _ in $(seq 1 2400); do
  [ "$(lines "$T/k/trials.jsonl")" -ge 2 ] && break
  sleep 0.05
done
kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null
sleep 1
done_before=$(lines "$T/k/trials.jsonl")
target=$((done_before + 3))
"$BIN" search --resume "$T/k" --trials $target > "$T/k2.log" 2>&1 || { bad "single-process resume of an MPI search"; cat "$T/k2.log"; }
check '[ "$done_before" -ge 2 ] && [ "$done_before" -lt 40 ]' "mpirun stopped after $done_before of 40 trials"
check 'grep -q "trials finished, [12] interrupted" "$T/k2.log"' "the single process evaluates the interrupted trials again"
check '[ "$(trials "$T/k/trials.jsonl")" = "$(seq -s " " 1 $target) " ]' "a single process finished it: trials 1..$target exactly once"

exit $fail
