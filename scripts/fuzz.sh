#!/usr/bin/env bash
# make fuzz: run every fuzz target for FUZZTIME (default 30s) and print how
# many inputs each executed. A failing input is written to the package's
# testdata/fuzz/<target>/ by go test: commit it with the fix, and plain
# `go test` (make test, CI) replays it with the rest of the committed corpus.
# FUZZ_SAVE=1 also copies up to 50 of the new interesting inputs of each
# target from Go's cache into testdata/fuzz/, to commit as corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-30s}
targets=(
  "./internal/stack FuzzLoad"
  "./internal/cloudinit FuzzParse"
  "./internal/cloudinit FuzzRenderUserData"
  "./internal/cloud FuzzResolve"
  "./provider FuzzParseCloudID"
  "./internal/localcloud/digitalocean FuzzRequestBodies"
  "./internal/localcloud/aws FuzzRequestBodies"
  "./internal/localcloud/awselbv2 FuzzRequestBodies"
  "./internal/localcloud/awsrds FuzzRequestBodies"
  "./internal/localcloud/awsauth FuzzAuthorization"
)
cache=$(go env GOCACHE)/fuzz/$(go list -m)
summary=()
status=0
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  printf '\n==> %s %s for %s\n' "$pkg" "$name" "$fuzztime"
  log=$(mktemp)
  if go test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime 2s 2>&1 | tee "$log" | grep -E '^(---|FAIL|ok|PASS)|Failing input'; then :; fi
  execs=$(grep -oE 'execs: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
  if grep -q '^ok' "$log"; then result=ok; else result=FAIL; status=1; fi
  rm -f "$log"
  summary+=("$(printf '%-45s %-20s %10s execs  %s' "$pkg" "$name" "$execs" "$result")")
  if [ "${FUZZ_SAVE:-}" = 1 ] && [ -d "$cache/${pkg#./}/$name" ]; then
    mkdir -p "${pkg#./}/testdata/fuzz/$name"
    find "$cache/${pkg#./}/$name" -type f | head -50 | xargs -r cp -t "${pkg#./}/testdata/fuzz/$name"
  fi
done
printf '\nfuzzing, %s per target:\n' "$fuzztime"
printf '%s\n' "${summary[@]}"
exit $status
