package netns

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// requireRealHosts skips the test when the machine cannot run real hosts
// (not root, no docker.io), or fails it when CI is set or
// HADDOCK_REQUIRE_REAL_HOSTS=1.
func requireRealHosts(tb testing.TB) {
	tb.Helper()
	err := Check(Config{})
	if err == nil {
		return
	}
	if os.Getenv("CI") != "" || os.Getenv("HADDOCK_REQUIRE_REAL_HOSTS") == "1" {
		tb.Fatalf("real hosts required (CI or HADDOCK_REQUIRE_REAL_HOSTS=1): %v", err)
	}
	tb.Skipf("real hosts unavailable: %v", err)
}

type testLogWriter struct{ tb testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// testConfig gives each test its own bridge, ranges and state directory so
// that it cannot meet a running localcloud (hdk0, 10.213.0.0/24).
func testConfig(tb testing.TB, n int) Config {
	return Config{
		StateDir:       tb.TempDir(),
		Bridge:         fmt.Sprintf("hdkt%d", n),
		NetnsPrefix:    "hdkt-",
		Subnet:         netip.MustParsePrefix(fmt.Sprintf("10.213.%d.0/24", 200+n)),
		ReservedPrefix: netip.MustParsePrefix(fmt.Sprintf("10.213.%d.0/28", 220+n)),
		StopTimeout:    10 * time.Second,
		Logger:         slog.New(slog.NewTextHandler(testLogWriter{tb}, &slog.HandlerOptions{Level: testLogLevel()})),
	}
}

func newTestManager(tb testing.TB, cfg Config) *Manager {
	tb.Helper()
	m, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := m.Down(ctx); err != nil {
			tb.Errorf("cleanup Down: %v", err)
		}
	})
	return m
}

// leftovers counts what a manager leaves on the machine.
type leftovers struct {
	Netns, Processes, Mounts, Rules, Links, Routes int
}

func countLeftovers(tb testing.TB, cfg Config) leftovers {
	tb.Helper()
	var l leftovers
	entries, _ := os.ReadDir(netnsDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), cfg.NetnsPrefix) {
			l.Netns++
		}
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		comm, err := os.ReadFile(filepath.Join("/proc", p.Name(), "comm"))
		if err != nil {
			continue
		}
		c := strings.TrimSpace(string(comm))
		if c != "dockerd" && !strings.HasPrefix(c, "containerd") {
			continue
		}
		if processAlive(atoiOrZero(p.Name())) {
			cmdline, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
			if bytes.Contains(cmdline, []byte(cfg.StateDir)) {
				l.Processes++
			}
		}
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mi), "\n") {
		if strings.Contains(line, cfg.StateDir) || strings.Contains(line, "/"+cfg.NetnsPrefix) {
			l.Mounts++
		}
	}
	for _, save := range []string{"iptables-save", "iptables-legacy-save", "iptables-nft-save"} {
		if p, err := lookTool("", save); err == nil {
			// Only this configuration's rules: other packages' tests may run
			// their own localclouds at the same time.
			out, _ := exec.Command(p).Output()
			for _, line := range strings.Split(string(out), "\n") {
				if strings.Contains(line, "--comment "+ruleComment) && strings.Contains(line, "-i "+cfg.Bridge+" ") {
					l.Rules++
				}
			}
		}
	}
	links, _ := os.ReadDir("/sys/class/net")
	for _, e := range links {
		if e.Name() == cfg.Bridge || strings.HasPrefix(e.Name(), cfg.Bridge+"v") {
			l.Links++
		}
	}
	out, _ := exec.Command("ip", "-4", "route", "show", "table", "all").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "dev "+cfg.Bridge+" ") || strings.Contains(line, cfg.ReservedPrefix.String()) {
			l.Routes++
		}
	}
	return l
}

func atoiOrZero(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// testTLS is a CA with a server certificate for the hosts and a client
// certificate.
type testTLS struct {
	caPEM, certPEM, keyPEM []byte
	client                 *tls.Config
}

func newTestTLS(tb testing.TB, names ...string) testTLS {
	tb.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, usage x509.ExtKeyUsage, dns []string) ([]byte, []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "test"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, DNSNames: dns,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			tb.Fatal(err)
		}
		kder, _ := x509.MarshalPKCS8PrivateKey(key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	}
	var tt testTLS
	tt.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	tt.certPEM, tt.keyPEM = issue(2, x509.ExtKeyUsageServerAuth, names)
	ccert, ckey := issue(3, x509.ExtKeyUsageClientAuth, nil)
	pair, err := tls.X509KeyPair(ccert, ckey)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	tt.client = &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	return tt
}

