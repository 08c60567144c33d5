package swarm

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestQuorumArithmetic(t *testing.T) {
	for _, tt := range []struct{ n, quorum, tolerance int }{
		{-1, 0, 0}, {0, 0, 0}, {1, 1, 0}, {2, 2, 0}, {3, 2, 1}, {4, 3, 1},
		{5, 3, 2}, {6, 4, 2}, {7, 4, 3}, {9, 5, 4},
	} {
		if got := Quorum(tt.n); got != tt.quorum {
			t.Errorf("Quorum(%d) = %d, want %d", tt.n, got, tt.quorum)
		}
		if got := FaultTolerance(tt.n); got != tt.tolerance {
			t.Errorf("FaultTolerance(%d) = %d, want %d", tt.n, got, tt.tolerance)
		}
	}
}

func TestValidManagerCount(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want string // "" for valid
	}{
		{1, ""}, {3, ""}, {5, ""}, {7, ""},
		{0, "at least 1 manager"},
		{-2, "at least 1 manager"},
		{2, "2 managers: Raft needs an odd count; an even count adds no fault tolerance: 2 managers tolerate the loss of 0, the same as 1, but need 2 reachable for quorum instead of 1; use 1 or 3"},
		{4, "4 managers tolerate the loss of 1, the same as 3, but need 3 reachable for quorum instead of 2; use 3 or 5"},
		{6, "use 5 or 7"},
		{8, "at most 7"},
		{9, "at most 7"},
	} {
		t.Run(fmt.Sprint(tt.n), func(t *testing.T) {
			err := ValidManagerCount(tt.n)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("ValidManagerCount(%d) = %v", tt.n, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ValidManagerCount(%d) = %v, want an error containing %q", tt.n, err, tt.want)
			}
		})
	}
}

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// mgrs builds managers m1..mn created an hour apart (m1 oldest). leader is
// the leader's index (1-based, 0 for none); down lists unreachable ones.
func mgrs(n, leader int, down ...int) []ManagerNode {
	out := make([]ManagerNode, n)
	for i := range out {
		out[i] = ManagerNode{
			ID: fmt.Sprintf("id%d", i+1), Hostname: fmt.Sprintf("m%d", i+1),
			Leader: i+1 == leader, Reachable: !slices.Contains(down, i+1),
			CreatedAt: t0.Add(time.Duration(i) * time.Hour),
		}
	}
	return out
}

// render writes steps as "demote m3, remove m3, add 4".
func render(steps []Step) string {
	var s []string
	for _, st := range steps {
		switch st.Action {
		case StepAddManager:
			s = append(s, fmt.Sprintf("add %d", st.ManagersAfter))
		default:
			s = append(s, fmt.Sprintf("%s %s", st.Action, st.Node.Hostname))
		}
	}
	return strings.Join(s, ", ")
}

