# The demo, run by `make demo` against Haddock's local cloud: no account needed.
# Every host is real (a network namespace running its own Docker Engine), and
# so is everything on it: a 3-manager swarm, 2 workers, a stack running the
# counter app from localcloud's registry, and a floating IP that follows the
# managers: when the manager holding it fails, an agent on the managers moves
# it to another one within seconds, without Terraform (`make demo-failover`).
# A load balancer (a real HAProxy on the local cloud) spreads requests over the
# managers' front: the managers register themselves once ready and leave it,
# the leave waited for, before they are drained, so rolling them fails no
# request through it (`make demo-roll`).
# The whole cluster moves to AWS by changing `cloud`, host by host, while the
# app keeps answering (`make demo-migrate`: workers_cloud, then managers_cloud).
# The provider reads DIGITALOCEAN_API_URL and DIGITALOCEAN_TOKEN, and the AWS
# SDK's AWS_ENDPOINT_URL_EC2, AWS_REGION, AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY, which scripts/demo.sh points at the local cloud's two
# APIs; it writes the images and the agent's endpoints into demo.auto.tfvars.

terraform {
  required_providers {
    haddock = {
      source = "haddockhq/haddock"
    }
  }
}

provider "haddock" {
  failover_agent_image = var.agent_image
  digitalocean {
    agent_api_endpoint = var.agent_api_endpoint
  }
  aws {
    agent_ec2_endpoint = var.agent_ec2_endpoint
  }
}

variable "image" {
  description = "The counter app's image in localcloud's registry (scripts/demo.sh builds and pushes it)."
  type        = string
}

variable "agent_image" {
  description = "The failover agent's image in localcloud's registry (scripts/demo.sh builds and pushes it from cmd/haddock-agent)."
  type        = string
}

variable "agent_api_endpoint" {
  description = "localcloud's API as the managers reach it, on the hosts' bridge (`localcloud serve` prints it): the failover agent calls it to move the IP."
  type        = string
}

variable "agent_ec2_endpoint" {
  description = "localcloud's EC2 API as the managers reach it, on the hosts' bridge: the failover agent calls it once the managers are on AWS."
  type        = string
  default     = null
}

variable "managers_cloud" {
  description = "The managers' vendor. Change it and apply again: the managers move one at a time, quorum kept, the leader last (`make demo-migrate`)."
  type        = string
  default     = "digitalocean"
}

variable "workers_cloud" {
  description = "The workers' vendor. Change it and apply again: the workers move one at a time, each drained after its replacement runs."
  type        = string
  default     = "digitalocean"
}

variable "manager_size" {
  description = "The managers' size. Change it and apply again: the managers are replaced one at a time while the app keeps answering (`make demo-roll`)."
  type        = string
  default     = "small"
}

variable "operator_cidrs" {
  description = "Where Terraform and your operators reach the hosts' Docker API from: the cluster's firewall admits no one else there. On the local cloud, the machine itself (the hosts' gateway)."
  type        = list(string)
  default     = ["10.213.0.1/32"]
}

variable "workers" {
  description = "How many workers. Change it and apply again to scale."
  type        = number
  default     = 2
}

resource "haddock_swarm_cluster" "demo" {
  name = "demo"
  # How often nodes heartbeat the leader: a silent manager is marked down
  # after about 3 periods, so 2s lets the IP move within ~10s of a failure
  # (Docker's default 5s: ~20s), for a little more leader traffic.
  heartbeat_period = "2s"
  # Nodes advertise their public addresses, so that the swarm can span
  # vendors while it moves between them: private addresses do not route from
  # one vendor to another.
  advertise_address = "public"
  # Locked down: the hosts admit Swarm's ports from the cluster's own hosts,
  # the Docker API from operator_cidrs, the ports the stack publishes from
  # anywhere, and nothing else (a packet filter on each local host; a cloud
  # firewall or security group at the vendors).
  firewall = {
    docker_api_allowed_cidrs = var.operator_cidrs
    ssh_allowed_cidrs        = var.operator_cidrs
  }
  managers = {
    count  = 3
    cloud  = var.managers_cloud
    region = "eu-central"
    size   = var.manager_size
    image  = "debian-12"
    # The managers are the load balancer's targets: membership belongs to
    # them, not to the load balancer.
    load_balancer_ids = haddock_load_balancer.front[*].id
  }
}

