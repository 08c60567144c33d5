# The connection, password included, for this run only: never stored.
ephemeral "haddock_database_credentials" "orders" {
  database_id = haddock_database.orders.id
}

# For example, a provider that needs the password to configure the
# database's own roles:
provider "postgresql" {
  host     = ephemeral.haddock_database_credentials.orders.host
  port     = ephemeral.haddock_database_credentials.orders.port
  username = ephemeral.haddock_database_credentials.orders.user
  password = ephemeral.haddock_database_credentials.orders.password
  sslmode  = "require"
}
