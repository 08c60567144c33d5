package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netns"
)

// defaultStateDir is where serve -backend netns and down keep their state.
const defaultStateDir = "/var/lib/haddock-localcloud"

// recordFile, in the state directory, records how serve ran there, so that
// the next serve and down find the same network without repeating flags.
const recordFile = "localcloud-serve.json"

// netnsStateFile is the netns Manager's state file in the state directory.
const netnsStateFile = "netns-state.json"

// checkRealHosts is netns.Check; tests replace it.
var checkRealHosts = netns.Check

type record struct {
	Backend string       `json:"backend"`
	Netns   *netnsRecord `json:"netns,omitempty"`
}

type netnsRecord struct {
	Bridge         string       `json:"bridge"`
	NetnsPrefix    string       `json:"netns_prefix"`
	Subnet         netip.Prefix `json:"subnet"`
	ReservedPrefix netip.Prefix `json:"reserved_prefix"`
}

func readRecord(dir string) (record, bool, error) {
	var r record
	b, err := os.ReadFile(filepath.Join(dir, recordFile))
	if errors.Is(err, iofs.ErrNotExist) {
		return r, false, nil
	}
	if err != nil {
		return r, false, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, false, fmt.Errorf("reading %s: %w", filepath.Join(dir, recordFile), err)
	}
	return r, true, nil
}

func writeRecord(dir string, r record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, recordFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// netnsOpts are the real-host network flags serve and down share.
type netnsOpts struct {
	bridge, prefix, subnet, reserved *string
}

func netnsFlags(fs *flag.FlagSet) *netnsOpts {
	return &netnsOpts{
		bridge:   fs.String("bridge", netns.DefaultBridge, "with -backend netns: the `name` of the bridge hosts are plugged into"),
		prefix:   fs.String("netns-prefix", netns.DefaultNetnsPrefix, "with -backend netns: `prefix` of the hosts' network namespace names"),
		subnet:   fs.String("subnet", netns.DefaultSubnet.String(), "with -backend netns: the hosts' IPv4 `prefix` (the bridge takes its first address)"),
		reserved: fs.String("reserved-prefix", netns.DefaultReservedPrefix.String(), "with -backend netns: IPv4 `prefix` reserved IPs come from"),
	}
}

// adopt takes the recorded settings for the flags not given.
func (o *netnsOpts) adopt(r record, set map[string]bool) {
	n := r.Netns
	if n == nil {
		return
	}
	for name, v := range map[string]struct {
		dst *string
		val string
	}{
		"bridge":          {o.bridge, n.Bridge},
		"netns-prefix":    {o.prefix, n.NetnsPrefix},
		"subnet":          {o.subnet, n.Subnet.String()},
		"reserved-prefix": {o.reserved, n.ReservedPrefix.String()},
	} {
		if !set[name] && v.val != "" && v.val != "invalid Prefix" {
			*v.dst = v.val
		}
	}
}

func (o *netnsOpts) record() *netnsRecord {
	return &netnsRecord{
		Bridge:         *o.bridge,
		NetnsPrefix:    *o.prefix,
		Subnet:         netip.MustParsePrefix(*o.subnet).Masked(),
		ReservedPrefix: netip.MustParsePrefix(*o.reserved).Masked(),
	}
}

// config is the netns.Config the flags describe; the Manager logs warnings
// (a dockerd that had to be killed, say) to stderr.
func (o *netnsOpts) config(stateDir string, stderr io.Writer) (netns.Config, error) {
	subnet, err := netip.ParsePrefix(*o.subnet)
	if err != nil {
		return netns.Config{}, usagef("-subnet: %v", err)
	}
	reserved, err := netip.ParsePrefix(*o.reserved)
	if err != nil {
		return netns.Config{}, usagef("-reserved-prefix: %v", err)
	}
	*o.subnet, *o.reserved = subnet.Masked().String(), reserved.Masked().String()
	return netns.Config{
		StateDir:       stateDir,
		Bridge:         *o.bridge,
		NetnsPrefix:    *o.prefix,
		Subnet:         subnet,
		ReservedPrefix: reserved,
		Logger:         slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}, nil
}
