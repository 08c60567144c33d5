package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const (
	// firewallChain is the host's mangle chain holding its filter.
	firewallChain = "LOCALCLOUD-FW"
	// uplink is the host's link to the bridge: the network a cloud
	// firewall stands on.
	uplink = "eth0"
)

// FirewallRule admits one protocol and destination port range, or ICMP
// type, from some sources (see SetFirewall).
type FirewallRule struct {
	// Protocol is "tcp", "udp" or "icmp": ICMP from IPv4 sources, ICMPv6
	// from IPv6 ones.
	Protocol string `json:"protocol"`
	// FromPort and ToPort bound the destination ports, inclusive; 0 and 0
	// is every port. ICMP has none: they are ignored.
	FromPort int `json:"from_port,omitempty"`
	ToPort   int `json:"to_port,omitempty"`
	// ICMPType narrows an icmp rule to one type (0-255), numbered as the
	// sources' family numbers them (echo request: 8, in ICMPv6 128), and
	// ICMPCode to one code of it (0-255). nil is any: pointers, so that a
	// rule built or saved without them still admits every type.
	ICMPType *int `json:"icmp_type,omitempty"`
	ICMPCode *int `json:"icmp_code,omitempty"`
	// Sources are the address ranges admitted, IPv4 or IPv6; none admits
	// nothing.
	Sources []netip.Prefix `json:"sources"`
}

// hostFirewall is a host's filter in the state; a host without one
// accepts everything. A pointer, so that "no filter" and "a filter
// admitting nothing" stay apart in JSON.
type hostFirewall struct {
	Rules []FirewallRule `json:"rules"`
}

// SetFirewall makes host id accept from the network only what rules
// admit, plus replies to its own connections, as a vendor's cloud firewall
// outside the machine does: it filters what arrives on the host's eth0
// before anything on the host sees it, ports Docker publishes and reserved
// IPs included. nil rules remove the filter. The rules are kept in the
// state: PowerOn, Restore and Provision apply them again, Destroy forgets
// them. Rules for an ID no host has yet are kept in memory for its
// Provision, which applies them before its dockerd starts (a droplet
// created into a firewall).
func (m *Manager) SetFirewall(ctx context.Context, id string, rules []FirewallRule) error {
	rules, err := normalizeFirewall(rules)
	if err != nil {
		return fmt.Errorf("firewall of host %s: %w", id, err)
	}
	// Recorded without the host's lock, so that a Provision under way
	// finds them; applied with it, from the state, so that concurrent
	// calls end with the last recorded.
	m.mu.Lock()
	hs := m.st.Hosts[id]
	if hs == nil {
		if rules == nil {
			delete(m.earlyFirewalls, id)
		} else {
			if m.earlyFirewalls == nil {
				m.earlyFirewalls = map[string][]FirewallRule{}
			}
			m.earlyFirewalls[id] = rules
		}
		m.mu.Unlock()
		return nil
	}
	hs.Firewall = nil
	if rules != nil {
		hs.Firewall = &hostFirewall{Rules: rules}
	}
	err = m.st.save(m.cfg.StateDir)
	m.mu.Unlock()
	if err != nil {
		return err
	}
	err = m.withHost(id, func(hs *hostState) error { return m.applyFirewall(ctx, hs) })
	if errors.Is(err, ErrNotFound) {
		return nil // destroyed meanwhile
	}
	return err
}

// normalizeFirewall checks rules and returns a copy with sources masked
// and IPv4-mapped IPv6 sources as IPv4; nil stays nil.
func normalizeFirewall(rules []FirewallRule) ([]FirewallRule, error) {
	if rules == nil {
		return nil, nil
	}
	out := make([]FirewallRule, 0, len(rules))
	for i, r := range rules {
		switch r.Protocol {
		case "tcp", "udp":
			if (r.FromPort != 0 || r.ToPort != 0) && (r.FromPort < 1 || r.FromPort > r.ToPort || r.ToPort > 65535) {
				return nil, fmt.Errorf("rule %d: ports %d-%d: want 0-0 (every port) or a range within 1-65535", i, r.FromPort, r.ToPort)
			}
			if r.ICMPType != nil || r.ICMPCode != nil {
				return nil, fmt.Errorf("rule %d: ICMP type or code on a %s rule: only icmp rules take them", i, r.Protocol)
			}
		case "icmp":
			r.FromPort, r.ToPort = 0, 0
			switch {
			case r.ICMPType == nil && r.ICMPCode != nil:
				return nil, fmt.Errorf("rule %d: ICMP code %d without a type: give a type (0-255) too, or neither for every type", i, *r.ICMPCode)
			case r.ICMPType != nil && (*r.ICMPType < 0 || *r.ICMPType > 255):
				return nil, fmt.Errorf("rule %d: ICMP type %d: want 0-255, or none for every type", i, *r.ICMPType)
			case r.ICMPCode != nil && (*r.ICMPCode < 0 || *r.ICMPCode > 255):
				return nil, fmt.Errorf("rule %d: ICMP code %d: want 0-255, or none for every code", i, *r.ICMPCode)
			}
			// Copies, so that the caller's later changes do not reach the
			// rules kept.
			r.ICMPType, r.ICMPCode = cloneInt(r.ICMPType), cloneInt(r.ICMPCode)
		default:
			return nil, fmt.Errorf("rule %d: protocol %q: want tcp, udp or icmp", i, r.Protocol)
		}
		srcs := make([]netip.Prefix, 0, len(r.Sources))
		for _, p := range r.Sources {
			if !p.IsValid() {
				return nil, fmt.Errorf("rule %d: invalid source %v", i, p)
			}
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			srcs = append(srcs, p.Masked())
		}
		r.Sources = srcs
		out = append(out, r)
	}
	return out, nil
}

