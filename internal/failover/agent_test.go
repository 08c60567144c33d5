package failover

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
)

type fakeDocker struct {
	self     string
	nodes    []swarm.Node
	services []swarm.Service
	tasks    []swarm.Task
	infoErr  error
	listErr  error
	taskErr  error
}

func (f *fakeDocker) ServiceList(context.Context, swarm.ServiceListOptions) ([]swarm.Service, error) {
	return f.services, f.taskErr
}

func (f *fakeDocker) TaskList(context.Context, swarm.TaskListOptions) ([]swarm.Task, error) {
	return f.tasks, f.taskErr
}

func (f *fakeDocker) Info(context.Context) (system.Info, error) {
	var i system.Info
	i.Swarm.NodeID, i.Swarm.ControlAvailable = f.self, true
	return i, f.infoErr
}

func (f *fakeDocker) NodeList(context.Context, swarm.NodeListOptions) ([]swarm.Node, error) {
	if f.listErr != nil {
		return nil, f.listErr
	}
	return f.nodes, nil
}

type fakeCloud struct {
	mu                      sync.Mutex
	ip                      *cloud.FloatingIP
	hosts                   []cloud.Host
	getErr, listErr, putErr error
	gets, lists             int
	assigned                []string
}

func (f *fakeCloud) ListHosts(_ context.Context, tag string) ([]cloud.Host, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	if tag != cluster.GroupTag(testUID, cluster.ManagersGroup) {
		return nil, fmt.Errorf("unexpected tag %q", tag)
	}
	return f.hosts, f.listErr
}

func (f *fakeCloud) GetFloatingIP(_ context.Context, id string) (*cloud.FloatingIP, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if f.getErr != nil {
		return nil, f.getErr
	}
	if f.ip == nil {
		return nil, nil //nolint:nilnil // a driver misbehaving: the agent must not panic
	}
	c := *f.ip
	return &c, nil
}

func (f *fakeCloud) AssignFloatingIP(_ context.Context, id, hostID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.putErr != nil {
		return f.putErr
	}
	f.assigned = append(f.assigned, hostID)
	f.ip.HostID = hostID
	return nil
}

func testConfig() Config {
	return Config{Cloud: cloud.DigitalOcean, Token: "secret-token-value", FloatingIPID: "203.0.113.7", ClusterUID: testUID,
		PollInterval: Duration(time.Second), CloudRefresh: Duration(30 * time.Second)}
}

type agentEnv struct {
	a   *Agent
	d   *fakeDocker
	c   *fakeCloud
	log *bytes.Buffer
	now time.Time
}

func newAgentEnv(self string, nodes []swarm.Node, holder string) *agentEnv {
	e := &agentEnv{
		d:   &fakeDocker{self: self, nodes: nodes},
		c:   &fakeCloud{ip: ip(holder), hosts: []cloud.Host{host("1"), host("2"), host("3")}},
		log: &bytes.Buffer{},
		now: time.Unix(1000, 0),
	}
	e.a = NewAgent(testConfig(), e.d, e.c, NewLogger(e.log))
	e.a.now = func() time.Time { return e.now }
	return e
}

// round runs one round one poll later.
func (e *agentEnv) round(t *testing.T) Decision {
	t.Helper()
	e.now = e.now.Add(time.Second)
	return e.a.Round(t.Context())
}

// lines are the log's JSON lines; each must parse.
func (e *agentEnv) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(e.log.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		if strings.Contains(l, "secret-token-value") {
			t.Fatalf("log line shows the token: %s", l)
		}
		out = append(out, m)
	}
	return out
}

func TestAgentStandbyNeverCallsTheCloud(t *testing.T) {
	e := newAgentEnv("n2", []swarm.Node{node("1", leader), node("2"), node("3", down)}, "h3")
	for range 5 {
		if d := e.round(t); d.Action != Standby {
			t.Fatalf("follower decided %+v", d)
		}
	}
	if e.c.gets+e.c.lists != 0 || len(e.c.assigned) != 0 {
		t.Errorf("a follower called the cloud: %d gets, %d lists, assigned %v", e.c.gets, e.c.lists, e.c.assigned)
	}
	if l := e.lines(t); len(l) != 1 || l[0]["action"] != "standby" {
		t.Errorf("want one standby line, got %v", l)
	}
}

