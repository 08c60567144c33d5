package testload

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Follower keeps a list of URLs current by calling a list function every
// interval: the addresses a client follows as they change (a DNS name, a
// service registry), for Load.Targets.
type Follower struct {
	list  func(context.Context) ([]string, error)
	every time.Duration

	mu     sync.Mutex
	cur    []string
	cancel context.CancelFunc
	done   chan struct{}
}

// Follow lists once, then every interval (default 500ms) until Stop. A
// failed list keeps the last known URLs.
func Follow(list func(context.Context) ([]string, error), every time.Duration) *Follower {
	if every <= 0 {
		every = 500 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &Follower{list: list, every: every, cancel: cancel, done: make(chan struct{})}
	f.refresh(ctx)
	go func() {
		defer close(f.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				f.refresh(ctx)
			}
		}
	}()
	return f
}

func (f *Follower) refresh(ctx context.Context) {
	urls, err := f.list(ctx)
	if err != nil {
		return
	}
	slices.Sort(urls)
	f.mu.Lock()
	f.cur = urls
	f.mu.Unlock()
}

// URLs returns the URLs as last listed.
func (f *Follower) URLs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cur
}

// Stop stops listing; it may be called more than once.
func (f *Follower) Stop() {
	f.cancel()
	<-f.done
}
