package digitalocean

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/godo"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
)

type rule = localcloud.FirewallRule

// fwBody is a valid create body: SSH from a range, for droplets tagged web.
func fwBody() map[string]any {
	return map[string]any{
		"name":           "web-fw",
		"inbound_rules":  []any{map[string]any{"protocol": "tcp", "ports": "22", "sources": map[string]any{"addresses": []string{"203.0.113.0/24"}}}},
		"outbound_rules": []any{map[string]any{"protocol": "tcp", "ports": "all", "destinations": map[string]any{"addresses": []string{"0.0.0.0/0", "::/0"}}}},
		"tags":           []string{"web"},
	}
}

func createFirewall(t *testing.T, s *Server, body map[string]any) map[string]any {
	t.Helper()
	r := call(t, s, "POST", "/v2/firewalls", body)
	if r.status != http.StatusAccepted {
		t.Fatalf("create firewall: %d %s", r.status, r.raw)
	}
	return obj(r.body["firewall"])
}

func inRule(protocol, ports string, sources map[string]any) map[string]any {
	return map[string]any{"protocol": protocol, "ports": ports, "sources": sources}
}

// dropletSources is what a firewall source naming droplet id resolves to:
// its addresses as the API shows them.
func dropletSources(t *testing.T, s *Server, id int) []netip.Prefix {
	t.Helper()
	nets := obj(waitStatus(t, s, id, "active")["networks"])
	var out []netip.Prefix
	for _, n := range append(list(nets["v4"]), list(nets["v6"])...) {
		ip := netip.MustParseAddr(str(obj(n)["ip_address"]))
		out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
	}
	return out
}

