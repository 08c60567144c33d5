package digitalocean

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
)

// slowPower is a MemoryBackend whose power actions and fault controls wait
// for release, then fail when failNext is set.
type slowPower struct {
	*MemoryBackend
	mu       sync.Mutex
	release  chan struct{}
	failNext bool
	calls    []string
}

func (b *slowPower) record(call string) error {
	<-b.release
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, call)
	if b.failNext {
		b.failNext = false
		return errors.New("the machine would not")
	}
	return nil
}

func (b *slowPower) Power(_ context.Context, id int, action string) error {
	return b.record(action + " " + strconv.Itoa(id))
}
func (b *slowPower) Fail(_ context.Context, id int) error {
	return b.record("fail " + strconv.Itoa(id))
}
func (b *slowPower) Partition(_ context.Context, id int) error {
	return b.record("partition " + strconv.Itoa(id))
}
func (b *slowPower) Heal(_ context.Context, id int) error {
	return b.record("heal " + strconv.Itoa(id))
}

func actionStatus(t *testing.T, s *Server, aid int) string {
	t.Helper()
	return str(obj(call(t, s, "GET", "/v2/actions/"+strconv.Itoa(aid), nil).body["action"])["status"])
}

// waitAction polls action aid until it is no longer in progress.
func waitAction(t *testing.T, s *Server, aid int) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if st := actionStatus(t, s, aid); st != "in-progress" || time.Now().After(deadline) {
			return st
		}
		time.Sleep(time.Millisecond)
	}
}

// A power action on a backend that powers hosts stays in progress, and the
// droplet keeps its status, until the backend is done; meanwhile other
// actions meet a pending event. A failed one errors and changes nothing.
func TestPowerActionsWaitForTheHost(t *testing.T) {
	be := &slowPower{MemoryBackend: NewMemoryBackend(), release: make(chan struct{})}
	s := newTestServer(t, testConfig{Backend: be})
	id := num(obj(createDroplet(t, s, map[string]any{"name": "a"})["droplet"])["id"])
	waitStatus(t, s, id, "active")
	path := "/v2/droplets/" + strconv.Itoa(id)
	for _, c := range []struct {
		typ, before, after string
		fail               bool
	}{
		{"power_off", "active", "off", false},
		{"power_on", "off", "active", false},
		{"shutdown", "active", "off", false},
		{"power_on", "off", "off", true},
		{"power_cycle", "off", "active", false},
		{"reboot", "active", "active", false},
	} {
		be.mu.Lock()
		be.failNext = c.fail
		be.mu.Unlock()
		r := call(t, s, "POST", path+"/actions", map[string]any{"type": c.typ})
		if r.status != 201 {
			t.Fatalf("%s: %d %s", c.typ, r.status, r.raw)
		}
		aid := num(obj(r.body["action"])["id"])
		if st := actionStatus(t, s, aid); st != "in-progress" {
			t.Errorf("%s before the host is done: action %s", c.typ, st)
		}
		if got := str(obj(call(t, s, "GET", path, nil).body["droplet"])["status"]); got != c.before {
			t.Errorf("%s before the host is done: droplet %s, want %s", c.typ, got, c.before)
		}
		r = call(t, s, "POST", path+"/actions", map[string]any{"type": "rename", "name": "b"})
		if r.status != 422 || str(r.body["message"]) != "Droplet already has a pending event." {
			t.Errorf("%s: another action meanwhile: %d %s", c.typ, r.status, r.raw)
		}
		be.release <- struct{}{}
		want := "completed"
		if c.fail {
			want = "errored"
		}
		if st := waitAction(t, s, aid); st != want {
			t.Errorf("%s: action %s, want %s", c.typ, st, want)
		}
		if got := str(obj(call(t, s, "GET", path, nil).body["droplet"])["status"]); got != c.after {
			t.Errorf("after %s: droplet %s, want %s", c.typ, got, c.after)
		}
	}
}

