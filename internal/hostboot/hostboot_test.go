package hostboot

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloudinit"
	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
)

func newCA(t *testing.T) (Credentials, *pki.CA) {
	t.Helper()
	c, err := NewCredentials("haddock test CA")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := c.LoadCA()
	if err != nil {
		t.Fatal(err)
	}
	return c, ca
}

func file(t *testing.T, doc *cloudinit.Document, path string) []byte {
	t.Helper()
	f, ok := doc.File(path)
	if !ok {
		t.Fatalf("user data has no %s", path)
	}
	return f.Content
}

func TestUserData(t *testing.T) {
	_, ca := newCA(t)
	uid, err := NewUID()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		boot       Boot
		wantLabels []string
		wantFile   string
		wantErr    string
	}{
		{name: "plain host", boot: Boot{Hostname: "web-1", Identity: pki.HostIdentity(uid)}},
		{name: "cluster host with labels and user data", boot: Boot{
			Hostname: "mgr-1", Identity: pki.HostIdentity(uid),
			EngineLabels: []string{"haddock.cluster=c1", "haddock.group=managers"},
			UserData:     "#cloud-config\nwrite_files:\n  - path: /etc/user\n    content: mine\n",
		}, wantLabels: []string{"haddock.cluster=c1", "haddock.group=managers"}, wantFile: "/etc/user"},
		{name: "identity is an address", boot: Boot{Hostname: "web-1", Identity: "10.0.0.1"}, wantErr: "issuing the engine's server certificate for web-1"},
		{name: "user data cannot be merged", boot: Boot{Hostname: "web-1", Identity: pki.HostIdentity(uid), UserData: "#cloud-config\nruncmd: [\n"}, wantErr: "cloud-config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ud, err := UserData(ca, tt.boot, CertValidity)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			doc, err := cloudinit.Parse(ud)
			if err != nil {
				t.Fatal(err)
			}
			if doc.Hostname != tt.boot.Hostname {
				t.Errorf("hostname = %q, want %q", doc.Hostname, tt.boot.Hostname)
			}
			if got := file(t, doc, cloudinit.CACertPath); string(got) != string(ca.CertPEM()) {
				t.Error("CA certificate is not the CA's")
			}
			cert, err := pki.ParseCertPEM(file(t, doc, cloudinit.ServerCertPath))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(cert.DNSNames, []string{tt.boot.Identity}) || len(cert.IPAddresses) != 0 {
				t.Errorf("server certificate names %v %v, want only %s", cert.DNSNames, cert.IPAddresses, tt.boot.Identity)
			}
			roots := x509.NewCertPool()
			roots.AddCert(ca.Certificate())
			if _, err := cert.Verify(x509.VerifyOptions{DNSName: tt.boot.Identity, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
				t.Errorf("server certificate does not verify for its identity: %v", err)
			}
			if _, err := pki.ParseKeyPEM(file(t, doc, cloudinit.ServerKeyPath)); err != nil {
				t.Errorf("server key: %v", err)
			}
			var daemon struct {
				Labels []string `json:"labels"`
			}
			if err := json.Unmarshal(file(t, doc, cloudinit.DaemonConfigPath), &daemon); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(daemon.Labels, tt.wantLabels) {
				t.Errorf("daemon.json labels = %v, want %v", daemon.Labels, tt.wantLabels)
			}
			if tt.wantFile != "" {
				file(t, doc, tt.wantFile)
			}
		})
	}
}

func TestValidateUserData(t *testing.T) {
	tests := []struct {
		name, user, wantErr string
	}{
		{name: "none", user: ""},
		{name: "cloud-config", user: "#cloud-config\nruncmd: [echo hi]\n"},
		{name: "script", user: "#!/bin/sh\necho hi\n"},
		{name: "invalid YAML", user: "#cloud-config\nruncmd: [\n", wantErr: "cloud-config"},
		{name: "overwrites the server key", user: "#cloud-config\nwrite_files:\n  - path: /etc/docker/server-key.pem\n    content: x\n", wantErr: "server-key.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateUserData(tt.user)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("err = %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestCredentials(t *testing.T) {
	c, _ := newCA(t)
	other, _ := newCA(t)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%v", struct{ C Credentials }{c})} {
		if strings.Contains(s, "PRIVATE KEY") || strings.Contains(s, "CERTIFICATE") {
			t.Errorf("formatted credentials show PEM: %s", s)
		}
	}
	tests := []struct {
		name    string
		mutate  func(*Credentials)
		wantErr string
	}{
		{name: "as created", mutate: func(*Credentials) {}},
		{name: "CA key of another CA", mutate: func(c *Credentials) { c.CAKeyPEM = other.CAKeyPEM }, wantErr: "the CA in state is unusable"},
		{name: "client certificate of another CA", mutate: func(c *Credentials) { c.ClientCertPEM, c.ClientKeyPEM = other.ClientCertPEM, other.ClientKeyPEM }, wantErr: "the client certificate in state is unusable"},
		{name: "client key missing", mutate: func(c *Credentials) { c.ClientKeyPEM = "" }, wantErr: "the client certificate in state is unusable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := c
			tt.mutate(&cc)
			_, err := cc.LoadCA()
			if tt.wantErr == "" && err != nil {
				t.Fatalf("err = %v", err)
			}
			if tt.wantErr == "" {
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), "MI") {
				t.Errorf("error carries key material: %v", err)
			}
		})
	}
	ep := c.Endpoint("10.0.0.7", pki.HostIdentity("abc"))
	if ep.Host != "tcp://10.0.0.7:2376" || ep.Identity != "abc."+pki.IdentityDomain || string(ep.CACertPEM) != c.CACertPEM || string(ep.KeyPEM) != c.ClientKeyPEM {
		t.Errorf("Endpoint = %+v", ep)
	}
	if ep := c.Endpoint("fd00::1", "x."+pki.IdentityDomain); ep.Host != "tcp://[fd00::1]:2376" {
		t.Errorf("IPv6 endpoint = %s", ep.Host)
	}
}

