package netns

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const netnsDir = "/run/netns"

// run runs a command and returns its error with the command's output.
func run(ctx context.Context, name string, args ...string) error {
	_, err := output(ctx, name, args...)
	return err
}

func output(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		return stdout.Bytes(), fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, msg)
	}
	return stdout.Bytes(), nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func linkExists(name string) bool {
	_, err := os.Stat(filepath.Join("/sys/class/net", name))
	return err == nil
}

func writeSysctl(path, value string) error {
	return os.WriteFile(path, []byte(value), 0o644)
}

// gateway is the bridge's address: the subnet's first.
func (m *Manager) gateway() netip.Addr { return m.cfg.Subnet.Addr().Next() }

func (m *Manager) netnsName(id string) string { return m.cfg.NetnsPrefix + id }

func (m *Manager) netnsPath(id string) string { return filepath.Join(netnsDir, m.netnsName(id)) }

// vethName names the machine's end of a host's veth pair after the bridge
// and the host's offset in the subnet: hdk0v2 for 10.213.0.2.
func (m *Manager) vethName(ip netip.Addr) string {
	off := addrOffset(m.cfg.Subnet.Addr(), ip)
	br := m.cfg.Bridge
	suffix := "v" + strconv.FormatUint(uint64(off), 10)
	if len(br)+len(suffix) > 15 {
		br = br[:15-len(suffix)]
	}
	return br + suffix
}

func addrOffset(base, ip netip.Addr) uint32 {
	b, a := base.As4(), ip.As4()
	return (uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])) -
		(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
}

