// Package image builds container images without a Docker daemon and pushes
// them to a registry, with go-containerregistry.
//
// An image here is a statically linked program on an empty base, what a
// Dockerfile "FROM scratch / COPY prog /prog" makes: one layer holding the
// binary (and the directories above it), an OCI image manifest, and a
// config with the entrypoint, exposed ports, user and labels. BuildGo
// compiles a Go package for it (CGO_ENABLED=0, -trimpath, stripped) and
// refuses a binary that needs a dynamic loader, which a scratch image does
// not have.
//
// Images are reproducible: file times and the creation time are Options.
// Created (default the Unix epoch), so the same binary and options give
// the same digest.
//
// Push writes an image to a registry, over plain HTTP when the registry is
// at a private or loopback address, as localcloud's registry on its
// private bridge is (see package internal/localcloud/registry).
package image

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// DefaultUser is the user images run as unless Options.User says
// otherwise: nobody (65534), numeric because a scratch image has no
// /etc/passwd.
const DefaultUser = "65534:65534"

// Options describe the image FromBinary makes. Only Path is required.
type Options struct {
	// Path is where the binary goes in the image: absolute, for example
	// "/counter". Its mode is 0755, owner root.
	Path string
	// Entrypoint defaults to [Path].
	Entrypoint []string
	// Cmd are the default arguments to the entrypoint.
	Cmd []string
	// Env are KEY=value pairs.
	Env []string
	// ExposedPorts are "8080/tcp", "53/udp" or "8080" (tcp).
	ExposedPorts []string
	// User defaults to DefaultUser. Set "0" to run as root.
	User string
	// WorkingDir defaults to "/".
	WorkingDir string
	// Labels become the config's labels.
	Labels map[string]string
	// Healthcheck, when set, is a HEALTHCHECK CMD: the program and its
	// arguments, for example ["/counter", "-healthcheck"].
	Healthcheck []string
	// HealthInterval is the healthcheck's interval; default 10s.
	HealthInterval time.Duration
	// Architecture is GOARCH-style (amd64, arm64); default runtime.GOARCH.
	// OS is always linux.
	Architecture string
	// Created is the image's creation time and its files' modification
	// time; default the Unix epoch, for reproducible digests.
	Created time.Time
}

// FromBinary returns a one-layer image holding bin at opts.Path.
func FromBinary(bin []byte, opts Options) (v1.Image, error) {
	if err := opts.normalize(); err != nil {
		return nil, fmt.Errorf("building image: %w", err)
	}
	layerTar, err := layerTar(bin, opts.Path, opts.Created)
	if err != nil {
		return nil, fmt.Errorf("building image: %w", err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("building image layer: %w", err)
	}
	created := v1.Time{Time: opts.Created}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   created,
			CreatedBy: fmt.Sprintf("haddock-image: COPY %s %s", filepath.Base(opts.Path), opts.Path),
			Comment:   "a statically linked binary on an empty base",
		},
	})
	if err != nil {
		return nil, fmt.Errorf("building image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("building image: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = opts.Architecture
	cf.Created = created
	cf.Config = v1.Config{
		Entrypoint: opts.Entrypoint,
		Cmd:        opts.Cmd,
		Env:        opts.Env,
		User:       opts.User,
		WorkingDir: opts.WorkingDir,
		Labels:     opts.Labels,
	}
	if len(opts.ExposedPorts) > 0 {
		cf.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range opts.ExposedPorts {
			cf.Config.ExposedPorts[p] = struct{}{}
		}
	}
	if len(opts.Healthcheck) > 0 {
		cf.Config.Healthcheck = &v1.HealthConfig{
			Test:     append([]string{"CMD"}, opts.Healthcheck...),
			Interval: opts.HealthInterval,
			Timeout:  5 * time.Second,
			Retries:  3,
		}
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("building image: %w", err)
	}
	return img, nil
}

func (o *Options) normalize() error {
	if !path.IsAbs(o.Path) || path.Clean(o.Path) != o.Path || o.Path == "/" {
		return fmt.Errorf("path %q in the image must be absolute and clean", o.Path)
	}
	if len(o.Entrypoint) == 0 {
		o.Entrypoint = []string{o.Path}
	}
	if o.User == "" {
		o.User = DefaultUser
	}
	if o.WorkingDir == "" {
		o.WorkingDir = "/"
	}
	if o.Architecture == "" {
		o.Architecture = runtime.GOARCH
	}
	if o.HealthInterval <= 0 {
		o.HealthInterval = 10 * time.Second
	}
	if o.Created.IsZero() {
		o.Created = time.Unix(0, 0)
	}
	o.Created = o.Created.UTC()
	ports := make([]string, 0, len(o.ExposedPorts))
	for _, p := range o.ExposedPorts {
		num, proto, ok := strings.Cut(p, "/")
		if !ok {
			proto = "tcp"
		}
		if num == "" || strings.Trim(num, "0123456789") != "" || (proto != "tcp" && proto != "udp" && proto != "sctp") {
			return fmt.Errorf("exposed port %q: want PORT or PORT/tcp|udp|sctp", p)
		}
		ports = append(ports, num+"/"+proto)
	}
	sort.Strings(ports)
	o.ExposedPorts = ports
	for _, e := range o.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return fmt.Errorf("environment entry %q: want KEY=value", e)
		}
	}
	return nil
}

