package netns

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"
)

// Defaults of Config.
const (
	DefaultBridge       = "hdk0"
	DefaultNetnsPrefix  = "hdk-"
	DefaultStartTimeout = 60 * time.Second
	DefaultStopTimeout  = 20 * time.Second
)

// Default address ranges of Config.
var (
	DefaultSubnet         = netip.MustParsePrefix("10.213.0.0/24")
	DefaultReservedPrefix = netip.MustParsePrefix("10.213.128.0/25")
	DefaultPrivatePrefix  = netip.MustParsePrefix("10.216.0.0/16")
)

// ruleComment tags the iptables rules this package adds.
const ruleComment = "localcloud"

// maxSocketPath is the room in sockaddr_un.sun_path, less the NUL.
const maxSocketPath = 107

var (
	// ErrNotFound is returned for a host ID the manager does not have.
	ErrNotFound = errors.New("host not found")
	// ErrExists is returned by Provision for an ID already in use.
	ErrExists = errors.New("host already exists")
)

// Config configures a Manager. Only StateDir is required.
type Config struct {
	// StateDir holds the state file and one directory per host (data-root,
	// exec-root, sockets, logs). Unix socket paths below it must fit in 107
	// bytes, so keep it short (Provision says when it is too long).
	StateDir string
	// Bridge is the machine's bridge the hosts are plugged into.
	// Default "hdk0". At most 15 bytes.
	Bridge string
	// NetnsPrefix is prepended to host IDs to name their network
	// namespaces. Default "hdk-".
	NetnsPrefix string
	// Subnet is the hosts' network: the bridge takes its first address and
	// hosts the following ones. Default 10.213.0.0/24.
	Subnet netip.Prefix
	// ReservedPrefix is where reserved (floating) IPs come from; it must
	// not overlap Subnet. Default 10.213.128.0/25.
	ReservedPrefix netip.Prefix
	// PrivatePrefix is where hosts' private (VPC) addresses come from: one
	// prefix as long as Subnet per VPC (HostSpec.VPC), where a host's
	// private address has its public address's offset in Subnet. It must
	// not overlap Subnet or ReservedPrefix. Default 10.216.0.0/16.
	PrivatePrefix netip.Prefix
	// DockerdPath is the dockerd binary. Default: dockerd from PATH, then
	// /usr/sbin and /usr/bin.
	DockerdPath string
	// ContainerdPath, when set, is the containerd binary dockerd starts
	// (its directory goes first on dockerd's PATH). Default: the one on
	// PATH beside dockerd.
	ContainerdPath string
	// StorageDriver overrides the storage driver choice. Default: overlay2
	// when an overlay mount works in StateDir, else fuse-overlayfs when it
	// is installed and /dev/fuse exists, else vfs.
	StorageDriver string
	// DockerdEnv is added to dockerd's environment (for example GOGC=50).
	DockerdEnv []string
	// StartTimeout bounds the wait for a new dockerd to answer /_ping.
	// Default 60s.
	StartTimeout time.Duration
	// StopTimeout is how long a dockerd gets to stop after SIGTERM before
	// SIGKILL. Default 20s (dockerd stops running containers within 15s).
	StopTimeout time.Duration
	// Logger receives progress messages. Default: discarded.
	Logger *slog.Logger
}

