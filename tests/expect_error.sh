# Sourced by tests/cli_report.sh and tests/cli_quanterr.sh (they set T, a scratch directory).
fail() { echo "FAIL: $*"; exit 1; }
# A command that must fail with exactly one line "tinyq: error: ..." containing $1.
expect_error() {
  local want=$1 err
  shift
  if "$@" > /dev/null 2> "$T/err"; then fail "succeeded: $*"; fi
  err=$(cat "$T/err")
  [ "$(wc -l < "$T/err")" -eq 1 ] || fail "not one line: $err"
  [[ $err == "tinyq: error: "*"$want"* ]] || fail "expected '$want' in: $err"
  echo "ok: $err"
}
