package swarm

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
)

const fakeAPIVersion = "1.47"

// fakeEngine speaks enough of the Docker Engine API for Connect, Ping,
// WaitReady and Info: /_ping (HEAD and GET, advertising the API version
// the client negotiates down to), /version and /info, versioned or not.
type fakeEngine struct {
	mu    sync.Mutex
	paths []string
}

var versioned = regexp.MustCompile(`^/v[0-9.]+(/.*)$`)

func (f *fakeEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.paths = append(f.paths, r.Method+" "+r.URL.Path)
	f.mu.Unlock()

	p := r.URL.Path
	if m := versioned.FindStringSubmatch(p); m != nil {
		p = m[1]
	}
	w.Header().Set("Api-Version", fakeAPIVersion)
	w.Header().Set("Ostype", "linux")
	w.Header().Set("Docker-Experimental", "false")
	w.Header().Set("Swarm", "inactive")
	switch {
	case p == "/_ping" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if r.Method == http.MethodGet {
			_, _ = io.WriteString(w, "OK")
		}
	case p == "/version" && r.Method == http.MethodGet:
		writeJSON(w, map[string]any{"Version": "27.3.1", "ApiVersion": fakeAPIVersion, "MinAPIVersion": "1.24", "Os": "linux", "Arch": "amd64"})
	case p == "/info" && r.Method == http.MethodGet:
		writeJSON(w, map[string]any{
			"ID": "ENGINE-ID", "Name": "node-1", "ServerVersion": "27.3.1",
			"OperatingSystem": "Debian GNU/Linux 12 (bookworm)", "OSType": "linux", "Architecture": "x86_64",
			"KernelVersion": "6.1.0", "NCPU": 2, "MemTotal": 4 << 30, "Labels": []string{"haddock.role=manager"},
			"Swarm": map[string]any{
				"NodeID": "NODE-ID", "NodeAddr": "10.0.0.5", "LocalNodeState": "active", "ControlAvailable": true,
				"Managers": 1, "Nodes": 3, "Cluster": map[string]any{"ID": "CLUSTER-ID"},
			},
		})
	default:
		w.WriteHeader(http.StatusNotFound)
		writeJSON(w, map[string]string{"message": "page not found"})
	}
}

func (f *fakeEngine) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.paths...)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

