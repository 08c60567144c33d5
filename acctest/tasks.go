package acctest

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/filters"
	swarmtypes "github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
)

// CurrentManagers lists, on every vendor of drivers, the active hosts
// whose name starts with prefix (a cluster's managers: "<name>-manager-"),
// as d (the cluster's docker attribute: its CA and client certificate)
// pointed at each one's engine: the managers there are now, whichever
// vendor they are on.
func CurrentManagers(d DockerAttr, drivers []cloud.Driver, prefix string) func(context.Context) ([]DockerAttr, error) {
	return func(ctx context.Context) ([]DockerAttr, error) {
		var out []DockerAttr
		for _, drv := range drivers {
			hs, err := drv.ListHosts(ctx, cloud.ManagedTag)
			if err != nil {
				return nil, err
			}
			for _, h := range hs {
				if !strings.HasPrefix(h.Name, prefix) || h.Status != cloud.HostActive || h.PublicIPv4 == "" {
					continue
				}
				m := d
				m.Endpoint, m.ServerName = "tcp://"+net.JoinHostPort(h.PublicIPv4, "2376"), cluster.Identity(cluster.HostUID(h))
				out = append(out, m)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Endpoint < out[j].Endpoint })
		return out, nil
	}
}

// TaskSampler polls a swarm's running tasks through its managers' Docker
// API while something happens (a rolling replacement), and keeps, per
// service of a stack, the fewest tasks seen running: tasks in state
// running that are meant to run (desired state running) on a node that is
// not down, what `docker service ls` counts. It is bounded: it stops
// polling after MaxDuration, or when Stop is called.
type TaskSampler struct {
	// Managers lists the managers to ask, read before each poll: a poll
	// goes to the manager that answered last, then to the others in turn
	// until one answers.
	Managers func(context.Context) ([]DockerAttr, error)
	// Namespace is the stack's (com.docker.stack.namespace).
	Namespace string
	// Desired is each service's desired running tasks, by full name
	// ("counter_web"). A service of the stack missing from it is
	// reported; one missing from the swarm counts as 0 running.
	Desired     map[string]int
	Every       time.Duration // between poll starts; default 500ms
	Timeout     time.Duration // per request to a manager; default 2s
	MaxDuration time.Duration // default 30m

	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	res     TaskSamples
	last    string // the endpoint that answered last
	clients map[string]*client.Client
}

// TaskSamples is what a TaskSampler saw.
type TaskSamples struct {
	// Samples counts the polls a manager answered.
	Samples int
	// Unanswered counts requests to a manager that failed (it may be
	// leaving, or not a manager any more); the poll then went on to
	// another manager. Missed counts the polls no manager answered.
	Unanswered, Missed int
	// Min is, per service, the fewest running tasks a sample saw, and
	// MinAt when it was first seen.
	Min   map[string]int
	MinAt map[string]time.Time
	// Unknown are services of the stack not in Desired.
	Unknown []string
	// Errors are the first failed requests, "<time> <manager>: <error>".
	Errors   []string
	Duration time.Duration
}

// Start polls in the background until Stop.
func (s *TaskSampler) Start() {
	if s.Every <= 0 {
		s.Every = 500 * time.Millisecond
	}
	if s.Timeout <= 0 {
		s.Timeout = 2 * time.Second
	}
	if s.MaxDuration <= 0 {
		s.MaxDuration = 30 * time.Minute
	}
	s.res = TaskSamples{Min: map[string]int{}, MinAt: map[string]time.Time{}}
	s.clients = map[string]*client.Client{}
	ctx, cancel := context.WithTimeout(context.Background(), s.MaxDuration)
	s.cancel = cancel
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		start := time.Now()
		tick := time.NewTicker(s.Every)
		defer tick.Stop()
		for {
			s.poll(ctx)
			select {
			case <-ctx.Done():
				s.mu.Lock()
				s.res.Duration = time.Since(start)
				s.mu.Unlock()
				return
			case <-tick.C:
			}
		}
	}()
}

// Stop ends the polling, waits for the poll in flight and returns what it
// saw. It may be called more than once.
func (s *TaskSampler) Stop() TaskSamples {
	if s.cancel == nil {
		return TaskSamples{}
	}
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, c := range s.clients {
		_ = c.Close()
		delete(s.clients, k)
	}
	r := s.res
	r.Min, r.MinAt = map[string]int{}, map[string]time.Time{}
	for k, v := range s.res.Min {
		r.Min[k], r.MinAt[k] = v, s.res.MinAt[k]
	}
	r.Unknown = append([]string(nil), s.res.Unknown...)
	r.Errors = append([]string(nil), s.res.Errors...)
	return r
}

