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
  qemu-system-arm       # runs the generated code on an emulated Cortex-M4F (mps2-an386)
  clang-14 libclang-rt-14-dev libomp-14-dev  # libFuzzer harnesses of fuzz/ (make fuzz, the CI's short run)
  libhdf5-dev           # tinyq import: Keras HDF5 model files
  python3-h5py python3-numpy  # tests/keras_reference.py: the outside reference of cli_import
  libsndfile1-dev libfftw3-dev espeak-ng sox  # audio: WAV input, feature FFTs, scripts/synth-*.sh
  libpng-dev libjpeg62-turbo-dev  # imagefolder: PNG and JPEG decoding; scripts/make-imagefolder.sh writes PNG
  chromium              # tests/cli_report.sh opens tinyq report's pages in a real (headless) browser
  help2man dpkg-dev fakeroot   # man pages from --help; make package (dpkg-shlibdeps for Depends:)
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

# On a fresh machine unattended-upgrades or cloud-init often hold the apt/dpkg locks for minutes.
# apt-get install can wait for the dpkg lock itself (DPkg::Lock::Timeout), but apt-get update
# cannot wait for the lists lock, so every apt-get runs here: while it fails *because a lock is
# held*, wait and retry, for at most LOCK_WAIT seconds in all; any other failure is reported at once.
LOCK_WAIT=${TQ_APT_LOCK_WAIT:-600}
deadline=$(( $(date +%s) + LOCK_WAIT ))
apt_retry() {
  local err rc waited=0
  err=$(mktemp)
  while :; do
    rc=0
    "$@" 2> "$err" || rc=$?
    if [ "$rc" -eq 0 ]; then rm -f "$err"; return 0; fi
    if grep -qiE "could not get lock|unable to acquire the dpkg frontend lock|unable to lock|is another process using it" "$err" \
       && [ "$(date +%s)" -lt "$deadline" ]; then
      if [ "$waited" -eq 0 ]; then echo "setup: another package manager holds the apt/dpkg lock; waiting (at most ${LOCK_WAIT} s)"; fi
      waited=1
      sleep 5
      continue
    fi
    cat "$err" >&2
    rm -f "$err"
    if [ "$waited" -eq 1 ]; then echo "setup: gave up after waiting ${LOCK_WAIT} s for the apt/dpkg lock" >&2; fi
    return "$rc"
  done
}

echo "setup: installing ${missing[*]}"
apt_retry $SUDO apt-get -o DPkg::Lock::Timeout=60 update -qq
apt_retry $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=60 install -y -qq \
  --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
