#!/usr/bin/env bash
# make demo / make demo-destroy: localcloud up, then terraform apply (or
# destroy) of examples/local through a dev_overrides CLI config: no
# terraform init, no registry, no account.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

state_dir=$root/.localcloud
pidfile=$state_dir/localcloud.pid
logfile=$state_dir/localcloud.log
listen=${LOCALCLOUD_LISTEN:-127.0.0.1:9080}
token=${LOCALCLOUD_TOKEN:-localcloud-dev-token}
url=http://$listen

export TF_CLI_CONFIG_FILE=$root/bin/dev.tfrc
export CHECKPOINT_DISABLE=1
export DIGITALOCEAN_API_URL=$url
export DIGITALOCEAN_TOKEN=$token
tf() { terraform -chdir="$root/examples/local" "$@"; }

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

answering() { curl -fsS -o /dev/null -H "Authorization: Bearer $token" "$url/v2/account" 2>/dev/null; }

start_localcloud() {
  if running; then
    say "localcloud already running (pid $(cat "$pidfile")) on $url"
    return
  fi
  mkdir -p "$state_dir"
  say "starting localcloud on $url (log: $logfile)"
  nohup "$root/bin/localcloud" serve -listen "$listen" -token "$token" -boot-delay 2s >"$logfile" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 100); do
    answering && return
    running || { cat "$logfile" >&2; echo "localcloud exited; see above" >&2; exit 1; }
    sleep 0.1
  done
  echo "localcloud did not answer on $url within 10s; see $logfile" >&2
  exit 1
}

stop_localcloud() {
  if running; then
    kill "$(cat "$pidfile")"
    for _ in $(seq 1 50); do running || break; sleep 0.1; done
    say "localcloud stopped"
  fi
  rm -f "$pidfile"
}

command -v terraform >/dev/null || { echo "terraform is not on PATH: install Terraform 1.11+" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is needed: apt-get install -y curl" >&2; exit 1; }

case "${1:-up}" in
up)
  start_localcloud
  say "terraform apply examples/local (provider from bin/ via dev_overrides; no terraform init)"
  tf apply -auto-approve -input=false
  say "outputs"
  tf output
  say "the hosts as localcloud's DigitalOcean API lists them"
  command -v python3 >/dev/null && curl -fsS -H "Authorization: Bearer $token" "$url/v2/droplets?tag_name=demo" |
    python3 -c 'import json,sys
for d in json.load(sys.stdin)["droplets"]:
    print("  droplet %-6s %-10s %-7s %-5s %-12s %s" % (d["id"], d["name"], d["status"], d["region"]["slug"], d["size_slug"], " ".join(n["ip_address"] for n in d["networks"]["v4"])))'
  printf '\nlocalcloud keeps running on %s; `make demo-destroy` destroys the hosts and stops it.\n' "$url"
  ;;
down)
  if running || answering; then
    start_localcloud
    say "terraform destroy examples/local"
    tf destroy -auto-approve -input=false
  fi
  stop_localcloud
  rm -f examples/local/terraform.tfstate examples/local/terraform.tfstate.backup
  ;;
*)
  echo "usage: $0 up|down" >&2
  exit 2
  ;;
esac
