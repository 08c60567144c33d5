package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const (
	year = 365 * 24 * time.Hour
	day  = 24 * time.Hour
)

func mustCA(t *testing.T, cn string) *CA {
	t.Helper()
	ca, err := NewCA(cn, year)
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	return ca
}

func mustServer(t *testing.T, ca *CA, hostID string, ips []net.IP, validity time.Duration) *KeyPair {
	t.Helper()
	kp, err := ca.IssueServer(HostIdentity(hostID), ips, nil, validity)
	if err != nil {
		t.Fatalf("IssueServer: %v", err)
	}
	return kp
}

func mustClient(t *testing.T, ca *CA, validity time.Duration) *KeyPair {
	t.Helper()
	kp, err := ca.IssueClient("haddock-provider", validity)
	if err != nil {
		t.Fatalf("IssueClient: %v", err)
	}
	return kp
}

// pastCA returns a copy of ca whose clock is two days behind, so a
// certificate issued for one day is already expired.
func pastCA(ca *CA) *CA {
	c := *ca
	c.now = func() time.Time { return time.Now().Add(-2 * day) }
	return &c
}

// serveTLS runs a TLS server on 127.0.0.1 that answers "ok" to every client
// that completes the handshake, and returns its address.
func serveTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				// The client judges the exchange; a failed close on this
				// side has nothing to add.
				defer func() { _ = c.Close() }()
				tc, ok := c.(*tls.Conn)
				if !ok {
					t.Errorf("tls listener accepted a %T", c)
					return
				}
				_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
				if err := tc.Handshake(); err != nil {
					return
				}
				_, _ = tc.Write([]byte("ok"))
			}(conn)
		}
	}()
	return ln.Addr().String()
}

// roundTrip dials addr with cfg and reads the server's greeting. With TLS
// 1.3 a refused client certificate only surfaces on the first read, so the
// read is part of the check.
func roundTrip(addr string, cfg *tls.Config) error {
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	// The greeting read below is the check; the server closes its end
	// after writing it, so the close_notify Close sends may fail harmlessly.
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2)
	if _, err := io.ReadFull(conn, buf); err != nil {
		return err
	}
	if string(buf) != "ok" {
		return io.ErrUnexpectedEOF
	}
	return nil
}

