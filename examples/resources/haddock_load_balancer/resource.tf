# An HTTP load balancer in front of a node group's counter service,
# published on each host in host mode (mode: host, port 8080).
resource "haddock_load_balancer" "web" {
  cloud  = "digitalocean"
  name   = "web"
  region = "eu-central"

  forwarding_rules = [{
    entry_protocol  = "http"
    entry_port      = 80
    target_protocol = "http"
    target_port     = 8080
  }]

  health_check = {
    port                     = 8080
    path                     = "/healthz"
    check_interval_seconds   = 3
    response_timeout_seconds = 3
    healthy_threshold        = 2
    unhealthy_threshold      = 2
  }
}

# The group owns its membership: hosts join once ready, and leave (the
# leave waited for) before they are drained.
resource "haddock_node_group" "web" {
  cluster_id          = haddock_swarm_cluster.prod.id
  cluster_credentials = haddock_swarm_cluster.prod.credentials
  name                = "web"
  node_count          = 3
  cloud               = "digitalocean"
  region              = "eu-central"
  size                = "small"
  image               = "debian-12"
  load_balancer_ids   = [haddock_load_balancer.web.id]
}
