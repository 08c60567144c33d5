// Package cloudinit renders the user data that turns a fresh Debian or
// Ubuntu machine into a Haddock host, and reads it back for the local cloud.
//
// # What the rendered document does
//
// Render produces a #cloud-config document that:
//
//   - installs Docker Engine from the distribution archive (package
//     docker.io). The distro package needs no third-party apt repository, no
//     extra signing key and no curl|sh installer, works wherever the distro
//     mirrors are reachable, and ships swarm mode. The price is an older
//     engine than Docker's own docker-ce packages; users who want docker-ce
//     should bake it into the image (packages already installed are left
//     alone) rather than list it in their user data, where it would conflict
//     with docker.io;
//   - writes the host's TLS material to /etc/docker/ca.pem,
//     /etc/docker/server-cert.pem and /etc/docker/server-key.pem (0600);
//   - writes /etc/docker/daemon.json listening on the local unix socket and
//     on tcp://0.0.0.0:2376 with tls and tlsverify, plus Params.DaemonExtra;
//   - writes a systemd drop-in that resets dockerd's ExecStart without
//     "-H fd://". The packaged unit passes -H on the command line, and
//     dockerd refuses to start when a directive is given both as a flag and
//     in daemon.json ("the following directives are specified both as a flag
//     and in the configuration file: hosts"), so daemon.json's hosts only
//     works once the flag is gone. The drop-in runs "/usr/bin/env dockerd"
//     because the binary is /usr/sbin/dockerd on Debian and /usr/bin/dockerd
//     on Ubuntu and with docker-ce; dockerd finds the system containerd on
//     its own;
//   - opens the engine and Swarm ports (2376/tcp, 2377/tcp, 7946/tcp+udp,
//     4789/udp) when ufw is installed;
//   - sets the hostname and restarts docker.
//
// write_files runs in cloud-init's init stage, before packages are
// installed, so the engine already starts with this configuration when the
// package starts it; runcmd then reloads systemd and restarts it to be sure.
//
// # The user's own user data
//
// Render never drops the user's user data:
//
//   - #cloud-config: merged into Haddock's document. Lists (write_files,
//     runcmd, bootcmd, packages, ssh_authorized_keys, ...) are Haddock's
//     entries followed by the user's. Keys only the user sets are kept.
//     Mappings present on both sides are merged by the same rules. On any
//     other conflict the user's value wins, except for the keys Haddock
//     depends on (ProtectedKeys: hostname, preserve_hostname,
//     package_update), where Haddock's value is kept. A user write_files
//     entry for a path Haddock writes (the TLS files, daemon.json, the
//     drop-in) is an error: daemon settings belong in Params.DaemonExtra.
//   - a MIME multipart document: its cloud-config parts are merged as above,
//     its other parts are kept as they are, after Haddock's part.
//   - anything else cloud-init understands (#!, #include, #include-once,
//     #cloud-boothook, #part-handler, #cloud-config-archive,
//     #cloud-config-jsonp, "## template: jinja"; gzip-compressed data is
//     decompressed first): a multipart/mixed document with Haddock's
//     text/cloud-config part first and the user's part second, typed the
//     way cloud-init types it. cloud-init merges cloud-config from such
//     parts with its own rules; for jinja templates Render adds a
//     Merge-Type header that appends lists, but #include and
//     #cloud-config-archive content merges with cloud-init's defaults, which
//     replace lists. Use plain #cloud-config to be merged safely.
//   - anything else is an error: cloud-init would ignore it silently.
//
// Rendering is deterministic: the same Params give the same bytes, so
// Terraform sees no spurious diff.
//
// # Secrets
//
// The rendered document contains the host's private key. Callers must treat
// it as sensitive, like every KeyPEM from package pki.
package cloudinit

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/template"
)

// Paths and ports used on every host.
const (
	CACertPath       = "/etc/docker/ca.pem"
	ServerCertPath   = "/etc/docker/server-cert.pem"
	ServerKeyPath    = "/etc/docker/server-key.pem"
	DaemonConfigPath = "/etc/docker/daemon.json"
	DropInPath       = "/etc/systemd/system/docker.service.d/haddock.conf"

	// EnginePort is the Docker Engine's mTLS port. The plain port 2375 is
	// never opened.
	EnginePort = 2376
)

// SwarmPorts are opened in ufw when it is installed: the engine, Swarm
// management, gossip and the overlay network.
var SwarmPorts = []string{"2376/tcp", "2377/tcp", "7946/tcp", "7946/udp", "4789/udp"}

// ProtectedKeys are the top-level cloud-config keys whose value Haddock keeps
// when the user's cloud-config sets them too.
var ProtectedKeys = []string{"hostname", "preserve_hostname", "package_update"}

// reservedDaemonKeys are the daemon.json keys Haddock owns.
var reservedDaemonKeys = []string{"hosts", "tls", "tlsverify", "tlscacert", "tlscert", "tlskey"}

// managedPaths are written by Haddock; user write_files may not target them.
var managedPaths = []string{CACertPath, ServerCertPath, ServerKeyPath, DaemonConfigPath, DropInPath}

//go:embed templates/cloud-config.yaml.tmpl
var templateText string

