package swarm

// This file is the pure planning logic behind manager and worker changes:
// Raft quorum arithmetic, the order in which managers are added or removed,
// and which workers go first when a group shrinks. Nothing here talks to an
// engine, so it is unit-tested exhaustively; the Client methods and the
// Terraform resources call it before they act.

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// MaxManagers is the largest manager count Haddock accepts. Docker
// recommends at most seven: every Raft write waits for a majority, so more
// managers make the cluster slower without making it meaningfully safer.
const MaxManagers = 7

// Quorum returns how many of n managers must be reachable for Raft to
// commit anything (elect a leader, change membership, update the cluster):
// a strict majority, n/2+1. Quorum of 0 or fewer managers is 0.
func Quorum(n int) int {
	if n <= 0 {
		return 0
	}
	return n/2 + 1
}

// FaultTolerance returns how many of n managers can be lost while the
// remaining ones still hold quorum: n - Quorum(n), that is (n-1)/2.
func FaultTolerance(n int) int {
	if n <= 0 {
		return 0
	}
	return n - Quorum(n)
}

// ValidManagerCount checks a desired manager count: 1, 3, 5 or 7. An even
// count is refused because it adds no fault tolerance over the odd count
// below it while raising the quorum: 4 managers tolerate the loss of 1,
// like 3, but need 3 reachable instead of 2.
func ValidManagerCount(n int) error {
	switch {
	case n < 1:
		return fmt.Errorf("%d managers: a swarm needs at least 1 manager", n)
	case n > MaxManagers:
		return fmt.Errorf("%d managers: at most %d are supported; every Raft write waits for a majority of managers, so more make the swarm slower, not safer (%d managers already tolerate the loss of %d)",
			n, MaxManagers, MaxManagers, FaultTolerance(MaxManagers))
	case n%2 == 0:
		return fmt.Errorf("%d managers: Raft needs an odd count; an even count adds no fault tolerance: %d managers tolerate the loss of %d, the same as %d, but need %d reachable for quorum instead of %d; use %d or %d",
			n, n, FaultTolerance(n), n-1, Quorum(n), Quorum(n-1), n-1, n+1)
	}
	return nil
}

// ManagerNode is what planning needs to know of a manager.
type ManagerNode struct {
	ID       string
	Hostname string
	// Leader is the current Raft leader.
	Leader bool
	// Reachable is the Raft reachability the leader reports; an
	// unreachable manager does not count towards quorum.
	Reachable bool
	// CreatedAt orders managers when some must go: newest first.
	CreatedAt time.Time
}

func (m ManagerNode) String() string {
	switch {
	case m.Hostname != "" && m.ID != "":
		return m.Hostname + " (" + m.ID + ")"
	case m.Hostname != "":
		return m.Hostname
	}
	return m.ID
}

// StepAction is one kind of manager change.
type StepAction string

const (
	// StepAddManager adds one manager: join a new host with the manager
	// join token (or Promote a worker), then wait until it is reachable
	// before the next step.
	StepAddManager StepAction = "add-manager"
	// StepDemote demotes Step.Node to a worker, which removes it from the
	// Raft membership. Demote waits until that is done.
	StepDemote StepAction = "demote"
	// StepRemove removes the demoted Step.Node from the swarm: it leaves
	// (Leave on the node, or its host is destroyed) and RemoveNode deletes
	// it from the node list.
	StepRemove StepAction = "remove"
)

// Step is one step of a manager change. Steps run in order, one at a time,
// each after the previous has completed.
type Step struct {
	Action StepAction
	// Node is the manager demoted or removed; zero for StepAddManager.
	Node ManagerNode
	// ManagersAfter is the number of Raft members once the step is done.
	ManagersAfter int
	// Note explains a step that needs care, such as demoting the leader.
	Note string
}

func (s Step) String() string {
	switch s.Action {
	case StepAddManager:
		return fmt.Sprintf("add a manager (%d after)", s.ManagersAfter)
	default:
		return fmt.Sprintf("%s %s (%d managers after)", s.Action, s.Node, s.ManagersAfter)
	}
}

