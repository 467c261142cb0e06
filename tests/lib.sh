# Shared by the end-to-end tests tests/cli_*.sh that report check by check: source it after `set -u`.
# It sets BIN (the tinyq program), SRC (the source tree), T (a temporary directory, removed at exit
# with any background job killed) and fail=0 (the script ends with `exit $fail`), and defines
#   ok MSG, bad MSG            report a check; bad sets fail=1
#   check 'CONDITION' MSG      ok or bad as CONDITION (eval'd) holds
#   expect_error WANT CMD...   CMD must fail with exactly one line, "tinyq: error: ...", that contains
#                              WANT (a fixed string)
BIN=${TQ_BIN:?}
SRC=${TQ_SRC:?}
T=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
fail=0

ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }
check() { if eval "$1"; then ok "$2"; else bad "$2"; fi; }

expect_error() {
  local want=$1; shift
  local out rc
  out=$("$@" 2>&1 >/dev/null); rc=$?
  if [ $rc -eq 0 ]; then bad "(exit 0): $*"; return; fi
  local lines; lines=$(printf '%s\n' "$out" | grep -c 'tinyq: error: ')
  if [ "$lines" -ne 1 ] || [ "$(printf '%s\n' "$out" | wc -l)" -ne 1 ]; then bad "(expected one error line, got: $out): $*"; return; fi
  if ! printf '%s' "$out" | grep -qF -- "$want"; then bad "(no '$want' in: $out): $*"; return; fi
  ok "$out"
}
