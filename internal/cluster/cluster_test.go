package cluster

import (
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

// doTagRE is what DigitalOcean accepts as a tag.
var doTagRE = regexp.MustCompile(`^[a-zA-Z0-9_\-:]{1,255}$`)

func TestTags(t *testing.T) {
	tags := HostTags("0123456789abcdef", "web-eu", roleWorker, "fedcba9876543210", []string{"team:infra", "haddock-role:worker"})
	want := []string{"haddock-cluster:0123456789abcdef", "haddock-group:0123456789abcdef:web-eu", "haddock-role:worker", "haddock-uid:fedcba9876543210", "team:infra"}
	if !slices.Equal(tags, want) {
		t.Fatalf("HostTags = %q, want %q", tags, want)
	}
	for _, tg := range tags {
		if !doTagRE.MatchString(tg) {
			t.Errorf("tag %q is not a valid DigitalOcean tag", tg)
		}
	}
	h := cloud.Host{Tags: append(tags, cloud.ManagedTag)}
	if HostUID(h) != "fedcba9876543210" || HostRole(h) != roleWorker || HostGroup(h, "0123456789abcdef") != "web-eu" || HostGroup(h, "other") != "" {
		t.Errorf("reading tags back: uid %q role %q group %q", HostUID(h), HostRole(h), HostGroup(h, "0123456789abcdef"))
	}
	if got := Identity("fedcba9876543210"); got != "fedcba9876543210.hosts.haddock.internal" || pki.ValidateIdentity(got) != nil {
		t.Errorf("Identity = %q", got)
	}
	for _, bad := range []string{"", "Web", "web_1", "-web", "manager", strings.Repeat("a", 51)} {
		if ValidateGroupName(bad) == nil {
			t.Errorf("group name %q accepted", bad)
		}
	}
	if got := nextNames("web", []string{"web-1", "web-3", "web-x", "api-2"}, 3); !slices.Equal(got, []string{"web-2", "web-4", "web-5"}) {
		t.Errorf("nextNames = %q", got)
	}
}

func TestCreateCluster(t *testing.T) {
	h := newHarness(t)
	c, v, err := Create(t.Context(), h.drv, clusterSpec(3), h.opts)
	if err != nil {
		t.Fatal(err)
	}
	// One batch call for the three hosts; waiting by list, never a GET.
	if n := h.drv.count("CreateHosts"); n != 1 || !slices.Equal(h.drv.createSizes, []int{3}) {
		t.Errorf("CreateHosts calls %d with %v hosts, want one call with 3", n, h.drv.createSizes)
	}
	if n := h.drv.count("GetHost"); n != 0 {
		t.Errorf("GetHost called %d times; waiting must use list calls", n)
	}
	if n := h.drv.count("ListHosts"); n > 4 {
		t.Errorf("ListHosts called %d times for one create", n)
	}
	// Init on the first, advertising its private address; the others join
	// one at a time as managers.
	joins := h.rec.matching("join ")
	if !slices.Equal(joins, []string{"join manager prod-manager-2", "join manager prod-manager-3"}) {
		t.Errorf("joins = %q", joins)
	}
	first := h.drv.hostByName("prod-manager-1")
	if init := h.rec.matching("init "); len(init) != 1 || init[0] != "init prod-manager-1 advertise "+first.PrivateIPv4 {
		t.Errorf("init = %q, want on prod-manager-1 advertising %s", init, first.PrivateIPv4)
	}
	if o := h.sw.initOpts; o.TaskHistoryLimit != 3 || o.SubnetSize != 24 || !slices.Equal(o.DefaultAddrPool, []string{"10.240.0.0/16"}) {
		t.Errorf("init options = %+v", o)
	}
	for name, o := range h.sw.joinOpts {
		hst := h.drv.hostByName(name)
		if o.AdvertiseAddr != hst.PrivateIPv4 || len(o.RemoteAddrs) == 0 || !strings.HasSuffix(o.RemoteAddrs[0], ":2377") {
			t.Errorf("join of %s: %+v", name, o)
		}
	}
	st := c.State()
	if ValidateClusterUID(st.UID) != nil || st.SwarmID != "swarm0123456789" || st.Credentials.CAKeyPEM == "" || st.Credentials.ClientKeyPEM == "" {
		t.Errorf("state = uid %q swarm %q", st.UID, st.SwarmID)
	}
	if len(v.Members) != 3 || v.Ready() != 3 || v.Leader != "prod-manager-1" || v.SwarmID != st.SwarmID || v.Settings == nil || v.Settings.TaskHistoryLimit != 3 {
		t.Fatalf("view: %d members, %d ready, leader %q, settings %+v", len(v.Members), v.Ready(), v.Leader, v.Settings)
	}
	ca, err := pki.ParseCertPEM([]byte(st.Credentials.CACertPEM))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	seen := map[string]bool{}
	for _, m := range v.Members {
		hst := h.drv.hostByName(m.Name)
		wantTags := HostTags(st.UID, ManagersGroup, roleManager, m.UID, nil)
		for _, tg := range wantTags {
			if !slices.Contains(hst.Tags, tg) {
				t.Errorf("%s lacks tag %s: %q", m.Name, tg, hst.Tags)
			}
		}
		if !m.IsManager() || !m.Reachable || m.State != swarm.NodeStateReady || m.Labels["role"] != "control" || m.Identity != Identity(m.UID) {
			t.Errorf("member %+v", m)
		}
		// Each host has its own server certificate, naming its identity,
		// signed by the cluster's CA.
		bi, _ := h.boot.get(m.UID)
		cert, err := pki.ParseCertPEM(bi.certPEM)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: m.Identity, Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("%s's certificate: %v", m.Name, err)
		}
		if seen[string(bi.certPEM)] {
			t.Errorf("%s shares a certificate", m.Name)
		}
		seen[string(bi.certPEM)] = true
		if bi.labels[EngineLabelUID] != m.UID || bi.labels[EngineLabelGroup] != ManagersGroup || bi.labels[EngineLabelCluster] != st.UID {
			t.Errorf("%s's engine labels: %v", m.Name, bi.labels)
		}
	}

	// Reopened from state alone, the cluster observes the same.
	c2, err := Open(h.drv, st, h.opts)
	if err != nil {
		t.Fatal(err)
	}
	h.drv.calls = map[string]int{}
	v2, err := c2.Observe(t.Context())
	if err != nil || v2.Ready() != 3 || v2.Leader != "prod-manager-1" {
		t.Fatalf("Observe: %v, %+v", err, v2)
	}
	if h.drv.count("ListHosts") != 1 || h.drv.count("GetHost") != 0 {
		t.Errorf("Observe made %v calls, want one list call", h.drv.calls)
	}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(f, st); strings.Contains(out, "PRIVATE KEY") {
			t.Errorf("%s of the state prints a key", f)
		}
	}
	if _, err := Open(h.drv, State{UID: st.UID, Credentials: Credentials{CACertPEM: st.Credentials.CACertPEM}}, h.opts); err == nil {
		t.Error("Open accepted state without the CA key")
	}

	// Client credentials (no CA key) reach the cluster but sign no host.
	client := st
	client.Credentials.CAKeyPEM = ""
	c3, err := Open(h.drv, client, h.opts)
	if err != nil {
		t.Fatalf("Open with client credentials: %v", err)
	}
	if v3, err := c3.Observe(t.Context()); err != nil || v3.Ready() != 3 {
		t.Fatalf("Observe with client credentials: %v", err)
	}
	created := h.drv.count("CreateHosts")
	if _, err := c3.Apply(t.Context(), clusterSpec(5)); !errors.Is(err, ErrNoCAKey) {
		t.Errorf("growing with client credentials: %v, want ErrNoCAKey", err)
	}
	if h.drv.count("CreateHosts") != created {
		t.Error("client credentials created hosts")
	}
}

