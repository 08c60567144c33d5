package netns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
)

// partitionComment tags the FORWARD rules that cut a host off (Partition).
const partitionComment = "localcloud-partition"

// linkState is the state of a host's veth on the machine: down while the
// host is off, so its addresses do not answer.
func linkState(hs *hostState) string {
	if hs.Off {
		return "down"
	}
	return "up"
}

// PowerOff stops a host and takes its addresses off the network, keeping
// its namespace, directory and data-root. clean is a shutdown: dockerd gets
// SIGTERM and stops its containers (SIGKILL after StopTimeout), then the
// link goes down. Otherwise the machine loses power: the link goes down and
// every process of the host (dockerd, containerd, shims, containers) is
// killed at once with SIGKILL. The host stays off (Restore too leaves it
// off) until PowerOn. A host already off is left as it is.
func (m *Manager) PowerOff(ctx context.Context, id string, clean bool) error {
	return m.withHost(id, func(hs *hostState) error {
		if clean {
			if err := m.stopHost(ctx, hs); err != nil {
				return fmt.Errorf("shutting down host %s: %w", id, err)
			}
		}
		if err := m.updateState(func(*state) { hs.Off = true }); err != nil {
			return err
		}
		if err := m.setLink(ctx, hs); err != nil {
			return err
		}
		if err := m.killHost(ctx, hs); err != nil {
			return fmt.Errorf("powering off host %s: %w", id, err)
		}
		// The containers' cgroups are empty now; Docker makes them again.
		if err := m.removeCgroups(hs); err != nil {
			return fmt.Errorf("powering off host %s: %w", id, err)
		}
		m.cfg.Logger.Info("host off", "host", id, "clean", clean)
		return nil
	})
}

// PowerOn starts a host PowerOff stopped, or one whose processes died: its
// link comes up and its dockerd starts on the same data-root, restarting
// containers as their restart policies say, as after a reboot. It returns
// once dockerd answers. A host that is on and whose dockerd answers is left
// as it is.
func (m *Manager) PowerOn(ctx context.Context, id string) error {
	return m.withHost(id, func(hs *hostState) error {
		if !hs.Off && m.findDaemon(hs) != nil && pingDocker(ctx, filepath.Join(m.hostDir(hs.ID), dockerSock)) == nil {
			return nil
		}
		// Whatever is left of a host that failed goes before it boots.
		if err := m.stopHost(ctx, hs); err != nil {
			return fmt.Errorf("powering on host %s: %w", id, err)
		}
		if err := m.updateState(func(*state) { hs.Off = false }); err != nil {
			return err
		}
		// A machine that boots starts with an empty kernel: the links,
		// routes and packet filter rules its last dockerd made are gone.
		// The namespace outlives the power cut here, so they go now, or a
		// rule of the last boot (a published port's DNAT to a container
		// address now someone else's) would keep misrouting traffic.
		if err := m.resetKernelState(ctx, hs); err != nil {
			return fmt.Errorf("powering on host %s: %w", id, err)
		}
		// The cloud's firewall is not the host's: it filters again
		// before the link comes up.
		if err := m.applyFirewall(ctx, hs); err != nil {
			return fmt.Errorf("powering on host %s: %w", id, err)
		}
		m.netMu.Lock()
		err := m.setupHostNetLocked(ctx, hs)
		m.netMu.Unlock()
		if err != nil {
			return fmt.Errorf("powering on host %s: %w", id, err)
		}
		if err := m.startDaemon(ctx, hs); err != nil {
			return fmt.Errorf("powering on host %s: %w", id, err)
		}
		m.cfg.Logger.Info("host on", "host", id)
		return nil
	})
}

// resetKernelState removes from the host's namespace what its last boot
// made: every link but lo and eth0 (bridges, container veths, VXLANs and
// their routes with them) and every iptables rule and chain. eth0 and its
// addresses (the host's own, its reserved IPs) stay: they are the
// "hardware" and the cloud's configuration.
func (m *Manager) resetKernelState(ctx context.Context, hs *hostState) error {
	ns := m.netnsName(hs.ID)
	out, err := output(ctx, m.tools.ip, "-n", ns, "-o", "link", "show")
	if err != nil {
		return fmt.Errorf("listing the host's links: %w", err)
	}
	var errs []error
	for _, line := range strings.Split(string(out), "\n") {
		// "5: docker0: <...>" or "7: veth1a2b@if6: <...>"
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		if name == "lo" || name == "eth0" {
			continue
		}
		// A veth's peer may have gone with the other end already.
		if err := run(ctx, m.tools.ip, "-n", ns, "link", "del", "dev", name); err != nil && m.listsSomething(ctx, "-n", ns, "link", "show", "dev", name) {
			errs = append(errs, fmt.Errorf("removing link %s: %w", name, err))
		}
	}
	for _, table := range []string{"filter", "nat", "mangle", "raw"} {
		for _, op := range []string{"-F", "-X"} {
			if err := run(ctx, m.tools.nsenter, "--net="+m.netnsPath(hs.ID), "--", m.tools.iptables, "-w", "-t", table, op); err != nil {
				errs = append(errs, fmt.Errorf("resetting iptables table %s: %w", table, err))
			}
		}
	}
	return errors.Join(errs...)
}

