package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

// joinProbe wraps the harness's engines: it counts each host's Join
// calls, measures how many run at once, and plays scripted outcomes —
// a join that times out after the node joined, a passing failure before
// it did, a failed attempt the engine keeps (Swarm's "error" state).
type joinProbe struct {
	mu       sync.Mutex
	calls    map[string]int
	leaves   map[string]int
	script   map[string][]joinOutcome // by hostname, one per call
	kept     map[string]bool          // engines holding a failed attempt
	inFlight int
	peak     int
	delay    time.Duration
}

type joinOutcome struct {
	joinFirst bool  // the node joins, then the call fails with err
	err       error // nil: the call goes through
	keep      bool  // the failed attempt stays in the engine (state "error")
}

// Docker's own messages, verbatim.
//
//nolint:staticcheck // ST1005: they end in periods as dockerd's do
var (
	errJoinTimeout = errors.New(`Error response from daemon: Timeout was reached before node joined. The attempt to join the swarm will continue in the background. Use the "docker info" command to see the current swarm status of your node.`)
	errNoRoute     = errors.New("Error response from daemon: rpc error: code = Unavailable desc = connection error: dial tcp 10.1.0.1:2377: connect: no route to host")
	errSwarmExists = errors.New(`Error response from daemon: This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.`)
)

// probe installs a joinProbe on h's dialer; withInfo makes the engines
// report their own swarm state, as *swarm.Client does.
func probe(h *harness, withInfo bool) *joinProbe {
	p := &joinProbe{calls: map[string]int{}, leaves: map[string]int{}, script: map[string][]joinOutcome{}, kept: map[string]bool{}}
	h.opts.Dial = func(ctx context.Context, ep swarm.Endpoint) (Engine, error) {
		e, err := h.sw.dial(ctx, ep)
		if err != nil {
			return nil, err
		}
		fe, ok := e.(*fakeEngine)
		if !ok {
			return nil, fmt.Errorf("probe: the fake swarm dialled a %T", e)
		}
		pe := &probeEngine{Engine: e, fe: fe, p: p}
		if withInfo {
			return &probeEngineInfo{pe}, nil
		}
		return pe, nil
	}
	return p
}

func (p *joinProbe) count(name string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[name]
}

type probeEngine struct {
	Engine
	fe *fakeEngine
	p  *joinProbe
}

func (e *probeEngine) Join(ctx context.Context, opts swarm.JoinOptions) error {
	p, name := e.p, e.fe.hostname()
	p.mu.Lock()
	p.calls[name]++
	p.inFlight++
	p.peak = max(p.peak, p.inFlight)
	var o joinOutcome
	if s := p.script[name]; len(s) > 0 {
		o, p.script[name] = s[0], s[1:]
	}
	kept := p.kept[name]
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.inFlight--
		p.mu.Unlock()
	}()
	if p.delay > 0 {
		time.Sleep(p.delay)
	}
	if kept {
		return errSwarmExists
	}
	if o.err == nil {
		return e.Engine.Join(ctx, opts)
	}
	if o.joinFirst {
		if err := e.Engine.Join(ctx, opts); err != nil {
			return err
		}
	}
	if o.keep {
		p.mu.Lock()
		p.kept[name] = true
		p.mu.Unlock()
	}
	return o.err
}

func (e *probeEngine) Leave(ctx context.Context, force bool) error {
	name := e.fe.hostname()
	e.p.mu.Lock()
	e.p.leaves[name]++
	delete(e.p.kept, name)
	e.p.mu.Unlock()
	return e.Engine.Leave(ctx, force)
}

// probeEngineInfo also reports the engine's own swarm state.
type probeEngineInfo struct{ *probeEngine }

func (e *probeEngineInfo) Info(context.Context) (*swarm.Info, error) {
	name := e.fe.hostname()
	e.p.mu.Lock()
	kept := e.p.kept[name]
	e.p.mu.Unlock()
	if kept {
		return &swarm.Info{Swarm: swarm.SwarmInfo{LocalNodeState: swarm.NodeError, Error: "rpc error: code = DeadlineExceeded desc = context deadline exceeded"}}, nil
	}
	s := e.fe.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if fn := e.fe.self(); fn != nil && fn.n.State != swarm.NodeStateDown {
		return &swarm.Info{Swarm: swarm.SwarmInfo{LocalNodeState: swarm.NodeActive, NodeID: fn.n.ID}}, nil
	}
	return &swarm.Info{Swarm: swarm.SwarmInfo{LocalNodeState: swarm.NodeInactive}}, nil
}

