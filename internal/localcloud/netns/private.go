package netns

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
)

const (
	// vpcBits is the prefix length of a VPC's share of Config.PrivatePrefix.
	vpcBits = 24
	// vpcComment tags the rule keeping a host's private address to its VPC.
	vpcComment = "localcloud-vpc"
)

// vpcPrefix returns the /24 of vpc, allocating the lowest free one. The
// caller holds m.mu.
func (m *Manager) vpcPrefix(vpc string) (netip.Prefix, error) {
	if p, ok := m.st.VPCs[vpc]; ok {
		return p, nil
	}
	used := map[netip.Prefix]bool{}
	for _, p := range m.st.VPCs {
		used[p] = true
	}
	for a := m.cfg.PrivatePrefix.Addr(); m.cfg.PrivatePrefix.Contains(a); {
		p := netip.PrefixFrom(a, vpcBits)
		if !used[p] {
			if m.st.VPCs == nil {
				m.st.VPCs = map[string]netip.Prefix{}
			}
			m.st.VPCs[vpc] = p
			return p, nil
		}
		next := lastAddr(p).Next()
		if !next.IsValid() {
			break
		}
		a = next
	}
	return netip.Prefix{}, fmt.Errorf("no private network left in %s for VPC %s", m.cfg.PrivatePrefix, vpc)
}

// allocPrivateIP returns the lowest free address of vpc's prefix (its
// first, the VPC's "gateway", and its broadcast excepted). The caller
// holds m.mu.
func (m *Manager) allocPrivateIP(vpc string) (netip.Addr, error) {
	p, err := m.vpcPrefix(vpc)
	if err != nil {
		return netip.Addr{}, err
	}
	used := map[netip.Addr]bool{}
	for _, h := range m.st.Hosts {
		used[h.PrivateIPv4] = true
	}
	last := lastAddr(p)
	for a := p.Addr().Next().Next(); a.IsValid() && a.Less(last); a = a.Next() {
		if !used[a] {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no private address left in %s (VPC %s)", p, vpc)
}

// privateRule is the raw PREROUTING rule (iptables words after the chain)
// dropping what arrives on eth0 for the host's private address from
// outside its VPC's prefix.
func privateRule(addr netip.Addr) []string {
	vpc := netip.PrefixFrom(addr, vpcBits).Masked()
	return []string{"-i", uplink, "-d", addr.String() + "/32", "!", "-s", vpc.String(),
		"-m", "comment", "--comment", vpcComment, "-j", "DROP"}
}

// setupPrivateNet puts the host's private address on eth0 (on-link: its
// VPC's prefix) and the rule keeping it to the VPC, when missing. The
// rule is in the raw table, apart from the firewall's mangle chain,
// before conntrack and Docker's DNAT: it holds whatever the host's
// firewall admits. The caller holds m.netMu.
func (m *Manager) setupPrivateNet(ctx context.Context, hs *hostState) error {
	if !hs.PrivateIPv4.IsValid() {
		return nil
	}
	ns := m.netnsName(hs.ID)
	addr := netip.PrefixFrom(hs.PrivateIPv4, vpcBits).String()
	if err := run(ctx, m.tools.ip, "-n", ns, "addr", "replace", addr, "dev", uplink); err != nil {
		return fmt.Errorf("private address: %w", err)
	}
	rule := privateRule(hs.PrivateIPv4)
	nsenter := []string{"--net=" + m.netnsPath(hs.ID), "--", m.tools.iptables, "-w", "-t", "raw"}
	if run(ctx, m.tools.nsenter, append(append(nsenter, "-C", "PREROUTING"), rule...)...) == nil {
		return nil
	}
	if err := run(ctx, m.tools.nsenter, append(append(nsenter, "-I", "PREROUTING", "1"), rule...)...); err != nil {
		return fmt.Errorf("private network rule: %w", err)
	}
	return nil
}

// vpcName is a VPC's name for an API's region: "<api>/<region>".
func vpcName(api, region string) string { return strings.ToLower(api) + "/" + region }

// VPCName is the VPC (HostSpec.VPC) of the hosts an API creates in a
// region: one private network per vendor API and region.
func VPCName(api, region string) string { return vpcName(api, region) }
