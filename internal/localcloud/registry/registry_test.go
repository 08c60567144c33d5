package registry

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/haddockhq/terraform-provider-haddock/internal/image"
	"github.com/haddockhq/terraform-provider-haddock/internal/testenv"
)

func TestAddrAndDaemonSettings(t *testing.T) {
	a := Addr(netip.MustParseAddr("10.213.0.1"))
	if a.String() != "10.213.0.1:5000" {
		t.Errorf("Addr: %s", a)
	}
	want := map[string][]string{
		"insecure-registries": {"10.213.0.1:5000"},
		"registry-mirrors":    {"http://10.213.0.1:5000"},
	}
	if got := DaemonSettings(a); !reflect.DeepEqual(got, want) {
		t.Errorf("DaemonSettings: %v", got)
	}
}

func TestConfigYAML(t *testing.T) {
	b, err := configYAML(Config{Dir: `/var/lib/lc "x"`, Addr: netip.MustParseAddrPort("10.213.0.1:5000")}, netip.MustParseAddrPort("127.0.0.1:41234"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"version: 0.1\n",
		`    rootdirectory: "/var/lib/lc \"x\"/data"` + "\n",
		"  addr: \"127.0.0.1:41234\"\n",
		"  delete:\n    enabled: true\n",
		"  secret: \"",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("config lacks %q:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), "auth:") {
		t.Errorf("config has authentication:\n%s", b)
	}
	if got := yamlString("a\\b\x01"); got != `"a\\b\x01"` {
		t.Errorf("yamlString: %s", got)
	}
}

func TestCheck(t *testing.T) {
	if err := Check("/nonexistent/docker-registry"); err == nil {
		t.Error("a missing program passed")
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := os.Stat(DefaultBinary); err != nil {
		if err := Check(""); !errors.Is(err, ErrNotInstalled) || strings.Contains(err.Error(), "\n") {
			t.Errorf("without docker-registry: %v", err)
		}
	}
	if _, err := Start(t.Context(), Config{Dir: "relative", Addr: netip.MustParseAddrPort("127.0.0.1:5000")}); err == nil {
		t.Error("relative directory accepted")
	}
	if _, err := Start(t.Context(), Config{Dir: t.TempDir()}); err == nil {
		t.Error("no address accepted")
	}
}

// freePort returns a loopback address nothing listens on (for now).
func freePort(t *testing.T) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return netip.MustParseAddrPort(ln.Addr().String())
}

// The real docker-registry on loopback: it starts and takes an image, keeps
// it across a restart, is replaced when a crashed owner left it running,
// and Remove leaves nothing.
func TestStartStopRemove(t *testing.T) {
	testenv.Need(t, "HADDOCK_REQUIRE_REAL_HOSTS", Check(""))
	dir := filepath.Join(t.TempDir(), "registry")
	creds := Credentials{Username: PushUser, Password: "test-token"}
	cfg := Config{Dir: dir, Addr: freePort(t), StopTimeout: 5 * time.Second, Push: creds}
	t0 := time.Now()
	r, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("registry on %s (pid %d) answering in %s", r.Addr(), r.PID(), time.Since(t0).Round(time.Millisecond))
	t.Cleanup(func() { _ = Remove(context.Background(), dir) })
	if got := Processes(dir); !reflect.DeepEqual(got, []int{r.PID()}) {
		t.Errorf("Processes: %v, want [%d]", got, r.PID())
	}

	img, err := image.FromBinary([]byte("#!/not/really\n"), image.Options{Path: "/x"})
	if err != nil {
		t.Fatal(err)
	}
	ref := r.Addr().String() + "/test/x:1"
	// Pushes need localcloud's credentials; pulls do not.
	if _, err := image.Push(t.Context(), img, ref, false); err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Fatalf("a push without credentials: %v, want UNAUTHORIZED", err)
	}
	if _, err := image.Push(t.Context(), img, ref, false, image.WithBasicAuth(PushUser, "wrong")); err == nil {
		t.Fatal("a push with a wrong password was accepted")
	}
	if _, err := image.Push(t.Context(), img, ref, false, image.WithBasicAuth(creds.Username, creds.Password)); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	pulled := func() error {
		tag, err := name.ParseReference(ref)
		if err != nil {
			return err
		}
		got, err := remote.Image(tag, remote.WithContext(t.Context()))
		if err != nil {
			return err
		}
		if d, _ := got.Digest(); d != want {
			return errors.New("digest " + d.String() + ", want " + want.String())
		}
		return nil
	}
	if err := pulled(); err != nil {
		t.Fatal(err)
	}

	// Stop keeps the data: the next registry has the image.
	if err := r.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if Ping(t.Context(), cfg.Addr) == nil || len(Processes(dir)) != 0 {
		t.Fatal("registry still answering after Stop")
	}
	if r, err = Start(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	if err := pulled(); err != nil {
		t.Errorf("after a restart: %v", err)
	}

	// Its owner crashed (its proxy is gone with it, the registry process
	// is forgotten): the next Start stops the one left running and serves
	// in its place.
	_ = r.front.Close()
	stray := r.PID()
	if r, err = Start(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	if r.PID() == stray || syscall.Kill(stray, 0) == nil && alive(stray) {
		t.Errorf("the registry left running (pid %d) was not stopped", stray)
	}
	if err := pulled(); err != nil {
		t.Errorf("after replacing a stray registry: %v", err)
	}

	// A private registry (PullAuth): pulls need the credentials too.
	priv := Config{Dir: filepath.Join(t.TempDir(), "private"), Addr: freePort(t), StopTimeout: 5 * time.Second, Push: creds, PullAuth: true}
	pr, err := Start(t.Context(), priv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pr.Stop(context.Background()); _ = Remove(context.Background(), priv.Dir) })
	pref := pr.Addr().String() + "/test/private:1"
	if _, err := image.Push(t.Context(), img, pref, false, image.WithBasicAuth(creds.Username, creds.Password)); err != nil {
		t.Fatal(err)
	}
	ptag, _ := name.ParseReference(pref)
	if _, err := remote.Image(ptag, remote.WithContext(t.Context())); err == nil {
		t.Error("an anonymous pull from a private registry succeeded")
	}
	if _, err := remote.Image(ptag, remote.WithContext(t.Context()), remote.WithAuth(&authn.Basic{Username: creds.Username, Password: creds.Password})); err != nil {
		t.Errorf("a pull with the credentials: %v", err)
	}

	// Another process on the address: a clear error, before starting.
	ln, err := net.Listen("tcp", freePort(t).String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	busy := Config{Dir: filepath.Join(t.TempDir(), "r2"), Addr: netip.MustParseAddrPort(ln.Addr().String()), Push: creds}
	if _, err := Start(t.Context(), busy); err == nil || !strings.Contains(err.Error(), "cannot listen on "+busy.Addr.String()) {
		t.Errorf("address in use: %v", err)
	}

	// Remove (localcloud down) stops it and removes everything.
	if err := Remove(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	_ = r.front.Close() // the proxy lives in this process
	if len(Processes(dir)) != 0 || alive(r.PID()) {
		t.Error("registry running after Remove")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("directory after Remove: %v", err)
	}
	if err := Remove(t.Context(), dir); err != nil {
		t.Errorf("Remove again: %v", err)
	}
}
