# DigitalOcean: the database cluster's uuid.
terraform import haddock_database.orders digitalocean/9cc10173-e9ea-4176-9dbc-a4cee4c4ff30
# AWS: the DB instance identifier.
terraform import haddock_database.billing aws/billing
