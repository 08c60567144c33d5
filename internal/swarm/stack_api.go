package swarm

// The Docker SDK client behind a Client, for internal/stack, which deploys
// compose files with the docker CLI's own conversion code and so needs the
// SDK's types (services, networks, configs, secrets, tasks). Everything else
// keeps using Client's methods and Haddock's types.

import "github.com/docker/docker/client"

// DockerAPI returns the Docker SDK client behind c: the same connection,
// mutual TLS verified by the CA and the host's identity. It returns nil when
// c was built around a test double rather than by Connect.
func (c *Client) DockerAPI() client.APIClient {
	api, _ := c.api.(client.APIClient)
	return api
}
