package localcloudtest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloudinit"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netns"
	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
)

// ProvisionTLSHosts provisions real hosts at once, each booted as Haddock's
// cloud-init would: the engine on 2376 with tlsverify, a server
// certificate from ca naming pki.HostIdentity(id). It fails tb if any host
// cannot be provisioned.
func ProvisionTLSHosts(tb testing.TB, ctx context.Context, m *netns.Manager, ca *pki.CA, ids []string) map[string]netns.Host {
	tb.Helper()
	daemonJSON, err := cloudinit.DaemonConfig(nil)
	if err != nil {
		tb.Fatal(err)
	}
	hosts := map[string]netns.Host{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			srv, err := ca.IssueServer(pki.HostIdentity(id), nil, nil, time.Hour)
			if err == nil {
				var h netns.Host
				h, err = m.Provision(ctx, netns.HostSpec{
					ID: id,
					Files: []netns.File{
						{Path: cloudinit.CACertPath, Content: ca.CertPEM(), Mode: 0o644},
						{Path: cloudinit.ServerCertPath, Content: srv.CertPEM, Mode: 0o644},
						{Path: cloudinit.ServerKeyPath, Content: srv.KeyPEM, Mode: 0o600},
					},
					DaemonJSON: daemonJSON,
				})
				if err == nil {
					mu.Lock()
					hosts[id] = h
					mu.Unlock()
				}
			}
			if err != nil {
				tb.Errorf("provisioning %s: %v", id, err)
			}
		})
	}
	wg.Wait()
	if tb.Failed() {
		tb.FailNow()
	}
	return hosts
}
