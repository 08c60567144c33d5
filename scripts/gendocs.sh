#!/usr/bin/env bash
# Regenerates docs/ with tfplugindocs, offline: the provider schema comes
# from the Terraform CLI on PATH through a dev_overrides config (no
# terraform init, no registry), then tfplugindocs renders the templates.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/bin/terraform-provider-haddock" .
printf 'provider_installation {\n  dev_overrides {\n    "haddockhq/haddock" = "%s"\n  }\n  direct {}\n}\n' "$work/bin" > "$work/tfrc"
mkdir -p "$work/cfg"
cat > "$work/cfg/main.tf" <<'TF'
terraform {
  required_providers {
    haddock = { source = "haddockhq/haddock" }
  }
}
TF
TF_CLI_CONFIG_FILE="$work/tfrc" CHECKPOINT_DISABLE=1 terraform -chdir="$work/cfg" providers schema -json > "$work/schema.json" 2> "$work/schema.err" || {
  cat "$work/schema.err" >&2; exit 1; }
# tfplugindocs looks the schema up by short name (or under hashicorp/).
sed -i 's|"registry.terraform.io/haddockhq/haddock"|"haddock"|' "$work/schema.json"
go tool tfplugindocs generate --provider-name haddock --rendered-provider-name Haddock --providers-schema "$work/schema.json"
