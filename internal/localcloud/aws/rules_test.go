package aws

import (
	"net/netip"
	"strconv"
	"testing"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
)

func pfx(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func intp(n int) *int { return &n }

// TestAdmits maps single ingress rules, as EC2 keeps them, to the
// backend's rules: protocols, ports, CIDRs and group sources.
func TestAdmits(t *testing.T) {
	members := pfx("10.116.0.2/32", "198.18.0.2/32", "fd00::2/128")
	type fw = localcloud.FirewallRule
	cases := []struct {
		name string
		r    rule
		want []fw
	}{
		{"tcp port from anywhere", rule{Proto: "tcp", From: intp(22), To: intp(22), CIDR: "0.0.0.0/0"},
			[]fw{{Protocol: "tcp", FromPort: 22, ToPort: 22, Sources: pfx("0.0.0.0/0")}}},
		{"tcp range from a CIDR, masked", rule{Proto: "tcp", From: intp(8000), To: intp(8100), CIDR: "203.0.113.7/24"},
			[]fw{{Protocol: "tcp", FromPort: 8000, ToPort: 8100, Sources: pfx("203.0.113.0/24")}}},
		{"udp from IPv6", rule{Proto: "udp", From: intp(53), To: intp(53), CIDRv6: "2001:db8::/32"},
			[]fw{{Protocol: "udp", FromPort: 53, ToPort: 53, Sources: pfx("2001:db8::/32")}}},
		{"tcp 0-65535 is every port", rule{Proto: "tcp", From: intp(0), To: intp(65535), CIDR: "10.0.0.0/8"},
			[]fw{{Protocol: "tcp", Sources: pfx("10.0.0.0/8")}}},
		{"tcp 1-65535 is every port", rule{Proto: "tcp", From: intp(1), To: intp(65535), CIDR: "10.0.0.0/8"},
			[]fw{{Protocol: "tcp", Sources: pfx("10.0.0.0/8")}}},
		{"tcp 0-80 starts at 1", rule{Proto: "tcp", From: intp(0), To: intp(80), CIDR: "10.0.0.0/8"},
			[]fw{{Protocol: "tcp", FromPort: 1, ToPort: 80, Sources: pfx("10.0.0.0/8")}}},
		{"tcp 0-0 admits nothing", rule{Proto: "tcp", From: intp(0), To: intp(0), CIDR: "10.0.0.0/8"}, nil},
		{"tcp from the group's members", rule{Proto: "tcp", From: intp(2377), To: intp(2377), GroupID: "sg-1"},
			[]fw{{Protocol: "tcp", FromPort: 2377, ToPort: 2377, Sources: members}}},
		{"a group without members admits nothing", rule{Proto: "tcp", From: intp(2377), To: intp(2377), GroupID: "sg-empty"}, nil},
		{"icmp -1 -1: every type, IPv4 only", rule{Proto: "icmp", From: intp(-1), To: intp(-1), GroupID: "sg-1"},
			[]fw{{Protocol: "icmp", Sources: pfx("10.116.0.2/32", "198.18.0.2/32")}}},
		{"icmp 8 -1: echo request, any code, IPv4 only", rule{Proto: "icmp", From: intp(8), To: intp(-1), GroupID: "sg-1"},
			[]fw{{Protocol: "icmp", ICMPType: intp(8), Sources: pfx("10.116.0.2/32", "198.18.0.2/32")}}},
		{"icmp 3 4: fragmentation needed", rule{Proto: "icmp", From: intp(3), To: intp(4), CIDR: "0.0.0.0/0"},
			[]fw{{Protocol: "icmp", ICMPType: intp(3), ICMPCode: intp(4), Sources: pfx("0.0.0.0/0")}}},
		{"icmp 0 0: echo reply", rule{Proto: "icmp", From: intp(0), To: intp(0), CIDR: "0.0.0.0/0"},
			[]fw{{Protocol: "icmp", ICMPType: intp(0), ICMPCode: intp(0), Sources: pfx("0.0.0.0/0")}}},
		{"icmp from ::/0 admits nothing", rule{Proto: "icmp", From: intp(-1), To: intp(-1), CIDRv6: "::/0"}, nil},
		{"icmpv6 from ::/0", rule{Proto: "icmpv6", CIDRv6: "::/0"},
			[]fw{{Protocol: "icmp", Sources: pfx("::/0")}}},
		{"icmpv6 128 0: echo request", rule{Proto: "icmpv6", From: intp(128), To: intp(0), CIDRv6: "::/0"},
			[]fw{{Protocol: "icmp", ICMPType: intp(128), ICMPCode: intp(0), Sources: pfx("::/0")}}},
		{"58 is icmpv6, IPv6 members only", rule{Proto: "58", GroupID: "sg-1"},
			[]fw{{Protocol: "icmp", Sources: pfx("fd00::2/128")}}},
		{"58 2 -1: packet too big, IPv6 members only", rule{Proto: "58", From: intp(2), To: intp(-1), GroupID: "sg-1"},
			[]fw{{Protocol: "icmp", ICMPType: intp(2), Sources: pfx("fd00::2/128")}}},
		{"-1 from the group: everything", rule{Proto: "-1", GroupID: "sg-1"}, []fw{
			{Protocol: "tcp", Sources: members}, {Protocol: "udp", Sources: members}, {Protocol: "icmp", Sources: members}}},
		{"-1 from a CIDR", rule{Proto: "-1", CIDR: "192.0.2.0/24"}, []fw{
			{Protocol: "tcp", Sources: pfx("192.0.2.0/24")}, {Protocol: "udp", Sources: pfx("192.0.2.0/24")}, {Protocol: "icmp", Sources: pfx("192.0.2.0/24")}}},
		{"ESP (50) cannot be expressed", rule{Proto: "50", From: intp(-1), To: intp(-1), GroupID: "sg-1"}, nil},
		{"GRE (47) cannot be expressed", rule{Proto: "47", CIDR: "0.0.0.0/0"}, nil},
		{"a malformed CIDR admits nothing", rule{Proto: "tcp", From: intp(22), To: intp(22), CIDR: "10.0.0.1"}, nil},
		{"an IPv6 CIDR in IpRanges admits nothing", rule{Proto: "tcp", From: intp(22), To: intp(22), CIDR: "::/0"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var m []netip.Prefix
			if c.r.GroupID == "sg-1" {
				m = members
			}
			got := localcloud.CanonicalFirewallRules(admits(c.r, m))
			want := localcloud.CanonicalFirewallRules(c.want)
			if got == nil {
				got = []fw{}
			}
			if want == nil {
				want = []fw{}
			}
			if !localcloud.SameFirewallRules(got, want) {
				t.Errorf("admits(%+v) = %v, want %v", c.r, got, want)
			}
		})
	}
}

func TestPortSpan(t *testing.T) {
	cases := []struct {
		from, to *int
		lo, hi   int
		ok       bool
	}{
		{nil, nil, 0, 0, true},
		{intp(-1), intp(-1), 0, 0, true},
		{intp(22), intp(22), 22, 22, true},
		{intp(0), intp(65535), 0, 0, true},
		{intp(1), intp(65535), 0, 0, true},
		{intp(0), intp(1024), 1, 1024, true},
		{intp(1024), intp(65535), 1024, 65535, true},
		{intp(0), intp(0), 0, 0, false},
	}
	for _, c := range cases {
		lo, hi, ok := portSpan(c.from, c.to)
		if lo != c.lo || hi != c.hi || ok != c.ok {
			f := func(p *int) any {
				if p == nil {
					return nil
				}
				return *p
			}
			t.Errorf("portSpan(%v, %v) = %d, %d, %v; want %d, %d, %v", f(c.from), f(c.to), lo, hi, ok, c.lo, c.hi, c.ok)
		}
	}
}

// TestICMPTypeCode maps an icmp or icmpv6 rule's ports, as EC2 keeps
// them, to the ICMP type and code the backend narrows to.
func TestICMPTypeCode(t *testing.T) {
	cases := []struct {
		name      string
		from, to  *int
		typ, code *int
	}{
		{"no ports (icmpv6): every type", nil, nil, nil, nil},
		{"-1 -1: every type", intp(-1), intp(-1), nil, nil},
		{"echo request, any code", intp(8), intp(-1), intp(8), nil},
		{"echo request, code 0", intp(8), intp(0), intp(8), intp(0)},
		{"echo reply: type 0, code 0", intp(0), intp(0), intp(0), intp(0)},
		{"type and code 255", intp(255), intp(255), intp(255), intp(255)},
		{"ICMPv6 packet too big", intp(2), intp(0), intp(2), intp(0)},
		{"a type out of range, from older state: every type", intp(300), intp(0), nil, nil},
		{"a code out of range, from older state: every code", intp(3), intp(300), intp(3), nil},
	}
	str := func(p *int) string {
		if p == nil {
			return "any"
		}
		return strconv.Itoa(*p)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			typ, code := icmpTypeCode(c.from, c.to)
			if str(typ) != str(c.typ) || str(code) != str(c.code) {
				t.Errorf("icmpTypeCode(%s, %s) = type %s, code %s; want %s, %s", str(c.from), str(c.to), str(typ), str(code), str(c.typ), str(c.code))
			}
			if (typ != nil && typ == c.from) || (code != nil && code == c.to) {
				t.Error("the rule's ports are shared, not copied")
			}
		})
	}
}
