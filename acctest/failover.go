package acctest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	swarmtypes "github.com/docker/docker/api/types/swarm"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
	"github.com/haddockhq/terraform-provider-haddock/internal/failover"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/localcloudtest"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netnsbackend"
)

// What a failover agent needs on a real cloud's hosts that real clouds give
// it and localcloud does not: the cloud's API reachable from inside the
// hosts (localcloud listens on loopback), and each engine's socket at one
// path (every localcloud host's dockerd has its own socket path on the one
// machine). Both stay here, in the harness: the provider deploys the agent
// as it would on DigitalOcean.

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
	if _, err := failover.PushImage(context.Background(), root, ref, true); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return ref
}

// ServeAPIOnBridge serves the cloud's API on the bridge's address as well
// (a reverse proxy, closed when t ends), where the hosts' containers reach
// the machine, and returns its base URL. A provider configured with it
// hands the failover agent an endpoint the agent can reach.
func (rc *RealCloud) ServeAPIOnBridge(t testing.TB) string {
	t.Helper()
	gw, _, err := net.SplitHostPort(rc.Registry)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(gw, "0"))
	if err != nil {
		t.Fatal(err)
	}
	target, err := url.Parse(rc.URL)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: httputil.NewSingleHostReverseProxy(target), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// ProviderConfigAt is ProviderConfig with another API endpoint (one from
// ServeAPIOnBridge: plain HTTP to the bridge's address, so insecure_http)
// and extra top-level provider attributes.
func (rc *RealCloud) ProviderConfigAt(apiURL, extra string) string {
	return fmt.Sprintf(`
provider "haddock" {
  insecure_http = true%[3]s
  digitalocean {
    api_endpoint  = %[1]q
    token         = %[2]q
    poll_interval = 0.2
  }
}
`, apiURL, Token, extra)
}

// SocketTemplate is the bind-mount source LinkSockets makes work on every
// host: swarm expands {{.Node.Hostname}} (the droplet's name) per node.
func (rc *RealCloud) SocketTemplate() string {
	return rc.socketDir() + "/{{.Node.Hostname}}.sock"
}

func (rc *RealCloud) socketDir() string { return filepath.Join(os.TempDir(), rc.bridge+"-sock") }

// LinkSockets makes <socket dir>/<droplet name>.sock point at each host's
// dockerd socket, for every host the cloud has now; removed when t ends.
func (rc *RealCloud) LinkSockets(t testing.TB) {
	t.Helper()
	hosts, err := rc.Driver.ListHosts(context.Background(), cloud.ManagedTag)
	if err != nil {
		t.Fatal(err)
	}
	dir := rc.socketDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	for _, h := range hosts {
		id, err := strconv.Atoi(h.ID)
		if err != nil {
			t.Fatal(err)
		}
		nh, err := rc.backend.Manager().Get(netnsbackend.HostID(id))
		if err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dir, h.Name+".sock")
		_ = os.Remove(link)
		if err := os.Symlink(nh.DockerSocket, link); err != nil {
			t.Fatal(err)
		}
	}
}

// PointAgentAt makes the failover agent's service (failover.ServiceName)
// bind-mount socket as the engine's socket: what the provider deploys
// mounts /var/run/docker.sock, which on localcloud is no host's engine.
func PointAgentAt(ctx context.Context, d DockerAttr, socket string) error {
	cli, err := d.Client(d.Endpoint, d.ServerName)
	if err != nil {
		return err
	}
	defer func() { _ = cli.Close() }()
	s, _, err := cli.ServiceInspectWithRaw(ctx, failover.ServiceName, swarmtypes.ServiceInspectOptions{})
	if err != nil {
		return fmt.Errorf("reading the agent's service: %w", err)
	}
	spec := s.Spec
	for i, m := range spec.TaskTemplate.ContainerSpec.Mounts {
		if m.Target == failover.DockerSocket {
			spec.TaskTemplate.ContainerSpec.Mounts[i].Source = socket
		}
	}
	if _, err := cli.ServiceUpdate(ctx, s.ID, s.Version, spec, swarmtypes.ServiceUpdateOptions{}); err != nil {
		return fmt.Errorf("updating the agent's service: %w", err)
	}
	return nil
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
