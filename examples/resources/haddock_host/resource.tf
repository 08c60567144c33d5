# Portable values: the same host on DigitalOcean or, with cloud = "aws", on EC2.
resource "haddock_host" "web" {
  cloud  = "digitalocean"
  name   = "web-1"
  region = "eu-central" # fra1 on DigitalOcean, eu-central-1 on AWS
  size   = "medium"     # s-2vcpu-4gb, t3.medium
  image  = "debian-12"
  tags   = ["web", "env:prod"]
}

# Or ask for resources and let Haddock pick the cheapest size in the region.
resource "haddock_host" "worker" {
  cloud     = "digitalocean"
  name      = "worker-1"
  region    = "nyc3" # vendor-native values are accepted too
  vcpus     = 2
  memory_gb = 2
  image     = "ubuntu-24.04"

  timeouts = {
    create = "15m"
  }
}

output "web_address" {
  value = haddock_host.web.ipv4_address
}
