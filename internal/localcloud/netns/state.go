package netns

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"time"
)

const (
	stateFile    = "netns-state.json"
	stateVersion = 1
	hostsDir     = "hosts"
)

// state is what Restore and Down need after a restart. It is saved as JSON
// in StateDir after every change.
type state struct {
	Version        int          `json:"version"`
	Bridge         string       `json:"bridge"`
	NetnsPrefix    string       `json:"netns_prefix"`
	Subnet         netip.Prefix `json:"subnet"`
	ReservedPrefix netip.Prefix `json:"reserved_prefix"`

	// Created records what this package created on the machine, so that Down
	// removes exactly that.
	Created created `json:"created"`

	Hosts    map[string]*hostState `json:"hosts"`
	Reserved map[netip.Addr]string `json:"reserved"` // reserved IP -> host ID
	// VPCs are the private networks' prefixes, by VPC name.
	VPCs map[string]netip.Prefix `json:"vpcs,omitempty"`
}

type created struct {
	// Bridge: the bridge did not exist before.
	Bridge bool `json:"bridge,omitempty"`
	// IPTables lists the iptables programs the FORWARD rules went into.
	IPTables []string `json:"iptables,omitempty"`
	// NftFilterTable: nft's "ip filter" table did not exist before the rules
	// went in; Down deletes it if nothing else was put in it.
	NftFilterTable bool `json:"nft_filter_table,omitempty"`
	// NetnsMount: /run/netns was not a mount point before the first "ip
	// netns add"; NetnsDir: it did not exist.
	NetnsMount bool `json:"netns_mount,omitempty"`
	NetnsDir   bool `json:"netns_dir,omitempty"`
	// NeighbourLimits are the kernel's neighbour table limits
	// (net.ipv4.neigh.default.gc_thresh1, 2 and 3, by key) the manager
	// raised: each one's value before and the value set.
	NeighbourLimits map[string]neighbourLimit `json:"neighbour_limits,omitempty"`
}

// neighbourLimit is a neighbour table limit the manager raised.
type neighbourLimit struct {
	Former int `json:"former"`
	Set    int `json:"set,omitempty"`
}

type hostState struct {
	ID       string     `json:"id"`
	Hostname string     `json:"hostname"`
	IPv4     netip.Addr `json:"ipv4"`
	Veth     string     `json:"veth"`
	// CgroupParent is set when this package chose the host's cgroup parent,
	// which Destroy then removes.
	CgroupParent string    `json:"cgroup_parent,omitempty"`
	Created      time.Time `json:"created"`
	// Off: powered off (PowerOff); Restore leaves it off.
	Off bool `json:"off,omitempty"`
	// Partitioned: cut off from the other hosts (Partition).
	Partitioned bool `json:"partitioned,omitempty"`
	// Appliance: no dockerd (HostSpec.Appliance).
	Appliance bool `json:"appliance,omitempty"`
	// Firewall is the host's filter (SetFirewall); nil: none.
	Firewall *hostFirewall `json:"firewall,omitempty"`
	// VPC and PrivateIPv4: the host's private network and its address
	// there (HostSpec.VPC); empty for none.
	VPC         string     `json:"vpc,omitempty"`
	PrivateIPv4 netip.Addr `json:"private_ipv4,omitzero"`
}

func newState(c Config) *state {
	return &state{
		Version:        stateVersion,
		Bridge:         c.Bridge,
		NetnsPrefix:    c.NetnsPrefix,
		Subnet:         c.Subnet,
		ReservedPrefix: c.ReservedPrefix,
		Hosts:          map[string]*hostState{},
		Reserved:       map[netip.Addr]string{},
	}
}

// loadState reads the state file; a missing file gives a fresh state.
func loadState(c Config) (*state, error) {
	path := filepath.Join(c.StateDir, stateFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newState(c), nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading localcloud state: %w", err)
	}
	st := new(state)
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("reading localcloud state %s: %w", path, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("localcloud state %s has version %d, this build reads %d", path, st.Version, stateVersion)
	}
	if st.Bridge != c.Bridge || st.NetnsPrefix != c.NetnsPrefix || st.Subnet != c.Subnet || st.ReservedPrefix != c.ReservedPrefix {
		return nil, fmt.Errorf("localcloud state %s was made with bridge %s, netns prefix %s, subnet %s and reserved IPs %s; "+
			"configure the same or run Down with that configuration first",
			path, st.Bridge, st.NetnsPrefix, st.Subnet, st.ReservedPrefix)
	}
	if st.Hosts == nil {
		st.Hosts = map[string]*hostState{}
	}
	if st.Reserved == nil {
		st.Reserved = map[netip.Addr]string{}
	}
	return st, nil
}

// save writes the state atomically. The caller holds m.mu.
func (st *state) save(dir string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding localcloud state: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("saving localcloud state: %w", err)
	}
	tmp, err := os.CreateTemp(dir, stateFile+".*")
	if err != nil {
		return fmt.Errorf("saving localcloud state: %w", err)
	}
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, stateFile))
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("saving localcloud state: %w", err)
	}
	return nil
}
