package cloud

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// Snapshots serves the reads of one refresh from one list call per vendor
// (and region) and kind, instead of a GET per resource: Terraform refreshes
// every resource of a plan at once, and a vendor allows a few hundred
// requests a minute (DigitalOcean: 250). The first read of a host or a
// floating IP lists every Haddock host (or every floating IP) of its
// driver; the reads that follow within TTL — concurrent ones wait for the
// same list — are answered from it. A resource missing from the list is
// confirmed with one GET before it is reported gone, so a resource created
// after the list is never dropped. Writes call Invalidate.
type Snapshots struct {
	ttl time.Duration

	mu    sync.Mutex
	hosts map[any]*snapshot[Host] // by driver
	ips   map[any]*snapshot[FloatingIP]
}

type snapshot[T any] struct {
	at    time.Time
	ready chan struct{} // closed once byID or err is set
	byID  map[string]T
	err   error
	reads int // reads served, for the log
}

// DefaultSnapshotTTL is how long a list serves reads: long enough for the
// reads of one refresh, short enough that a later command sees changes.
const DefaultSnapshotTTL = 10 * time.Second

// NewSnapshots returns an empty cache whose lists serve reads for ttl
// (DefaultSnapshotTTL when 0).
func NewSnapshots(ttl time.Duration) *Snapshots {
	if ttl <= 0 {
		ttl = DefaultSnapshotTTL
	}
	return &Snapshots{ttl: ttl, hosts: map[any]*snapshot[Host]{}, ips: map[any]*snapshot[FloatingIP]{}}
}

// Invalidate drops every list: the next read lists again. Call it after a
// write.
func (s *Snapshots) Invalidate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.hosts)
	clear(s.ips)
}

// Host reads host id of driver d from the shared list of Haddock's hosts
// (ManagedTag); a host not in it is read with d.GetHost (an imported host
// without the tag, one created since the list).
func (s *Snapshots) Host(ctx context.Context, d Driver, id string) (*Host, error) {
	h, ok, err := lookup(ctx, s, s.hosts, d, d.Cloud(), "hosts", id, func(ctx context.Context) ([]Host, error) {
		return d.ListHosts(ctx, ManagedTag)
	}, func(h Host) string { return h.ID })
	if err == nil && ok {
		return &h, nil
	}
	return d.GetHost(ctx, id)
}

// FloatingIP reads floating IP id of f (vendor c) from the shared list of
// the vendor's floating IPs; one not in it is read with f.GetFloatingIP.
func (s *Snapshots) FloatingIP(ctx context.Context, c Name, f FloatingIPs, id string) (*FloatingIP, error) {
	ip, found, err := lookup(ctx, s, s.ips, f, c, "floating IPs", id, f.ListFloatingIPs, func(ip FloatingIP) string { return ip.ID })
	if err == nil && found {
		return &ip, nil
	}
	return f.GetFloatingIP(ctx, id)
}

// lookup finds id in m[d]'s list, listing when there is none younger than
// the TTL. A failed list is not kept: the caller falls back to a GET.
func lookup[T any](ctx context.Context, s *Snapshots, m map[any]*snapshot[T], d any, c Name, kind, id string,
	list func(context.Context) ([]T, error), idOf func(T) string) (T, bool, error) {
	var zero T
	s.mu.Lock()
	sn, ok := m[d]
	if !ok || time.Since(sn.at) > s.ttl || sn.err != nil { // err is set, under the lock, only once the list is done
		sn = &snapshot[T]{at: time.Now(), ready: make(chan struct{})}
		m[d] = sn
		s.mu.Unlock()
		items, err := list(ctx)
		byID := make(map[string]T, len(items))
		for _, it := range items {
			byID[idOf(it)] = it
		}
		s.mu.Lock()
		sn.byID, sn.err = byID, err
		close(sn.ready)
		if err == nil {
			tflog.Debug(ctx, "listed for the reads of this refresh", map[string]any{"cloud": string(c), "kind": kind, "items": len(items)})
		}
	}
	s.mu.Unlock()
	select {
	case <-sn.ready:
	case <-ctx.Done():
		return zero, false, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sn.err != nil {
		return zero, false, sn.err
	}
	it, found := sn.byID[id]
	if found {
		sn.reads++
		tflog.Debug(ctx, "read served by a shared list", map[string]any{"cloud": string(c), "kind": kind, "id": id, "reads_served_by_this_list": sn.reads})
	}
	return it, found, nil
}