type testPKI struct {
	ca     *pki.CA
	client *pki.KeyPair
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	ca, err := pki.NewCA("haddock-test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := ca.IssueClient("haddock-provider", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &testPKI{ca: ca, client: cl}
}

// startEngine serves the fake engine over mTLS on 127.0.0.1 with a server
// certificate for hostID. The certificate names 10.0.0.5, never 127.0.0.1:
// reaching it on 127.0.0.1 is reaching it on an address it does not claim.
// ln, when non-nil, is the listener to serve on.
func (p *testPKI) startEngine(t *testing.T, hostID string, ln net.Listener) (*httptest.Server, *fakeEngine) {
	t.Helper()
	kp, err := p.ca.IssueServer(pki.HostIdentity(hostID), []net.IP{net.ParseIP("10.0.0.5")}, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pki.ServerTLSConfig(p.ca.CertPEM(), kp.CertPEM, kp.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	fe := &fakeEngine{}
	srv := httptest.NewUnstartedServer(fe)
	if ln != nil {
		_ = srv.Listener.Close()
		srv.Listener = ln
	}
	srv.TLS = cfg
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, fe
}

// endpoint reaches srv expecting host-a of the test cluster there.
func (p *testPKI) endpoint(srv *httptest.Server) Endpoint {
	return Endpoint{
		Host:      "tcp://" + srv.Listener.Addr().String(),
		CACertPEM: p.ca.CertPEM(),
		CertPEM:   p.client.CertPEM,
		KeyPEM:    p.client.KeyPEM,
		Identity:  pki.HostIdentity("host-a"),
	}
}

func mustConnect(t *testing.T, ep Endpoint) *Client {
	t.Helper()
	c, err := Connect(context.Background(), ep)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestConnectPingInfo(t *testing.T) {
	p := newTestPKI(t)
	srv, fe := p.startEngine(t, "host-a", nil)
	c := mustConnect(t, p.endpoint(srv))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := c.WaitReady(ctx, 10*time.Millisecond); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if info.ID != "ENGINE-ID" || info.Name != "node-1" || info.NCPU != 2 || info.MemTotal != 4<<30 {
		t.Errorf("Info = %+v", info)
	}
	want := SwarmInfo{NodeID: "NODE-ID", NodeAddr: "10.0.0.5", LocalNodeState: NodeActive, ControlAvailable: true, ClusterID: "CLUSTER-ID", Managers: 1, Nodes: 3}
	if info.Swarm != want {
		t.Errorf("Swarm = %+v, want %+v", info.Swarm, want)
	}
	if got := c.APIVersion(); got != fakeAPIVersion {
		t.Errorf("APIVersion = %s, want the negotiated %s", got, fakeAPIVersion)
	}
	reqs := strings.Join(fe.requests(), "\n")
	if !strings.Contains(reqs, "GET /v"+fakeAPIVersion+"/info") {
		t.Errorf("info was not requested at the negotiated version:\n%s", reqs)
	}
}

func TestIdentity(t *testing.T) {
	p := newTestPKI(t)
	otherCA := newTestPKI(t)
	srvB, _ := p.startEngine(t, "host-b", nil)
	srvForeign, _ := otherCA.startEngine(t, "host-a", nil)

	for _, tt := range []struct {
		name string
		ep   Endpoint
		want string
	}{
		// host-b answers on the address we expected host-a at (a floating
		// IP not moved yet, a recycled address): same CA, wrong identity.
		{"another host of the cluster", p.endpoint(srvB), "host-b.hosts.haddock.internal"},
		// The right name, signed by someone else's CA.
		{"another CA", func() Endpoint {
			ep := p.endpoint(srvForeign)
			return ep
		}(), "unknown authority"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := mustConnect(t, tt.ep)
			err := c.Ping(context.Background())
			if err == nil {
				t.Fatal("Ping succeeded, want the engine refused")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not mention %q", err, tt.want)
			}

			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			err = c.WaitReady(ctx, 20*time.Millisecond)
			if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("WaitReady = %v, want the deadline and the last error", err)
			}
		})
	}
}

func TestRefusesPlainEndpoints(t *testing.T) {
	p := newTestPKI(t)
	valid := Endpoint{
		Host: "tcp://203.0.113.7:2376", CACertPEM: p.ca.CertPEM(), CertPEM: p.client.CertPEM,
		KeyPEM: p.client.KeyPEM, Identity: pki.HostIdentity("h"),
	}
	for _, tt := range []struct {
		name   string
		mutate func(*Endpoint)
		want   string
	}{
		{"plain port", func(e *Endpoint) { e.Host = "tcp://203.0.113.7:2375" }, "2375"},
		{"plain port without scheme", func(e *Endpoint) { e.Host = "203.0.113.7:2375" }, "2375"},
		{"http", func(e *Endpoint) { e.Host = "http://203.0.113.7:2376" }, "plain HTTP"},
		{"unix socket", func(e *Endpoint) { e.Host = "unix:///var/run/docker.sock" }, "mutual TLS"},
		{"ssh", func(e *Endpoint) { e.Host = "ssh://root@203.0.113.7" }, "mutual TLS"},
		{"empty host", func(e *Endpoint) { e.Host = "" }, "empty"},
		{"path", func(e *Endpoint) { e.Host = "tcp://203.0.113.7:2376/x" }, "nothing else"},
		{"no CA", func(e *Endpoint) { e.CACertPEM = nil }, "mutual TLS"},
		{"no client certificate", func(e *Endpoint) { e.CertPEM = nil }, "mutual TLS"},
		{"no key", func(e *Endpoint) { e.KeyPEM = nil }, "mutual TLS"},
		{"no identity", func(e *Endpoint) { e.Identity = "" }, "identity"},
		{"address as identity", func(e *Endpoint) { e.Identity = "203.0.113.7" }, "identity"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ep := valid
			tt.mutate(&ep)
			c, err := Connect(context.Background(), ep)
			if err == nil {
				_ = c.Close()
				t.Fatal("Connect succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not mention %q", err, tt.want)
			}
		})
	}

	// An engine answering in plain HTTP on the TLS port is not spoken to.
	plain := httptest.NewServer(&fakeEngine{})
	t.Cleanup(plain.Close)
	ep := valid
	ep.Host = "tcp://" + plain.Listener.Addr().String()
	c := mustConnect(t, ep)
	if err := c.Ping(context.Background()); err == nil {
		t.Fatal("Ping over plain HTTP succeeded")
	}
}

func TestNormalizeHost(t *testing.T) {
	for in, want := range map[string]string{
		"tcp://203.0.113.7:2376":   "tcp://203.0.113.7:2376",
		"https://203.0.113.7:2376": "tcp://203.0.113.7:2376",
		"203.0.113.7":              "tcp://203.0.113.7:2376",
		"tcp://10.0.0.5":           "tcp://10.0.0.5:2376",
		"tcp://[2001:db8::1]:2376": "tcp://[2001:db8::1]:2376",
		"tcp://node.example:12376": "tcp://node.example:12376",
	} {
		got, err := NormalizeHost(in)
		if err != nil || got != want {
			t.Errorf("NormalizeHost(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// gateListener drops connections until open is set, like a host whose
// engine is not up yet.
type gateListener struct {
	net.Listener
	open    atomic.Bool
	refused atomic.Int32
}

func (g *gateListener) Accept() (net.Conn, error) {
	for {
		conn, err := g.Listener.Accept()
		if err != nil || g.open.Load() {
			return conn, err
		}
		g.refused.Add(1)
		_ = conn.Close()
	}
}

func TestWaitReady(t *testing.T) {
	p := newTestPKI(t)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gate := &gateListener{Listener: inner}
	srv, _ := p.startEngine(t, "host-a", gate)
	c := mustConnect(t, p.endpoint(srv))

	// Open the gate once the client has been turned away a few times.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for gate.refused.Load() < 3 {
			time.Sleep(5 * time.Millisecond)
		}
		gate.open.Store(true)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx, 10*time.Millisecond); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	<-done
	if n := gate.refused.Load(); n < 3 {
		t.Fatalf("ready after %d refusals, want at least 3", n)
	}
}

func TestWaitReadyGivesUp(t *testing.T) {
	p := newTestPKI(t)
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()

	c := mustConnect(t, Endpoint{
		Host: "tcp://" + addr, CACertPEM: p.ca.CertPEM(), CertPEM: p.client.CertPEM,
		KeyPEM: p.client.KeyPEM, Identity: pki.HostIdentity("host-a"),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = c.WaitReady(ctx, 20*time.Millisecond)
	if err == nil {
		t.Fatal("WaitReady succeeded against a closed port")
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "last error") {
		t.Fatalf("err = %v, want the deadline and the last error", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("WaitReady took %s past its deadline", el)
	}
}
