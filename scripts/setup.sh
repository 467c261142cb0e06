#!/usr/bin/env bash
# Installs every Debian package tinyq needs. Idempotent: when everything is present it does nothing,
# and it runs `apt-get update` only when something is missing.
set -euo pipefail

# Usage: scripts/setup.sh [--bench]
#   default: what building and testing need; --bench adds the outside references of bench/
#   (Debian's PyTorch and numpy, valgrind).
PACKAGES=(
  build-essential cmake pkg-config
  zlib1g-dev            # gzip'd IDX files
  libopenblas-openmp-dev # float GEMM, sharing tinyq's OpenMP thread pool
  libcjson-dev          # JSON configs and search spaces
  libopenmpi-dev openmpi-bin   # distributed search
  dataset-fashion-mnist # default real data
  gcc-arm-none-eabi libnewlib-arm-none-eabi  # Cortex-M footprint of generated code
)
if [ "${1:-}" = "--bench" ]; then
  PACKAGES+=(valgrind python3-torch python3-numpy)  # bench/int_inference; bench/train_throughput
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
