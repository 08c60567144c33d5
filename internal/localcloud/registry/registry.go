// Package registry runs localcloud's image registry: Debian's
// docker-registry (the CNCF distribution registry, Docker Registry HTTP API
// v2) as a process on the machine, listening on the hosts' bridge, so that
// images built on the machine can be pushed there and every real host pulls
// them from there.
//
// # Address
//
// The registry listens on the bridge's gateway address, port 5000:
// 10.213.0.1:5000 with localcloud's default subnet 10.213.0.0/24. That
// address works from the machine (it is one of the machine's own) and from
// every host (it is their default gateway), so images keep one name
// everywhere:
//
//	haddock-image build-push -pkg ./examples/apps/counter -tag 10.213.0.1:5000/counter:1
//	image: 10.213.0.1:5000/counter:1   # in a compose file or a service
//
// The registry speaks plain HTTP: it is reachable only from the machine and
// from localcloud's hosts on the private bridge (nothing routes to it from
// outside). Pulls are anonymous, so every host can pull; pushes (and
// deletes) need the credentials localcloud hands out (Config.Push: user
// PushUser, localcloud's API token as the password), so a process on a host
// cannot replace the images the other hosts run. docker-registry itself
// listens on a loopback port; localcloud's own proxy on the gateway address
// checks the credentials (Config.PullAuth makes pulls need them too, as a
// private registry does). Each host's dockerd is told it is plain HTTP: package netnsbackend adds
// "insecure-registries": ["<gateway>:5000"] and "registry-mirrors":
// ["http://<gateway>:5000"] to every host's daemon.json. The mirror makes
// images pushed under a Docker Hub path answer Docker Hub pulls: an image
// pushed as 10.213.0.1:5000/library/redis:7 is what "image: redis:7"
// pulls, before Docker Hub (which localcloud hosts cannot reach) is tried.
//
// # Files
//
// Everything is under Config.Dir (localcloud uses <state-dir>/registry):
// config.yml (written at every Start), data/ (the storage, kept across
// restarts), registry.log and registry.pid. Stop stops the process and
// keeps the data; Remove (localcloud down) stops any registry still running
// from Dir, a crashed localcloud's included, and removes Dir.
package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/proc"
	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

// Port is the registry's port on the gateway address.
const Port = 5000

// DirName is the registry's directory in localcloud's state directory.
const DirName = "registry"

// DefaultBinary is where Debian's docker-registry package installs the
// registry.
const DefaultBinary = "/usr/bin/docker-registry"

// Files in Config.Dir.
const (
	configFile = "config.yml"
	dataDir    = "data"
	logFile    = "registry.log"
	pidFile    = "registry.pid"
)

// Defaults of Config.
const (
	DefaultStartTimeout = 30 * time.Second
	DefaultStopTimeout  = 10 * time.Second
)

// ErrNotInstalled is what Check and Start return when docker-registry is
// missing; its text is one line saying how to install it.
var ErrNotInstalled = errors.New("docker-registry is not installed: apt-get install -y docker-registry")

// PushUser is the user name of the credentials localcloud hands out for
// pushing to its registry; the password is localcloud's API token.
const PushUser = "localcloud"

// Credentials are a registry user name and password (HTTP basic auth).
type Credentials struct {
	Username, Password string
}

// Config configures a Registry.
type Config struct {
	// Push are the credentials pushes and deletes need. Required.
	Push Credentials
	// PullAuth makes pulls need Push too (a private registry).
	PullAuth bool
	// Dir holds the configuration, storage, log and pid file. Required,
	// absolute.
	Dir string
	// Addr is the listen address: localcloud's gateway and Port. Required.
	Addr netip.AddrPort
	// Binary is the registry program. Default: docker-registry on PATH,
	// then DefaultBinary.
	Binary string
	// StartTimeout bounds the wait for the registry to answer GET /v2/.
	StartTimeout time.Duration
	// StopTimeout is how long the registry gets after SIGTERM before
	// SIGKILL.
	StopTimeout time.Duration
}

// Addr is the registry address images name on a localcloud whose bridge
// has the gateway address gw: gw:5000.
func Addr(gw netip.Addr) netip.AddrPort { return netip.AddrPortFrom(gw, Port) }

// DaemonSettings are the daemon.json settings a host needs to pull from the
// registry at addr: it is an insecure (plain HTTP) registry, and a mirror
// of Docker Hub.
func DaemonSettings(addr netip.AddrPort) map[string][]string {
	return map[string][]string{
		"insecure-registries": {addr.String()},
		"registry-mirrors":    {"http://" + addr.String()},
	}
}

