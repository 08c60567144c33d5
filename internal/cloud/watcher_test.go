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

// fakeHosts becomes active after a number of list calls.
type fakeHosts struct {
	Hosts
	mu        sync.Mutex
	lists     atomic.Int64
	gets      atomic.Int64
	activeAt  int64 // list call from which hosts are active
	hosts     map[string]bool
	listDelay time.Duration
}

func (f *fakeHosts) ListHosts(_ context.Context, tag string) ([]Host, error) {
	n := f.lists.Add(1)
	time.Sleep(f.listDelay)
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Host
	for id := range f.hosts {
		st := HostPending
		if n >= f.activeAt {
			st = HostActive
		}
		out = append(out, Host{ID: id, Status: st, Tags: []string{tag}})
	}
	return out, nil
}

func (f *fakeHosts) GetHost(_ context.Context, id string) (*Host, error) {
	f.gets.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.hosts[id] {
		return nil, NotFoundError(DigitalOcean, "host", id)
	}
	return &Host{ID: id, Status: HostPending}, nil
}

func TestHostWatcherSharesListCalls(t *testing.T) {
	f := &fakeHosts{activeAt: 4, hosts: map[string]bool{}, listDelay: 5 * time.Millisecond}
	const n = 10
	for i := range n {
		f.hosts[fmt.Sprint(i)] = true
	}
	w := NewHostWatcher(f, ManagedTag, 10*time.Millisecond)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := w.WaitActive(t.Context(), fmt.Sprint(i))
			if err == nil && h.Status != HostActive {
				err = fmt.Errorf("host %d returned in status %s", i, h.Status)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Ten waiters polling separately would make at least 40 calls; shared,
	// each poll is one call. Allow a little slack for poll phase offsets.
	if got := f.lists.Load(); got > 8 {
		t.Errorf("%d list calls for %d concurrent waiters, want at most 8", got, n)
	}
	if got := f.gets.Load(); got != 0 {
		t.Errorf("%d GET calls, want none while hosts show in the list", got)
	}
}

func TestHostWatcherMissingHostIsNotFound(t *testing.T) {
	f := &fakeHosts{activeAt: 1, hosts: map[string]bool{}}
	w := NewHostWatcher(f, ManagedTag, time.Millisecond)
	_, err := w.WaitActive(t.Context(), "42")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want not found", err)
	}
	if f.gets.Load() != 1 {
		t.Fatalf("want exactly one GET to confirm the host is gone, got %d", f.gets.Load())
	}
}

func TestHostWatcherTimeout(t *testing.T) {
	f := &fakeHosts{activeAt: 1 << 30, hosts: map[string]bool{"1": true}}
	w := NewHostWatcher(f, ManagedTag, time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err := w.WaitActive(ctx, "1")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
}

func TestHostWatcherWaitGone(t *testing.T) {
	f := &fakeHosts{activeAt: 1, hosts: map[string]bool{"1": true}}
	w := NewHostWatcher(f, ManagedTag, time.Millisecond)
	go func() {
		time.Sleep(5 * time.Millisecond)
		f.mu.Lock()
		delete(f.hosts, "1")
		f.mu.Unlock()
	}()
	if err := w.WaitGone(t.Context(), "1"); err != nil {
		t.Fatal(err)
	}
}