// PlanManagerChange returns the steps that take a swarm from the managers
// in current to want managers, or an error that says why it must not be
// attempted.
//
// want must be valid (ValidManagerCount). Growing adds one manager per
// step. Shrinking demotes, then removes, one manager at a time, choosing
// unreachable managers first (they are the ones to lose), then reachable
// ones newest first (by CreatedAt, then hostname), and the leader last: its
// demotion makes Raft elect another leader among the managers that stay, so
// the remaining calls must go to another manager.
//
// Every membership change is a Raft entry that needs quorum of the current
// members, and the members left afterwards must still hold quorum among
// themselves. A change that cannot satisfy both at every step is refused
// with the arithmetic, for example "3 managers with 2 unreachable: quorum
// is 2 of 3, only 1 reachable; shrinking to 1 would need quorum to demote".
func PlanManagerChange(current []ManagerNode, want int) ([]Step, error) {
	if err := ValidManagerCount(want); err != nil {
		return nil, err
	}
	n := len(current)
	if n == 0 {
		return nil, errors.New("the swarm has no managers: initialise it first (Init creates the first manager)")
	}
	if want == n {
		return nil, nil
	}
	reachable := countReachable(current)
	if reachable < Quorum(n) {
		change, verb := fmt.Sprintf("growing to %d", want), "add a manager"
		if want < n {
			change, verb = fmt.Sprintf("shrinking to %d", want), "demote"
		}
		return nil, fmt.Errorf("%s; %s would need quorum to %s; bring the unreachable managers (%s) back, or recover the swarm with \"docker swarm init --force-new-cluster\" on a reachable manager",
			quorumSummary(n, reachable), change, verb, joinManagers(unreachable(current)))
	}

	if want > n {
		var steps []Step
		for m := n + 1; m <= want; m++ {
			// The new manager is assumed reachable once it has joined.
			if err := checkMembershipChange(m-1, reachable, m, reachable+1); err != nil {
				return nil, fmt.Errorf("growing to %d managers: step %d: %w", want, m-n, err)
			}
			steps = append(steps, Step{
				Action:        StepAddManager,
				ManagersAfter: m,
				Note:          "join a host with the manager token (or promote a worker) and wait until it is reachable before the next step",
			})
			reachable++
		}
		return steps, nil
	}

	steps, err := removalSteps(current, removalOrder(current)[:n-want])
	if err != nil {
		return nil, fmt.Errorf("shrinking to %d managers: %w", want, err)
	}
	return steps, nil
}

// PlanRemoveManagers returns the steps that remove the given managers (by
// ID), for example those whose hosts are being replaced, in a safe order:
// unreachable ones first, then newest first, the leader last, each demoted
// then removed. Unlike PlanManagerChange the resulting count is not
// checked for oddness (a replacement passes through an even count), but
// removing every manager, an unknown ID, or a step that would lose quorum
// is refused with the arithmetic.
func PlanRemoveManagers(current []ManagerNode, ids []string) ([]Step, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	byID := map[string]ManagerNode{}
	for _, m := range current {
		byID[m.ID] = m
	}
	var remove []ManagerNode
	seen := map[string]bool{}
	for _, id := range ids {
		m, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("node %s is not a manager", id)
		}
		if !seen[id] {
			seen[id] = true
			remove = append(remove, m)
		}
	}
	if len(remove) == len(current) {
		return nil, fmt.Errorf("removing all %d managers: a swarm needs at least one; add a manager first", len(current))
	}
	if r := countReachable(current); r < Quorum(len(current)) {
		return nil, fmt.Errorf("%s; removing %s would need quorum to demote; bring the unreachable managers (%s) back, or recover the swarm with \"docker swarm init --force-new-cluster\" on a reachable manager",
			quorumSummary(len(current), r), joinManagers(remove), joinManagers(unreachable(current)))
	}
	return removalSteps(current, removalOrder(remove))
}

// removalSteps demotes then removes each manager of remove, in that order,
// checking quorum at every membership change.
func removalSteps(current, remove []ManagerNode) ([]Step, error) {
	members, r := len(current), countReachable(current)
	var steps []Step
	for _, m := range remove {
		after := r
		if m.Reachable {
			after--
		}
		if err := checkMembershipChange(members, r, members-1, after); err != nil {
			return nil, fmt.Errorf("demoting %s: %w", m, err)
		}
		members, r = members-1, after
		demote := Step{Action: StepDemote, Node: m, ManagersAfter: members}
		switch {
		case m.Leader:
			demote.Note = "this is the leader: demoting it makes Raft elect a new leader among the remaining managers; send this and the following calls to another manager"
		case !m.Reachable:
			demote.Note = "this manager is unreachable: after its demotion, remove it with force"
		}
		steps = append(steps, demote, Step{Action: StepRemove, Node: m, ManagersAfter: members})
	}
	return steps, nil
}

// CanDemote reports whether the manager id can be demoted now: the change
// needs quorum of the current managers, and the managers that stay must
// still hold quorum among themselves. Demoting the last manager is refused.
func CanDemote(current []ManagerNode, id string) error {
	var target *ManagerNode
	for i := range current {
		if current[i].ID == id {
			target = &current[i]
		}
	}
	if target == nil {
		return fmt.Errorf("node %s is not a manager", id)
	}
	n := len(current)
	if n == 1 {
		return fmt.Errorf("%s is the last manager: a swarm needs at least one; add another manager first", target)
	}
	r := countReachable(current)
	after := r
	if target.Reachable {
		after--
	}
	if err := checkMembershipChange(n, r, n-1, after); err != nil {
		msg := fmt.Sprintf("demoting %s: %v", target, err)
		if others := unreachable(current); target.Reachable && len(others) > 0 {
			msg += fmt.Sprintf("; remove the unreachable managers (%s) first", joinManagers(others))
		}
		return errors.New(msg)
	}
	return nil
}

