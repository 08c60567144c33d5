resource "haddock_stack" "app" {
  cluster_id          = haddock_swarm_cluster.prod.id
  cluster_credentials = haddock_swarm_cluster.prod.client_credentials
  name                = "app"

  compose = file("${path.module}/compose.yaml")
  env     = { IMAGE_TAG = var.tag }
  # Files the compose file names (configs and secrets); nothing is read from disk.
  files = {
    "nginx.conf"  = file("${path.module}/nginx.conf")
    "db_password" = var.db_password
  }
  prune = true
}

variable "tag" {
  type = string
}

variable "db_password" {
  type      = string
  sensitive = true
}

output "services" {
  value = haddock_stack.app.services
}