// nodesOf counts the live nodes of hostname.
func nodesOf(h *harness, hostname string) int {
	n := 0
	for _, x := range h.sw.snapshot() {
		if x.Hostname == hostname {
			n++
		}
	}
	return n
}

func TestJoinTimedOutButJoinedIsNotJoinedAgain(t *testing.T) {
	for _, withInfo := range []bool{false, true} {
		name := "node list"
		if withInfo {
			name = "engine state"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			p := probe(h, withInfo)
			c := h.create(1)
			p.script["web-2"] = []joinOutcome{{joinFirst: true, err: errJoinTimeout}}
			g, _ := c.NodeGroup(h.drv, "web")
			v, err := g.Apply(t.Context(), groupSpec(3))
			if err != nil || v.Ready() != 3 {
				t.Fatalf("apply: %v, %d ready", err, v.Ready())
			}
			if n := p.count("web-2"); n != 1 {
				t.Errorf("web-2 joined %d times; its timed-out join had joined it", n)
			}
			if n := nodesOf(h, "web-2"); n != 1 {
				t.Errorf("web-2 has %d nodes", n)
			}
			if got := h.rec.matching("join worker web-2"); len(got) != 1 {
				t.Errorf("joins of web-2: %q", got)
			}
		})
	}
}

func TestJoinPassingFailureIsRetried(t *testing.T) {
	t.Run("network", func(t *testing.T) {
		h := newHarness(t)
		p := probe(h, false)
		c := h.create(1)
		p.script["web-1"] = []joinOutcome{{err: errNoRoute}, {err: errJoinTimeout}}
		g, _ := c.NodeGroup(h.drv, "web")
		v, err := g.Apply(t.Context(), groupSpec(2))
		if err != nil || v.Ready() != 2 {
			t.Fatalf("apply: %v, %d ready", err, v.Ready())
		}
		if n := p.count("web-1"); n != 3 {
			t.Errorf("web-1: %d join calls, want 3 (two passing failures, then the join)", n)
		}
		if n := nodesOf(h, "web-1"); n != 1 {
			t.Errorf("web-1 has %d nodes", n)
		}
	})
	t.Run("attempt kept by the engine", func(t *testing.T) {
		// The join timed out and failed in the background: the engine
		// is in the "error" state, refuses a new join, and must leave
		// first.
		h := newHarness(t)
		p := probe(h, true)
		c := h.create(1)
		p.script["web-2"] = []joinOutcome{{err: errJoinTimeout, keep: true}}
		g, _ := c.NodeGroup(h.drv, "web")
		v, err := g.Apply(t.Context(), groupSpec(2))
		if err != nil || v.Ready() != 2 {
			t.Fatalf("apply: %v, %d ready", err, v.Ready())
		}
		if p.count("web-2") != 2 || p.leaves["web-2"] != 1 {
			t.Errorf("web-2: %d joins, %d leaves; want 2 and 1", p.count("web-2"), p.leaves["web-2"])
		}
		if p.leaves["web-1"] != 0 {
			t.Errorf("web-1 left")
		}
	})
	t.Run("gives up", func(t *testing.T) {
		h := newHarness(t)
		p := probe(h, false)
		c := h.create(1)
		for range joinAttempts + 2 {
			p.script["web-1"] = append(p.script["web-1"], joinOutcome{err: errNoRoute})
		}
		g, _ := c.NodeGroup(h.drv, "web")
		v, err := g.Apply(t.Context(), groupSpec(2))
		hes := HostErrors(err)
		if len(hes) != 1 || hes[0].Host != "web-1" || hes[0].Op != "joining the swarm as a worker" {
			t.Fatalf("host errors %+v from %v", hes, err)
		}
		for _, want := range []string{"host web-1 (digitalocean ", "4 attempts failed", "attempt 1: ", "no route to host", "the managers list no node of it", "2377/tcp", "run apply again"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not say %q: %v", want, err)
			}
		}
		if n := p.count("web-1"); n != joinAttempts {
			t.Errorf("web-1: %d join calls, want %d", n, joinAttempts)
		}
		if v.Ready() != 1 {
			t.Errorf("%d ready; web-2 should have joined", v.Ready())
		}
	})
	t.Run("not passing", func(t *testing.T) {
		h := newHarness(t)
		p := probe(h, false)
		c := h.create(1)
		h.sw.failJoin["web-2"] = errors.New("Error response from daemon: invalid join token")
		g, _ := c.NodeGroup(h.drv, "web")
		_, err := g.Apply(t.Context(), groupSpec(2))
		if hes := HostErrors(err); len(hes) != 1 || hes[0].Host != "web-2" || !strings.Contains(err.Error(), "invalid join token") {
			t.Fatalf("error: %v", err)
		}
		if n := p.count("web-2"); n != 1 {
			t.Errorf("web-2: %d join calls; an invalid token is not retried", n)
		}
	})
}