// spec is what Haddock's cloud-init gives a host: TLS files in /etc/docker
// and a daemon.json listening on the unix socket and on 2376 with tlsverify.
func (tt testTLS) spec(id string) HostSpec {
	return HostSpec{
		ID: id, Hostname: id,
		Files: []File{
			{Path: "/etc/docker/ca.pem", Content: tt.caPEM, Mode: 0o644},
			{Path: "/etc/docker/server-cert.pem", Content: tt.certPEM, Mode: 0o644},
			{Path: "/etc/docker/server-key.pem", Content: tt.keyPEM, Mode: 0o600},
		},
		DaemonJSON: []byte(`{
  "hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2376"],
  "tls": true, "tlsverify": true,
  "tlscacert": "/etc/docker/ca.pem",
  "tlscert": "/etc/docker/server-cert.pem",
  "tlskey": "/etc/docker/server-key.pem"
}`),
	}
}

// tlsPing calls /_ping on a host's TLS port from the machine.
func (tt testTLS) ping(ctx context.Context, h Host) error {
	cfg := tt.client.Clone()
	cfg.ServerName = h.Hostname
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}, Timeout: 5 * time.Second}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+net.JoinHostPort(h.IPv4.String(), "2376")+"/_ping", nil)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "OK" {
		return fmt.Errorf("/_ping over TLS: %s %q", resp.Status, b)
	}
	return nil
}

// dockerInfo returns the Name and Driver of a host's /info over its socket.
func dockerInfo(ctx context.Context, h Host) (name, driver string, err error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/info", nil)
	resp, err := dockerClient(h.DockerSocket).Do(req)
	if err != nil {
		return "", "", err
	}
	defer func() { _ = resp.Body.Close() }()
	var info struct{ Name, Driver string }
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return "", "", err
	}
	return info.Name, info.Driver, nil
}

// serveHostname starts, inside the host's namespace, an HTTP server on
// port 8080 answering the host's ID.
func serveHostname(tb testing.TB, m *Manager, id string) {
	tb.Helper()
	var ln net.Listener
	err := m.InHost(id, func() error {
		var err error
		ln, err = net.Listen("tcp", "0.0.0.0:8080")
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, id) }),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() { _ = srv.Close() })
}

