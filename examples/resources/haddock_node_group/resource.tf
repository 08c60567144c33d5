resource "haddock_node_group" "web" {
  cluster_id          = haddock_swarm_cluster.prod.id
  cluster_credentials = haddock_swarm_cluster.prod.credentials

  name       = "web"
  node_count = 4 # change it to scale: new hosts join, removed ones are drained first
  cloud      = "digitalocean"
  region     = "eu-central"
  size       = "medium"
  image      = "debian-12"
  labels     = { tier = "web" }

  drain_timeout = "15m"
}

# Migrating to another vendor: add a group on AWS, then scale this one to 0.
# (Nodes advertise private addresses by default; across vendors set the
# cluster's advertise_address = "public" or connect the networks.)
