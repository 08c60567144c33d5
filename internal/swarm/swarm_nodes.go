package swarm

// Node operations: listing and finding nodes, availability, labels, roles,
// removal, and the waiters. They all run against a manager.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/swarm"

	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

// Nodes returns the swarm's nodes, sorted by hostname then ID.
func (c *Client) Nodes(ctx context.Context) ([]Node, error) {
	api, err := c.swarm()
	if err != nil {
		return nil, err
	}
	return c.nodes(ctx, api)
}

func (c *Client) nodes(ctx context.Context, api swarmEngine) ([]Node, error) {
	list, err := api.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing swarm nodes through %s at %s: %w", c.identity, c.host, err)
	}
	out := make([]Node, len(list))
	for i, n := range list {
		out[i] = nodeFromAPI(n)
	}
	sortNodes(out)
	return out, nil
}

// NodeByID returns a node. An unknown ID gives an error wrapping
// ErrNotFound.
func (c *Client) NodeByID(ctx context.Context, id string) (*Node, error) {
	api, err := c.swarm()
	if err != nil {
		return nil, err
	}
	n, err := c.inspectNode(ctx, api, id)
	if err != nil {
		return nil, err
	}
	out := nodeFromAPI(n)
	return &out, nil
}

func (c *Client) inspectNode(ctx context.Context, api swarmEngine, id string) (swarm.Node, error) {
	if id == "" {
		return swarm.Node{}, fmt.Errorf("swarm node: empty ID: %w", ErrNotFound)
	}
	n, _, err := api.NodeInspectWithRaw(ctx, id)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return swarm.Node{}, fmt.Errorf("swarm node %s: %w", id, ErrNotFound)
		}
		return swarm.Node{}, fmt.Errorf("reading swarm node %s through %s: %w", id, c.identity, err)
	}
	return n, nil
}

