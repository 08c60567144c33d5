package netnsbackend_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/godo"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/localcloudtest"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netns"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netnsbackend"
	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
)

// start serves localcloud with a new backend on the test state directory.
func start(t *testing.T) (*netnsbackend.Backend, *localcloud.Running, *godo.Client) {
	t.Helper()
	r := localcloudtest.StartReal(t, testReal)
	return r.Backend, r.Running, r.Godo(t)
}

func waitActive(ctx context.Context, t *testing.T, c *godo.Client, id int) *godo.Droplet {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		d, _, err := c.Droplets.Get(ctx, id)
		if err != nil {
			t.Fatalf("droplet %d: %v", id, err)
		}
		if d.Status == "active" {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("droplet %d still %s", id, d.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitAction(ctx context.Context, t *testing.T, c *godo.Client, id int) *godo.Action {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		a, _, err := c.Actions.Get(ctx, id)
		if err != nil {
			t.Fatalf("action %d: %v", id, err)
		}
		if a.Status != "in-progress" {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("action %d still in progress", id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// engine calls GET path on a host's Docker Engine at addr:2376 over mTLS,
// verifying that the engine is host name.
func (m tlsMaterial) engine(t *testing.T, addr, name, path string) ([]byte, error) {
	t.Helper()
	cfg, err := pki.ClientTLSConfig(m.ca.CertPEM(), m.client.CertPEM, m.client.KeyPEM, pki.HostIdentity(name))
	if err != nil {
		t.Fatal(err)
	}
	return tlsGet(cfg, addr, path)
}

func tlsGet(cfg *tls.Config, addr, path string) ([]byte, error) {
	return localcloudtest.EngineGet(cfg, addr, path)
}

func (m tlsMaterial) infoName(t *testing.T, addr, name string) string {
	t.Helper()
	b, err := m.engine(t, addr, name, "/info")
	if err != nil {
		t.Fatalf("GET https://%s:2376/info as %s: %v", addr, name, err)
	}
	var info struct{ Name string }
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	return info.Name
}

// TestRealHosts drives localcloud with the netns backend through godo:
// droplets from Haddock's user data answer on their public address with
// mTLS, a reserved IP reaches the host it is assigned to, a restart brings
// everything back, and deleting everything leaves nothing on the machine.
func TestRealHosts(t *testing.T) {
	localcloudtest.RequireRealHosts(t)
	ctx := t.Context()
	before := testReal.Leftovers()
	t.Logf("before: %+v; machine-wide: %s", before, localcloudtest.Machine())
	t.Cleanup(func() {
		if err := sweep(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	tm := newTLS(t)

	be, run, c := start(t)

	// Two droplets from Haddock's user data, created together.
	names := []string{"lc-a", "lc-b"}
	ids := make([]int, len(names))
	took := make([]time.Duration, len(names))
	drops := make([]*godo.Droplet, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		ud := tm.userData(t, name, "")
		wg.Go(func() {
			t0 := time.Now()
			d, _, err := c.Droplets.Create(ctx, &godo.DropletCreateRequest{
				Name: name, Region: "fra1", Size: "s-1vcpu-1gb", Image: godo.DropletCreateImage{Slug: "debian-12-x64"}, UserData: ud,
			})
			if err != nil {
				t.Errorf("create %s: %v", name, err)
				return
			}
			if d.Status != "new" {
				t.Errorf("created %s: status %s", name, d.Status)
			}
			ids[i] = d.ID
			drops[i] = waitActive(ctx, t, c, d.ID)
			took[i] = time.Since(t0)
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("time to active (2 droplets created together): %s, %s", took[0].Round(time.Millisecond), took[1].Round(time.Millisecond))

	addrs, privs := map[string]string{}, map[string]string{}
	for i, d := range drops {
		pub, err := d.PublicIPv4()
		if err != nil || !testReal.Subnet.Contains(netip.MustParseAddr(pub)) {
			t.Fatalf("%s: public address %q %v, want one in %s", names[i], pub, err, testReal.Subnet)
		}
		priv, _ := d.PrivateIPv4()
		if a, err := netip.ParseAddr(priv); err != nil || priv == pub || !netns.DefaultPrivatePrefix.Contains(a) {
			t.Errorf("%s: private address %q, want one of %s distinct from the public one %s", names[i], priv, netns.DefaultPrivatePrefix, pub)
		}
		privs[names[i]] = priv
		addrs[names[i]] = pub
		b, err := tm.engine(t, pub, names[i], "/_ping")
		if err != nil || string(b) != "OK" {
			t.Fatalf("%s: /_ping over mTLS: %q %v", names[i], b, err)
		}
		if got := tm.infoName(t, pub, names[i]); got != names[i] {
			t.Errorf("%s: docker info Name %q", names[i], got)
		}
	}
	// Without a client certificate the engine refuses.
	pool, _ := pki.ClientTLSConfig(tm.ca.CertPEM(), tm.client.CertPEM, tm.client.KeyPEM, pki.HostIdentity("lc-a"))
	pool.Certificates = nil
	if _, err := tlsGet(pool, addrs["lc-a"], "/_ping"); err == nil {
		t.Error("engine answered a client without a certificate")
	}

	// A droplet without Haddock's daemon.json: a plain dockerd on its unix
	// socket, no TCP. A droplet whose dockerd cannot start: an errored
	// create action, the droplet gone, nothing left of its host.
	plain, _, err := c.Droplets.Create(ctx, &godo.DropletCreateRequest{
		Name: "lc-plain", Region: "fra1", Size: "s-1vcpu-1gb", Image: godo.DropletCreateImage{Slug: "debian-12-x64"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// A daemon.json key a host may not set is refused at once.
	if _, resp, err := c.Droplets.Create(ctx, &godo.DropletCreateRequest{
		Name: "lc-refused", Region: "fra1", Size: "s-1vcpu-1gb", Image: godo.DropletCreateImage{Slug: "debian-12-x64"},
		UserData: "#cloud-config\nwrite_files:\n- path: /etc/docker/daemon.json\n  content: '{\"no-such-option\": true}'\n",
	}); err == nil || resp == nil || resp.StatusCode != 422 {
		t.Errorf("a daemon.json key outside the subset: %v, want 422", err)
	}
	bad, resp, err := c.Droplets.Create(ctx, &godo.DropletCreateRequest{
		Name: "lc-bad", Region: "fra1", Size: "s-1vcpu-1gb", Image: godo.DropletCreateImage{Slug: "debian-12-x64"},
		UserData: "#cloud-config\nwrite_files:\n- path: /etc/docker/daemon.json\n  content: '{\"bip\": \"not-a-network\"}'\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	plainD := waitActive(ctx, t, c, plain.ID)
	if a := waitAction(ctx, t, c, resp.Links.Actions[0].ID); a.Status != "errored" {
		t.Errorf("create action of a droplet whose dockerd fails: %s", a.Status)
	}
	if _, _, err := c.Droplets.Get(ctx, bad.ID); err == nil {
		t.Error("failed droplet still listed")
	}
	if _, err := os.Stat("/run/netns/" + testReal.NetnsPrefix + netnsbackend.HostID(bad.ID)); err == nil {
		t.Error("the failed droplet's namespace is still there")
	}
	plainAddr, _ := plainD.PublicIPv4()
	if conn, err := net.DialTimeout("tcp", net.JoinHostPort(plainAddr, "2376"), 2*time.Second); err == nil {
		_ = conn.Close()
		t.Error("a droplet without daemon.json listens on 2376")
	}
	h, err := be.Manager().Get(netnsbackend.HostID(plain.ID))
	if err != nil || h.Hostname != "lc-plain" || h.PID == 0 {
		t.Fatalf("plain host: %+v %v", h, err)
	}
	if out, err := exec.Command("curl", "-fsS", "--unix-socket", h.DockerSocket, "http://docker/_ping").CombinedOutput(); err != nil || string(out) != "OK" {
		t.Errorf("plain dockerd on its unix socket: %q %v", out, err)
	}

	// A reserved IP reaches the host it is assigned to, then the next.
	rip, _, err := c.ReservedIPs.Create(ctx, &godo.ReservedIPCreateRequest{Region: "fra1"})
	if err != nil {
		t.Fatal(err)
	}
	if !testReal.ReservedPrefix.Contains(netip.MustParseAddr(rip.IP)) {
		t.Fatalf("reserved IP %s is not in %s", rip.IP, testReal.ReservedPrefix)
	}
	for _, i := range []int{0, 1} {
		t0 := time.Now()
		a, _, err := c.ReservedIPActions.Assign(ctx, rip.IP, ids[i])
		if err != nil {
			t.Fatal(err)
		}
		if a := waitAction(ctx, t, c, a.ID); a.Status != "completed" {
			t.Fatalf("assign to %s: %s", names[i], a.Status)
		}
		if got := tm.infoName(t, rip.IP, names[i]); got != names[i] {
			t.Errorf("reserved IP assigned to %s reaches %s", names[i], got)
		}
		t.Logf("reserved IP %s on %s, answering, in %s", rip.IP, names[i], time.Since(t0).Round(time.Millisecond))
	}

	// Restart: stop localcloud and the dockerds, serve again on the same
	// state directory. Before that, make the machine disagree with the API
	// state as a crash could: a host of no droplet, and the reserved IP on
	// the wrong host. Restore puts it right.
	if err := run.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := be.Manager().Provision(ctx, netns.HostSpec{ID: "orphan"}); err != nil {
		t.Fatal(err)
	}
	if err := be.Manager().AssignIP(ctx, netip.MustParseAddr(rip.IP), netnsbackend.HostID(ids[0])); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := be.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	stopped := testReal.Leftovers()
	t.Logf("stopped in %s: %+v", time.Since(t0).Round(time.Millisecond), stopped)
	if stopped.Daemons != before.Daemons || stopped.Netns != before.Netns+4 {
		t.Errorf("after Stop: %+v, want no dockerd and 4 namespaces more than %+v", stopped, before)
	}
	t0 = time.Now()
	be, run, c = start(t)
	t.Logf("restarted with 3 hosts (and an orphan removed) in %s", time.Since(t0).Round(time.Millisecond))
	if _, err := be.Manager().Get("orphan"); err == nil {
		t.Error("the host of no droplet is still there after the restart")
	}
	list, _, err := c.Droplets.List(ctx, &godo.ListOptions{PerPage: 200})
	if err != nil || len(list) != 3 {
		t.Fatalf("droplets after the restart: %d %v", len(list), err)
	}
	for _, d := range list {
		pub, _ := d.PublicIPv4()
		priv, _ := d.PrivateIPv4()
		if d.Status != "active" || (addrs[d.Name] != "" && (addrs[d.Name] != pub || privs[d.Name] != priv)) {
			t.Errorf("after the restart: %s %s public %s private %s", d.Name, d.Status, pub, priv)
		}
	}
	for _, name := range names {
		if b, err := tm.engine(t, addrs[name], name, "/_ping"); err != nil || string(b) != "OK" {
			t.Errorf("%s after the restart: %q %v", name, b, err)
		}
	}
	if got := tm.infoName(t, rip.IP, "lc-b"); got != "lc-b" {
		t.Errorf("reserved IP after the restart reaches %s", got)
	}

	// Delete everything: nothing of it is left on the machine.
	if _, err := c.ReservedIPs.Delete(ctx, rip.IP); err != nil {
		t.Fatal(err)
	}
	for _, d := range list {
		if _, err := c.Droplets.Delete(ctx, d.ID); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for len(be.Manager().List()) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if left, _, err := c.Droplets.List(ctx, nil); err != nil || len(left) != 0 {
		t.Errorf("droplets after deleting all: %d %v", len(left), err)
	}
	deleted := testReal.Leftovers()
	if deleted.Netns != before.Netns || deleted.Daemons != before.Daemons || deleted.Mounts != before.Mounts {
		t.Errorf("after deleting every droplet: %+v, before %+v", deleted, before)
	}
	if err := run.Close(); err != nil {
		t.Fatal(err)
	}
	if err := be.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if err := localcloud.RemoveState(testReal.StateDir); err != nil {
		t.Fatal(err)
	}
	after := testReal.Leftovers()
	t.Logf("after: %+v; machine-wide: %s", after, localcloudtest.Machine())
	if after != before {
		t.Errorf("left on the machine: %+v, before %+v", after, before)
	}
	if _, err := os.Stat(testReal.StateDir); !os.IsNotExist(err) {
		t.Errorf("state directory still there: %v", err)
	}
}
