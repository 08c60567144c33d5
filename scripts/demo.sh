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
url=http://$listen
# With real hosts localcloud makes a random API token and keeps it in a 0600
# file in its state directory (a host's dockerd is root on this machine):
# whoever may run the demo reads it there; LOCALCLOUD_TOKEN overrides it.
token_file=$hosts_dir/token
load_token() {
  if [ -n "${LOCALCLOUD_TOKEN:-}" ]; then
    token=$LOCALCLOUD_TOKEN
  elif [ -r "$token_file" ]; then
    token=$(cat "$token_file")
  else
    token=""
  fi
  export DIGITALOCEAN_TOKEN=$token
  # localcloud's EC2 API (same hosts) takes the same secret.
  export AWS_SECRET_ACCESS_KEY=$token
}
load_token

export TF_CLI_CONFIG_FILE=$root/bin/dev.tfrc
export CHECKPOINT_DISABLE=1
export DIGITALOCEAN_API_URL=$url
aws_listen=${LOCALCLOUD_AWS_LISTEN:-127.0.0.1:9081}
elb_listen=${LOCALCLOUD_ELBV2_LISTEN:-127.0.0.1:9082}
export AWS_ENDPOINT_URL_EC2=http://$aws_listen AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2=http://$elb_listen AWS_ACCESS_KEY_ID=localcloud AWS_REGION=eu-central-1
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
  nohup "$root/bin/localcloud" serve -backend netns -state-dir "$hosts_dir" -listen "$listen" -aws-listen "$aws_listen" >"$logfile" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 100); do
    load_token
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
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v initdb >/dev/null || [ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql-15)
command -v curl >/dev/null || missing+=(curl)
command -v jq >/dev/null || missing+=(jq)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

registry=${LOCALCLOUD_REGISTRY:-10.213.0.1:5000}
image=$registry/counter:1
# localcloud serves its API on the hosts' bridge too, at the same port: the
# failover agent on the managers moves the floating IP through it.
agent_api=http://${registry%:*}:${listen##*:}
agent_ec2=http://${registry%:*}:${aws_listen##*:}
tfvars=$root/examples/local/demo.auto.tfvars

# write_tfvars records the images and the agent's endpoint where terraform
# finds them by itself (examples/local/demo.auto.tfvars): later applies,
# yours included, need no -var.
write_tfvars() {
  # Keep where make demo-migrate moved the cluster, and the size make
  # demo-roll gave the managers.
  clouds=$(grep -E '^(managers|workers)_cloud|^manager_size' "$tfvars" 2>/dev/null || true)
  cat >"$tfvars" <<EOT
# Written by scripts/demo.sh (make demo): the images it pushed to localcloud's registry.
image              = "$1"
agent_image        = "$2"
agent_api_endpoint = "$agent_api"
agent_ec2_endpoint = "$agent_ec2"
EOT
  [ -z "$clouds" ] || printf '%s\n' "$clouds" >>"$tfvars"
}

# holder prints the droplet id and name holding the floating IP of $1.
holder() {
  curl -fsS -H "Authorization: Bearer $token" "$url/v2/reserved_ips/$1" | jq -r '.reserved_ip.droplet | "\(.id) \(.name)"'
}