var (
	hostIDRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)
	hostnameRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)
	ifnameRe   = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,15}$`)
)

func (c Config) withDefaults() Config {
	if c.Bridge == "" {
		c.Bridge = DefaultBridge
	}
	if c.NetnsPrefix == "" {
		c.NetnsPrefix = DefaultNetnsPrefix
	}
	if !c.Subnet.IsValid() {
		c.Subnet = DefaultSubnet
	}
	if !c.ReservedPrefix.IsValid() {
		c.ReservedPrefix = DefaultReservedPrefix
	}
	if !c.PrivatePrefix.IsValid() {
		c.PrivatePrefix = DefaultPrivatePrefix
	}
	c.PrivatePrefix = c.PrivatePrefix.Masked()
	c.Subnet = c.Subnet.Masked()
	c.ReservedPrefix = c.ReservedPrefix.Masked()
	if c.StartTimeout <= 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = DefaultStopTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}

func (c Config) validate() error {
	if c.StateDir == "" {
		return errors.New("localcloud real hosts: StateDir is required")
	}
	if !filepath.IsAbs(c.StateDir) {
		return fmt.Errorf("localcloud real hosts: StateDir %q must be an absolute path", c.StateDir)
	}
	if !ifnameRe.MatchString(c.Bridge) {
		return fmt.Errorf("localcloud real hosts: bridge name %q must be 1 to 15 letters, digits, '.', '_' or '-'", c.Bridge)
	}
	if !hostIDRe.MatchString(c.NetnsPrefix + "x") {
		return fmt.Errorf("localcloud real hosts: netns prefix %q must be letters, digits, '.', '_' or '-'", c.NetnsPrefix)
	}
	if !c.Subnet.Addr().Is4() || c.Subnet.Bits() > 29 || c.Subnet.Bits() < 8 {
		return fmt.Errorf("localcloud real hosts: subnet %s must be an IPv4 prefix from /8 to /29", c.Subnet)
	}
	if !c.ReservedPrefix.Addr().Is4() || c.ReservedPrefix.Bits() < 8 {
		return fmt.Errorf("localcloud real hosts: reserved IP prefix %s must be an IPv4 prefix of /8 or longer", c.ReservedPrefix)
	}
	if !c.PrivatePrefix.Addr().Is4() || c.PrivatePrefix.Bits() > c.Subnet.Bits() || c.PrivatePrefix.Bits() < 8 {
		return fmt.Errorf("localcloud real hosts: private prefix %s must be an IPv4 prefix from /8 to the hosts' subnet's length (/%d): each VPC takes a prefix as long as the subnet", c.PrivatePrefix, c.Subnet.Bits())
	}
	if c.PrivatePrefix.Overlaps(c.Subnet) || c.PrivatePrefix.Overlaps(c.ReservedPrefix) {
		return fmt.Errorf("localcloud real hosts: private prefix %s overlaps the hosts' subnet %s or the reserved IP prefix %s", c.PrivatePrefix, c.Subnet, c.ReservedPrefix)
	}
	if c.Subnet.Overlaps(c.ReservedPrefix) {
		return fmt.Errorf("localcloud real hosts: reserved IP prefix %s overlaps the hosts' subnet %s", c.ReservedPrefix, c.Subnet)
	}
	return nil
}

// tools are the programs the manager runs, resolved by Check.
type tools struct {
	dockerd, containerd, ip, iptables, nsenter, unshare, sh string
	nft                                                     string // optional
}

// Check tells whether this machine can run real hosts with cfg: Linux, root,
// and dockerd, ip, iptables, nsenter and unshare installed. Its error is one
// line that says what to do.
func Check(cfg Config) error {
	_, err := checkTools(cfg)
	return err
}

func checkTools(cfg Config) (tools, error) {
	var t tools
	if runtime.GOOS != "linux" {
		return t, fmt.Errorf("localcloud real hosts need Linux, not %s (use the in-memory backend)", runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		return t, errors.New("localcloud real hosts need root (run as root or use the in-memory backend)")
	}
	if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		return t, errors.New("localcloud real hosts need network namespaces, which this kernel lacks (use the in-memory backend)")
	}
	var err error
	if t.dockerd, err = lookTool(cfg.DockerdPath, "dockerd"); err != nil {
		return t, fmt.Errorf("dockerd not found: apt-get install -y docker.io")
	}
	if cfg.ContainerdPath != "" {
		if t.containerd, err = lookTool(cfg.ContainerdPath, "containerd"); err != nil {
			return t, fmt.Errorf("containerd not found at %s: apt-get install -y containerd", cfg.ContainerdPath)
		}
	}
	for _, x := range []struct {
		dst       *string
		name, pkg string
	}{
		{&t.ip, "ip", "iproute2"},
		{&t.iptables, "iptables", "iptables"},
		{&t.nsenter, "nsenter", "util-linux"},
		{&t.unshare, "unshare", "util-linux"},
		{&t.sh, "sh", "dash"},
	} {
		if *x.dst, err = lookTool("", x.name); err != nil {
			return t, fmt.Errorf("%s not found: apt-get install -y %s", x.name, x.pkg)
		}
	}
	t.nft, _ = lookTool("", "nft")
	return t, nil
}

// lookTool finds path, or name on PATH and then in the sbin directories a
// non-login root shell may lack.
func lookTool(path, name string) (string, error) {
	if path != "" {
		return exec.LookPath(path)
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

// File is a file written into the host's root, like cloud-init's
// write_files.
type File struct {
	// Path is absolute, as on a real host (/etc/docker/ca.pem).
	Path    string
	Content []byte
	// Mode defaults to 0644.
	Mode os.FileMode
}

// HostSpec describes a host to provision.
type HostSpec struct {
	// ID names the host: letters, digits, '.', '_' and '-', at most 63.
	ID string
	// Hostname is the host's hostname. Default: ID.
	Hostname string
	// Files are written into the host's root before dockerd starts.
	Files []File
	// DaemonJSON is the host's /etc/docker/daemon.json. Absolute paths in
	// it are rewritten as the package documentation says. Empty means {}.
	DaemonJSON []byte
	// Appliance makes a machine that runs no dockerd: a namespace with its
	// own address on the bridge, for what its owner starts in it (a load
	// balancer's HAProxy). Files are written; Destroy and Down kill every
	// process in it, as for any host.
	Appliance bool
	// VPC names the private network the host is in (localcloud's
	// "<api>/<region>"): the host gets a second address on eth0, from
	// the VPC's /24 of Config.PrivatePrefix, which only hosts of the same
	// VPC reach. Empty: no private address.
	VPC string
}

func (s *HostSpec) normalize() error {
	if !hostIDRe.MatchString(s.ID) {
		return fmt.Errorf("invalid host ID %q: use 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit", s.ID)
	}
	if s.Hostname == "" {
		s.Hostname = s.ID
	}
	if len(s.Hostname) > 64 || !hostnameRe.MatchString(s.Hostname) {
		return fmt.Errorf("invalid hostname %q: use an RFC 1123 name of at most 64 characters", s.Hostname)
	}
	for i, f := range s.Files {
		if !filepath.IsAbs(f.Path) || filepath.Clean(f.Path) != f.Path || f.Path == "/" {
			return fmt.Errorf("file %d: path %q must be absolute and clean", i, f.Path)
		}
		if strings.ContainsRune(f.Path, 0) {
			return fmt.Errorf("file %d: path contains NUL", i)
		}
	}
	return nil
}