func TestJoinWaveBound(t *testing.T) {
	h := newHarness(t)
	h.opts.JoinTimeout = 5 * time.Second
	p := probe(h, false)
	p.delay = 5 * time.Millisecond
	c := h.create(1)
	g, _ := c.NodeGroup(h.drv, "web")
	const n = 40
	v, err := g.Apply(t.Context(), groupSpec(n))
	if err != nil || v.Ready() != n {
		t.Fatalf("apply: %v, %d ready", err, v.Ready())
	}
	p.mu.Lock()
	peak := p.peak
	p.mu.Unlock()
	if peak > joinWaveMax || peak < 2 {
		t.Errorf("%d joins ran at once; want between 2 and %d", peak, joinWaveMax)
	}
	if joinWaveMax >= h.opts.withDefaults().Concurrency {
		t.Errorf("the join bound %d is not below Concurrency", joinWaveMax)
	}
}

func TestJoinWaveAdapts(t *testing.T) {
	w := newJoinWave(joinWaveMin, joinWaveMax)
	ctx := t.Context()
	for range joinWaveMax {
		if err := w.acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if err := w.acquire(short); err == nil {
		t.Fatal("a join beyond the bound got a place")
	}
	w.release(false, true) // a passing failure: the wave halves
	if limit, _ := w.size(); limit != joinWaveMax/2 {
		t.Errorf("after a timeout the wave is %d, want %d", limit, joinWaveMax/2)
	}
	for range joinWaveMax - 1 {
		w.release(false, true)
	}
	if limit, peak := w.size(); limit != joinWaveMin || peak != joinWaveMax {
		t.Errorf("wave %d, peak %d; want %d and %d", limit, peak, joinWaveMin, joinWaveMax)
	}
	// Two places: the third waits until one is released.
	for range 2 {
		if err := w.acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan error, 1)
	go func() { got <- w.acquire(ctx) }()
	select {
	case <-got:
		t.Fatal("a third join ran in a wave of 2")
	case <-time.After(10 * time.Millisecond):
	}
	w.release(true, false) // a success: the wave grows by one
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if limit, _ := w.size(); limit != joinWaveMin+1 {
		t.Errorf("after a success the wave is %d, want %d", limit, joinWaveMin+1)
	}
	for range 2 * joinWaveMax {
		if err := w.acquire(ctx); err != nil {
			t.Fatal(err)
		}
		w.release(true, false)
	}
	if limit, _ := w.size(); limit != joinWaveMax {
		t.Errorf("the wave grew to %d, past %d", limit, joinWaveMax)
	}
}

func TestPassingJoinError(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{errJoinTimeout, true},
		{errNoRoute, true},
		{context.DeadlineExceeded, true},
		{errors.New("dial tcp 10.1.0.5:2376: connect: connection refused"), true},
		{errors.New("Error response from daemon: invalid join token"), false},
		{errors.New("joining x to the swarm at 10.1.0.1: the engine already is a worker of swarm abc (managers 10.9.0.1:2377); Leave it first"), false},
		{errSwarmExists, false},
		{nil, false},
	} {
		if got := passingJoinError(c.err); got != c.want {
			t.Errorf("passingJoinError(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