case "${1:-up}" in
up)
  start_localcloud
  say "building the counter app and the failover agent into images (no Docker daemon) and pushing them to localcloud's registry"
  # localcloud's registry takes pushes with its API token.
  HADDOCK_REGISTRY_PASSWORD=$token "$root/bin/haddock-image" build-push -pkg ./examples/apps/counter -tag "$image" >/dev/null
  agent=$(HADDOCK_REGISTRY_PASSWORD=$token "$root/bin/haddock-image" build-push -pkg ./cmd/haddock-agent -user 0 -tag "$registry/haddock-agent:demo")
  write_tfvars "$image" "$agent"
  say "terraform apply examples/local: 3 managers behind a load balancer, 2 workers, the counter stack, a floating IP that follows the managers (no terraform init)"
  tf apply -auto-approve -input=false
  say "outputs"
  tf output
  app_url=$(tf output -raw url)
  say "eight requests through the floating IP ($app_url): the front on a manager sends each to the next counter task"
  for _ in $(seq 1 8); do
    curl -fsS --max-time 5 "${app_url}api" | jq -r '"  answered by task \(.task_slot // "?") on node \(.node // "?") (container \(.hostname)), hit \(.hits // .count // "?")"'
  done
  lb_url=$(tf output -raw lb_url)
  if [ -n "$lb_url" ]; then
    say "six requests through the load balancer ($lb_url, a real HAProxy): it spreads them over the managers' fronts"
    for _ in $(seq 1 6); do
      curl -fsS --max-time 5 "${lb_url}api" | jq -r '"  answered by task \(.task_slot // "?") on node \(.node // "?") (container \(.hostname))"'
    done
  fi
  if [ "$(tf output -raw managers_cloud)" = digitalocean ]; then
    manager=$(tf output -json nodes | jq -r '.[0] | split(" ")[-2]')
    say "the cluster's firewall, a packet filter on each local host: what it admits"
    curl -fsS -H "Authorization: Bearer $token" "$url/v2/firewalls" |
      jq -r '.firewalls[] | "  \(.name) on tag \(.tags | join(",")):", (.inbound_rules[] | "    \(.protocol) \(.ports) from \([.sources.addresses[]?, (.sources.tags[]? | "the cluster")] | join(" "))")'
    for port in 2376 2377; do
      if timeout 3 bash -c "exec 3<>/dev/tcp/$manager/$port" 2>/dev/null; then state=admitted; else state="dropped (no answer in 3 s)"; fi
      printf '  this machine -> %s:%s: %s\n' "$manager" "$port" "$state"
    done
    read -r _ holder_name <<<"$(holder "$(tf output -raw ip_address)")"
    printf '\nThe floating IP is on %s. Fail that manager as hardware fails and watch the IP move to another one, requests counted: make demo-failover\n' "$holder_name"
  fi
  printf 'Scale the workers: terraform -chdir=examples/local apply -var workers=3\n  (with TF_CLI_CONFIG_FILE=bin/dev.tfrc DIGITALOCEAN_API_URL=%s DIGITALOCEAN_TOKEN=$(cat %s))\n' "$url" "${token_file#"$root"/}"
  printf 'Roll the managers to another size, one at a time, while the app keeps answering through the floating IP and the load balancer: make demo-roll\n'
  printf '  (that is: terraform -chdir=examples/local apply -var manager_size=medium, with requests counted throughout)\n'
  printf 'Move the whole cluster to AWS (also served by localcloud), host by host, while the app keeps answering: make demo-migrate\n'
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
  lb_url=$(tf output -raw lb_url 2>/dev/null || true)
  say "rolling the managers from $current to $next under load: 10 requests/s through $app_url${lb_url:+ and 10/s through the load balancer $lb_url} during the apply"
  counts=$(mktemp)
  trap 'touch "$counts.stop"; wait; rm -f "$counts" "$counts.lb" "$counts.stop" "$counts.plan"' EXIT
  # count URL FILE: requests URL 10 times a second until stopped, counting
  # into FILE what answered and what failed.
  count() {
    local ok=0 failed=0
    while [ ! -e "$counts.stop" ]; do
      if curl -fsS --max-time 2 -o /dev/null "$1"; then ok=$((ok + 1)); else failed=$((failed + 1)); fi
      echo "$ok $failed" >"$2"
      sleep 0.1
    done
  }
  count "${app_url}api" "$counts" &
  loader=$!
  lb_loader=
  if [ -n "$lb_url" ]; then
    count "${lb_url}api" "$counts.lb" &
    lb_loader=$!
  fi
  tf plan -input=false -var manager_size="$next" -out "$counts.plan" >/dev/null
  tf show -json "$counts.plan" | jq -r '.resource_changes[] | select(.address == "haddock_swarm_cluster.demo") | .change.after.rollout[]? | "  will replace \(.name): \(.changes | join(", "))"'
  tf apply -auto-approve -input=false "$counts.plan"
  # Later applies of yours (and make demo-migrate) keep the new size.
  sed -i -E '/^manager_size/d' "$tfvars"
  printf 'manager_size   = "%s"\n' "$next" >>"$tfvars"
  touch "$counts.stop"
  wait "$loader" $lb_loader
  read -r ok failed <"$counts"
  say "during the rollout, through the floating IP: $ok requests answered, $failed failed"
  if [ -n "$lb_loader" ]; then
    read -r ok failed <"$counts.lb"
    say "during the rollout, through the load balancer: $ok requests answered, $failed failed"
  fi
  rm -f "$counts" "$counts.lb" "$counts.stop" "$counts.plan"
  tf output nodes
  ;;
