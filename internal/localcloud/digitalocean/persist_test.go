package digitalocean

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func openTestServer(t *testing.T, cfg testConfig) *Server {
	t.Helper()
	if cfg.Token == "" {
		cfg.Token = testToken
	}
	s, err := open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// views are what clients can read, for comparing two servers.
func views(t *testing.T, s *Server) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range []string{"/v2/droplets", "/v2/account/keys", "/v2/tags", "/v2/reserved_ips", "/v2/actions?per_page=200", "/v2/projects", "/v2/projects/default/resources"} {
		r := call(t, s, "GET", p, nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", p, r.status, r.raw)
		}
		out[p] = r.raw
	}
	return out
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	s1 := openTestServer(t, testConfig{StateDir: dir})

	if _, err := open(t.Context(), testConfig{StateDir: dir}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second Open on a locked state directory: %v", err)
	}

	const pub = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJxHk1PeJk1o2Q1Y7t8VxW2b3hFvN6h0b5xqvJ0bTmG test"
	if r := call(t, s1, "POST", "/v2/account/keys", map[string]any{"name": "k", "public_key": pub}); r.status != 201 {
		t.Fatalf("key: %d %s", r.status, r.raw)
	}
	call(t, s1, "POST", "/v2/tags", map[string]any{"name": "Web"})
	a := num(obj(createDroplet(t, s1, map[string]any{"name": "a", "tags": []string{"Web"}, "ipv6": true})["droplet"])["id"])
	b := num(obj(createDroplet(t, s1, map[string]any{"name": "b", "backups": true})["droplet"])["id"])
	c := num(obj(createDroplet(t, s1, map[string]any{"name": "c"})["droplet"])["id"])
	for _, id := range []int{a, b, c} {
		waitStatus(t, s1, id, "active")
	}
	call(t, s1, "POST", "/v2/droplets/"+strconv.Itoa(b)+"/actions", map[string]any{"type": "power_off"})
	call(t, s1, "POST", "/v2/droplets/"+strconv.Itoa(b)+"/actions", map[string]any{"type": "rename", "name": "b2"})
	// a resize without the disk: size and disk differ, and both come back
	if r := call(t, s1, "POST", "/v2/droplets/"+strconv.Itoa(b)+"/actions", map[string]any{"type": "resize", "size": "s-2vcpu-4gb"}); r.status != 201 {
		t.Fatalf("resize: %d %s", r.status, r.raw)
	}
	if r := call(t, s1, "DELETE", "/v2/droplets/"+strconv.Itoa(c), nil); r.status != 204 {
		t.Fatalf("delete: %d", r.status)
	}
	r := call(t, s1, "POST", "/v2/reserved_ips", map[string]any{"droplet_id": a})
	assigned := netip.MustParseAddr(str(obj(r.body["reserved_ip"])["ip"]))
	r = call(t, s1, "POST", "/v2/reserved_ips", map[string]any{"region": "fra1"})
	free := netip.MustParseAddr(str(obj(r.body["reserved_ip"])["ip"]))
	// A project, and the free address moved into it.
	r = call(t, s1, "POST", "/v2/projects", map[string]any{"name": "keep", "purpose": "IoT", "environment": "Staging"})
	project := str(obj(r.body["project"])["id"])
	if r := call(t, s1, "POST", "/v2/projects/"+project+"/resources", map[string]any{"resources": []string{"do:floatingip:" + free.String()}}); r.status != 200 {
		t.Fatalf("assign: %d %s", r.status, r.raw)
	}
	inProject := call(t, s1, "GET", "/v2/projects/"+project+"/resources", nil).raw

	before := views(t, s1)
	lastAction := num(obj(list(call(t, s1, "GET", "/v2/actions", nil).body["actions"])[0])["id"])
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{StateFile, LockFile}; !slices.Equal(names, want) {
		t.Errorf("state directory holds %v, want %v (no temporary files)", names, want)
	}

	be := NewMemoryBackend()
	s2 := openTestServer(t, testConfig{StateDir: dir, Backend: be})
	after := views(t, s2)
	for p, v := range before {
		if after[p] != v {
			t.Errorf("GET %s after a restart:\n got %s\nwant %s", p, after[p], v)
		}
	}
	if got := call(t, s2, "GET", "/v2/projects/"+project+"/resources", nil).raw; got != inProject || !strings.Contains(got, free.String()) {
		t.Errorf("project resources after a restart:\n got %s\nwant %s", got, inProject)
	}
	if h, ok := be.Assignment(assigned); !ok || h != a {
		t.Errorf("restored backend: %s on %d %v, want droplet %d", assigned, h, ok, a)
	}
	// New ids and addresses follow the restored ones.
	d := createDroplet(t, s2, map[string]any{"name": "d"})
	id := num(obj(d["droplet"])["id"])
	if id <= c {
		t.Errorf("new droplet id %d, want more than %d", id, c)
	}
	if aid := num(obj(list(obj(d["links"])["actions"])[0])["id"]); aid <= lastAction {
		t.Errorf("new action id %d, want more than %d", aid, lastAction)
	}
	seen := map[string]bool{}
	for _, did := range []int{a, b, id} {
		for _, n := range list(obj(waitStatus(t, s2, did, map[bool]string{true: "off", false: "active"}[did == b])["networks"])["v4"]) {
			if obj(n)["type"] != "public" || str(obj(n)["ip_address"]) == assigned.String() {
				continue
			}
			ip := str(obj(n)["ip_address"])
			if seen[ip] {
				t.Errorf("address %s handed out twice", ip)
			}
			seen[ip] = true
		}
	}
	r = call(t, s2, "POST", "/v2/reserved_ips", map[string]any{"region": "fra1"})
	if ip := str(obj(r.body["reserved_ip"])["ip"]); ip == assigned.String() || ip == free.String() {
		t.Errorf("reserved IP %s handed out twice", ip)
	}
}

