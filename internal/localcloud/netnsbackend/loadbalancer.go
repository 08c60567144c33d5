package netnsbackend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netns"
)

// A load balancer is a real HAProxy (Debian's haproxy) in a namespace of
// its own (a netns appliance: an address on the bridge, no dockerd). Each
// change writes its configuration, checks it with `haproxy -c`, and starts
// a new HAProxy that takes the listening sockets over from the running one
// (-x: no connection is refused while they change hands) and tells it to
// finish its established connections and exit (-sf), so a change drops
// nothing. Health checks go to the targets' private addresses.

var (
	_ localcloud.LoadBalancerBackend = (*Backend)(nil)
)

const (
	haproxyConfig = "haproxy.cfg"
	haproxyPID    = "haproxy.pid"
	haproxySocket = "haproxy.sock"
	// hardStopAfter bounds how long a replaced HAProxy keeps serving its
	// established connections.
	hardStopAfter = 60 * time.Second
)

// lbHostID is the netns host id of load balancer id: its first 12 hex
// digits (48 bits), short enough for the unix socket paths below the
// host's directory.
func lbHostID(id string) string {
	hex := strings.ReplaceAll(id, "-", "")
	return "lb-" + hex[:min(12, len(hex))]
}

// HAProxyPath is the haproxy binary; "" looks it up on PATH and in the
// sbin directories.
var HAProxyPath = ""

func haproxyBin() (string, error) {
	for _, p := range []string{HAProxyPath, "haproxy", "/usr/sbin/haproxy", "/usr/local/sbin/haproxy"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path, nil
		}
	}
	return "", errors.New("haproxy not found: apt-get install -y haproxy")
}

// ApplyLoadBalancer implements localcloud.LoadBalancerBackend.
func (b *Backend) ApplyLoadBalancer(ctx context.Context, id string, cfg localcloud.LoadBalancerConfig) (netip.Addr, error) {
	bin, err := haproxyBin()
	if err != nil {
		return netip.Addr{}, err
	}
	hid := lbHostID(id)
	h, err := b.m.Get(hid)
	if errors.Is(err, netns.ErrNotFound) {
		h, err = b.m.Provision(ctx, netns.HostSpec{ID: hid, Hostname: "lb", Appliance: true})
	}
	if err != nil {
		return netip.Addr{}, err
	}
	pub := b.publicOf()
	cfg.Targets = slices.Clone(cfg.Targets)
	for i, t := range cfg.Targets {
		if a, ok := pub[t.Addr]; ok {
			cfg.Targets[i].Addr = a
		}
	}
	text := RenderHAProxy(cfg, h.IPv4, h.Dir)
	path := filepath.Join(h.Dir, haproxyConfig)
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		return netip.Addr{}, err
	}
	if out, err := exec.CommandContext(ctx, bin, "-c", "-q", "-f", tmp).CombinedOutput(); err != nil {
		return netip.Addr{}, fmt.Errorf("haproxy refused the configuration: %v: %s", err, bytes.TrimSpace(out))
	}
	if err := os.Rename(tmp, path); err != nil {
		return netip.Addr{}, err
	}
	if err := b.startHAProxy(ctx, bin, h); err != nil {
		return netip.Addr{}, err
	}
	return h.IPv4, nil
}

// startHAProxy starts HAProxy on the host's configuration, taking over
// from the one running, if any. It returns once the new one listens.
func (b *Backend) startHAProxy(ctx context.Context, bin string, h netns.Host) error {
	args := []string{"--net=" + h.NetnsPath, bin, "-D", "-f", filepath.Join(h.Dir, haproxyConfig), "-p", filepath.Join(h.Dir, haproxyPID)}
	old := haproxyPIDs(h)
	if len(old) > 0 {
		args = append(args, "-x", filepath.Join(h.Dir, haproxySocket), "-sf")
		for _, p := range old {
			args = append(args, strconv.Itoa(p))
		}
	}
	cmd := exec.CommandContext(ctx, "nsenter", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("starting haproxy: %v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// haproxyPIDs are the live HAProxy processes of the host's pid file.
func haproxyPIDs(h netns.Host) []int {
	raw, err := os.ReadFile(filepath.Join(h.Dir, haproxyPID))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(raw)) {
		p, err := strconv.Atoi(f)
		if err != nil || p <= 0 {
			continue
		}
		if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p)); err == nil && bytes.Contains(cmdline, []byte(filepath.Join(h.Dir, haproxyConfig))) {
			out = append(out, p)
		}
	}
	return out
}

