# A node group is imported by <cluster_id>/<group name>; the next apply reads its hosts
# with the cluster_credentials of the configuration (hosts already in the group are kept).
terraform import haddock_node_group.web 3x2kqz9wq8y6mbd1r0xj5yq7c/web
