package digitalocean

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digitalocean/godo"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

// once answers the first call with answer, then lets the server go on.
func once(answer func(w http.ResponseWriter)) func(w http.ResponseWriter) bool {
	var n atomic.Int32
	return func(w http.ResponseWriter) bool {
		if n.Add(1) > 1 {
			return false
		}
		answer(w)
		return true
	}
}

func status(code int) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) { writeError(w, code, http.StatusText(code)) }
}

// hangUp breaks the connection without an answer.
func hangUp(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("hangUp: the test server's ResponseWriter cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

func hostSpec(name string) cloud.HostSpec {
	return cloud.HostSpec{Name: name, Region: "nyc3", Size: "s-1vcpu-1gb", Image: "debian-12-x64", Tags: []string{"haddock-uid:" + name}}
}

// A create DigitalOcean acted on but answered 500 (or whose connection
// broke) is not repeated: the droplet is found and returned, and there is
// one droplet.
func TestCreateHostsAfterFailureTheServerActedOn(t *testing.T) {
	tests := []struct {
		name  string
		specs []cloud.HostSpec
		fail  func(w http.ResponseWriter)
	}{
		{name: "500 after creating one", specs: []cloud.HostSpec{hostSpec("a")}, fail: status(http.StatusInternalServerError)},
		{name: "503 after creating a batch", specs: []cloud.HostSpec{hostSpec("a"), hostSpec("b")}, fail: status(http.StatusServiceUnavailable)},
		{name: "connection broken after creating", specs: []cloud.HostSpec{hostSpec("a")}, fail: hangUp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI(t)
			if len(tt.specs) > 1 { // a batch: same tags
				for i := range tt.specs {
					tt.specs[i].Tags = []string{"group-x"}
				}
			}
			f.afterCreate = once(tt.fail)
			hosts, err := f.driver().CreateHosts(context.Background(), tt.specs)
			if err != nil {
				t.Fatalf("CreateHosts: %v", err)
			}
			if len(hosts) != len(tt.specs) {
				t.Fatalf("CreateHosts returned %d hosts, want %d", len(hosts), len(tt.specs))
			}
			for i, s := range tt.specs {
				got := f.named(s.Name)
				if len(got) != 1 {
					t.Fatalf("%d droplets named %s, want 1", len(got), s.Name)
				}
				if hosts[i].ID != strconv.Itoa(got[0].ID) || hosts[i].Name != s.Name {
					t.Errorf("host %d = %+v, want droplet %d", i, hosts[i], got[0].ID)
				}
			}
			if n := f.calls("POST /v2/droplets"); n != 1 {
				t.Errorf("%d creates sent, want 1", n)
			}
		})
	}
}

// A create that failed before the server acted is sent again after the
// look-up finds nothing; a 429 is retried by the HTTP client as before.
func TestCreateHostsRetriesWhenNothingWasCreated(t *testing.T) {
	for _, code := range []int{http.StatusInternalServerError, http.StatusTooManyRequests} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			f := newFakeAPI(t)
			f.beforeCreate = once(status(code))
			hosts, err := f.driver().CreateHosts(context.Background(), []cloud.HostSpec{hostSpec("a")})
			if err != nil || len(hosts) != 1 {
				t.Fatalf("CreateHosts = %+v, %v", hosts, err)
			}
			if n := len(f.named("a")); n != 1 {
				t.Errorf("%d droplets, want 1", n)
			}
			if n := f.calls("POST /v2/droplets"); n != 2 {
				t.Errorf("%d creates sent, want 2", n)
			}
			lookups := f.calls("GET /v2/droplets")
			if want := map[int]int{500: 1, 429: 0}[code]; lookups != want {
				t.Errorf("%d look-ups, want %d", lookups, want)
			}
		})
	}
}

