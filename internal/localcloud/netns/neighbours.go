package netns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The kernel's IPv4 neighbour (ARP) table is one for the whole machine,
// shared by every network namespace, and its default hard limit
// (gc_thresh3) is 1024 entries. Hosts that all talk to each other (Swarm's
// gossip on 7946, at their public and private addresses) hold about two
// entries per pair, and their dockerds' own namespaces (docker_gwbridge,
// the overlay sandboxes) more: 52 hosts hold some 5,000. Past the limit
// the kernel logs "neighbour: arp_cache: neighbor table overflow!",
// address resolution fails and connections fail with "no route to host".
// So the Manager raises the limits to what its hosts need before a host's
// network is set up (Provision, Restore), records the former values in its
// state, and Down puts them back.

// neighSysctlDir is where the IPv4 neighbour table's limits are.
const neighSysctlDir = "/proc/sys/net/ipv4/neigh/default"

// neighKeys are the limits, in the order they are raised (the hard limit
// first, so that gc_thresh1 <= gc_thresh2 <= gc_thresh3 holds throughout).
var neighKeys = []string{"gc_thresh3", "gc_thresh2", "gc_thresh1"}

// neighbourLimits are the neighbour table limits n hosts need: a hard
// limit (gc_thresh3) of at least 4n² entries (two addresses per host, both
// directions), a power of two no lower than the kernel's default 1024; a
// soft limit (gc_thresh2) of half that, and gc_thresh1 an eighth, as the
// kernel's defaults (128, 512, 1024) stand to each other.
func neighbourLimits(n int) map[string]int {
	need := 4 * n * n
	t3 := 1024
	for t3 < need {
		t3 *= 2
	}
	return map[string]int{"gc_thresh3": t3, "gc_thresh2": t3 / 2, "gc_thresh1": t3 / 8}
}

// raiseNeighbourLimits raises the neighbour table limits to what the
// state's hosts need (ensureNeighbourLimits). PowerOn needs no call: it
// adds no host, and the host's Provision or Restore raised them.
func (m *Manager) raiseNeighbourLimits() error {
	m.mu.Lock()
	n := len(m.st.Hosts)
	m.mu.Unlock()
	m.neighMu.Lock()
	defer m.neighMu.Unlock()
	return m.ensureNeighbourLimits(n)
}

// putBackNeighbourLimits is restoreNeighbourLimits under neighMu.
func (m *Manager) putBackNeighbourLimits() error {
	m.neighMu.Lock()
	defer m.neighMu.Unlock()
	return m.restoreNeighbourLimits()
}

// ensureNeighbourLimits raises the neighbour table limits that are below
// what n hosts need, recording the former value of each it raises for the
// first time in the state (Created.NeighbourLimits), which Down puts back.
// It fails, saying what to do, when a limit cannot be raised. The caller
// holds m.neighMu.
func (m *Manager) ensureNeighbourLimits(n int) error {
	want := neighbourLimits(n)
	for _, k := range neighKeys {
		p := filepath.Join(m.neighDir, k)
		cur, err := readSysctlInt(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil // no IPv4 neighbour table here: nothing to raise
			}
			return fmt.Errorf("reading the neighbour table limit: %w", err)
		}
		if cur >= want[k] {
			continue
		}
		m.mu.Lock()
		_, noted := m.st.Created.NeighbourLimits[k]
		m.mu.Unlock()
		if !noted {
			if err := m.updateState(func(st *state) {
				if st.Created.NeighbourLimits == nil {
					st.Created.NeighbourLimits = map[string]neighbourLimit{}
				}
				st.Created.NeighbourLimits[k] = neighbourLimit{Former: cur}
			}); err != nil {
				return err
			}
		}
		if err := writeSysctl(p, strconv.Itoa(want[k])); err != nil {
			return fmt.Errorf("%d hosts need the kernel's neighbour table limit net.ipv4.neigh.default.%s at %d or more, it is %d and cannot be raised (%w): "+
				"raise it (sysctl -w net.ipv4.neigh.default.gc_thresh3=%d net.ipv4.neigh.default.gc_thresh2=%d net.ipv4.neigh.default.gc_thresh1=%d) or run fewer hosts",
				n, k, want[k], cur, err, want["gc_thresh3"], want["gc_thresh2"], want["gc_thresh1"])
		}
		if err := m.updateState(func(st *state) {
			l := st.Created.NeighbourLimits[k]
			l.Set = want[k]
			st.Created.NeighbourLimits[k] = l
		}); err != nil {
			return err
		}
		m.cfg.Logger.Info("neighbour table limit raised", "limit", "net.ipv4.neigh.default."+k, "from", cur, "to", want[k], "hosts", n)
	}
	return nil
}

// restoreNeighbourLimits puts back the neighbour table limits the manager
// raised, in the reverse order, each only when it still holds what the
// manager set (someone who changed it since keeps their value). The caller
// holds m.neighMu.
func (m *Manager) restoreNeighbourLimits() error {
	m.mu.Lock()
	limits := m.st.Created.NeighbourLimits
	m.mu.Unlock()
	var errs []error
	for i := len(neighKeys) - 1; i >= 0; i-- {
		k := neighKeys[i]
		l, ok := limits[k]
		if !ok {
			continue
		}
		p := filepath.Join(m.neighDir, k)
		cur, err := readSysctlInt(p)
		if err == nil && cur == l.Set && l.Former > 0 {
			err = writeSysctl(p, strconv.Itoa(l.Former))
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("putting the neighbour table limit %s back to %d: %w", k, l.Former, err))
			continue
		}
		if err := m.updateState(func(st *state) { delete(st.Created.NeighbourLimits, k) }); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func readSysctlInt(p string) (int, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", p, err)
	}
	return v, nil
}
