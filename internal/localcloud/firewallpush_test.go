package localcloud

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// countingBackend counts the firewall pushes per host, and fails the next
// one when told to.
type countingBackend struct {
	*MemoryBackend
	mu     sync.Mutex
	pushes map[int]int
	fail   bool
}

func (b *countingBackend) SetHostFirewall(ctx context.Context, hostID int, rules []FirewallRule) error {
	b.mu.Lock()
	fail := b.fail
	b.fail = false
	b.pushes[hostID]++
	b.mu.Unlock()
	if fail {
		return errors.New("backend down")
	}
	return b.MemoryBackend.SetHostFirewall(ctx, hostID, rules)
}

func (b *countingBackend) count(id int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pushes[id]
}

// The pusher pushes what changed only, retries a failed push at the next
// sync, pushes a provisioned host again (which waits until then), and
// everything after a load.
func TestFirewallPusher(t *testing.T) {
	b := &countingBackend{MemoryBackend: NewMemoryBackend(), pushes: map[int]int{}}
	var logged []string
	s := New(Config{Token: "t", Backend: b, Logf: func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }})
	t.Cleanup(func() { _ = s.Close() })
	ssh := []FirewallRule{{Protocol: "tcp", FromPort: 22, ToPort: 22, Sources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	want := map[int][]FirewallRule{1: ssh, 2: nil} // 2 is unfiltered
	p := NewFirewallPusher(s, FirewallPushConfig{
		Rules:     func(time.Time) map[int][]FirewallRule { return want },
		LogPrefix: "test: ",
	})
	check := func(what string, pushes1, pushes2 int) {
		t.Helper()
		if got1, got2 := b.count(1), b.count(2); got1 != pushes1 || got2 != pushes2 {
			t.Errorf("%s: pushes %d, %d; want %d, %d", what, got1, got2, pushes1, pushes2)
		}
	}

	p.Sync(false)
	check("first sync", 1, 0) // never pushed counts as unfiltered
	if r, ok := b.HostFirewall(1); !ok || !SameFirewallRules(r, ssh) {
		t.Errorf("host 1 has %v, %v", r, ok)
	}
	p.Sync(false)
	check("nothing changed", 1, 0)

	want = map[int][]FirewallRule{1: {}, 2: nil}
	b.mu.Lock()
	b.fail = true
	b.mu.Unlock()
	p.Sync(false)
	check("failed push", 2, 0)
	if len(logged) != 1 || logged[0] != "test: firewall of host 1: backend down" {
		t.Errorf("logged %q", logged)
	}
	p.Sync(false)
	check("retried", 3, 0)

	s.Lock()
	p.Provisioned(2, true)
	waiting := p.Waiting(2)
	s.Unlock()
	if !waiting {
		t.Error("a provisioned filtered host does not wait for its rules")
	}
	p.Sync(false)
	s.Lock()
	waiting = p.Waiting(2)
	s.Unlock()
	if waiting {
		t.Error("host 2 still waits once its rules were pushed")
	}
	s.wg.Wait()                // Provisioned's own sync
	check("provisioned", 3, 1) // pushed again whatever it last got

	s.Lock()
	p.Loaded()
	p.Saved()
	s.Unlock()
	s.wg.Wait()
	check("after a load", 4, 2)
}
