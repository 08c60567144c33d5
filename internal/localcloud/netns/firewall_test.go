package netns

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func prefixes(ss ...string) []netip.Prefix {
	ps := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		ps[i] = netip.MustParsePrefix(s)
	}
	return ps
}

func intp(n int) *int { return &n }

func TestFirewallScript(t *testing.T) {
	installed := mangleState{chain: true, jumps: []string{firewallJump}}
	for _, tc := range []struct {
		name  string
		v6    bool
		rules []FirewallRule
		have  mangleState
		want  string
	}{{
		name:  "first filter: chain and jump in one transaction",
		rules: []FirewallRule{{Protocol: "tcp", FromPort: 8080, ToPort: 8080, Sources: prefixes("10.213.205.3/32")}},
		want: `*mangle
:LOCALCLOUD-FW - [0:0]
-A LOCALCLOUD-FW -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN
-A LOCALCLOUD-FW -s 10.213.205.3/32 -p tcp -m tcp --dport 8080 -j RETURN
-A LOCALCLOUD-FW -j DROP
-I PREROUTING 1 -i eth0 -j LOCALCLOUD-FW
COMMIT
`,
	}, {
		name: "replaced: the jump stays; ranges, every port, icmp, duplicates once, IPv6 sources elsewhere",
		rules: []FirewallRule{
			{Protocol: "udp", FromPort: 9000, ToPort: 9010, Sources: prefixes("10.0.0.0/8", "2001:db8::/32")},
			{Protocol: "tcp", Sources: prefixes("0.0.0.0/0")},
			{Protocol: "icmp", Sources: prefixes("192.0.2.0/24")},
			{Protocol: "udp", FromPort: 9000, ToPort: 9010, Sources: prefixes("10.0.0.0/8")},
		},
		have: installed,
		want: `*mangle
:LOCALCLOUD-FW - [0:0]
-A LOCALCLOUD-FW -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN
-A LOCALCLOUD-FW -s 10.0.0.0/8 -p udp -m udp --dport 9000:9010 -j RETURN
-A LOCALCLOUD-FW -s 0.0.0.0/0 -p tcp -j RETURN
-A LOCALCLOUD-FW -s 192.0.2.0/24 -p icmp -j RETURN
-A LOCALCLOUD-FW -j DROP
COMMIT
`,
	}, {
		name: "IPv6: neighbour discovery passes, IPv6 sources only",
		v6:   true,
		rules: []FirewallRule{
			{Protocol: "udp", FromPort: 9000, ToPort: 9010, Sources: prefixes("10.0.0.0/8", "2001:db8::/32")},
			{Protocol: "icmp", Sources: prefixes("::/0")},
		},
		want: `*mangle
:LOCALCLOUD-FW - [0:0]
-A LOCALCLOUD-FW -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN
-A LOCALCLOUD-FW -p ipv6-icmp -m icmp6 --icmpv6-type neighbour-solicitation -j RETURN
-A LOCALCLOUD-FW -p ipv6-icmp -m icmp6 --icmpv6-type neighbour-advertisement -j RETURN
-A LOCALCLOUD-FW -s 2001:db8::/32 -p udp -m udp --dport 9000:9010 -j RETURN
-A LOCALCLOUD-FW -s ::/0 -p ipv6-icmp -j RETURN
-A LOCALCLOUD-FW -j DROP
-I PREROUTING 1 -i eth0 -j LOCALCLOUD-FW
COMMIT
`,
	}, {
		name: "ICMP types and codes: each family's match, type 255 of IPv4 admits nothing",
		have: installed,
		rules: []FirewallRule{
			{Protocol: "icmp", ICMPType: intp(8), ICMPCode: intp(0), Sources: prefixes("10.0.0.0/8")},
			{Protocol: "icmp", ICMPType: intp(3), Sources: prefixes("10.0.0.0/8", "2001:db8::/32")},
			{Protocol: "icmp", ICMPType: intp(255), Sources: prefixes("192.0.2.0/24")},
			{Protocol: "icmp", ICMPType: intp(0), ICMPCode: intp(0), Sources: prefixes("192.0.2.0/24")},
		},
		want: `*mangle
:LOCALCLOUD-FW - [0:0]
-A LOCALCLOUD-FW -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN
-A LOCALCLOUD-FW -s 10.0.0.0/8 -p icmp -m icmp --icmp-type 8/0 -j RETURN
-A LOCALCLOUD-FW -s 10.0.0.0/8 -p icmp -m icmp --icmp-type 3 -j RETURN
-A LOCALCLOUD-FW -s 192.0.2.0/24 -p icmp -m icmp --icmp-type 0/0 -j RETURN
-A LOCALCLOUD-FW -j DROP
COMMIT
`,
	}, {
		name: "ICMPv6 types and codes, 255 included",
		v6:   true,
		have: installed,
		rules: []FirewallRule{
			{Protocol: "icmp", ICMPType: intp(128), ICMPCode: intp(0), Sources: prefixes("::/0")},
			{Protocol: "icmp", ICMPType: intp(1), Sources: prefixes("10.0.0.0/8", "2001:db8::/32")},
			{Protocol: "icmp", ICMPType: intp(255), Sources: prefixes("2001:db8::/32")},
		},
		want: `*mangle
:LOCALCLOUD-FW - [0:0]
-A LOCALCLOUD-FW -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN
-A LOCALCLOUD-FW -p ipv6-icmp -m icmp6 --icmpv6-type neighbour-solicitation -j RETURN
-A LOCALCLOUD-FW -p ipv6-icmp -m icmp6 --icmpv6-type neighbour-advertisement -j RETURN
-A LOCALCLOUD-FW -s ::/0 -p ipv6-icmp -m icmp6 --icmpv6-type 128/0 -j RETURN
-A LOCALCLOUD-FW -s 2001:db8::/32 -p ipv6-icmp -m icmp6 --icmpv6-type 1 -j RETURN
-A LOCALCLOUD-FW -s 2001:db8::/32 -p ipv6-icmp -m icmp6 --icmpv6-type 255 -j RETURN
-A LOCALCLOUD-FW -j DROP
COMMIT
`,
	}, {
		name:  "empty: the host admits nothing but replies",
		rules: []FirewallRule{},
		have:  installed,
		want: `*mangle
:LOCALCLOUD-FW - [0:0]
-A LOCALCLOUD-FW -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN
-A LOCALCLOUD-FW -j DROP
COMMIT
`,
	}, {
		name:  "a rule without sources admits nothing",
		rules: []FirewallRule{{Protocol: "tcp", FromPort: 22, ToPort: 22}},
		want: `*mangle
:LOCALCLOUD-FW - [0:0]
-A LOCALCLOUD-FW -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN
-A LOCALCLOUD-FW -j DROP
-I PREROUTING 1 -i eth0 -j LOCALCLOUD-FW
COMMIT
`,
	}, {
		name:  "stray jumps go, one goes back first",
		rules: []FirewallRule{},
		have:  mangleState{chain: true, jumps: []string{"-i eth1 -j LOCALCLOUD-FW", firewallJump}},
		want: `*mangle
:LOCALCLOUD-FW - [0:0]
-A LOCALCLOUD-FW -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN
-A LOCALCLOUD-FW -j DROP
-D PREROUTING -i eth1 -j LOCALCLOUD-FW
-D PREROUTING -i eth0 -j LOCALCLOUD-FW
-I PREROUTING 1 -i eth0 -j LOCALCLOUD-FW
COMMIT
`,
	}, {
		name: "nil removes jump and chain",
		have: installed,
		want: `*mangle
-D PREROUTING -i eth0 -j LOCALCLOUD-FW
:LOCALCLOUD-FW - [0:0]
-X LOCALCLOUD-FW
COMMIT
`,
	}, {
		name: "nil without a filter changes nothing",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := firewallScript(tc.v6, tc.rules, tc.have); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestParseMangle(t *testing.T) {
	out := `-P PREROUTING ACCEPT
-P INPUT ACCEPT
-N LOCALCLOUD-FW
-N OTHER
-A PREROUTING -j OTHER
-A PREROUTING -i eth0 -j LOCALCLOUD-FW
-A LOCALCLOUD-FW -j DROP
`
	got := parseMangle([]byte(out))
	if !got.chain || len(got.jumps) != 1 || got.jumps[0] != firewallJump {
		t.Errorf("parseMangle: %+v", got)
	}
	if got := parseMangle([]byte("-P PREROUTING ACCEPT\n")); got.chain || len(got.jumps) != 0 {
		t.Errorf("parseMangle of an empty table: %+v", got)
	}
}

func TestNormalizeFirewall(t *testing.T) {
	if got, err := normalizeFirewall(nil); got != nil || err != nil {
		t.Errorf("nil: %v %v, want nil (no filter)", got, err)
	}
	if got, err := normalizeFirewall([]FirewallRule{}); got == nil || len(got) != 0 || err != nil {
		t.Errorf("empty: %#v %v, want an empty filter", got, err)
	}
	got, err := normalizeFirewall([]FirewallRule{
		{Protocol: "icmp", FromPort: 1, ToPort: 2, Sources: prefixes("10.1.2.3/8", "::ffff:10.0.0.1/128")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := got[0]; r.FromPort != 0 || r.ToPort != 0 || r.ICMPType != nil || r.ICMPCode != nil || r.Sources[0].String() != "10.0.0.0/8" || r.Sources[1].String() != "10.0.0.1/32" {
		t.Errorf("normalized: %+v", r)
	}
	for _, ok := range []FirewallRule{
		{Protocol: "icmp", ICMPType: intp(0)},
		{Protocol: "icmp", ICMPType: intp(8), ICMPCode: intp(0)},
		{Protocol: "icmp", ICMPType: intp(255), ICMPCode: intp(255)},
	} {
		got, err := normalizeFirewall([]FirewallRule{ok})
		if err != nil {
			t.Errorf("%+v refused: %v", ok, err)
			continue
		}
		if *got[0].ICMPType != *ok.ICMPType || got[0].ICMPType == ok.ICMPType || (ok.ICMPCode != nil) != (got[0].ICMPCode != nil) {
			t.Errorf("%+v normalized to %+v, want the same type and code, copied", ok, got[0])
		}
	}
	for _, bad := range []FirewallRule{
		{Protocol: "sctp"},
		{Protocol: "TCP"},
		{Protocol: "tcp", FromPort: 0, ToPort: 80},
		{Protocol: "tcp", FromPort: 90, ToPort: 80},
		{Protocol: "udp", FromPort: 1, ToPort: 65536},
		{Protocol: "tcp", Sources: []netip.Prefix{{}}},
		{Protocol: "icmp", ICMPType: intp(-1)},
		{Protocol: "icmp", ICMPType: intp(256)},
		{Protocol: "icmp", ICMPType: intp(8), ICMPCode: intp(-1)},
		{Protocol: "icmp", ICMPType: intp(3), ICMPCode: intp(256)},
		{Protocol: "icmp", ICMPCode: intp(0)},
		{Protocol: "tcp", ICMPType: intp(8)},
		{Protocol: "udp", ICMPType: intp(8), ICMPCode: intp(0)},
	} {
		if _, err := normalizeFirewall([]FirewallRule{bad}); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// The state keeps "no filter" apart from "a filter admitting nothing".
func TestFirewallState(t *testing.T) {
	for _, fw := range []*hostFirewall{nil, {Rules: []FirewallRule{}}, {Rules: []FirewallRule{{Protocol: "tcp", FromPort: 80, ToPort: 80, Sources: prefixes("10.0.0.1/32")}}}} {
		b, err := json.Marshal(&hostState{ID: "a", Firewall: fw})
		if err != nil {
			t.Fatal(err)
		}
		var hs hostState
		if err := json.Unmarshal(b, &hs); err != nil {
			t.Fatal(err)
		}
		switch {
		case fw == nil && hs.Firewall != nil, fw != nil && (hs.Firewall == nil || hs.Firewall.Rules == nil || len(hs.Firewall.Rules) != len(fw.Rules)):
			t.Errorf("%s read back as %+v", b, hs.Firewall)
		case fw != nil && len(fw.Rules) > 0 && !strings.Contains(string(b), `"sources":["10.0.0.1/32"]`):
			t.Errorf("saved as %s", b)
		}
	}
}

// ICMP types and codes survive the state; rules saved before they existed
// read back admitting every type.
func TestFirewallStateICMP(t *testing.T) {
	b, err := json.Marshal(&hostState{ID: "a", Firewall: &hostFirewall{Rules: []FirewallRule{
		{Protocol: "icmp", ICMPType: intp(0), ICMPCode: intp(0), Sources: prefixes("10.0.0.1/32")},
		{Protocol: "icmp", Sources: prefixes("10.0.0.1/32")},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"icmp_type":0,"icmp_code":0`) || strings.Count(string(b), "icmp_type") != 1 {
		t.Errorf("saved as %s", b)
	}
	var hs hostState
	if err := json.Unmarshal(b, &hs); err != nil {
		t.Fatal(err)
	}
	if r := hs.Firewall.Rules; r[0].ICMPType == nil || *r[0].ICMPType != 0 || r[0].ICMPCode == nil || *r[0].ICMPCode != 0 || r[1].ICMPType != nil || r[1].ICMPCode != nil {
		t.Errorf("%s read back as %+v", b, r)
	}
	old := `{"id":"a","firewall":{"rules":[{"protocol":"icmp","sources":["10.0.0.1/32"]}]}}`
	hs = hostState{}
	if err := json.Unmarshal([]byte(old), &hs); err != nil {
		t.Fatal(err)
	}
	if r := hs.Firewall.Rules[0]; r.ICMPType != nil || r.ICMPCode != nil {
		t.Errorf("older state %s read back as %+v, want every type", old, r)
	}
	if got := firewallRules(false, hs.Firewall.Rules); !slices.Contains(got, "-s 10.0.0.1/32 -p icmp -j RETURN") {
		t.Errorf("older state's icmp rule renders as %q, want every type", got)
	}
}
