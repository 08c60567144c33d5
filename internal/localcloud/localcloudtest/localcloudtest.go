// Package localcloudtest starts localcloud in process with real hosts (the
// netns backend) for tests: each package passes its own bridge, namespace
// prefix, subnet, reserved prefix and state directory, so that packages
// tested at once never share them. It also counts what one such
// configuration leaves on the machine.
package localcloudtest

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"golang.org/x/sys/unix"

	"github.com/haddockhq/terraform-provider-haddock/internal/image"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/contract"
	lcdo "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/digitalocean"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netns"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netnsbackend"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/registry"
	"github.com/haddockhq/terraform-provider-haddock/internal/testenv"
)

// Options is one package's real-host configuration.
type Options struct {
	// Bridge, NetnsPrefix, Subnet, ReservedPrefix and StateDir are the
	// package's own; StateDir is fixed and short (unix socket paths below
	// it must stay short).
	Bridge         string
	NetnsPrefix    string
	Subnet         netip.Prefix
	ReservedPrefix netip.Prefix
	StateDir       string
	// Token is localcloud's bearer token.
	Token string
	// Lock names the lock file (in os.TempDir) held while the package's
	// tests run, so that two runs at once do not share the bridge.
	Lock string
	// DockerdEnv is passed to every host's dockerd.
	DockerdEnv []string
	// Contract starts localcloud behind the contract validator
	// (contract.StartLocalcloud), which checks every exchange at clean-up.
	Contract bool
	// Persist has localcloud keep its state in StateDir.
	Persist bool
	// Registry starts the backend's registry on the bridge.
	Registry bool
	// Sweep removes what an earlier run left before starting.
	Sweep bool
	// Middleware, when set, wraps localcloud's handler.
	Middleware func(http.Handler) http.Handler
	// APIs replace the DigitalOcean API localcloud serves by default, and
	// APIAddrs gives APIs listeners of their own (localcloud.Config); the
	// URLs are in Running.APIURLs. The DigitalOcean contract validator
	// (Contract) checks DigitalOcean's traffic only: pass another API's
	// validator in Middleware.
	APIs     []localcloud.API
	APIAddrs map[string]string
}

// RegistryDir is where the backend's registry keeps its state.
func (o Options) RegistryDir() string { return filepath.Join(o.StateDir, registry.DirName) }

// NetnsConfig is the netns configuration of o; a nil logger logs warnings
// to stderr.
func (o Options) NetnsConfig(logger *slog.Logger) netns.Config {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return netns.Config{
		StateDir:       o.StateDir,
		Bridge:         o.Bridge,
		NetnsPrefix:    o.NetnsPrefix,
		Subnet:         o.Subnet,
		ReservedPrefix: o.ReservedPrefix,
		StopTimeout:    10 * time.Second,
		DockerdEnv:     o.DockerdEnv,
		Logger:         logger,
	}
}

var (
	locksMu sync.Mutex
	// locks are held until the process exits; a package variable, so that
	// no finalizer drops them.
	locks = map[string]*os.File{}
)

// lock takes o.Lock once per process.
func (o Options) lock() error {
	if o.Lock == "" {
		return nil
	}
	locksMu.Lock()
	defer locksMu.Unlock()
	if locks[o.Lock] != nil {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(os.TempDir(), o.Lock), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		_ = f.Close()
		return fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	locks[o.Lock] = f
	return nil
}

// Main runs a package's tests: when the machine can run real hosts it takes
// o.Lock and removes what an earlier run left (Sweep) first.
func Main(m *testing.M, o Options) {
	if netns.Check(netns.Config{}) == nil {
		if err := o.lock(); err != nil {
			log.Print(err)
		}
		if err := Sweep(o); err != nil {
			log.Printf("removing what an earlier test run left: %v", err)
		}
	}
	os.Exit(m.Run())
}

// Sweep is `localcloud down` on o's state directory, with the real clean-up
// code: the registry, every host, the bridge, the rules and the state.
func Sweep(o Options) error {
	if _, err := os.Stat(o.StateDir); os.IsNotExist(err) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := registry.Remove(ctx, o.RegistryDir()); err != nil {
		return err
	}
	m, err := netns.New(o.NetnsConfig(nil))
	if err != nil {
		return err
	}
	if err := m.Down(ctx); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(o.StateDir, "localcloud-serve.json")); err != nil && !os.IsNotExist(err) {
		return err
	}
	return localcloud.RemoveState(o.StateDir)
}