func TestManagerCountRefused(t *testing.T) {
	h := newHarness(t)
	_, _, err := Create(t.Context(), h.drv, clusterSpec(2), h.opts)
	if err == nil || !strings.Contains(err.Error(), "2 managers tolerate the loss of 0, the same as 1") {
		t.Errorf("2 managers: %v", err)
	}
	if h.drv.count("CreateHosts") != 0 {
		t.Error("hosts created for a refused count")
	}
	spec := clusterSpec(1)
	spec.Managers.Tags = []string{"haddock-uid:mine"}
	if _, _, err := Create(t.Context(), h.drv, spec, h.opts); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("reserved tag: %v", err)
	}
}

func TestManagerGrowAndShrinkOrder(t *testing.T) {
	h := newHarness(t)
	c := h.create(1)
	h.rec.reset()
	calls := h.drv.count("CreateHosts")
	v, err := c.Apply(t.Context(), clusterSpec(3))
	if err != nil {
		t.Fatal(err)
	}
	if h.drv.count("CreateHosts") != calls+1 || v.Ready() != 3 {
		t.Fatalf("grow 1 -> 3: %d CreateHosts calls, %d ready", h.drv.count("CreateHosts")-calls, v.Ready())
	}
	// Joined one at a time, each reachable before the next.
	if got := h.rec.matching("join "); !slices.Equal(got, []string{"join manager prod-manager-2", "join manager prod-manager-3"}) {
		t.Errorf("joins = %q", got)
	}

	// The leader is the newest manager: removal order is newest first but
	// the leader last, so it stays; the first manager, which Apply would
	// otherwise work through, goes, so the demotions go through the leader.
	h.sw.setLeader("prod-manager-3")
	h.rec.reset()
	v, err = c.Apply(t.Context(), clusterSpec(1))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"demote prod-manager-2 via prod-manager-3", "remove prod-manager-2", "delete prod-manager-2",
		"demote prod-manager-1 via prod-manager-3", "remove prod-manager-1", "delete prod-manager-1",
	}
	var got []string
	for _, e := range h.rec.all() {
		if strings.HasPrefix(e, "demote") || strings.HasPrefix(e, "remove") || strings.HasPrefix(e, "delete") {
			got = append(got, e)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("shrink 3 -> 1:\n got %q\nwant %q", got, want)
	}
	if len(v.Members) != 1 || v.Members[0].Name != "prod-manager-3" || !v.Members[0].Leader || v.Leader != "prod-manager-3" {
		t.Errorf("after the shrink: %+v", v.Members)
	}
	if names := h.drv.names(); !slices.Equal(names, []string{"prod-manager-3"}) {
		t.Errorf("hosts left: %q", names)
	}
}