// Check tells whether the registry program is installed; its error is
// ErrNotInstalled or says what is wrong with binary.
func Check(binary string) error {
	_, err := lookBinary(binary)
	return err
}

func lookBinary(binary string) (string, error) {
	if binary != "" {
		p, err := exec.LookPath(binary)
		if err != nil {
			return "", fmt.Errorf("registry program %s: %w", binary, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("docker-registry"); err == nil {
		return p, nil
	}
	if fi, err := os.Stat(DefaultBinary); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return DefaultBinary, nil
	}
	return "", ErrNotInstalled
}

// Registry is a running registry process and the proxy in front of it.
type Registry struct {
	cfg     Config
	backend netip.AddrPort // docker-registry's own loopback address
	front   *http.Server
	pid     int
	done    chan struct{} // closed when the process has exited
}

// Start writes the configuration and starts the registry, after stopping
// any registry still running from Dir (a crashed localcloud's); it returns
// once the registry answers. The process outlives ctx: Stop ends it.
func Start(ctx context.Context, cfg Config) (*Registry, error) {
	if cfg.Dir == "" || !filepath.IsAbs(cfg.Dir) {
		return nil, fmt.Errorf("registry: directory %q must be an absolute path", cfg.Dir)
	}
	if !cfg.Addr.IsValid() || cfg.Addr.Port() == 0 {
		return nil, fmt.Errorf("registry: invalid listen address %s", cfg.Addr)
	}
	if cfg.Push.Username == "" || cfg.Push.Password == "" {
		return nil, errors.New("registry: push credentials are required (Config.Push)")
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = DefaultStopTimeout
	}
	bin, err := lookBinary(cfg.Binary)
	if err != nil {
		return nil, err
	}
	if err := stopStrays(ctx, cfg.Dir, cfg.StopTimeout); err != nil {
		return nil, fmt.Errorf("registry: stopping the one left running: %w", err)
	}
	// A clear message for an address in use or missing, rather than the
	// registry's log.
	front, err := net.Listen("tcp", cfg.Addr.String())
	if err != nil {
		return nil, fmt.Errorf("registry: cannot listen on %s: %w", cfg.Addr, err)
	}
	backend, err := freeLoopbackPort()
	if err != nil {
		_ = front.Close()
		return nil, fmt.Errorf("registry: %w", err)
	}
	r, err := startProcess(ctx, cfg, bin, backend)
	if err != nil {
		_ = front.Close()
		return nil, err
	}
	r.serveFront(front)
	return r, nil
}

// startProcess starts docker-registry on backend and waits until it answers.
func startProcess(ctx context.Context, cfg Config, bin string, backend netip.AddrPort) (*Registry, error) {
	if err := os.MkdirAll(filepath.Join(cfg.Dir, dataDir), 0o700); err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	conf, err := configYAML(cfg, backend)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(cfg.Dir, configFile), conf, 0o600); err != nil {
		return nil, fmt.Errorf("registry: writing configuration: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(cfg.Dir, logFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("registry: opening log: %w", err)
	}
	defer func() { _ = logf.Close() }()
	_, _ = fmt.Fprintf(logf, "--- localcloud: starting the registry on %s at %s\n", cfg.Addr, time.Now().UTC().Format(time.RFC3339))

	cmd := exec.Command(bin, "serve", filepath.Join(cfg.Dir, configFile)) // not CommandContext: it outlives ctx
	cmd.Dir = cfg.Dir
	// REGISTRY_* variables would override the configuration: none pass.
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: a Ctrl-C meant for localcloud does not reach
	// it; localcloud stops it itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("registry: starting %s: %w", bin, err)
	}
	r := &Registry{cfg: cfg, backend: backend, pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(r.done)
	}()
	if err := os.WriteFile(filepath.Join(cfg.Dir, pidFile), []byte(strconv.Itoa(r.pid)+"\n"), 0o600); err != nil {
		_ = r.Stop(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("registry: writing pid file: %w", err)
	}
	if err := r.waitReady(ctx); err != nil {
		_ = r.Stop(context.WithoutCancel(ctx))
		return nil, err
	}
	return r, nil
}

// Addr is the registry's address: what image names start with.
func (r *Registry) Addr() netip.AddrPort { return r.cfg.Addr }

// PID is the registry process's ID.
func (r *Registry) PID() int { return r.pid }

// Dir is the registry's directory.
func (r *Registry) Dir() string { return r.cfg.Dir }

func (r *Registry) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

func (r *Registry) waitReady(ctx context.Context) error {
	log := filepath.Join(r.cfg.Dir, logFile)
	err := wait.Until(ctx, wait.Options{What: "http://" + r.backend.String() + "/v2/ to answer", Interval: 25 * time.Millisecond, Timeout: r.cfg.StartTimeout},
		func(ctx context.Context) (bool, string, error) {
			if r.exited() {
				return false, "", fmt.Errorf("docker-registry exited while starting; last lines of %s:\n%s", log, proc.LogTail(log, 6))
			}
			if err := Ping(ctx, r.backend); err != nil {
				return false, "not answering", wait.Retry(err)
			}
			return true, "", nil
		})
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	return nil
}

// Ping checks that the registry at addr answers GET /v2/: 200, or 401
// asking for credentials (Config.PullAuth).
func Ping(ctx context.Context, addr netip.AddrPort) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr.String()+"/v2/", nil)
	if err != nil {
		return err
	}
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK && (resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "") {
		return fmt.Errorf("GET /v2/: %s", resp.Status)
	}
	return nil
}

