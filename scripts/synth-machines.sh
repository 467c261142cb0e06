#!/usr/bin/env bash
# Writes a synthetic machine-sound set in the DCASE 2020 task 2 layout (SPEC §3), the stand-in for
# ToyADMOS / MIMII, which are not on this machine:
#
#   scripts/synth-machines.sh OUT [N] [SEED]   (N normal training clips per machine id, default 40)
#
#   OUT/<machine>/train/normal_id_XX_NNNNNNNN.wav
#   OUT/<machine>/test/normal_id_XX_NNNNNNNN.wav, OUT/<machine>/test/anomaly_id_XX_NNNNNNNN.wav
#   10 s, 16 kHz, mono, 16-bit; max(2, N/3) normal and as many anomalous test clips per id.
#
# Machines (MACHINES="ToyCar fan" by default), ids 01 02 03 each. A machine id is a sound of its own,
# all made by sox:
#   - a harmonic stack of 6 partials on its own fundamental (ToyCar 120-200 Hz, fan 45-75 Hz),
#     partial amplitudes falling at an id-specific rate;
#   - motor-like modulation: slow amplitude wobble (tremolo 3-9 Hz, depth 10-30 %);
#   - noise: an id-specific colour (pink for ToyCar, brown + white for fan) through an id-specific
#     band-pass, at an id-specific level.
# Each normal clip varies: fundamental within ±1 %, noise level within ±15 %, modulation rate ±10 %,
# and a fresh stretch of noise (train and test clips cut from different noise recordings).
# Anomalous clips take one of four faults in turn, at a random strength, from barely beyond the
# normal variation to plain:
#   shifted harmonics (fundamental +1.5..6 %, partials stretched by up to 0.5 % each), clicks or
#   rattles (a 4-12 Hz square wave high-passed at 2.5 kHz, volume 0.03-0.15), bearing-like
#   amplitude modulation (tremolo 25-60 Hz, depth 15-50 %), more noise (x1.5..3).
#
# Deterministic for a given SEED (bash's RANDOM seeded by it draws every choice; sox runs with -R,
# its repeatable mode, and different noise comes from different offsets of longer noise
# recordings). Clips are made two at a time (JOBS=2). N=40: 408 clips, about 130 MB. The tests
# use N=2.
set -euo pipefail

OUT=${1:?usage: scripts/synth-machines.sh OUT [N] [SEED]}
N=${2:-40}
SEED=${3:-1}
JOBS=${JOBS:-2}
MACHINES=${MACHINES:-ToyCar fan}
case "$OUT" in *[[:space:]]*) echo "synth-machines: OUT must not contain spaces" >&2; exit 2 ;; esac
case "$N" in '' | *[!0-9]* | 0) echo "synth-machines: N must be a positive integer, got '$N'" >&2; exit 2 ;; esac
command -v sox >/dev/null || { echo "synth-machines: sox not found (scripts/setup.sh installs it)" >&2; exit 1; }

TEST=$((N / 3 > 2 ? N / 3 : 2))
BED_SECONDS=60
RANDOM=$SEED
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
jobs_file="$work/jobs"
: > "$jobs_file"

# r LO HI: a random integer in [LO, HI] into $R (no subshell, so the seeded stream is kept).
r() { R=$(($1 + RANDOM % ($2 - $1 + 1))); }
# f X DIV: X / DIV as a decimal string into $F (4 decimals).
f() { F=$(printf '%d.%04d' $(($1 / $2)) $(((($1 % $2) * 10000) / $2))); }

