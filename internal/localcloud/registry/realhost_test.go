package registry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"github.com/docker/docker/api/types/container"
	dimage "github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloudinit"
	"github.com/haddockhq/terraform-provider-haddock/internal/image"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/localcloudtest"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/registry"
	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
	"github.com/haddockhq/terraform-provider-haddock/internal/testenv"
)

// The real-host test's own network and state directory, apart from the
// others' (netns hdkt1-4, netnsbackend hdkt5, cmd/localcloud hdkt6,
// cluster hdkt7, swarm hdksw0, a running localcloud hdk0).
var testReal = localcloudtest.Options{
	Bridge:         "hdkt9",
	NetnsPrefix:    "hdkt9-",
	Subnet:         netip.MustParsePrefix("10.213.209.0/24"),
	ReservedPrefix: netip.MustParsePrefix("10.213.229.0/28"),
	StateDir:       "/tmp/hdklc9",
	Token:          "registry-test-token",
	Lock:           "haddock-registry-test.lock",
	// localcloud behind the contract validator, keeping its state in the
	// state directory, with its registry.
	Contract: true,
	Persist:  true,
	Registry: true,
}

func TestMain(m *testing.M) { localcloudtest.Main(m, testReal) }

// sweep is `localcloud down` on the test's state directory: the registry,
// every host, the bridge, the rules and the state.
func sweep() error { return localcloudtest.Sweep(testReal) }

// engine is a Docker SDK client for a host's engine over mutual TLS,
// verifying that the engine is host name.
func engine(t *testing.T, ca *pki.CA, cl *pki.KeyPair, addr, name string) *client.Client {
	t.Helper()
	tlsCfg, err := pki.ClientTLSConfig(ca.CertPEM(), cl.CertPEM, cl.KeyPEM, pki.HostIdentity(name))
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.NewClientWithOpts(
		client.WithHost("tcp://"+net.JoinHostPort(addr, strconv.Itoa(cloudinit.EnginePort))),
		client.WithHTTPClient(&http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}}),
		client.WithAPIVersionNegotiation(),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// pull pulls ref on the engine and fails on an error in the progress
// stream.
func pull(ctx context.Context, c *client.Client, ref string) error {
	rc, err := c.ImagePull(ctx, ref, dimage.PullOptions{})
	if err != nil {
		return err
	}
	defer func() { _ = rc.Close() }()
	dec := json.NewDecoder(rc)
	for {
		var msg struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if msg.Error != "" {
			return fmt.Errorf("pulling %s: %s", ref, msg.Error)
		}
	}
}

type counterStatus struct {
	Hostname string `json:"hostname"`
	TaskSlot string `json:"task_slot"`
	Node     string `json:"node"`
	Hits     int    `json:"hits"`
}

