package netns

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/proc"
	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

// Paths inside a host's directory.
const (
	rootSubdir   = "root"
	dataSubdir   = "data"
	execSubdir   = "run"
	daemonConfig = "daemon.json"
	dockerSock   = "docker.sock"
	dockerPID    = "dockerd.pid"
	dockerLog    = "dockerd.log"
)

// hostScript runs between unshare and dockerd, in the host's new UTS and
// mount namespaces. $1 is the hostname, $2 whether to mount a tmpfs on /run,
// the rest is dockerd's command line.
const hostScript = `set -e
printf %s "$1" > /proc/sys/kernel/hostname
# The mount namespace is a copy of the machine's: drop its nsfs mounts (the
# other hosts' /run/netns entries), which would keep those namespaces alive.
nsfs=$(while read -r _ _ _ _ mp rest; do
	case "$rest" in *" - nsfs "*) echo "$mp";; esac
done < /proc/self/mountinfo)
for mp in $nsfs; do umount -l "$mp" 2>/dev/null || true; done
if [ "$2" = 1 ]; then
	mount -t tmpfs -o mode=0755,nosuid,nodev,size=64m localcloud-run /run
fi
shift 2
exec "$@"
`

func (m *Manager) hostDir(id string) string {
	return filepath.Join(m.cfg.StateDir, hostsDir, id)
}

// checkSocketPaths fails when the longest unix socket of a host would not
// fit in sockaddr_un.
func (m *Manager) checkSocketPaths(id string) error {
	longest := filepath.Join(m.hostDir(id), execSubdir, "containerd", "containerd-debug.sock")
	if len(longest) > maxSocketPath {
		return fmt.Errorf("socket path %s is %d bytes, more than unix sockets allow (%d): use a shorter StateDir or host ID",
			longest, len(longest), maxSocketPath)
	}
	return nil
}

// writeHostFiles writes the spec's files into the host's root and the
// effective daemon.json into its directory. It returns the cgroup parent it
// chose for the host, if it chose one.
func (m *Manager) writeHostFiles(hs *hostState, spec HostSpec) (string, error) {
	dir := m.hostDir(hs.ID)
	root := filepath.Join(dir, rootSubdir)
	for _, d := range []string{dir, root, filepath.Join(dir, dataSubdir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return "", fmt.Errorf("creating host directory: %w", err)
		}
	}
	files := spec.Files
	daemonJSON := spec.DaemonJSON
	if len(bytes.TrimSpace(daemonJSON)) == 0 {
		daemonJSON = []byte("{}\n")
	}
	hasDaemonJSON := false
	for _, f := range files {
		hasDaemonJSON = hasDaemonJSON || f.Path == "/etc/docker/daemon.json"
	}
	if !hasDaemonJSON {
		files = append(files, File{Path: "/etc/docker/daemon.json", Content: daemonJSON, Mode: 0o644})
	}
	for _, f := range files {
		dst := filepath.Join(root, f.Path)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", fmt.Errorf("writing %s: %w", f.Path, err)
		}
		mode := f.Mode.Perm()
		if mode == 0 {
			mode = 0o644
		}
		if err := os.WriteFile(dst, f.Content, mode); err != nil {
			return "", fmt.Errorf("writing %s: %w", f.Path, err)
		}
		if err := os.Chmod(dst, mode); err != nil {
			return "", fmt.Errorf("writing %s: %w", f.Path, err)
		}
	}
	paths := make([]string, 0, len(spec.Files))
	for _, f := range spec.Files {
		paths = append(paths, f.Path)
	}
	cgroupParent := "/" + m.netnsName(hs.ID)
	eff, usedParent, err := effectiveDaemonConfig(daemonJSON, daemonParams{
		dir:           dir,
		files:         paths,
		storageDriver: m.storageDriver,
		overlayOK:     m.storageDriver == "overlay2",
		keyPath:       m.dockerdMajor > 0 && m.dockerdMajor < 23,
		cgroupParent:  cgroupParent,
		runSocket:     m.privateRun(),
	})
	if err != nil {
		return "", err
	}
	if !usedParent {
		cgroupParent = ""
	}
	if err := os.WriteFile(filepath.Join(dir, daemonConfig), eff, 0o600); err != nil {
		return "", fmt.Errorf("writing daemon.json: %w", err)
	}
	return cgroupParent, nil
}

