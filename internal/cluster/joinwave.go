package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

// Joining a big wave of workers. Options.Concurrency (64) bounds what the
// vendor and the hosts do — creating and booting — but every join lands on
// the managers: a certificate to sign, a Raft write, a dispatcher session,
// and Swarm gives each join only 20 s (the engine's swarmConnectTimeout)
// before it answers "Timeout was reached before node joined" and goes on in
// the background, where it may still fail. With 50 workers joining at once
// beside 50 booting engines on a 2-core machine, 11 of 50 joins failed that
// way. So workers join in a bounded wave that adapts, and a join that
// failed for a passing reason is checked and retried.

const (
	// joinWaveMax bounds how many workers join at once. 8 keeps a single
	// loaded manager well inside Swarm's 20 s per join (a join takes it
	// about a second on a quiet host, so even a manager 2-3x slowed down
	// serves 8 in time), while 50 hosts still join in about 7 rounds —
	// little next to their boot, which the bound does not touch: hosts
	// boot Options.Concurrency at a time and queue for the wave only
	// once their engine answers.
	joinWaveMax = 8
	// joinWaveMin is where the wave stops shrinking.
	joinWaveMin = 2
	// joinAttempts is how many times a worker's join is tried when it
	// fails for a passing reason (a timeout, a network error).
	joinAttempts = 4
	// joinAttemptTimeout bounds one join's place in the wave (and at most
	// Options.JoinTimeout). Swarm answers a join within 20 s; one still
	// pending after this is the engine retrying by itself (its managers
	// unreachable for now), which it goes on doing without a place:
	// checkJoined then waits for it, up to Options.JoinTimeout, while
	// other hosts join.
	joinAttemptTimeout = 2 * time.Minute
)

// joinWave is an adaptive bound on concurrent joins: it starts at max,
// halves (down to min) when a join fails for a passing reason — the
// managers are slower than the bound assumed — and grows by one, back up
// to max, with each join that succeeds.
type joinWave struct {
	mu       sync.Mutex
	limit    int
	min, max int
	running  int
	peak     int           // most joins that ran at once, for tests and logs
	wake     chan struct{} // closed, and replaced, when a slot may be free
}

func newJoinWave(minLimit, maxLimit int) *joinWave {
	maxLimit = max(maxLimit, 1)
	minLimit = min(max(minLimit, 1), maxLimit)
	return &joinWave{limit: maxLimit, min: minLimit, max: maxLimit, wake: make(chan struct{})}
}

