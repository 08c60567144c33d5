package localcloud

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"
)

// FirewallPushConfig is what a FirewallPusher needs from its API.
type FirewallPushConfig struct {
	// Rules is the effective rules of the API's hosts as of now, by host
	// id, for every host it has not deleted: canonical
	// (CanonicalFirewallRules), nil for a host it does not filter. Called
	// with the lock held.
	Rules func(now time.Time) map[int][]FirewallRule
	// LogPrefix starts the lines that log a failed push ("localcloud: ").
	LogPrefix string
	// WaitForAll: a waiting host (Wait) waits for every push of the sync,
	// not only its own, since other hosts' rules admit its addresses too
	// (EC2: a group references its members). Otherwise it waits for its
	// own rules only.
	WaitForAll bool
}

// FirewallPusher hands the backend the effective rules of one API's hosts
// (Server.SetHostFirewall), pushing only those that differ from what the
// backend last got, so an API need only compute the rules. Pushes are
// serialized, each computed from the state as it is when it starts, so
// the last one leaves the backend as the state says. A failed push is
// logged, and retried at the next change (its host counts as not pushed).
// A host never pushed counts as unfiltered.
type FirewallPusher struct {
	s   *Server
	cfg FirewallPushConfig
	// mu serializes the syncs. Taken before the lock.
	mu sync.Mutex

	// Guarded by the lock: the rules the backend last got, by host id;
	// hosts to push again whatever they last got; hosts waiting for their
	// rules (Wait); whether every host's rules are to be pushed again at
	// the next save (after a load).
	pushed  map[int][]FirewallRule
	repush  map[int]bool
	waiting map[int]bool
	resync  bool
}

// NewFirewallPusher returns the pusher of an API mounted on s.
func NewFirewallPusher(s *Server, cfg FirewallPushConfig) *FirewallPusher {
	p := &FirewallPusher{s: s, cfg: cfg}
	p.reset()
	return p
}

func (p *FirewallPusher) reset() {
	p.pushed, p.repush, p.waiting = map[int][]FirewallRule{}, map[int]bool{}, map[int]bool{}
}

// Sync pushes the rules of every host whose rules differ from those the
// backend last got (all: every host's, the backend may have restarted).
// The hosts waiting when it starts stop waiting once the backend has
// their rules (WaitForAll: once every push is done), whether it took them
// or not. Call without the lock.
func (p *FirewallPusher) Sync(all bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	type push struct {
		id    int
		rules []FirewallRule
	}
	s := p.s
	now := s.Now()
	s.Lock()
	want := p.cfg.Rules(now)
	var todo []push
	for id, rules := range want {
		if all || p.repush[id] || !SameFirewallRules(p.pushed[id], rules) {
			todo = append(todo, push{id, rules})
		} else if !p.cfg.WaitForAll {
			delete(p.waiting, id) // it has them already
		}
	}
	for id := range p.pushed {
		if _, ok := want[id]; !ok {
			delete(p.pushed, id) // deleted: the backend destroys it
		}
	}
	clear(p.repush)
	waiting := maps.Clone(p.waiting)
	s.Unlock()
	slices.SortFunc(todo, func(x, y push) int { return x.id - y.id })
	for _, t := range todo {
		err := s.SetHostFirewall(t.id, t.rules)
		if err != nil {
			s.Logf("%s%v", p.cfg.LogPrefix, err)
		}
		s.Lock()
		if err == nil {
			p.pushed[t.id] = t.rules
		}
		if !p.cfg.WaitForAll && waiting[t.id] {
			delete(p.waiting, t.id)
		}
		s.Unlock()
	}
	if p.cfg.WaitForAll {
		s.Lock()
		for id := range waiting {
			delete(p.waiting, id)
		}
		s.Unlock()
	}
}

// SyncLater syncs (Sync) in the background. It may be called with the
// lock held.
func (p *FirewallPusher) SyncLater() {
	p.s.Background(func(context.Context) { p.Sync(false) })
}

// Provisioned hears that host id was provisioned; filtered says whether
// the API filters it. Its rules are pushed again, if it has any or got
// some before, since a backend may have ignored those it got, or is
// getting, while it was creating the host; a filtered host waits for
// them (Waiting), so it never shows running unfiltered. The sync also
// pushes the rules of the others that now admit its addresses. Call with
// the lock held.
func (p *FirewallPusher) Provisioned(id int, filtered bool) {
	if _, pushed := p.pushed[id]; pushed || filtered {
		p.repush[id] = true
	}
	if filtered {
		p.waiting[id] = true
	}
	p.SyncLater()
}

// Wait has host id wait for the next sync (its rules changed: an instance
// started). Call with the lock held, and sync.
func (p *FirewallPusher) Wait(id int) { p.waiting[id] = true }

// Waiting reports whether host id waits for its rules: its API shows it
// still being created until then. Call with the lock held.
func (p *FirewallPusher) Waiting(id int) bool { return p.waiting[id] }

// Loaded forgets what the backend got: the API loaded its state, and the
// next Saved pushes every host's rules. Call with the lock held.
func (p *FirewallPusher) Loaded() {
	p.reset()
	p.resync = true
}

// Saved is called by the API's SaveState: the first save after a load
// pushes every host's rules again, in the background. The core loads the
// state (LoadState), then has the backend restore its hosts, then saves,
// so only then can the backend take them. Call with the lock held.
func (p *FirewallPusher) Saved() {
	if p.resync {
		p.resync = false
		p.s.Background(func(context.Context) { p.Sync(true) })
	}
}
