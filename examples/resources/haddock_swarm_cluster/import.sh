# A swarm cluster is imported by its id (the swarm's id). Its credentials — the cluster
# CA's key and the client key — live only in Terraform state, no manager holds them, so
# import takes them from HADDOCK_IMPORT_CLUSTER_CREDENTIALS: the value of the cluster's
# credentials attribute, for example from an output of the state that created it
# (output "cluster_credentials" { value = haddock_swarm_cluster.prod.credentials, sensitive = true }).
HADDOCK_IMPORT_CLUSTER_CREDENTIALS="$(terraform output -raw cluster_credentials)" \
  terraform import haddock_swarm_cluster.prod 3x2kqz9wq8y6mbd1r0xj5yq7c
