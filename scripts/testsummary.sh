#!/usr/bin/env bash
# Reads `go test -v` output on stdin, passes it through, and closes with
# "N passed, N failed, N skipped". Exits non-zero when go test failed (its
# exit code comes as $1... or a FAIL line) or when any acceptance test
# skipped: in CI a skipped acceptance test is a failure, not a pass.
set -uo pipefail
pass=0 fail=0 skip=0 failed_pkg=0
skipped=()
while IFS= read -r line; do
  printf '%s\n' "$line"
  case "$line" in
    *"--- PASS: "*) pass=$((pass + 1)) ;;
    *"--- FAIL: "*) fail=$((fail + 1)) ;;
    *"--- SKIP: "*) skip=$((skip + 1)); skipped+=("${line#*--- SKIP: }") ;;
    FAIL*|"panic: "*) failed_pkg=1 ;;
  esac
done
echo
echo "acceptance: $pass passed, $fail failed, $skip skipped"
if [ "$skip" -gt 0 ]; then
  printf 'skipped (not allowed here): %s\n' "${skipped[@]}" >&2
  exit 1
fi
if [ "$fail" -gt 0 ] || [ "$failed_pkg" -ne 0 ] || [ "$pass" -eq 0 ]; then
  exit 1
fi
