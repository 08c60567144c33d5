package aws

import (
	"net/netip"
	"slices"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
)

// Security groups are enforced as DigitalOcean's cloud firewalls are: the
// API hands the backend each instance's effective inbound rules
// (localcloud.FirewallBackend, Server.SetHostFirewall), and netnsbackend
// filters what reaches the host with them. An instance's effective rules
// are the union of the ingress rules of its security groups (the region's
// default group when it names none), every source resolved to addresses
// as of now:
//
//   - IpRanges and Ipv6Ranges: their CIDRs;
//   - UserIdGroupPairs: the private addresses of the instances in the
//     referenced group that are not terminated, and the addresses other
//     APIs report for their members of it (localcloud.FirewallMemberReporter:
//     ELBv2's load balancers in their security groups). Not their public
//     addresses nor Elastic IPs: as in AWS, an instance reaching another
//     at its public address is not admitted by a reference to its group
//     (it must be admitted by a CIDR).
//
// Protocols: tcp and udp on the rule's ports (0-65535 is every port),
// icmp from IPv4 sources and icmpv6 (58) from IPv6 ones, of the rule's
// ICMP type (FromPort) and code (ToPort), -1 (or icmpv6 without ports)
// being all (icmpTypeCode), and -1 as tcp, udp, icmp and icmpv6 on every
// port. Other protocols (ESP, 50; GRE, 47) cannot be expressed to the
// backend, whose filter takes tcp, udp and icmp only: they admit
// nothing. What no rule admits is dropped; replies to the host's own
// connections pass. Egress is not enforced (a host sends anywhere), as
// EC2's default egress rule says.
//
// The API computes the rules (effectiveRules); a
// localcloud.FirewallPusher pushes those that changed. Rules are pushed
// again whenever they may change: instances launched (before their hosts
// are provisioned, and again once they are: an instance shows pending
// until the backend has its rules and the other instances' rules admit
// its addresses, WaitForAll), terminated, stopped or started (a stopped
// instance has no public address), an instance's groups modified,
// ingress authorized or revoked, a group deleted, an Elastic IP
// associated or disassociated, another API's members changed
// (FirewallMembersChanged), and after a restart (every instance's,
// whatever the backend last got).

var (
	_ localcloud.FirewallGroupKeeper = (*API)(nil)
)

// ruleSources is what a rule's source resolves to: its CIDR, or the
// addresses of its group's members (members).
func ruleSources(r rule, members []netip.Prefix) []netip.Prefix {
	switch {
	case r.GroupID != "":
		return members
	case r.CIDR != "":
		if p, err := netip.ParsePrefix(r.CIDR); err == nil && p.Addr().Is4() {
			return []netip.Prefix{p.Masked()}
		}
	case r.CIDRv6 != "":
		if p, err := netip.ParsePrefix(r.CIDRv6); err == nil && p.Addr().Is6() && !p.Addr().Is4In6() {
			return []netip.Prefix{p.Masked()}
		}
	}
	return nil
}

// portSpan is a tcp or udp rule's port range as the backend takes it: 0
// and 0 for every port (0-65535, or no ports given); ok false when it
// admits no port (0-0).
func portSpan(from, to *int) (lo, hi int, ok bool) {
	if from == nil || to == nil || *from < 0 || *to < 0 {
		return 0, 0, true
	}
	lo, hi = max(*from, 1), min(*to, 65535)
	switch {
	case lo > hi:
		return 0, 0, false
	case lo == 1 && hi == 65535:
		return 0, 0, true
	}
	return lo, hi, true
}

// icmpTypeCode is an icmp or icmpv6 rule's ICMP type and code as the
// backend takes them, nil for all. EC2 spells them in the rule's ports:
// "If the protocol is ICMP or ICMPv6, this is the ICMP type or -1 (all
// ICMP types)" (FromPort), "the ICMP code or -1 (all ICMP codes)"
// (ToPort). No ports (icmpv6) is every type; so is a type out of range,
// which older state may hold from before types were checked.
func icmpTypeCode(from, to *int) (typ, code *int) {
	if from == nil || *from < 0 || *from > 255 {
		return nil, nil
	}
	t := *from
	if to == nil || *to < 0 || *to > 255 {
		return &t, nil
	}
	c := *to
	return &t, &c
}