func TestPlanManagerChange(t *testing.T) {
	for _, tt := range []struct {
		name    string
		current []ManagerNode
		want    int
		steps   string
		err     string
	}{
		{name: "no change", current: mgrs(3, 1), want: 3},
		{name: "grow 1 to 3", current: mgrs(1, 1), want: 3, steps: "add 2, add 3"},
		{name: "grow 3 to 7", current: mgrs(3, 2), want: 7, steps: "add 4, add 5, add 6, add 7"},
		{name: "grow with one unreachable keeps quorum", current: mgrs(3, 1, 3), want: 5, steps: "add 4, add 5"},
		{name: "grow 5 with 2 unreachable", current: mgrs(5, 1, 4, 5), want: 7, steps: "add 6, add 7"},
		{name: "shrink 3 to 1: newest non-leaders first, the leader stays",
			current: mgrs(3, 1), want: 1, steps: "demote m3, remove m3, demote m2, remove m2"},
		{name: "shrink 3 to 1 when the leader is the newest",
			current: mgrs(3, 3), want: 1, steps: "demote m2, remove m2, demote m1, remove m1"},
		{name: "shrink removes unreachable managers first",
			current: mgrs(3, 1, 2), want: 1, steps: "demote m2, remove m2, demote m3, remove m3"},
		{name: "shrink 5 to 3 with 2 unreachable removes exactly those",
			current: mgrs(5, 3, 1, 2), want: 3, steps: "demote m2, remove m2, demote m1, remove m1"},
		{name: "shrink 7 to 3", current: mgrs(7, 4), want: 3,
			steps: "demote m7, remove m7, demote m6, remove m6, demote m5, remove m5, demote m3, remove m3"},
		{name: "shrink from an even count", current: mgrs(4, 1, 4), want: 3, steps: "demote m4, remove m4"},
		{name: "shrink without quorum", current: mgrs(3, 1, 2, 3), want: 1,
			err: "3 managers with 2 unreachable: quorum is 2 of 3, only 1 reachable; shrinking to 1 would need quorum to demote; bring the unreachable managers (m2 (id2), m3 (id3)) back, or recover the swarm with \"docker swarm init --force-new-cluster\" on a reachable manager"},
		{name: "grow without quorum", current: mgrs(5, 1, 3, 4, 5), want: 7,
			err: "5 managers with 3 unreachable: quorum is 3 of 5, only 2 reachable; growing to 7 would need quorum to add a manager"},
		{name: "two managers, one unreachable", current: mgrs(2, 1, 2), want: 1,
			err: "2 managers with 1 unreachable: quorum is 2 of 2, only 1 reachable"},
		{name: "even target", current: mgrs(3, 1), want: 4, err: "Raft needs an odd count"},
		{name: "too many", current: mgrs(3, 1), want: 9, err: "at most 7"},
		{name: "zero", current: mgrs(3, 1), want: 0, err: "at least 1 manager"},
		{name: "no managers", current: nil, want: 3, err: "no managers"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := slices.Clone(tt.current)
			steps, err := PlanManagerChange(tt.current, tt.want)
			if !slices.Equal(before, tt.current) {
				t.Errorf("PlanManagerChange modified its input")
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.err)
				}
				if steps != nil {
					t.Errorf("steps = %s alongside an error", render(steps))
				}
				return
			}
			if err != nil {
				t.Fatalf("PlanManagerChange: %v", err)
			}
			if got := render(steps); got != tt.steps {
				t.Fatalf("steps = %q, want %q", got, tt.steps)
			}
			// Each step's count and the final count are consistent.
			n := len(tt.current)
			for _, st := range steps {
				if st.Action != StepRemove {
					if st.Action == StepAddManager {
						n++
					} else {
						n--
					}
				}
				if st.ManagersAfter != n {
					t.Errorf("step %s: ManagersAfter %d, want %d", st, st.ManagersAfter, n)
				}
			}
			if len(steps) > 0 && n != tt.want {
				t.Errorf("steps end with %d managers, want %d", n, tt.want)
			}
		})
	}
}

func TestPlanRemoveManagers(t *testing.T) {
	for _, tt := range []struct {
		name    string
		current []ManagerNode
		ids     []string
		steps   string
		note    string // the leader's demotion note
		err     string
	}{
		{name: "nothing", current: mgrs(3, 1)},
		{name: "the leader goes last", current: mgrs(3, 1), ids: []string{"id1", "id2"},
			steps: "demote m2, remove m2, demote m1, remove m1", note: "Raft elect a new leader"},
		{name: "replace one of three passes through two", current: mgrs(3, 2), ids: []string{"id2"},
			steps: "demote m2, remove m2", note: "Raft elect a new leader"},
		{name: "duplicates", current: mgrs(3, 1), ids: []string{"id3", "id3"}, steps: "demote m3, remove m3"},
		{name: "unreachable first, then newest", current: mgrs(5, 1, 2), ids: []string{"id4", "id2", "id5"},
			steps: "demote m2, remove m2, demote m5, remove m5, demote m4, remove m4"},
		{name: "would lose quorum", current: mgrs(3, 1, 3), ids: []string{"id2"},
			err: "demoting m2 (id2): afterwards only 1 of 2 managers would be reachable, below the quorum of 2: the swarm would lose quorum"},
		{name: "all of them", current: mgrs(3, 1), ids: []string{"id1", "id2", "id3"}, err: "removing all 3 managers"},
		{name: "unknown", current: mgrs(3, 1), ids: []string{"nope"}, err: "node nope is not a manager"},
		{name: "no quorum", current: mgrs(3, 1, 2, 3), ids: []string{"id3"},
			err: "3 managers with 2 unreachable: quorum is 2 of 3, only 1 reachable; removing m3 (id3) would need quorum to demote"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			steps, err := PlanRemoveManagers(tt.current, tt.ids)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := render(steps); got != tt.steps {
				t.Fatalf("steps = %q, want %q", got, tt.steps)
			}
			if tt.note != "" {
				found := false
				for _, st := range steps {
					if st.Node.Leader && st.Action == StepDemote {
						found = strings.Contains(st.Note, tt.note)
					}
				}
				if !found {
					t.Errorf("the leader's demotion has no note %q: %+v", tt.note, steps)
				}
			}
		})
	}
}