func cloneInt(p *int) *int {
	if p == nil {
		return nil
	}
	n := *p
	return &n
}

// takeEarlyFirewall moves the rules set for id before its host existed
// onto hs. The caller holds m.mu.
func (m *Manager) takeEarlyFirewall(hs *hostState) {
	if rules, ok := m.earlyFirewalls[hs.ID]; ok {
		hs.Firewall = &hostFirewall{Rules: rules}
		delete(m.earlyFirewalls, hs.ID)
	}
}

// applyFirewall makes the host's namespace hold the filter its state
// records, or none, in IPv4 and IPv6 (a host's eth0 has a link-local IPv6
// address the other hosts reach). Each family changes in one
// iptables-restore transaction, so the host is never open or closed
// wrongly in between. A host without a namespace is left alone: whatever
// creates it applies the filter. The caller holds the host's lock.
func (m *Manager) applyFirewall(ctx context.Context, hs *hostState) error {
	m.mu.Lock()
	fw := hs.Firewall
	m.mu.Unlock()
	path := m.netnsPath(hs.ID)
	if !exists(path) {
		return nil
	}
	var rules []FirewallRule
	if fw != nil {
		rules = fw.Rules
		if rules == nil {
			rules = []FirewallRule{}
		}
	}
	progs, err := m.firewallPrograms()
	if err != nil {
		return fmt.Errorf("firewall of host %s: %w", hs.ID, err)
	}
	for _, p := range progs {
		out, err := output(ctx, m.tools.nsenter, "--net="+path, "--", p.iptables, "-w", "-t", "mangle", "-S")
		if err != nil {
			return fmt.Errorf("firewall of host %s: %w", hs.ID, err)
		}
		script := firewallScript(p.v6, rules, parseMangle(out))
		if script == "" {
			continue
		}
		if err := runInput(ctx, script, m.tools.nsenter, "--net="+path, "--", p.restore, "-w", "--noflush"); err != nil {
			return fmt.Errorf("firewall of host %s: %w", hs.ID, err)
		}
	}
	if fw != nil {
		m.cfg.Logger.Debug("host firewall applied", "host", hs.ID, "rules", len(rules))
	}
	return nil
}

// firewallProgram is the iptables (and its iptables-restore) of one
// address family.
type firewallProgram struct {
	v6                bool
	iptables, restore string
}

// firewallPrograms are the iptables of the flavour the manager uses
// (nft or legacy, as Debian's alternatives select), for IPv4 and, when
// the kernel has IPv6, IPv6.
func (m *Manager) firewallPrograms() ([]firewallProgram, error) {
	v4 := firewallProgram{iptables: m.tools.iptables, restore: m.tools.iptables + "-restore"}
	if !exists(v4.restore) {
		return nil, fmt.Errorf("%s not found: apt-get install -y iptables", filepath.Base(v4.restore))
	}
	progs := []firewallProgram{v4}
	if !exists("/proc/sys/net/ipv6") {
		return progs, nil
	}
	dir, base := filepath.Split(m.tools.iptables)
	v6 := firewallProgram{v6: true, iptables: filepath.Join(dir, strings.Replace(base, "iptables", "ip6tables", 1))}
	v6.restore = v6.iptables + "-restore"
	if !exists(v6.iptables) || !exists(v6.restore) {
		return nil, fmt.Errorf("%s not found beside %s: apt-get install -y iptables", filepath.Base(v6.restore), m.tools.iptables)
	}
	return append(progs, v6), nil
}

// mangleState is what a mangle table holds of the filter.
type mangleState struct {
	chain bool
	// jumps are PREROUTING's rules jumping to the chain, as iptables -S
	// prints them, without "-A PREROUTING".
	jumps []string
}

