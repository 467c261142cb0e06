#!/usr/bin/env bash
# Every bad input gets one clear line "tinyq: error: <where>: <what>" and a non-zero exit.
set -u
. "$(dirname "$0")/lib.sh"

expect_error "unknown command" "$BIN" frobnicate
expect_error "unknown model 'resnet9'" "$BIN" summary --model resnet9
expect_error "unknown model 'resnet9'" "$BIN" train --model resnet9 --out "$T/r"
expect_error "unknown option '--epoch'" "$BIN" train --model resnet8 --epoch 3 --out "$T/r"
expect_error "epochs" "$BIN" train --model resnet8 --epochs zero --out "$T/r"
expect_error "batch" "$BIN" train --model resnet8 --batch -4 --out "$T/r"
expect_error "lr" "$BIN" train --model resnet8 --lr nan --out "$T/r"
expect_error "unknown optimizer 'adamw'" "$BIN" train --model resnet8 --optimizer adamw --out "$T/r"
expect_error "schedule 'exp:-1'" "$BIN" train --model resnet8 --schedule exp:-1 --out "$T/r"
expect_error "unknown dataset" "$BIN" train --model resnet8 --data imagenet --out "$T/r"
expect_error "freeze-bn: expected an epoch in 0..100000 or 'never', got 'soon'" "$BIN" train --model resnet8 --freeze-bn soon --out "$T/r"
expect_error "freeze-bn" "$BIN" train --model resnet8 --freeze-bn -1 --out "$T/r"
expect_error "freeze-ranges: expected an epoch in 1..100000 or 'never', got '0'" "$BIN" train --model resnet8 --freeze-ranges 0 --out "$T/r"
expect_error "--freeze-ranges needs quantizers" "$BIN" train --model resnet8 --freeze-ranges 1 --train-limit 64 --out "$T/r"
expect_error "$T/none" "$BIN" train --model resnet8 --data "fashion-mnist:$T/none" --out "$T/r"
expect_error "--out" "$BIN" train --model resnet8
expect_error "--input" "$BIN" summary --model resnet8 --input 32x32
expect_error "nothing.tqm" "$BIN" eval "$T/nothing.tqm" --data fashion-mnist

# A truncated data file
mkdir -p "$T/fm"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  zcat /usr/share/datasets/fashion-mnist/$f.gz > "$T/fm/$f"
done
head -c 100000 /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz | zcat 2>/dev/null > "$T/fm/train-images-idx3-ubyte"
expect_error "train-images-idx3-ubyte" "$BIN" train --model resnet8 --data "fashion-mnist:$T/fm" --out "$T/r"

# A corrupt model file, a foreign file
printf 'TINYQMDL\001\000\000\000garbage' > "$T/c.tqm"
expect_error "c.tqm" "$BIN" eval "$T/c.tqm" --data fashion-mnist
echo "hello" > "$T/f.tqm"
expect_error "not a tinyq model file" "$BIN" summary "$T/f.tqm"
# diff: two model files of one architecture.
"$BIN" train --model resnet8 --data noise:12x12x1:3 --epochs 1 --max-steps 1 --train-limit 64 \
  --progress none --out "$T/n1" > /dev/null
"$BIN" train --model fc_autoencoder --data noise:1x1x640 --epochs 1 --max-steps 1 --train-limit 64 \
  --progress none --out "$T/n2" > /dev/null
expect_error "not the same architecture" "$BIN" diff "$T/n1/model.tqm" "$T/n2/model.tqm"
expect_error "expected two model files" "$BIN" diff "$T/n1/model.tqm"
expect_error "f.tqm: not a tinyq model file" "$BIN" diff "$T/n1/model.tqm" "$T/f.tqm"
expect_error "resume" "$BIN" train --resume "$T/nowhere"

# Issue 10's smaller items
expect_error "train: --lr needs a value, got the option '--out'" "$BIN" train --model resnet8 --lr --out X
expect_error "$T: is a directory, not a file" "$BIN" summary "$T"
expect_error "quantizer: --values: value 2 is not a finite number" "$BIN" quantizer "quantized_bits(4,0,1,alpha='auto')" --values 1,nan,0.5
expect_error "alpha must be a positive finite number, got -1" "$BIN" quantizer "quantized_bits(4,0,1,alpha=-1)" --values 1
echo '{} garbage' > "$T/g.json"
expect_error "g.json: text after the JSON object (near \"garbage\")" "$BIN" summary --model resnet8 --quant "$T/g.json"
printf '{"conv2d\\u0000evil": {"kernel_quantizer": "quantized_bits(4,0,1)"}}' > "$T/n.json"
expect_error "n.json: a \\u0000 escape at offset 8" "$BIN" summary --model resnet8 --quant "$T/n.json"
# D3: 32-bit codes of +-1 are +-(2^31 - 1), 0.5 is 2^30
out=$("$BIN" quantizer "quantized_bits_featuremap(32,0,1,1,alpha='auto',scale_axis=0)" --values 1,-1,0.5 --codes | tail -1)
if [ "$out" = "codes: 2147483647 -2147483647 1073741824" ]; then echo "ok: $out"; else echo "FAIL: 32-bit codes: $out"; fail=1; fi
# a fresh run that diverges says what is on disk, in the README's words
expect_error "epoch 2 step 2: validation loss is NaN: training diverged (try a lower --lr); the last good checkpoint is kept (epoch 1)" \
  "$BIN" train --model fc_autoencoder --data noise:1x1x640 --lr 100 --optimizer sgd --epochs 3 --train-limit 200 \
  --progress none --out "$T/diverge"

exit $fail
