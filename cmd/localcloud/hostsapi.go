package main

import (
	"context"
	"net"
	"net/url"
	"strconv"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	lcaws "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/aws"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netnsbackend"
)

// serveForHosts serves the DigitalOcean API, then the EC2 API when it has
// its own listener, on the bridge's gateway at the same ports as on
// loopback: a droplet reaches its vendor's API, and so must programs on
// localcloud's hosts (the failover agent moves floating IPs through it).
func serveForHosts(ctx context.Context, hosts *netnsbackend.Backend, srv *localcloud.Running) ([]*netnsbackend.HostsListener, error) {
	var out []*netnsbackend.HostsListener
	closeAll := func() {
		for _, l := range out {
			_ = l.Close()
		}
	}
	l, err := hosts.ServeOnGateway(ctx, srv.Server.Handler(), portOf(srv.URL))
	if err != nil {
		return nil, err
	}
	out = append(out, l)
	if u := srv.APIURLs[lcaws.Name]; u != "" {
		l, err := hosts.ServeOnGateway(ctx, srv.Server.APIHandler(lcaws.Name), portOf(u))
		if err != nil {
			closeAll()
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

func portOf(rawURL string) int {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0
	}
	_, p, _ := net.SplitHostPort(u.Host)
	n, _ := strconv.Atoi(p)
	return n
}