// TestCounterFromRegistry is the issue's demo end to end: localcloud with
// real hosts and its registry; a droplet from Haddock's own user data
// (nothing registry-specific in it); the counter built and pushed without
// a Docker daemon; the host pulls it from the registry (by its address, and
// by a Docker Hub name through the mirror) and runs it; the machine GETs
// it over HTTP; then nothing is left on the machine.
func TestCounterFromRegistry(t *testing.T) {
	localcloudtest.RequireRealHosts(t)
	testenv.Need(t, "HADDOCK_REQUIRE_REAL_HOSTS", registry.Check(""))
	ctx := t.Context()
	before := testReal.Leftovers()
	t.Logf("before: %+v", before)
	t.Cleanup(func() {
		if err := sweep(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})

	t0 := time.Now()
	lc := localcloudtest.StartReal(t, testReal)
	be, run, reg := lc.Backend, lc.Running, lc.Registry
	addr := reg.Addr().String()
	if want := "10.213.209.1:5000"; addr != want || be.RegistryAddr() != reg.Addr() {
		t.Fatalf("registry on %s (backend says %s), want %s", addr, be.RegistryAddr(), want)
	}
	t.Logf("registry on %s answering in %s", addr, time.Since(t0).Round(time.Millisecond))

	// A droplet with Haddock's user data, created through the API.
	ca, err := pki.NewCA("registry test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := ca.IssueClient("registry-test-client", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	const hostName = "app-1"
	server, err := ca.IssueServer(pki.HostIdentity(hostName), nil, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ud, err := cloudinit.Render(cloudinit.Params{Hostname: hostName, CACertPEM: ca.CertPEM(), ServerCertPEM: server.CertPEM, ServerKeyPEM: server.KeyPEM})
	if err != nil {
		t.Fatal(err)
	}
	do := lc.Godo(t)
	t0 = time.Now()
	drop, _, err := do.Droplets.Create(ctx, &godo.DropletCreateRequest{
		Name: hostName, Region: "fra1", Size: "s-1vcpu-1gb", Image: godo.DropletCreateImage{Slug: "debian-12-x64"}, UserData: ud,
	})
	if err != nil {
		t.Fatal(err)
	}

	// Meanwhile: build the counter and push it, no Docker daemon involved.
	t1 := time.Now()
	bin, err := image.BuildGo(ctx, image.GoBuild{Package: "./examples/apps/counter", Dir: "../../.."})
	if err != nil {
		t.Fatal(err)
	}
	img, err := image.FromBinary(bin, image.Options{Path: "/counter", ExposedPorts: []string{"8080"}, Healthcheck: []string{"/counter", "-healthcheck"}})
	if err != nil {
		t.Fatal(err)
	}
	size, err := image.Size(img)
	if err != nil {
		t.Fatal(err)
	}
	built := time.Since(t1)
	t1 = time.Now()
	ref := addr + "/counter:1"
	pushed, err := image.Push(ctx, img, ref, false, lc.PushAuth())
	if err != nil {
		t.Fatal(err)
	}
	// The same image under a Docker Hub path: "counter:1" pulls it through
	// the mirror.
	if _, err := image.Push(ctx, img, addr+"/library/counter:1", false, lc.PushAuth()); err != nil {
		t.Fatal(err)
	}
	t.Logf("counter built in %s (binary %d bytes, image %d bytes), pushed as %s in %s",
		built.Round(time.Millisecond), len(bin), size, pushed, time.Since(t1).Round(time.Millisecond))

	var d *godo.Droplet
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if d, _, err = do.Droplets.Get(ctx, drop.ID); err != nil {
			t.Fatal(err)
		}
		if d.Status == "active" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("droplet still %s", d.Status)
		}
	}
	hostIP, err := d.PublicIPv4()
	if err != nil || !testReal.Subnet.Contains(netip.MustParseAddr(hostIP)) {
		t.Fatalf("droplet address %q %v", hostIP, err)
	}
	t.Logf("droplet %s active at %s in %s", hostName, hostIP, time.Since(t0).Round(time.Millisecond))

	// On the host, over mutual TLS: pull from the registry, run, answer.
	eng := engine(t, ca, cl, hostIP, hostName)
	t1 = time.Now()
	if err := pull(ctx, eng, ref); err != nil {
		t.Fatal(err)
	}
	t.Logf("host pulled %s in %s", ref, time.Since(t1).Round(time.Millisecond))
	if err := pull(ctx, eng, "counter:1"); err != nil {
		t.Errorf("pulling counter:1 through the registry mirror: %v", err)
	}
	ii, err := eng.ImageInspect(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if len(ii.RepoDigests) == 0 || !strings.HasSuffix(ii.RepoDigests[0], want.String()) {
		t.Errorf("pulled image digests %v, pushed %s", ii.RepoDigests, want)
	}

	t1 = time.Now()
	created, err := eng.ContainerCreate(ctx,
		&container.Config{Image: ref, Hostname: "counter-task", Env: []string{"TASK_SLOT=3", "NODE_NAME=" + hostName}},
		&container.HostConfig{PortBindings: nat.PortMap{"8080/tcp": {{HostPort: "8080"}}}},
		nil, nil, "counter")
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) (*http.Response, []byte, error) {
		resp, err := hc.Get("http://" + net.JoinHostPort(hostIP, "8080") + path)
		if err != nil {
			return nil, nil, err
		}
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		return resp, b, err
	}
	var st counterStatus
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, b, err := get("/api")
		if err == nil && resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatalf("/api: %v: %s", err, b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counter on %s:8080 does not answer: %v", hostIP, err)
		}
	}
	t.Logf("counter answering on http://%s:8080 %s after create: %+v", hostIP, time.Since(t1).Round(time.Millisecond), st)
	if st.Hostname != "counter-task" || st.TaskSlot != "3" || st.Node != hostName || st.Hits != 1 {
		t.Errorf("/api: %+v", st)
	}
	resp, page, err := get("/")
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Contains(page, []byte(`<p class="n">2</p>`)) || !bytes.Contains(page, []byte("counter-task")) {
		t.Errorf("GET /: %v %s", err, page)
	}
	if resp, b, err := get("/healthz"); err != nil || resp.StatusCode != http.StatusOK || string(b) != "ok\n" {
		t.Errorf("GET /healthz: %v %q", err, b)
	}

	// docker stop: SIGTERM, a graceful exit with status 0.
	timeout := 10
	if err := eng.ContainerStop(ctx, created.ID, container.StopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	ci, err := eng.ContainerInspect(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ci.State.ExitCode != 0 || ci.State.OOMKilled {
		t.Errorf("counter stopped with exit code %d", ci.State.ExitCode)
	}
	if ci.Config.User != image.DefaultUser || len(ci.Config.Entrypoint) != 1 || ci.Config.Entrypoint[0] != "/counter" {
		t.Errorf("container config from the image: user %q entrypoint %q", ci.Config.User, ci.Config.Entrypoint)
	}

	// Delete the droplet, stop localcloud and the registry, then down:
	// nothing of it is left.
	if _, err := do.Droplets.Delete(ctx, drop.ID); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Minute); len(be.Manager().List()) > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the droplet's host is still there")
		}
	}
	if err := run.Close(); err != nil {
		t.Fatal(err)
	}
	if err := reg.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if f := testReal.Leftovers(); f.Registries != before.Registries || f.Daemons != before.Daemons || f.Netns != before.Netns {
		t.Errorf("after stopping: %+v", f)
	}
	if err := registry.Remove(ctx, testReal.RegistryDir()); err != nil {
		t.Fatal(err)
	}
	if err := be.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if err := localcloud.RemoveState(testReal.StateDir); err != nil {
		t.Fatal(err)
	}
	after := testReal.Leftovers()
	t.Logf("after: %+v", after)
	if after != before {
		t.Errorf("left on the machine: %+v, before %+v", after, before)
	}
	if _, err := os.Stat(testReal.StateDir); !os.IsNotExist(err) {
		t.Errorf("state directory still there: %v", err)
	}
}
