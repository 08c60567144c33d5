package localcloudtest

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloudinit"
	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
)

// TLS is a CA and a client certificate, to boot real hosts from Haddock's
// user data and talk to their engines over mutual TLS.
type TLS struct {
	CA     *pki.CA
	Client *pki.KeyPair
}

// NewTLS makes a CA and a client certificate valid for an hour.
func NewTLS(tb testing.TB) TLS {
	tb.Helper()
	ca, err := pki.NewCA("localcloud test CA", time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	client, err := ca.IssueClient("localcloud-test-client", time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	return TLS{CA: ca, Client: client}
}

// UserData renders Haddock's user data for a host called name (the engine
// on 2376 with tlsverify, a server certificate naming it), with extra
// user data merged.
func (m TLS) UserData(tb testing.TB, name, extra string) string {
	tb.Helper()
	server, err := m.CA.IssueServer(pki.HostIdentity(name), nil, nil, time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	ud, err := cloudinit.Render(cloudinit.Params{
		Hostname: name, CACertPEM: m.CA.CertPEM(), ServerCertPEM: server.CertPEM, ServerKeyPEM: server.KeyPEM, UserData: extra,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return ud
}

// Engine calls GET path on the Docker Engine at addr:2376 over mTLS,
// verifying that the engine is host name.
func (m TLS) Engine(addr, name, path string) ([]byte, error) {
	cfg, err := pki.ClientTLSConfig(m.CA.CertPEM(), m.Client.CertPEM, m.Client.KeyPEM, pki.HostIdentity(name))
	if err != nil {
		return nil, err
	}
	return EngineGet(cfg, addr, path)
}

// EngineGet calls GET path on the engine at addr:2376 with cfg; a status
// other than 200 is an error.
func EngineGet(cfg *tls.Config, addr, path string) ([]byte, error) {
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := hc.Get("https://" + net.JoinHostPort(addr, strconv.Itoa(cloudinit.EnginePort)) + path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s", resp.Status, b)
	}
	return b, err
}
