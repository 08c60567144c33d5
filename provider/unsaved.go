package provider

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
)

// savedTimeout bounds the request that marks a created resource's hosts
// saved (cloud.UnsavedTag removed). It runs on a context of its own: a
// cancelled apply still saves what it made.
const savedTimeout = 30 * time.Second

// leftovers are the hosts that applies killed mid-create left behind: they
// carry cloud.UnsavedTag, never reached a state, and their TLS material
// died with the killed process. They are listed once per provider
// instance, vendor and region, before this run creates anything there (so
// none of this run's own hosts is among them), and each is handed to the
// first Create that would make a host of the same name and region, which
// deletes it.
type leftovers struct {
	mu     sync.Mutex
	places map[string]*leftoverPlace
}

type leftoverPlace struct {
	once    sync.Once
	hosts   []cloud.Host
	err     error
	claimed map[string]bool
}

// claim returns the unclaimed leftovers at drv's place (region) that match.
// Cluster hosts are never claimed here: a cluster's Create sees to its own.
func (l *leftovers) claim(ctx context.Context, drv cloud.Driver, region string, match func(cloud.Host) bool) ([]cloud.Host, error) {
	key := string(drv.Cloud()) + "/" + region
	l.mu.Lock()
	if l.places == nil {
		l.places = map[string]*leftoverPlace{}
	}
	p := l.places[key]
	if p == nil {
		p = &leftoverPlace{claimed: map[string]bool{}}
		l.places[key] = p
	}
	l.mu.Unlock()
	p.once.Do(func() {
		p.hosts, p.err = drv.ListHosts(ctx, cloud.UnsavedTag)
		tflog.Debug(ctx, "hosts left by interrupted applies", map[string]any{"cloud": drv.Cloud(), "region": region, "count": len(p.hosts), "error": fmt.Sprint(p.err)})
	})
	if p.err != nil {
		// Listed again by the next Create: one failed list must not make
		// every later Create skip the check.
		l.mu.Lock()
		if l.places[key] == p {
			delete(l.places, key)
		}
		l.mu.Unlock()
		return nil, fmt.Errorf("looking for hosts an interrupted apply left (tag %s): %w", cloud.UnsavedTag, p.err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []cloud.Host
	for _, h := range p.hosts {
		if p.claimed[h.ID] || h.Status == cloud.HostDeleting || cluster.HostCluster(h) != "" || !match(h) {
			continue
		}
		p.claimed[h.ID] = true
		out = append(out, h)
	}
	return out, nil
}

// reportRemoved warns about the hosts of an interrupted apply a Create
// deleted ("name (id)").
func reportRemoved(diags *diag.Diagnostics, what string, removed []string) {
	if len(removed) == 0 {
		return
	}
	diags.AddWarning("Removed what an interrupted apply left",
		fmt.Sprintf("An earlier apply creating %s was killed before it saved its state, leaving %d host(s) nothing could reach any more (their TLS credentials were lost with it): %s. "+
			"They carried the tag %s and were deleted before %s was created again.", what, len(removed), strings.Join(removed, ", "), cloud.UnsavedTag, what))
}
