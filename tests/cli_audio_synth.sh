#!/usr/bin/env bash
# The synthetic audio generators at a tiny N: Speech Commands and DCASE layouts, 16 kHz mono 16-bit
# clips of the stated lengths, speakers never shared between splits, and the same bytes again for
# the same seed.
set -u
SRC=${TQ_SRC:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }

"$SRC/scripts/synth-kws.sh" "$T/kws" 3 7 >/dev/null || { echo "FAIL: synth-kws.sh"; exit 1; }
K="$T/kws"
check "ten keywords, 3 clips each" \
  '[ "$(for w in down go left no off on right stop up yes; do ls "$K/$w" | wc -l; done | sort -u)" = 3 ]'
check "twelve other words" '[ "$(ls -d "$K"/*/ | wc -l)" = 23 ]'
check "five background noises of 30 s" \
  '[ "$(soxi -D "$K"/_background_noise_/*.wav | sort -u)" = "30.000000" ] && [ "$(ls "$K/_background_noise_" | wc -l)" = 5 ]'
# format lines of every file, e.g. "Channels : 1", once each
formats() { soxi "$@" | grep -E "^(Channels|Sample Rate|Precision)" | tr -s " " | sort -u | tr "\n" ";"; }
want="Channels : 1;Precision : 16-bit;Sample Rate : 16000;"
check "every clip 1 s" '[ "$(soxi -D "$K"/[a-z]*/*.wav | sort -u)" = "1.000000" ]'
check "every clip and noise 16 kHz, mono, 16-bit" \
  '[ "$(formats "$K"/[a-z]*/*.wav)" = "$want" ] && [ "$(formats "$K"/_background_noise_/*.wav)" = "$want" ]'
check "list entries exist" '(cd "$K" && cat validation_list.txt testing_list.txt | xargs ls >/dev/null)'
speakers() { sed 's|.*/||; s|_nohash_.*||' | sort -u; }
train_speakers=$(cd "$K" && ls [a-z]*/*.wav | grep -vxF -f validation_list.txt -f testing_list.txt | speakers)
check "no speaker in two splits" \
  '[ -z "$(comm -12 <(speakers < "$K/testing_list.txt") <(speakers < "$K/validation_list.txt"))" ] &&
   [ -z "$(comm -12 <(speakers < "$K/testing_list.txt") <(echo "$train_speakers"))" ] &&
   [ -z "$(comm -12 <(speakers < "$K/validation_list.txt") <(echo "$train_speakers"))" ]'
"$SRC/scripts/synth-kws.sh" "$T/kws2" 3 7 >/dev/null
check "synth-kws.sh is deterministic" 'diff -r "$K" "$T/kws2" >/dev/null'

MACHINES=fan "$SRC/scripts/synth-machines.sh" "$T/ad" 2 7 >/dev/null || { echo "FAIL: synth-machines.sh"; exit 1; }
A="$T/ad/fan"
check "DCASE layout" '[ "$(ls "$A/train" | wc -l)" = 6 ] && [ "$(ls "$A"/test/normal_id_0[123]_0000000[01].wav | wc -l)" = 6 ] &&
  [ "$(ls "$A"/test/anomaly_id_0[123]_0000000[01].wav | wc -l)" = 6 ]'
check "every clip 10 s, 16 kHz, mono, 16-bit" '[ "$(soxi -D "$A"/*/*.wav | sort -u)" = "10.000000" ] && [ "$(formats "$A"/*/*.wav)" = "$want" ]'
MACHINES=fan "$SRC/scripts/synth-machines.sh" "$T/ad2" 2 7 >/dev/null
check "synth-machines.sh is deterministic" 'diff -r "$T/ad" "$T/ad2" >/dev/null'
check "bad N refused" '! "$SRC/scripts/synth-kws.sh" "$T/x" 0 2>/dev/null && ! "$SRC/scripts/synth-machines.sh" "$T/x" abc 2>/dev/null'
exit $fail