// Stop stops the registry (SIGTERM, then SIGKILL after StopTimeout) and
// keeps its data.
func (r *Registry) Stop(ctx context.Context) error {
	if r.front != nil {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if r.front.Shutdown(sctx) != nil {
			_ = r.front.Close()
		}
		cancel()
	}
	err := terminate(ctx, r.pid, r.exited, r.cfg.StopTimeout)
	if err == nil {
		_ = os.Remove(filepath.Join(r.cfg.Dir, pidFile))
	}
	return err
}

// Remove stops every registry running from dir and removes dir: what
// localcloud down does. A missing dir is not an error.
func Remove(ctx context.Context, dir string) error {
	if err := stopStrays(ctx, dir, DefaultStopTimeout); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("registry: removing %s: %w", dir, err)
	}
	return nil
}

// Processes lists the registry processes running from dir: those whose
// command line names dir's config.yml.
func Processes(dir string) []int {
	want := []byte(filepath.Join(dir, configFile) + "\x00")
	self := os.Getpid()
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, want) && alive(pid) {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids
}

// stopStrays terminates the registries running from dir, and removes the
// pid file.
func stopStrays(ctx context.Context, dir string, timeout time.Duration) error {
	var errs []error
	for _, pid := range Processes(dir) {
		if err := terminate(ctx, pid, func() bool { return !alive(pid) }, timeout); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		if err := os.Remove(filepath.Join(dir, pidFile)); err != nil && !errors.Is(err, iofs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// terminate sends SIGTERM to pid, SIGKILL after timeout, and waits until
// gone tells it has exited.
func terminate(ctx context.Context, pid int, gone func() bool, timeout time.Duration) error {
	if gone() {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	if waitGone(ctx, gone, timeout) {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	if waitGone(context.WithoutCancel(ctx), gone, 10*time.Second) {
		return nil
	}
	return fmt.Errorf("registry process %d survived SIGKILL", pid)
}

func waitGone(ctx context.Context, gone func() bool, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for !gone() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// alive tells whether pid runs: it exists and is not a zombie, or is a
// zombie thread group leader whose other threads are still exiting (and
// may still hold its sockets).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) || b[i+2] != 'Z' {
		return true
	}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	return len(tasks) > 1
}

// configYAML is the registry's configuration: filesystem storage in Dir,
// deletes allowed, plain HTTP on the loopback address backend, no
// authentication of its own (the proxy in front checks it).
func configYAML(cfg Config, backend netip.AddrPort) ([]byte, error) {
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString("# Written by localcloud at every start: its image registry (package internal/localcloud/registry).\n")
	b.WriteString("version: 0.1\n")
	b.WriteString("log:\n  level: info\n  formatter: text\n")
	b.WriteString("storage:\n")
	fmt.Fprintf(&b, "  filesystem:\n    rootdirectory: %s\n", yamlString(filepath.Join(cfg.Dir, dataDir)))
	b.WriteString("  delete:\n    enabled: true\n")
	b.WriteString("  cache:\n    blobdescriptor: inmemory\n")
	b.WriteString("http:\n")
	fmt.Fprintf(&b, "  addr: %s\n", yamlString(backend.String()))
	fmt.Fprintf(&b, "  secret: %s\n", yamlString(hex.EncodeToString(secret)))
	b.WriteString("  headers:\n    X-Content-Type-Options: [nosniff]\n")
	b.WriteString("health:\n  storagedriver:\n    enabled: true\n    interval: 10s\n    threshold: 3\n")
	return []byte(b.String()), nil
}

// yamlString quotes s as a YAML double-quoted scalar.
func yamlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
