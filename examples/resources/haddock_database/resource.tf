# A PostgreSQL database that only the web node group's hosts reach.
resource "haddock_database" "orders" {
  cloud           = "digitalocean"
  name            = "orders"
  region          = "eu-central"
  engine          = "postgres"
  version         = "15"
  size            = "small"
  trusted_sources = [haddock_node_group.web.host_tag]
}

# On AWS the admin password can be set write-only: it is never in the
# plan or the state. Bump the version to apply a new one.
resource "haddock_database" "billing" {
  cloud                     = "aws"
  name                      = "billing"
  region                    = "eu-central"
  engine                    = "postgres"
  size                      = "medium"
  node_count                = 2 # Multi-AZ
  storage_gib               = 50
  admin_password_wo         = var.billing_db_password
  admin_password_wo_version = 1
  trusted_sources           = ["10.0.0.0/16"]
}