// parseMangle reads iptables -S output of the mangle table.
func parseMangle(out []byte) mangleState {
	var st mangleState
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "-N" && f[1] == firewallChain:
			st.chain = true
		case len(f) > 2 && f[0] == "-A" && f[1] == "PREROUTING" && slices.Contains(f, firewallChain):
			st.jumps = append(st.jumps, strings.Join(f[2:], " "))
		}
	}
	return st
}

// firewallJump is the PREROUTING rule sending what arrives on the uplink
// through the filter. Traffic between the host's own bridges and
// containers never crosses the uplink, as on a real machine.
var firewallJump = "-i " + uplink + " -j " + firewallChain

// firewallScript is the iptables-restore --noflush input that brings a
// mangle table from have to the filter for rules of one family (v6: the
// IPv6 table): nil rules remove it. Empty when nothing changes. Declaring
// the chain flushes it, so the new rules replace the old ones in the same
// transaction.
func firewallScript(v6 bool, rules []FirewallRule, have mangleState) string {
	var b strings.Builder
	b.WriteString("*mangle\n")
	if rules == nil {
		if !have.chain && len(have.jumps) == 0 {
			return ""
		}
		for _, j := range have.jumps {
			fmt.Fprintf(&b, "-D PREROUTING %s\n", j)
		}
		if have.chain {
			fmt.Fprintf(&b, ":%s - [0:0]\n-X %s\n", firewallChain, firewallChain)
		}
		b.WriteString("COMMIT\n")
		return b.String()
	}
	fmt.Fprintf(&b, ":%s - [0:0]\n", firewallChain)
	for _, r := range firewallRules(v6, rules) {
		fmt.Fprintf(&b, "-A %s %s\n", firewallChain, r)
	}
	if len(have.jumps) != 1 || have.jumps[0] != firewallJump {
		for _, j := range have.jumps {
			fmt.Fprintf(&b, "-D PREROUTING %s\n", j)
		}
		fmt.Fprintf(&b, "-I PREROUTING 1 %s\n", firewallJump)
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// firewallRules are the chain's rules for one family: replies to the
// host's own connections pass, then one RETURN per rule and source of the
// family, then DROP.
func firewallRules(v6 bool, rules []FirewallRule) []string {
	out := []string{"-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN"}
	if v6 {
		// Neighbour discovery is the link's ARP: without it nothing,
		// not even replies, reaches the host over IPv6.
		out = append(out,
			"-p ipv6-icmp -m icmp6 --icmpv6-type neighbour-solicitation -j RETURN",
			"-p ipv6-icmp -m icmp6 --icmpv6-type neighbour-advertisement -j RETURN")
	}
	seen := map[string]bool{}
	for _, r := range rules {
		for _, src := range r.Sources {
			if src.Addr().Is6() != v6 {
				continue
			}
			var s string
			switch r.Protocol {
			case "icmp":
				m, ok := icmpMatch(v6, r.ICMPType, r.ICMPCode)
				if !ok {
					continue
				}
				s = fmt.Sprintf("-s %s %s -j RETURN", src, m)
			default:
				s = fmt.Sprintf("-s %s -p %s", src, r.Protocol)
				if r.FromPort != 0 || r.ToPort != 0 {
					s += fmt.Sprintf(" -m %s --dport %s", r.Protocol, portRange(r.FromPort, r.ToPort))
				}
				s += " -j RETURN"
			}
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return append(out, "-j DROP")
}

// icmpMatch is the match of an icmp rule in one family, narrowed to its
// type and code when it has them; ok false when the rule admits nothing
// the filter can express.
func icmpMatch(v6 bool, typ, code *int) (m string, ok bool) {
	proto, match, opt := "icmp", "icmp", "--icmp-type"
	if v6 {
		proto, match, opt = "ipv6-icmp", "icmp6", "--icmpv6-type"
	}
	m = "-p " + proto
	if typ == nil {
		return m, true
	}
	if !v6 && *typ == 255 {
		// The kernel's icmp match reads type 255 as any type. IANA
		// reserves it: nothing legitimate sends it, so the rule admits
		// nothing rather than every type.
		return "", false
	}
	t := strconv.Itoa(*typ)
	if code != nil {
		t += "/" + strconv.Itoa(*code)
	}
	return fmt.Sprintf("%s -m %s %s %s", m, match, opt, t), true
}

func portRange(from, to int) string {
	if from == to {
		return strconv.Itoa(from)
	}
	return strconv.Itoa(from) + ":" + strconv.Itoa(to)
}

// runInput runs a command with input on its standard input.
func runInput(ctx context.Context, input, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(input)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}
