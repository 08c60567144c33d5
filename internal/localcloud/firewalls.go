package localcloud

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
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

// FirewallRule allows one protocol and port range from some sources.
type FirewallRule struct {
	// Protocol is "tcp", "udp" or "icmp".
	Protocol string
	// FromPort and ToPort bound the destination ports (inclusive), as the
	// packet arrives, before any port publishing; 0 and 0 is every port.
	// ICMP has none.
	FromPort, ToPort int
	// Sources are the address ranges allowed; an empty list allows none
	// (a rule whose tags match no droplet).
	Sources []netip.Prefix
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
