#!/usr/bin/env bash
# Writes a synthetic keyword-spotting set in the Speech Commands v2 layout (SPEC §3), the stand-in
# for the real set, which is not on this machine:
#
#   scripts/synth-kws.sh OUT [N] [SEED]      (N clips per keyword, default 140; SEED default 1)
#
#   OUT/<word>/<speaker>_nohash_<k>.wav   1 s, 16 kHz, mono, 16-bit
#   OUT/_background_noise_/*.wav         30 s each: white, pink, brown noise, mains hum, babble
#   OUT/validation_list.txt, OUT/testing_list.txt   "<word>/<file>.wav" lines
#
# Words: the ten keywords (down go left no off on right stop up yes), N clips each, and twelve
# other Speech Commands words (bed bird cat dog eight five happy house marvin sheila tree wow),
# max(1, N/4) clips each, which the loader turns into "unknown".
#
# Speakers: Debian's espeak-ng with only the voices en-us and en-gb and the variants m1 m2 m3 f1
# f2 f3 klatt (14 voice-variant pairs), each at three pitches (-p 30, 50, 70): 42 speakers, whose id
# is the first 8 hex digits of md5("voice+variant/pitch"). Every clip draws a speed (130-190
# words/min), a loudness (0.3-0.9) and an onset (0-0.25 s; leading and trailing silence trimmed
# first). Clips cycle through the pairs, so every split sees every word.
#
# Splits keep speakers apart as Speech Commands does, and more strictly: a whole voice-variant pair,
# at all its pitches, is in one split only, so the test measures generalisation to voices the model
# has never heard in any pitch:
#   testing:    en-us+f2, en-gb+m2, en-gb+f3     (3 of 14 pairs, 21 % of the clips)
#   validation: en-us+m3, en-gb+f1               (2 of 14, 14 %)
#   training:   the other 9 pairs, klatt included in both accents
#
# Background noises are made by sox: white, pink and brown noise; a 50 Hz hum with harmonics and a
# little hiss; babble: four overlapped espeak-ng talkers (sentences without keywords). The loader
# cuts silence clips from them.
#
# Deterministic for a given SEED (bash's RANDOM seeded by it draws every choice; sox runs with -R,
# its repeatable mode; espeak-ng has no randomness). Clips are made two at a time (JOBS=2 by
# default). N=140: 1,820 clips, about 60 MB. The tests use N=3.
set -euo pipefail

OUT=${1:?usage: scripts/synth-kws.sh OUT [N] [SEED]}
N=${2:-140}
SEED=${3:-1}
JOBS=${JOBS:-2}
case "$OUT" in *[[:space:]]*) echo "synth-kws: OUT must not contain spaces" >&2; exit 2 ;; esac
case "$N" in '' | *[!0-9]* | 0) echo "synth-kws: N must be a positive integer, got '$N'" >&2; exit 2 ;; esac
for tool in espeak-ng sox md5sum xargs; do
  command -v "$tool" >/dev/null || { echo "synth-kws: $tool not found (scripts/setup.sh installs it)" >&2; exit 1; }
done

KEYWORDS=(down go left no off on right stop up yes)
OTHERS=(bed bird cat dog eight five happy house marvin sheila tree wow)
PAIRS=(en-us+m1 en-us+f2 en-gb+m1 en-us+m3 en-gb+f2 en-gb+m2 en-us+f1
       en-gb+klatt en-gb+f1 en-us+m2 en-gb+f3 en-us+f3 en-us+klatt en-gb+m3)
PITCHES=(30 50 70)
split_of() {
  case "$1" in
    en-us+f2 | en-gb+m2 | en-gb+f3) echo testing ;;
    en-us+m3 | en-gb+f1) echo validation ;;
    *) echo training ;;
  esac
}

mkdir -p "$OUT/_background_noise_"
RANDOM=$SEED
declare -A utt_count=()
jobs_file=$(mktemp)
trap 'rm -f "$jobs_file"' EXIT
: > "$OUT/validation_list.txt.tmp"
: > "$OUT/testing_list.txt.tmp"