// A droplet still being created when localcloud stopped without a chance
// to save (killed) failed: its create action errored, the droplet gone.
func TestPersistenceInterruptedCreate(t *testing.T) {
	dir := t.TempDir()
	be := &recordingBackend{MemoryBackend: NewMemoryBackend(), gate: make(chan struct{})}
	s := openTestServer(t, testConfig{StateDir: dir, Backend: be})
	d := createDroplet(t, s, map[string]any{"name": "slow"})
	id := num(obj(d["droplet"])["id"])
	aid := num(obj(list(obj(d["links"])["actions"])[0])["id"])

	// What a crash leaves: the state as saved after the create.
	crashed := t.TempDir()
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		t.Fatal(err)
	}
	var saved struct{ Hosts []struct{ Provisioned bool } }
	if err := json.Unmarshal(b, &saved); err != nil || len(saved.Hosts) != 1 || saved.Hosts[0].Provisioned {
		t.Fatalf("saved state: %v %s", err, b)
	}
	if err := os.WriteFile(filepath.Join(crashed, StateFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	var logs []string
	s2 := openTestServer(t, testConfig{StateDir: crashed, Logf: func(f string, a ...any) { logs = append(logs, f) }})
	if r := call(t, s2, "GET", "/v2/droplets/"+strconv.Itoa(id), nil); r.status != 404 {
		t.Errorf("interrupted droplet: %d", r.status)
	}
	if got := obj(call(t, s2, "GET", "/v2/actions/"+strconv.Itoa(aid), nil).body["action"])["status"]; got != "errored" {
		t.Errorf("interrupted create action: %v", got)
	}
	if len(logs) != 1 {
		t.Errorf("logs: %q", logs)
	}

	// A clean stop: Close cancels Provision, the create fails and that is
	// what is saved.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s3 := openTestServer(t, testConfig{StateDir: dir})
	if r := call(t, s3, "GET", "/v2/droplets", nil); num(obj(r.body["meta"])["total"]) != 0 {
		t.Errorf("droplets after a stop during provisioning: %s", r.raw)
	}
}

func TestNewRefusesStateDir(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New with a StateDir did not panic")
		}
	}()
	newServer(testConfig{StateDir: t.TempDir()})
}

func TestRemoveState(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lc")
	s := openTestServer(t, testConfig{StateDir: dir})
	_ = s.Close()
	lock, err := LockStateDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := RemoveState(dir); err != nil {
		t.Fatal(err)
	}
	_ = lock.Release()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("state directory still there: %v", err)
	}
}

// A state directory written before the core and the DigitalOcean API were
// apart (version 1: DigitalOcean's records at the top level) restores as it
// was: testdata/v1 holds such a file and what clients read from the
// localcloud that wrote it.
func TestPersistenceMigratesVersion1(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join("testdata", "v1", StateFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, StateFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	var want map[string]string
	if b, err := os.ReadFile(filepath.Join("testdata", "v1", "views.json")); err != nil || json.Unmarshal(b, &want) != nil {
		t.Fatalf("views: %v", err)
	}
	clk := &clock{t: time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)}
	be := NewMemoryBackend()
	s := openTestServer(t, testConfig{StateDir: dir, Backend: be, Now: clk.Now})
	got := views(t, s)
	for p, v := range want {
		if got[p] != v {
			t.Errorf("GET %s after migrating:\n got %s\nwant %s", p, got[p], v)
		}
	}
	if h, ok := be.Assignment(netip.MustParseAddr("198.19.0.2")); !ok || h != 410000001 {
		t.Errorf("restored backend: 198.19.0.2 on %d %v, want 410000001", h, ok)
	}
	d := createDroplet(t, s, map[string]any{"name": "c"})
	if id := num(obj(d["droplet"])["id"]); id != 410000003 {
		t.Errorf("new droplet id %d, want 410000003", id)
	}
	if aid := num(obj(list(obj(d["links"])["actions"])[0])["id"]); aid != 2100000005 {
		t.Errorf("new action id %d, want 2100000005", aid)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var saved struct{ Version int }
	if b, err := os.ReadFile(filepath.Join(dir, StateFile)); err != nil || json.Unmarshal(b, &saved) != nil || saved.Version != 2 {
		t.Errorf("state file after a save: version %d, %v", saved.Version, err)
	}
}