// get fetches url from the machine (from == "") or from inside a host.
func get(ctx context.Context, m *Manager, from, url string) (string, error) {
	tr := &http.Transport{DisableKeepAlives: true}
	if from != "" {
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := m.InHost(from, func() error {
				var err error
				c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
				return err
			})
			return c, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func expectGet(tb testing.TB, m *Manager, from, url, want string) {
	tb.Helper()
	got, err := get(context.Background(), m, from, url)
	where := from
	if where == "" {
		where = "the machine"
	}
	if err != nil || got != want {
		tb.Errorf("GET %s from %s = %q, %v; want %q", url, where, got, err, want)
	}
}

func provisionAll(tb testing.TB, ctx context.Context, m *Manager, specs []HostSpec) map[string]Host {
	tb.Helper()
	hosts := make(map[string]Host, len(specs))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, s := range specs {
		wg.Go(func() {
			h, err := m.Provision(ctx, s)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				tb.Errorf("Provision(%s): %v", s.ID, err)
				return
			}
			hosts[s.ID] = h
		})
	}
	wg.Wait()
	if tb.Failed() {
		tb.FailNow()
	}
	return hosts
}

func TestRealHosts(t *testing.T) {
	requireRealHosts(t)
	ctx := context.Background()
	cfg := testConfig(t, 1)
	before := countLeftovers(t, cfg)
	m := newTestManager(t, cfg)
	tt := newTestTLS(t, "a", "b", "c")

	hosts := provisionAll(t, ctx, m, []HostSpec{tt.spec("a"), tt.spec("b"), tt.spec("c")})
	t.Logf("storage driver %s; hosts %v %v %v", m.StorageDriver(), hosts["a"].IPv4, hosts["b"].IPv4, hosts["c"].IPv4)
	if _, err := m.Provision(ctx, tt.spec("a")); err == nil {
		t.Error("second Provision of a succeeded")
	}

	for id, h := range hosts {
		name, driver, err := dockerInfo(ctx, h)
		if err != nil || name != id || driver != m.StorageDriver() {
			t.Errorf("host %s: docker info Name %q Driver %q, %v", id, name, driver, err)
		}
		if err := tt.ping(ctx, h); err != nil {
			t.Errorf("host %s: TLS port: %v", id, err)
		}
		serveHostname(t, m, id)
	}
	// tlsverify: no client certificate, no answer.
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: tt.client.RootCAs, ServerName: "a"}}, Timeout: 3 * time.Second}
	if resp, err := noCert.Get("https://" + hosts["a"].IPv4.String() + ":2376/_ping"); err == nil {
		_ = resp.Body.Close()
		t.Error("TLS port answered without a client certificate")
	}

	url := func(ip netip.Addr) string { return "http://" + ip.String() + ":8080/" }
	for id, h := range hosts {
		expectGet(t, m, "", url(h.IPv4), id)
	}
	expectGet(t, m, "a", url(hosts["b"].IPv4), "b")
	expectGet(t, m, "c", url(hosts["a"].IPv4), "a")

	// Reserved IP: on a, then moved to b.
	rip := cfg.ReservedPrefix.Addr().Next().Next().Next()
	if err := m.AssignIP(ctx, rip, "a"); err != nil {
		t.Fatal(err)
	}
	expectGet(t, m, "", url(rip), "a")
	expectGet(t, m, "c", url(rip), "a")
	if err := m.AssignIP(ctx, rip, "b"); err != nil {
		t.Fatal(err)
	}
	expectGet(t, m, "", url(rip), "b")
	expectGet(t, m, "c", url(rip), "b")
	expectGet(t, m, "a", url(rip), "b")
	if h, _ := m.Get("b"); len(h.ReservedIPs) != 1 || h.ReservedIPs[0] != rip {
		t.Errorf("b's reserved IPs = %v", h.ReservedIPs)
	}
	if h, _ := m.Get("a"); len(h.ReservedIPs) != 0 {
		t.Errorf("a's reserved IPs = %v", h.ReservedIPs)
	}
	if err := m.AssignIP(ctx, netip.MustParseAddr("192.0.2.1"), "a"); err == nil {
		t.Error("AssignIP outside the reserved range succeeded")
	}

	// The same with the FORWARD policy at DROP.
	setForwardPolicy(t, "DROP")
	expectGet(t, m, "c", url(hosts["a"].IPv4), "a")
	expectGet(t, m, "c", url(rip), "b")
	expectGet(t, m, "", url(rip), "b")
	setForwardPolicy(t, "ACCEPT")

	if err := m.UnassignIP(ctx, rip); err != nil {
		t.Fatal(err)
	}
	if _, err := get(ctx, m, "", url(rip)); err == nil {
		t.Error("unassigned reserved IP still answers")
	}
	if err := m.AssignIP(ctx, rip, "c"); err != nil {
		t.Fatal(err)
	}

	// Destroy c: its namespace, veth, processes, directory and route go.
	c := hosts["c"]
	cState, _ := m.lookup("c")
	if err := m.Destroy(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.NetnsPath); err == nil {
		t.Error("c's namespace is left")
	}
	if _, err := os.Stat(c.Dir); err == nil {
		t.Error("c's directory is left")
	}
	if linkExists(cState.Veth) {
		t.Error("c's veth is left")
	}
	if p := m.hostProcesses(cState); len(p) > 0 {
		t.Errorf("c's processes are left: %v", p)
	}
	if out, _ := exec.Command("ip", "route", "show", rip.String()).Output(); len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("c's reserved IP route is left: %s", out)
	}
	if err := m.Destroy(ctx, "c"); err == nil {
		t.Error("second Destroy of c succeeded")
	}
	if got := len(m.List()); got != 2 {
		t.Errorf("List has %d hosts, want 2", got)
	}

	during := countLeftovers(t, cfg)
	if during.Netns != 2 || during.Processes != 4 || during.Rules < 2 || during.Links != 3 {
		t.Errorf("with 2 hosts the machine has %+v", during)
	}
	if err := m.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if after := countLeftovers(t, cfg); after != before {
		t.Errorf("leftovers after Down: %+v, before: %+v", after, before)
	}
	if _, err := os.Stat(filepath.Join(cfg.StateDir, stateFile)); err == nil {
		t.Error("state file left after Down")
	}
}

