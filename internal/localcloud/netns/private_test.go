package netns

import (
	"net/netip"
	"strings"
	"testing"
)

func TestPrivateAddresses(t *testing.T) {
	m := &Manager{cfg: Config{
		Subnet:        netip.MustParsePrefix("10.213.0.0/24"),
		PrivatePrefix: netip.MustParsePrefix("10.216.0.0/23"),
	}, st: &state{Hosts: map[string]*hostState{}}}
	tests := []struct {
		vpc, public, want string
	}{
		{VPCName("digitalocean", "nyc3"), "10.213.0.2", "10.216.0.2"},
		{VPCName("digitalocean", "nyc3"), "10.213.0.77", "10.216.0.77"},
		{VPCName("aws", "us-east-1"), "10.213.0.3", "10.216.1.3"},
		// The same public address in another VPC: a host destroyed and
		// one of the other vendor created in its place.
		{VPCName("aws", "us-east-1"), "10.213.0.2", "10.216.1.2"},
	}
	for _, tt := range tests {
		got, err := m.privateAddr(tt.vpc, netip.MustParseAddr(tt.public))
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != tt.want {
			t.Errorf("privateAddr(%s, %s) = %s, want %s", tt.vpc, tt.public, got, tt.want)
		}
	}
	if _, err := m.privateAddr(VPCName("digitalocean", "ams3"), netip.MustParseAddr("10.213.0.2")); err == nil {
		t.Fatal("a third VPC in a /23: want an error")
	}
	if got := strings.Join(privateRule(netip.MustParseAddr("10.216.0.2"), 24), " "); got != "-i eth0 -d 10.216.0.2/32 ! -s 10.216.0.0/24 -m comment --comment localcloud-vpc -j DROP" {
		t.Fatalf("rule %q", got)
	}
}

// TestHostMAC: one MAC per address, locally administered unicast, apart
// from the bridge's (02:68:64:…).
func TestHostMAC(t *testing.T) {
	for ip, want := range map[string]string{
		"10.213.0.7":   "02:6c:0a:d5:00:07",
		"10.214.3.254": "02:6c:0a:d6:03:fe",
	} {
		if got := hostMAC(netip.MustParseAddr(ip)); got != want {
			t.Errorf("hostMAC(%s) = %s, want %s", ip, got, want)
		}
	}
}
