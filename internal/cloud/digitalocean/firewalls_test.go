package digitalocean

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/digitalocean/godo"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

func TestFirewallRequest(t *testing.T) {
	spec := cloud.FirewallSpec{Name: "haddock-0123", TargetTag: "haddock-cluster:0123", Inbound: []cloud.FirewallRule{
		{Protocol: "tcp", Ports: cloud.Port(2377), FromTargets: true, CIDRs: []netip.Prefix{netip.MustParsePrefix("192.0.2.9/32")}},
		{Protocol: "tcp", Ports: cloud.PortRange{From: 8000, To: 8100}, CIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::/0")}},
		{Protocol: "udp", CIDRs: cloud.Anywhere()},
		{Protocol: "icmp", CIDRs: cloud.Anywhere()},
		{Protocol: "tcp", Ports: cloud.Port(22)}, // no source: left out
	}}
	req, err := fwRequest(spec)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(req)
	body := string(b)
	for _, want := range []string{
		`"droplet_ids":[]`, `"tags":["haddock-cluster:0123"]`,
		`{"protocol":"tcp","ports":"2377","sources":{"addresses":["192.0.2.9"],"tags":["haddock-cluster:0123"]}}`,
		`{"protocol":"tcp","ports":"8000-8100","sources":{"addresses":["10.0.0.0/8","::/0"]}}`,
		`{"protocol":"udp","ports":"all","sources":{"addresses":["0.0.0.0/0","::/0"]}}`,
		`{"protocol":"icmp","ports":"0","sources":{"addresses":["0.0.0.0/0","::/0"]}}`,
		`"outbound_rules":[{"protocol":"tcp","ports":"all"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the request lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, `"22"`) {
		t.Errorf("a rule without sources was sent: %s", body)
	}
	if _, err := fwRequest(cloud.FirewallSpec{Name: "x", TargetTag: "t", Inbound: []cloud.FirewallRule{{Protocol: "sctp", CIDRs: cloud.Anywhere()}}}); err == nil {
		t.Error("sctp accepted")
	}

	// What the API reports back ("0" for all ports, addresses with /32)
	// is the same firewall: no update.
	cur := &godo.Firewall{ID: "fw1", Name: req.Name, Tags: req.Tags, OutboundRules: req.OutboundRules, DropletIDs: []int{}}
	for _, r := range req.InboundRules {
		if r.PortRange == "all" {
			r.PortRange = "0"
		}
		src := *r.Sources
		for i, a := range src.Addresses {
			if !strings.Contains(a, "/") {
				src.Addresses[i] = a + "/32"
			}
		}
		r.Sources = &src
		cur.InboundRules = append(cur.InboundRules, r)
	}
	req2, _ := fwRequest(spec)
	if !fwSame(cur, req2) {
		t.Errorf("the firewall as reported differs from the request:\n%v\n%v", inboundKeys(cur.InboundRules), inboundKeys(req2.InboundRules))
	}
	spec.Inbound[0].CIDRs = nil
	req3, _ := fwRequest(spec)
	if fwSame(cur, req3) {
		t.Error("a removed source went unnoticed")
	}

	got := toFirewall(cur)
	if got.TargetTag != spec.TargetTag || len(got.Inbound) != 4 || !got.Inbound[0].FromTargets || !reflect.DeepEqual(got.Inbound[1].Ports, cloud.PortRange{From: 8000, To: 8100}) || !got.Inbound[2].Ports.All() {
		t.Errorf("read back: %+v", got)
	}
}
