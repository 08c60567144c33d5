package cloud

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingDriver lists and gets hosts and floating IPs from fixed sets,
// counting the calls.
type countingDriver struct {
	Driver // not called
	hosts  map[string]Host
	ips    map[string]FloatingIP
	lists  atomic.Int32
	gets   atomic.Int32
	fail   atomic.Bool
}

func (d *countingDriver) Cloud() Name { return DigitalOcean }

func (d *countingDriver) ListHosts(_ context.Context, tag string) ([]Host, error) {
	d.lists.Add(1)
	time.Sleep(10 * time.Millisecond) // concurrent readers arrive while the list is in flight
	if d.fail.Load() {
		return nil, errors.New("503")
	}
	var out []Host
	for _, h := range d.hosts {
		out = append(out, h)
	}
	return out, nil
}

func (d *countingDriver) GetHost(_ context.Context, id string) (*Host, error) {
	d.gets.Add(1)
	if h, ok := d.hosts[id]; ok {
		return &h, nil
	}
	return nil, NotFoundError(DigitalOcean, "host", id)
}

func (d *countingDriver) ListFloatingIPs(context.Context) ([]FloatingIP, error) {
	d.lists.Add(1)
	var out []FloatingIP
	for _, ip := range d.ips {
		out = append(out, ip)
	}
	return out, nil
}

func (d *countingDriver) GetFloatingIP(_ context.Context, id string) (*FloatingIP, error) {
	d.gets.Add(1)
	if ip, ok := d.ips[id]; ok {
		return &ip, nil
	}
	return nil, NotFoundError(DigitalOcean, "floating IP", id)
}

func (d *countingDriver) CreateFloatingIP(context.Context, string, string) (*FloatingIP, error) {
	return nil, nil
}
func (d *countingDriver) AssignFloatingIP(context.Context, string, string) error { return nil }
func (d *countingDriver) UnassignFloatingIP(context.Context, string) error       { return nil }
func (d *countingDriver) DeleteFloatingIP(context.Context, string) error         { return nil }

func newCounting(n int) *countingDriver {
	d := &countingDriver{hosts: map[string]Host{}, ips: map[string]FloatingIP{}}
	for i := range n {
		id := fmt.Sprint(1000 + i)
		d.hosts[id] = Host{ID: id, Name: "h" + id}
		d.ips["ip"+id] = FloatingIP{ID: "ip" + id}
	}
	return d
}

func TestSnapshotsCoalesceReads(t *testing.T) {
	d := newCounting(200)
	s := NewSnapshots(time.Minute)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			id := fmt.Sprint(1000 + i)
			h, err := s.Host(ctx, d, id)
			if err != nil || h.ID != id {
				t.Errorf("host %s: %+v, %v", id, h, err)
			}
			ip, err := s.FloatingIP(ctx, DigitalOcean, d, "ip"+id)
			if err != nil || ip.ID != "ip"+id {
				t.Errorf("floating IP ip%s: %+v, %v", id, ip, err)
			}
		})
	}
	wg.Wait()
	if l, g := d.lists.Load(), d.gets.Load(); l != 2 || g != 0 {
		t.Errorf("400 reads cost %d lists and %d gets, want 2 lists (one per kind) and no get", l, g)
	}

	// Missing from the list: confirmed with one GET, found or not.
	d.hosts["9999"] = Host{ID: "9999"}
	if h, err := s.Host(ctx, d, "9999"); err != nil || h.ID != "9999" {
		t.Errorf("a host created after the list: %+v, %v", h, err)
	}
	if _, err := s.Host(ctx, d, "gone"); !IsNotFound(err) {
		t.Errorf("a deleted host: %v, want not found", err)
	}
	if g := d.gets.Load(); g != 2 {
		t.Errorf("%d gets for two hosts missing from the list, want 2", g)
	}

	// A write invalidates: the next read lists again.
	s.Invalidate()
	if _, err := s.Host(ctx, d, "1000"); err != nil {
		t.Fatal(err)
	}
	if l := d.lists.Load(); l != 3 {
		t.Errorf("after Invalidate: %d lists, want 3", l)
	}
}

func TestSnapshotsExpireAndFallBack(t *testing.T) {
	d := newCounting(3)
	s := NewSnapshots(20 * time.Millisecond)
	ctx := context.Background()
	if _, err := s.Host(ctx, d, "1000"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	if _, err := s.Host(ctx, d, "1001"); err != nil {
		t.Fatal(err)
	}
	if l := d.lists.Load(); l != 2 {
		t.Errorf("%d lists across the TTL, want 2", l)
	}
	// A failed list is not kept: each read falls back to its GET, and the
	// next read lists again.
	s.Invalidate()
	d.fail.Store(true)
	if h, err := s.Host(ctx, d, "1002"); err != nil || h.ID != "1002" {
		t.Errorf("with the list failing: %+v, %v", h, err)
	}
	d.fail.Store(false)
	before := d.lists.Load()
	if _, err := s.Host(ctx, d, "1002"); err != nil {
		t.Fatal(err)
	}
	if d.lists.Load() != before+1 {
		t.Error("a failed list was kept instead of listing again")
	}
}