func pfx(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func cat(ps ...[]netip.Prefix) []netip.Prefix { return slices.Concat(ps...) }

// waitFirewall waits until the backend has want for host id (nil: no
// filter), compared order-insensitively.
func waitFirewall(t *testing.T, be *MemoryBackend, id int, want []rule) {
	t.Helper()
	want = localcloud.CanonicalFirewallRules(want)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, set := be.HostFirewall(id)
		if !set {
			got = nil
		} else if got == nil {
			got = []rule{}
		}
		got = localcloud.CanonicalFirewallRules(got)
		if localcloud.SameFirewallRules(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("droplet %d: firewall %v (set %v), want %v", id, got, set, want)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestParsePorts(t *testing.T) {
	cases := []struct {
		protocol, ports string
		canon           string
		from, to        int
		bad             bool
	}{
		{"tcp", "all", "0", 0, 0, false},
		{"tcp", "0", "0", 0, 0, false},
		{"udp", "53", "53", 53, 53, false},
		{"tcp", "8000-9000", "8000-9000", 8000, 9000, false},
		{"tcp", "1-65535", "1-65535", 1, 65535, false},
		{"icmp", "", "0", 0, 0, false},
		{"icmp", "0", "0", 0, 0, false},
		{"tcp", "", "", 0, 0, true},
		{"tcp", "65536", "", 0, 0, true},
		{"tcp", "0-80", "", 0, 0, true},
		{"tcp", "90-80", "", 0, 0, true},
		{"tcp", "80-", "", 0, 0, true},
		{"tcp", "http", "", 0, 0, true},
		{"icmp", "22", "", 0, 0, true},
		{"icmp", "all", "", 0, 0, true},
	}
	for _, c := range cases {
		canon, from, to, msg := parsePorts(c.protocol, c.ports)
		if (msg != "") != c.bad || canon != c.canon || from != c.from || to != c.to {
			t.Errorf("%s %q: %q %d-%d %q, want %q %d-%d bad %v", c.protocol, c.ports, canon, from, to, msg, c.canon, c.from, c.to, c.bad)
		}
	}
}

func TestFirewallValidation(t *testing.T) {
	s := newTestServer(t, testConfig{})
	d := num(obj(createDroplet(t, s, map[string]any{"name": "a"})["droplet"])["id"])
	fw := str(createFirewall(t, s, fwBody())["id"])
	base := "/v2/firewalls/" + fw

	with := func(k string, v any) map[string]any {
		b := fwBody()
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
		return b
	}
	inbound := func(r map[string]any) map[string]any { return with("inbound_rules", []any{r}) }
	cases := []struct {
		name         string
		method, path string
		body         any
		field        string // the message names it
	}{
		{"no name", "POST", "/v2/firewalls", with("name", nil), "name"},
		{"name too short", "POST", "/v2/firewalls", with("name", "a"), "name"},
		{"name starts with a dash", "POST", "/v2/firewalls", with("name", "-fw"), "name"},
		{"name with a space", "POST", "/v2/firewalls", with("name", "my fw"), "name"},
		{"name too long", "POST", "/v2/firewalls", with("name", strings.Repeat("a", 256)), "name"},
		{"no rules", "POST", "/v2/firewalls", map[string]any{"name": "fw", "tags": []string{"web"}}, "inbound_rules"},
		{"no protocol", "POST", "/v2/firewalls", inbound(inRule("", "22", map[string]any{"addresses": []string{"1.2.3.4"}})), "inbound_rules[0].protocol"},
		{"unknown protocol", "POST", "/v2/firewalls", inbound(inRule("sctp", "22", map[string]any{"addresses": []string{"1.2.3.4"}})), "inbound_rules[0].protocol"},
		{"tcp without ports", "POST", "/v2/firewalls", inbound(inRule("tcp", "", map[string]any{"addresses": []string{"1.2.3.4"}})), "inbound_rules[0].ports"},
		{"port out of range", "POST", "/v2/firewalls", inbound(inRule("tcp", "70000", map[string]any{"addresses": []string{"1.2.3.4"}})), "inbound_rules[0].ports"},
		{"reversed range", "POST", "/v2/firewalls", inbound(inRule("udp", "90-80", map[string]any{"addresses": []string{"1.2.3.4"}})), "inbound_rules[0].ports"},
		{"icmp with ports", "POST", "/v2/firewalls", inbound(inRule("icmp", "22", map[string]any{"addresses": []string{"1.2.3.4"}})), "inbound_rules[0].ports"},
		{"no sources", "POST", "/v2/firewalls", inbound(map[string]any{"protocol": "tcp", "ports": "22"}), "inbound_rules[0].sources"},
		{"empty sources", "POST", "/v2/firewalls", inbound(inRule("tcp", "22", map[string]any{"addresses": []string{}})), "inbound_rules[0].sources"},
		{"bad address", "POST", "/v2/firewalls", inbound(inRule("tcp", "22", map[string]any{"addresses": []string{"1.2.3"}})), "inbound_rules[0].sources.addresses"},
		{"unknown source droplet", "POST", "/v2/firewalls", inbound(inRule("tcp", "22", map[string]any{"droplet_ids": []int{d + 100}})), "inbound_rules[0].sources.droplet_ids"},
		{"unknown load balancer", "POST", "/v2/firewalls", inbound(inRule("tcp", "22", map[string]any{"load_balancer_uids": []string{"4de7ac8b-495b-4884-9a69-1050c6793cd6"}})), "inbound_rules[0].sources.load_balancer_uids"},
		{"kubernetes cluster", "POST", "/v2/firewalls", inbound(inRule("tcp", "22", map[string]any{"kubernetes_ids": []string{"41b74c5d-9bd0-5555-5555-a57c495b81a3"}})), "inbound_rules[0].sources.kubernetes_ids"},
		{"bad source tag", "POST", "/v2/firewalls", inbound(inRule("tcp", "22", map[string]any{"tags": []string{"no spaces"}})), "inbound_rules[0].sources.tags"},
		{"deny rule", "POST", "/v2/firewalls", inbound(map[string]any{"protocol": "tcp", "ports": "22", "action": "deny", "sources": map[string]any{"addresses": []string{"1.2.3.4"}}}), "inbound_rules[0].action"},
		{"no destinations", "POST", "/v2/firewalls", with("outbound_rules", []any{map[string]any{"protocol": "tcp", "ports": "80"}}), "outbound_rules[0].destinations"},
		{"outbound protocol", "POST", "/v2/firewalls", with("outbound_rules", []any{map[string]any{"protocol": "gre", "ports": "80", "destinations": map[string]any{"addresses": []string{"0.0.0.0/0"}}}}), "outbound_rules[0].protocol"},
		{"unknown droplet", "POST", "/v2/firewalls", with("droplet_ids", []int{d + 100}), "droplet_ids"},
		{"bad tag", "POST", "/v2/firewalls", with("tags", []string{"a/b"}), "tags"},
		{"update: no name", "PUT", base, with("name", ""), "name"},
		{"update: bad ports", "PUT", base, inbound(inRule("tcp", "x", map[string]any{"addresses": []string{"1.2.3.4"}})), "inbound_rules[0].ports"},
		{"add droplets: none", "POST", base + "/droplets", map[string]any{"droplet_ids": []int{}}, "droplet_ids"},
		{"add droplets: unknown", "POST", base + "/droplets", map[string]any{"droplet_ids": []int{d, d + 100}}, "droplet_ids"},
		{"add tags: none", "POST", base + "/tags", map[string]any{}, "tags"},
		{"add tags: bad", "POST", base + "/tags", map[string]any{"tags": []string{"a b"}}, "tags"},
		{"add rules: none", "POST", base + "/rules", map[string]any{"inbound_rules": []any{}}, "inbound_rules"},
		{"add rules: bad", "POST", base + "/rules", map[string]any{"outbound_rules": []any{map[string]any{"protocol": "tcp", "ports": "80", "destinations": map[string]any{}}}}, "outbound_rules[0].destinations"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := call(t, s, c.method, c.path, c.body)
			if r.status != http.StatusUnprocessableEntity || r.body["id"] != "unprocessable_entity" || !strings.Contains(str(r.body["message"]), c.field) {
				t.Errorf("%d %s, want 422 naming %s", r.status, r.raw, c.field)
			}
		})
	}

	// Refusals changed nothing.
	r := call(t, s, "GET", base, nil)
	got := obj(r.body["firewall"])
	if got["name"] != "web-fw" || len(list(got["inbound_rules"])) != 1 || len(list(got["droplet_ids"])) != 0 || len(list(got["tags"])) != 1 {
		t.Errorf("after refusals: %s", r.raw)
	}
	if r := call(t, s, "GET", "/v2/firewalls", nil); num(obj(r.body["meta"])["total"]) != 1 {
		t.Errorf("firewalls: %s", r.raw)
	}

	for _, c := range []struct{ method, path string }{
		{"GET", "/v2/firewalls/nope"}, {"PUT", "/v2/firewalls/nope"}, {"DELETE", "/v2/firewalls/nope"},
		{"POST", "/v2/firewalls/nope/droplets"}, {"DELETE", "/v2/firewalls/nope/tags"}, {"POST", "/v2/firewalls/nope/rules"},
		{"GET", "/v2/droplets/999999/firewalls"},
	} {
		body := any(fwBody())
		if c.method == "GET" {
			body = nil
		}
		if r := call(t, s, c.method, c.path, body); r.status != http.StatusNotFound {
			t.Errorf("%s %s: %d %s, want 404", c.method, c.path, r.status, r.raw)
		}
	}
	if r := callRaw(t, s, "POST", "/v2/firewalls", "{"); r.status != http.StatusBadRequest {
		t.Errorf("invalid JSON: %d %s", r.status, r.raw)
	}
}

// callRaw sends body as it is.
func callRaw(t *testing.T, s http.Handler, method, path, body string) resp {
	t.Helper()
	req := httptest.NewRequest(method, "http://lc.test"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return resp{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
}

// The wire shape: canonical ports, defaults, links and meta.
func TestFirewallShape(t *testing.T) {
	s := newTestServer(t, testConfig{})
	body := fwBody()
	body["inbound_rules"] = []any{
		inRule("tcp", "all", map[string]any{"addresses": []string{"0.0.0.0/0"}}),
		map[string]any{"protocol": "icmp", "sources": map[string]any{"tags": []string{"web"}}},
	}
	body["tags"] = []string{"web", "WEB", "db"}
	fw := createFirewall(t, s, body)
	ins := list(fw["inbound_rules"])
	if fw["status"] != "succeeded" || len(list(fw["pending_changes"])) != 0 || fw["created_at"] == "" || len(ins) != 2 {
		t.Fatalf("created: %v", fw)
	}
	if p := obj(ins[0])["ports"]; p != "0" {
		t.Errorf("all ports: %v, want \"0\"", p)
	}
	if p := obj(ins[1])["ports"]; p != "0" {
		t.Errorf("icmp ports: %v, want \"0\"", p)
	}
	if tags := list(fw["tags"]); len(tags) != 2 {
		t.Errorf("tags %v: duplicates are dropped, case-insensitively", tags)
	}
	if _, ok := obj(obj(ins[0])["sources"])["droplet_ids"]; ok {
		t.Errorf("empty source kinds are left out: %v", ins[0])
	}
	for range 2 {
		createFirewall(t, s, fwBody())
	}
	r := call(t, s, "GET", "/v2/firewalls?per_page=2", nil)
	if len(list(r.body["firewalls"])) != 2 || num(obj(r.body["meta"])["total"]) != 3 || obj(obj(r.body["links"])["pages"])["next"] == nil {
		t.Errorf("page 1: %s", r.raw)
	}
	if r := call(t, s, "DELETE", "/v2/firewalls/"+str(fw["id"]), nil); r.status != http.StatusNoContent {
		t.Errorf("delete: %d", r.status)
	}
	if r := call(t, s, "GET", "/v2/firewalls/"+str(fw["id"]), nil); r.status != http.StatusNotFound {
		t.Errorf("deleted: %d", r.status)
	}
}

// Every call of godo's FirewallsService works as it is.
func TestFirewallsGodo(t *testing.T) {
	run, err := start(t.Context(), testConfig{Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = run.Close() })
	c, err := godo.New(&http.Client{Transport: bearer(testToken), Timeout: 10 * time.Second}, godo.SetBaseURL(run.URL+"/"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	s := run.Server
	a := num(obj(createDroplet(t, s, map[string]any{"name": "a", "tags": []string{"web"}})["droplet"])["id"])
	b := num(obj(createDroplet(t, s, map[string]any{"name": "b"})["droplet"])["id"])

	fw, _, err := c.Firewalls.Create(ctx, &godo.FirewallRequest{
		Name:          "web-fw",
		InboundRules:  []godo.InboundRule{{Protocol: "tcp", PortRange: "443", Sources: &godo.Sources{Addresses: []string{"0.0.0.0/0", "::/0"}}}},
		OutboundRules: []godo.OutboundRule{{Protocol: "icmp", Destinations: &godo.Destinations{Addresses: []string{"0.0.0.0/0"}}}},
		Tags:          []string{"web"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if fw.ID == "" || fw.Status != "succeeded" || fw.Created == "" || len(fw.DropletIDs) != 0 || fw.OutboundRules[0].PortRange != "0" {
		t.Errorf("created %+v", fw)
	}
	got, _, err := c.Firewalls.Get(ctx, fw.ID)
	if err != nil || got.Name != "web-fw" || !slices.Equal(got.Tags, []string{"web"}) {
		t.Errorf("get: %+v %v", got, err)
	}
	fws, resp, err := c.Firewalls.List(ctx, &godo.ListOptions{PerPage: 10})
	if err != nil || len(fws) != 1 || resp.Meta == nil || resp.Meta.Total != 1 {
		t.Errorf("list: %v %+v %v", fws, resp, err)
	}
	if fws, _, err := c.Firewalls.ListByDroplet(ctx, a, nil); err != nil || len(fws) != 1 {
		t.Errorf("droplet a's firewalls: %v %v", fws, err)
	}
	if fws, _, err := c.Firewalls.ListByDroplet(ctx, b, nil); err != nil || len(fws) != 0 {
		t.Errorf("droplet b's firewalls: %v %v", fws, err)
	}

	if _, err := c.Firewalls.AddDroplets(ctx, fw.ID, b); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Firewalls.AddTags(ctx, fw.ID, "db"); err != nil {
		t.Fatal(err)
	}
	extra := &godo.FirewallRulesRequest{InboundRules: []godo.InboundRule{{Protocol: "udp", PortRange: "8000-9000", Sources: &godo.Sources{DropletIDs: []int{a}, Tags: []string{"db"}}}}}
	if _, err := c.Firewalls.AddRules(ctx, fw.ID, extra); err != nil {
		t.Fatal(err)
	}
	got, _, _ = c.Firewalls.Get(ctx, fw.ID)
	if !slices.Equal(got.DropletIDs, []int{b}) || !slices.Equal(got.Tags, []string{"web", "db"}) || len(got.InboundRules) != 2 {
		t.Errorf("after adding: %+v", got)
	}
	// A rule is removed whatever the order of its sources.
	extra.InboundRules[0].Sources = &godo.Sources{Tags: []string{"db"}, DropletIDs: []int{a}}
	if _, err := c.Firewalls.RemoveRules(ctx, fw.ID, extra); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Firewalls.RemoveDroplets(ctx, fw.ID, b); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Firewalls.RemoveTags(ctx, fw.ID, "db"); err != nil {
		t.Fatal(err)
	}
	got, _, _ = c.Firewalls.Get(ctx, fw.ID)
	if len(got.DropletIDs) != 0 || !slices.Equal(got.Tags, []string{"web"}) || len(got.InboundRules) != 1 {
		t.Errorf("after removing: %+v", got)
	}

	up, _, err := c.Firewalls.Update(ctx, fw.ID, &godo.FirewallRequest{
		Name:         "web-fw-2",
		InboundRules: []godo.InboundRule{{Protocol: "tcp", PortRange: "22", Sources: &godo.Sources{DropletIDs: []int{b}}}},
		DropletIDs:   []int{a},
	})
	if err != nil {
		t.Fatal(err)
	}
	// PUT replaces everything: the tags and outbound rules are gone.
	if up.ID != fw.ID || up.Name != "web-fw-2" || len(up.Tags) != 0 || len(up.OutboundRules) != 0 || !slices.Equal(up.DropletIDs, []int{a}) {
		t.Errorf("updated %+v", up)
	}

	_, _, err = c.Firewalls.Create(ctx, &godo.FirewallRequest{Name: "x"})
	var er *godo.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != 422 || er.Message == "" {
		t.Errorf("invalid create: %v", err)
	}
	if _, err := c.Firewalls.Delete(ctx, fw.ID); err != nil {
		t.Fatal(err)
	}
	if _, resp, err := c.Firewalls.Get(ctx, fw.ID); err == nil || resp.StatusCode != 404 {
		t.Errorf("get deleted: %v", err)
	}
}

type bearer string

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}

// The backend gets each droplet's effective rules, following droplets,
// tags, load balancers and firewalls as they change.
func TestFirewallEffectiveRules(t *testing.T) {
	be := NewMemoryBackend()
	s := newTestServer(t, testConfig{Backend: be})
	id := func(body map[string]any) int { return num(obj(createDroplet(t, s, body)["droplet"])["id"]) }
	web1 := id(map[string]any{"name": "web1", "tags": []string{"web"}})
	web2 := id(map[string]any{"name": "web2", "tags": []string{"WEB"}, "ipv6": true})
	db := id(map[string]any{"name": "db", "tags": []string{"db"}})
	bastion := id(map[string]any{"name": "bastion"})
	src := map[int][]netip.Prefix{}
	for _, d := range []int{web1, web2, db, bastion} {
		src[d] = dropletSources(t, s, d)
	}
	if len(src[web2]) != 3 || len(src[web1]) != 2 {
		t.Fatalf("sources: %v", src)
	}

	r := call(t, s, "POST", "/v2/load_balancers", map[string]any{
		"name": "lb", "region": "nyc3", "droplet_ids": []int{web1},
		"forwarding_rules": []any{map[string]any{"entry_protocol": "http", "entry_port": 80, "target_protocol": "http", "target_port": 8080}},
	})
	if r.status != http.StatusAccepted {
		t.Fatalf("load balancer: %d %s", r.status, r.raw)
	}
	lbID := str(obj(r.body["load_balancer"])["id"])
	var lbIP string
	for deadline := time.Now().Add(5 * time.Second); lbIP == "" && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		lbIP = str(obj(call(t, s, "GET", "/v2/load_balancers/"+lbID, nil).body["load_balancer"])["ip"])
	}
	lb := pfx(lbIP + "/32")

	// web: HTTP from the load balancer, 8080 among themselves, SSH from
	// the bastion and a range. db: 5432 from web, by tag; the bastion by
	// id.
	webFW := str(createFirewall(t, s, map[string]any{
		"name": "web", "tags": []string{"web"},
		"inbound_rules": []any{
			inRule("tcp", "80", map[string]any{"load_balancer_uids": []string{lbID}}),
			inRule("tcp", "8080", map[string]any{"tags": []string{"web"}}),
			inRule("tcp", "22", map[string]any{"droplet_ids": []int{bastion}, "addresses": []string{"203.0.113.7", "198.51.100.0/24", "2001:db8::/32"}}),
		},
	})["id"])
	createFirewall(t, s, map[string]any{
		"name": "db", "tags": []string{"db"}, "droplet_ids": []int{bastion},
		"inbound_rules": []any{
			inRule("tcp", "5432", map[string]any{"tags": []string{"Web"}}), // tags match case-insensitively
			inRule("tcp", "22", map[string]any{"droplet_ids": []int{bastion}}),
			map[string]any{"protocol": "icmp", "sources": map[string]any{"tags": []string{"nobody-yet"}}},
			inRule("udp", "all", map[string]any{"addresses": []string{"10.0.0.1/8"}}),
		},
		"outbound_rules": []any{map[string]any{"protocol": "tcp", "ports": "1-1024", "destinations": map[string]any{"addresses": []string{"192.0.2.1"}}}},
	})
	webRules := func(webs ...int) []rule {
		var w []netip.Prefix
		for _, d := range webs {
			w = append(w, src[d]...)
		}
		return []rule{
			{Protocol: "tcp", FromPort: 80, ToPort: 80, Sources: lb},
			{Protocol: "tcp", FromPort: 8080, ToPort: 8080, Sources: w},
			{Protocol: "tcp", FromPort: 22, ToPort: 22, Sources: cat(src[bastion], pfx("203.0.113.7/32", "198.51.100.0/24", "2001:db8::/32"))},
		}
	}
	dbRules := func(webs ...int) []rule {
		var w []netip.Prefix
		for _, d := range webs {
			w = append(w, src[d]...)
		}
		return []rule{
			{Protocol: "tcp", FromPort: 5432, ToPort: 5432, Sources: w},
			{Protocol: "tcp", FromPort: 22, ToPort: 22, Sources: src[bastion]},
			{Protocol: "icmp"}, // a tag no droplet carries admits nobody
			{Protocol: "udp", Sources: pfx("10.0.0.0/8")},
		}
	}
	waitFirewall(t, be, web1, webRules(web1, web2))
	waitFirewall(t, be, web2, webRules(web1, web2))
	waitFirewall(t, be, db, dbRules(web1, web2))
	waitFirewall(t, be, bastion, dbRules(web1, web2)) // by id

	t.Run("tag added later", func(t *testing.T) {
		res := map[string]any{"resources": []map[string]string{{"resource_id": strconv.Itoa(db), "resource_type": "droplet"}}}
		if r := call(t, s, "POST", "/v2/tags", map[string]any{"name": "web"}); r.status != http.StatusCreated {
			t.Fatalf("tag: %d", r.status)
		}
		if r := call(t, s, "POST", "/v2/tags/web/resources", res); r.status != http.StatusNoContent {
			t.Fatalf("tag resources: %d %s", r.status, r.raw)
		}
		both := append(webRules(web1, web2, db), dbRules(web1, web2, db)...)
		waitFirewall(t, be, db, both)
		waitFirewall(t, be, web1, webRules(web1, web2, db))
		waitFirewall(t, be, bastion, dbRules(web1, web2, db))
		if r := call(t, s, "DELETE", "/v2/tags/web/resources", res); r.status != http.StatusNoContent {
			t.Fatalf("untag: %d", r.status)
		}
		waitFirewall(t, be, db, dbRules(web1, web2))
		waitFirewall(t, be, web1, webRules(web1, web2))
	})

	var web3 int
	t.Run("new droplet with the tag", func(t *testing.T) {
		web3 = id(map[string]any{"name": "web3", "tags": []string{"web"}})
		src[web3] = dropletSources(t, s, web3)
		// Active means filtered (see TestFirewallBeforeActive).
		if _, set := be.HostFirewall(web3); !set {
			t.Error("web3 active without its filter")
		}
		waitFirewall(t, be, web3, webRules(web1, web2, web3))
		waitFirewall(t, be, web1, webRules(web1, web2, web3))
		waitFirewall(t, be, db, dbRules(web1, web2, web3))
	})

	t.Run("droplet deleted", func(t *testing.T) {
		if r := call(t, s, "DELETE", "/v2/droplets/"+strconv.Itoa(web2), nil); r.status != http.StatusNoContent {
			t.Fatalf("delete: %d", r.status)
		}
		waitFirewall(t, be, web1, webRules(web1, web3))
		waitFirewall(t, be, db, dbRules(web1, web3))
	})

	t.Run("load balancer deleted", func(t *testing.T) {
		if r := call(t, s, "DELETE", "/v2/load_balancers/"+lbID, nil); r.status != http.StatusNoContent {
			t.Fatalf("delete: %d", r.status)
		}
		want := webRules(web1, web3)
		want[0].Sources = nil // the rule stays and admits nobody
		waitFirewall(t, be, web1, want)
		if rules := list(obj(call(t, s, "GET", "/v2/firewalls/"+webFW, nil).body["firewall"])["inbound_rules"]); len(rules) != 3 {
			t.Errorf("rules: %v", rules)
		}
	})

	t.Run("firewalls deleted", func(t *testing.T) {
		for _, fw := range list(call(t, s, "GET", "/v2/firewalls", nil).body["firewalls"]) {
			if r := call(t, s, "DELETE", "/v2/firewalls/"+str(obj(fw)["id"]), nil); r.status != http.StatusNoContent {
				t.Fatalf("delete: %d", r.status)
			}
		}
		for _, d := range []int{web1, web3, db, bastion} {
			waitFirewall(t, be, d, nil)
		}
	})
}

// fwBackend counts the rules each host gets, and can fail them or make
// them wait.
type fwBackend struct {
	*recordingBackend
	mu    sync.Mutex
	n     map[int]int
	fail  bool
	block chan struct{} // SetHostFirewall waits on it when not nil
}

func newFWBackend() *fwBackend {
	return &fwBackend{recordingBackend: &recordingBackend{MemoryBackend: NewMemoryBackend()}, n: map[int]int{}}
}

func (b *fwBackend) SetHostFirewall(ctx context.Context, id int, rules []rule) error {
	b.mu.Lock()
	fail, block := b.fail, b.block
	b.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fail {
		return errors.New("iptables-restore: exit status 1")
	}
	b.mu.Lock()
	b.n[id]++
	b.mu.Unlock()
	return b.MemoryBackend.SetHostFirewall(ctx, id, rules)
}

func (b *fwBackend) set(f func(b *fwBackend)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f(b)
}

func (b *fwBackend) counts() map[int]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[int]int{}
	for k, v := range b.n {
		out[k] = v
	}
	return out
}

// A change pushes only the droplets whose rules it changed, and a
// backend's error is logged, not answered.
func TestFirewallPushesChangesOnly(t *testing.T) {
	be := newFWBackend()
	var logMu sync.Mutex
	var logs []string
	s := newTestServer(t, testConfig{Backend: be, Logf: func(f string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		logs = append(logs, f)
	}})
	a := num(obj(createDroplet(t, s, map[string]any{"name": "a", "tags": []string{"a"}})["droplet"])["id"])
	b := num(obj(createDroplet(t, s, map[string]any{"name": "b", "tags": []string{"b"}})["droplet"])["id"])
	waitStatus(t, s, a, "active")
	waitStatus(t, s, b, "active")
	body := func(tag, ports string) map[string]any {
		return map[string]any{"name": "fw-" + tag, "tags": []string{tag}, "inbound_rules": []any{inRule("tcp", ports, map[string]any{"addresses": []string{"192.0.2.0/24"}})}}
	}
	fa := str(createFirewall(t, s, body("a", "80"))["id"])
	fb := str(createFirewall(t, s, body("b", "80"))["id"])
	waitFirewall(t, be.MemoryBackend, a, []rule{{Protocol: "tcp", FromPort: 80, ToPort: 80, Sources: pfx("192.0.2.0/24")}})
	before := be.counts()

	if r := call(t, s, "PUT", "/v2/firewalls/"+fb, body("b", "443")); r.status != http.StatusOK {
		t.Fatalf("update: %d %s", r.status, r.raw)
	}
	waitFirewall(t, be.MemoryBackend, b, []rule{{Protocol: "tcp", FromPort: 443, ToPort: 443, Sources: pfx("192.0.2.0/24")}})
	// The same rules again, in another order: nothing to push.
	if r := call(t, s, "PUT", "/v2/firewalls/"+fa, body("a", "80")); r.status != http.StatusOK {
		t.Fatalf("update: %d %s", r.status, r.raw)
	}
	after := be.counts()
	if after[a] != before[a] || after[b] != before[b]+1 {
		t.Errorf("pushes before %v, after %v: want one more for droplet %d only", before, after, b)
	}

	be.set(func(b *fwBackend) { b.fail = true })
	if r := call(t, s, "PUT", "/v2/firewalls/"+fa, body("a", "8080")); r.status != http.StatusOK {
		t.Fatalf("update with a failing backend: %d %s", r.status, r.raw)
	}
	logMu.Lock()
	logged := len(logs)
	logMu.Unlock()
	if logged == 0 {
		t.Error("the backend's error was not logged")
	}
	// The next change retries what failed.
	be.set(func(b *fwBackend) { b.fail = false })
	call(t, s, "PUT", "/v2/firewalls/"+fb, body("b", "444"))
	waitFirewall(t, be.MemoryBackend, a, []rule{{Protocol: "tcp", FromPort: 8080, ToPort: 8080, Sources: pfx("192.0.2.0/24")}})
}

// A droplet a firewall names gets its filter before it is provisioned,
// again once it is, and shows "active" only after that.
func TestFirewallBeforeActive(t *testing.T) {
	be := newFWBackend()
	be.gate = make(chan struct{})
	s := newTestServer(t, testConfig{Backend: be})
	createFirewall(t, s, fwBody())
	id := num(obj(createDroplet(t, s, map[string]any{"name": "w", "tags": []string{"web"}})["droplet"])["id"])
	want := []rule{{Protocol: "tcp", FromPort: 22, ToPort: 22, Sources: pfx("203.0.113.0/24")}}
	waitFirewall(t, be.MemoryBackend, id, want) // Provision is still waiting

	release := make(chan struct{})
	be.set(func(b *fwBackend) { b.block = release })
	close(be.gate)
	waitProvisioned(t, s, id)
	time.Sleep(50 * time.Millisecond)
	if st := obj(call(t, s, "GET", "/v2/droplets/"+strconv.Itoa(id), nil).body["droplet"])["status"]; st != "new" {
		t.Errorf("provisioned, its rules not pushed again yet: status %v, want new", st)
	}
	close(release)
	waitStatus(t, s, id, "active")
	if n := be.counts()[id]; n != 2 {
		t.Errorf("droplet %d got its rules %d times, want 2 (before and after provisioning)", id, n)
	}

	// A droplet in no firewall is not filtered, and shows active at once.
	other := num(obj(createDroplet(t, s, map[string]any{"name": "x"})["droplet"])["id"])
	waitStatus(t, s, other, "active")
	if r, set := be.HostFirewall(other); set {
		t.Errorf("droplet in no firewall filtered: %v", r)
	}
}

func TestFirewallPersistence(t *testing.T) {
	dir := t.TempDir()
	s1 := openTestServer(t, testConfig{StateDir: dir})
	a := num(obj(createDroplet(t, s1, map[string]any{"name": "a", "tags": []string{"web"}})["droplet"])["id"])
	b := num(obj(createDroplet(t, s1, map[string]any{"name": "b"})["droplet"])["id"])
	waitStatus(t, s1, a, "active")
	waitStatus(t, s1, b, "active")
	body := fwBody()
	body["droplet_ids"] = []int{b}
	body["inbound_rules"] = []any{
		inRule("tcp", "22", map[string]any{"addresses": []string{"203.0.113.0/24"}}),
		inRule("udp", "53", map[string]any{"droplet_ids": []int{a}, "tags": []string{"web"}}),
	}
	createFirewall(t, s1, body)
	before := call(t, s1, "GET", "/v2/firewalls", nil).raw
	wantA := []rule{
		{Protocol: "tcp", FromPort: 22, ToPort: 22, Sources: pfx("203.0.113.0/24")},
		{Protocol: "udp", FromPort: 53, ToPort: 53, Sources: dropletSources(t, s1, a)},
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	be := NewMemoryBackend() // a backend that restarted: it has no rules
	s2 := openTestServer(t, testConfig{StateDir: dir, Backend: be})
	if after := call(t, s2, "GET", "/v2/firewalls", nil).raw; after != before {
		t.Errorf("firewalls after a restart:\n got %s\nwant %s", after, before)
	}
	waitFirewall(t, be, a, wantA)
	waitFirewall(t, be, b, wantA)
}
