#!/usr/bin/env bash
# Man pages from the program's own help (Debian help2man): tinyq(1) from `tinyq --help` and
# tinyq-COMMAND(1) from `tinyq COMMAND --help` for every command `tinyq --help` lists, gzip'd as
# Debian ships them. CMakeLists.txt runs it whenever the program is rebuilt.
#   scripts/manpages.sh TINYQ OUT_DIR VERSION
set -euo pipefail
bin=$(realpath "$1") out=$2 version=$3
mkdir -p "$out"
rm -f "$out"/*.1 "$out"/*.1.gz
wrap=$(mktemp -d)
trap 'rm -rf "$wrap"' EXIT

page() { # NAME SUMMARY PROGRAM
  help2man --no-info --no-discard-stderr --section=1 --version-string="$version" \
    --name="$2" --output="$out/$1.1" "$3"
  gzip -9nf "$out/$1.1"
}

page tinyq "quantization-aware training, mixed-precision search and integer C for microcontrollers" "$bin"
# The command table of `tinyq --help`: "  NAME  SUMMARY". help2man names a page after its program,
# so each command gets a two-line program of that name.
"$bin" --help | sed -n 's/^  \([a-z][a-z0-9_-]*\)  *\(.*\)$/\1 \2/p' | while read -r cmd summary; do
  printf '#!/bin/sh\nexec "%s" %s "$@"\n' "$bin" "$cmd" > "$wrap/tinyq-$cmd"
  chmod +x "$wrap/tinyq-$cmd"
  page "tinyq-$cmd" "$summary" "$wrap/tinyq-$cmd"
done