# One clip: harmonics (+ modulation) mixed with a stretch of noise and, for clicks, a rattle.
#   out f0_mHz stretch_permille decay_permille trem_rate trem_depth bed offset noise_vol click_rate
#   click_vol
make_clip() {
  local out=$1 f0m=$2 stretch=$3 decay=$4 trate=$5 tdepth=$6 bed=$7 off=$8 nvol=$9 click=${10} cvol=${11}
  local synth=() remix="" amp=1000 h
  for h in 1 2 3 4 5 6; do
    # partial h at h * f0 * (1 + stretch * (h - 1)), amplitude 0.3 * (decay/1000)^(h-1)
    local hz=$(( f0m * h * (1000 + stretch * (h - 1)) / 1000000 ))
    synth+=(sine "$hz")
    remix+="${h}v$(printf '0.%04d' $((3 * amp)))"
    [ "$h" -lt 6 ] && remix+=","
    amp=$((amp * decay / 1000))
  done
  local inputs=(-v 1 "|sox -R -c 6 -n -r 16000 -c 1 -p synth 10 ${synth[*]} remix $remix tremolo $trate $tdepth"
                -v 1 "|sox -R $bed -p trim $off 10 vol $nvol")
  if [ "$click" != 0 ]; then
    inputs+=(-v 1 "|sox -R -n -r 16000 -c 1 -p synth 10 square $click highpass 2500 vol $cvol")
  fi
  sox -R -m "${inputs[@]}" -r 16000 -c 1 -b 16 "$out" 2>/dev/null
}
export -f make_clip

# Plans the clips of one (kind, part) of the current id: one line each in the jobs file.
plan_clips() { # kind part count
  for ((k = 0; k < $3; k++, idx++)); do
    r -10 10; local f0m=$((base * (1000 + R)))  # base Hz * 1000 * (1 +- 1 %)
    r 90 110; f $((trate * R / 100)) 10; local rate=$F
    r 85 115; local nv=$((nlevel * R / 100))
    local stretch=0 depth=$tdepth click=0 cvol=0
    if [ "$1" = anomaly ]; then
      case $((idx % 4)) in
        0) r 15 60; f0m=$((f0m * (1000 + R) / 1000)); r 0 5; stretch=$R ;;
        1) r 4 12; click=$R; r 30 150; f "$R" 1000; cvol=$F ;;
        2) r 250 600; f "$R" 10; rate=$F; r 15 50; depth=$R ;;
        *) r 150 300; nv=$((nv * R / 100)) ;;
      esac
    fi
    f "$nv" 1000; local nvol=$F
    r 0 $((BED_SECONDS - 11)); local off=$R
    printf -v name '%s/%s/%s/%s_id_%s_%08d.wav' "$OUT" "$machine" "$2" "$1" "$id" "$k"
    echo "$name $f0m $stretch $decay $rate $depth $work/$machine-$id-$2.wav $off $nvol $click $cvol" >> "$jobs_file"
  done
}

idx=0
for machine in $MACHINES; do
  mkdir -p "$OUT/$machine/train" "$OUT/$machine/test"
  case "$machine" in
    ToyCar) colour=pinknoise ;;
    *) colour="brownnoise whitenoise" ;;
  esac
  # One noise recording per machine, cut into a stretch per (id, part): train and test clips
  # never share noise.
  sox -R -n -r 16000 -c "$(wc -w <<< "$colour")" "$work/stream.wav" synth $((6 * BED_SECONDS)) $colour
  stretch_no=0
  for id in 01 02 03; do
    case "$machine" in
      ToyCar) r 120 200; base=$R; r 800 3000; band=$R ;;
      *) r 45 75; base=$R; r 300 1500; band=$R ;;
    esac
    r 550 800; decay=$R
    r 30 90; trate=$R
    r 10 30; tdepth=$R
    r 100 250; nlevel=$R
    for part in train test; do
      sox -R "$work/stream.wav" "$work/$machine-$id-$part.wav" remix - \
        trim $((stretch_no * BED_SECONDS)) "$BED_SECONDS" sinc -n 255 60-"$band" norm -3
      stretch_no=$((stretch_no + 1))
    done
    plan_clips normal train "$N"
    plan_clips normal test "$TEST"
    plan_clips anomaly test "$TEST"
  done
done
xargs -P "$JOBS" -n 11 bash -c 'make_clip "$@"' _ < "$jobs_file"
clips=$(wc -l < "$jobs_file")
echo "synth-machines: $clips clips ($N normal training, $TEST normal and $TEST anomalous test clips per id) in $OUT"
