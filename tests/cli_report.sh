#!/usr/bin/env bash
# tinyq report end to end, in a real browser: a float run, a QAT run, a 2-trial search, an export
# and a folder of runs are reported and opened in headless Chromium (tests/report_check.py): the
# page's script finishes without console errors, every chart has drawn (non-blank canvas), and the
# numbers the charts list are log.csv's, trials.jsonl's, pareto.csv's, best.json's, sensitivity.csv's
# (the GP's per-layer sensitivity, rewritten by --resume) and the generated model.c's. The checker must also fail on a report of other numbers, a blank chart and
# a page whose charting library is missing. Bad input: one-line errors naming the file.
# Screenshots (one per report kind) go to $TQ_REPORT_SHOTS (default: the build directory).
set -euo pipefail
BIN=${TQ_BIN:?}
SRC=${TQ_SRC:?}
SHOTS=${TQ_REPORT_SHOTS:-${TQ_BUILD:-.}/report-screenshots}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$SRC/tests/expect_error.sh" # fail, expect_error
command -v "${TQ_CHROMIUM:-chromium}" > /dev/null || fail "no chromium (scripts/setup.sh installs Debian's chromium)"
CHECK=(python3 "$SRC/tests/report_check.py")
mkdir -p "$SHOTS"

# The checker must fail on this page, saying $1.
expect_check_failure() {
  local want=$1 out
  shift
  if out=$("${CHECK[@]}" "$@"); then fail "the check passed a bad page: $out"; fi
  grep -q "$want" <<< "$out" || fail "expected '$want' from the check: $out"
  echo "ok (caught): $(head -1 <<< "$out")"
}

python3 "$SRC/tests/fashion_subset.py" "$T/fm" 400 # 360 training, 40 validation, 400 test images
DATA="fashion-mnist:$T/fm"
C=(--progress none --seed 3 --threads 2 --batch 32)
"$BIN" train --model resnet8 --data "$DATA" --out "$T/runs/float" --epochs 3 --max-steps 3 "${C[@]}" > "$T/float.out"
"$BIN" train --model resnet8 --data "$DATA" --out "$T/runs/qat" --epochs 2 --max-steps 3 --flat 8 \
  --alpha auto_po2 --init "$T/runs/float/model.tqm" "${C[@]}" > /dev/null
"$BIN" search --model resnet8 --data "$DATA" --space "$SRC/examples/search_space_study.json" --out "$T/search" \
  --trials 2 --epochs 1 --train-fraction 0.5 --max-steps 2 --augment none --initial-points 2 --threads 2 \
  --seed 3 > /dev/null
# the GP's lengthscales: a row per dimension (30 for ResNet-8), fitted on every finished trial
sens_points() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "points") c = i } NR > 1 { print $c }' "$1" | sort -u; }
[ "$(wc -l < "$T/search/sensitivity.csv")" = 31 ] || fail "sensitivity.csv: not 30 dimensions"
[ "$(sens_points "$T/search/sensitivity.csv")" = 2 ] || fail "sensitivity.csv: not fitted on the 2 trials"
"$BIN" search --resume "$T/search" --trials 3 --threads 2 > /dev/null
[ "$(sens_points "$T/search/sensitivity.csv")" = 3 ] || fail "sensitivity.csv: --resume did not refit on 3 trials"
"$BIN" export "$T/runs/qat/model.tqm" --out "$T/export" > /dev/null

# ---- the four report kinds and a folder, in the browser
"$BIN" report "$T/runs/float" --out "$T/train.html" --test # test accuracy: model.tqm on the test split
test_acc=$(sed -n 's/^test: loss [0-9.]*, accuracy \([0-9.]*\) .*/\1/p' "$T/float.out")
"${CHECK[@]}" "$T/train.html" --log "$T/runs/float/log.csv" --test-accuracy "$test_acc" \
  --screenshot "$SHOTS/report_train.png"
"$BIN" report "$T/runs/qat" --out "$T/qat.html"
"${CHECK[@]}" "$T/qat.html" --log "$T/runs/qat/log.csv" --layers "$T/runs/qat/layers.csv" \
  --screenshot "$SHOTS/report_qat.png" --height 4200
grep -q '"kernel_bits":8' "$T/qat.html" || fail "the QAT report has no 8-bit kernels in its model table"
"$BIN" report "$T/search" --out "$T/search.html"
"${CHECK[@]}" "$T/search.html" --trials "$T/search/trials.jsonl" --pareto "$T/search/pareto.csv" \
  --best "$T/search/best.json" --sensitivity "$T/search/sensitivity.csv" --screenshot "$SHOTS/report_search.png" \
  --height 3000
