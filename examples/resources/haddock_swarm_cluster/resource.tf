resource "haddock_swarm_cluster" "prod" {
  name = "prod"

  managers = {
    count  = 3 # 1, 3, 5 or 7: 3 managers survive the loss of one
    cloud  = "digitalocean"
    region = "eu-central"
    size   = "medium"
    image  = "debian-12"
    labels = { role = "control" }
  }

  default_address_pool       = ["10.20.0.0/16"]
  subnet_size                = 24
  encrypt_overlay_by_default = true
  task_history_limit         = 3
}

# The leader's engine, for tools that speak the Docker API over mutual TLS.
output "docker_endpoint" {
  value = haddock_swarm_cluster.prod.docker.endpoint
}