// checkMembershipChange checks one Raft membership change from members
// (reachable of them) to membersAfter (reachableAfter of them).
func checkMembershipChange(members, reachable, membersAfter, reachableAfter int) error {
	if reachable < Quorum(members) {
		return fmt.Errorf("%s: the change needs quorum to commit", quorumSummary(members, reachable))
	}
	if reachableAfter < Quorum(membersAfter) {
		return fmt.Errorf("afterwards only %d of %d managers would be reachable, below the quorum of %d: the swarm would lose quorum",
			reachableAfter, membersAfter, Quorum(membersAfter))
	}
	return nil
}

func quorumSummary(n, reachable int) string {
	return fmt.Sprintf("%d managers with %d unreachable: quorum is %d of %d, only %d reachable",
		n, n-reachable, Quorum(n), n, reachable)
}

// removalOrder sorts managers in the order they should go: unreachable
// first, then reachable ones newest first (CreatedAt, then hostname, then
// ID, descending), the leader last.
func removalOrder(ms []ManagerNode) []ManagerNode {
	out := append([]ManagerNode(nil), ms...)
	rank := func(m ManagerNode) int {
		switch {
		case m.Leader:
			return 2
		case !m.Reachable:
			return 0
		}
		return 1
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra < rb
		}
		return newerFirst(a.CreatedAt, b.CreatedAt, a.Hostname, b.Hostname, a.ID, b.ID)
	})
	return out
}

// newerFirst orders by creation time, then name, then ID, all descending.
func newerFirst(ta, tb time.Time, na, nb, ida, idb string) bool {
	if !ta.Equal(tb) {
		return ta.After(tb)
	}
	if na != nb {
		return na > nb
	}
	return ida > idb
}

func countReachable(ms []ManagerNode) int {
	r := 0
	for _, m := range ms {
		if m.Reachable {
			r++
		}
	}
	return r
}

func unreachable(ms []ManagerNode) []ManagerNode {
	var out []ManagerNode
	for _, m := range ms {
		if !m.Reachable {
			out = append(out, m)
		}
	}
	return out
}

func joinManagers(ms []ManagerNode) string {
	if len(ms) == 0 {
		return "none"
	}
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = m.String()
	}
	return strings.Join(s, ", ")
}

// WorkerNode is what choosing workers to remove needs to know of a node.
type WorkerNode struct {
	ID        string
	Hostname  string
	State     NodeState
	CreatedAt time.Time
}

// ChooseWorkersToRemove returns the n workers a group should lose when it
// shrinks by n (all of them when n >= len(nodes), none when n <= 0), in
// the order they should go:
//
//  1. nodes that are not ready (down, disconnected, unknown) first: they run
//     nothing, and removing them costs no capacity;
//  2. then the newest: latest CreatedAt first, ties broken by hostname,
//     then ID, descending (worker-3 before worker-2), so the oldest and
//     longest-proven nodes stay and a scale-out followed by a scale-in
//     removes what it added.
//
// nodes is not modified.
func ChooseWorkersToRemove(nodes []WorkerNode, n int) []WorkerNode {
	if n <= 0 || len(nodes) == 0 {
		return nil
	}
	out := append([]WorkerNode(nil), nodes...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if ra, rb := a.State == NodeStateReady, b.State == NodeStateReady; ra != rb {
			return !ra
		}
		return newerFirst(a.CreatedAt, b.CreatedAt, a.Hostname, b.Hostname, a.ID, b.ID)
	})
	if n > len(out) {
		n = len(out)
	}
	return out[:n]
}

// ManagersOf returns the managers among nodes, for PlanManagerChange and
// CanDemote.
func ManagersOf(nodes []Node) []ManagerNode {
	var out []ManagerNode
	for _, n := range nodes {
		if n.ManagerStatus == nil {
			continue
		}
		out = append(out, ManagerNode{
			ID:        n.ID,
			Hostname:  n.Hostname,
			Leader:    n.ManagerStatus.Leader,
			Reachable: n.ManagerStatus.Reachability == ReachabilityReachable,
			CreatedAt: n.CreatedAt,
		})
	}
	return out
}

// WorkersOf returns the workers among nodes (nodes without a manager
// status), for ChooseWorkersToRemove.
func WorkersOf(nodes []Node) []WorkerNode {
	var out []WorkerNode
	for _, n := range nodes {
		if n.ManagerStatus != nil || n.Role == RoleManager {
			continue
		}
		out = append(out, WorkerNode{ID: n.ID, Hostname: n.Hostname, State: n.State, CreatedAt: n.CreatedAt})
	}
	return out
}