"$BIN" report "$T/export" --model "$T/runs/qat/model.tqm" --out "$T/export.html"
"${CHECK[@]}" "$T/export.html" --export-dir "$T/export" --screenshot "$SHOTS/report_export.png"
"$BIN" report "$T/runs" # default output: DIR/report.html
"${CHECK[@]}" "$T/runs/report.html" --log "$T/runs/float/log.csv"
grep -q 'data-chart="compare-val_accuracy"' <(chromium --headless --disable-gpu --no-sandbox \
  --virtual-time-budget=10000 --dump-dom "file://$T/runs/report.html" 2> /dev/null) ||
  fail "the folder report does not compare its runs"

# ---- the check fails when it should
cp -r "$T/runs/float" "$T/altered"
sed -i '3s/^\([0-9]*\),\([^,]*\),/\1,0.987654,/' "$T/altered/log.csv" # another accuracy at epoch 1
"$BIN" report "$T/altered" --out "$T/altered.html" > /dev/null
expect_check_failure "page shows 0.987654" "$T/altered.html" --log "$T/runs/float/log.csv"
cp -r "$T/runs/qat" "$T/altered-layers"
awk -F, -v OFS=, 'NR == 3 { $8 = 0.4321 } { print }' "$T/runs/qat/layers.csv" > "$T/altered-layers/layers.csv"
"$BIN" report "$T/altered-layers" --out "$T/altered-layers.html" > /dev/null
expect_check_failure "page shows 0.4321" "$T/altered-layers.html" --layers "$T/runs/qat/layers.csv"
cp -r "$T/search" "$T/altered-sens"
awk -F, -v OFS=, 'NR == 5 { $7 = 0.2468 } { print }' "$T/search/sensitivity.csv" > "$T/altered-sens/sensitivity.csv"
"$BIN" report "$T/altered-sens" --out "$T/altered-sens.html" > /dev/null
expect_check_failure "page shows 0.2468" "$T/altered-sens.html" --sensitivity "$T/search/sensitivity.csv"
sed 's|</style>|figure[data-chart="s0-lr"] .canvas-box { display: none }</style>|' "$T/train.html" > "$T/blank.html"
expect_check_failure "charts not drawn: \['s0-lr'\]" "$T/blank.html"
python3 - "$T/train.html" "$T/nolib.html" <<'EOF'
import re, sys
page = open(sys.argv[1]).read()
open(sys.argv[2], "w").write(re.sub(r"<script>\n/\*!\n \* Chart\.js.*?</script>", "", page, count=1, flags=re.S))
EOF
expect_check_failure "Chart is not defined" "$T/nolib.html"

# ---- bad input: one line naming the file
mkdir -p "$T/empty/sub"
expect_error "empty: no runs here" "$BIN" report "$T/empty"
expect_error "nowhere: cannot open the directory: No such file" "$BIN" report "$T/nowhere"
mkdir -p "$T/started" && : > "$T/started/trials.jsonl"
expect_error "started/trials.jsonl: no finished trial yet" "$BIN" report "$T/started"
mkdir -p "$T/oldjournal" && echo '{"trial":1,"status":"ok","accuracy":0.9}' > "$T/oldjournal/trials.jsonl"
expect_error 'oldjournal/trials.jsonl: line 1: a finished trial without a "metric" number' "$BIN" report "$T/oldjournal"
cp -r "$T/search" "$T/torn"
head -c -40 "$T/search/trials.jsonl" > "$T/torn/trials.jsonl"
expect_error "torn/trials.jsonl: line 3 is not a whole JSON object" "$BIN" report "$T/torn"
cp "$T/search/trials.jsonl" "$T/torn/trials.jsonl"
head -c -5 "$T/search/sensitivity.csv" > "$T/torn/sensitivity.csv" # the last number cut short
expect_error "torn/sensitivity.csv: line 31 is not terminated" "$BIN" report "$T/torn"
cp -r "$T/runs/float" "$T/future"
printf '\x02' | dd of="$T/future/model.tqm" bs=1 seek=8 conv=notrunc status=none
expect_error "future/model.tqm: unsupported format version 2" "$BIN" report "$T/future"
cp -r "$T/runs/float" "$T/past"
printf '\x00' | dd of="$T/past/model.tqm" bs=1 seek=8 conv=notrunc status=none
expect_error "past/model.tqm: unsupported format version 0" "$BIN" report "$T/past"
head -c -9 "$T/runs/float/log.csv" > "$T/future/log.csv"
expect_error "future/log.csv: line 4 has" "$BIN" report "$T/future"
expect_error "give the model it was exported from with --model" "$BIN" report "$T/export"
cp -r "$T/export" "$T/other"
sed -i 's/^#define TQ_MODEL_ARENA_BYTES [0-9]*/#define TQ_MODEL_ARENA_BYTES 999/' "$T/other/model.h"
expect_error "other/model.h: arena of 999 bytes, but" "$BIN" report "$T/other" --model "$T/runs/qat/model.tqm"
expect_error "float/model.tqm" "$BIN" report "$T/export" --model "$T/runs/float/model.tqm"
expect_error "not one" "$BIN" report "$T/runs/float" --model "$T/runs/qat/model.tqm"
echo "cli_report: all checks passed (screenshots in $SHOTS)"
