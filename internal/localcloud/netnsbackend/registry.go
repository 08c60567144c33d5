package netnsbackend

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/registry"
)

// RegistryAddr is where localcloud's registry listens for these hosts: the
// bridge's gateway address, port 5000 (see package registry). Every host
// trusts it, whether a registry runs there or not.
func (b *Backend) RegistryAddr() netip.AddrPort {
	return registry.Addr(b.subnet.Addr().Next())
}

// StartRegistry sets up the bridge (netns.Manager.EnsureNetwork), so that
// its gateway address exists before any host does, and starts the registry
// there, pushes needing push (localcloud hands out registry.PushUser and its
// API token; pulls too with pullAuth), with its files in dir (localcloud uses <state-dir>/registry). The
// caller stops it (Registry.Stop) when localcloud stops, and removes it
// (registry.Remove) with the hosts on down. It fails with
// registry.ErrNotInstalled without docker-registry; the hosts work without
// a registry.
func (b *Backend) StartRegistry(ctx context.Context, dir string, push registry.Credentials, pullAuth bool) (*registry.Registry, error) {
	if err := registry.Check(""); err != nil {
		return nil, err
	}
	if err := b.m.EnsureNetwork(ctx); err != nil {
		return nil, fmt.Errorf("setting up the hosts' network for the registry: %w", err)
	}
	return registry.Start(ctx, registry.Config{Dir: dir, Addr: b.RegistryAddr(), Push: push, PullAuth: pullAuth})
}

// withRegistry returns daemon.json with the settings a host needs for the
// registry at addr (registry.DaemonSettings) added: appended to the lists
// the user data's daemon.json has, without duplicates. Empty means {}.
func withRegistry(daemonJSON []byte, addr netip.AddrPort) ([]byte, error) {
	cfg := map[string]any{}
	if len(bytes.TrimSpace(daemonJSON)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(daemonJSON))
		dec.UseNumber()
		if err := dec.Decode(&cfg); err != nil {
			return nil, fmt.Errorf("daemon.json: %w", err)
		}
		if cfg == nil {
			cfg = map[string]any{}
		}
	}
	for key, add := range registry.DaemonSettings(addr) {
		var list []any
		switch v := cfg[key].(type) {
		case nil:
		case []any:
			list = v
		default:
			return nil, fmt.Errorf("daemon.json: %s must be a list, got %v", key, v)
		}
		for _, s := range add {
			found := false
			for _, x := range list {
				found = found || x == s
			}
			if !found {
				list = append(list, s)
			}
		}
		cfg[key] = list
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(cfg); err != nil {
		return nil, fmt.Errorf("encoding daemon.json: %w", err)
	}
	return buf.Bytes(), nil
}
