package image

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// layerFiles lists the layer's tar entries: name, mode, type, owner, time
// and content.
func layerFiles(t *testing.T, img v1.Image) []tar.Header {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	var hs []tar.Header
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return hs
		}
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, *h)
	}
}

func TestFromBinaryLayoutAndConfig(t *testing.T) {
	bin := []byte("\x7fELF pretend binary")
	img, err := FromBinary(bin, Options{
		Path:         "/usr/local/bin/app",
		Cmd:          []string{"-v"},
		Env:          []string{"A=1"},
		ExposedPorts: []string{"8080", "53/udp"},
		Labels:       map[string]string{"org.opencontainers.image.title": "app"},
		Healthcheck:  []string{"/usr/local/bin/app", "-healthcheck"},
		Architecture: "arm64",
	})
	if err != nil {
		t.Fatal(err)
	}

	// Layout: the directories above the binary, then the binary, root's,
	// at the epoch.
	hs := layerFiles(t, img)
	var got []string
	for _, h := range hs {
		got = append(got, h.Name)
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(time.Unix(0, 0)) || h.Mode != 0o755 {
			t.Errorf("%s: uid %d gid %d mtime %s mode %o", h.Name, h.Uid, h.Gid, h.ModTime, h.Mode)
		}
	}
	if want := []string{"usr/", "usr/local/", "usr/local/bin/", "usr/local/bin/app"}; !reflect.DeepEqual(got, want) {
		t.Errorf("layer entries %q, want %q", got, want)
	}
	if last := hs[len(hs)-1]; last.Typeflag != tar.TypeReg || last.Size != int64(len(bin)) {
		t.Errorf("binary entry: %+v", last)
	}

	// Manifest and config: OCI media types, one gzip layer.
	mt, _ := img.MediaType()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if mt != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON || len(m.Layers) != 1 || m.Layers[0].MediaType != types.OCILayer {
		t.Errorf("media types: manifest %s, config %s, layers %+v", mt, m.Config.MediaType, m.Layers)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "arm64" || !cf.Created.Equal(time.Unix(0, 0)) {
		t.Errorf("platform/created: %s/%s %s", cf.OS, cf.Architecture, cf.Created)
	}
	c := cf.Config
	if !reflect.DeepEqual(c.Entrypoint, []string{"/usr/local/bin/app"}) || !reflect.DeepEqual(c.Cmd, []string{"-v"}) ||
		!reflect.DeepEqual(c.Env, []string{"A=1"}) || c.User != DefaultUser || c.WorkingDir != "/" ||
		c.Labels["org.opencontainers.image.title"] != "app" {
		t.Errorf("config: %+v", c)
	}
	if want := map[string]struct{}{"8080/tcp": {}, "53/udp": {}}; !reflect.DeepEqual(c.ExposedPorts, want) {
		t.Errorf("exposed ports %v", c.ExposedPorts)
	}
	if hc := c.Healthcheck; hc == nil || !reflect.DeepEqual(hc.Test, []string{"CMD", "/usr/local/bin/app", "-healthcheck"}) || hc.Interval != 10*time.Second {
		t.Errorf("healthcheck %+v", hc)
	}
	if len(cf.RootFS.DiffIDs) != 1 || len(cf.History) != 1 || !strings.Contains(cf.History[0].CreatedBy, "COPY app /usr/local/bin/app") {
		t.Errorf("rootfs %+v history %+v", cf.RootFS, cf.History)
	}
	if n, err := Size(img); err != nil || n <= int64(len(bin)) {
		t.Errorf("size %d %v", n, err)
	}

	// Defaults: entrypoint is the path, the platform this one's.
	img2, err := FromBinary(bin, Options{Path: "/app"})
	if err != nil {
		t.Fatal(err)
	}
	cf2, _ := img2.ConfigFile()
	if !reflect.DeepEqual(cf2.Config.Entrypoint, []string{"/app"}) || cf2.Architecture != runtime.GOARCH ||
		cf2.Config.ExposedPorts != nil || cf2.Config.Healthcheck != nil {
		t.Errorf("defaults: %+v", cf2)
	}
	if hs := layerFiles(t, img2); len(hs) != 1 || hs[0].Name != "app" {
		t.Errorf("layer of /app: %+v", hs)
	}
}

func TestFromBinaryReproducible(t *testing.T) {
	digest := func(o Options) v1.Hash {
		img, err := FromBinary([]byte("same"), o)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	a, b := digest(Options{Path: "/x"}), digest(Options{Path: "/x"})
	if a != b {
		t.Errorf("same input, digests %s and %s", a, b)
	}
	if c := digest(Options{Path: "/x", Created: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}); c == a {
		t.Error("another creation time, same digest")
	}
}

func TestFromBinaryRejects(t *testing.T) {
	for _, o := range []Options{
		{},
		{Path: "relative"},
		{Path: "/a/../b"},
		{Path: "/"},
		{Path: "/x", ExposedPorts: []string{"http"}},
		{Path: "/x", ExposedPorts: []string{"80/icmp"}},
		{Path: "/x", Env: []string{"NOEQUALS"}},
	} {
		if _, err := FromBinary([]byte("x"), o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

// BuildGo makes a static binary of the demo app; FromBinary and Push put it
// in a registry (go-containerregistry's, in process) that gives back the
// same image.
func TestBuildGoAndPush(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	t0 := time.Now()
	bin, err := BuildGo(t.Context(), GoBuild{Package: "../../examples/apps/counter"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built the counter (%d bytes) in %s", len(bin), time.Since(t0).Round(time.Millisecond))
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatal(err)
	}
	if f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
		t.Errorf("OS ABI %s", f.OSABI)
	}
	_ = f.Close()
	if err := checkStatic(bin); err != nil {
		t.Error(err)
	}

	img, err := FromBinary(bin, Options{Path: "/counter", ExposedPorts: []string{"8080"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	t0 = time.Now()
	ref, err := Push(t.Context(), img, host+"/apps/counter:1", true)
	if err != nil {
		t.Fatal(err)
	}
	size, _ := Size(img)
	t.Logf("pushed %s (%d bytes) in %s", ref, size, time.Since(t0).Round(time.Millisecond))
	want, _ := img.Digest()
	if !strings.HasSuffix(ref, "/apps/counter@"+want.String()) {
		t.Errorf("pushed reference %s, digest %s", ref, want)
	}
	tag, err := name.ParseReference(host+"/apps/counter:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(tag, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := got.Digest(); d != want {
		t.Errorf("registry has %s, pushed %s", d, want)
	}
	hs := layerFiles(t, got)
	if len(hs) != 1 || hs[0].Name != "counter" || hs[0].Size != int64(len(bin)) {
		t.Errorf("pulled layer: %+v", hs)
	}

	// A package that is no main package, or does not build, says why.
	if _, err := BuildGo(t.Context(), GoBuild{Package: "./no/such/package"}); err == nil || !strings.Contains(err.Error(), "no/such/package") {
		t.Errorf("missing package: %v", err)
	}
}

func TestCheckStatic(t *testing.T) {
	if err := checkStatic([]byte("not elf")); err == nil {
		t.Error("non-ELF accepted")
	}
	// The go command itself is static or not depending on the build; a
	// dynamically linked program from the system must be refused.
	for _, p := range []string{"/bin/sh", "/usr/bin/env"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if f, err := elf.NewFile(bytes.NewReader(b)); err == nil {
			dynamic := false
			for _, pr := range f.Progs {
				dynamic = dynamic || pr.Type == elf.PT_INTERP
			}
			if dynamic && checkStatic(b) == nil {
				t.Errorf("%s is dynamically linked, checkStatic accepted it", p)
			}
			return
		}
	}
	t.Skip("no dynamically linked system program to check with")
}