// DeleteLoadBalancer implements localcloud.LoadBalancerBackend: the
// appliance goes, and every process in it.
func (b *Backend) DeleteLoadBalancer(ctx context.Context, id string) error {
	err := b.m.Destroy(ctx, lbHostID(id))
	if errors.Is(err, netns.ErrNotFound) {
		return nil
	}
	return err
}

// restoreLoadBalancers starts HAProxy again in every appliance whose
// configuration exists and whose HAProxy does not run (localcloud
// restarted: Stop killed it).
func (b *Backend) restoreLoadBalancers(ctx context.Context) error {
	var errs []error
	for _, h := range b.m.List() {
		if !h.Appliance || !strings.HasPrefix(h.ID, "lb-") {
			continue
		}
		if _, err := os.Stat(filepath.Join(h.Dir, haproxyConfig)); err != nil || len(haproxyPIDs(h)) > 0 {
			continue
		}
		bin, err := haproxyBin()
		if err != nil {
			return err
		}
		if err := b.startHAProxy(ctx, bin, h); err != nil {
			errs = append(errs, fmt.Errorf("load balancer host %s: %w", h.ID, err))
		}
	}
	return errors.Join(errs...)
}

// RenderHAProxy is the HAProxy configuration of cfg on address addr, its
// runtime files in dir.
func RenderHAProxy(cfg localcloud.LoadBalancerConfig, addr netip.Addr, dir string) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# written by localcloud; every change replaces it")
	p("global")
	p("    stats socket %s mode 600 level admin expose-fd listeners", filepath.Join(dir, haproxySocket))
	p("    hard-stop-after %ds", int(hardStopAfter.Seconds()))
	p("")
	p("defaults")
	// Targets are on the same bridge: a connect that takes a second
	// never completes (the target is gone, its address not answering),
	// and is better tried on another target well within a client's
	// patience, as a vendor's load balancer does.
	p("    timeout connect 1s")
	p("    timeout client 60s")
	p("    timeout server 60s")
	p("    timeout check %dms", max(cfg.Check.Timeout.Milliseconds(), 1000))
	// A connection refused by a target whose check has not failed yet is
	// tried on another one, as a vendor's load balancer does.
	p("    option redispatch")
	p("    retries 3")
	for i, r := range cfg.Rules {
		mode := ruleMode(cfg, r)
		p("")
		p("frontend fe_%d", i)
		p("    mode %s", mode)
		p("    bind %s:%d", addr, r.EntryPort)
		if mode == "http" {
			p("    option forwardfor")
			if cfg.RedirectHTTPToHTTPS && r.EntryProtocol == "http" {
				p("    http-request redirect scheme https code 301")
			}
		}
		p("    default_backend be_%d", i)
		p("")
		p("backend be_%d", i)
		p("    mode %s", mode)
		p("    balance roundrobin")
		if mode == "http" {
			// A request a target closed on without answering (it went
			// away between checks) is sent to another one.
			p("    retry-on conn-failure empty-response junk-response response-timeout")
		}
		check := cfg.Check
		if check.Protocol == "http" || check.Protocol == "https" {
			path := check.Path
			if path == "" {
				path = "/"
			}
			p("    option httpchk GET %s", path)
		}
		sticky := mode == "http" && cfg.StickyCookie != ""
		if sticky {
			life := ""
			if cfg.StickyTTL > 0 {
				life = fmt.Sprintf(" maxlife %ds", int(cfg.StickyTTL.Seconds()))
			}
			p("    cookie %s insert indirect nocache%s", cfg.StickyCookie, life)
		}
		for _, t := range cfg.Targets {
			line := fmt.Sprintf("    server d%d %s:%d check inter %dms fall %d rise %d", t.HostID, t.Addr, r.TargetPort,
				max(check.Interval.Milliseconds(), 100), max(check.Unhealthy, 1), max(check.Healthy, 1))
			if check.Port > 0 {
				line += fmt.Sprintf(" port %d", check.Port)
			}
			if check.Protocol == "https" {
				line += " check-ssl verify none"
			}
			if sticky {
				line += fmt.Sprintf(" cookie d%d", t.HostID)
			}
			p("%s", line)
		}
	}
	return b.String()
}

// ruleMode is HAProxy's mode for rule r: tcp for a network load balancer,
// TCP rules and TLS passed through, http otherwise.
func ruleMode(cfg localcloud.LoadBalancerConfig, r localcloud.LBRule) string {
	if cfg.Network || r.TLSPassthrough || r.EntryProtocol == "tcp" || r.TargetProtocol == "tcp" || r.TargetProtocol == "https" {
		return "tcp"
	}
	return "http"
}
