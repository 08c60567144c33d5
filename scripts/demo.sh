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

registry=${LOCALCLOUD_REGISTRY:-10.213.0.1:5000}
image=$registry/counter:1

case "${1:-up}" in
up)
  start_localcloud
  say "building the counter app into an image (no Docker daemon) and pushing it to localcloud's registry"
  "$root/bin/haddock-image" build-push -pkg ./examples/apps/counter -tag "$image"
  say "terraform apply examples/local: 3 managers, 2 workers, the counter stack, a floating IP (no terraform init)"
  tf apply -auto-approve -input=false -var image="$image"
  say "outputs"
  tf output
  app_url=$(tf output -raw url)
  say "eight requests through the floating IP ($app_url): the front on a manager sends each to the next counter task"
  for _ in $(seq 1 8); do
    curl -fsS --max-time 5 "${app_url}api" | jq -r '"  answered by task \(.task_slot // "?") on node \(.node // "?") (container \(.hostname)), hit \(.hits // .count // "?")"'
  done
  printf '\nScale the workers: terraform -chdir=examples/local apply -var image=%s -var workers=3 (with TF_CLI_CONFIG_FILE=bin/dev.tfrc)\n' "$image"
  printf 'Roll the managers to another size, one at a time, while the app keeps answering: make demo-roll\n'
  printf '  (that is: terraform -chdir=examples/local apply -var image=%s -var manager_size=medium, with requests counted throughout)\n' "$image"
  printf '\nlocalcloud keeps running on %s; `make demo-destroy` destroys the hosts and stops it.\n' "$url"
  ;;
roll)
  # Replace every manager with one of another size while a client requests
  # the app through the floating IP, and count what failed.
  start_localcloud
  current=$(tf output -raw manager_size 2>/dev/null || echo small)
  next=medium
  [ "$current" = medium ] && next=small
  app_url=$(tf output -raw url)
  say "rolling the managers from $current to $next under load: 10 requests/s through $app_url during the apply"
  counts=$(mktemp)
  ( ok=0; failed=0
    while [ ! -e "$counts.stop" ]; do
      if curl -fsS --max-time 2 -o /dev/null "${app_url}api"; then ok=$((ok + 1)); else failed=$((failed + 1)); fi
      echo "$ok $failed" >"$counts"
      sleep 0.1
    done ) &
  loader=$!
  tf plan -input=false -var image="$image" -var manager_size="$next" -out "$counts.plan" >/dev/null
  tf show -json "$counts.plan" | jq -r '.resource_changes[] | select(.address == "haddock_swarm_cluster.demo") | .change.after.rollout[]? | "  will replace \(.name): \(.changes | join(", "))"'
  tf apply -auto-approve -input=false "$counts.plan"
  touch "$counts.stop"
  wait "$loader"
  read -r ok failed <"$counts"
  rm -f "$counts" "$counts.stop" "$counts.plan"
  say "during the rollout: $ok requests answered, $failed failed"
  tf output nodes
  ;;
down)
  if running || answering; then
    start_localcloud
    say "terraform destroy examples/local"
    tf destroy -auto-approve -input=false -var image="$image"
  fi
  stop_localcloud
  if [ -d "$hosts_dir" ]; then
    say "removing every local host, the bridge and the rules"
    "$root/bin/localcloud" down -state-dir "$hosts_dir"
  fi
  rm -f examples/local/terraform.tfstate examples/local/terraform.tfstate.backup
  ;;
*)
  echo "usage: $0 up|roll|down" >&2
  exit 2
  ;;
esac
