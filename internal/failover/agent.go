package failover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
	dswarm "github.com/haddockhq/terraform-provider-haddock/internal/swarm"
	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

// Docker is what the agent needs of its local engine (the Docker SDK's
// client on /var/run/docker.sock satisfies it).
type Docker interface {
	Info(ctx context.Context) (system.Info, error)
	NodeList(ctx context.Context, options swarm.NodeListOptions) ([]swarm.Node, error)
	ServiceList(ctx context.Context, options swarm.ServiceListOptions) ([]swarm.Service, error)
	TaskList(ctx context.Context, options swarm.TaskListOptions) ([]swarm.Task, error)
}

// Agent keeps one floating IP on a Ready manager. Build it with NewAgent;
// Run loops, Round is one pass (what tests drive).
type Agent struct {
	cfg    Config
	docker Docker
	cloud  Cloud
	log    *slog.Logger
	now    func() time.Time

	self string // this engine's node id, read once
	// What the cloud showed last (leader only), and when.
	ip     *cloud.FloatingIP
	hosts  []cloud.Host
	readAt time.Time
	// notReady are the nodes that were not Ready last round (leader only).
	// When they change, the cloud is read afresh: the cached holder may be
	// stale (the IP moved by hand, or by an agent of a former leader), and
	// a holder that just went down must not wait for CloudRefresh.
	notReady string
	// last is the last line logged, so that a state that lasts logs once.
	last string
}

// NewAgent builds an agent; log gets one JSON line per decision (use
// NewLogger).
func NewAgent(cfg Config, docker Docker, cl Cloud, log *slog.Logger) *Agent {
	return &Agent{cfg: cfg, docker: docker, cloud: cl, log: log, now: time.Now}
}

// NewLogger writes JSON lines to w.
func NewLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, nil))
}

// roundTimeout bounds one round's calls: a hung API must not stall the
// loop for longer than a few polls.
func (a *Agent) roundTimeout() time.Duration {
	return max(10*time.Second, 5*time.Duration(a.cfg.PollInterval))
}

// Run polls every Config.PollInterval until ctx ends. Errors are logged and
// retried on the next round; Run only returns ctx's error.
func (a *Agent) Run(ctx context.Context) error {
	a.log.Info("starting", "floating_ip", a.cfg.FloatingIPID, "cluster", a.cfg.ClusterUID, "cloud", string(a.cfg.Cloud),
		"poll_interval", time.Duration(a.cfg.PollInterval).String(), "cloud_refresh", time.Duration(a.cfg.CloudRefresh).String())
	err := wait.Until(ctx, wait.Options{What: "the agent to stop", Interval: time.Duration(a.cfg.PollInterval)},
		func(ctx context.Context) (bool, string, error) {
			rctx, cancel := context.WithTimeout(ctx, a.roundTimeout())
			defer cancel()
			a.Round(rctx)
			return false, "", nil
		})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// Round is one pass: read the node list; on the leader, read the cloud
// when the cached view is stale or suggests a move, decide, and move the
// IP when the decision says so. It never panics on an API's answer and
// returns what it decided (Action "" after an error, which it logs).
func (a *Agent) Round(ctx context.Context) Decision {
	if a.self == "" {
		info, err := a.docker.Info(ctx)
		if err != nil {
			a.fail("reading the local engine", err)
			return Decision{}
		}
		if info.Swarm.NodeID == "" || !info.Swarm.ControlAvailable {
			a.fail("reading the local engine", fmt.Errorf("this engine is not a swarm manager (node %q, state %q)", info.Swarm.NodeID, info.Swarm.LocalNodeState))
			return Decision{}
		}
		a.self = info.Swarm.NodeID
	}
	nodes, err := a.docker.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		a.self = "" // read again: the engine may have left and rejoined
		a.fail("reading the node list", err)
		return Decision{}
	}
	obs := Observation{Self: a.self, Nodes: nodes}
	if !Leader(a.self, nodes) {
		a.ip, a.hosts, a.notReady = nil, nil, "" // read afresh on becoming the leader
		d := Decide(obs)
		a.note(d, "")
		return d
	}
	fresh := false
	notReady := notReadyNodes(nodes)
	if a.ip == nil || notReady != a.notReady || a.now().Sub(a.readAt) >= time.Duration(a.cfg.CloudRefresh) {
		if err := a.readCloud(ctx); err != nil {
			a.fail("reading the cloud", err)
			return Decision{}
		}
		fresh = true
	}
	a.notReady = notReady
	obs.IP, obs.Hosts = a.ip, a.hosts
	d := Decide(obs)
	if d.Action == Move && !fresh {
		// Never act on a cached view: the IP may have been moved, or the
		// hosts replaced, since.
		if err := a.readCloud(ctx); err != nil {
			a.fail("reading the cloud", err)
			return Decision{}
		}
		obs.IP, obs.Hosts = a.ip, a.hosts
		d = Decide(obs)
	}
	if d.Action == Move {
		// Prefer a manager that serves: read which run their global tasks.
		if serving, err := a.serving(ctx, nodes); err != nil {
			a.log.Warn("error", "doing", "reading the managers' tasks (choosing among Ready managers without them)", "error", err.Error(), "floating_ip", a.cfg.FloatingIPID)
		} else {
			obs.Serving = serving
			d = Decide(obs)
		}
	}
	if d.Action != Move {
		a.note(d, "")
		return d
	}
	t0 := a.now()
	if err := a.cloud.AssignFloatingIP(ctx, a.cfg.FloatingIPID, d.To); err != nil {
		a.ip = nil // read again next round
		a.fail("moving the IP ("+d.Reason+")", err)
		return Decision{}
	}
	a.ip.HostID = d.To
	a.note(d, a.now().Sub(t0).Round(time.Millisecond).String())
	a.last = "" // whatever comes next is news
	return d
}