// allocIP returns the lowest free host address. The caller holds m.mu.
func (m *Manager) allocIP() (netip.Addr, error) {
	used := map[netip.Addr]bool{}
	for _, h := range m.st.Hosts {
		used[h.IPv4] = true
	}
	last := lastAddr(m.cfg.Subnet)
	for a := m.gateway().Next(); a.IsValid() && a.Less(last); a = a.Next() {
		if !used[a] {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no free address left in %s", m.cfg.Subnet)
}

// lastAddr is the prefix's broadcast address.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := (uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// bridgeMAC is a stable, locally administered MAC for the bridge, so that it
// does not change with the ports plugged into it.
func bridgeMAC(name string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	s := h.Sum32()
	return fmt.Sprintf("02:68:64:%02x:%02x:%02x", byte(s>>16), byte(s>>8), byte(s))
}

// hostMAC is the MAC of the eth0 of the host whose address is ip: one per
// address, for good. localcloud reuses addresses, and the other hosts'
// neighbour caches keep an address's MAC long after its host is gone;
// with a random MAC per host they would send a reused address's packets
// to nobody until their entries failed (a load balancer's backend roll
// lost requests to it, arp_notify's gratuitous ARP notwithstanding). A
// cloud's network moves an address between MACs itself.
func hostMAC(ip netip.Addr) string {
	a := ip.As4()
	return fmt.Sprintf("02:6c:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3])
}

// ensureNetwork sets up the bridge, its address and forwarding, the
// unreachable route of the reserved prefix and the FORWARD rules. It is
// idempotent. The caller holds m.netMu.
func (m *Manager) ensureNetworkLocked(ctx context.Context) error {
	if m.netReady {
		return nil
	}
	if err := m.checkRoutes(ctx); err != nil {
		return err
	}
	br := m.cfg.Bridge
	if !linkExists(br) {
		if err := run(ctx, m.tools.ip, "link", "add", "name", br, "address", bridgeMAC(br), "type", "bridge"); err != nil {
			return fmt.Errorf("creating bridge: %w", err)
		}
		if err := m.updateState(func(st *state) { st.Created.Bridge = true }); err != nil {
			return err
		}
	}
	gw := netip.PrefixFrom(m.gateway(), m.cfg.Subnet.Bits())
	if err := run(ctx, m.tools.ip, "addr", "replace", gw.String(), "dev", br); err != nil {
		return fmt.Errorf("configuring bridge: %w", err)
	}
	if err := run(ctx, m.tools.ip, "link", "set", "dev", br, "up"); err != nil {
		return fmt.Errorf("configuring bridge: %w", err)
	}
	// Forwarding on the bridge only: hosts reach reserved IPs through the
	// machine, and the machine does not become a router for other links.
	if err := writeSysctl("/proc/sys/net/ipv4/conf/"+br+"/forwarding", "1"); err != nil {
		return fmt.Errorf("enabling forwarding on %s: %w", br, err)
	}
	_ = writeSysctl("/proc/sys/net/ipv6/conf/"+br+"/disable_ipv6", "1")
	if err := run(ctx, m.tools.ip, "route", "replace", "unreachable", m.cfg.ReservedPrefix.String()); err != nil {
		return fmt.Errorf("routing reserved IPs: %w", err)
	}
	if err := run(ctx, m.tools.ip, "route", "replace", "unreachable", m.cfg.PrivatePrefix.String()); err != nil {
		return fmt.Errorf("routing private addresses: %w", err)
	}
	if err := m.ensureForwardRules(ctx); err != nil {
		return err
	}
	m.netReady = true
	return nil
}

// checkRoutes refuses a subnet or reserved prefix that the machine already
// routes somewhere else.
func (m *Manager) checkRoutes(ctx context.Context) error {
	out, err := output(ctx, m.tools.ip, "-j", "-4", "route", "show", "table", "all")
	if err != nil {
		return fmt.Errorf("listing routes: %w", err)
	}
	var routes []struct {
		Dst  string `json:"dst"`
		Dev  string `json:"dev"`
		Type string `json:"type"`
	}
	if err := json.Unmarshal(out, &routes); err != nil {
		return fmt.Errorf("listing routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == "default" || r.Dev == m.cfg.Bridge || r.Dev == "lo" {
			continue
		}
		p, err := netip.ParsePrefix(r.Dst)
		if err != nil {
			a, aerr := netip.ParseAddr(r.Dst)
			if aerr != nil {
				continue
			}
			p = netip.PrefixFrom(a, 32)
		}
		if r.Type == "unreachable" && (p == m.cfg.ReservedPrefix || p == m.cfg.PrivatePrefix) {
			continue
		}
		if r.Type == "local" || r.Type == "broadcast" {
			if m.cfg.Subnet.Contains(p.Addr()) || m.cfg.ReservedPrefix.Contains(p.Addr()) || m.cfg.PrivatePrefix.Contains(p.Addr()) {
				return fmt.Errorf("address %s of %s is already on this machine (dev %s): choose another localcloud subnet", p.Addr(), m.cfg.Subnet, r.Dev)
			}
			continue
		}
		for _, ours := range []netip.Prefix{m.cfg.Subnet, m.cfg.ReservedPrefix, m.cfg.PrivatePrefix} {
			if p.Overlaps(ours) {
				return fmt.Errorf("localcloud range %s overlaps route %s dev %s on this machine: configure another range", ours, p, r.Dev)
			}
		}
	}
	return nil
}

// forwardRules are the FORWARD rules, in order.
func (m *Manager) forwardRules() [][]string {
	br := m.cfg.Bridge
	return [][]string{
		{"-i", br, "-o", br, "-m", "comment", "--comment", ruleComment, "-j", "ACCEPT"},
		{"-i", br, "-m", "comment", "--comment", ruleComment, "-j", "REJECT", "--reject-with", "icmp-admin-prohibited"},
	}
}

// iptablesPrograms picks the iptables the rules go into: the one Debian's
// alternatives select, plus the other backend when it holds a filter table
// (its FORWARD chain filters the same packets).
func (m *Manager) iptablesPrograms(ctx context.Context) []string {
	progs := []string{m.tools.iptables}
	v, _ := output(ctx, m.tools.iptables, "--version")
	other := "iptables-legacy"
	if strings.Contains(string(v), "legacy") {
		other = "iptables-nft"
	}
	if p, err := lookTool("", other); err == nil {
		if out, err := output(ctx, p+"-save"); err == nil && bytes.Contains(out, []byte("*filter")) {
			progs = append(progs, p)
		}
	}
	return progs
}

func isNft(ctx context.Context, prog string) bool {
	v, _ := output(ctx, prog, "--version")
	return strings.Contains(string(v), "nf_tables")
}

// ensureForwardRules (re)inserts the rules at the top of FORWARD.
func (m *Manager) ensureForwardRules(ctx context.Context) error {
	progs := m.iptablesPrograms(ctx)
	for _, p := range progs {
		if isNft(ctx, p) && m.tools.nft != "" {
			if err := run(ctx, m.tools.nft, "list", "table", "ip", "filter"); err != nil {
				if err := m.updateState(func(st *state) { st.Created.NftFilterTable = true }); err != nil {
					return err
				}
			}
		}
		if err := m.updateState(func(st *state) { st.Created.IPTables = addUnique(st.Created.IPTables, p) }); err != nil {
			return err
		}
		if err := m.deleteForwardRules(ctx, p, ruleComment, partitionComment); err != nil {
			return err
		}
		if err := insertForwardRules(ctx, p, m.forwardRules()); err != nil {
			return err
		}
		// Partitions go above the rules that let hosts talk.
		if err := insertForwardRules(ctx, p, m.partitionRules()); err != nil {
			return err
		}
	}
	m.partitionsClear = len(m.partitionRules()) == 0
	return nil
}

// insertForwardRules inserts rules at the top of prog's FORWARD chain, in
// order.
func insertForwardRules(ctx context.Context, prog string, rules [][]string) error {
	for i := len(rules) - 1; i >= 0; i-- {
		args := append([]string{"-w", "-I", "FORWARD", "1"}, rules[i]...)
		if err := run(ctx, prog, args...); err != nil {
			return fmt.Errorf("adding FORWARD rule: %w", err)
		}
	}
	return nil
}

// deleteForwardRules deletes every FORWARD rule tagged with one of tags
// that names this manager's bridge.
func (m *Manager) deleteForwardRules(ctx context.Context, prog string, tags ...string) error {
	out, err := output(ctx, prog, "-w", "-S", "FORWARD")
	if err != nil {
		return fmt.Errorf("listing FORWARD rules: %w", err)
	}
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || f[0] != "-A" || !ourRule(f, m.cfg.Bridge, tags...) {
			continue
		}
		f[0] = "-D"
		if err := run(ctx, prog, append([]string{"-w"}, f...)...); err != nil {
			errs = append(errs, fmt.Errorf("deleting FORWARD rule: %w", err))
		}
	}
	return errors.Join(errs...)
}

// ourRule tells whether the rule f (iptables -S words) names bridge and is
// tagged with one of tags (default: ruleComment).
func ourRule(f []string, bridge string, tags ...string) bool {
	if len(tags) == 0 {
		tags = []string{ruleComment}
	}
	tagged, onBridge := false, false
	for i := 0; i+1 < len(f); i++ {
		switch f[i] {
		case "--comment":
			tagged = tagged || slices.Contains(tags, f[i+1])
		case "-i", "-o":
			onBridge = onBridge || f[i+1] == bridge
		}
	}
	return tagged && onBridge
}

func addUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// isMountPoint tells whether path is a mount point in this mount namespace.
func isMountPoint(path string) bool {
	mps, err := mountPoints()
	if err != nil {
		return false
	}
	for _, mp := range mps {
		if mp == path {
			return true
		}
	}
	return false
}

// mountPoints lists the mount points of /proc/self/mountinfo.
func mountPoints() ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var mps []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mps = append(mps, unescapeMountinfo(f[4]))
	}
	return mps, nil
}

