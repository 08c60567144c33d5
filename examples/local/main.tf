# The demo: run by `make demo` against Haddock's local cloud, no account needed.
# Each host is real: a network namespace running its own Docker Engine,
# reached over mutual TLS. The provider reads DIGITALOCEAN_API_URL and
# DIGITALOCEAN_TOKEN, which scripts/demo.sh points at the local cloud.

terraform {
  required_providers {
    haddock = {
      source = "haddockhq/haddock"
    }
  }
}

provider "haddock" {}

variable "hosts" {
  description = "How many hosts to run."
  type        = number
  default     = 3
}

variable "active" {
  description = "Which host (index) holds the floating IP. Change it and apply again to move the address."
  type        = number
  default     = 0
}

resource "haddock_host" "node" {
  count  = var.hosts
  cloud  = "digitalocean"
  name   = "demo-${count.index + 1}"
  region = "eu-central"
  size   = "small"
  image  = "debian-12"
  tags   = ["demo"]
}

resource "haddock_floating_ip" "public" {
  cloud   = "digitalocean"
  region  = "eu-central"
  host_id = haddock_host.node[var.active].id
}

output "hosts" {
  description = "Each host: its id, address, Docker endpoint and the vendor values the portable ones became."
  value = {
    for h in haddock_host.node : h.name => {
      id          = h.id
      address     = h.ipv4_address
      docker      = h.docker.endpoint
      server_name = h.docker.server_name
      vendor      = "${h.vendor_region} / ${h.vendor_size} / ${h.vendor_image}"
    }
  }
}

output "floating_ip" {
  description = "The address that moves: it is on the host named here."
  value = {
    address = haddock_floating_ip.public.ip_address
    host    = haddock_host.node[var.active].name
  }
}

# The holder's engine credentials, for scripts/demo.sh to call the Docker API
# through the floating IP (sensitive: the client key).
output "holder_docker" {
  value     = haddock_host.node[var.active].docker
  sensitive = true
}