type daemonParams struct {
	dir           string   // the host's directory
	files         []string // paths of HostSpec.Files
	storageDriver string
	overlayOK     bool
	keyPath       bool // set deprecated-key-path (dockerd < 23)
	cgroupParent  string
	// runSocket: the daemon also listens on /run/docker.sock, which is
	// its host's own (a private /run): where containers that drive their
	// engine bind-mount it from, as on any Docker host.
	runSocket bool
}

// HostDockerSocket is the engine's socket inside every host (its private
// /run), beside the one localcloud dials in the host's directory.
const HostDockerSocket = "/run/docker.sock"

// effectiveDaemonConfig turns the host's daemon.json into the one its
// dockerd runs with, as the package documentation describes. It reports
// whether it set cgroup-parent.
func effectiveDaemonConfig(in []byte, p daemonParams) ([]byte, bool, error) {
	cfg := map[string]any{}
	if err := json.Unmarshal(in, &cfg); err != nil {
		return nil, false, fmt.Errorf("daemon.json: %w", err)
	}
	if cfg == nil {
		cfg = map[string]any{}
	}
	root := filepath.Join(p.dir, rootSubdir)
	inFiles := map[string]bool{}
	for _, f := range p.files {
		inFiles[f] = true
	}
	rewrite := func(s string) string {
		if filepath.IsAbs(s) && (inFiles[filepath.Clean(s)] || strings.HasPrefix(filepath.Clean(s), "/etc/docker/")) {
			return filepath.Join(root, s)
		}
		return s
	}

	hosts := []any{"unix://" + filepath.Join(p.dir, dockerSock)}
	if p.runSocket {
		hosts = append(hosts, "unix://"+HostDockerSocket)
	}
	switch h := cfg["hosts"].(type) {
	case nil:
	case []any:
		for _, v := range h {
			s, ok := v.(string)
			if !ok {
				return nil, false, fmt.Errorf("daemon.json: hosts must be strings, got %v", v)
			}
			switch {
			case strings.HasPrefix(s, "tcp://"):
				hosts = append(hosts, s)
			case strings.HasPrefix(s, "unix://"), strings.HasPrefix(s, "fd://"):
				// The host's own unix socket replaces it.
			default:
				return nil, false, fmt.Errorf("daemon.json: hosts entry %q: only tcp:// and unix:// listeners are supported", s)
			}
		}
	default:
		return nil, false, fmt.Errorf("daemon.json: hosts must be a list")
	}
	delete(cfg, "hosts")
	for k, v := range cfg {
		cfg[k] = rewriteStrings(v, rewrite)
	}
	cfg["hosts"] = hosts
	delete(cfg, "graph")
	delete(cfg, "containerd")
	cfg["data-root"] = filepath.Join(p.dir, dataSubdir)
	cfg["exec-root"] = filepath.Join(p.dir, execSubdir)
	cfg["pidfile"] = filepath.Join(p.dir, dockerPID)
	if sd, _ := cfg["storage-driver"].(string); sd == "" || (sd == "overlay2" && !p.overlayOK) {
		cfg["storage-driver"] = p.storageDriver
	}
	if p.keyPath {
		cfg["deprecated-key-path"] = filepath.Join(p.dir, "key.json")
	}
	usedParent := false
	if _, ok := cfg["cgroup-parent"]; !ok && !usesSystemdCgroups(cfg) {
		cfg["cgroup-parent"] = p.cgroupParent
		usedParent = true
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(cfg); err != nil {
		return nil, false, fmt.Errorf("encoding daemon.json: %w", err)
	}
	return buf.Bytes(), usedParent, nil
}

func rewriteStrings(v any, f func(string) string) any {
	switch x := v.(type) {
	case string:
		return f(x)
	case []any:
		for i := range x {
			x[i] = rewriteStrings(x[i], f)
		}
		return x
	case map[string]any:
		for k := range x {
			x[k] = rewriteStrings(x[k], f)
		}
		return x
	}
	return v
}

func usesSystemdCgroups(cfg map[string]any) bool {
	opts, _ := cfg["exec-opts"].([]any)
	for _, o := range opts {
		if s, _ := o.(string); strings.ReplaceAll(s, " ", "") == "native.cgroupdriver=systemd" {
			return true
		}
	}
	return false
}

// chooseStorageDriver picks overlay2 when an overlay mount works in dir,
// else fuse-overlayfs when installed with /dev/fuse, else vfs.
func chooseStorageDriver(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating state directory: %w", err)
	}
	if overlayWorks(dir) {
		return "overlay2", nil
	}
	if _, err := lookTool("", "fuse-overlayfs"); err == nil {
		if _, err := os.Stat("/dev/fuse"); err == nil {
			return "fuse-overlayfs", nil
		}
	}
	return "vfs", nil
}

