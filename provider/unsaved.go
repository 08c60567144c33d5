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

// leftoverPlace is what one list call found at a place: hosts, floating
// IPs (see releaseFloatingIPs) or load balancers (releaseLoadBalancers),
// and which a Create took.
type leftoverPlace struct {
	once    sync.Once
	hosts   []cloud.Host
	marked  []unsaved
	err     error
	claimed map[string]bool
}

// listed runs list once per key and provider instance (before this run
// creates anything there, for the first Create at the place waits on it).
// A failed list is tried again by the next Create: one failure must not
// make every later Create skip the check.
func (l *leftovers) listed(key string, list func(p *leftoverPlace)) (*leftoverPlace, error) {
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
	p.once.Do(func() { list(p) })
	if p.err != nil {
		l.mu.Lock()
		if l.places[key] == p {
			delete(l.places, key)
		}
		l.mu.Unlock()
		return nil, p.err
	}
	return p, nil
}

// claim returns the unclaimed leftovers at drv's place (region) that match.
// Cluster hosts are never claimed here: a cluster's Create sees to its own.
func (l *leftovers) claim(ctx context.Context, drv cloud.Driver, region string, match func(cloud.Host) bool) ([]cloud.Host, error) {
	p, err := l.listed(string(drv.Cloud())+"/"+region, func(p *leftoverPlace) {
		p.hosts, p.err = drv.ListHosts(ctx, cloud.UnsavedTag)
		tflog.Debug(ctx, "hosts left by interrupted applies", map[string]any{"cloud": drv.Cloud(), "region": region, "count": len(p.hosts), "error": fmt.Sprint(p.err)})
	})
	if err != nil {
		return nil, fmt.Errorf("looking for hosts an interrupted apply left (tag %s): %w", cloud.UnsavedTag, err)
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

// unsavedGrace is how long past its creator's deadline an unsaved floating
// IP may still be on its way into a state: the creator marks it saved on a
// context of its own (savedTimeout), and Terraform writes the state after.
const unsavedGrace = savedTimeout + time.Minute

// releaseFloatingIPs releases the floating IPs at the place that are
// marked unsaved past their creator's deadline: they never reached a
// state. It returns the addresses released ("address (id)").
func (l *leftovers) releaseFloatingIPs(ctx context.Context, fips cloud.FloatingIPs, c cloud.Name, region string, now time.Time) ([]string, error) {
	return l.release(ctx, "floating IP", "floating-ip/"+string(c)+"/"+region, region, now,
		func(ctx context.Context) ([]unsaved, error) {
			all, err := fips.ListFloatingIPs(ctx)
			out := make([]unsaved, len(all))
			for i, f := range all {
				out[i] = unsaved{id: f.ID, name: f.Address, region: f.Region, until: f.UnsavedUntil}
			}
			return out, err
		}, fips.DeleteFloatingIP)
}

// unsaved is a floating IP or load balancer as release sees it.
type unsaved struct {
	id, name, region string
	until            time.Time
}

// release deletes what is at the place (key; region, "" for any) and marked
// unsaved past its creator's deadline: an apply killed before its state was
// saved left it. What is there is listed once per place and provider
// instance (listed); each is taken by one Create of this run only. It
// returns what it deleted ("name (id)").
func (l *leftovers) release(ctx context.Context, what, key, region string, now time.Time, list func(context.Context) ([]unsaved, error), del func(context.Context, string) error) ([]string, error) {
	p, err := l.listed(key, func(p *leftoverPlace) {
		p.marked, p.err = list(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("looking for the %ss an interrupted apply left: %w", what, err)
	}
	var mine []unsaved
	l.mu.Lock()
	for _, x := range p.marked {
		if x.until.IsZero() || !now.After(x.until) || (region != "" && x.region != region) || p.claimed[x.id] {
			continue
		}
		p.claimed[x.id] = true
		mine = append(mine, x)
	}
	l.mu.Unlock()
	var deleted []string
	for _, x := range mine {
		tflog.Warn(ctx, "deleting a "+what+" an interrupted apply left", map[string]any{"name": x.name, "id": x.id, "unsaved_until": x.until})
		if err := del(ctx, x.id); err != nil {
			return deleted, fmt.Errorf("deleting %s %s (%s), which an interrupted apply left: %w", what, x.name, x.id, err)
		}
		deleted = append(deleted, fmt.Sprintf("%s (%s)", x.name, x.id))
	}
	return deleted, nil
}

// reportReleased warns about the floating IPs of interrupted applies a
// Create released.
func reportReleased(diags *diag.Diagnostics, released []string) {
	if len(released) == 0 {
		return
	}
	diags.AddWarning("Released what an interrupted apply left",
		fmt.Sprintf("Earlier applies creating floating IPs were killed before they saved their state, leaving %d address(es) no state held: %s. "+
			"They carried the tag %s past their apply's deadline and were released.", len(released), strings.Join(released, ", "), cloud.UnsavedTag))
}

// unsavedUntilFor is the mark a Create puts on the floating IP or load
// balancer it makes: its own deadline (fallback from now when it has none)
// and the grace. One still marked after that was left by an apply killed
// before its state was saved.
func unsavedUntilFor(ctx context.Context, fallback time.Duration) time.Time {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(fallback)
	}
	return deadline.Add(unsavedGrace)
}

// releaseLoadBalancers deletes the load balancers in region that are
// marked unsaved past their creator's deadline (see
// cloud.UnsavedLoadBalancers), as releaseFloatingIPs does with addresses.
// It returns the load balancers deleted ("name (id)").
func (l *leftovers) releaseLoadBalancers(ctx context.Context, lbs cloud.LoadBalancers, c cloud.Name, region string, now time.Time) ([]string, error) {
	return l.release(ctx, "load balancer", "load-balancer/"+string(c)+"/"+region, region, now,
		func(ctx context.Context) ([]unsaved, error) {
			all, err := lbs.ListLoadBalancers(ctx)
			out := make([]unsaved, len(all))
			for i, lb := range all {
				out[i] = unsaved{id: lb.ID, name: lb.Spec.Name, region: lb.Spec.Region, until: lb.UnsavedUntil}
			}
			return out, err
		}, lbs.DeleteLoadBalancer)
}

// reportLeftLoadBalancers warns about the load balancers of interrupted
// applies a Create deleted.
func reportLeftLoadBalancers(diags *diag.Diagnostics, deleted []string) {
	if len(deleted) == 0 {
		return
	}
	diags.AddWarning("Deleted what an interrupted apply left",
		fmt.Sprintf("Earlier applies creating load balancers were killed before they saved their state, leaving %d load balancer(s) no state held: %s. "+
			"They were still marked unsaved past their apply's deadline and were deleted.", len(deleted), strings.Join(deleted, ", ")))
}
