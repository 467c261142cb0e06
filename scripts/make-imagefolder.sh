#!/usr/bin/env bash
# Writes the Visual Wake Words stand-in: the real VWW set (COCO pictures, person / no person) is
# not on this machine, so Fashion-MNIST garments play it, in the VWW image-folder layout:
#
#   scripts/make-imagefolder.sh OUT [N] [SEED]     (N training images, default 5000; SEED default 1)
#
#   OUT/train/{non_person,person}/*.png   the first N - N/10 Fashion-MNIST training images
#   OUT/val/{non_person,person}/*.png     the next N/10 (the validation split)
#   OUT/test/{non_person,person}/*.png    the first N/5 Fashion-MNIST test images (at most 10,000)
#
# person = the upper-body garments (T-shirt/top, pullover, coat, shirt: 40 % of the images),
# non_person = the rest. Every image is 96x96 RGB: the grey garment blends two colours drawn per
# image from SEED (colour carries no class information), enlarged bilinearly (the loader's resize),
# written as PNG by libpng (tools/make_imagefolder.c, built with the tree). Deterministic for a given N and SEED. Read it with --data imagefolder:OUT. Results on it
# are results on the stand-in, not on Visual Wake Words.
#
# Environment: TQ_BUILD (the build directory holding make_imagefolder; default ROOT/build),
# FASHION_MNIST (default /usr/share/datasets/fashion-mnist), SIDE (default 96).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: scripts/make-imagefolder.sh OUT [N] [SEED]}
N=${2:-5000}
SEED=${3:-1}
SIDE=${SIDE:-96}
FASHION=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
TOOL=${TQ_BUILD:-$ROOT/build}/make_imagefolder
case "$N" in '' | *[!0-9]*) echo "make-imagefolder: N must be a positive integer, got '$N'" >&2; exit 2 ;; esac
case "$SEED" in '' | *[!0-9]*) echo "make-imagefolder: SEED must be a non-negative integer, got '$SEED'" >&2; exit 2 ;; esac
if [ ! -x "$TOOL" ]; then
  echo "make-imagefolder: $TOOL not found (build the tree first: cmake -S . -B build && cmake --build build)" >&2
  exit 1
fi
if [ ! -d "$FASHION" ]; then
  echo "make-imagefolder: $FASHION not found (scripts/setup.sh installs dataset-fashion-mnist)" >&2
  exit 1
fi
if [ -e "$OUT/train" ] || [ -e "$OUT/val" ] || [ -e "$OUT/test" ]; then
  echo "make-imagefolder: $OUT already holds train/, val/ or test/; remove it first" >&2
  exit 1
fi
mkdir -p "$OUT"
exec "$TOOL" "$FASHION" "$OUT" "$N" "$SEED" "$SIDE"