func TestMutualTLS(t *testing.T) {
	ca := mustCA(t, "haddock-test")
	// An impostor CA with the very same name: only the key tells them apart.
	otherCA := mustCA(t, "haddock-test")

	// The host's certificate names a private and a public address, never
	// 127.0.0.1: dialling 127.0.0.1 simulates a floating IP or a changed
	// address.
	hostIPs := []net.IP{net.ParseIP("10.0.0.5"), net.ParseIP("203.0.113.7")}
	hostA := mustServer(t, ca, "host-a", hostIPs, year)
	// host-b's certificate even names the dialled address: an address match
	// must not make it host-a.
	hostB := mustServer(t, ca, "host-b", []net.IP{net.ParseIP("127.0.0.1")}, year)
	hostAExpired := mustServer(t, pastCA(ca), "host-a", hostIPs, day)
	hostAOtherCA := mustServer(t, otherCA, "host-a", []net.IP{net.ParseIP("127.0.0.1")}, year)
	// Names host-a but is only good for client authentication.
	clientAsServer, err := ca.issue(&x509.Certificate{
		DNSNames:    []string{HostIdentity("host-a")},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, year)
	if err != nil {
		t.Fatal(err)
	}

	client := mustClient(t, ca, year)
	clientOtherCA := mustClient(t, otherCA, year)
	clientExpired := mustClient(t, pastCA(ca), day)

	identityA := HostIdentity("host-a")

	tests := []struct {
		name      string
		server    *KeyPair
		client    *KeyPair // nil: present no certificate
		identity  string
		wantErr   bool
		errSubstr string
	}{
		{name: "valid, reached by an address not in the cert", server: hostA, client: client, identity: identityA},
		{name: "client without certificate", server: hostA, client: nil, identity: identityA, wantErr: true, errSubstr: "certificate required"},
		{name: "client certificate from another CA", server: hostA, client: clientOtherCA, identity: identityA, wantErr: true, errSubstr: "unknown certificate authority"},
		{name: "expired client certificate", server: hostA, client: clientExpired, identity: identityA, wantErr: true, errSubstr: "expired certificate"},
		{name: "another host's certificate, same CA", server: hostB, client: client, identity: identityA, wantErr: true, errSubstr: "host-b"},
		{name: "expired server certificate", server: hostAExpired, client: client, identity: identityA, wantErr: true, errSubstr: "expired"},
		{name: "server certificate from another CA", server: hostAOtherCA, client: client, identity: identityA, wantErr: true, errSubstr: "unknown authority"},
		{name: "server presents a client certificate", server: clientAsServer, client: client, identity: identityA, wantErr: true, errSubstr: "key usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srvCfg, err := ServerTLSConfig(ca.CertPEM(), tt.server.CertPEM, tt.server.KeyPEM)
			if err != nil {
				t.Fatalf("ServerTLSConfig: %v", err)
			}
			addr := serveTLS(t, srvCfg)

			var cliCfg *tls.Config
			if tt.client != nil {
				cliCfg, err = ClientTLSConfig(ca.CertPEM(), tt.client.CertPEM, tt.client.KeyPEM, tt.identity)
			} else {
				// ClientTLSConfig insists on a certificate; strip it.
				cliCfg, err = ClientTLSConfig(ca.CertPEM(), client.CertPEM, client.KeyPEM, tt.identity)
				if err == nil {
					cliCfg.Certificates = nil
				}
			}
			if err != nil {
				t.Fatalf("ClientTLSConfig: %v", err)
			}

			err = roundTrip(addr, cliCfg)
			if tt.wantErr {
				if err == nil {
					t.Fatal("connection succeeded, want it refused")
				}
				if tt.errSubstr != "" && !strings.Contains(err.Error(), tt.errSubstr) {
					t.Fatalf("error %q does not mention %q", err, tt.errSubstr)
				}
				return
			}
			if err != nil {
				t.Fatalf("connection refused: %v", err)
			}
		})
	}
}

// TestClientTLSConfigOverHTTP checks the config through http.Transport, the
// way the Docker client uses it: the request URL names an address, the
// identity still decides.
func TestClientTLSConfigOverHTTP(t *testing.T) {
	ca := mustCA(t, "haddock-test")
	client := mustClient(t, ca, year)
	for _, tt := range []struct {
		name    string
		hostID  string
		wantErr bool
	}{
		{name: "right host", hostID: "host-a"},
		{name: "wrong host", hostID: "host-b", wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			server := mustServer(t, ca, tt.hostID, []net.IP{net.ParseIP("127.0.0.1")}, year)
			srvCfg, err := ServerTLSConfig(ca.CertPEM(), server.CertPEM, server.KeyPEM)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, "ok")
			}))
			srv.TLS = srvCfg
			srv.Config.ErrorLog = log.New(io.Discard, "", 0)
			srv.StartTLS()
			t.Cleanup(srv.Close)

			cliCfg, err := ClientTLSConfig(ca.CertPEM(), client.CertPEM, client.KeyPEM, HostIdentity("host-a"))
			if err != nil {
				t.Fatal(err)
			}
			hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cliCfg}, Timeout: 5 * time.Second}
			t.Cleanup(hc.CloseIdleConnections)
			resp, err := hc.Get(srv.URL)
			if tt.wantErr {
				if err == nil {
					_ = resp.Body.Close() // failing anyway
					t.Fatal("request succeeded, want it refused")
				}
				return
			}
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			if err := resp.Body.Close(); err != nil {
				t.Fatalf("closing the response: %v", err)
			}
		})
	}
}