func TestAgentKeepsAReadyHolderAndCachesTheCloud(t *testing.T) {
	e := newAgentEnv("n1", []swarm.Node{node("1", leader), node("2"), node("3")}, "h2")
	for range 30 { // rounds 1 s apart: the first reads, 29 s later still cached
		if d := e.round(t); d.Action != Keep {
			t.Fatalf("decided %+v", d)
		}
	}
	if e.c.gets != 1 || e.c.lists != 1 {
		t.Errorf("30 rounds within cloud_refresh read the cloud %d+%d times, want once", e.c.gets, e.c.lists)
	}
	e.round(t)
	if e.c.gets != 2 {
		t.Errorf("the cloud was not re-read after cloud_refresh: %d gets", e.c.gets)
	}
	if len(e.c.assigned) != 0 {
		t.Errorf("moved an IP on a Ready manager: %v", e.c.assigned)
	}
}

func TestAgentMovesOffADownHolder(t *testing.T) {
	e := newAgentEnv("n1", []swarm.Node{node("1", leader), node("2"), node("3")}, "h2")
	e.round(t)
	e.d.nodes = []swarm.Node{node("1", leader), node("2", down), node("3")}
	d := e.round(t)
	if d.Action != Move || d.To != "h3" || len(e.c.assigned) != 1 || e.c.assigned[0] != "h3" {
		t.Fatalf("decided %+v, assigned %v; want a move to h3", d, e.c.assigned)
	}
	if e.c.gets != 2 {
		t.Errorf("the move was made on a cached view (%d gets, want a re-read)", e.c.gets)
	}
	if d := e.round(t); d.Action != Keep || len(e.c.assigned) != 1 {
		t.Errorf("after the move: %+v, assigned %v", d, e.c.assigned)
	}
	var moves int
	for _, l := range e.lines(t) {
		if l["action"] == "move" {
			moves++
			if l["from_host"] != "h2" || l["to_host"] != "h3" || l["to_node"] != "n3" || l["took"] == "" {
				t.Errorf("move line: %v", l)
			}
		}
	}
	if moves != 1 {
		t.Errorf("%d move lines, want 1:\n%s", moves, e.log)
	}
}

// A manager that just came back is Ready before its global tasks (the
// stack's front) run again: the agent moves the IP to one that serves.
func TestAgentPrefersAManagerThatServes(t *testing.T) {
	front := swarm.Service{ID: "front"}
	front.Spec.Mode.Global = &swarm.GlobalService{}
	front.Spec.TaskTemplate.Placement = &swarm.Placement{Constraints: []string{"node.role == manager"}}
	web := swarm.Service{ID: "web"} // replicated: says nothing about a node
	web.Spec.Mode.Replicated = &swarm.ReplicatedService{}
	runs := func(nodes ...string) []swarm.Task {
		var out []swarm.Task
		for _, n := range nodes {
			tk := swarm.Task{ServiceID: "front", NodeID: n, DesiredState: swarm.TaskStateRunning}
			tk.Status.State = swarm.TaskStateRunning
			out = append(out, tk)
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		tasks   []swarm.Task
		taskErr error
		want    string
	}{
		{"the serving follower over the lower name", runs("n1", "n3"), nil, "h3"},
		{"the serving leader over a follower starting its tasks", runs("n1"), nil, "h1"},
		{"none serves: the Ready follower", nil, nil, "h2"},
		{"tasks unreadable: the Ready follower", nil, errors.New("boom"), "h2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The IP is on h4, whose node is down; n2 and n3 are Ready followers.
			nodes := []swarm.Node{node("1", leader), node("2"), node("3"), node("4", down)}
			e := newAgentEnv("n1", nodes, "h4")
			e.c.hosts = append(e.c.hosts, host("4"))
			e.d.services, e.d.tasks, e.d.taskErr = []swarm.Service{front, web}, tc.tasks, tc.taskErr
			if d := e.round(t); d.Action != Move || d.To != tc.want {
				t.Fatalf("decided %+v, want a move to %s", d, tc.want)
			}
		})
	}
}

func TestAgentRereadsBeforeActing(t *testing.T) {
	e := newAgentEnv("n1", []swarm.Node{node("1", leader), node("2"), node("3")}, "h2")
	e.round(t)
	// Someone else moved it meanwhile; the cache still says h2.
	e.c.ip.HostID = "h3"
	e.d.nodes = []swarm.Node{node("1", leader), node("2", down), node("3")}
	if d := e.round(t); d.Action != Keep || len(e.c.assigned) != 0 {
		t.Errorf("decided %+v, assigned %v; want keep after re-reading", d, e.c.assigned)
	}
}

