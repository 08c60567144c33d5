package netns

import (
	"context"
	"net/netip"
)

// EnsureNetwork sets up the machine's side of the hosts' network now, as
// the first Provision or Restore would: the bridge with the gateway address,
// forwarding on it, the reserved prefix's route and the FORWARD rules. It
// is idempotent. Down removes what it set up. localcloud calls it at start
// so that its registry can listen on the gateway address before any host
// exists.
func (m *Manager) EnsureNetwork(ctx context.Context) error {
	m.netMu.Lock()
	defer m.netMu.Unlock()
	return m.ensureNetworkLocked(ctx)
}

// Gateway is the bridge's address, the hosts' default gateway: the first
// address of Config.Subnet.
func (m *Manager) Gateway() netip.Addr { return m.gateway() }