// setLink sets the host's veth on the machine up or down as linkState says.
func (m *Manager) setLink(ctx context.Context, hs *hostState) error {
	m.netMu.Lock()
	defer m.netMu.Unlock()
	if !linkExists(hs.Veth) {
		return nil // re-created by PowerOn or Restore
	}
	if err := run(ctx, m.tools.ip, "link", "set", "dev", hs.Veth, linkState(hs)); err != nil {
		return fmt.Errorf("setting the link of host %s %s: %w", hs.ID, linkState(hs), err)
	}
	return nil
}

// Partition cuts a host off from the other hosts: FORWARD rules tagged
// "localcloud-partition" drop whatever the bridge forwards from or to its
// address and the reserved IPs it holds (they follow the reserved IPs as
// they move). The machine still reaches the host. Heal undoes it.
func (m *Manager) Partition(ctx context.Context, id string) error { return m.partition(ctx, id, true) }

// Heal undoes Partition. A host not partitioned is not an error.
func (m *Manager) Heal(ctx context.Context, id string) error { return m.partition(ctx, id, false) }

func (m *Manager) partition(ctx context.Context, id string, on bool) error {
	return m.withHost(id, func(hs *hostState) error {
		m.netMu.Lock()
		defer m.netMu.Unlock()
		if err := m.setPartitionLocked(ctx, hs, on); err != nil {
			return err
		}
		m.cfg.Logger.Info("host partition", "host", id, "partitioned", on)
		return nil
	})
}

// setPartitionLocked records whether hs is partitioned and syncs the rules.
// The caller holds netMu.
func (m *Manager) setPartitionLocked(ctx context.Context, hs *hostState, on bool) error {
	m.mu.Lock()
	same := hs.Partitioned == on
	m.mu.Unlock()
	if same && !on {
		return nil
	}
	if err := m.updateState(func(*state) { hs.Partitioned = on }); err != nil {
		return err
	}
	return m.syncPartitionRulesLocked(ctx)
}

// partitionRules are the DROP rules of every partitioned host.
func (m *Manager) partitionRules() [][]string {
	m.mu.Lock()
	var addrs []netip.Addr
	for _, hs := range m.st.Hosts {
		if !hs.Partitioned {
			continue
		}
		addrs = append(addrs, hs.IPv4)
		if hs.PrivateIPv4.IsValid() {
			addrs = append(addrs, hs.PrivateIPv4)
		}
		for ip, id := range m.st.Reserved {
			if id == hs.ID {
				addrs = append(addrs, ip)
			}
		}
	}
	m.mu.Unlock()
	slices.SortFunc(addrs, netip.Addr.Compare)
	br := m.cfg.Bridge
	var rules [][]string
	for _, a := range addrs {
		for _, dir := range []string{"-s", "-d"} {
			rules = append(rules, []string{"-i", br, "-o", br, dir, a.String() + "/32",
				"-m", "comment", "--comment", partitionComment, "-j", "DROP"})
		}
	}
	return rules
}

// syncPartitionRulesLocked makes the FORWARD chains hold the partition
// rules of the state, above the rules that let hosts talk. The caller holds
// netMu.
func (m *Manager) syncPartitionRulesLocked(ctx context.Context) error {
	rules := m.partitionRules()
	if len(rules) == 0 && m.partitionsClear {
		return nil
	}
	m.mu.Lock()
	progs := slices.Clone(m.st.Created.IPTables)
	m.mu.Unlock()
	for _, p := range progs {
		if err := m.deleteForwardRules(ctx, p, partitionComment); err != nil {
			return err
		}
		if err := insertForwardRules(ctx, p, rules); err != nil {
			return err
		}
	}
	m.partitionsClear = len(rules) == 0
	return nil
}
