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