// The look-up does not take a droplet of the same name and tags created
// before the call (by hand, or by an earlier apply) for the one it made.
func TestCreateHostsLookUpIgnoresOlderDroplets(t *testing.T) {
	f := newFakeAPI(t)
	spec := hostSpec("a")
	old := f.addDroplet("a", spec.Size, "active", []string{spec.Tags[0], cloud.ManagedTag}, time.Now().Add(-time.Hour))
	f.afterCreate = once(status(http.StatusInternalServerError))
	hosts, err := f.driver().CreateHosts(context.Background(), []cloud.HostSpec{spec})
	if err != nil || len(hosts) != 1 {
		t.Fatalf("CreateHosts = %+v, %v", hosts, err)
	}
	if hosts[0].ID == strconv.Itoa(old.ID) {
		t.Errorf("CreateHosts returned the older droplet %d", old.ID)
	}
	if n := len(f.named("a")); n != 2 || f.calls("POST /v2/droplets") != 1 {
		t.Errorf("%d droplets and %d creates, want 2 and 1", n, f.calls("POST /v2/droplets"))
	}
}

// When every attempt fails, the error says where the droplets may be.
func TestCreateHostsGivesUpWithWhatToDo(t *testing.T) {
	f := newFakeAPI(t)
	f.beforeCreate = func(w http.ResponseWriter) bool { status(http.StatusBadGateway)(w); return true }
	d, err := New(Config{Token: "t", APIEndpoint: f.srv.URL, HTTPRetryMax: 2, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.CreateHosts(context.Background(), []cloud.HostSpec{hostSpec("a")})
	if err == nil || !strings.Contains(err.Error(), "may have created") || !strings.Contains(err.Error(), "haddock-uid:a") {
		t.Fatalf("CreateHosts error = %v, want what to look for", err)
	}
	if n := f.calls("POST /v2/droplets"); n != 3 {
		t.Errorf("%d creates sent, want 3 (HTTPRetryMax 2)", n)
	}
}

func TestRetrySafe(t *testing.T) {
	tests := []struct {
		method, path string
		safe         bool
	}{
		{"GET", "/v2/droplets", true},
		{"DELETE", "/v2/droplets/1", true},
		{"PUT", "/v2/anything", true},
		{"POST", "/v2/droplets", false},
		{"POST", "/v2/reserved_ips", false},
		{"POST", "/v2/droplets/1/actions", true},
		{"POST", "/v2/reserved_ips/203.0.113.1/actions", true},
		{"POST", "/v2/tags", true},
		{"POST", "/v2/tags/web/resources", true},
		{"POST", "/v2/projects/default/resources", true},
		{"POST", "/v2/projects", false},
		{"POST", "/api/v2/droplets/1/actions/", true},
		{"PATCH", "/v2/droplets/1", false},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, "http://x"+tt.path, nil)
		if got := retrySafe(req); got != tt.safe {
			t.Errorf("retrySafe(%s %s) = %v, want %v", tt.method, tt.path, got, tt.safe)
		}
	}
}

// A reserved IP created for a droplet whose assignment is never seen comes
// back with the error, so the caller can record it.
func TestCreateFloatingIPKeepsTheAddressWhenTheAssignmentWaitFails(t *testing.T) {
	f := newFakeAPI(t)
	f.assignReservedIPs = false
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	ip, err := f.driver().CreateFloatingIP(ctx, "", "42")
	if err == nil {
		t.Fatal("CreateFloatingIP succeeded, want the assignment wait to fail")
	}
	if ip == nil || ip.ID != "203.0.113.1" || ip.Address != ip.ID {
		t.Fatalf("CreateFloatingIP = %+v, want the reserved IP with the error %v", ip, err)
	}
	if !strings.Contains(err.Error(), "203.0.113.1") || !strings.Contains(err.Error(), "droplet 42") {
		t.Errorf("error %q does not name the address and the droplet", err)
	}
	if n := f.calls("POST /v2/reserved_ips"); n != 1 {
		t.Errorf("%d creates sent, want 1", n)
	}
}

func TestResizeHost(t *testing.T) {
	tests := []struct {
		name, status, size string
		actions            []string
	}{
		{name: "running", status: "active", size: "s-1vcpu-1gb", actions: []string{"power_off", "resize", "power_on"}},
		{name: "off", status: "off", size: "s-1vcpu-1gb", actions: []string{"resize", "power_on"}},
		{name: "off at the new size (resumed)", status: "off", size: "s-2vcpu-4gb", actions: []string{"power_on"}},
		{name: "running at the new size", status: "active", size: "s-2vcpu-4gb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI(t)
			dr := f.addDroplet("a", tt.size, tt.status, nil, time.Now())
			h, err := f.driver().ResizeHost(context.Background(), strconv.Itoa(dr.ID), "s-2vcpu-4gb")
			if err != nil {
				t.Fatalf("ResizeHost: %v", err)
			}
			if h.Size != "s-2vcpu-4gb" || h.Status != cloud.HostActive || h.ID != strconv.Itoa(dr.ID) {
				t.Errorf("ResizeHost = %+v, want active at s-2vcpu-4gb", h)
			}
			if got := f.takeActions(); !slices.Equal(got, tt.actions) {
				t.Errorf("actions %v, want %v", got, tt.actions)
			}
		})
	}
}