// notReadyNodes lists the nodes that are not Ready, sorted: a change of it
// is what makes a cached holder worth re-reading.
func notReadyNodes(nodes []swarm.Node) string {
	var ids []string
	for _, n := range nodes {
		if n.Status.State != swarm.NodeStateReady {
			ids = append(ids, n.ID)
		}
	}
	slices.Sort(ids)
	return strings.Join(ids, ",")
}

// serving reads, for each Ready manager, whether it runs a task of every
// global service whose placement it matches.
func (a *Agent) serving(ctx context.Context, nodes []swarm.Node) (map[string]bool, error) {
	services, err := a.docker.ServiceList(ctx, swarm.ServiceListOptions{})
	if err != nil {
		return nil, err
	}
	tasks, err := a.docker.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("desired-state", "running"))})
	if err != nil {
		return nil, err
	}
	running := map[[2]string]bool{} // service id, node id
	for _, t := range tasks {
		if t.Status.State == swarm.TaskStateRunning {
			running[[2]string{t.ServiceID, t.NodeID}] = true
		}
	}
	out := map[string]bool{}
	for _, n := range nodes {
		if n.Spec.Role != swarm.NodeRoleManager || n.Status.State != swarm.NodeStateReady {
			continue
		}
		out[n.ID] = len(dswarm.GlobalServicesNotRunning(n, services, func(id string) bool { return running[[2]string{id, n.ID}] })) == 0
	}
	return out, nil
}

func (a *Agent) readCloud(ctx context.Context) error {
	ip, err := a.cloud.GetFloatingIP(ctx, a.cfg.FloatingIPID)
	if err != nil {
		if errors.Is(err, cloud.ErrNotFound) {
			return fmt.Errorf("floating IP %s does not exist: %w", a.cfg.FloatingIPID, err)
		}
		return fmt.Errorf("reading floating IP %s: %w", a.cfg.FloatingIPID, err)
	}
	hosts, err := a.cloud.ListHosts(ctx, cluster.GroupTag(a.cfg.ClusterUID, cluster.ManagersGroup))
	if err != nil {
		return fmt.Errorf("listing the managers' hosts: %w", err)
	}
	a.ip, a.hosts, a.readAt = ip, hosts, a.now()
	return nil
}

// note logs d unless it is what was logged last: a decision lasting many
// rounds logs once, a move always.
func (a *Agent) note(d Decision, took string) {
	line := string(d.Action) + "|" + d.Reason
	if line == a.last {
		return
	}
	a.last = line
	args := []any{"action", string(d.Action), "reason", d.Reason, "floating_ip", a.cfg.FloatingIPID}
	if d.Action == Move || d.Action == Stuck {
		args = append(args, "from_host", d.From)
	}
	if d.Action == Move {
		args = append(args, "to_host", d.To, "to_name", d.ToName, "to_node", d.ToNode, "took", took)
	}
	level := slog.LevelInfo
	if d.Action == Stuck {
		level = slog.LevelWarn
	}
	a.log.Log(context.Background(), level, "decision", args...)
}

// fail logs an error once while it repeats; the next round retries.
func (a *Agent) fail(what string, err error) {
	line := "error|" + what + "|" + err.Error()
	if line == a.last {
		return
	}
	a.last = line
	a.log.Error("error", "doing", what, "error", err.Error(), "floating_ip", a.cfg.FloatingIPID)
}