// admits is what one ingress rule admits, in the backend's terms, its
// group source resolved to members; nil when it admits nothing the
// backend can express.
func admits(r rule, members []netip.Prefix) []localcloud.FirewallRule {
	srcs := ruleSources(r, members)
	var v4, v6 []netip.Prefix
	for _, p := range srcs {
		if p.Addr().Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	var out []localcloud.FirewallRule
	add := func(fr localcloud.FirewallRule, srcs []netip.Prefix) {
		if len(srcs) > 0 {
			fr.Sources = slices.Clone(srcs)
			out = append(out, fr)
		}
	}
	switch r.Proto {
	case "tcp", "udp":
		if from, to, ok := portSpan(r.From, r.To); ok {
			add(localcloud.FirewallRule{Protocol: r.Proto, FromPort: from, ToPort: to}, srcs)
		}
	case "icmp", "icmpv6", "58":
		fr := localcloud.FirewallRule{Protocol: "icmp"}
		fr.ICMPType, fr.ICMPCode = icmpTypeCode(r.From, r.To)
		if r.Proto == "icmp" {
			add(fr, v4) // an icmp rule admits no ICMPv6
		} else {
			add(fr, v6) // the backend's icmp is ICMPv6 from IPv6 sources
		}
	case "-1":
		add(localcloud.FirewallRule{Protocol: "tcp"}, srcs)
		add(localcloud.FirewallRule{Protocol: "udp"}, srcs)
		add(localcloud.FirewallRule{Protocol: "icmp"}, srcs)
	}
	return out
}

// groupsOf are in's security groups: the region's default group when it
// names none. Call with the lock held.
func (a *API) groupsOf(in *instance) []string {
	if len(in.Groups) == 0 {
		return []string{a.defaultGroup(in.Region).ID}
	}
	return in.Groups
}

// groupMembers are the addresses a reference to each security group
// admits, by group id: the private addresses of its instances that are
// not terminated, and those other APIs report. Call with the lock held.
func (a *API) groupMembers(now time.Time) map[string][]netip.Prefix {
	out := map[string][]netip.Prefix{}
	for _, in := range a.st.Instances {
		if !in.TerminatedAt.IsZero() {
			continue
		}
		_, priv := a.addresses(in, now)
		ip, err := netip.ParseAddr(priv)
		if err != nil {
			continue
		}
		for _, g := range a.groupsOf(in) {
			out[g] = append(out[g], netip.PrefixFrom(ip, ip.BitLen()))
		}
	}
	for g, ips := range a.s.FirewallMembers() {
		for _, ip := range ips {
			if ip.IsValid() {
				ip = ip.Unmap()
				out[g] = append(out[g], netip.PrefixFrom(ip, ip.BitLen()))
			}
		}
	}
	return out
}

// effectiveRules is every live instance's effective inbound rules as of
// now, by host id: the union of its groups' ingress rules, canonical
// (localcloud.CanonicalFirewallRules). Never nil for an instance: every
// instance is in a group, and a group without rules admits nothing. Call
// with the lock held.
func (a *API) effectiveRules(now time.Time) map[int][]localcloud.FirewallRule {
	members := a.groupMembers(now)
	out := map[int][]localcloud.FirewallRule{}
	for _, in := range a.st.Instances {
		if !in.TerminatedAt.IsZero() {
			continue
		}
		h := a.s.Host(in.HostID, now)
		if h == nil || !h.DeletedAt.IsZero() {
			continue
		}
		rules := []localcloud.FirewallRule{}
		for _, id := range a.groupsOf(in) {
			g := a.st.Groups[id]
			if g == nil {
				continue
			}
			for _, r := range g.Ingress {
				rules = append(rules, admits(r, members[r.GroupID])...)
			}
		}
		out[h.ID] = localcloud.CanonicalFirewallRules(rules)
	}
	return out
}

// FirewallMembersChanged implements localcloud.FirewallGroupKeeper: the
// members another API reports changed (a load balancer got its address,
// changed groups, went); the instances' rules are pushed again.
func (a *API) FirewallMembersChanged() { a.fw.Sync(false) }
