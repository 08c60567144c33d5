package main

import (
	"bytes"
	"io"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/haddockhq/terraform-provider-haddock/internal/image"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/registry"
	"github.com/haddockhq/terraform-provider-haddock/internal/testenv"
)

// serve -backend netns runs the registry on the gateway before its banner
// and keeps its images across a restart; -registry=false goes without;
// down removes it.
func TestServeNetnsRegistry(t *testing.T) {
	requireRealHosts(t)
	testenv.Need(t, "HADDOCK_REQUIRE_REAL_HOSTS", registry.Check(""))
	t.Setenv("LOCALCLOUD_TOKEN", "")
	t.Cleanup(func() {
		if err := sweepReal(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	addr := netip.MustParseAddrPort("10.213.206.1:5000")
	dir := registryDir(realStateDir)
	args := append([]string{"serve", "-backend", "netns", "-state-dir", realStateDir, "-listen", "127.0.0.1:0", "-quiet"}, realFlags...)

	srv := startServe(t, args)
	if want := "localcloud: image registry on 10.213.206.1:5000 (plain HTTP"; !strings.Contains(srv.stdout.String(), want) {
		t.Errorf("banner lacks %q:\n%s", want, srv.stdout.String())
	}
	if err := registry.Ping(t.Context(), addr); err != nil {
		t.Fatalf("registry after the banner: %v", err)
	}
	img, err := image.FromBinary([]byte("x"), image.Options{Path: "/x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := image.Push(t.Context(), img, addr.String()+"/kept:1", false); err == nil {
		t.Fatal("a push without localcloud's credentials was accepted")
	}
	if _, err := image.Push(t.Context(), img, addr.String()+"/kept:1", false, image.WithBasicAuth(registry.PushUser, srv.token)); err != nil {
		t.Fatal(err)
	}
	srv.stop(t)
	if pids := registry.Processes(dir); len(pids) != 0 {
		t.Errorf("registry still running after serve stopped: %v", pids)
	}

	srv = startServe(t, append(args, "-registry=false"))
	if strings.Contains(srv.stdout.String(), "registry") || registry.Ping(t.Context(), addr) == nil {
		t.Errorf("-registry=false: a registry runs:\n%s", srv.stdout.String())
	}
	srv.stop(t)

	srv = startServe(t, args)
	tags, err := registryGet(addr, "/v2/kept/tags/list")
	if err != nil || !strings.Contains(tags, `"1"`) {
		t.Errorf("image after a restart: %q %v", tags, err)
	}
	srv.stop(t)

	var out bytes.Buffer
	if err := run(t.Context(), []string{"down", "-state-dir", realStateDir}, &out, &out); err != nil {
		t.Fatalf("down: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "removed the image registry") {
		t.Errorf("down said:\n%s", out.String())
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) || len(registry.Processes(dir)) != 0 {
		t.Errorf("registry after down: %v %v", err, registry.Processes(dir))
	}
}

func registryGet(addr netip.AddrPort, path string) (string, error) {
	resp, err := http.Get("http://" + addr.String() + path)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