// Leftovers counts what one configuration puts on the machine.
type Leftovers struct {
	// Netns counts namespaces with the prefix; Daemons dockerd and
	// containerd processes under the state directory, Registries
	// docker-registry processes there; Mounts mounts below the state
	// directory or of the namespaces; Rules iptables rules with comment
	// localcloud on the bridge; Links network links named after the
	// bridge; Routes routes on the bridge or to reserved addresses.
	Netns, Daemons, Registries, Mounts, Rules, Links, Routes int
}

// Leftovers counts what o has on the machine now.
func (o Options) Leftovers() Leftovers {
	var l Leftovers
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), o.NetnsPrefix) {
			l.Netns++
		}
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if !bytes.Contains(cmdline, []byte(o.StateDir+"/")) {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "comm"))
		switch c := strings.TrimSpace(string(comm)); {
		case c == "dockerd" || strings.HasPrefix(c, "containerd"):
			l.Daemons++
		case c == "docker-registry":
			l.Registries++
		}
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mi), "\n") {
		if strings.Contains(line, o.StateDir+"/") || strings.Contains(line, "/"+o.NetnsPrefix) {
			l.Mounts++
		}
	}
	for _, save := range []string{"iptables-save", "iptables-legacy-save", "iptables-nft-save"} {
		if p, err := exec.LookPath(save); err == nil {
			out, _ := exec.Command(p).Output()
			for _, line := range strings.Split(string(out), "\n") {
				if strings.Contains(line, "--comment localcloud") && strings.Contains(line, " "+o.Bridge+" ") {
					l.Rules++
				}
			}
		}
	}
	links, _ := os.ReadDir("/sys/class/net")
	for _, e := range links {
		if strings.HasPrefix(e.Name(), o.Bridge) {
			l.Links++
		}
	}
	out, _ := exec.Command("ip", "-4", "route", "show", "table", "all").Output()
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if strings.Contains(line, "dev "+o.Bridge+" ") || (len(f) > 1 && (o.inReserved(f[0]) || o.inReserved(f[1]))) {
			l.Routes++
		}
	}
	return l
}

func (o Options) inReserved(s string) bool {
	if p, err := netip.ParsePrefix(s); err == nil {
		return o.ReservedPrefix.Overlaps(p)
	}
	a, err := netip.ParseAddr(s)
	return err == nil && o.ReservedPrefix.Contains(a)
}

// Machine is what every localcloud on the machine has, for the log.
func Machine() string {
	entries, _ := os.ReadDir("/run/netns")
	out, _ := exec.Command("pgrep", "-c", "-x", "dockerd").Output()
	rules, _ := exec.Command("sh", "-c", "iptables-save | grep -c localcloud").Output()
	return fmt.Sprintf("namespaces %d, dockerd %s, rules with comment localcloud %s",
		len(entries), strings.TrimSpace(string(out)), strings.TrimSpace(string(rules)))
}

// Real is localcloud serving in process with real hosts.
type Real struct {
	Options
	URL     string
	Token   string
	Backend *netnsbackend.Backend
	Running *localcloud.Running
	// Validator is the contract validator (Options.Contract), else nil.
	Validator *contract.Validator
	// Registry is the backend's registry (Options.Registry), else nil;
	// RegistryAddr its address; pushes need PushAuth.
	Registry     *registry.Registry
	RegistryAddr string
}

// LogWriter writes each write as one line of tb's log.
type LogWriter struct{ TB testing.TB }