// poll asks the managers in turn, the last that answered first, until one
// answers, and records its counts.
func (s *TaskSampler) poll(ctx context.Context) {
	lctx, cancel := context.WithTimeout(ctx, s.Timeout)
	ms, err := s.Managers(lctx)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if err != nil || len(ms) == 0 {
		s.mu.Lock()
		s.res.Missed++
		s.noteError("listing managers", fmt.Errorf("%d managers (%v)", len(ms), err))
		s.mu.Unlock()
		return
	}
	s.mu.Lock()
	last := s.last
	s.mu.Unlock()
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].Endpoint == last && ms[j].Endpoint != last })
	for _, m := range ms {
		counts, err := s.count(ctx, m)
		if ctx.Err() != nil {
			return // stopped meanwhile: not a failure of the manager
		}
		s.mu.Lock()
		if err != nil {
			s.res.Unanswered++
			s.noteError(m.Endpoint, err)
			s.mu.Unlock()
			continue
		}
		s.last = m.Endpoint
		s.res.Samples++
		now := time.Now()
		for name := range s.Desired {
			n := counts[name] // a service not there runs nothing
			if cur, ok := s.res.Min[name]; !ok || n < cur {
				s.res.Min[name], s.res.MinAt[name] = n, now
			}
		}
		for name := range counts {
			if _, ok := s.Desired[name]; !ok && !slices.Contains(s.res.Unknown, name) {
				s.res.Unknown = append(s.res.Unknown, name)
			}
		}
		s.mu.Unlock()
		return
	}
	s.mu.Lock()
	s.res.Missed++
	s.mu.Unlock()
}

// noteError keeps the first errors; s.mu is held.
func (s *TaskSampler) noteError(who string, err error) {
	if len(s.res.Errors) < 20 {
		s.res.Errors = append(s.res.Errors, time.Now().Format("15:04:05.000")+" "+who+": "+err.Error())
	}
}

// count reads, through manager m, each service of the stack and its tasks
// running and meant to run on nodes that are not down.
func (s *TaskSampler) count(ctx context.Context, m DockerAttr) (map[string]int, error) {
	cli, err := s.client(m)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	services, err := cli.ServiceList(ctx, swarmtypes.ServiceListOptions{Filters: NamespaceFilter(s.Namespace)})
	if err != nil {
		return nil, fmt.Errorf("listing services: %w", err)
	}
	nodes, err := cli.NodeList(ctx, swarmtypes.NodeListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	tasks, err := cli.TaskList(ctx, swarmtypes.TaskListOptions{Filters: filters.NewArgs(filters.Arg("desired-state", "running"))})
	if err != nil {
		return nil, fmt.Errorf("listing tasks: %w", err)
	}
	down := map[string]bool{}
	for _, n := range nodes {
		if n.Status.State == swarmtypes.NodeStateDown {
			down[n.ID] = true
		}
	}
	names := map[string]string{}
	out := map[string]int{}
	for _, sv := range services {
		names[sv.ID] = sv.Spec.Name
		out[sv.Spec.Name] = 0
	}
	for _, t := range tasks {
		name, ok := names[t.ServiceID]
		if ok && t.DesiredState == swarmtypes.TaskStateRunning && t.Status.State == swarmtypes.TaskStateRunning && !down[t.NodeID] {
			out[name]++
		}
	}
	return out, nil
}

// client is a kept client for manager m.
func (s *TaskSampler) client(m DockerAttr) (*client.Client, error) {
	key := m.Endpoint + " " + m.ServerName
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[key]; ok {
		return c, nil
	}
	c, err := m.Client(m.Endpoint, m.ServerName)
	if err != nil {
		return nil, err
	}
	s.clients[key] = c
	return c, nil
}

// Check returns an error unless every service of Desired kept at least
// desired − 1 running tasks in every sample, at least minSamples samples
// were taken, and the stack had no service outside Desired.
func (r TaskSamples) Check(desired map[string]int, minSamples int) error {
	var errs []string
	if r.Samples < minSamples {
		errs = append(errs, fmt.Sprintf("only %d samples (%d requests unanswered, %d polls missed), want at least %d", r.Samples, r.Unanswered, r.Missed, minSamples))
	}
	for _, name := range slices.Sorted(maps.Keys(desired)) {
		want := desired[name]
		if m, ok := r.Min[name]; !ok || m < want-1 {
			errs = append(errs, fmt.Sprintf("service %s: %d tasks running at %s, fewer than desired %d − 1", name, m, r.MinAt[name].Format("15:04:05.000"), want))
		}
	}
	if len(r.Unknown) > 0 {
		errs = append(errs, fmt.Sprintf("the stack has services the test does not know the desired count of: %s", strings.Join(r.Unknown, ", ")))
	}
	if len(errs) == 0 {
		return nil
	}
	if len(r.Errors) > 0 {
		errs = append(errs, "first failed requests:\n"+strings.Join(r.Errors, "\n"))
	}
	return fmt.Errorf("%s", strings.Join(errs, "\n"))
}

// Lines are the figures, one line per service: "service X: desired D,
// min running M over N samples", then the unanswered requests.
func (r TaskSamples) Lines(desired map[string]int) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(desired)) {
		out = append(out, fmt.Sprintf("service %s: desired %d, min running %d over %d samples", name, desired[name], r.Min[name], r.Samples))
	}
	out = append(out, fmt.Sprintf("task samples: %d in %s, %d requests to a manager unanswered (then asked another), %d polls no manager answered",
		r.Samples, r.Duration.Round(time.Second), r.Unanswered, r.Missed))
	return out
}
