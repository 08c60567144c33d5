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
hosts_dir=$state_dir/hosts
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
  nohup "$root/bin/localcloud" serve -backend netns -state-dir "$hosts_dir" -listen "$listen" -token "$token" >"$logfile" 2>&1 &
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
if [ "$(id -u)" -ne 0 ]; then
  echo "make demo runs real hosts (network namespaces with their own dockerd): run it as root" >&2
  exit 1
fi
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v curl >/dev/null || missing+=(curl)
command -v jq >/dev/null || missing+=(jq)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# engine GET path: the Docker API of the floating IP's holder, over mutual
# TLS, verified by the name in the engine's certificate (curl --resolve
# dials the floating IP while checking that name).
engine() {
  local d fip
  d=$(tf output -json holder_docker)
  fip=$(tf output -json floating_ip | jq -r .address)
  local tmp
  tmp=$(mktemp -d)
  jq -r .ca_pem <<<"$d" >"$tmp/ca.pem"
  jq -r .cert_pem <<<"$d" >"$tmp/cert.pem"
  (umask 077; jq -r .key_pem <<<"$d" >"$tmp/key.pem")
  local name
  name=$(jq -r .server_name <<<"$d")
  curl -fsS --cacert "$tmp/ca.pem" --cert "$tmp/cert.pem" --key "$tmp/key.pem" \
    --resolve "$name:2376:$fip" "https://$name:2376$1"
  rm -rf "$tmp"
}

case "${1:-up}" in
up)
  start_localcloud
  say "terraform apply examples/local (provider from bin/ via dev_overrides; no terraform init)"
  tf apply -auto-approve -input=false
  say "outputs"
  tf output
  say "the hosts as localcloud's DigitalOcean API lists them"
  curl -fsS -H "Authorization: Bearer $token" "$url/v2/droplets?tag_name=demo" |
    jq -r '.droplets[] | "  droplet \(.id)  \(.name)  \(.status)  \(.region.slug)  \(.size_slug)  \([.networks.v4[].ip_address] | join(" "))"'
  say "the Docker Engine behind the floating IP, over mutual TLS"
  engine /info | jq -r '"  name \(.Name), Docker \(.ServerVersion), \(.NCPU) CPUs, containers \(.Containers)"'
  printf '\nMove the address: terraform -chdir=examples/local apply -var active=1 (with TF_CLI_CONFIG_FILE=bin/dev.tfrc)\n'
  printf '\nlocalcloud keeps running on %s; `make demo-destroy` destroys the hosts and stops it.\n' "$url"
  ;;
down)
  if running || answering; then
    start_localcloud
    say "terraform destroy examples/local"
    tf destroy -auto-approve -input=false
  fi
  stop_localcloud
  if [ -d "$hosts_dir" ]; then
    say "removing every local host, the bridge and the rules"
    "$root/bin/localcloud" down -state-dir "$hosts_dir"
  fi
  rm -f examples/local/terraform.tfstate examples/local/terraform.tfstate.backup
  ;;
*)
  echo "usage: $0 up|down" >&2
  exit 2
  ;;
esac