func TestNewUID(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		uid, err := NewUID()
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(uid) || seen[uid] {
			t.Fatalf("uid %q: want 16 fresh lower-case hex characters", uid)
		}
		seen[uid] = true
		if err := pki.ValidateIdentity(pki.HostIdentity(uid)); err != nil {
			t.Fatal(err)
		}
	}
}

// fakeHosts lists one host, active with an address from the activeAt'th
// list call on (or in status final when set).
type fakeHosts struct {
	cloud.Hosts
	activeAt int32
	final    cloud.HostStatus
	lists    atomic.Int32
	gets     atomic.Int32
}

func (f *fakeHosts) ListHosts(context.Context, string) ([]cloud.Host, error) {
	n := f.lists.Add(1)
	h := cloud.Host{ID: "h1", Name: "web-1", Status: cloud.HostPending}
	if f.final != "" {
		h.Status = f.final
	} else if n >= f.activeAt {
		h.Status, h.PublicIPv4 = cloud.HostActive, "10.0.0.9"
	}
	return []cloud.Host{h}, nil
}

func (f *fakeHosts) GetHost(context.Context, string) (*cloud.Host, error) {
	f.gets.Add(1)
	return nil, cloud.ErrNotFound
}

type fakePinger struct {
	err   error
	calls int
}

func (p *fakePinger) WaitReady(context.Context, time.Duration) error { p.calls++; return p.err }

func TestWaitEngine(t *testing.T) {
	boom := errors.New("boom")
	pending := cloud.Host{ID: "h1", Name: "web-1", Status: cloud.HostPending}
	active := cloud.Host{ID: "h1", Name: "web-1", Status: cloud.HostActive, PrivateIPv4: "10.1.0.2"}
	tests := []struct {
		name       string
		host       cloud.Host
		hosts      *fakeHosts
		connectErr error
		pingErr    error
		wantStep   string
		wantAddr   string
		wantLists  int32
	}{
		{name: "already active: no list call", host: active, hosts: &fakeHosts{activeAt: 1}, wantAddr: "10.1.0.2"},
		{name: "pending, then active", host: pending, hosts: &fakeHosts{activeAt: 3}, wantAddr: "10.0.0.9", wantLists: 3},
		{name: "active without an address waits", host: cloud.Host{ID: "h1", Status: cloud.HostActive}, hosts: &fakeHosts{activeAt: 1}, wantAddr: "10.0.0.9", wantLists: 1},
		{name: "host fails to start", host: pending, hosts: &fakeHosts{final: cloud.HostError}, wantStep: StepActive, wantLists: 1},
		{name: "connect fails", host: active, hosts: &fakeHosts{}, connectErr: boom, wantStep: StepConnect},
		{name: "engine never answers", host: pending, hosts: &fakeHosts{activeAt: 1}, pingErr: boom, wantStep: StepReady, wantAddr: "10.0.0.9", wantLists: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := cloud.NewHostWatcher(tt.hosts, "tag", time.Millisecond)
			p := &fakePinger{err: tt.pingErr}
			var dialled cloud.Host
			connect := func(_ context.Context, h cloud.Host) (Pinger, error) {
				dialled = h
				if tt.connectErr != nil {
					return nil, tt.connectErr
				}
				return p, nil
			}
			got, err := WaitEngine(t.Context(), w, tt.host, connect, time.Millisecond)
			var se *StepError
			switch {
			case tt.wantStep == "" && err != nil:
				t.Fatalf("err = %v", err)
			case tt.wantStep != "" && (!errors.As(err, &se) || se.Step != tt.wantStep || !strings.HasPrefix(err.Error(), tt.wantStep+": ")):
				t.Fatalf("err = %v, want step %q", err, tt.wantStep)
			}
			if tt.wantStep == StepConnect || tt.wantStep == StepReady {
				if !errors.Is(err, boom) {
					t.Errorf("err = %v does not wrap the cause", err)
				}
			}
			if tt.wantAddr != "" && (got.PublicIPv4+got.PrivateIPv4 != tt.wantAddr || dialled.PublicIPv4+dialled.PrivateIPv4 != tt.wantAddr) {
				t.Errorf("returned %+v, dialled %+v; want address %s", got, dialled, tt.wantAddr)
			}
			if n := tt.hosts.lists.Load(); n != tt.wantLists {
				t.Errorf("%d list calls, want %d", n, tt.wantLists)
			}
			if n := tt.hosts.gets.Load(); n != 0 {
				t.Errorf("%d GET calls, want none", n)
			}
			if tt.wantStep == "" && p.calls != 1 {
				t.Errorf("WaitReady called %d times", p.calls)
			}
		})
	}
	if _, err := WaitEngine(t.Context(), nil, pending, nil, time.Millisecond); err == nil {
		t.Error("a pending host without a watcher: no error")
	}
}
