#!/usr/bin/env bash
# tinyq as a user gets it: installed with cmake --install into a throw-away prefix, used from C
# through pkg-config and through CMake's find_package, and packaged as a .deb whose files and
# Depends: are checked after dpkg -x into a throw-away root. .ci/run calls it on the portable build.
#   scripts/check-install.sh [BUILD]   (default build-portable; configured and built already)
# Needs the fashion-mnist data (scripts/setup.sh). About a minute on 2 cores.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build-portable}" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "check-install: FAIL: $*" >&2; exit 1; }
say() { echo "check-install: [${SECONDS}s] $*"; }
export OMP_NUM_THREADS=2

version=$(sed -n 's/^project(tinyq VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")
soname=libtinyq.so.${version%.*}
[ -n "$version" ] || fail "no version in CMakeLists.txt's project()"

# ---- the files of an install, wherever it is (PREFIX, or usr/ of the unpacked .deb)
check_tree() { # DIR
  local d=$1 f
  for f in bin/tinyq lib/libtinyq.a lib/libtinyq.so "lib/$soname" "lib/libtinyq.so.$version" \
           lib/libtq_rt.a include/tq_rt/tq_rt.h lib/pkgconfig/tinyq.pc lib/pkgconfig/tinyq-runtime.pc \
           lib/cmake/tinyq/tinyqConfig.cmake lib/cmake/tinyq/tinyqConfigVersion.cmake \
           share/tinyq/runtime/tq_rt.h share/tinyq/examples/train_custom.c share/tinyq/examples/infer.c \
           share/tinyq/examples/CMakeLists.txt share/man/man1/tinyq.1.gz share/man/man1/tinyq-train.1.gz \
           share/bash-completion/completions/tinyq; do
    [ -e "$d/$f" ] || fail "$d: no $f"
  done
  # The public headers, and nothing of src/.
  diff <(cd "$ROOT/include/tinyq" && ls) <(cd "$d/include/tinyq" && ls) > /dev/null \
    || fail "$d/include/tinyq differs from include/tinyq/"
  grep -q "SONAME.*\[$soname\]" <<< "$(readelf -d "$d/lib/libtinyq.so")" \
    || fail "libtinyq.so: SONAME is not $soname"
  # One man page per command of tinyq --help.
  local cmds
  cmds=$("$d/bin/tinyq" --help | sed -n 's/^  \([a-z][a-z0-9_-]*\)  .*/\1/p')
  for c in $cmds; do [ -e "$d/share/man/man1/tinyq-$c.1.gz" ] || fail "no man page for tinyq $c"; done
  local v
  v=$("$d/bin/tinyq" --version)
  [[ $v == "tinyq $version"* ]] || fail "tinyq --version: $v"
}

# A small Fashion-MNIST (the first 1,000 training and 300 test samples) keeps every run short: the
# portable build trains slowly.
be32() { # N: 4 bytes, big-endian
  local b
  for b in 24 16 8 0; do printf "\\$(printf %03o $(($1 >> b & 255)))"; done
}
mini() ( # SPLIT COUNT: the first COUNT samples of Fashion-MNIST's SPLIT (train, t10k) as IDX files
  set +o pipefail # head ends zcat early
  src=/usr/share/datasets/fashion-mnist/$1 n=$2
  { printf '\0\0\10\3'; be32 "$n"; be32 28; be32 28
    zcat "$src-images-idx3-ubyte.gz" | head -c $((16 + n * 784)) | tail -c +17
  } > "$T/data/$1-images-idx3-ubyte"
  { printf '\0\0\10\1'; be32 "$n"
    zcat "$src-labels-idx1-ubyte.gz" | head -c $((8 + n)) | tail -c +9
  } > "$T/data/$1-labels-idx1-ubyte"
)
mkdir -p "$T/data"
mini train 1000
mini t10k 300
DATA=fashion-mnist:$T/data

# ---- 1. cmake --install into a prefix
P=$T/prefix
cmake --install "$BUILD" --prefix "$P" > /dev/null
check_tree "$P"
say "installed into a prefix: $("$P/bin/tinyq" --version), $(cd "$P" && find . -type f | wc -l) files"
for h in "$P"/include/tinyq/*.h; do # each public header compiles on its own
  echo "#include <tinyq/$(basename "$h")>" |
    cc -std=c11 -Wall -Wextra -Werror -fsyntax-only -I"$P/include" -x c - || fail "$h does not compile alone"
done
echo '#include "tq_rt.h"' | cc -std=c99 -Wall -Wextra -Werror -fsyntax-only $(pkg-config --cflags \
  "$P/lib/pkgconfig/tinyq-runtime.pc") -x c - || fail "the runtime's header does not compile alone"

# Bash completion: commands, options, and an option's values.
complete_words() { # WORDS...: what TAB offers after them
  PATH="$P/bin:$PATH" bash -c \
    'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _tinyq; echo "${COMPREPLY[*]}"' \
    _ "$P/share/bash-completion/completions/tinyq" "$@"
}
[ "$(complete_words tinyq tr)" = train ] || fail "completion of 'tinyq tr': $(complete_words tinyq tr)"
[ "$(complete_words tinyq train --epo)" = --epochs ] || fail "completion of 'tinyq train --epo'"
[ "$(complete_words tinyq train --optimizer '')" = "adam sgd" ] || fail "completion of --optimizer"

# ---- 2. the examples against the installed library: pkg-config, then CMake (shared and static)
logged() { # LOG CMD...: CMD's output into LOG, shown when it fails
  local log=$1
  shift
  "$@" > "$log" 2>&1 || { cat "$log"; return 1; }
}
export PKG_CONFIG_PATH=$P/lib/pkgconfig
mkdir -p "$T/pc"
for e in train_custom infer; do
  cc -std=c11 -Wall -Wextra -Werror "$P/share/tinyq/examples/$e.c" $(pkg-config --cflags --libs tinyq) \
    -Wl,-rpath,"$P/lib" -o "$T/pc/$e" || fail "$e does not build with pkg-config"
done
grep -q "$P/lib/$soname" <<< "$(ldd "$T/pc/infer")" || fail "infer does not use the installed $soname"
logged "$T/train.txt" "$T/pc/train_custom" "$DATA" 2 8 "$T/model.tqm" || fail "train_custom"
grep -q "^epoch 2: " "$T/train.txt" || { cat "$T/train.txt"; fail "train_custom output"; }
logged "$T/infer.txt" "$T/pc/infer" "$T/model.tqm" "$DATA" 200 || fail "infer"
grep -q "^accuracy 0\.[0-9]* on 200 test samples" "$T/infer.txt" || { cat "$T/infer.txt"; fail "infer output"; }
say "pkg-config: train_custom -> $(tail -1 "$T/train.txt"); infer -> $(tail -1 "$T/infer.txt")"

for mode in OFF ON; do
  logged "$T/cmake.txt" cmake -S "$P/share/tinyq/examples" -B "$T/cmake-$mode" -DCMAKE_PREFIX_PATH="$P" \
    -DTINYQ_STATIC=$mode -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" || fail "find_package(tinyq)"
  logged "$T/cmake.txt" cmake --build "$T/cmake-$mode" || fail "the examples with CMake"
  "$T/cmake-$mode/infer" "$T/model.tqm" "$DATA" 200 > "$T/infer2.txt"
  cmp -s "$T/infer2.txt" "$T/infer.txt" || fail "CMake-built infer (TINYQ_STATIC=$mode) differs"
done
grep -q libtinyq <<< "$(ldd "$T/cmake-ON/infer")" && fail "tinyq::tinyq_static links libtinyq.so"
"$T/cmake-OFF/train_custom" "$DATA" 1 2 "$T/m2.tqm" > /dev/null || fail "CMake-built train_custom"
say "CMake: find_package(tinyq CONFIG) -> tinyq::tinyq and tinyq::tinyq_static build, run, agree"

# The installed tinyq exports with the installed runtime (PREFIX/share/tinyq/runtime, marked here).
echo "/* check-install marker */" >> "$P/share/tinyq/runtime/tq_rt.h"
common=(--data "$DATA" --batch 32 --progress none --threads 2)
logged "$T/qat.txt" "$P/bin/tinyq" train --init "$T/model.tqm" "${common[@]}" --epochs 1 --max-steps 3 \
  --flat 8 --alpha auto_po2 --out "$T/q" || fail "QAT with the installed tinyq"
logged "$T/export.txt" "$P/bin/tinyq" export "$T/q/model.tqm" --out "$T/c" --static calib:64 \
  --allow-divergence || fail "export with the installed tinyq"
grep -q "check-install marker" "$T/c/tq_rt.h" || fail "tinyq export did not take the installed runtime"
make -s -C "$T/c" model_test CFLAGS="-std=c99 -O1" > /dev/null || fail "the exported C does not build"
head -c $((28 * 28 * 4 * 3)) /dev/zero > "$T/zeros.f32"
[ "$("$T/c/model_test" "$T/zeros.f32" | wc -l)" = 3 ] || fail "the exported model_test does not run"
say "installed tinyq export: runtime from PREFIX/share/tinyq/runtime, generated C builds and runs"

# ---- 3. the .deb: Depends:, files, and the pkg-config route in the unpacked tree
(cd "$BUILD" && cpack -G DEB > "$T/cpack.txt" 2>&1) || { cat "$T/cpack.txt"; fail "cpack"; }
deb=$BUILD/tinyq_${version}_$(dpkg --print-architecture).deb
[ -f "$deb" ] || fail "no $deb"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libopenblas libcjson zlib1g libgomp1 libhdf5 libsndfile1 libfftw3-single; do
  [[ $depends == *"$lib"* ]] || fail "Depends: lacks $lib: $depends"
done
dpkg -x "$deb" "$T/root"
check_tree "$T/root/usr"
cc "$T/root/usr/share/tinyq/examples/infer.c" \
  $(PKG_CONFIG_PATH=$T/root/usr/lib/pkgconfig pkg-config --cflags --libs tinyq) -o "$T/infer-deb"
LD_LIBRARY_PATH=$T/root/usr/lib "$T/infer-deb" "$T/model.tqm" "$DATA" 200 > "$T/infer2.txt"
cmp -s "$T/infer2.txt" "$T/infer.txt" || fail "infer built from the unpacked .deb differs"
say "$(basename "$deb"): $(dpkg-deb -c "$deb" | grep -vc '/$') files; Depends: $depends"
say "ok"
