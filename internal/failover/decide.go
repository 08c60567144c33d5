package failover

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/swarm"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
)

// Observation is what one round of the agent sees.
type Observation struct {
	// Self is the node id of the engine the agent runs on.
	Self string
	// Nodes is the swarm's node list, as that engine answers it.
	Nodes []swarm.Node
	// Hosts are the cluster's managers' hosts (listed by
	// cluster.GroupTag(uid, "manager")); IP is the floating IP. Both are nil
	// when the round did not read the cloud (Decide then only says whether
	// this agent is the one to act).
	Hosts []cloud.Host
	IP    *cloud.FloatingIP
	// Serving says, by node id, whether a node runs a task of every global
	// service it qualifies for (the stack's front, say): a manager that
	// just came back is Ready before its tasks run again. Nil when not
	// read; the agent reads it only before a move.
	Serving map[string]bool
}

// Action is what a Decision asks for.
type Action string

const (
	// Standby: this agent is not on the Raft leader; another acts.
	Standby Action = "standby"
	// Keep: the IP is on a Ready manager; nothing to do.
	Keep Action = "keep"
	// Move: assign the IP to Decision.To.
	Move Action = "move"
	// Stuck: the IP should move but no Ready manager can take it.
	Stuck Action = "stuck"
)

// Decision is the outcome of Decide.
type Decision struct {
	Action Action
	// Reason says why, in words, for the log.
	Reason string
	// From is the host holding the IP ("" when unassigned); To the host it
	// goes to (Move), ToName and ToNode its name and node id.
	From, To, ToName, ToNode string
}

// Leader reports whether self is the Raft leader according to nodes.
func Leader(self string, nodes []swarm.Node) bool {
	for _, n := range nodes {
		if n.ID == self {
			return n.ManagerStatus != nil && n.ManagerStatus.Leader
		}
	}
	return false
}

// Decide is the agent's whole policy, a pure function of one observation:
//
//   - only the agent on the Raft leader acts (Standby otherwise);
//   - the IP stays where it is while its host is this node's host or a
//     manager whose node is Ready, active (not drained) and still a manager
//     (Keep): a Ready manager's IP is never moved;
//   - otherwise (unassigned, on a host that is not one of the managers, on
//     a host whose node is missing from the swarm, not Ready — down or
//     unknown —, drained or demoted) it goes to a Ready manager (Move):
//     a follower that is Ready, active and reachable in Raft first (by host
//     name), this node's own host last — see the package documentation for
//     why not the leader first; when Serving is known, managers whose
//     global tasks all run go before those still starting them (a serving
//     leader before a follower that would refuse requests);
//   - with no such manager it stays (Stuck) and the next round looks again.
func Decide(o Observation) Decision {
	if !Leader(o.Self, o.Nodes) {
		return Decision{Action: Standby, Reason: "this node is not the swarm's Raft leader"}
	}
	if o.IP == nil {
		return Decision{Action: Keep, Reason: "the cloud was not read this round"}
	}
	byUID := map[string]*swarm.Node{}
	for i := range o.Nodes {
		if uid := o.Nodes[i].Description.Engine.Labels[cluster.EngineLabelUID]; uid != "" {
			byUID[uid] = &o.Nodes[i]
		}
	}
	d := Decision{From: o.IP.HostID}
	var holder *cloud.Host
	for i := range o.Hosts {
		if o.Hosts[i].ID == o.IP.HostID {
			holder = &o.Hosts[i]
		}
	}
	var why string
	switch {
	case o.IP.HostID == "":
		why = "the IP is not assigned"
	case holder == nil:
		why = fmt.Sprintf("the IP is on host %s, which is not one of the cluster's managers", o.IP.HostID)
	default:
		n := byUID[cluster.HostUID(*holder)]
		switch {
		case n == nil:
			why = fmt.Sprintf("the IP is on host %s (%s), whose node is not in the swarm", holder.ID, holder.Name)
		case n.ID == o.Self:
			d.Action, d.Reason = Keep, fmt.Sprintf("the IP is on this node's host %s (%s), the leader's", holder.ID, holder.Name)
			return d
		case n.Status.State != swarm.NodeStateReady:
			why = fmt.Sprintf("the IP is on host %s (%s), whose node %s is %s", holder.ID, holder.Name, n.ID, nodeState(n))
		case n.Spec.Role != swarm.NodeRoleManager:
			why = fmt.Sprintf("the IP is on host %s (%s), whose node %s is no longer a manager", holder.ID, holder.Name, n.ID)
		case n.Spec.Availability == swarm.NodeAvailabilityDrain:
			why = fmt.Sprintf("the IP is on host %s (%s), whose node %s is drained", holder.ID, holder.Name, n.ID)
		default:
			d.Action, d.Reason = Keep, fmt.Sprintf("the IP is on host %s (%s), whose node %s is a Ready manager", holder.ID, holder.Name, n.ID)
			return d
		}
	}
	t, tn := target(o, byUID)
	if t == nil {
		d.Action, d.Reason = Stuck, why+"; no Ready manager can take it"
		return d
	}
	d.Action, d.To, d.ToName, d.ToNode = Move, t.ID, t.Name, tn.ID
	d.Reason = fmt.Sprintf("%s; moving it to host %s (%s), node %s", why, t.ID, t.Name, tn.ID)
	if tn.ID == o.Self {
		d.Reason += ", the leader's own (no Ready follower)"
	}
	return d
}

// target picks the host the IP goes to: a Ready, active, reachable
// follower (lowest host name first), else this node's own host; with
// Serving known, first among those that serve. Hosts the vendor shows off
// or being deleted, and the current holder, are skipped.
func target(o Observation, byUID map[string]*swarm.Node) (*cloud.Host, *swarm.Node) {
	if o.Serving != nil {
		serving := o
		serving.Hosts = nil
		for _, h := range o.Hosts {
			if n := byUID[cluster.HostUID(h)]; n != nil && o.Serving[n.ID] {
				serving.Hosts = append(serving.Hosts, h)
			}
		}
		serving.Serving = nil
		if h, n := target(serving, byUID); h != nil {
			return h, n
		}
	}
	type cand struct {
		h *cloud.Host
		n *swarm.Node
	}
	var followers []cand
	var self *cand
	for i := range o.Hosts {
		h := &o.Hosts[i]
		if h.ID == o.IP.HostID || h.Status == cloud.HostOff || h.Status == cloud.HostDeleting || h.Status == cloud.HostError {
			continue
		}
		n := byUID[cluster.HostUID(*h)]
		switch {
		case n == nil:
		case n.ID == o.Self:
			self = &cand{h, n} // alive: it is running this agent
		case n.Status.State == swarm.NodeStateReady && n.Spec.Role == swarm.NodeRoleManager &&
			n.Spec.Availability == swarm.NodeAvailabilityActive &&
			n.ManagerStatus != nil && n.ManagerStatus.Reachability == swarm.ReachabilityReachable:
			followers = append(followers, cand{h, n})
		}
	}
	if len(followers) > 0 {
		c := slices.MinFunc(followers, func(a, b cand) int {
			return cmp.Or(cmp.Compare(a.h.Name, b.h.Name), cmp.Compare(a.h.ID, b.h.ID))
		})
		return c.h, c.n
	}
	if self != nil {
		return self.h, self.n
	}
	return nil, nil
}

// nodeState is a node's state with the swarm's message, "down (heartbeat
// failure)".
func nodeState(n *swarm.Node) string {
	s := string(n.Status.State)
	if m := strings.TrimSpace(n.Status.Message); m != "" {
		s += " (" + m + ")"
	}
	return s
}
