package netns

import (
	"net/netip"
	"strings"
	"testing"
)

func TestPrivateAddresses(t *testing.T) {
	m := &Manager{cfg: Config{PrivatePrefix: netip.MustParsePrefix("10.214.0.0/23")}, st: &state{Hosts: map[string]*hostState{}}}
	alloc := func(id, vpc string) netip.Addr {
		t.Helper()
		a, err := m.allocPrivateIP(vpc)
		if err != nil {
			t.Fatal(err)
		}
		m.st.Hosts[id] = &hostState{ID: id, VPC: vpc, PrivateIPv4: a}
		return a
	}
	do1, do2 := alloc("1", VPCName("digitalocean", "nyc3")), alloc("2", VPCName("digitalocean", "nyc3"))
	aws := alloc("3", VPCName("aws", "us-east-1"))
	if do1.String() != "10.214.0.2" || do2.String() != "10.214.0.3" || aws.String() != "10.214.1.2" {
		t.Fatalf("addresses %s %s %s", do1, do2, aws)
	}
	if _, err := m.allocPrivateIP(VPCName("digitalocean", "ams3")); err == nil {
		t.Fatal("a third VPC in a /23: want an error")
	}
	if got := strings.Join(privateRule(do1), " "); got != "-i eth0 -d 10.214.0.2/32 ! -s 10.214.0.0/24 -m comment --comment localcloud-vpc -j DROP" {
		t.Fatalf("rule %q", got)
	}
}
