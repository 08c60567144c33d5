package netns

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Every host's dockerd runs as root on the machine localcloud runs on, so
// a droplet's daemon.json (from its user data) is limited to settings that
// stay inside the host: nothing that runs another program (runtimes,
// authorization plugins, an external containerd), and no listener without
// TLS (a plain tcp:// "hosts" entry, metrics-addr). A refused daemon.json
// fails the create with the key named.

// allowedDaemonKeys are the daemon.json keys a host may set. data-root,
// exec-root, pidfile, graph, containerd and deprecated-key-path are
// accepted because localcloud replaces or drops them (see the package
// documentation).
var allowedDaemonKeys = []string{
	"bip", "cgroup-parent", "containerd", "data-root", "debug", "default-address-pools", "default-shm-size",
	"default-ulimits", "deprecated-key-path", "dns", "dns-opts", "dns-search", "exec-opts", "exec-root",
	"experimental", "features", "fixed-cidr", "graph", "hosts", "icc", "insecure-registries", "ip", "ip-forward",
	"ip-masq", "iptables", "ipv6", "labels", "live-restore", "log-driver", "log-level", "log-opts",
	"max-concurrent-downloads", "max-concurrent-uploads", "max-download-attempts", "mtu", "pidfile",
	"registry-mirrors", "shutdown-timeout", "storage-driver", "storage-opts", "swarm-default-advertise-addr",
	"tls", "tlscacert", "tlscert", "tlskey", "tlsverify", "userland-proxy",
}

// AllowedDaemonKeys lists the daemon.json keys a localcloud host accepts.
func AllowedDaemonKeys() []string { return slices.Clone(allowedDaemonKeys) }

// CheckDaemonJSON refuses a daemon.json with a key outside
// AllowedDaemonKeys, or a tcp:// listener without tlsverify. Empty is fine.
func CheckDaemonJSON(b []byte) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	cfg := map[string]any{}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("daemon.json: %w", err)
	}
	var refused []string
	for k := range cfg {
		if !slices.Contains(allowedDaemonKeys, k) {
			refused = append(refused, k)
		}
	}
	if len(refused) > 0 {
		slices.Sort(refused)
		return fmt.Errorf("daemon.json: localcloud hosts do not accept %s: a host's dockerd runs as root on this machine; the keys a host may set are %s",
			strings.Join(quoteAll(refused), ", "), strings.Join(allowedDaemonKeys, ", "))
	}
	hosts, _ := cfg["hosts"].([]any)
	verify, _ := cfg["tlsverify"].(bool)
	for _, h := range hosts {
		s, _ := h.(string)
		if strings.HasPrefix(s, "tcp://") && !verify {
			return fmt.Errorf("daemon.json: hosts entry %q listens without TLS client verification: set \"tlsverify\": true with tlscacert, tlscert and tlskey", s)
		}
	}
	return nil
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