migrate)
  # Move the cluster to the other vendor by changing cloud: the workers
  # first, then the managers, each an in-place apply that replaces hosts one
  # at a time. A client requests the app 10 times a second on the managers'
  # addresses as localcloud lists them now (both vendors), trying another
  # manager when one refuses, as a client with several addresses does; both
  # the first attempts that failed and the requests that failed after the
  # retry are counted.
  start_localcloud
  from=$(tf output -raw managers_cloud 2>/dev/null || echo digitalocean)
  to=aws
  [ "$from" = aws ] && to=digitalocean
  counts=$(mktemp)
  addrs=$counts.addrs
  : >"$addrs"
  # However the script ends, the load and the lister stop.
  trap 'touch "$counts.stop"; wait; rm -f "$counts" "$counts.stop" "$counts.plan" "$addrs" "$addrs.new"' EXIT
  ( while [ ! -e "$counts.stop" ]; do
      curl -fsS -H "Authorization: Bearer $token" "$url/_localcloud/hosts" |
        jq -r '.hosts[] | select(.name | startswith("demo-manager-")) | select(.status == "running" and .address != null) | .address' >"$addrs.new" 2>/dev/null &&
        mv "$addrs.new" "$addrs"
      sleep 0.5
    done ) &
  lister=$!
  ( ok=0; first_failed=0; failed=0; n=0
    while [ ! -e "$counts.stop" ]; do
      mapfile -t a <"$addrs" 2>/dev/null || a=()
      if [ ${#a[@]} -gt 0 ]; then
        n=$((n + 1))
        one=${a[$((n % ${#a[@]}))]}
        other=${a[$(((n + 1) % ${#a[@]}))]}
        if curl -fs --connect-timeout 1 --max-time 2 -o /dev/null "http://$one/api"; then ok=$((ok + 1))
        else
          first_failed=$((first_failed + 1))
          if curl -fs --connect-timeout 1 --max-time 2 -o /dev/null "http://$other/api"; then ok=$((ok + 1)); else failed=$((failed + 1)); fi
        fi
        echo "$ok $first_failed $failed" >"$counts"
      fi
      sleep 0.1
    done ) &
  loader=$!
  sleep 2
  for step in workers managers; do
    if [ "$step" = workers ]; then vars=(-var workers_cloud="$to" -var managers_cloud="$from"); else vars=(-var workers_cloud="$to" -var managers_cloud="$to"); fi
    say "moving the $step from $from to $to under load (terraform apply ${vars[*]})"
    tf plan -input=false "${vars[@]}" -out "$counts.plan" >/dev/null
    tf show -json "$counts.plan" | jq -r '.resource_changes[] | select(.change.after.rollout != null and .change.after.rollout != .change.before.rollout) | .address as $a | .change.after.rollout[]? | "  \($a): will replace \(.name): \(.changes | join(", "))"'
    t0=$(date +%s)
    tf apply -auto-approve -input=false "$counts.plan"
    read -r ok first_failed failed <"$counts" || true
    printf '  moved in %s s; so far %s requests answered, %s first attempts failed, %s failed after trying another manager\n' "$(($(date +%s) - t0))" "${ok:-0}" "${first_failed:-0}" "${failed:-0}"
  done
  touch "$counts.stop"
  wait "$loader" "$lister"
  read -r ok first_failed failed <"$counts" || true
  say "during the migration: ${ok:-0} requests answered, ${first_failed:-0} first attempts failed, ${failed:-0} failed after trying another manager"
  # Later applies of yours keep the cluster where it is now.
  sed -i -E '/^(managers|workers)_cloud/d' "$tfvars"
  printf 'managers_cloud = "%s"\nworkers_cloud  = "%s"\n' "$to" "$to" >>"$tfvars"
  tf output nodes
  tf output url
  say "terraform plan: nothing left to move"
  tf plan -input=false -no-color 2>&1 | grep -E '^  # |^Plan:|^No changes|^Changes to Outputs' || true
  printf '  (on AWS a manager holding the Elastic IP reports it as its public address: only the nodes output changes)\n'
  ;;
failover)
  # Fail the manager holding the floating IP as hardware fails (no clean
  # shutdown), with a client requesting the app through the IP 10 times a
  # second, and measure how long until it answers again: the failover agent
  # moves the IP, not Terraform. Then power the manager on again.
  start_localcloud
  if [ "$(tf output -raw managers_cloud)" != digitalocean ]; then
    echo "make demo-failover drives the DigitalOcean API; the managers are on $(tf output -raw managers_cloud): move them back first (make demo-migrate)" >&2
    exit 1
  fi
  app_url=$(tf output -raw url)
  ip=$(tf output -raw ip_address)
  read -r failed_id failed_name <<<"$(holder "$ip")"
  log=$(mktemp)
  trap 'touch "$log.stop"; wait; rm -f "$log" "$log.stop"' EXIT
  ( while [ ! -e "$log.stop" ]; do
      t=$(date +%s.%N)
      if curl -fs --max-time 1 -o /dev/null "${app_url}api"; then echo "$t ok"; else echo "$t failed"; fi >>"$log"
      sleep 0.1
    done ) &
  loader=$!
  sleep 3
  say "failing $failed_name (droplet $failed_id), which holds $ip: its machine stops at once"
  t_fail=$(date +%s.%N)
  curl -fsS -X POST -H "Authorization: Bearer $token" "$url/_localcloud/hosts/$failed_id/fail" >/dev/null
  recovered=""
  for _ in $(seq 1 600); do
    # The first answer after the failure that follows a failed request.
    recovered=$(awk -v t0="$t_fail" '$1 >= t0 && $2 == "failed" {f=1} f && $2 == "ok" {print $1; exit}' "$log")
    [ -n "$recovered" ] && break
    sleep 0.1
  done
  sleep 5
  touch "$log.stop"
  wait "$loader"
  read -r now_id now_name <<<"$(holder "$ip")"
  ok=$(grep -c ' ok$' "$log" || true)
  failed=$(grep -c ' failed$' "$log" || true)
  rm -f "$log" "$log.stop"
  if [ -z "$recovered" ]; then
    say "the app did not answer again through $ip within 60 s ($ok answered, $failed failed); the IP is on $now_name"
    exit 1
  fi
  say "the IP moved to $now_name (droplet $now_id); the app answered again $(awk -v a="$t_fail" -v b="$recovered" 'BEGIN{printf "%.1f", b-a}') s after the failure"
  printf '  requests through the IP: %s answered, %s failed (all within that window)\n' "$ok" "$failed"
  say "powering $failed_name on again: it rejoins the swarm"
  curl -fsS -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d '{"type":"power_on"}' "$url/v2/droplets/$failed_id/actions" >/dev/null
  for _ in $(seq 1 60); do
    tf apply -refresh-only -auto-approve -input=false >/dev/null
    tf output -json nodes | jq -e --arg n "$failed_name" 'map(select(startswith($n + " "))) | all(endswith(" ready"))' >/dev/null && break
    sleep 2
  done
  tf output nodes
  say "terraform plan: the agent's move is not drift"
  plan_out=$(mktemp)
  set +e
  tf plan -input=false -no-color -detailed-exitcode >"$plan_out" 2>&1
  plan_rc=$?
  set -e
  grep -E '^  # |^Plan:|^Changes to Outputs' "$plan_out" || true
  case $plan_rc in
  0) printf '  no changes to apply (what moved is recorded on refresh)\n' ;;
  2) printf '  the plan has changes (above)\n' ;;
  *) cat "$plan_out" >&2 ;;
  esac
  rm -f "$plan_out"
  ;;
down)
  if running || answering; then
    start_localcloud
    say "terraform destroy examples/local"
    [ -f "$tfvars" ] || write_tfvars "$image" "$registry/haddock-agent:demo"
    tf destroy -auto-approve -input=false
  fi
  stop_localcloud
  if [ -d "$hosts_dir" ]; then
    say "removing every local host, the bridge and the rules"
    "$root/bin/localcloud" down -state-dir "$hosts_dir"
  fi
  rm -f examples/local/terraform.tfstate examples/local/terraform.tfstate.backup "$tfvars"
  ;;
*)
  echo "usage: $0 up|roll|migrate|failover|down" >&2
  exit 2
  ;;
esac