// unescapeMountinfo undoes the octal escapes (\040 for space) of mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// setupHostNet creates what is missing of a host's namespace, veth,
// addresses and routes. The caller holds m.netMu.
func (m *Manager) setupHostNetLocked(ctx context.Context, hs *hostState) error {
	name, path := m.netnsName(hs.ID), m.netnsPath(hs.ID)
	if _, err := os.Stat(path); err != nil {
		if err := m.noteNetnsDir(); err != nil {
			return err
		}
		if err := run(ctx, m.tools.ip, "netns", "add", name); err != nil {
			return fmt.Errorf("creating network namespace: %w", err)
		}
	}
	if !linkExists(hs.Veth) {
		// Deleting either end of a veth deletes both, so the namespace has
		// no eth0 left when the machine's end is missing.
		if err := run(ctx, m.tools.ip, "link", "add", hs.Veth, "type", "veth", "peer", "name", "eth0", "address", hostMAC(hs.IPv4), "netns", name); err != nil {
			return fmt.Errorf("creating veth: %w", err)
		}
	}
	_ = writeSysctl("/proc/sys/net/ipv6/conf/"+hs.Veth+"/disable_ipv6", "1")
	addr := netip.PrefixFrom(hs.IPv4, m.cfg.Subnet.Bits()).String()
	for _, args := range [][]string{
		{"link", "set", "dev", hs.Veth, "master", m.cfg.Bridge, linkState(hs)},
		{"-n", name, "link", "set", "dev", "lo", "up"},
		{"-n", name, "addr", "replace", addr, "dev", "eth0"},
	} {
		if err := run(ctx, m.tools.ip, args...); err != nil {
			return fmt.Errorf("configuring host network: %w", err)
		}
	}
	if err := m.setupPrivateNet(ctx, hs); err != nil {
		return fmt.Errorf("configuring host network: %w", err)
	}
	// With arp_notify, eth0 coming up announces its addresses (a
	// gratuitous ARP each), as a cloud's network does when an address
	// moves. A reused address keeps its MAC anyway (hostMAC); this covers
	// a namespace left from before that, whose eth0 has a random one.
	if err := inNetns(path, func() error { return writeSysctl("/proc/sys/net/ipv4/conf/eth0/arp_notify", "1") }); err != nil {
		return fmt.Errorf("configuring host network: %w", err)
	}
	for _, args := range [][]string{
		{"-n", name, "link", "set", "dev", "eth0", "up"},
		{"-n", name, "route", "replace", "default", "via", m.gateway().String(), "dev", "eth0"},
	} {
		if err := run(ctx, m.tools.ip, args...); err != nil {
			return fmt.Errorf("configuring host network: %w", err)
		}
	}
	// A reserved IP moves between hosts; a redirect cached by a host would
	// keep sending its traffic to the former owner.
	return inNetns(path, func() error {
		for _, p := range []string{"all", "default", "eth0"} {
			if err := writeSysctl("/proc/sys/net/ipv4/conf/"+p+"/accept_redirects", "0"); err != nil {
				return fmt.Errorf("configuring host network: %w", err)
			}
		}
		return nil
	})
}