func overlayWorks(dir string) bool {
	d, err := os.MkdirTemp(dir, ".overlay-probe-")
	if err != nil {
		return false
	}
	defer func() { _ = os.RemoveAll(d) }()
	for _, s := range []string{"l", "u", "w", "m"} {
		if err := os.Mkdir(filepath.Join(d, s), 0o700); err != nil {
			return false
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", filepath.Join(d, "l"), filepath.Join(d, "u"), filepath.Join(d, "w"))
	mnt := filepath.Join(d, "m")
	if err := unix.Mount("overlay", mnt, "overlay", 0, opts); err != nil {
		return false
	}
	werr := os.WriteFile(filepath.Join(mnt, "probe"), []byte("x"), 0o600)
	_ = unix.Unmount(mnt, unix.MNT_DETACH)
	return werr == nil
}

var dockerVersionRe = regexp.MustCompile(`version (\d+)\.`)

func dockerdMajor(ctx context.Context, dockerd string) int {
	out, err := output(ctx, dockerd, "--version")
	if err != nil {
		return 0
	}
	m := dockerVersionRe.FindSubmatch(out)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// daemon is a running dockerd.
type daemon struct {
	pid  int
	done chan struct{} // closed when it exited; nil when adopted (not our child)
}

func (d *daemon) exited() bool {
	if d.done != nil {
		select {
		case <-d.done:
			return true
		default:
			return false
		}
	}
	return !processAlive(d.pid)
}

// processAlive tells whether pid runs and is not a zombie.
func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// startDaemon starts the host's dockerd and waits until it answers.
func (m *Manager) startDaemon(ctx context.Context, hs *hostState) error {
	dir := m.hostDir(hs.ID)
	// Runtime state of a previous run goes, as /run does at boot.
	if err := m.unmountUnder(dir); err != nil {
		return err
	}
	for _, p := range []string{filepath.Join(dir, execSubdir), filepath.Join(dir, dockerPID), filepath.Join(dir, dockerSock)} {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("cleaning host runtime state: %w", err)
		}
	}
	logf, err := os.OpenFile(filepath.Join(dir, dockerLog), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("opening dockerd log: %w", err)
	}
	defer func() { _ = logf.Close() }()
	_, _ = fmt.Fprintf(logf, "--- localcloud: starting dockerd for host %s (%s) at %s\n", hs.ID, hs.Hostname, time.Now().UTC().Format(time.RFC3339))

	mountRun := "0"
	if m.privateRun() {
		mountRun = "1"
	}
	args := []string{
		"--net=" + m.netnsPath(hs.ID), "--",
		m.tools.unshare, "--uts", "--mount", "--propagation", "private", "--",
		m.tools.sh, "-c", hostScript, "localcloud-host", hs.Hostname, mountRun,
		m.tools.dockerd, "--config-file", filepath.Join(dir, daemonConfig),
	}
	cmd := exec.Command(m.tools.nsenter, args...) // not CommandContext: the daemon outlives ctx
	cmd.Dir = dir
	cmd.Env = m.daemonEnv()
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: a Ctrl-C meant for localcloud does not reach
	// the daemons, which localcloud stops itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting dockerd: %w", err)
	}
	d := &daemon{pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(d.done)
	}()
	m.mu.Lock()
	m.daemons[hs.ID] = d
	m.mu.Unlock()
	m.cfg.Logger.Debug("dockerd started", "host", hs.ID, "pid", d.pid)
	return m.waitReady(ctx, hs, d)
}

// privateRun says whether each host gets a private tmpfs on /run: not when
// StateDir is under /run, which it would hide.
func (m *Manager) privateRun() bool {
	return !under(m.cfg.StateDir, "/run") && !under(m.cfg.StateDir, "/var/run")
}

func under(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

func (m *Manager) daemonEnv() []string {
	dirs := []string{}
	if m.tools.containerd != "" {
		dirs = append(dirs, filepath.Dir(m.tools.containerd))
	}
	dirs = append(dirs, filepath.Dir(m.tools.dockerd), "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
	env := []string{"PATH=" + strings.Join(dirs, ":")}
	return append(env, m.cfg.DockerdEnv...)
}

// waitReady polls the daemon's /_ping until it answers, the daemon exits,
// StartTimeout passes or ctx ends.
func (m *Manager) waitReady(ctx context.Context, hs *hostState, d *daemon) error {
	sock := filepath.Join(m.hostDir(hs.ID), dockerSock)
	log := filepath.Join(m.hostDir(hs.ID), dockerLog)
	return wait.Until(ctx, wait.Options{What: "dockerd to answer on " + sock, Interval: 25 * time.Millisecond, Timeout: m.cfg.StartTimeout},
		func(ctx context.Context) (bool, string, error) {
			err := pingDocker(ctx, sock)
			switch {
			case err == nil:
				return true, "", nil
			case d.exited():
				return false, "", fmt.Errorf("dockerd exited while starting; last lines of %s:\n%s", log, proc.LogTail(log, 8))
			}
			return false, "not answering", wait.Retry(err)
		})
}

// dockerClient is an HTTP client for a daemon's unix socket.
func dockerClient(sock string) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", sock)
			},
			DisableKeepAlives: true,
		},
		Timeout: 5 * time.Second,
	}
}