// acquire waits for a slot in the wave, or until ctx ends.
func (w *joinWave) acquire(ctx context.Context) error {
	for {
		w.mu.Lock()
		if w.running < w.limit {
			w.running++
			w.peak = max(w.peak, w.running)
			w.mu.Unlock()
			return nil
		}
		wake := w.wake
		w.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release frees a slot; ok says whether the join succeeded, passing
// whether it failed for a passing reason (then the wave shrinks).
func (w *joinWave) release(ok, passing bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.running--
	switch {
	case ok:
		w.limit = min(w.limit+1, w.max)
	case passing:
		w.limit = max(w.limit/2, w.min)
	}
	close(w.wake)
	w.wake = make(chan struct{})
}

// size returns the current bound and the most joins that ran at once.
func (w *joinWave) size() (limit, peak int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.limit, w.peak
}

// passingJoinError reports whether a failed join may succeed when tried
// again: Swarm's own join timeout, a network error between the host and
// the managers or between Terraform and the engine, a manager briefly
// unavailable. An invalid token, another swarm, a locked engine and the
// like are not: they need the operator.
func passingJoinError(err error) bool {
	if err == nil {
		return false
	}
	var te *wait.TimeoutError
	if errors.As(err, &te) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	msg := strings.ToLower(err.Error())
	for _, s := range []string{
		"timeout was reached before node joined",
		"no route to host",
		"connection refused",
		"connection reset",
		"network is unreachable",
		"i/o timeout",
		"tls handshake timeout",
		"broken pipe",
		"unexpected eof",
		"deadlineexceeded",
		"deadline exceeded",
		"code = unavailable",
		"processing an existing join request",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// localSwarmState is an engine that reports its own swarm state
// (*swarm.Client does: Info); the fakes may not.
type localSwarmState interface {
	Info(ctx context.Context) (*swarm.Info, error)
}

// joinCheck is what a failed join left, as the engine and the managers see
// it.
type joinCheck int

const (
	// joinUnknown: neither the engine nor the managers could say. Joining
	// again is safe: Join checks the engine's own state first and returns
	// at once when it is in the swarm.
	joinUnknown joinCheck = iota
	// joinDone: the node is in the swarm (the engine is active, or the
	// managers list a node of the host that is not down).
	joinDone
	// joinOut: the engine is in no swarm; it may join again.
	joinOut
	// joinKept: the engine kept its failed attempt (state "error") and
	// refuses a new join until it leaves.
	joinKept
	// joinStuck: the engine still reports its join pending after
	// JoinTimeout.
	joinStuck
)

// checkJoined finds out whether host h's worker joined after all: the
// engine's own swarm state first (a pending join is waited for, up to
// Options.JoinTimeout), then the managers' node list (a node carrying the
// host's uid that is not down). It returns what it saw, for the logs and
// the error.
func (r *groupRun) checkJoined(ctx context.Context, h cloud.Host, eng Engine) (joinCheck, string) {
	uid := HostUID(h)
	local := joinUnknown
	var seen []string
	if li, ok := eng.(localSwarmState); ok {
		var last *swarm.Info
		err := wait.Until(ctx, wait.Options{What: "the engine's pending join to end", Interval: r.s.opts.EnginePollInterval, MaxInterval: 4 * r.s.opts.EnginePollInterval, Timeout: r.s.opts.JoinTimeout},
			func(ctx context.Context) (bool, string, error) {
				in, err := li.Info(ctx)
				if err != nil {
					return false, "", wait.Retry(err)
				}
				last = in
				return in.Swarm.LocalNodeState != swarm.NodePending, string(in.Swarm.LocalNodeState), nil
			})
		switch {
		case last == nil:
			seen = append(seen, fmt.Sprintf("the engine's swarm state could not be read (%v)", err))
		case err != nil:
			return joinStuck, fmt.Sprintf("the engine still reports its join %s after %s", last.Swarm.LocalNodeState, r.s.opts.JoinTimeout)
		default:
			st := last.Swarm.LocalNodeState
			s := "the engine's swarm state is " + string(st)
			if last.Swarm.Error != "" {
				s += " (" + last.Swarm.Error + ")"
			}
			seen = append(seen, s)
			switch st {
			case swarm.NodeActive, swarm.NodeLocked:
				return joinDone, strings.Join(seen, "; ")
			case swarm.NodeError:
				local = joinKept
			case swarm.NodeInactive:
				local = joinOut
			}
		}
	}
	// The managers' view also covers an engine in the error state that had
	// joined and lost its managers (it reconnects by itself): its node is
	// in the list, and it must not join again.
	nodes, err := r.op.Nodes(ctx)
	if err != nil {
		seen = append(seen, fmt.Sprintf("the node list could not be read (%v)", err))
		return local, strings.Join(seen, "; ")
	}
	for _, n := range nodes {
		if n.EngineLabels[EngineLabelUID] == uid && n.State != swarm.NodeStateDown {
			seen = append(seen, fmt.Sprintf("the managers list its node %s (%s)", n.ID, n.State))
			return joinDone, strings.Join(seen, "; ")
		}
	}
	seen = append(seen, "the managers list no node of it")
	if local == joinUnknown {
		// The node list answered without it; a node whose description has
		// not reached the managers yet has no labels, so this is not proof:
		// Join's own check of the engine settles it.
		return joinUnknown, strings.Join(seen, "; ")
	}
	return local, strings.Join(seen, "; ")
}

// joinWorker joins host h's engine as a worker within the wave: a join that
// fails for a passing reason is checked — did the node join after all? — and
// only then tried again, up to joinAttempts times in all, with a pause that
// doubles; a node that joined is never joined again. Other failures are
// reported at once.
func (r *groupRun) joinWorker(ctx context.Context, w *joinWave, h cloud.Host, eng Engine, opts swarm.JoinOptions) error {
	const op = "joining the swarm as a worker"
	pause := 2 * r.s.opts.EnginePollInterval
	var tries []string
	for attempt := 1; ; attempt++ {
		if err := w.acquire(ctx); err != nil {
			return r.g.fail(h, op, fmt.Errorf("waiting for a place among the %d joins at once: %w", joinWaveMax, err), fixRetry)
		}
		// Each attempt is bounded: Join waits for a join Swarm goes on
		// with in the background until its context ends.
		actx, cancel := context.WithTimeout(ctx, min(joinAttemptTimeout, r.s.opts.JoinTimeout))
		err := eng.Join(actx, opts)
		cancel()
		passing := err != nil && ctx.Err() == nil && passingJoinError(err)
		w.release(err == nil, passing)
		if err == nil {
			if attempt > 1 {
				logInfo(ctx, "joined the swarm after a retry", map[string]any{"group": r.g.name, "host": h.Name, "attempt": attempt})
			}
			return nil
		}
		if !passing {
			if len(tries) > 0 {
				err = fmt.Errorf("%w (earlier attempts: %s)", err, strings.Join(tries, "; "))
			}
			return r.g.fail(h, op, err, fixSwarmPorts)
		}
		check, seen := r.checkJoined(ctx, h, eng)
		tries = append(tries, fmt.Sprintf("attempt %d: %v; %s", attempt, err, seen))
		limit, _ := w.size()
		switch check {
		case joinDone:
			logInfo(ctx, "the join reported a failure but the node joined; not joining it again", map[string]any{"group": r.g.name, "host": h.Name, "error": err.Error(), "seen": seen})
			return nil
		case joinStuck:
			return r.g.fail(h, op, fmt.Errorf("%s", strings.Join(tries, "; ")),
				"The engine is still trying to join: check that the host reaches the managers on 2377/tcp; \"docker swarm leave\" on the host cancels the attempt, then run apply again")
		}
		if attempt == joinAttempts {
			return r.g.fail(h, op, fmt.Errorf("%d attempts failed: %s", attempt, strings.Join(tries, "; ")), fixSwarmPorts+" (if the managers were only overloaded, running apply again joins it)")
		}
		if check == joinKept {
			// The failed attempt stays in the engine (state "error"), which
			// refuses another join until it leaves. It is not a member:
			// neither the engine nor the managers say so.
			if lerr := eng.Leave(ctx, false); lerr != nil {
				return r.g.fail(h, op, fmt.Errorf("%s; clearing the failed attempt (leave): %w", strings.Join(tries, "; "), lerr),
					"Run \"docker swarm leave\" on the host, then run apply again")
			}
		}
		logWarn(ctx, "the join failed for a passing reason; joining again", map[string]any{
			"group": r.g.name, "host": h.Name, "attempt": attempt, "error": err.Error(), "seen": seen,
			"pause": pause.String(), "joins_at_once": limit,
		})
		if err := wait.Sleep(ctx, pause); err != nil {
			return r.g.fail(h, op, fmt.Errorf("%s; %w", strings.Join(tries, "; "), err), fixRetry)
		}
		pause = min(2*pause, 30*time.Second)
	}
}
