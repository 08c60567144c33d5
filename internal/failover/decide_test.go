package failover

import (
	"strings"
	"testing"

	"github.com/docker/docker/api/types/swarm"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
)

const testUID = "clusteruid1"

// node is manager m<i> (node id "n<i>", host uid "u<i>"), Ready, active,
// reachable; opts change it.
func node(i string, opts ...func(*swarm.Node)) swarm.Node {
	n := swarm.Node{ID: "n" + i}
	n.Description.Engine.Labels = map[string]string{cluster.EngineLabelUID: "u" + i, cluster.EngineLabelGroup: cluster.ManagersGroup}
	n.Spec.Role = swarm.NodeRoleManager
	n.Spec.Availability = swarm.NodeAvailabilityActive
	n.Status.State = swarm.NodeStateReady
	n.ManagerStatus = &swarm.ManagerStatus{Reachability: swarm.ReachabilityReachable}
	for _, o := range opts {
		o(&n)
	}
	return n
}

func leader(n *swarm.Node) { n.ManagerStatus.Leader = true }
func down(n *swarm.Node) {
	n.Status.State, n.Status.Message = swarm.NodeStateDown, "heartbeat failure"
	n.ManagerStatus.Reachability = swarm.ReachabilityUnreachable
}
func unknown(n *swarm.Node) { n.Status.State = swarm.NodeStateUnknown }
func drained(n *swarm.Node) { n.Spec.Availability = swarm.NodeAvailabilityDrain }
func worker(n *swarm.Node)  { n.Spec.Role, n.ManagerStatus = swarm.NodeRoleWorker, nil }

// host is manager m<i>'s host: id "h<i>", name "m<i>", uid "u<i>".
func host(i string) cloud.Host {
	return cloud.Host{ID: "h" + i, Name: "m" + i, Status: cloud.HostActive,
		Tags: cluster.HostTags(testUID, cluster.ManagersGroup, "manager", "u"+i, nil)}
}

func ip(holder string) *cloud.FloatingIP {
	return &cloud.FloatingIP{ID: "203.0.113.7", Address: "203.0.113.7", HostID: holder}
}

func TestDecide(t *testing.T) {
	hosts := []cloud.Host{host("1"), host("2"), host("3")}
	for _, tc := range []struct {
		name   string
		obs    Observation
		action Action
		to     string
		reason string
	}{
		{"not the leader", Observation{Self: "n2", Nodes: []swarm.Node{node("1", leader), node("2"), node("3")}, Hosts: hosts, IP: ip("h1")},
			Standby, "", "not the swarm's Raft leader"},
		{"not the leader even when the holder is down", Observation{Self: "n2", Nodes: []swarm.Node{node("1", leader), node("2"), node("3", down)}, Hosts: hosts, IP: ip("h3")},
			Standby, "", "not the swarm's Raft leader"},
		{"self not in the node list", Observation{Self: "n9", Nodes: []swarm.Node{node("1", leader)}, Hosts: hosts, IP: ip("h1")},
			Standby, "", "not the swarm's Raft leader"},
		{"cloud not read", Observation{Self: "n1", Nodes: []swarm.Node{node("1", leader), node("2")}},
			Keep, "", "not read"},
		{"holder Ready", Observation{Self: "n1", Nodes: []swarm.Node{node("1", leader), node("2"), node("3")}, Hosts: hosts, IP: ip("h2")},
			Keep, "", "is a Ready manager"},
		{"holder is the leader", Observation{Self: "n1", Nodes: []swarm.Node{node("1", leader), node("2"), node("3")}, Hosts: hosts, IP: ip("h1")},
			Keep, "", "the leader's"},
		{"holder is the leader shown unknown", Observation{Self: "n1", Nodes: []swarm.Node{node("1", leader, unknown), node("2"), node("3")}, Hosts: hosts, IP: ip("h1")},
			Keep, "", "the leader's"},
		{"holder down: to the Ready follower", Observation{Self: "n1", Nodes: []swarm.Node{node("1", leader), node("2", down), node("3")}, Hosts: hosts, IP: ip("h2")},
			Move, "h3", "is down (heartbeat failure)"},
		{"holder down, followers by host name", Observation{Self: "n3", Nodes: []swarm.Node{node("1"), node("2", down), node("3", leader), node("4")}, Hosts: append(hosts, host("4")), IP: ip("h2")},
			Move, "h1", "node n2 is down"},
		{"holder down, no Ready follower: to the leader's host", Observation{Self: "n1", Nodes: []swarm.Node{node("1", leader), node("2", down), node("3", down)}, Hosts: hosts, IP: ip("h2")},
			Move, "h1", "the leader's own"},
		{"holder unknown after an election", Observation{Self: "n3", Nodes: []swarm.Node{node("1", unknown), node("2", unknown), node("3", leader)}, Hosts: hosts, IP: ip("h1")},
			Move, "h3", "is unknown"},
		{"holder's node missing", Observation{Self: "n1", Nodes: []swarm.Node{node("1", leader), node("3")}, Hosts: hosts, IP: ip("h2")},
			Move, "h3", "whose node is not in the swarm"},
		{"holder's host not a manager", Observation{Self: "n1", Nodes: []swarm.Node{node("1", leader), node("2"), node("3")}, Hosts: hosts, IP: ip("h77")},
			Move, "h2", "not one of the cluster's managers"},
		{"holder drained", Observation{Self: "n1", Nodes: []swarm.Node{node("1", leader), node("2", drained), node("3")}, Hosts: hosts, IP: ip("h2")},
			Move, "h3", "drained"},
		{"holder demoted", Observation{Self: "n1", Nodes: []swarm.Node{node("1", leader), node("2", worker), node("3")}, Hosts: hosts, IP: ip("h2")},
			Move, "h3", "no longer a manager"},
		{"unassigned", Observation{Self: "n1", Nodes: []swarm.Node{node("1", leader), node("2"), node("3")}, Hosts: hosts, IP: ip("")},
			Move, "h2", "not assigned"},
		{"targets skip drained, unknown, unreachable and off", Observation{Self: "n1",
			Nodes: []swarm.Node{node("1", leader), node("2", down), node("3", drained), node("4", unknown), node("5", func(n *swarm.Node) {
				n.ManagerStatus.Reachability = swarm.ReachabilityUnreachable
			}), node("6"), node("7")},
			Hosts: []cloud.Host{host("1"), host("2"), host("3"), host("4"), host("5"), func() cloud.Host { h := host("6"); h.Status = cloud.HostOff; return h }(), host("7")},
			IP:    ip("h2")},
			Move, "h7", "node n2 is down"},
		{"nowhere to go", Observation{Self: "n1", Nodes: []swarm.Node{node("1", leader), node("2", down)}, Hosts: []cloud.Host{host("2")}, IP: ip("h2")},
			Stuck, "", "no Ready manager can take it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.obs)
			if d.Action != tc.action || d.To != tc.to || !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("Decide = %+v, want %s to %q, reason containing %q", d, tc.action, tc.to, tc.reason)
			}
		})
	}
}
