package acctest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	swarmtypes "github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
	"github.com/haddockhq/terraform-provider-haddock/internal/testimage"
)

// DockerAttr is a haddock_host's docker attribute read from the state.
type DockerAttr struct {
	Endpoint, ServerName, CA, Cert, Key string
}

// HostDocker reads the docker attribute of the resource at addr.
func HostDocker(s *terraform.State, addr string) (DockerAttr, error) {
	rs, ok := s.RootModule().Resources[addr]
	if !ok {
		return DockerAttr{}, fmt.Errorf("%s not in state", addr)
	}
	a := rs.Primary.Attributes
	d := DockerAttr{Endpoint: a["docker.endpoint"], ServerName: a["docker.server_name"], CA: a["docker.ca_pem"], Cert: a["docker.cert_pem"], Key: a["docker.key_pem"]}
	if d.Endpoint == "" || d.CA == "" || d.Key == "" {
		return d, fmt.Errorf("%s has no docker attribute", addr)
	}
	return d, nil
}

// Client is a Docker API client for the engine at host ("tcp://addr:2376",
// which may be another address than the attribute's endpoint, e.g. a
// floating IP), verifying the server as serverName under the attribute's CA.
func (d DockerAttr) Client(host, serverName string) (*client.Client, error) {
	tlsCfg, err := pki.ClientTLSConfig([]byte(d.CA), []byte(d.Cert), []byte(d.Key), serverName)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}, Timeout: 30 * time.Second}
	return client.NewClientWithOpts(client.WithHost(host), client.WithHTTPClient(hc), client.WithAPIVersionNegotiation())
}

// RunHTTPServer loads testimage.HTTPServer onto the engine and runs it with
// NAME=name, publishing 8080 on the host.
func RunHTTPServer(ctx context.Context, t *testing.T, cli *client.Client, name string) error {
	t.Helper()
	const tag = "haddock-acc-http:1"
	resp, err := cli.ImageLoad(ctx, bytes.NewReader(testimage.Build(t, tag, testimage.HTTPServer)), client.ImageLoadWithQuiet(true))
	if err != nil {
		return fmt.Errorf("loading the image: %w", err)
	}
	out, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if bytes.Contains(out, []byte(`"error`)) {
		return fmt.Errorf("loading the image: %s", out)
	}
	port := nat.Port("8080/tcp")
	c, err := cli.ContainerCreate(ctx,
		&container.Config{Image: tag, Env: []string{"NAME=" + name}, ExposedPorts: nat.PortSet{port: {}}},
		&container.HostConfig{PortBindings: nat.PortMap{port: {{HostPort: "8080"}}}},
		nil, nil, "http")
	if err != nil {
		return fmt.Errorf("creating the container: %w", err)
	}
	if err := cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		return fmt.Errorf("starting the container: %w", err)
	}
	return nil
}

// HTTPGet fetches url, retrying for up to ten seconds while the server
// comes up, and returns the body.
func HTTPGet(url string) (string, error) {
	hc := &http.Client{Timeout: 2 * time.Second}
	var last error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := hc.Get(url)
		if err != nil {
			last = err
			continue
		}
		b, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err == nil && resp.StatusCode == http.StatusOK {
			return string(b), nil
		}
		last = fmt.Errorf("GET %s: %s %s", url, resp.Status, b)
	}
	return "", last
}

// CreateService runs a replicated service of image on the swarm whose
// manager engine d is.
func CreateService(ctx context.Context, d DockerAttr, name, image string, replicas uint64) error {
	cli, err := d.Client(d.Endpoint, d.ServerName)
	if err != nil {
		return err
	}
	defer func() { _ = cli.Close() }()
	_, err = cli.ServiceCreate(ctx, swarmtypes.ServiceSpec{
		Annotations:  swarmtypes.Annotations{Name: name},
		TaskTemplate: swarmtypes.TaskSpec{ContainerSpec: &swarmtypes.ContainerSpec{Image: image}},
		Mode:         swarmtypes.ServiceMode{Replicated: &swarmtypes.ReplicatedService{Replicas: &replicas}},
	}, swarmtypes.ServiceCreateOptions{})
	return err
}

// RunningTasks counts the service's tasks running (and meant to run), by
// node id.
func RunningTasks(ctx context.Context, d DockerAttr, service string) (map[string]int, error) {
	cli, err := d.Client(d.Endpoint, d.ServerName)
	if err != nil {
		return nil, err
	}
	defer func() { _ = cli.Close() }()
	tasks, err := cli.TaskList(ctx, swarmtypes.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", service), filters.Arg("desired-state", "running"))})
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, t := range tasks {
		if t.Status.State == swarmtypes.TaskStateRunning {
			out[t.NodeID]++
		}
	}
	return out, nil
}

// WaitRunning waits until want tasks of the service run.
func WaitRunning(ctx context.Context, d DockerAttr, service string, want int, timeout time.Duration) (map[string]int, error) {
	deadline := time.Now().Add(timeout)
	for {
		byNode, err := RunningTasks(ctx, d, service)
		n := 0
		for _, c := range byNode {
			n += c
		}
		if err == nil && n == want {
			return byNode, nil
		}
		if time.Now().After(deadline) {
			return byNode, fmt.Errorf("service %s: %d of %d tasks running after %s (last error: %v)", service, n, want, timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// NamespaceFilter selects what a stack's label names.
func NamespaceFilter(ns string) filters.Args {
	return filters.NewArgs(filters.Arg("label", "com.docker.stack.namespace="+ns))
}

// StackNetworks counts the networks of a stack namespace.
func StackNetworks(ctx context.Context, cli *client.Client, ns string) (int, error) {
	nets, err := cli.NetworkList(ctx, network.ListOptions{Filters: NamespaceFilter(ns)})
	return len(nets), err
}