func TestResizeHostErrors(t *testing.T) {
	f := newFakeAPI(t)
	d := f.driver()
	dr := f.addDroplet("a", "s-1vcpu-1gb", "active", nil, time.Now())

	// A refused resize powers the droplet on again at its old size.
	_, err := d.ResizeHost(context.Background(), strconv.Itoa(dr.ID), "s-nowhere")
	if err == nil || !strings.Contains(err.Error(), "not available") || !strings.Contains(err.Error(), "powered on again") {
		t.Errorf("ResizeHost(unavailable size) = %v", err)
	}
	if got := f.named("a")[0]; got.Status != "active" || got.SizeSlug != "s-1vcpu-1gb" {
		t.Errorf("droplet after a refused resize: %s at %s, want active at s-1vcpu-1gb", got.Status, got.SizeSlug)
	}

	// An errored power-off stops before the resize.
	f.takeActions()
	f.setActionStatus(func(a *godo.Action) string {
		if a.Type == "power_off" {
			return actionErrored
		}
		return actionCompleted
	})
	if _, err := d.ResizeHost(context.Background(), strconv.Itoa(dr.ID), "s-2vcpu-4gb"); err == nil || !strings.Contains(err.Error(), "powering it off") {
		t.Errorf("ResizeHost(power_off errored) = %v", err)
	}
	if got := f.takeActions(); !slices.Equal(got, []string{"power_off"}) {
		t.Errorf("actions %v, want only power_off", got)
	}
	f.setActionStatus(nil)

	nw := f.addDroplet("b", "s-1vcpu-1gb", "new", nil, time.Now())
	if _, err := d.ResizeHost(context.Background(), strconv.Itoa(nw.ID), "s-2vcpu-4gb"); err == nil || !strings.Contains(err.Error(), "wait until it is active") {
		t.Errorf("ResizeHost(new droplet) = %v", err)
	}
	if _, err := d.ResizeHost(context.Background(), "999999", "s-2vcpu-4gb"); !cloud.IsNotFound(err) {
		t.Errorf("ResizeHost(missing) = %v, want not found", err)
	}
}

// A reserved IP create for a droplet that DigitalOcean carried out but
// answered 500: the driver finds the address by its droplet instead of
// making a second; with none made, it creates again.
func TestCreateFloatingIPFindsTheAddressBehindA5xx(t *testing.T) {
	f := newFakeAPI(t)
	f.failIPCreates = 1
	ip, err := f.driver().CreateFloatingIP(t.Context(), "", "42")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.ips) != 1 || ip.ID != "203.0.113.1" || ip.HostID != "42" {
		t.Fatalf("CreateFloatingIP = %+v with %d addresses reserved, want the one the failed create made", ip, len(f.ips))
	}
	if n := f.calls("POST /v2/reserved_ips"); n != 1 {
		t.Errorf("%d creates sent, want 1", n)
	}
	// Nothing made behind the failure, while the droplet already holds
	// another address: created again, that address left alone.
	g := newFakeAPI(t)
	g.refuseIPCreates = 1
	g.ips["198.51.100.9"] = &godo.ReservedIP{IP: "198.51.100.9", Droplet: &godo.Droplet{ID: 42}}
	ip, err = g.driver().CreateFloatingIP(t.Context(), "", "42")
	if err != nil {
		t.Fatal(err)
	}
	if len(g.ips) != 2 || ip.ID == "198.51.100.9" || g.calls("POST /v2/reserved_ips") != 2 {
		t.Fatalf("CreateFloatingIP = %+v, %d addresses, %d creates; want a new address after a second create", ip, len(g.ips), g.calls("POST /v2/reserved_ips"))
	}
}