func pingDocker(ctx context.Context, sock string) error {
	if _, err := os.Stat(sock); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/_ping", nil)
	if err != nil {
		return err
	}
	resp, err := dockerClient(sock).Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/_ping: %s", resp.Status)
	}
	return nil
}

// findDaemon returns the host's dockerd: the one this manager started, or
// one still running from an earlier manager (its pid file names it and its
// command line carries the host's daemon.json).
func (m *Manager) findDaemon(hs *hostState) *daemon {
	m.mu.Lock()
	d := m.daemons[hs.ID]
	m.mu.Unlock()
	if d != nil && !d.exited() {
		return d
	}
	b, err := os.ReadFile(filepath.Join(m.hostDir(hs.ID), dockerPID))
	if err != nil {
		return nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || !processAlive(pid) {
		return nil
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte(filepath.Join(m.hostDir(hs.ID), daemonConfig)+"\x00")) {
		return nil
	}
	return &daemon{pid: pid}
}

// stopHost stops the host's dockerd (SIGTERM, SIGKILL after StopTimeout),
// then kills whatever of the host still runs: containerd, shims,
// containers, any process in its namespace. It returns when all are gone.
func (m *Manager) stopHost(ctx context.Context, hs *hostState) error {
	if d := m.findDaemon(hs); d != nil {
		_ = syscall.Kill(d.pid, syscall.SIGTERM)
		if !waitGone(ctx, []int{d.pid}, d, m.cfg.StopTimeout) {
			m.cfg.Logger.Warn("dockerd did not stop in time, killing it", "host", hs.ID, "pid", d.pid)
			_ = syscall.Kill(d.pid, syscall.SIGKILL)
			if !waitGone(ctx, []int{d.pid}, d, 10*time.Second) {
				if ctx.Err() != nil {
					return fmt.Errorf("stopping dockerd (pid %d) of host %s: %w", d.pid, hs.ID, ctx.Err())
				}
				return fmt.Errorf("dockerd (pid %d) of host %s survived SIGKILL", d.pid, hs.ID)
			}
		}
	}
	return m.killHost(ctx, hs)
}

// killHost kills every process of the host at once with SIGKILL, as a
// machine losing power, and returns when all are gone.
func (m *Manager) killHost(ctx context.Context, hs *hostState) error {
	m.mu.Lock()
	delete(m.daemons, hs.ID)
	m.mu.Unlock()
	for range 5 {
		pids := m.hostProcesses(hs)
		if len(pids) == 0 {
			return nil
		}
		m.cfg.Logger.Debug("killing leftover processes", "host", hs.ID, "pids", pids)
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		waitGone(ctx, pids, nil, 10*time.Second)
	}
	if pids := m.hostProcesses(hs); len(pids) > 0 {
		if ctx.Err() != nil {
			return fmt.Errorf("killing processes %v of host %s: %w", pids, hs.ID, ctx.Err())
		}
		return fmt.Errorf("processes %v of host %s survived SIGKILL", pids, hs.ID)
	}
	return nil
}

// waitGone waits until every pid has exited (d, when given, is the daemon
// whose exit its done channel tells), up to timeout.
func waitGone(ctx context.Context, pids []int, d *daemon, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		alive := false
		for _, p := range pids {
			if d != nil && p == d.pid {
				alive = alive || !d.exited()
			} else {
				alive = alive || processAlive(p)
			}
		}
		if !alive {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// daemonComms are the programs of a host that a command line naming the
// host's directory identifies.
var daemonComms = map[string]bool{
	"dockerd": true, "containerd": true, "containerd-shim": true, "containerd-shim-runc-v1": true,
	"containerd-shim-runc-v2": true, "runc": true, "docker-proxy": true, "docker-init": true,
}

// hostProcesses lists the processes of a host: those in its network
// namespace, those of its dockerd's family whose command line names its
// directory, and those in its containers' cgroups.
func (m *Manager) hostProcesses(hs *hostState) []int {
	self := os.Getpid()
	var nsLink string
	if fi, err := os.Stat(m.netnsPath(hs.ID)); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			nsLink = fmt.Sprintf("net:[%d]", st.Ino)
		}
	}
	dirArg := []byte(m.hostDir(hs.ID) + "/")
	found := map[int]bool{}
	for _, p := range m.cgroupProcesses(hs) {
		found[p] = true
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if nsLink != "" {
			if l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid)); err == nil && l == nsLink {
				found[pid] = true
				continue
			}
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil || !daemonComms[strings.TrimSpace(string(comm))] {
			continue
		}
		if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && bytes.Contains(cmdline, dirArg) {
			found[pid] = true
		}
	}
	pids := make([]int, 0, len(found))
	for p := range found {
		if p != self && processAlive(p) {
			pids = append(pids, p)
		}
	}
	sort.Ints(pids)
	return pids
}

