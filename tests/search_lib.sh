# Sourced by tests/cli_search.sh and tests/cli_search_mpi.sh (not a test itself): tests/lib.sh (a
# temporary directory $T removed at exit, the ok/bad/check reporting ($fail), expect_error), a
# Fashion-MNIST subset and journal readers.

. "$SRC/tests/lib.sh"

# mkdata DIR N: a small IDX copy of the Fashion-MNIST training split, its first N samples.
mkdata() {
  local dir=$1 n=$2
  mkdir -p "$dir"
  { printf '\x00\x00\x08\x03'; printf '%08x' "$n" | xxd -r -p; printf '\x00\x00\x00\x1c\x00\x00\x00\x1c'
    zcat /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz | tail -c +17 | head -c $((n * 784)); } \
    > "$dir/train-images-idx3-ubyte"
  { printf '\x00\x00\x08\x01'; printf '%08x' "$n" | xxd -r -p
    zcat /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz | tail -c +9 | head -c "$n"; } \
    > "$dir/train-labels-idx1-ubyte"
  # train ends with the test split, which must load (issue 10, D7): the same samples serve
  cp "$dir/train-images-idx3-ubyte" "$dir/t10k-images-idx3-ubyte"
  cp "$dir/train-labels-idx1-ubyte" "$dir/t10k-labels-idx1-ubyte"
}

# lines FILE: its line count, 0 when it does not exist.
lines() { if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }
