package netns

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
)

// vpcComment tags the rule keeping a host's private address to its VPC.
const vpcComment = "localcloud-vpc"

// vpcBits is the prefix length of a VPC's share of Config.PrivatePrefix:
// the hosts' subnet's, since a host's private address mirrors its public
// one (privateAddr).
func (m *Manager) vpcBits() int { return m.cfg.Subnet.Bits() }

// vpcPrefix returns the prefix of vpc, allocating the lowest free one. The
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
		p := netip.PrefixFrom(a, m.vpcBits())
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

// privateAddr is the private address of the host whose public address is
// pub: pub's offset in the subnet, in vpc's prefix. Tying the two keeps a
// private address with one MAC (hostMAC of its public twin) for as long as
// localcloud runs: addresses are reused, and the other hosts' neighbour
// caches keep an address's MAC well after its host is gone, so an address
// that came back on another MAC would be unreachable from them until
// their entries failed (seconds to a minute). The caller holds m.mu.
func (m *Manager) privateAddr(vpc string, pub netip.Addr) (netip.Addr, error) {
	p, err := m.vpcPrefix(vpc)
	if err != nil {
		return netip.Addr{}, err
	}
	return addrAdd(p.Addr(), addrOffset(m.cfg.Subnet.Addr(), pub)), nil
}

// addrAdd is base + off.
func addrAdd(base netip.Addr, off uint32) netip.Addr {
	b := base.As4()
	v := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) + off
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// privateRule is the raw PREROUTING rule (iptables words after the chain)
// dropping what arrives on eth0 for the host's private address from
// outside its VPC's prefix.
func privateRule(addr netip.Addr, bits int) []string {
	vpc := netip.PrefixFrom(addr, bits).Masked()
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
	addr := netip.PrefixFrom(hs.PrivateIPv4, m.vpcBits()).String()
	if err := run(ctx, m.tools.ip, "-n", ns, "addr", "replace", addr, "dev", uplink); err != nil {
		return fmt.Errorf("private address: %w", err)
	}
	rule := privateRule(hs.PrivateIPv4, m.vpcBits())
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