// cgroupDirs lists the host's cgroup directories in every hierarchy,
// deepest first.
func (m *Manager) cgroupDirs(hs *hostState) []string {
	if hs.CgroupParent == "" {
		return nil
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var dirs []string
	for _, line := range strings.Split(string(b), "\n") {
		i := strings.Index(line, " - ")
		f := strings.Fields(line)
		if i < 0 || len(f) < 5 {
			continue
		}
		fstype := strings.Fields(line[i+3:])
		if len(fstype) == 0 || (fstype[0] != "cgroup" && fstype[0] != "cgroup2") {
			continue
		}
		top := filepath.Join(unescapeMountinfo(f[4]), hs.CgroupParent)
		_ = filepath.WalkDir(top, func(path string, de os.DirEntry, err error) error {
			if err == nil && de.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
	}
	sort.Slice(dirs, func(i, j int) bool { return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/") })
	return dirs
}

func (m *Manager) cgroupProcesses(hs *hostState) []int {
	var pids []int
	for _, d := range m.cgroupDirs(hs) {
		b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(f); err == nil {
				pids = append(pids, p)
			}
		}
	}
	return pids
}

// removeCgroups removes the host's cgroup directories once they are
// empty. Right after a SIGKILL a cgroup can still hold processes the
// kernel has not finished tearing down (EBUSY): that is retried for up to
// cgroupEmptyTimeout, not reported.
func (m *Manager) removeCgroups(hs *hostState) error {
	var busy []error
	err := wait.Until(context.Background(), wait.Options{What: "the host's cgroups to empty", Interval: 20 * time.Millisecond, MaxInterval: 200 * time.Millisecond, Timeout: cgroupEmptyTimeout},
		func(context.Context) (bool, string, error) {
			busy = busy[:0]
			for _, d := range m.cgroupDirs(hs) {
				if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
					if !errors.Is(err, unix.EBUSY) {
						return false, "", fmt.Errorf("removing cgroup %s: %w", d, err)
					}
					busy = append(busy, fmt.Errorf("removing cgroup %s: %w", d, err))
				}
			}
			return len(busy) == 0, fmt.Sprintf("%d cgroups busy", len(busy)), nil
		})
	var te *wait.TimeoutError
	if errors.As(err, &te) {
		return errors.Join(busy...)
	}
	return err
}

// cgroupEmptyTimeout bounds the wait for a killed host's cgroups to empty.
const cgroupEmptyTimeout = 10 * time.Second

// unmountUnder lazily unmounts every mount of the machine's mount namespace
// at or below dir, deepest first. The daemons mount in their own namespace;
// this catches what escaped it.
func (m *Manager) unmountUnder(dir string) error {
	mps, err := mountPoints()
	if err != nil {
		return fmt.Errorf("listing mounts: %w", err)
	}
	var ours []string
	for _, mp := range mps {
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			ours = append(ours, mp)
		}
	}
	sort.Slice(ours, func(i, j int) bool { return len(ours[i]) > len(ours[j]) })
	var errs []error
	for _, mp := range ours {
		if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", mp, err))
		}
	}
	return errors.Join(errs...)
}