// layerTar is the uncompressed layer: the directories above p, then the
// binary, owned by root.
func layerTar(bin []byte, p string, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	rel := strings.TrimPrefix(p, "/")
	parts := strings.Split(rel, "/")
	for i := 1; i < len(parts); i++ {
		if err := tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeDir, Name: strings.Join(parts[:i], "/") + "/", Mode: 0o755,
			ModTime: mtime, Format: tar.FormatPAX,
		}); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg, Name: rel, Mode: 0o755, Size: int64(len(bin)),
		ModTime: mtime, Format: tar.FormatPAX,
	}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(bin); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// GoBuild says how BuildGo compiles a package.
type GoBuild struct {
	// Package is the package to build, as "go build" takes it:
	// "./examples/apps/counter" or an import path.
	Package string
	// Dir is where "go build" runs (the module); default the current
	// directory.
	Dir string
	// Arch is GOARCH; default runtime.GOARCH. GOOS is always linux.
	Arch string
	// Go is the go command; default "go" from PATH.
	Go string
	// LDFlags are added after "-s -w".
	LDFlags string
}

// BuildGo compiles a Go main package into a static linux binary
// (CGO_ENABLED=0, -trimpath, -buildvcs=false, stripped) and returns it. It
// fails when the result needs a dynamic loader.
func BuildGo(ctx context.Context, b GoBuild) ([]byte, error) {
	if b.Package == "" {
		return nil, errors.New("building Go binary: no package given")
	}
	goTool := b.Go
	if goTool == "" {
		goTool = "go"
	}
	goTool, err := exec.LookPath(goTool)
	if err != nil {
		return nil, fmt.Errorf("building Go binary: %w (install Go, or put it on PATH)", err)
	}
	arch := b.Arch
	if arch == "" {
		arch = runtime.GOARCH
	}
	tmp, err := os.MkdirTemp("", "haddock-image-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	out := filepath.Join(tmp, "bin")
	ldflags := strings.TrimSpace("-s -w " + b.LDFlags)
	cmd := exec.CommandContext(ctx, goTool, "build", "-trimpath", "-buildvcs=false", "-ldflags="+ldflags, "-o", out, b.Package)
	cmd.Dir = b.Dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("building %s: %w\n%s", b.Package, err, strings.TrimSpace(stderr.String()))
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	if err := checkStatic(bin); err != nil {
		return nil, fmt.Errorf("building %s: %w", b.Package, err)
	}
	return bin, nil
}

// checkStatic fails for an ELF binary with a program interpreter: it would
// not start in an image without one.
func checkStatic(bin []byte) error {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return fmt.Errorf("not an ELF binary: %w", err)
	}
	defer func() { _ = f.Close() }()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("the binary is dynamically linked (it needs a loader a scratch image lacks): build it with CGO_ENABLED=0")
		}
	}
	return nil
}

// Push writes img to ref (registry/repository:tag) and returns the pushed
// reference by digest (registry/repository@sha256:...). HTTPS is preferred;
// plain HTTP is allowed for a registry at a private (RFC 1918) or loopback
// address or named localhost (go-containerregistry's rule, which covers
// localcloud's registry), and for any registry with insecure. Credentials
// come from the Docker config (~/.docker/config.json), anonymous without.
func Push(ctx context.Context, img v1.Image, ref string, insecure bool, opts ...PushOption) (string, error) {
	var po pushOptions
	for _, o := range opts {
		o(&po)
	}
	var nopts []name.Option
	if insecure {
		nopts = append(nopts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nopts...)
	if err != nil {
		return "", fmt.Errorf("pushing image: %w", err)
	}
	auth := remote.WithAuthFromKeychain(authn.DefaultKeychain)
	if po.basic != nil {
		auth = remote.WithAuth(po.basic)
	}
	if err := remote.Write(r, img, remote.WithContext(ctx), auth); err != nil {
		return "", fmt.Errorf("pushing image to %s: %w", r, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return r.Context().Digest(d.String()).String(), nil
}

// PushOption changes how Push authenticates.
type PushOption func(*pushOptions)

type pushOptions struct{ basic authn.Authenticator }

// WithBasicAuth pushes with a user name and password (localcloud's
// registry: registry.PushUser and its API token) instead of the Docker
// credentials of this machine.
func WithBasicAuth(username, password string) PushOption {
	return func(o *pushOptions) { o.basic = &authn.Basic{Username: username, Password: password} }
}

// Size is the image's size in a registry: manifest, config and compressed
// layers.
func Size(img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return 0, err
	}
	n := int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n, nil
}
