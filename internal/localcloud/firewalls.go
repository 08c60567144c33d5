package localcloud

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// FirewallBackend is implemented by a HostBackend that filters the
// traffic reaching its hosts from the network, as a vendor's cloud
// firewall does outside the machine (netnsbackend: a packet filter on the
// host's link, before Docker's port publishing; MemoryBackend: records
// the rules only). The vendor APIs keep the firewalls (ids, rules as
// their vendor spells them, the droplets and tags they apply to) and
// hand the backend each host's effective inbound rules.
type FirewallBackend interface {
	// SetHostFirewall makes host hostID accept, from the network, only
	// what rules allow, plus replies to its own connections; nil rules
	// remove the filter (the host accepts everything, as a droplet in no
	// firewall does). The backend keeps the rules across the host's power
	// cycles. An unknown host is not an error (it is being deleted).
	SetHostFirewall(ctx context.Context, hostID int, rules []FirewallRule) error
}

// FirewallRule allows one protocol and port range, or ICMP type, from
// some sources.
type FirewallRule struct {
	// Protocol is "tcp", "udp" or "icmp": ICMP from IPv4 sources, ICMPv6
	// from IPv6 ones.
	Protocol string
	// FromPort and ToPort bound the destination ports (inclusive), as the
	// packet arrives, before any port publishing; 0 and 0 is every port.
	// ICMP has none.
	FromPort, ToPort int
	// ICMPType narrows an icmp rule to one type (0-255, as the sources'
	// family numbers them) and ICMPCode to one code of it; nil is any, so
	// that a rule that gives none admits every type (DigitalOcean's).
	ICMPType, ICMPCode *int
	// Sources are the address ranges allowed; an empty list allows none
	// (a rule whose tags match no droplet).
	Sources []netip.Prefix
}

// CanonicalFirewallRules sorts rules and their sources and drops
// duplicates, so that two sets of rules compare equal whatever their
// order (SameFirewallRules); nil stays nil (no filter) and an empty set
// stays empty (admit nothing).
func CanonicalFirewallRules(rules []FirewallRule) []FirewallRule {
	if rules == nil {
		return nil
	}
	out := make([]FirewallRule, 0, len(rules))
	for _, r := range rules {
		r.Sources = slices.Clone(r.Sources)
		slices.SortFunc(r.Sources, compareFirewallPrefix)
		r.Sources = slices.Compact(r.Sources)
		out = append(out, r)
	}
	slices.SortFunc(out, compareFirewallRule)
	return slices.CompactFunc(out, func(x, y FirewallRule) bool { return compareFirewallRule(x, y) == 0 })
}

// SameFirewallRules reports whether two canonical rule sets
// (CanonicalFirewallRules) are the same, nil (no filter) differing from
// empty (admit nothing).
func SameFirewallRules(x, y []FirewallRule) bool {
	return (x == nil) == (y == nil) && slices.EqualFunc(x, y, func(p, q FirewallRule) bool { return compareFirewallRule(p, q) == 0 })
}

func compareFirewallPrefix(x, y netip.Prefix) int {
	if c := x.Addr().Compare(y.Addr()); c != 0 {
		return c
	}
	return x.Bits() - y.Bits()
}

func compareFirewallRule(x, y FirewallRule) int {
	if c := strings.Compare(x.Protocol, y.Protocol); c != 0 {
		return c
	}
	if c := x.FromPort - y.FromPort; c != 0 {
		return c
	}
	if c := x.ToPort - y.ToPort; c != 0 {
		return c
	}
	if c := compareOptional(x.ICMPType, y.ICMPType); c != 0 {
		return c
	}
	if c := compareOptional(x.ICMPCode, y.ICMPCode); c != 0 {
		return c
	}
	return slices.CompareFunc(x.Sources, y.Sources, compareFirewallPrefix)
}

// compareOptional orders nil (any) first.
func compareOptional(x, y *int) int {
	switch {
	case x == nil && y == nil:
		return 0
	case x == nil:
		return -1
	case y == nil:
		return 1
	}
	return *x - *y
}

// FirewallMemberReporter is implemented by an API whose resources other
// than hosts belong to the firewall groups another API keeps (ELBv2's
// load balancers are in EC2's security groups): a rule of that API that
// admits a group admits what the group's members send from, these
// resources' addresses included. The reporting API calls
// Server.FirewallMembersChanged when they change (a load balancer got its
// address, changed groups, went).
type FirewallMemberReporter interface {
	// FirewallMembers adds to members, by group id, the addresses its
	// resources in each group send from. Called with the lock held.
	FirewallMembers(members map[string][]netip.Addr)
}

// FirewallGroupKeeper is implemented by an API that keeps firewall groups
// whose members other APIs may report (EC2): FirewallMembersChanged has it
// push its hosts' rules again, and returns once the backend has them.
// Called without the lock.
type FirewallGroupKeeper interface {
	FirewallMembersChanged()
}

// FirewallMembers is what every FirewallMemberReporter API reports: the
// addresses of their resources, by firewall group id. Call with the lock
// held.
func (s *Server) FirewallMembers() map[string][]netip.Addr {
	out := map[string][]netip.Addr{}
	for _, a := range s.apis {
		if r, ok := a.(FirewallMemberReporter); ok {
			r.FirewallMembers(out)
		}
	}
	return out
}

// FirewallMembersChanged tells every FirewallGroupKeeper API that the
// members a FirewallMemberReporter reports changed, and returns once
// they have pushed their hosts' rules again. Call without the lock.
func (s *Server) FirewallMembersChanged() {
	for _, a := range s.apis {
		if k, ok := a.(FirewallGroupKeeper); ok {
			k.FirewallMembersChanged()
		}
	}
}

// SetHostFirewall hands host hostID's effective rules to the backend.
// Call without the lock; nil rules remove the filter.
func (s *Server) SetHostFirewall(hostID int, rules []FirewallRule) error {
	fb, ok := s.backend.(FirewallBackend)
	if !ok {
		return nil
	}
	if err := fb.SetHostFirewall(s.ctx, hostID, rules); err != nil {
		return fmt.Errorf("firewall of host %d: %w", hostID, err)
	}
	return nil
}

// SetHostFirewall implements FirewallBackend: the rules are recorded for
// HostFirewall.
func (b *MemoryBackend) SetHostFirewall(_ context.Context, hostID int, rules []FirewallRule) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.firewalls == nil {
		b.firewalls = map[int][]FirewallRule{}
	}
	if rules == nil {
		delete(b.firewalls, hostID)
		return nil
	}
	b.firewalls[hostID] = slices.Clone(rules)
	return nil
}

// HostFirewall returns the rules last set for host hostID and whether a
// filter is set.
func (b *MemoryBackend) HostFirewall(hostID int) ([]FirewallRule, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.firewalls[hostID]
	return slices.Clone(r), ok
}