// noteNetnsDir records whether /run/netns exists and is a mount point
// before "ip netns add" makes it one.
func (m *Manager) noteNetnsDir() error {
	m.mu.Lock()
	known := m.netnsNoted
	m.netnsNoted = true
	m.mu.Unlock()
	if known {
		return nil
	}
	_, statErr := os.Stat(netnsDir)
	mounted := isMountPoint(netnsDir)
	return m.updateState(func(st *state) {
		if statErr != nil {
			st.Created.NetnsDir = true
		}
		if !mounted {
			st.Created.NetnsMount = true
		}
	})
}

// teardownHostNet removes the host's reserved IP routes, veth and
// namespace. The caller holds m.netMu.
func (m *Manager) teardownHostNetLocked(ctx context.Context, hs *hostState, reserved []netip.Addr) error {
	var errs []error
	for _, ip := range reserved {
		if err := m.delRoute(ctx, ip); err != nil {
			errs = append(errs, err)
		}
	}
	if linkExists(hs.Veth) {
		if err := run(ctx, m.tools.ip, "link", "del", "dev", hs.Veth); err != nil {
			errs = append(errs, fmt.Errorf("deleting veth: %w", err))
		}
	}
	if _, err := os.Stat(m.netnsPath(hs.ID)); err == nil {
		if err := run(ctx, m.tools.ip, "netns", "del", m.netnsName(hs.ID)); err != nil {
			errs = append(errs, fmt.Errorf("deleting network namespace: %w", err))
		}
	}
	return errors.Join(errs...)
}

// delRoute deletes the machine's route to a reserved IP, if it is there.
func (m *Manager) delRoute(ctx context.Context, ip netip.Addr) error {
	if !m.listsSomething(ctx, "-4", "route", "show", "exact", ip.String()+"/32") {
		return nil
	}
	if err := run(ctx, m.tools.ip, "route", "del", ip.String()+"/32"); err != nil {
		return fmt.Errorf("deleting route to %s: %w", ip, err)
	}
	return nil
}

// listsSomething tells whether "ip args..." succeeds and prints something.
func (m *Manager) listsSomething(ctx context.Context, args ...string) bool {
	out, err := output(ctx, m.tools.ip, args...)
	return err == nil && len(bytes.TrimSpace(out)) > 0
}

// reservedAddrLocked puts a reserved IP on a host and routes it there. The
// caller holds m.netMu.
func (m *Manager) reservedAddrLocked(ctx context.Context, ip netip.Addr, hs *hostState) error {
	if err := run(ctx, m.tools.ip, "-n", m.netnsName(hs.ID), "addr", "replace", ip.String()+"/32", "dev", "eth0"); err != nil {
		return fmt.Errorf("assigning %s to host %s: %w", ip, hs.ID, err)
	}
	if err := run(ctx, m.tools.ip, "route", "replace", ip.String()+"/32", "via", hs.IPv4.String(), "dev", m.cfg.Bridge); err != nil {
		return fmt.Errorf("routing %s to host %s: %w", ip, hs.ID, err)
	}
	return nil
}