// NodeByHostname returns the node with that hostname. When a host was
// replaced, the swarm may still list its former node (down) beside the new
// one: the node that is not down is returned. No node gives an error
// wrapping ErrNotFound; several that are not down (or only down ones) give
// an error listing them.
func (c *Client) NodeByHostname(ctx context.Context, hostname string) (*Node, error) {
	nodes, err := c.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	n, err := FindNodeByHostname(nodes, hostname)
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// FindNodeByHostname is NodeByHostname on a node list already read.
func FindNodeByHostname(nodes []Node, hostname string) (Node, error) {
	var all, live []Node
	for _, n := range nodes {
		if n.Hostname != hostname {
			continue
		}
		all = append(all, n)
		if n.State != NodeStateDown {
			live = append(live, n)
		}
	}
	switch {
	case len(all) == 0:
		return Node{}, fmt.Errorf("swarm node with hostname %q: %w", hostname, ErrNotFound)
	case len(all) == 1:
		return all[0], nil
	case len(live) == 1:
		return live[0], nil
	}
	desc := make([]string, len(all))
	for i, n := range all {
		desc[i] = fmt.Sprintf("%s (%s)", n.ID, n.State)
	}
	return Node{}, fmt.Errorf("%d swarm nodes have hostname %q: %s; use the node ID", len(all), hostname, strings.Join(desc, ", "))
}

// updateNode applies mutate to a node's spec and writes it back when
// mutate reports a change, retrying when the update races with another.
// It returns the node as read before the last update.
func (c *Client) updateNode(ctx context.Context, api swarmEngine, id, what string, mutate func(*swarm.Node) (bool, error)) (swarm.Node, error) {
	for attempt := 1; ; attempt++ {
		n, err := c.inspectNode(ctx, api, id)
		if err != nil {
			return n, fmt.Errorf("%s: %w", what, err)
		}
		changed, err := mutate(&n)
		if err != nil || !changed {
			return n, err
		}
		err = api.NodeUpdate(ctx, id, n.Version, n.Spec)
		if err == nil {
			return n, nil
		}
		if !outOfSequence(err) || attempt == maxUpdateAttempts {
			return n, fmt.Errorf("%s: updating node %s through %s: %w", what, id, c.identity, err)
		}
	}
}

// SetAvailability sets a node's availability: active, pause or drain. To
// drain nodes and wait until their tasks run elsewhere, use DrainNodes.
func (c *Client) SetAvailability(ctx context.Context, nodeID string, a Availability) error {
	api, err := c.swarm()
	if err != nil {
		return err
	}
	if !a.valid() {
		return fmt.Errorf("setting availability of node %s: %q is not active, pause or drain", nodeID, a)
	}
	_, err = c.updateNode(ctx, api, nodeID, "setting availability of node "+nodeID, func(n *swarm.Node) (bool, error) {
		if n.Spec.Availability == swarm.NodeAvailability(a) {
			return false, nil
		}
		n.Spec.Availability = swarm.NodeAvailability(a)
		return true, nil
	})
	return err
}

// SetLabels replaces a node's swarm labels (the ones placement constraints
// match as node.labels.<key>) with labels.
func (c *Client) SetLabels(ctx context.Context, nodeID string, labels map[string]string) error {
	api, err := c.swarm()
	if err != nil {
		return err
	}
	_, err = c.updateNode(ctx, api, nodeID, "setting labels of node "+nodeID, func(n *swarm.Node) (bool, error) {
		if maps.Equal(n.Spec.Labels, labels) || (len(n.Spec.Labels) == 0 && len(labels) == 0) {
			return false, nil
		}
		n.Spec.Labels = maps.Clone(labels)
		return true, nil
	})
	return err
}

// UpdateLabels sets the labels in set and removes the keys in remove,
// leaving a node's other labels alone (labels set by someone else).
func (c *Client) UpdateLabels(ctx context.Context, nodeID string, set map[string]string, remove []string) error {
	api, err := c.swarm()
	if err != nil {
		return err
	}
	_, err = c.updateNode(ctx, api, nodeID, "updating labels of node "+nodeID, func(n *swarm.Node) (bool, error) {
		labels := maps.Clone(n.Spec.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		for _, k := range remove {
			delete(labels, k)
		}
		maps.Copy(labels, set)
		if maps.Equal(labels, n.Spec.Labels) || (len(labels) == 0 && len(n.Spec.Labels) == 0) {
			return false, nil
		}
		n.Spec.Labels = labels
		return true, nil
	})
	return err
}

// Promote makes a worker a manager and waits until it is a reachable Raft
// member, or ctx ends. A node that is not ready is refused: it would join
// Raft unreachable and lower the swarm's fault tolerance. Mind the count:
// promote towards an odd number of managers (ValidManagerCount,
// PlanManagerChange).
func (c *Client) Promote(ctx context.Context, nodeID string) error {
	api, err := c.swarm()
	if err != nil {
		return err
	}
	what := "promoting node " + nodeID
	n, err := c.updateNode(ctx, api, nodeID, what, func(n *swarm.Node) (bool, error) {
		if n.Spec.Role == swarm.NodeRoleManager {
			return false, nil
		}
		if n.Status.State != swarm.NodeStateReady {
			return false, fmt.Errorf("%s (%s): the node is %s; a manager that is not ready would join Raft unreachable", what, n.Description.Hostname, n.Status.State)
		}
		n.Spec.Role = swarm.NodeRoleManager
		return true, nil
	})
	if err != nil {
		return err
	}
	what = fmt.Sprintf("promoting node %s (%s)", n.Description.Hostname, nodeID)
	return c.waitNode(ctx, api, nodeID, what, func(n swarm.Node) (bool, string) {
		if n.ManagerStatus == nil {
			return false, "not a Raft member yet"
		}
		if n.ManagerStatus.Reachability != swarm.ReachabilityReachable {
			return false, "manager " + string(n.ManagerStatus.Reachability)
		}
		return true, ""
	})
}

// Demote makes a manager a worker and waits until it is no longer a Raft
// member (the node list shows no manager status for it), or ctx ends.
// Demotion is a Raft membership change: it is refused, with the arithmetic,
// when it needs a quorum that is not there or would leave the remaining
// managers without one (CanDemote), and so is demoting the last manager.
// Demoting the leader makes Raft elect another.
//
// Demote from another manager: when this client's own engine is demoted it
// can no longer list nodes, so the wait only sees the engine stop being a
// manager.
func (c *Client) Demote(ctx context.Context, nodeID string) error {
	api, err := c.swarm()
	if err != nil {
		return err
	}
	nodes, err := c.nodes(ctx, api)
	if err != nil {
		return fmt.Errorf("demoting node %s: %w", nodeID, err)
	}
	var target *Node
	for i := range nodes {
		if nodes[i].ID == nodeID {
			target = &nodes[i]
		}
	}
	if target == nil {
		return fmt.Errorf("demoting node %s: %w", nodeID, ErrNotFound)
	}
	what := "demoting node " + target.String()
	if target.ManagerStatus == nil && target.Role == RoleWorker {
		return nil
	}
	if target.ManagerStatus != nil && target.Role == RoleManager {
		if err := CanDemote(ManagersOf(nodes), nodeID); err != nil {
			return err
		}
	}
	in, err := api.Info(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	self := in.Swarm.NodeID == nodeID
	if _, err := c.updateNode(ctx, api, nodeID, what, func(n *swarm.Node) (bool, error) {
		if n.Spec.Role == swarm.NodeRoleWorker {
			return false, nil
		}
		n.Spec.Role = swarm.NodeRoleWorker
		return true, nil
	}); err != nil {
		return err
	}
	if self {
		return c.waitLocal(ctx, api, what, func(in LocalNodeState, manager bool) (bool, string) {
			if manager {
				return false, "still a manager"
			}
			return true, ""
		})
	}
	return c.waitNode(ctx, api, nodeID, what, func(n swarm.Node) (bool, string) {
		if n.Spec.Role != swarm.NodeRoleWorker {
			return false, "role " + string(n.Spec.Role)
		}
		if n.ManagerStatus != nil {
			return false, "still a Raft member"
		}
		return true, ""
	})
}

// RemoveNode removes a node from the swarm's node list. It is idempotent:
// an unknown node is not an error. A manager must be demoted first. Without
// force, Docker only removes a node that is down, i.e. that has left (Leave
// on the node) or whose host is gone; force removes a live node, whose
// engine then keeps trying to reach the swarm until it leaves.
func (c *Client) RemoveNode(ctx context.Context, nodeID string, force bool) error {
	api, err := c.swarm()
	if err != nil {
		return err
	}
	n, err := c.inspectNode(ctx, api, nodeID)
	if err != nil {
		if cerrdefs.IsNotFound(err) || errors.Is(err, ErrNotFound) {
			return nil
		}
		return fmt.Errorf("removing node %s: %w", nodeID, err)
	}
	what := fmt.Sprintf("removing node %s (%s)", n.Description.Hostname, nodeID)
	if n.ManagerStatus != nil {
		return fmt.Errorf("%s: the node is a manager; Demote it first", what)
	}
	err = api.NodeRemove(ctx, nodeID, swarm.NodeRemoveOptions{Force: force})
	if err == nil || cerrdefs.IsNotFound(err) {
		return nil
	}
	if !force && n.Status.State != swarm.NodeStateDown {
		return fmt.Errorf("%s: %w; the node is %s: it must leave the swarm first (Leave on the node, or destroy its host), or be removed with force", what, err, n.Status.State)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// WaitNodeReady waits until a node with this hostname is ready, and
// returns it. See WaitNodesReady.
func (c *Client) WaitNodeReady(ctx context.Context, hostname string) (*Node, error) {
	nodes, err := c.WaitNodesReady(ctx, []string{hostname})
	if err != nil {
		return nil, err
	}
	return &nodes[0], nil
}

// WaitNodesReady waits until, for every hostname, a node with that
// hostname is ready, and returns those nodes in the order of hostnames. It
// reads the node list once per poll, whatever the number of hostnames.
// Errors are retried (a leader election makes the managers refuse requests
// for a moment) except those saying the engine is not a manager. When ctx
// ends, the error says which nodes were not ready and in what state.
func (c *Client) WaitNodesReady(ctx context.Context, hostnames []string) ([]Node, error) {
	api, err := c.swarm()
	if err != nil {
		return nil, err
	}
	out := make([]Node, len(hostnames))
	what := "swarm nodes " + strings.Join(hostnames, ", ") + " to be ready"
	err = wait.Until(ctx, polling(what), func(ctx context.Context) (bool, string, error) {
		nodes, err := c.nodes(ctx, api)
		if err != nil {
			if permanent(err) {
				return false, "", err
			}
			return false, "", wait.Retry(err)
		}
		var missing []string
		for i, h := range hostnames {
			n, state := readyNode(nodes, h)
			if n == nil {
				missing = append(missing, h+": "+state)
				continue
			}
			out[i] = *n
		}
		if len(missing) > 0 {
			return false, "not ready: " + strings.Join(missing, "; "), nil
		}
		return true, "", nil
	})
	switch {
	case err == nil:
		return out, nil
	case timedOut(err):
		return nil, err
	}
	return nil, fmt.Errorf("waiting for %s: %w", what, err)
}

// readyNode returns the ready node with hostname (the newest when a
// replaced host left several), or nil and a description of what there is.
func readyNode(nodes []Node, hostname string) (*Node, string) {
	var best *Node
	var states []string
	for i := range nodes {
		n := &nodes[i]
		if n.Hostname != hostname {
			continue
		}
		if n.State == NodeStateReady {
			if best == nil || n.CreatedAt.After(best.CreatedAt) {
				best = n
			}
			continue
		}
		s := string(n.State)
		if n.StateMessage != "" {
			s += " (" + n.StateMessage + ")"
		}
		states = append(states, s)
	}
	if best != nil {
		return best, ""
	}
	if len(states) == 0 {
		return nil, "not in the swarm"
	}
	return nil, strings.Join(states, ", ")
}

// WaitNodeDown waits until a node is down or gone from the node list: after
// Leave on the node, or once its host is destroyed. Then RemoveNode removes
// it without force.
func (c *Client) WaitNodeDown(ctx context.Context, nodeID string) error {
	api, err := c.swarm()
	if err != nil {
		return err
	}
	return c.waitNode(ctx, api, nodeID, "waiting for node "+nodeID+" to be down", func(n swarm.Node) (bool, string) {
		if n.Status.State == swarm.NodeStateDown {
			return true, ""
		}
		return false, string(n.Status.State)
	}, goneIsDone())
}

type waitOption func(*waitConfig)

type waitConfig struct{ goneIsDone bool }

func goneIsDone() waitOption { return func(w *waitConfig) { w.goneIsDone = true } }

// waitNode polls a node until done reports true, retrying errors that are
// not permanent. The error at the end of ctx carries the node's last state.
func (c *Client) waitNode(ctx context.Context, api swarmEngine, id, what string, done func(swarm.Node) (bool, string), opts ...waitOption) error {
	var cfg waitConfig
	for _, o := range opts {
		o(&cfg)
	}
	err := wait.Until(ctx, polling("node "+id), func(ctx context.Context) (bool, string, error) {
		n, err := c.inspectNode(ctx, api, id)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				if cfg.goneIsDone {
					return true, "", nil
				}
				return false, "", err
			}
			if permanent(err) {
				return false, "", err
			}
			return false, "", wait.Retry(err)
		}
		ok, s := done(n)
		return ok, s, nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// waitLocal polls the engine's own swarm state until done reports true.
func (c *Client) waitLocal(ctx context.Context, api swarmEngine, what string, done func(LocalNodeState, bool) (bool, string)) error {
	err := wait.Until(ctx, polling("engine "+c.identity), func(ctx context.Context) (bool, string, error) {
		in, err := api.Info(ctx)
		if err != nil {
			return false, "", wait.Retry(err)
		}
		ok, s := done(LocalNodeState(in.Swarm.LocalNodeState), in.Swarm.ControlAvailable)
		return ok, s, nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