func TestAgentMissingNodeAndUnassigned(t *testing.T) {
	e := newAgentEnv("n1", []swarm.Node{node("1", leader), node("3")}, "h2")
	if d := e.round(t); d.Action != Move || d.To != "h3" {
		t.Errorf("holder's node missing: %+v", d)
	}
	e = newAgentEnv("n1", []swarm.Node{node("1", leader), node("2"), node("3")}, "")
	if d := e.round(t); d.Action != Move || d.To != "h2" || e.c.ip.HostID != "h2" {
		t.Errorf("unassigned: %+v, IP on %q", d, e.c.ip.HostID)
	}
}

func TestAgentRetriesAfterErrors(t *testing.T) {
	e := newAgentEnv("n1", []swarm.Node{node("1", leader), node("2", down), node("3")}, "h2")
	boom := errors.New("503 Service Unavailable")
	steps := []struct {
		name  string
		set   func()
		want  Action
		moved int
	}{
		{"engine info fails", func() { e.d.infoErr = boom }, "", 0},
		{"node list fails", func() { e.d.infoErr, e.d.listErr = nil, boom }, "", 0},
		{"reading the IP fails", func() { e.d.listErr, e.c.getErr = nil, boom }, "", 0},
		{"reading it again fails: logged once", func() {}, "", 0},
		{"the driver returns nothing", func() { e.c.getErr, e.c.ip = nil, nil }, Keep, 0},
		{"listing hosts fails", func() { e.c.ip, e.c.listErr = ip("h2"), boom }, "", 0},
		{"assigning fails", func() { e.c.listErr, e.c.putErr = nil, boom }, "", 0},
		{"all well: moved", func() { e.c.putErr = nil }, Move, 1},
		{"then kept", func() {}, Keep, 1},
	}
	for _, s := range steps {
		s.set()
		d := e.round(t)
		if d.Action != s.want || len(e.c.assigned) != s.moved {
			t.Fatalf("%s: decided %+v, assigned %v; want %q with %d moves", s.name, d, e.c.assigned, s.want, s.moved)
		}
	}
	var errs int
	for _, l := range e.lines(t) {
		if l["level"] == "ERROR" {
			errs++
			if msg, _ := l["error"].(string); !strings.HasSuffix(msg, boom.Error()) {
				t.Errorf("error line: %v", l)
			}
		}
	}
	if errs != 5 {
		t.Errorf("%d error lines, want 5 (one per distinct failure):\n%s", errs, e.log)
	}
}

func TestAgentRunStopsWithItsContext(t *testing.T) {
	e := newAgentEnv("n1", []swarm.Node{node("1", leader), node("2"), node("3")}, "")
	cfg := testConfig()
	cfg.PollInterval = Duration(100 * time.Millisecond)
	a := NewAgent(cfg, e.d, e.c, NewLogger(e.log))
	ctx, cancel := context.WithTimeout(t.Context(), 350*time.Millisecond)
	defer cancel()
	if err := a.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run = %v", err)
	}
	if len(e.c.assigned) != 1 {
		t.Errorf("assigned %v, want one assignment", e.c.assigned)
	}
	if l := e.lines(t); len(l) < 2 || l[0]["msg"] != "starting" {
		t.Errorf("log: %v", l)
	}
}

// The IP was moved by hand (or by a former leader's agent) since the
// cloud was last read, and its new holder fails: the agent re-reads the
// cloud when a node stops being Ready, and moves the IP at once instead
// of trusting its cached holder until cloud_refresh.
func TestAgentRereadsWhenANodeGoesDown(t *testing.T) {
	e := newAgentEnv("n1", []swarm.Node{node("1", leader), node("2"), node("3")}, "h2")
	e.round(t)
	e.c.ip.HostID = "h3" // moved out of band; the cache still says h2
	e.d.nodes = []swarm.Node{node("1", leader), node("2"), node("3", down)}
	d := e.round(t)
	if d.Action != Move || d.To != "h2" || len(e.c.assigned) != 1 {
		t.Fatalf("decided %+v, assigned %v; want a move off h3 to h2 within the round", d, e.c.assigned)
	}
	if e.c.gets != 2 {
		t.Errorf("%d reads of the IP, want 2 (the first round, the node going down)", e.c.gets)
	}
	// Nothing changes after: the cache serves again.
	for range 5 {
		e.round(t)
	}
	if e.c.gets != 2 {
		t.Errorf("%d reads of the IP after 5 quiet rounds, want still 2", e.c.gets)
	}
}