func TestClientTLSConfigVerifyConnectionGuardsIdentity(t *testing.T) {
	ca := mustCA(t, "haddock-test")
	client := mustClient(t, ca, year)
	hostB := mustServer(t, ca, "host-b", []net.IP{net.ParseIP("127.0.0.1")}, year)
	srvCfg, err := ServerTLSConfig(ca.CertPEM(), hostB.CertPEM, hostB.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, srvCfg)
	cfg, err := ClientTLSConfig(ca.CertPEM(), client.CertPEM, client.KeyPEM, HostIdentity("host-a"))
	if err != nil {
		t.Fatal(err)
	}
	// A caller that overwrites ServerName with the dialled address must not
	// turn identity verification into address verification.
	cfg.ServerName = "127.0.0.1"
	if err := roundTrip(addr, cfg); err == nil || !strings.Contains(err.Error(), "not host") {
		t.Fatalf("err = %v, want identity refusal", err)
	}
}

func TestNewCA(t *testing.T) {
	ca := mustCA(t, "haddock-test")
	c := ca.Certificate()
	if !c.IsCA || c.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Fatalf("not a signing CA: IsCA=%v KeyUsage=%v", c.IsCA, c.KeyUsage)
	}
	if c.MaxPathLen != 0 || !c.MaxPathLenZero {
		t.Fatalf("CA may sign intermediates: MaxPathLen=%d", c.MaxPathLen)
	}
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Fatalf("key is %T, want ECDSA P-256", c.PublicKey)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Fatalf("not self-signed: %v", err)
	}
	if c.Subject.CommonName != "haddock-test" {
		t.Fatalf("CN = %q", c.Subject.CommonName)
	}
	block, _ := pem.Decode(ca.KeyPEM())
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("key PEM is not PKCS#8")
	}
	if _, err := NewCA("", year); err == nil {
		t.Fatal("empty common name accepted")
	}
	if _, err := NewCA("x", 0); err == nil {
		t.Fatal("zero validity accepted")
	}
}

func TestLoadCA(t *testing.T) {
	ca := mustCA(t, "haddock-test")
	other := mustCA(t, "other")

	loaded, err := LoadCA(ca.CertPEM(), ca.KeyPEM())
	if err != nil {
		t.Fatalf("LoadCA: %v", err)
	}
	if !bytes.Equal(loaded.CertPEM(), ca.CertPEM()) || !bytes.Equal(loaded.KeyPEM(), ca.KeyPEM()) {
		t.Fatal("round trip changed the CA")
	}
	// A certificate issued by the loaded CA verifies against the original.
	kp, err := loaded.IssueServer(HostIdentity("h1"), nil, nil, day)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ParseCertPEM(kp.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.CheckSignatureFrom(ca.Certificate()); err != nil {
		t.Fatalf("issued by loaded CA does not verify: %v", err)
	}

	// SEC 1 keys are accepted and normalised to PKCS#8.
	key, err := ParseKeyPEM(ca.KeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	ecKey, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("ParseKeyPEM returned a %T, want *ecdsa.PrivateKey", key)
	}
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	sec1 := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})
	loaded, err = LoadCA(ca.CertPEM(), sec1)
	if err != nil {
		t.Fatalf("LoadCA with SEC 1 key: %v", err)
	}
	if !bytes.Equal(loaded.KeyPEM(), ca.KeyPEM()) {
		t.Fatal("SEC 1 key not normalised to PKCS#8")
	}

	leafKP := mustClient(t, ca, day)
	for _, tt := range []struct {
		name      string
		cert, key []byte
	}{
		{"mismatched key", ca.CertPEM(), other.KeyPEM()},
		{"leaf certificate", leafKP.CertPEM, leafKP.KeyPEM},
		{"no certificate", nil, ca.KeyPEM()},
		{"no key", ca.CertPEM(), nil},
		{"garbage key", ca.CertPEM(), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := LoadCA(tt.cert, tt.key); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestIssueServer(t *testing.T) {
	ca := mustCA(t, "haddock-test")
	id := HostIdentity("Host-1")
	if id != "host-1.hosts.haddock.internal" {
		t.Fatalf("HostIdentity = %q", id)
	}
	kp, err := ca.IssueServer(id, []net.IP{net.ParseIP("10.1.2.3"), nil}, []string{"node1.example.com", id, ""}, 30*day)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCertPEM(kp.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.DNSNames, ","); got != id+",node1.example.com" {
		t.Fatalf("DNSNames = %s", got)
	}
	if len(c.IPAddresses) != 1 || !c.IPAddresses[0].Equal(net.ParseIP("10.1.2.3")) {
		t.Fatalf("IPAddresses = %v", c.IPAddresses)
	}
	if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Fatalf("ExtKeyUsage = %v", c.ExtKeyUsage)
	}
	if c.IsCA {
		t.Fatal("leaf is a CA")
	}
	if d := time.Until(c.NotAfter); d > 30*day || d < 29*day {
		t.Fatalf("NotAfter in %s", d)
	}
	if block, _ := pem.Decode(kp.KeyPEM); block == nil || block.Type != "PRIVATE KEY" {
		t.Fatal("key PEM is not PKCS#8")
	}

	// A leaf never outlives its CA.
	kp, err = ca.IssueServer(id, nil, nil, 10*year)
	if err != nil {
		t.Fatal(err)
	}
	c, _ = ParseCertPEM(kp.CertPEM)
	if c.NotAfter.After(ca.Certificate().NotAfter) {
		t.Fatal("leaf outlives its CA")
	}

	cl := mustClient(t, ca, day)
	cc, _ := ParseCertPEM(cl.CertPEM)
	if len(cc.ExtKeyUsage) != 1 || cc.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Fatalf("client ExtKeyUsage = %v", cc.ExtKeyUsage)
	}
}

