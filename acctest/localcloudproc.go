package acctest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud/digitalocean"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/localcloudtest"
)

// LocalCloudProcess is localcloud as users run it: the localcloud binary,
// serving DigitalOcean's API with real hosts (-backend netns) in a process
// of its own, which a test can kill with SIGKILL and start again on the
// same state. Its hosts' daemons run in process groups of their own, so
// they outlive it as a cloud's machines outlive its API servers.
type LocalCloudProcess struct {
	URL            string
	ProviderConfig string
	Driver         cloud.Driver
	bin, stateDir  string
	args           []string
	logs           *os.File

	mu  sync.Mutex
	cmd *exec.Cmd
}

// The process's network: its own bridge and subnets, apart from the other
// tests' (10.213.250.0/24, reserved IPs 10.213.251.0/28).
const (
	procBridge   = "hdkcrash"
	procPrefix   = "hdkc-"
	procSubnet   = "10.213.250.0/24"
	procReserved = "10.213.251.0/28"
)

// StartLocalCloudProcess builds the localcloud binary once per test
// process, starts it, and, when t ends, stops it and runs "localcloud
// down" on its state. It fails t without root or docker.io when real
// hosts are required.
func StartLocalCloudProcess(t testing.TB) *LocalCloudProcess {
	t.Helper()
	PreCheck(t)
	localcloudtest.RequireRealHosts(t)
	lcBin, err := buildBinary("./cmd/localcloud", "localcloud")
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir(): the hosts' unix sockets need a short path.
	stateDir, err := os.MkdirTemp("", "haddock-acc-lcproc-") //nolint:usetesting // see above
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	logs, err := os.Create(filepath.Join(stateDir, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	netFlags := []string{"-bridge", procBridge, "-netns-prefix", procPrefix, "-subnet", procSubnet, "-reserved-prefix", procReserved}
	p := &LocalCloudProcess{
		URL: "http://" + addr, bin: lcBin, stateDir: stateDir, logs: logs,
		args: append([]string{"serve", "-backend", "netns", "-state-dir", stateDir, "-listen", addr, "-token", Token,
			"-aws-listen", "none", "-rds-listen", "none", "-elbv2-listen", "none", "-registry=false", "-hosts-api=false", "-quiet"}, netFlags...),
	}
	t.Cleanup(func() {
		p.Kill(t)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		down := exec.CommandContext(ctx, lcBin, append([]string{"down", "-state-dir", stateDir}, netFlags...)...)
		if out, err := down.CombinedOutput(); err != nil {
			t.Errorf("acctest: localcloud down: %v\n%s", err, out)
		}
		if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), procPrefix) {
			t.Errorf("acctest: namespaces of localcloud's hosts left after down:\n%s", out)
		}
		_ = logs.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logs.Name()); err == nil {
				t.Logf("localcloud's log:\n%s", tailString(string(b), 4000))
			}
		}
		_ = os.RemoveAll(stateDir)
	})
	p.Start(t)
	p.Driver, err = digitalocean.New(digitalocean.Config{Token: Token, APIEndpoint: p.URL, PollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	p.ProviderConfig = fmt.Sprintf(`
provider "haddock" {
  digitalocean {
    api_endpoint  = %q
    token         = %q
    poll_interval = 0.2
  }
}
`, p.URL, Token)
	return p
}

// Start starts localcloud (again, on the same state) and waits until its
// API answers.
func (p *LocalCloudProcess) Start(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("acctest: starting localcloud: %v", err)
	}
	go func() { _ = cmd.Wait() }()
	p.cmd = cmd
	deadline := time.Now().Add(2 * time.Minute)
	for {
		req, _ := http.NewRequest(http.MethodGet, p.URL+"/v2/account", nil)
		req.Header.Set("Authorization", "Bearer "+Token)
		if resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("acctest: localcloud did not answer on %s within 2m", p.URL)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Kill kills the localcloud process with SIGKILL: no shutdown, no state
// saved beyond what it had written. Its hosts keep running.
func (p *LocalCloudProcess) Kill(t testing.TB) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	for range 100 {
		if p.cmd.ProcessState != nil || syscall.Kill(p.cmd.Process.Pid, 0) != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.cmd = nil
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