func (w LogWriter) Write(p []byte) (int, error) {
	w.TB.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// RequireRealHosts gates a test on real local hosts: root and Debian's
// docker.io (netns.Check). It fails tb when CI or
// HADDOCK_REQUIRE_REAL_HOSTS=1 demands them, else skips it.
func RequireRealHosts(tb testing.TB) {
	tb.Helper()
	testenv.Need(tb, "HADDOCK_REQUIRE_REAL_HOSTS", netns.Check(netns.Config{}))
}

// StartReal serves localcloud, DigitalOcean's API (or o.APIs), with a new netns backend
// on o. It fails or skips tb when the machine cannot run real hosts
// (RequireRealHosts).
// The clean-up closes localcloud, stops the registry, takes every host, the
// bridge and the rules down, and fails tb when anything of o is left on the
// machine.
func StartReal(tb testing.TB, o Options) *Real {
	tb.Helper()
	RequireRealHosts(tb)
	if err := o.lock(); err != nil {
		tb.Fatal(err)
	}
	if o.Sweep {
		if err := Sweep(o); err != nil {
			tb.Fatalf("removing what an earlier run left: %v", err)
		}
	}
	be, err := netnsbackend.New(o.NetnsConfig(slog.New(slog.NewTextHandler(LogWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))), tb.Logf)
	if err != nil {
		tb.Fatal(err)
	}
	r := &Real{Options: o, Token: o.Token, Backend: be}
	tb.Cleanup(func() { r.cleanup(tb) })
	cfg := localcloud.Config{Token: o.Token, Backend: be, Logf: tb.Logf, Middleware: o.Middleware,
		APIs: o.APIs, APIAddrs: o.APIAddrs}
	if len(cfg.APIs) == 0 {
		cfg.APIs = []localcloud.API{lcdo.New(lcdo.Config{})}
	}
	if o.Persist {
		cfg.StateDir = o.StateDir
	}
	if o.Contract {
		r.Running, r.Validator = contract.StartLocalcloud(tb, cfg)
	} else if r.Running, err = localcloud.Start(context.Background(), cfg); err != nil {
		tb.Fatal(err)
	}
	r.URL = r.Running.URL
	if o.Registry {
		if r.Registry, err = be.StartRegistry(tb.Context(), o.RegistryDir(), registry.Credentials{Username: registry.PushUser, Password: o.Token}, false); err != nil {
			tb.Fatal(err)
		}
		r.RegistryAddr = r.Registry.Addr().String()
	}
	return r
}

// PushAuth is what pushing to the registry needs (image.Push's option).
func (r *Real) PushAuth() image.PushOption { return image.WithBasicAuth(registry.PushUser, r.Token) }

func (r *Real) cleanup(tb testing.TB) {
	if r.Running != nil {
		_ = r.Running.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if r.Registry != nil {
		if err := r.Registry.Stop(ctx); err != nil {
			tb.Errorf("cleanup: stopping the registry: %v", err)
		}
	}
	if r.Options.Registry {
		if err := registry.Remove(ctx, r.RegistryDir()); err != nil {
			tb.Errorf("cleanup: %v", err)
		}
	}
	if err := r.Backend.Down(ctx); err != nil {
		tb.Errorf("cleanup: %v", err)
	}
	if r.Persist {
		if err := localcloud.RemoveState(r.StateDir); err != nil {
			tb.Errorf("cleanup: %v", err)
		}
	}
	if left := r.Leftovers(); left != (Leftovers{}) {
		tb.Errorf("left on the machine: %+v", left)
	}
	if _, err := os.Stat(r.StateDir); !os.IsNotExist(err) {
		tb.Errorf("state directory %s still there: %v", r.StateDir, err)
	}
}

// Godo is a godo client for localcloud with its token.
func (r *Real) Godo(tb testing.TB) *godo.Client {
	tb.Helper()
	c, err := godo.New(&http.Client{Transport: tokenTransport{r.Token}, Timeout: 30 * time.Second}, godo.SetBaseURL(r.URL+"/"))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

type tokenTransport struct{ tok string }

func (t tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+t.tok)
	return http.DefaultTransport.RoundTrip(r)
}