func TestResize(t *testing.T) {
	s := newTestServer(t, testConfig{})
	create := func(name, region, size string) int {
		id := num(obj(createDroplet(t, s, map[string]any{"name": name, "region": region, "size": size})["droplet"])["id"])
		waitStatus(t, s, id, "active")
		return id
	}
	on := create("on", "nyc3", "s-1vcpu-2gb")
	off := create("off", "sgp1", "s-1vcpu-2gb")
	if r := call(t, s, "POST", "/v2/droplets/"+strconv.Itoa(off)+"/actions", map[string]any{"type": "power_off"}); r.status != 201 {
		t.Fatalf("power_off: %d %s", r.status, r.raw)
	}
	waitStatus(t, s, off, "off")
	type want struct {
		status            int
		msg               string
		slug              string
		memory, vcpus, gb int
	}
	for _, c := range []struct {
		name string
		id   int
		body map[string]any
		want want
	}{
		{"on", on, map[string]any{"size": "s-2vcpu-4gb", "disk": true},
			want{422, "Droplet is currently on. Please power it off to run this event.", "s-1vcpu-2gb", 2048, 1, 50}},
		{"no size", off, map[string]any{},
			want{422, "Size is required.", "s-1vcpu-2gb", 2048, 1, 50}},
		{"unknown size", off, map[string]any{"size": "s-64vcpu-1tb"},
			want{422, "You specified an invalid size for Droplet resize.", "s-1vcpu-2gb", 2048, 1, 50}},
		{"size not in the region", off, map[string]any{"size": RestrictedSize},
			want{422, "Size is not available in this region.", "s-1vcpu-2gb", 2048, 1, 50}},
		{"same size", off, map[string]any{"size": "s-1vcpu-2gb"},
			want{422, "The droplet is already set to this size.", "s-1vcpu-2gb", 2048, 1, 50}},
		{"cpu and memory only", off, map[string]any{"size": "s-2vcpu-4gb", "disk": false},
			want{201, "", "s-2vcpu-4gb", 4096, 2, 50}},
		{"back down", off, map[string]any{"size": "s-1vcpu-2gb"},
			want{201, "", "s-1vcpu-2gb", 2048, 1, 50}},
		{"with the disk", off, map[string]any{"size": "s-2vcpu-4gb", "disk": true},
			want{201, "", "s-2vcpu-4gb", 4096, 2, 80}},
		{"disk cannot shrink", off, map[string]any{"size": "s-2vcpu-2gb"},
			want{422, "Size can not decrease size of Droplet's disk image", "s-2vcpu-4gb", 4096, 2, 80}},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := map[string]any{"type": "resize"}
			for k, v := range c.body {
				body[k] = v
			}
			path := "/v2/droplets/" + strconv.Itoa(c.id)
			r := call(t, s, "POST", path+"/actions", body)
			if r.status != c.want.status || (c.want.msg != "" && str(r.body["message"]) != c.want.msg) {
				t.Errorf("resize: %d %s, want %d %q", r.status, r.raw, c.want.status, c.want.msg)
			}
			if r.status == 201 {
				if a := obj(r.body["action"]); a["type"] != "resize" || waitAction(t, s, num(a["id"])) != "completed" {
					t.Errorf("action %v", a)
				}
			}
			d := obj(call(t, s, "GET", path, nil).body["droplet"])
			disk := obj(list(d["disk_info"])[0])
			if d["size_slug"] != c.want.slug || obj(d["size"])["slug"] != c.want.slug || num(d["memory"]) != c.want.memory ||
				num(d["vcpus"]) != c.want.vcpus || num(d["disk"]) != c.want.gb || num(obj(disk["size"])["amount"]) != c.want.gb {
				t.Errorf("droplet size %v/%v memory %v vcpus %v disk %v %v; want %+v",
					d["size_slug"], obj(d["size"])["slug"], d["memory"], d["vcpus"], d["disk"], disk, c.want)
			}
		})
	}
}