// dropReservedAddr removes a reserved IP from a host's eth0, if there.
func (m *Manager) dropReservedAddr(ctx context.Context, ip netip.Addr, id string) error {
	if !exists(m.netnsPath(id)) || !m.listsSomething(ctx, "-n", m.netnsName(id), "-4", "-o", "addr", "show", "dev", "eth0", "to", ip.String()+"/32") {
		return nil
	}
	if err := run(ctx, m.tools.ip, "-n", m.netnsName(id), "addr", "del", ip.String()+"/32", "dev", "eth0"); err != nil {
		return fmt.Errorf("removing %s from host %s: %w", ip, id, err)
	}
	return nil
}

// teardownNetwork removes the rules, the reserved prefix's route and the
// bridge. The caller holds m.netMu.
func (m *Manager) teardownNetworkLocked(ctx context.Context) error {
	var errs []error
	m.mu.Lock()
	cr := m.st.Created
	m.mu.Unlock()
	progs := cr.IPTables
	if len(progs) == 0 {
		progs = []string{m.tools.iptables}
	}
	for _, p := range progs {
		if err := m.deleteForwardRules(ctx, p, ruleComment, partitionComment); err != nil {
			errs = append(errs, err)
		}
	}
	if cr.NftFilterTable && m.tools.nft != "" {
		if err := m.deleteEmptyNftFilter(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range []netip.Prefix{m.cfg.ReservedPrefix, m.cfg.PrivatePrefix} {
		out, _ := output(ctx, m.tools.ip, "-4", "route", "show", "exact", p.String(), "type", "unreachable")
		if len(bytes.TrimSpace(out)) > 0 {
			if err := run(ctx, m.tools.ip, "route", "del", "unreachable", p.String()); err != nil {
				errs = append(errs, fmt.Errorf("deleting route of %s: %w", p, err))
			}
		}
	}
	// Host routes of reserved IPs go with the bridge's link.
	if linkExists(m.cfg.Bridge) {
		if err := run(ctx, m.tools.ip, "link", "del", "dev", m.cfg.Bridge); err != nil {
			errs = append(errs, fmt.Errorf("deleting bridge: %w", err))
		}
	}
	if cr.NetnsMount || cr.NetnsDir {
		if entries, err := os.ReadDir(netnsDir); err == nil && len(entries) == 0 {
			if cr.NetnsMount && isMountPoint(netnsDir) {
				if err := unix.Unmount(netnsDir, unix.MNT_DETACH); err != nil {
					errs = append(errs, fmt.Errorf("unmounting %s: %w", netnsDir, err))
				}
			}
			if cr.NetnsDir {
				_ = os.Remove(netnsDir)
			}
		}
	}
	m.netReady = false
	m.partitionsClear = len(errs) == 0
	return errors.Join(errs...)
}

// deleteEmptyNftFilter deletes nft's "ip filter" table, which the rules
// brought into being, when it holds nothing but empty chains with policy
// accept.
func (m *Manager) deleteEmptyNftFilter(ctx context.Context) error {
	out, listErr := output(ctx, m.tools.nft, "list", "table", "ip", "filter")
	if listErr != nil {
		return nil //nolint:nilerr // no such table: gone already
	}
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "", line == "}", strings.HasPrefix(line, "table "), strings.HasPrefix(line, "chain "):
		case strings.HasPrefix(line, "type filter hook") && strings.HasSuffix(line, "policy accept;"):
		default:
			return nil // someone else's rule or policy: keep it
		}
	}
	if err := run(ctx, m.tools.nft, "delete", "table", "ip", "filter"); err != nil {
		return fmt.Errorf("deleting empty nft filter table: %w", err)
	}
	return nil
}

// inNetns runs fn on an OS thread that joined the network namespace at
// path. Sockets fn creates belong to that namespace and keep working from
// any goroutine afterwards. fn must not rely on goroutines it starts being
// in the namespace. The thread goes back to its namespace afterwards, and
// is discarded if it cannot.
func inNetns(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// Unlocked only once the thread is back in its namespace: a thread
		// that stays locked ends with this goroutine.
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- fmt.Errorf("entering network namespace: %w", err)
			return
		}
		defer func() { _ = orig.Close() }()
		target, err := os.Open(path)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("entering network namespace: %w", err)
			return
		}
		err = unix.Setns(int(target.Fd()), unix.CLONE_NEWNET)
		_ = target.Close()
		if err != nil {
			errc <- fmt.Errorf("entering network namespace %s: %w", path, err)
			return
		}
		err = fn()
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}
