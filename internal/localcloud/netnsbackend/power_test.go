package netnsbackend_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloudinit"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/localcloudtest"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netnsbackend"
)

// The power tests' own network, apart from testReal (hdkt5) and every
// other package's.
var powerReal = localcloudtest.Options{
	Bridge:         "hdkpw1",
	NetnsPrefix:    "hdkpw1-",
	Subnet:         netip.MustParsePrefix("10.213.242.0/24"),
	ReservedPrefix: netip.MustParsePrefix("10.213.243.0/28"),
	StateDir:       "/tmp/hdkpw1",
	Token:          "netnsbackend-power-test-token",
	Lock:           "haddock-netnsbackend-power-test.lock",
	Contract:       true,
	Sweep:          true,
}

// control POSTs to a /_localcloud/hosts control and decodes the host.
func control(t *testing.T, r *localcloudtest.Real, id int, what string) map[string]any {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, r.URL+"/_localcloud/hosts/"+strconv.Itoa(id)+"/"+what, nil)
	req.Header.Set("Authorization", "Bearer "+r.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	var out struct{ Host map[string]any }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &out) != nil {
		t.Fatalf("POST /_localcloud/hosts/%d/%s: %s %s", id, what, resp.Status, b)
	}
	return out.Host
}

// TestPowerThroughTheAPI drives real hosts through DigitalOcean's droplet
// actions and localcloud's host controls: a power action completes once
// the host is really off (its engine silent on 2376) or on (its engine
// answering); a failed host stays active to the API, silent until a power
// cycle; a partitioned host neither reaches nor is reached by the other,
// while the machine still reaches it; a resize is refused while the droplet
// is on and shows once it was off. The clean-up finds no rule left on the
// bridge, though a host is still partitioned at the end.
func TestPowerThroughTheAPI(t *testing.T) {
	localcloudtest.RequireRealHosts(t)
	ctx := t.Context()
	tm := newTLS(t)
	r := localcloudtest.StartReal(t, powerReal)
	c := r.Godo(t)

	names := []string{"pw-a", "pw-b"}
	ids, addrs := map[string]int{}, map[string]string{}
	for _, name := range names {
		d, _, err := c.Droplets.Create(ctx, &godo.DropletCreateRequest{
			Name: name, Region: "fra1", Size: "s-1vcpu-2gb", Image: godo.DropletCreateImage{Slug: "debian-12-x64"},
			UserData: tm.userData(t, name, ""),
		})
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = d.ID
	}
	for _, name := range names {
		d := waitActive(ctx, t, c, ids[name])
		addrs[name], _ = d.PublicIPv4()
	}
	answers := func(name string) error {
		_, err := tm.engine(t, addrs[name], name, "/_ping")
		return err
	}
	status := func(name string) string {
		d, _, err := c.Droplets.Get(ctx, ids[name])
		if err != nil {
			t.Fatal(err)
		}
		return d.Status
	}
	expect := func(when, name string, on bool) {
		t.Helper()
		err := answers(name)
		switch {
		case on && err != nil:
			t.Errorf("%s: %s's engine does not answer: %v", when, name, err)
		case !on && err == nil:
			t.Errorf("%s: %s's engine answers", when, name)
		}
	}

	actions := map[string]func(context.Context, int) (*godo.Action, *godo.Response, error){
		"power_off": c.DropletActions.PowerOff, "shutdown": c.DropletActions.Shutdown, "power_on": c.DropletActions.PowerOn,
		"reboot": c.DropletActions.Reboot, "power_cycle": c.DropletActions.PowerCycle,
	}
	act := func(name, action string) {
		t.Helper()
		t0 := time.Now()
		a, _, err := actions[action](ctx, ids[name])
		if err != nil {
			t.Fatalf("%s %s: %v", action, name, err)
		}
		if a.Status != "in-progress" {
			t.Errorf("%s %s: new action %s", action, name, a.Status)
		}
		if a = waitAction(ctx, t, c, a.ID); a.Status != "completed" {
			t.Fatalf("%s %s: action %s", action, name, a.Status)
		}
		t.Logf("%s %s: completed in %s", action, name, time.Since(t0).Round(time.Millisecond))
	}
	for _, step := range []struct {
		action, status string
	}{
		{"power_off", "off"}, {"power_on", "active"}, {"shutdown", "off"}, {"power_on", "active"},
		{"reboot", "active"}, {"power_cycle", "active"},
	} {
		act("pw-a", step.action)
		// No waiting: the action completed because the host is done.
		if got := status("pw-a"); got != step.status {
			t.Errorf("after %s: droplet %s, want %s", step.action, got, step.status)
		}
		expect("after "+step.action, "pw-a", step.status == "active")
		expect("after "+step.action+" of pw-a", "pw-b", true)
	}

	// A hardware fault: the droplet stays active, the engine is silent
	// until a power cycle.
	if h := control(t, r, ids["pw-a"], "fail"); h["faulted"] != true {
		t.Errorf("failed host: %v", h)
	}
	if got := status("pw-a"); got != "active" {
		t.Errorf("failed host's droplet: %s", got)
	}
	expect("after the fault", "pw-a", false)
	act("pw-a", "power_cycle")
	expect("after the fault and a power cycle", "pw-a", true)

	// A partition: pw-a and pw-b no longer reach each other's engine; the
	// machine reaches both.
	dial := func(from, to string) error {
		var conn net.Conn
		err := r.Backend.Manager().InHost(netnsbackend.HostID(ids[from]), func() error {
			var err error
			conn, err = net.DialTimeout("tcp", net.JoinHostPort(addrs[to], strconv.Itoa(cloudinit.EnginePort)), 2*time.Second)
			return err
		})
		if err == nil {
			_ = conn.Close()
		}
		return err
	}
	if err := dial("pw-b", "pw-a"); err != nil {
		t.Fatalf("pw-b to pw-a before the partition: %v", err)
	}
	if h := control(t, r, ids["pw-a"], "partition"); h["partitioned"] != true {
		t.Errorf("partitioned host: %v", h)
	}
	for _, p := range [][2]string{{"pw-b", "pw-a"}, {"pw-a", "pw-b"}} {
		if err := dial(p[0], p[1]); err == nil {
			t.Errorf("partitioned: %s reaches %s", p[0], p[1])
		}
	}
	expect("partitioned", "pw-a", true)
	control(t, r, ids["pw-a"], "heal")
	for _, p := range [][2]string{{"pw-b", "pw-a"}, {"pw-a", "pw-b"}} {
		if err := dial(p[0], p[1]); err != nil {
			t.Errorf("healed: %s to %s: %v", p[0], p[1], err)
		}
	}

	// Resize: refused while on, done while off.
	_, _, err := c.DropletActions.Resize(ctx, ids["pw-a"], "s-2vcpu-4gb", true)
	if err == nil || !strings.Contains(err.Error(), "Droplet is currently on. Please power it off to run this event.") {
		t.Errorf("resize while on: %v", err)
	}
	act("pw-a", "shutdown")
	a, _, err := c.DropletActions.Resize(ctx, ids["pw-a"], "s-2vcpu-4gb", true)
	if err != nil {
		t.Fatal(err)
	}
	if a = waitAction(ctx, t, c, a.ID); a.Status != "completed" {
		t.Errorf("resize: %s", a.Status)
	}
	d, _, err := c.Droplets.Get(ctx, ids["pw-a"])
	if err != nil || d.SizeSlug != "s-2vcpu-4gb" || d.Memory != 4096 || d.Vcpus != 2 || d.Disk != 80 {
		t.Errorf("resized droplet: %s", fmt.Sprint(d, err))
	}
	act("pw-a", "power_on")
	expect("after the resize", "pw-a", true)

	// Left partitioned: the clean-up must still leave no rule behind.
	control(t, r, ids["pw-b"], "partition")
}
