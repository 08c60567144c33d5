# A stack is imported by <cluster_id>/<stack name>; the next apply reads it with the
# configuration's cluster_credentials.
terraform import haddock_stack.app 3x2kqz9wq8y6mbd1r0xj5yq7c/app
