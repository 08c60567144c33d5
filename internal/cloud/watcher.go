package cloud

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

// HostWatcher waits for hosts by listing them by tag, and shares each list
// call among every caller waiting at the time: ten hosts created at once
// cost one list call per poll, not ten GETs. It holds no goroutine and no
// context of its own; each waiter polls with its own context.
type HostWatcher struct {
	hosts    Hosts
	tag      string
	interval time.Duration

	mu       sync.Mutex
	snap     map[string]Host
	snapAt   time.Time // when the list call behind snap started
	inflight chan struct{}
	fetchErr error
}

// NewHostWatcher watches the hosts carrying tag, polling every interval.
func NewHostWatcher(h Hosts, tag string, interval time.Duration) *HostWatcher {
	return &HostWatcher{hosts: h, tag: tag, interval: interval}
}

// snapshot returns a host list fetched after the given instant, joining a
// list call already under way rather than starting a second one.
func (w *HostWatcher) snapshot(ctx context.Context, after time.Time) (map[string]Host, error) {
	for {
		w.mu.Lock()
		if w.snap != nil && w.snapAt.After(after) {
			s := w.snap
			w.mu.Unlock()
			return s, nil
		}
		if ch := w.inflight; ch != nil {
			w.mu.Unlock()
			select {
			case <-ch:
				w.mu.Lock()
				err := w.fetchErr
				w.mu.Unlock()
				if err != nil && ctx.Err() == nil {
					return nil, err
				}
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		ch := make(chan struct{})
		w.inflight = ch
		w.mu.Unlock()

		started := time.Now()
		list, err := w.hosts.ListHosts(ctx, w.tag)
		w.mu.Lock()
		w.inflight = nil
		w.fetchErr = err
		if err == nil {
			m := make(map[string]Host, len(list))
			for _, h := range list {
				m[h.ID] = h
			}
			w.snap, w.snapAt = m, started
		}
		w.mu.Unlock()
		close(ch)
		if err != nil {
			return nil, err
		}
	}
}

// WaitActive waits until host id is active. A host missing from the list
// (lists can lag behind creation) is looked up directly after a few polls,
// so a host that really is gone ends the wait with ErrNotFound.
func (w *HostWatcher) WaitActive(ctx context.Context, id string) (*Host, error) {
	misses := 0
	return w.wait(ctx, id, func(h *Host) (bool, error) {
		if h == nil {
			misses++
			if misses < 3 {
				return false, nil
			}
			misses = 0
			got, err := w.hosts.GetHost(ctx, id)
			if err != nil {
				return false, err
			}
			h = got
		}
		switch h.Status {
		case HostActive:
			return true, nil
		case HostError:
			return false, fmt.Errorf("host %s failed to start (vendor status error)", id)
		}
		return false, nil
	})
}

// WaitGone waits until host id no longer shows in the list.
func (w *HostWatcher) WaitGone(ctx context.Context, id string) error {
	_, err := w.wait(ctx, id, func(h *Host) (bool, error) { return h == nil, nil })
	return err
}

// wait polls (wait.Until) until done accepts the host as last listed (nil
// when not listed). Each poll reads a snapshot taken after the previous
// poll, shared with every other waiter.
func (w *HostWatcher) wait(ctx context.Context, id string, done func(*Host) (bool, error)) (*Host, error) {
	var checked time.Time
	var hp *Host
	err := wait.Until(ctx, wait.Options{What: "host " + id, Interval: w.interval}, func(ctx context.Context) (bool, string, error) {
		snap, err := w.snapshot(ctx, checked)
		if err != nil {
			if ctx.Err() != nil {
				// The wait ran out during a list call: a timeout, with the
				// last state.
				return false, "", wait.Retry(err)
			}
			return false, "", err
		}
		hp = nil
		if h, ok := snap[id]; ok {
			hp = &h
		}
		ok, err := done(hp)
		checked = time.Now()
		status := "not listed"
		if hp != nil {
			status = string(hp.Status)
		}
		return ok, status, err
	})
	return hp, err
}