func setForwardPolicy(tb testing.TB, policy string) {
	tb.Helper()
	if out, err := exec.Command("iptables", "-w", "-P", "FORWARD", policy).CombinedOutput(); err != nil {
		tb.Fatalf("iptables -P FORWARD %s: %v: %s", policy, err, out)
	}
	if policy != "ACCEPT" {
		// Back to ACCEPT if the test ends before it does so itself (only
		// then: setting a policy would create the table Down removed).
		tb.Cleanup(func() {
			if out, _ := exec.Command("iptables", "-w", "-S", "FORWARD").Output(); bytes.Contains(out, []byte("-P FORWARD "+policy)) {
				_ = exec.Command("iptables", "-w", "-P", "FORWARD", "ACCEPT").Run()
			}
		})
	}
}

func TestRestore(t *testing.T) {
	requireRealHosts(t)
	ctx := context.Background()
	cfg := testConfig(t, 2)
	before := countLeftovers(t, cfg)
	m1, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tt := newTestTLS(t, "x", "y")
	hosts := provisionAll(t, ctx, m1, []HostSpec{tt.spec("x"), tt.spec("y")})
	rip := cfg.ReservedPrefix.Addr().Next()
	if err := m1.AssignIP(ctx, rip, "y"); err != nil {
		t.Fatal(err)
	}

	// A crash: every process of the hosts killed, and parts of the network
	// gone (the bridge with its routes, y's namespace with its veth).
	for _, id := range []string{"x", "y"} {
		hs, _ := m1.lookup(id)
		pids := m1.hostProcesses(hs)
		if len(pids) < 2 {
			t.Fatalf("host %s has processes %v, want dockerd and containerd", id, pids)
		}
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		waitGone(ctx, pids, nil, 10*time.Second)
	}
	for _, args := range [][]string{{"link", "del", cfg.Bridge}, {"netns", "del", "hdkt-y"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}

	m2 := newTestManager(t, cfg)
	if got := len(m2.List()); got != 2 {
		t.Fatalf("new manager lists %d hosts, want 2", got)
	}
	if err := m2.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	for id, old := range hosts {
		h, err := m2.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		if h.IPv4 != old.IPv4 || h.PID == 0 || h.PID == old.PID {
			t.Errorf("host %s after Restore: %v pid %d (was %v pid %d)", id, h.IPv4, h.PID, old.IPv4, old.PID)
		}
		if name, _, err := dockerInfo(ctx, h); err != nil || name != id {
			t.Errorf("host %s: docker info Name %q, %v", id, name, err)
		}
		if err := tt.ping(ctx, h); err != nil {
			t.Errorf("host %s: TLS port: %v", id, err)
		}
		serveHostname(t, m2, id)
	}
	expectGet(t, m2, "", "http://"+rip.String()+":8080/", "y")
	expectGet(t, m2, "x", "http://"+hosts["y"].IPv4.String()+":8080/", "y")
	expectGet(t, m2, "x", "http://"+rip.String()+":8080/", "y")

	// A restart that finds the daemons running adopts them.
	m3, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m3.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"x", "y"} {
		h2, _ := m2.Get(id)
		h3, _ := m3.Get(id)
		if h3.PID != h2.PID {
			t.Errorf("host %s: Restore restarted a running dockerd (pid %d, was %d)", id, h3.PID, h2.PID)
		}
	}
	// Stop stops the daemons and keeps the hosts; Restore starts them.
	if err := m3.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for _, h := range m3.List() {
		hs, _ := m3.lookup(h.ID)
		if p := m3.hostProcesses(hs); h.PID != 0 || len(p) > 0 {
			t.Errorf("host %s after Stop: pid %d, processes %v", h.ID, h.PID, p)
		}
		if _, err := os.Stat(h.NetnsPath); err != nil {
			t.Errorf("host %s after Stop: %v", h.ID, err)
		}
	}
	if err := m3.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	for _, h := range m3.List() {
		if name, _, err := dockerInfo(ctx, h); err != nil || name != h.ID || h.PID == 0 {
			t.Errorf("host %s after Stop and Restore: pid %d, docker info Name %q, %v", h.ID, h.PID, name, err)
		}
	}

	if err := m3.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if after := countLeftovers(t, cfg); after != before {
		t.Errorf("leftovers after Down: %+v, before: %+v", after, before)
	}
}

// testLogLevel is Debug with HADDOCK_TEST_DEBUG=1, else Info.
func testLogLevel() slog.Level {
	if os.Getenv("HADDOCK_TEST_DEBUG") == "1" {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}