func TestManagerShrinkRefusedWithoutQuorum(t *testing.T) {
	h := newHarness(t)
	c := h.create(3)
	h.sw.setUnreachable("prod-manager-2")
	h.sw.setUnreachable("prod-manager-3")
	h.rec.reset()
	_, err := c.Apply(t.Context(), clusterSpec(1))
	if err == nil {
		t.Fatal("shrinking without quorum was not refused")
	}
	for _, want := range []string{"refusing to change the managers from 3 to 1", "3 managers with 2 unreachable: quorum is 2 of 3, only 1 reachable", "force-new-cluster"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
	if ev := h.rec.all(); len(ev) != 0 {
		t.Errorf("something was done: %q", ev)
	}
}

func TestManagerDeletedOutOfBand(t *testing.T) {
	h := newHarness(t)
	c := h.create(3)
	victim := h.drv.hostByName("prod-manager-3")
	if err := h.drv.DeleteHost(t.Context(), victim.ID); err != nil {
		t.Fatal(err)
	}
	v, err := c.Observe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var missing *Member
	for i, m := range v.Members {
		if m.HostMissing() {
			missing = &v.Members[i]
		}
	}
	if missing == nil || missing.State != swarm.NodeStateDown || missing.Hostname != "prod-manager-3" || v.Ready() != 2 || !strings.Contains(missing.Problem(), "deleted outside Haddock") {
		t.Fatalf("view after deleting a manager's host: %+v", v.Members)
	}
	h.rec.reset()
	v, err = c.Apply(t.Context(), clusterSpec(3))
	if err != nil {
		t.Fatal(err)
	}
	if v.Ready() != 3 || len(v.Members) != 3 {
		t.Fatalf("after repair: %+v", v.Members)
	}
	ev := h.rec.all()
	demote, create, join := slices.Index(ev, "demote prod-manager-3 via prod-manager-1"), slices.Index(ev, "create prod-manager-3"), slices.Index(ev, "join manager prod-manager-3")
	if demote < 0 || slices.Index(ev, "remove prod-manager-3") < demote || create < 0 || join < create {
		t.Errorf("repair: %q", ev)
	}
}

func TestNodeGroupScale(t *testing.T) {
	h := newHarness(t)
	c := h.create(1)
	g, err := c.NodeGroup(h.drv, "web")
	if err != nil {
		t.Fatal(err)
	}
	h.drv.calls = map[string]int{}
	h.drv.createSizes = nil
	v, err := g.Apply(t.Context(), groupSpec(5))
	if err != nil {
		t.Fatal(err)
	}
	if h.drv.count("CreateHosts") != 1 || !slices.Equal(h.drv.createSizes, []int{5}) || h.drv.count("GetHost") != 0 {
		t.Errorf("create 5: calls %v, sizes %v", h.drv.calls, h.drv.createSizes)
	}
	if v.Ready() != 5 || len(h.rec.matching("join worker")) != 5 || h.sw.tokenReads != 1 {
		t.Fatalf("create 5: %d ready, joins %q, %d token reads", v.Ready(), h.rec.matching("join worker"), h.sw.tokenReads)
	}
	for _, m := range v.Members {
		if m.Role != swarm.RoleWorker || m.Labels["tier"] != "web" || m.Availability != swarm.AvailabilityActive {
			t.Errorf("member %+v", m)
		}
	}

	// Scale up: only the new hosts are created, joined and labelled.
	h.rec.reset()
	v, err = g.Apply(t.Context(), groupSpec(7))
	if err != nil {
		t.Fatal(err)
	}
	if got := h.rec.all(); !slices.Equal(got, []string{"create web-6", "create web-7", "join worker web-6", "join worker web-7", "labels web-6", "labels web-7"}) &&
		!slices.Equal(got, []string{"create web-6", "create web-7", "join worker web-7", "join worker web-6", "labels web-6", "labels web-7"}) {
		t.Errorf("scale 5 -> 7 did: %q", got)
	}
	if v.Ready() != 7 {
		t.Errorf("%d ready", v.Ready())
	}

	// Scale down: the newest go, drained before anything else, removed
	// before their hosts are deleted.
	h.rec.reset()
	v, err = g.Apply(t.Context(), groupSpec(5))
	if err != nil {
		t.Fatal(err)
	}
	drain := h.rec.index("drain web-6,web-7")
	for _, n := range []string{"web-6", "web-7"} {
		leave, remove, del := h.rec.index("leave "+n), h.rec.index("remove "+n), h.rec.index("delete "+n)
		if drain < 0 || leave < drain || remove < leave || del < remove {
			t.Errorf("removing %s: %q", n, h.rec.all())
		}
	}
	if len(h.rec.matching("drain")) != 1 || len(h.rec.matching("delete")) != 2 || len(h.rec.matching("labels")) != 0 {
		t.Errorf("scale 7 -> 5 did: %q", h.rec.all())
	}
	if names := h.drv.names(); !slices.Equal(names, []string{"prod-manager-1", "web-1", "web-2", "web-3", "web-4", "web-5"}) || v.Ready() != 5 {
		t.Errorf("hosts after scale down: %q", names)
	}

	// No change: nothing but reading.
	h.rec.reset()
	h.drv.calls = map[string]int{}
	if _, err := g.Apply(t.Context(), groupSpec(5)); err != nil {
		t.Fatal(err)
	}
	if ev := h.rec.all(); len(ev) != 0 || h.drv.count("ListHosts") != 2 || h.drv.count("GetHost") != 0 || h.drv.count("CreateHosts") != 0 {
		t.Errorf("no-change apply did %q with calls %v", ev, h.drv.calls)
	}
	h.drv.calls = map[string]int{}
	if v, err := g.Observe(t.Context()); err != nil || v.Ready() != 5 || h.drv.count("ListHosts") != 2 || len(h.drv.calls) != 1 {
		t.Errorf("Observe: %v, calls %v", err, h.drv.calls)
	}

	// Labels and availability change in place.
	spec := groupSpec(5)
	spec.Labels = map[string]string{"tier": "api"}
	spec.Availability = swarm.AvailabilityPause
	h.rec.reset()
	v, err = g.Apply(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.rec.matching("labels")) != 5 || len(h.rec.matching("availability")) != 5 || len(h.rec.matching("create")) != 0 {
		t.Errorf("relabel did %q", h.rec.all())
	}
	for _, m := range v.Members {
		if m.Labels["tier"] != "api" || m.Availability != swarm.AvailabilityPause {
			t.Errorf("after relabel: %+v", m)
		}
	}
}

func TestNodeGroupWaves(t *testing.T) {
	h := newHarness(t)
	h.opts.Concurrency = 4
	c := h.create(1)
	h.drv.createSizes = nil
	g := h.group(c, h.drv, 10)
	if !slices.Equal(h.drv.createSizes, []int{4, 4, 2}) {
		t.Errorf("waves of 4: CreateHosts sizes %v", h.drv.createSizes)
	}
	if v, _ := g.Observe(t.Context()); v.Ready() != 10 {
		t.Errorf("%d ready", v.Ready())
	}
}

// TestNodeGroupNewestFirst: hosts created together share a creation time;
// the index in their names decides, numerically.
func TestNodeGroupNewestFirst(t *testing.T) {
	h := newHarness(t)
	c := h.create(1)
	g := h.group(c, h.drv, 12)
	h.rec.reset()
	if _, err := g.Apply(t.Context(), groupSpec(10)); err != nil {
		t.Fatal(err)
	}
	if got := h.rec.matching("drain"); !slices.Equal(got, []string{"drain web-11,web-12"}) {
		t.Errorf("12 -> 10 drained %q, want web-11 and web-12", got)
	}
}

func TestNodeGroupDrainFailure(t *testing.T) {
	h := newHarness(t)
	c := h.create(1)
	g := h.group(c, h.drv, 3)
	h.sw.drainErr = &swarm.DrainError{
		Nodes: []string{"web-3 (node05)"}, Timeout: time.Minute, Cause: errors.New("context deadline exceeded"),
		Problems: []swarm.DrainProblem{{ServiceID: "svc1", Service: "big", Running: 2, Wanted: 3}, {TaskID: "t1", Task: "big.3", State: "pending", Message: "no suitable node (insufficient resources on 3 nodes)"}},
		Restored: true,
	}
	h.rec.reset()
	v, err := g.Apply(t.Context(), groupSpec(2))
	if err == nil {
		t.Fatal("a failed drain did not fail the apply")
	}
	for _, want := range []string{"draining web-3", "service big (svc1): 2 of 3 replicas running elsewhere", "insufficient resources", "Nothing was removed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
	if d := h.rec.matching("delete"); len(d) != 0 || len(h.rec.matching("remove")) != 0 || len(v.Members) != 3 {
		t.Errorf("after a failed drain: %q, %d members", h.rec.all(), len(v.Members))
	}
}

func TestPartialFailures(t *testing.T) {
	t.Run("join", func(t *testing.T) {
		h := newHarness(t)
		c := h.create(1)
		g, _ := c.NodeGroup(h.drv, "web")
		h.sw.failJoin["web-2"] = errors.New("Error response from daemon: manager unreachable")
		v, err := g.Apply(t.Context(), groupSpec(3))
		if err == nil {
			t.Fatal("no error")
		}
		hes := HostErrors(err)
		if len(hes) != 1 || hes[0].Host != "web-2" || hes[0].HostID == "" || hes[0].Op != "joining the swarm as a worker" || hes[0].Fix == "" {
			t.Fatalf("host errors %+v from %v", hes, err)
		}
		for _, want := range []string{"joining the swarm as a worker: host web-2 (digitalocean ", "manager unreachable", "2377/tcp"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not say %q: %v", want, err)
			}
		}
		if len(v.Members) != 3 || v.Ready() != 2 {
			t.Fatalf("partial view: %+v", v.Members)
		}
		for _, m := range v.Members {
			if (m.Name == "web-2") != (m.NodeID == "") || m.HostID == "" {
				t.Errorf("member %+v", m)
			}
		}
		// The next apply joins the host that exists; nothing new is created.
		delete(h.sw.failJoin, "web-2")
		calls := h.drv.count("CreateHosts")
		v, err = g.Apply(t.Context(), groupSpec(3))
		if err != nil || v.Ready() != 3 || h.drv.count("CreateHosts") != calls {
			t.Errorf("repair: %v, %d ready, %d creates", err, v.Ready(), h.drv.count("CreateHosts")-calls)
		}
	})
	t.Run("quota", func(t *testing.T) {
		h := newHarness(t)
		c := h.create(1)
		h.drv.limit = 3
		g, _ := c.NodeGroup(h.drv, "web")
		v, err := g.Apply(t.Context(), groupSpec(4))
		hes := HostErrors(err)
		if len(hes) != 2 || hes[0].Host != "web-3" || hes[1].Host != "web-4" || !errors.Is(err, cloud.ErrQuota) || !strings.Contains(err.Error(), "Raise the vendor account's host limit") {
			t.Fatalf("quota: %v", err)
		}
		if v.Ready() != 2 {
			t.Errorf("the hosts that were created should have joined: %+v", v.Members)
		}
	})
	t.Run("create cluster", func(t *testing.T) {
		h := newHarness(t)
		h.sw.failJoin["prod-manager-3"] = errors.New("join timed out")
		c, v, err := Create(t.Context(), h.drv, clusterSpec(3), h.opts)
		if err == nil || c == nil || c.State().SwarmID == "" || c.State().UID == "" {
			t.Fatalf("Create: %v; the state must come back for saving", err)
		}
		if hes := HostErrors(err); len(hes) != 1 || hes[0].Host != "prod-manager-3" || !strings.Contains(err.Error(), "joining the swarm as a manager") {
			t.Errorf("error: %v", err)
		}
		if len(v.Members) != 3 || v.Ready() != 2 {
			t.Errorf("view: %+v", v.Members)
		}
		delete(h.sw.failJoin, "prod-manager-3")
		v, err = c.Apply(t.Context(), clusterSpec(3))
		if err != nil || v.Ready() != 3 || h.drv.count("CreateHosts") != 1 {
			t.Errorf("resume: %v, %d ready", err, v.Ready())
		}
	})
	t.Run("boot", func(t *testing.T) {
		h := newHarness(t)
		c := h.create(1)
		g, _ := c.NodeGroup(h.drv, "web")
		h.sw.unreachable["web-1"] = true
		_, err := g.Apply(t.Context(), groupSpec(2))
		if hes := HostErrors(err); len(hes) != 1 || hes[0].Host != "web-1" || !strings.Contains(err.Error(), "cloud-init") {
			t.Errorf("boot failure: %v", err)
		}
	})
}

func TestCrossVendorNodeGroup(t *testing.T) {
	h := newHarness(t)
	c := h.create(1)
	aws := h.otherDriver()
	g := h.group(c, aws, 2)
	if aws.count("CreateHosts") != 1 || h.drv.count("CreateHosts") != 1 {
		t.Errorf("creates: aws %d, digitalocean %d", aws.count("CreateHosts"), h.drv.count("CreateHosts"))
	}
	v, err := g.Observe(t.Context())
	if err != nil || v.Ready() != 2 {
		t.Fatalf("observe: %v %+v", err, v)
	}
	for _, m := range v.Members {
		if m.Cloud != cloud.AWS {
			t.Errorf("member %s on %s", m.Name, m.Cloud)
		}
	}
	if err := g.Destroy(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(aws.names()) != 0 {
		t.Errorf("left on aws: %q", aws.names())
	}
}

func TestDestroy(t *testing.T) {
	h := newHarness(t)
	c := h.create(3)
	g := h.group(c, h.drv, 2)
	err := c.Destroy(t.Context(), DestroyOptions{})
	if err == nil || !strings.Contains(err.Error(), "web (web-1, web-2)") || len(h.drv.names()) != 5 {
		t.Fatalf("destroying a cluster with a node group: %v", err)
	}
	h.rec.reset()
	if err := g.Destroy(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(h.rec.matching("drain")) != 1 || len(h.rec.matching("leave")) != 2 || len(h.rec.matching("remove")) != 2 || len(h.rec.matching("delete")) != 2 {
		t.Errorf("group destroy did %q", h.rec.all())
	}
	if n, ok := h.sw.nodeOf("web-1"); ok {
		t.Errorf("web-1 still in the swarm: %+v", n)
	}
	if err := c.Destroy(t.Context(), DestroyOptions{}); err != nil {
		t.Fatal(err)
	}
	if names := h.drv.names(); len(names) != 0 {
		t.Errorf("left: %q", names)
	}
	// Destroying again finds nothing and succeeds.
	if err := c.Destroy(t.Context(), DestroyOptions{}); err != nil {
		t.Error(err)
	}
}

func TestStaleAndFailedHosts(t *testing.T) {
	h := newHarness(t)
	c := h.create(1)
	g := h.group(c, h.drv, 3)
	// web-2's host is deleted outside Haddock; web-3 fails at the vendor.
	w2 := h.drv.hostByName("web-2")
	_ = h.drv.DeleteHost(t.Context(), w2.ID)
	h.drv.setStatus("web-3", cloud.HostError)
	v, err := g.Observe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	problems := strings.Join(v.Problems(), "\n")
	if !strings.Contains(problems, "deleted outside Haddock") || !strings.Contains(problems, "failed at the vendor") {
		t.Errorf("problems: %s", problems)
	}
	h.rec.reset()
	v, err = g.Apply(t.Context(), groupSpec(3))
	if err != nil {
		t.Fatal(err)
	}
	if v.Ready() != 3 || len(v.Members) != 3 || len(v.StaleNodes) != 0 {
		t.Errorf("after repair: %+v", v.Members)
	}
	for _, want := range []string{"remove web-2", "delete web-3", "create web-2", "create web-3"} {
		if h.rec.index(want) < 0 {
			t.Errorf("repair did not %s: %q", want, h.rec.all())
		}
	}
}

func TestSettingsUpdate(t *testing.T) {
	h := newHarness(t)
	c := h.create(1)
	spec := clusterSpec(1)
	spec.Settings.Autolock = true
	spec.Settings.TaskHistoryLimit = 7
	v, err := c.Apply(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Settings.Autolock || v.Settings.TaskHistoryLimit != 7 {
		t.Errorf("settings: %+v", v.Settings)
	}
	if key, err := c.UnlockKey(t.Context()); err != nil || key == "" {
		t.Errorf("UnlockKey: %q %v", key, err)
	}
	if opts := (Settings{EncryptOverlayByDefault: true}).OverlayDriverOptions(); len(opts) != 1 {
		t.Errorf("OverlayDriverOptions = %v", opts)
	}
}

// A Create killed before its state was saved leaves managers whose uid and
// CA are lost; they still carry cloud.UnsavedTag. The next Create of that
// name deletes them (and their firewall) before it begins, instead of
// leaving them or making a second set beside them. Managers of a saved
// cluster of that name are never touched: that Create is refused and says
// what to do.
func TestCreateFindsUnsavedHosts(t *testing.T) {
	h := newHarness(t)
	fw := fakeFirewallDriver{h.drv}
	spec := clusterSpec(3)
	spec.Firewall = &FirewallPolicy{}
	killed, _, err := Create(t.Context(), fw, spec, h.opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mustList(t, h.drv, ClusterTag(killed.UID())) {
		if !cloud.Unsaved(m) {
			t.Fatalf("manager %s of an unsaved create lacks %s: %v", m.Name, cloud.UnsavedTag, m.Tags)
		}
	}
	// The process dies here: Saved is never called. The next Create of the
	// name removes what it left, then creates the cluster.
	if _, ok := fw.firewall(FirewallName(killed.UID())); !ok {
		t.Fatal("the interrupted create made no firewall: the test tests nothing of it")
	}
	// (The fake runs one swarm per test: the next cluster gets another.)
	opts := h.opts
	opts.Dial = newFakeSwarm(h.rec, h.boot).dial
	c, _, err := Create(t.Context(), fw, spec, opts)
	if err != nil {
		t.Fatalf("Create after an interrupted one: %v", err)
	}
	if got := c.Removed(); len(got) != 3 || !strings.HasPrefix(got[0], "prod-manager-") {
		t.Errorf("Removed() = %q, want the 3 managers left", got)
	}
	if left := mustList(t, h.drv, ClusterTag(killed.UID())); len(live(left)) != 0 {
		t.Errorf("%d managers of the interrupted create are left", len(live(left)))
	}
	if _, ok := fw.firewall(FirewallName(killed.UID())); ok {
		t.Error("the interrupted create's firewall is left")
	}
	if err := c.Saved(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, m := range mustList(t, h.drv, ClusterTag(c.UID())) {
		if cloud.Unsaved(m) {
			t.Errorf("manager %s keeps %s after Saved", m.Name, cloud.UnsavedTag)
		}
	}
	// A saved cluster of the name is another configuration's (or one whose
	// state was lost): refused, nothing made, nothing deleted.
	created, deletes := h.drv.count("CreateHosts"), len(h.rec.matching("delete"))
	_, _, err = Create(t.Context(), fw, spec, opts)
	if !errors.Is(err, ErrUnsavedHosts) || !strings.Contains(err.Error(), "3 host(s) named prod-manager-*") || !strings.Contains(err.Error(), "another name") {
		t.Fatalf("Create beside a saved cluster of the same name: %v", err)
	}
	if h.drv.count("CreateHosts") != created || len(h.rec.matching("delete")) != deletes {
		t.Error("the refused Create made or deleted hosts")
	}
	other := clusterSpec(1)
	other.Name = "other"
	// (The fake runs one swarm per test: only the check is of interest.)
	if _, _, err := Create(t.Context(), fw, other, h.opts); errors.Is(err, ErrUnsavedHosts) {
		t.Errorf("another name: %v", err)
	}
}

func mustList(t *testing.T, d cloud.Driver, tag string) []cloud.Host {
	t.Helper()
	hosts, err := d.ListHosts(t.Context(), tag)
	if err != nil {
		t.Fatal(err)
	}
	return hosts
}