func TestCanDemote(t *testing.T) {
	for _, tt := range []struct {
		name    string
		current []ManagerNode
		id      string
		err     string
	}{
		{name: "one of three", current: mgrs(3, 1), id: "id2"},
		{name: "the leader of three", current: mgrs(3, 1), id: "id1"},
		{name: "one of two", current: mgrs(2, 1), id: "id2"},
		{name: "an unreachable one", current: mgrs(3, 1, 3), id: "id3"},
		{name: "the last", current: mgrs(1, 1), id: "id1", err: "m1 (id1) is the last manager"},
		{name: "a reachable one while another is unreachable", current: mgrs(3, 1, 3), id: "id2",
			err: "demoting m2 (id2): afterwards only 1 of 2 managers would be reachable, below the quorum of 2: the swarm would lose quorum; remove the unreachable managers (m3 (id3)) first"},
		{name: "no quorum", current: mgrs(5, 1, 3, 4, 5), id: "id5",
			err: "5 managers with 3 unreachable: quorum is 3 of 5, only 2 reachable: the change needs quorum to commit"},
		{name: "not a manager", current: mgrs(3, 1), id: "w1", err: "not a manager"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := CanDemote(tt.current, tt.id)
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.err)
			}
		})
	}
}

func TestChooseWorkersToRemove(t *testing.T) {
	w := func(host string, hour int, state NodeState) WorkerNode {
		return WorkerNode{ID: "id-" + host, Hostname: host, State: state, CreatedAt: t0.Add(time.Duration(hour) * time.Hour)}
	}
	group := []WorkerNode{
		w("w1", 0, NodeStateReady), w("w2", 1, NodeStateReady), w("w3", 2, NodeStateReady),
		w("w4", 2, NodeStateReady), // same time as w3: the name decides
		w("w5", 0, NodeStateDown), w("w6", 1, NodeStateDisconnected),
	}
	names := func(ws []WorkerNode) string {
		var s []string
		for _, x := range ws {
			s = append(s, x.Hostname)
		}
		return strings.Join(s, ",")
	}
	for _, tt := range []struct {
		name  string
		nodes []WorkerNode
		n     int
		want  string
	}{
		{"none", group, 0, ""},
		{"negative", group, -1, ""},
		{"empty group", nil, 2, ""},
		{"not-ready nodes first, newest first", group, 2, "w6,w5"},
		{"then newest, name breaks ties", group, 4, "w6,w5,w4,w3"},
		{"all", group, 6, "w6,w5,w4,w3,w2,w1"},
		{"more than there are", group, 10, "w6,w5,w4,w3,w2,w1"},
		{"all ready", group[:4], 1, "w4"},
		{"unknown state counts as not ready", []WorkerNode{w("a", 5, NodeStateReady), w("b", 0, NodeStateUnknown)}, 1, "b"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := slices.Clone(tt.nodes)
			got := names(ChooseWorkersToRemove(tt.nodes, tt.n))
			if got != tt.want {
				t.Fatalf("ChooseWorkersToRemove(%d) = %q, want %q", tt.n, got, tt.want)
			}
			if !slices.Equal(before, tt.nodes) {
				t.Error("input modified")
			}
		})
	}
}

func TestManagersOfWorkersOf(t *testing.T) {
	nodes := []Node{
		{ID: "a", Hostname: "m1", Role: RoleManager, ManagerStatus: &ManagerStatus{Leader: true, Reachability: ReachabilityReachable}, CreatedAt: t0},
		{ID: "b", Hostname: "m2", Role: RoleManager, ManagerStatus: &ManagerStatus{Reachability: ReachabilityUnreachable}},
		{ID: "c", Hostname: "w1", Role: RoleWorker, State: NodeStateDown},
		// Being promoted: the role changed, Raft has not yet.
		{ID: "d", Hostname: "w2", Role: RoleManager, State: NodeStateReady},
	}
	ms := ManagersOf(nodes)
	want := []ManagerNode{
		{ID: "a", Hostname: "m1", Leader: true, Reachable: true, CreatedAt: t0},
		{ID: "b", Hostname: "m2"},
	}
	if !slices.Equal(ms, want) {
		t.Errorf("ManagersOf = %+v, want %+v", ms, want)
	}
	ws := WorkersOf(nodes)
	if len(ws) != 1 || ws[0].ID != "c" || ws[0].State != NodeStateDown {
		t.Errorf("WorkersOf = %+v", ws)
	}
}
