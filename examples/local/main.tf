# The demo: run by `make demo` against Haddock's local cloud, no account needed.
# The provider reads DIGITALOCEAN_API_URL and DIGITALOCEAN_TOKEN, which
# scripts/demo.sh points at the local cloud it starts.

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

resource "haddock_host" "node" {
  count  = var.hosts
  cloud  = "digitalocean"
  name   = "demo-${count.index + 1}"
  region = "eu-central"
  size   = "small"
  image  = "debian-12"
  tags   = ["demo"]
}

data "haddock_catalog" "do" {
  cloud = "digitalocean"
}

output "hosts" {
  description = "Each host: its id, public address and the vendor values the portable ones became."
  value = {
    for h in haddock_host.node : h.name => {
      id      = h.id
      address = h.ipv4_address
      private = h.ipv4_address_private
      status  = h.status
      vendor  = "${h.vendor_region} / ${h.vendor_size} / ${h.vendor_image}"
    }
  }
}

output "portable_sizes" {
  value = { for s in data.haddock_catalog.do.sizes : s.name => s.vendor["digitalocean"] }
}