# The load balancer in front of the managers. A load balancer takes hosts of
# its own vendor only, and the local cloud's AWS API serves no ELBv2: it
# exists while the managers are on DigitalOcean (make demo-migrate takes the
# managers out of it, host by host, then deletes it).
resource "haddock_load_balancer" "front" {
  count  = var.managers_cloud == "digitalocean" ? 1 : 0
  cloud  = "digitalocean"
  name   = "demo-front"
  region = "eu-central"
  forwarding_rules = [{
    entry_protocol  = "http"
    entry_port      = 80
    target_protocol = "http"
    target_port     = 80
  }]
  health_check = {
    port                     = 80
    path                     = "/healthz"
    check_interval_seconds   = 3
    response_timeout_seconds = 3
    healthy_threshold        = 2
    unhealthy_threshold      = 2
  }
}

resource "haddock_node_group" "workers" {
  cluster_id          = haddock_swarm_cluster.demo.id
  cluster_credentials = haddock_swarm_cluster.demo.credentials
  name                = "workers"
  node_count          = var.workers
  cloud               = var.workers_cloud
  region              = "eu-central"
  size                = "small"
  image               = "debian-12"
  labels              = { tier = "app" }
}

# This kernel has no IPVS, so the swarm's routing mesh does not work here:
# the front is published in host mode on every manager and sends each request
# to the next counter task over the overlay network (DNS tasks.web).
resource "haddock_stack" "counter" {
  cluster_id          = haddock_swarm_cluster.demo.id
  cluster_credentials = haddock_swarm_cluster.demo.client_credentials
  name                = "counter"
  env                 = { IMAGE = var.image }
  compose             = file("${path.module}/compose.yaml")
  depends_on          = [haddock_node_group.workers]
}

# The front door: kept on a Ready manager by the failover agent the provider
# deploys on the managers. host_id is whichever manager holds it now. A
# floating IP belongs to one vendor and cannot point at another's hosts, so
# it is on the managers' vendor: when they move, it is replaced by one there
# (a new address). One floating IP follows a cluster's managers at a time, so
# the old one goes first.
resource "haddock_floating_ip" "public" {
  cloud               = var.managers_cloud
  region              = "eu-central"
  cluster_id          = haddock_swarm_cluster.demo.id
  cluster_credentials = haddock_swarm_cluster.demo.client_credentials
}

output "url" {
  description = "The app, through the floating IP."
  value       = "http://${haddock_floating_ip.public.ip_address}/"
}

output "lb_url" {
  description = "The app, through the load balancer (none once the managers are on AWS)."
  value       = length(haddock_load_balancer.front) > 0 ? "http://${haddock_load_balancer.front[0].address}/" : ""
}

output "ip_address" {
  description = "The floating IP."
  value       = haddock_floating_ip.public.ip_address
}

output "nodes" {
  description = "The swarm: managers and workers with their addresses and state."
  value = concat(
    [for n in haddock_swarm_cluster.demo.nodes : "${n.name} ${n.role}${n.leader ? " (leader)" : ""} ${split("/", n.host_id)[0]} ${n.ipv4_address} ${n.state}"],
    [for n in haddock_node_group.workers.nodes : "${n.name} ${n.role} ${split("/", n.host_id)[0]} ${n.ipv4_address} ${n.state}"],
  )
}

output "managers_cloud" {
  description = "The managers' vendor, for `make demo-migrate`."
  value       = var.managers_cloud
}

output "manager_size" {
  description = "The managers' size, for `make demo-roll`."
  value       = var.manager_size
}

output "services" {
  value = [for s in haddock_stack.counter.services : "${s.name}: ${s.replicas_running}/${s.replicas_desired} running ${join(", ", s.published_ports)}"]
}
