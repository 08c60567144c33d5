#!/usr/bin/env bash
# make soak: the reliability acceptance test (hosts and a floating IP
# created, changed, scaled in and destroyed under injected API faults) for
# SOAK_ROUNDS seeds (default 20) at HADDOCK_FAULT_RATE (default 0.1); prints
# each round's figures and the totals, and fails if any round failed or left
# an orphan. CI runs one round (seed 1) as part of make testacc.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${SOAK_ROUNDS:-20}
tf=${TF_ACC_TERRAFORM_PATH:-$(command -v terraform)}
failed=0 faults=0 requests=0
for seed in $(seq 1 "$rounds"); do
  out=$(HADDOCK_FAULT_SEED=$seed TF_ACC=1 TF_ACC_TERRAFORM_PATH=$tf go test -count=1 -run '^TestAccReliability_faults$' ./provider/ -v 2>&1) || { failed=$((failed + 1)); printf '%s\n' "$out" | grep -E -- '--- FAIL|Error' | head -5; }
  line=$(printf '%s\n' "$out" | grep -E '^reliability:' | head -1 || true)
  printf '%s\n' "${line:-reliability: seed $seed: no figures (failed)}"
  f=$(printf '%s' "$line" | sed -nE 's/.* ([0-9]+) faults injected.*/\1/p'); faults=$((faults + ${f:-0}))
  r=$(printf '%s' "$line" | sed -nE 's/.*; ([0-9]+) requests,.*/\1/p'); requests=$((requests + ${r:-0}))
done
printf '\nsoak: %d rounds, %d failed; %d requests, %d faults injected and survived\n' "$rounds" "$failed" "$requests" "$faults"
[ "$failed" -eq 0 ]