func TestValidateIdentity(t *testing.T) {
	for _, tt := range []struct {
		id string
		ok bool
	}{
		{HostIdentity("abc-123"), true},
		{HostIdentity("12345678"), true},
		{"", false},
		{"10.0.0.1", false},
		{"::1", false},
		{"*.hosts.haddock.internal", false},
		{"a..b", false},
		{"-a.b", false},
		{"under_score.b", false},
		{strings.Repeat("a", 64) + ".b", false},
	} {
		err := ValidateIdentity(tt.id)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateIdentity(%q) = %v, want ok=%v", tt.id, err, tt.ok)
		}
	}
	ca := mustCA(t, "haddock-test")
	if _, err := ca.IssueServer("10.0.0.1", nil, nil, day); err == nil {
		t.Error("IssueServer accepted an IP identity")
	}
	kp := mustClient(t, ca, day)
	if _, err := ClientTLSConfig(ca.CertPEM(), kp.CertPEM, kp.KeyPEM, ""); err == nil {
		t.Error("ClientTLSConfig accepted an empty identity")
	}
	if _, err := ClientTLSConfig(kp.CertPEM, kp.CertPEM, kp.KeyPEM, HostIdentity("a")); err == nil {
		t.Error("ClientTLSConfig accepted a leaf as CA")
	}
}

func TestErrorsDoNotLeakKeys(t *testing.T) {
	ca := mustCA(t, "haddock-test")
	kp := mustClient(t, ca, day)
	// Corrupt the key body but keep a valid PEM frame.
	block, _ := pem.Decode(kp.KeyPEM)
	block.Bytes[len(block.Bytes)/2] ^= 0xff
	bad := pem.EncodeToMemory(block)
	_, err := ParseKeyPEM(bad)
	if err == nil {
		return // corruption happened to land on a tolerated byte
	}
	body := strings.Split(string(bad), "\n")[1]
	if strings.Contains(err.Error(), body[:16]) {
		t.Fatalf("error leaks key material: %v", err)
	}
}
