package main

import (
	"bytes"
	"context"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netns"
)

// The real-host test's own network and state directory (see
// internal/localcloud/netnsbackend for the others in use).
const (
	realStateDir = "/tmp/hdklc6"
	realBridge   = "hdkt6"
	realPrefix   = "hdkt6-"
)

var realFlags = []string{"-bridge", realBridge, "-netns-prefix", realPrefix, "-subnet", "10.213.206.0/24", "-reserved-prefix", "10.213.226.0/28"}

var testLock *os.File

func TestMain(m *testing.M) {
	// The EC2 API listens on a port of its own: never the default 9081 a
	// running localcloud may hold.
	if os.Getenv("LOCALCLOUD_AWS_LISTEN") == "" {
		_ = os.Setenv("LOCALCLOUD_AWS_LISTEN", "127.0.0.1:0")
	}
	if netns.Check(netns.Config{}) == nil {
		var err error
		if testLock, err = os.OpenFile(filepath.Join(os.TempDir(), "haddock-cmd-localcloud-test.lock"), os.O_RDWR|os.O_CREATE, 0o600); err == nil {
			if err := unix.Flock(int(testLock.Fd()), unix.LOCK_EX); err != nil {
				log.Printf("locking %s: %v", testLock.Name(), err)
			}
		}
		if err := sweepReal(); err != nil {
			log.Printf("removing what an earlier test run left: %v", err)
		}
	}
	os.Exit(m.Run())
}

// sweepReal is `localcloud down` on the real-host test's state directory.
func sweepReal() error {
	if _, err := os.Stat(realStateDir); os.IsNotExist(err) {
		return nil
	}
	var out bytes.Buffer
	return run(context.Background(), append([]string{"down", "-state-dir", realStateDir}, realFlags...), &out, &out)
}

func requireRealHosts(tb testing.TB) {
	tb.Helper()
	err := netns.Check(netns.Config{})
	if err == nil {
		return
	}
	if os.Getenv("CI") != "" || os.Getenv("HADDOCK_REQUIRE_REAL_HOSTS") == "1" {
		tb.Fatalf("real hosts required (CI or HADDOCK_REQUIRE_REAL_HOSTS=1): %v", err)
	}
	tb.Skipf("real hosts unavailable: %v", err)
}

type footprint struct{ netns, dockerd, rules, links int }

func countFootprint() footprint {
	var f footprint
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), realPrefix) {
			f.netns++
		}
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		comm, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "comm"))
		cmdline, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if strings.TrimSpace(string(comm)) == "dockerd" && bytes.Contains(cmdline, []byte(realStateDir+"/")) {
			f.dockerd++
		}
	}
	out, _ := exec.Command("iptables-save").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "--comment localcloud") && strings.Contains(line, " "+realBridge+" ") {
			f.rules++
		}
	}
	links, _ := os.ReadDir("/sys/class/net")
	for _, e := range links {
		if strings.HasPrefix(e.Name(), realBridge) {
			f.links++
		}
	}
	return f
}

// serve -backend netns, SIGINT (the dockerds stop, the state stays), serve
// again with the recorded settings (the droplet is back, its dockerd
// answers), down (nothing left).
func TestServeNetnsRestartAndDown(t *testing.T) {
	requireRealHosts(t)
	t.Setenv("LOCALCLOUD_TOKEN", "")
	t.Cleanup(func() {
		if err := sweepReal(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	before := countFootprint()
	srv := startServe(t, append([]string{"serve", "-backend", "netns", "-state-dir", realStateDir, "-listen", "127.0.0.1:0", "-quiet"}, realFlags...))
	// Real hosts get a generated token, never the public dev token, and a
	// daemon.json that would open a plain listener is refused.
	if srv.token == localcloud.DevToken {
		t.Fatalf("real hosts serve with the public dev token: %s", srv.stdout.String())
	}
	dev := *srv
	dev.token = localcloud.DevToken
	if code, body := dev.do(t, "GET", "/v2/account", ""); code != 401 {
		t.Errorf("the dev token against real hosts: %d %s, want 401", code, body)
	}
	plain := `{"name":"open","region":"fra1","size":"s-1vcpu-1gb","image":"debian-12-x64","user_data":"#cloud-config\nwrite_files:\n  - path: /etc/docker/daemon.json\n    content: '{\"hosts\":[\"tcp://0.0.0.0:2375\"]}'\n"}`
	if code, body := srv.do(t, "POST", "/v2/droplets", plain); code != 422 || !strings.Contains(body, "listens without TLS") {
		t.Errorf("a plain tcp listener in user data: %d %s, want 422 naming it", code, body)
	}
	id := srv.createDroplet(t, "cmd-host", "#cloud-config\nhostname: cmd-host-1\n")
	line := regexp.MustCompile(`droplet ` + strconv.Itoa(id) + ` provisioned: hostname cmd-host-1, address 10\.213\.206\.\d+, ready in \S+`)
	if !line.MatchString(srv.stderr.String()) {
		t.Errorf("no provisioning line in %q", srv.stderr.String())
	}
	t.Log(line.FindString(srv.stderr.String()))
	if f := countFootprint(); f.netns != before.netns+1 || f.dockerd != before.dockerd+1 || f.rules == 0 {
		t.Errorf("while serving: %+v", f)
	}
	srv.stop(t)
	if f := countFootprint(); f.netns != before.netns+1 || f.dockerd != before.dockerd {
		t.Errorf("after SIGINT: %+v, want the namespace kept and the dockerd stopped", f)
	}

	srv = startServe(t, []string{"serve", "-backend", "netns", "-state-dir", realStateDir, "-listen", "127.0.0.1:0", "-quiet"})
	if !strings.Contains(srv.stdout.String(), "1 host(s) restored") || !strings.Contains(srv.stdout.String(), "bridge "+realBridge) {
		t.Errorf("banner: %s", srv.stdout.String())
	}
	if got := srv.get(t, "/v2/droplets/"+strconv.Itoa(id)); !strings.Contains(got, `"status":"active"`) {
		t.Errorf("after the restart: %s", got)
	}
	sock := filepath.Join(realStateDir, "hosts", strconv.Itoa(id), "docker.sock")
	if out, err := exec.Command("curl", "-fsS", "--unix-socket", sock, "http://docker/info").CombinedOutput(); err != nil || !strings.Contains(string(out), `"Name":"cmd-host-1"`) {
		t.Errorf("dockerd after the restart: %v %.200s", err, out)
	}
	srv.stop(t)

	var out bytes.Buffer
	if err := run(t.Context(), []string{"down", "-state-dir", realStateDir}, &out, &out); err != nil {
		t.Fatalf("down: %v\n%s", err, out.String())
	}
	t.Log(strings.TrimSpace(out.String()))
	if f := countFootprint(); f != before {
		t.Errorf("after down: %+v, before %+v", f, before)
	}
	if _, err := os.Stat(realStateDir); !os.IsNotExist(err) {
		t.Errorf("state directory after down: %v", err)
	}
}
