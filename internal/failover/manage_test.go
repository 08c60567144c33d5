package failover

import (
	"context"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/swarm"
)

func (f *fakeDeployAPI) ServiceRemove(_ context.Context, name string) error {
	if f.service == nil || (f.service.Spec.Name != name && f.service.ID != name) {
		return errdefs.ErrNotFound.WithMessage("no such service")
	}
	f.service = nil
	return nil
}

func TestFollowingAndRemove(t *testing.T) {
	ctx := t.Context()
	api := &fakeDeployAPI{secrets: map[string]swarm.Secret{}, inUse: map[string]bool{}}
	if _, found, err := Following(ctx, api); found || err != nil {
		t.Fatalf("Following before Deploy = %t, %v", found, err)
	}
	cfg := testConfig()
	if _, err := Deploy(ctx, api, Service{Image: "registry.example/haddock-agent:1"}, cfg); err != nil {
		t.Fatal(err)
	}
	if ip, found, err := Following(ctx, api); !found || err != nil || ip != cfg.FloatingIPID {
		t.Fatalf("Following = %q, %t, %v; want %q", ip, found, err, cfg.FloatingIPID)
	}
	// Another address's removal leaves this agent alone.
	if err := Remove(ctx, api, "203.0.113.99", time.Second); err != nil || api.service == nil || len(api.secrets) != 1 {
		t.Fatalf("Remove for another address: %v, service %v, %d secrets", err, api.service != nil, len(api.secrets))
	}
	// Its own: the service goes, then the secret once no task uses it
	// (the swarm refuses twice while the tasks shut down).
	busy := &busySecrets{fakeDeployAPI: api, refusals: 2}
	if err := Remove(ctx, busy, cfg.FloatingIPID, 10*time.Second); err != nil || api.service != nil || len(api.secrets) != 0 || busy.refusals != 0 {
		t.Fatalf("Remove: %v, service %v, %d secrets, %d refusals left", err, api.service != nil, len(api.secrets), busy.refusals)
	}
	// Nothing left: nothing to do.
	if err := Remove(ctx, api, cfg.FloatingIPID, time.Second); err != nil {
		t.Fatalf("Remove again: %v", err)
	}
}

// busySecrets refuses the first removals of a secret as in use, as a swarm
// does while the tasks of a removed service shut down.
type busySecrets struct {
	*fakeDeployAPI
	refusals int
}

func (b *busySecrets) SecretRemove(ctx context.Context, id string) error {
	if b.refusals > 0 {
		b.refusals--
		return errdefs.ErrInvalidArgument.WithMessage("secret is in use by service haddock-agent")
	}
	return b.fakeDeployAPI.SecretRemove(ctx, id)
}
