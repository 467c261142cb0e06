#!/usr/bin/env bash
# Image folders end to end on a tiny Visual Wake Words stand-in (scripts/make-imagefolder.sh at
# 32x32): ResNet-8 trains on imagefolder:DIR:32x32 with the VWW augmentation, the decoded images
# are cached and reused, eval reads the run's data; and each bad input is refused with one error
# line naming the file or folder (:strict), or skipped with a count.
set -u
source "${TQ_SRC:?}/tests/lib.sh"
export OMP_NUM_THREADS=1

V="$T/vww"
out=$(SIDE=32 "$SRC/scripts/make-imagefolder.sh" "$V" 40 2>&1)
check '[ $? -eq 0 ]' "make-imagefolder.sh writes the stand-in"
check '[ "$(find "$V/train" -name "*.png" | wc -l)" = 36 ] && [ "$(find "$V/val" -name "*.png" | wc -l)" = 4 ] && [ "$(find "$V/test" -name "*.png" | wc -l)" = 8 ]' "36 train, 4 val, 8 test PNG files"
check '[ -d "$V/train/person" ] && [ -d "$V/train/non_person" ]' "VWW class folders"
SIDE=32 "$SRC/scripts/make-imagefolder.sh" "$T/vww2" 40 >/dev/null 2>&1
check 'diff -r "$V" "$T/vww2" >/dev/null' "the stand-in is deterministic"

D="imagefolder:$V:32x32"
common=(--model resnet8 --data "$D" --epochs 1 --batch 8 --max-steps 3 --augment vww --progress none --threads 1)
out=$("$BIN" train "${common[@]}" --out "$T/r1" 2>&1)
check '[ $? -eq 0 ]' "resnet8 trains on imagefolder with --augment vww"
check 'grep -q "36 train / 4 validation samples" <<< "$out"' "val/ is the validation split"
check 'grep -q "imagefolder: decoded 40 images of $V (training split) to 32x32" <<< "$out"' "training images decoded once"
check 'grep -qE "^test: loss [0-9.]+, accuracy [0-9.]+ \(8 samples\)" <<< "$out"' "test split from test/"
check '[ -f "$V/.tinyq-cache-train-32x32" ] && [ -f "$V/.tinyq-cache-test-32x32" ]' "cache files written"
test1=$(grep "^test:" <<< "$out")
out=$("$BIN" train "${common[@]}" --out "$T/r2" 2>&1)
check '! grep -q "imagefolder: decoded" <<< "$out"' "second run reads the cache"
check '[ "$(grep "^test:" <<< "$out")" = "$test1" ]' "same seed, same result from the cache"
out=$("$BIN" eval "$T/r1/model.tqm" 2>&1)
check 'grep -q "^accuracy: " <<< "$out"' "eval on the run's imagefolder data"

# Bad input: one line naming the file with :strict; skipped with a count without.
cp -r "$V" "$T/b"
B="$T/b"
: > "$B/train/person/zero.png"
out=$("$BIN" train "${common[@]}" --data "imagefolder:$B:32x32" --out "$T/r3" 2>&1)
check '[ $? -eq 0 ] && grep -q "skipped 1 of 41 files of $B" <<< "$out" && grep -q "36 train / 4 validation" <<< "$out"' "a bad file is skipped with a count"
expect_error "$B/train/person/zero.png: empty file (0 bytes)" "$BIN" train "${common[@]}" --data "imagefolder:$B:32x32:strict" --out "$T/r4"
rm "$B/train/person/zero.png"
head -c 300 "$V/train/person/$(ls "$V/train/person" | head -1)" > "$B/train/person/cut.png"
expect_error "$B/train/person/cut.png: corrupt PNG" "$BIN" train "${common[@]}" --data "imagefolder:$B:32x32:strict" --out "$T/r4"
rm "$B/train/person/cut.png"
printf 'not an image\n' > "$B/train/person/readme.txt"
expect_error "$B/train/person/readme.txt: not a JPEG or PNG image" "$BIN" train "${common[@]}" --data "imagefolder:$B:32x32:strict" --out "$T/r4"
rm "$B/train/person/readme.txt"
# A PNG header claiming 30000x30000 pixels (signature, IHDR, nothing else).
printf '\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x75\x30\x00\x00\x75\x30\x08\x02\x00\x00\x00\x00\x00\x00\x00' > "$B/train/person/bomb.png"
expect_error "$B/train/person/bomb.png: PNG of 30000x30000 pixels is over the limit" "$BIN" train "${common[@]}" --data "imagefolder:$B:32x32:strict" --out "$T/r4"
rm "$B/train/person/bomb.png"
mkdir "$B/train/cat"
expect_error "$B/train/cat: empty class folder" "$BIN" train "${common[@]}" --data "imagefolder:$B:32x32" --out "$T/r4"
rm -r "$B/train/cat" "$B/train/non_person" "$B/val" "$B/test"
expect_error "$B/train: only one class folder ('person')" "$BIN" train "${common[@]}" --data "imagefolder:$B:32x32" --out "$T/r4"
expect_error "augment 'vww,zoom=0.2': vww is a preset on its own" "$BIN" train "${common[@]}" --augment vww,zoom=0.2 --out "$T/r4"
exit $fail
