package swarm

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/docker/docker/api/types/swarm"
)

// PublishedPort is a port a service publishes on the nodes, in host mode
// or through the routing mesh: what a firewall in front of the nodes must
// let in for the service to be reached.
type PublishedPort struct {
	Protocol string // tcp, udp or sctp
	Port     uint32
	Service  string // a service publishing it (the first by name)
}

// PublishedPorts lists the ports the swarm's services publish, one entry
// per protocol and port. It asks the service specs (and the endpoints,
// which hold the ports the swarm assigned to specs that named none).
func (c *Client) PublishedPorts(ctx context.Context) ([]PublishedPort, error) {
	api, err := c.swarm()
	if err != nil {
		return nil, err
	}
	services, err := api.ServiceList(ctx, swarm.ServiceListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing services through %s: %w", c.identity, err)
	}
	return publishedPorts(services), nil
}

func publishedPorts(services []swarm.Service) []PublishedPort {
	slices.SortFunc(services, func(a, b swarm.Service) int { return cmp.Compare(a.Spec.Name, b.Spec.Name) })
	seen := map[string]bool{}
	var out []PublishedPort
	add := func(p swarm.PortConfig, svc string) {
		if p.PublishedPort == 0 {
			return
		}
		proto := string(p.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		key := fmt.Sprintf("%s/%d", proto, p.PublishedPort)
		if seen[key] {
			return
		}
		seen[key] = true
		out = append(out, PublishedPort{Protocol: proto, Port: p.PublishedPort, Service: svc})
	}
	for _, s := range services {
		if s.Spec.EndpointSpec != nil {
			for _, p := range s.Spec.EndpointSpec.Ports {
				add(p, s.Spec.Name)
			}
		}
		for _, p := range s.Endpoint.Ports {
			add(p, s.Spec.Name)
		}
	}
	slices.SortFunc(out, func(a, b PublishedPort) int {
		return cmp.Or(cmp.Compare(a.Protocol, b.Protocol), cmp.Compare(a.Port, b.Port))
	})
	return out
}