# Plans every clip (all random draws happen here, in order), one line per clip:
#   voice pitch speed loudness onset word out
cycle=0
plan() {
  local word=$1 count=$2
  mkdir -p "$OUT/$word"
  for ((i = 0; i < count; i++, cycle++)); do
    local pair=${PAIRS[cycle % 14]} pitch=${PITCHES[(cycle / 14) % 3]}
    local id key k
    id=$(printf '%s/%s' "$pair" "$pitch" | md5sum | cut -c1-8)
    key="$word/$id"
    k=${utt_count[$key]:-0}
    utt_count[$key]=$((k + 1))
    local file="$word/${id}_nohash_$k.wav"
    # ($RANDOM only outside command substitutions: a subshell draws from its own reseeded stream.)
    local speed=$((130 + RANDOM % 61)) loud="0.$((3 + RANDOM % 7))" onset=$((RANDOM % 26))
    onset=$(printf '0.%02d' "$onset")
    echo "$pair $pitch $speed $loud $onset $word $OUT/$file" >> "$jobs_file"
    case $(split_of "$pair") in
      testing) echo "$file" >> "$OUT/testing_list.txt.tmp" ;;
      validation) echo "$file" >> "$OUT/validation_list.txt.tmp" ;;
      training) ;;
    esac
  done
}
for w in "${KEYWORDS[@]}"; do plan "$w" "$N"; done
others=$((N / 4 > 0 ? N / 4 : 1))
for w in "${OTHERS[@]}"; do plan "$w" "$others"; done

# One clip: espeak-ng at 22.05 kHz -> 16 kHz 16-bit, silence trimmed at both ends, onset, 1 s.
make_clip() {
  espeak-ng -v "$1" -p "$2" -s "$3" --stdout "$6" |
    sox -R -t wav - -r 16000 -c 1 -b 16 "$7" vol "$4" silence 1 0.01 0.5% reverse silence 1 0.01 0.5% reverse \
      pad "$5" 2 trim 0 1 2>/dev/null
}
export -f make_clip
xargs -P "$JOBS" -n 7 bash -c 'make_clip "$@"' _ < "$jobs_file"

sort "$OUT/validation_list.txt.tmp" > "$OUT/validation_list.txt"
sort "$OUT/testing_list.txt.tmp" > "$OUT/testing_list.txt"
rm -f "$OUT/validation_list.txt.tmp" "$OUT/testing_list.txt.tmp"

# Background noises, 30 s each.
BG="$OUT/_background_noise_"
S="-R -n -r 16000 -b 16"
sox $S -c 1 "$BG/white_noise.wav" synth 30 whitenoise vol 0.3
sox $S -c 1 "$BG/pink_noise.wav" synth 30 pinknoise vol 0.4
sox $S -c 1 "$BG/brown_noise.wav" synth 30 brownnoise vol 0.5
sox -R -c 5 -n -r 16000 -b 16 -c 1 "$BG/hum.wav" synth 30 sine 50 sine 100 sine 150 sine 250 whitenoise \
  remix 1v0.4,2v0.2,3v0.12,4v0.05,5v0.02
SENTENCES=("the weather today is mild with a chance of rain in the evening"
  "please remember to bring the blue folder to the meeting tomorrow morning"
  "there is a small cafe at the corner that serves excellent coffee"
  "the train to the city was late again because of the heavy snow")
talkers=(en-us+m1 en-gb+f2 en-us+f1 en-gb+m3)
babble=()
for t in 0 1 2 3; do
  f=$(mktemp --suffix=.wav)
  babble+=("$f")
  espeak-ng -v "${talkers[t]}" -s $((140 + 15 * t)) --stdout "${SENTENCES[t]}. ${SENTENCES[(t + 1) % 4]}." |
    sox -R -t wav - -r 16000 -c 1 -b 16 "$f" pad 0.$((3 * t)) 0 repeat 12 trim 0 30 2>/dev/null
done
sox -R -m "${babble[@]}" -b 16 "$BG/babble.wav" trim 0 30 vol 1.5
rm -f "${babble[@]}"

clips=$(wc -l < "$jobs_file")
echo "synth-kws: $clips clips ($N per keyword, $others per other word) and 5 background noises in $OUT"
