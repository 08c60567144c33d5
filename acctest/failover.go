package acctest

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	swarmtypes "github.com/docker/docker/api/types/swarm"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
	"github.com/haddockhq/terraform-provider-haddock/internal/failover"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/localcloudtest"
)

// A failover agent on localcloud's hosts gets what a real cloud gives it:
// each host's engine at /var/run/docker.sock (package netns), and the
// cloud's API reachable from the hosts, here on the bridge's gateway
// (ServeAPIOnBridge, as `localcloud serve` does). The provider deploys the
// agent as it would on DigitalOcean.

// PushAgent builds the failover agent (cmd/haddock-agent) into an image
// without a Docker daemon and pushes it to the cloud's registry as
// haddock-agent:<tag>, returning the reference hosts pull.
func (rc *RealCloud) PushAgent(t testing.TB, tag string) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	ref := rc.Registry + "/haddock-agent:" + tag
	if _, err := failover.PushImage(context.Background(), root, ref, true, rc.PushAuth()); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return ref
}

// ServeAPIOnBridge serves the cloud's API on the bridge's gateway as well
// (closed when t ends), where programs on the hosts reach it, as `localcloud
// serve` does, and returns its base URL: the provider's agent_api_endpoint.
func (rc *RealCloud) ServeAPIOnBridge(t testing.TB) string {
	t.Helper()
	l, err := rc.backend.ServeOnGateway(context.Background(), rc.run.Server.Handler(), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l.URL
}

// ProviderConfigAgent is ProviderConfig with the failover agent's endpoint
// (from ServeAPIOnBridge) and extra top-level provider attributes.
func (rc *RealCloud) ProviderConfigAgent(agentURL, extra string) string {
	return fmt.Sprintf(`
provider "haddock" {%[4]s
  digitalocean {
    api_endpoint       = %[1]q
    agent_api_endpoint = %[2]q
    token              = %[3]q
    poll_interval      = 0.2
  }
}
`, rc.URL, agentURL, Token, extra)
}

// FailHost breaks the droplet as a hardware fault would (localcloud's
// POST /_localcloud/hosts/{id}/fail): its machine stops at once.
func (rc *RealCloud) FailHost(t testing.TB, dropletID int) {
	t.Helper()
	if _, err := rc.run.Server.FailHost(dropletID); err != nil {
		t.Fatalf("failing droplet %d: %v", dropletID, err)
	}
}

// PowerOn sends DigitalOcean's power_on action to the droplet: a failed
// one comes back.
func (rc *RealCloud) PowerOn(t testing.TB, dropletID int) {
	t.Helper()
	lc := &localcloudtest.Real{URL: rc.URL, Token: Token}
	if _, _, err := lc.Godo(t).DropletActions.PowerOn(context.Background(), dropletID); err != nil {
		t.Fatalf("powering droplet %d on: %v", dropletID, err)
	}
}

// ManagerDocker is d (the cluster's docker attribute: its CA and client
// certificate) pointed at another manager: the host with vendor id hostID,
// verified by the name its certificate carries.
func (rc *RealCloud) ManagerDocker(ctx context.Context, d DockerAttr, hostID string) (DockerAttr, error) {
	h, err := rc.Driver.GetHost(ctx, hostID)
	if err != nil {
		return d, err
	}
	d.Endpoint, d.ServerName = "tcp://"+net.JoinHostPort(h.PublicIPv4, "2376"), cluster.Identity(cluster.HostUID(*h))
	return d, nil
}

// NodeStatus is a swarm node as a manager sees it: "ready manager
// reachable", "down manager unreachable", "ready worker".
func NodeStatus(ctx context.Context, d DockerAttr) (map[string]string, error) {
	cli, err := d.Client(d.Endpoint, d.ServerName)
	if err != nil {
		return nil, err
	}
	defer func() { _ = cli.Close() }()
	nodes, err := cli.NodeList(ctx, swarmtypes.NodeListOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, n := range nodes {
		s := string(n.Status.State) + " " + string(n.Spec.Role)
		if n.ManagerStatus != nil {
			s += " " + string(n.ManagerStatus.Reachability)
		}
		out[n.Description.Hostname] = s
	}
	return out, nil
}

// AgentGone checks that the swarm runs no failover agent and keeps none of
// its secrets.
func AgentGone(ctx context.Context, d DockerAttr) error {
	cli, err := d.Client(d.Endpoint, d.ServerName)
	if err != nil {
		return err
	}
	defer func() { _ = cli.Close() }()
	if _, _, err := cli.ServiceInspectWithRaw(ctx, failover.ServiceName, swarmtypes.ServiceInspectOptions{}); err == nil {
		return fmt.Errorf("the failover agent's service %s is still there", failover.ServiceName)
	}
	secrets, err := cli.SecretList(ctx, swarmtypes.SecretListOptions{Filters: filters.NewArgs(filters.Arg("label", failover.LabelAgent))})
	if err != nil {
		return err
	}
	if len(secrets) > 0 {
		return fmt.Errorf("%d secrets of the failover agent are still there (%s)", len(secrets), secrets[0].Spec.Name)
	}
	return nil
}

// FloatingIPHolder is the vendor id of the host holding the floating IP
// ("" for none).
func (rc *RealCloud) FloatingIPHolder(ctx context.Context, id string) (string, error) {
	f, ok := rc.Driver.(cloud.FloatingIPs)
	if !ok {
		return "", fmt.Errorf("the %s driver has no floating IPs", rc.Driver.Cloud())
	}
	ip, err := f.GetFloatingIP(ctx, id)
	if err != nil {
		return "", err
	}
	return ip.HostID, nil
}

// HeartbeatPeriod reads the swarm's Dispatcher.HeartbeatPeriod.
func HeartbeatPeriod(ctx context.Context, d DockerAttr) (time.Duration, error) {
	cli, err := d.Client(d.Endpoint, d.ServerName)
	if err != nil {
		return 0, err
	}
	defer func() { _ = cli.Close() }()
	sw, err := cli.SwarmInspect(ctx)
	if err != nil {
		return 0, err
	}
	return sw.Spec.Dispatcher.HeartbeatPeriod, nil
}