// The /_localcloud/hosts controls reach the backend's FaultInjector; the
// droplet of a failed host stays active until a power action brings it
// back.
func TestHostControls(t *testing.T) {
	be := &slowPower{MemoryBackend: NewMemoryBackend(), release: make(chan struct{}, 10)}
	s := newTestServer(t, testConfig{Backend: be})
	id := num(obj(createDroplet(t, s, map[string]any{"name": "a"})["droplet"])["id"])
	waitStatus(t, s, id, "active")
	host := "/_localcloud/hosts/" + strconv.Itoa(id)
	control := func(what string) map[string]any {
		t.Helper()
		be.release <- struct{}{}
		r := call(t, s, "POST", host+"/"+what, nil)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", what, r.status, r.raw)
		}
		return obj(r.body["host"])
	}
	if h := control("fail"); h["faulted"] != true || h["status"] != "running" || h["name"] != "a" || h["api"] != Name {
		t.Errorf("failed: %v", h)
	}
	if got := str(obj(call(t, s, "GET", "/v2/droplets/"+strconv.Itoa(id), nil).body["droplet"])["status"]); got != "active" {
		t.Errorf("droplet of a failed host: %s", got)
	}
	if h := control("partition"); h["partitioned"] != true {
		t.Errorf("partitioned: %v", h)
	}
	hosts := list(call(t, s, "GET", "/_localcloud/hosts", nil).body["hosts"])
	if len(hosts) != 1 || obj(hosts[0])["faulted"] != true || obj(hosts[0])["partitioned"] != true {
		t.Errorf("hosts: %v", hosts)
	}
	if h := control("heal"); h["partitioned"] != false {
		t.Errorf("healed: %v", h)
	}
	be.release <- struct{}{}
	r := call(t, s, "POST", "/v2/droplets/"+strconv.Itoa(id)+"/actions", map[string]any{"type": "power_cycle"})
	if st := waitAction(t, s, num(obj(r.body["action"])["id"])); st != "completed" {
		t.Errorf("power_cycle: %s", st)
	}
	if h := obj(list(call(t, s, "GET", "/_localcloud/hosts", nil).body["hosts"])[0]); h["faulted"] != false {
		t.Errorf("after power_cycle: %v", h)
	}
	be.mu.Lock()
	calls := be.calls
	be.mu.Unlock()
	ids := strconv.Itoa(id)
	if want := []string{"fail " + ids, "partition " + ids, "heal " + ids, "power_cycle " + ids}; !slices.Equal(calls, want) {
		t.Errorf("backend calls %v, want %v", calls, want)
	}

	for _, c := range []struct {
		path   string
		status int
	}{
		{"/_localcloud/hosts/999/fail", 404},
		{"/_localcloud/hosts/x/partition", 404},
		{"/_localcloud/hosts/" + strconv.Itoa(id) + "/explode", 404},
	} {
		if r := call(t, s, "POST", c.path, nil); r.status != c.status {
			t.Errorf("POST %s: %d %s, want %d", c.path, r.status, r.raw, c.status)
		}
	}
	// An off host cannot fail.
	be.release <- struct{}{}
	r = call(t, s, "POST", "/v2/droplets/"+strconv.Itoa(id)+"/actions", map[string]any{"type": "power_off"})
	waitAction(t, s, num(obj(r.body["action"])["id"]))
	if r := call(t, s, "POST", host+"/fail", nil); r.status != 422 || str(r.body["message"]) != "host "+strconv.Itoa(id)+" is off" {
		t.Errorf("fail an off host: %d %s", r.status, r.raw)
	}
}

// With the memory backend there is no machine to fail.
func TestHostControlsNeedRealHosts(t *testing.T) {
	s := newTestServer(t, testConfig{})
	id := num(obj(createDroplet(t, s, map[string]any{"name": "a"})["droplet"])["id"])
	waitStatus(t, s, id, "active")
	for _, c := range []string{"fail", "partition", "heal"} {
		r := call(t, s, "POST", "/_localcloud/hosts/"+strconv.Itoa(id)+"/"+c, nil)
		if r.status != 501 || r.body["id"] != "not_implemented" {
			t.Errorf("%s: %d %s", c, r.status, r.raw)
		}
	}
	var _ localcloud.FaultInjector = (*slowPower)(nil)
}