var cloudConfigTemplate = template.Must(template.New("cloud-config").
	Option("missingkey=error").
	Funcs(template.FuncMap{"quote": quote, "indent": indent}).
	Parse(templateText))

// Params configure Render. The PEM fields are required; ServerKeyPEM is
// secret, and so is the rendered document.
type Params struct {
	// Hostname is set on the host: an RFC 1123 name.
	Hostname string
	// CACertPEM, ServerCertPEM and ServerKeyPEM are the engine's TLS
	// material (pki.CA.CertPEM and pki.CA.IssueServer).
	CACertPEM     []byte
	ServerCertPEM []byte
	ServerKeyPEM  []byte
	// DaemonExtra is merged into daemon.json, for example
	// "insecure-registries", "registry-mirrors" or "labels". It may not set
	// hosts, tls, tlsverify, tlscacert, tlscert or tlskey.
	DaemonExtra map[string]any
	// UserData is the user's own user data, merged as the package
	// documentation describes. Empty means none.
	UserData string
}

// Render returns the user data for a host.
func Render(p Params) (string, error) {
	if err := validateHostname(p.Hostname); err != nil {
		return "", fmt.Errorf("rendering user data: %w", err)
	}
	for _, f := range []struct {
		name, kind string
		data       []byte
	}{
		{"CA certificate", "CERTIFICATE", p.CACertPEM},
		{"server certificate", "CERTIFICATE", p.ServerCertPEM},
		{"server key", "PRIVATE KEY", p.ServerKeyPEM},
	} {
		if err := checkPEM(f.data, f.kind); err != nil {
			return "", fmt.Errorf("rendering user data: %s: %w", f.name, err)
		}
	}
	daemonJSON, err := DaemonConfig(p.DaemonExtra)
	if err != nil {
		return "", fmt.Errorf("rendering user data: %w", err)
	}

	var buf bytes.Buffer
	err = cloudConfigTemplate.Execute(&buf, map[string]any{
		"Hostname":         p.Hostname,
		"CACertPath":       CACertPath,
		"ServerCertPath":   ServerCertPath,
		"ServerKeyPath":    ServerKeyPath,
		"DaemonConfigPath": DaemonConfigPath,
		"DropInPath":       DropInPath,
		"CACertPEM":        string(p.CACertPEM),
		"ServerCertPEM":    string(p.ServerCertPEM),
		"ServerKeyPEM":     string(p.ServerKeyPEM),
		"DaemonJSON":       string(daemonJSON),
		"UFWScript":        ufwScript(),
	})
	if err != nil {
		return "", fmt.Errorf("rendering user data: %w", err)
	}
	ours, err := parseCloudConfig(buf.Bytes())
	if err != nil {
		// The template is ours: this is a bug, not a user error.
		return "", fmt.Errorf("rendering user data: template produced invalid YAML: %w", err)
	}
	out, err := combine(ours, p.UserData)
	if err != nil {
		return "", fmt.Errorf("rendering user data: %w", err)
	}
	return out, nil
}

// DaemonConfig returns the daemon.json Render writes: Haddock's listeners
// and TLS settings plus extra, indented, keys sorted.
func DaemonConfig(extra map[string]any) ([]byte, error) {
	cfg := map[string]any{
		"hosts":     []string{"unix:///var/run/docker.sock", fmt.Sprintf("tcp://0.0.0.0:%d", EnginePort)},
		"tls":       true,
		"tlsverify": true,
		"tlscacert": CACertPath,
		"tlscert":   ServerCertPath,
		"tlskey":    ServerKeyPath,
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, r := range reservedDaemonKeys {
			if k == r {
				return nil, fmt.Errorf("daemon.json key %q is managed by Haddock and cannot be set", k)
			}
		}
		cfg[k] = extra[k]
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

func ufwScript() string {
	var b strings.Builder
	b.WriteString("if command -v ufw >/dev/null 2>&1; then")
	for _, p := range SwarmPorts {
		b.WriteString(" ufw allow " + p + ";")
	}
	b.WriteString(" fi")
	return b.String()
}

func checkPEM(data []byte, kind string) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return errors.New("is empty")
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return errors.New("is not PEM encoded")
	}
	if !strings.HasSuffix(block.Type, kind) {
		// Name only the type: the block may hold a key.
		return fmt.Errorf("is a %q PEM block, want %q", block.Type, kind)
	}
	return nil
}

func validateHostname(h string) error {
	if h == "" {
		return errors.New("hostname is empty")
	}
	if len(h) > 253 {
		return fmt.Errorf("hostname %q is longer than 253 characters", h)
	}
	for _, l := range strings.Split(h, ".") {
		ok := len(l) > 0 && len(l) <= 63 && l[0] != '-' && l[len(l)-1] != '-'
		for i := 0; ok && i < len(l); i++ {
			c := l[i]
			ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
		}
		if !ok {
			return fmt.Errorf("hostname %q is not a valid RFC 1123 host name", h)
		}
	}
	return nil
}

// quote renders s as a YAML double-quoted scalar (JSON strings are YAML).
func quote(s string) (string, error) {
	b, err := json.Marshal(s)
	return string(b), err
}

// indent prefixes every line of s with n spaces, for a literal block scalar.
func indent(n int, s string) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pad + strings.TrimRight(l, "\r")
		}
	}
	return strings.Join(lines, "\n")
}
