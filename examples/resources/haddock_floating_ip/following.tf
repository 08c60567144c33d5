# The provider's own credentials go to the failover agent; the image is
# the one the managers pull (see failover_agent_image).
provider "haddock" {
  failover_agent_image = "registry.example.com/haddock-agent:1.0.0"
}

resource "haddock_swarm_cluster" "prod" {
  name             = "prod"
  heartbeat_period = "2s" # a failed manager is seen within 7.5 s
  managers = {
    count  = 3
    cloud  = "digitalocean"
    region = "eu-central"
    size   = "small"
    image  = "debian-12"
  }
}

# Kept on a Ready manager by the agent, without Terraform running.
resource "haddock_floating_ip" "public" {
  cloud               = "digitalocean"
  region              = "eu-central"
  cluster_id          = haddock_swarm_cluster.prod.id
  cluster_credentials = haddock_swarm_cluster.prod.client_credentials
}

output "manager_holding_the_address" {
  value = haddock_floating_ip.public.host_id
}
