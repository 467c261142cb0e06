#!/usr/bin/env bash
# make demo: the main job on the default data — ResNet-8 on Fashion-MNIST (Debian's
# dataset-fashion-mnist), float training with the default recipe shortened to its first 10 epochs
# (the same trajectory: the schedule depends on the epoch only; about 90.7 % validation accuracy
# from epoch 8 on), then evaluation of the saved model on the 10,000 test images.
set -euo pipefail
BIN=${1:-build/tinyq}
RUN=${TQ_DEMO_RUN:-runs/demo-resnet8-$(date +%Y%m%d-%H%M%S)}
echo "== tinyq demo: ResNet-8 on Fashion-MNIST (run directory: $RUN)"
"$BIN" summary --model resnet8 --input 28x28x1 --classes 10 | tail -6
"$BIN" train --model resnet8 --data fashion-mnist --epochs "${TQ_DEMO_EPOCHS:-10}" --out "$RUN" --progress lines
"$BIN" eval "$RUN/model.tqm" --data fashion-mnist
echo "== run directory: $RUN (model.tqm, best.tqm, last.tqm, log.csv)"
