package cluster

import (
	"net"
	"sort"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

// buildView joins a group's hosts (one tag-filtered list) with the swarm's
// nodes (one node list from a manager). A node belongs to a host by the
// engine label haddock.uid, which the host's daemon.json sets from the same
// uid its tags record; nodes without it (engines configured by hand) are
// matched by hostname or address. A node of the group whose host is gone
// becomes a member without a host; when a host has several nodes (it left
// and joined again) the best is its node and the others are stale.
func buildView(clusterUID, group string, cloudOf func(hostID string) cloud.Name, hosts []cloud.Host, nodes []swarm.Node, swarmErr error) *View {
	v := &View{ClusterUID: clusterUID, Group: group, SwarmError: swarmErr}
	byUID := map[string]int{}
	byName := map[string]int{}
	byAddr := map[string]int{}
	for _, h := range hosts {
		uid := HostUID(h)
		m := Member{
			Group: group, HostID: h.ID, Name: h.Name, Cloud: cloudOf(h.ID), Status: h.Status,
			PublicIPv4: h.PublicIPv4, PrivateIPv4: h.PrivateIPv4, CreatedAt: h.CreatedAt,
			Region: h.Region, Size: h.Size, Image: h.Image, SpecHash: HostSpecHash(h),
			UID: uid,
		}
		if uid != "" {
			m.Identity = Identity(uid)
			byUID[uid] = len(v.Members)
		}
		byName[h.Name] = len(v.Members)
		for _, a := range []string{h.PrivateIPv4, h.PublicIPv4} {
			if a != "" {
				byAddr[a] = len(v.Members)
			}
		}
		v.Members = append(v.Members, m)
	}

	owned := make([][]swarm.Node, len(v.Members))
	orphans := map[string][]swarm.Node{}
	var orphanOrder []string
	for _, n := range nodes {
		uid := n.EngineLabels[EngineLabelUID]
		if uid == "" {
			i, ok := byName[n.Hostname]
			if !ok {
				i, ok = byAddr[n.Addr]
			}
			if ok {
				owned[i] = append(owned[i], n)
			}
			continue
		}
		if i, ok := byUID[uid]; ok {
			owned[i] = append(owned[i], n)
			continue
		}
		if n.EngineLabels[EngineLabelCluster] == clusterUID && n.EngineLabels[EngineLabelGroup] == group {
			if _, seen := orphans[uid]; !seen {
				orphanOrder = append(orphanOrder, uid)
			}
			orphans[uid] = append(orphans[uid], n)
		}
	}
	for i, ns := range owned {
		best, stale := pickNode(ns)
		if best != nil {
			setNode(&v.Members[i], *best)
		}
		v.StaleNodes = append(v.StaleNodes, stale...)
	}
	var missing []Member
	for _, uid := range orphanOrder {
		best, stale := pickNode(orphans[uid])
		m := Member{Group: group, Cloud: cloudOf(""), UID: uid, Identity: Identity(uid)}
		setNode(&m, *best)
		missing = append(missing, m)
		v.StaleNodes = append(v.StaleNodes, stale...)
	}
	sort.SliceStable(missing, func(i, j int) bool { return missing[i].Hostname < missing[j].Hostname })
	v.Members = append(v.Members, missing...)
	return v
}

// pickNode returns the best of a host's nodes and the ids of the others.
func pickNode(ns []swarm.Node) (*swarm.Node, []string) {
	if len(ns) == 0 {
		return nil, nil
	}
	best := 0
	for i := range ns {
		if betterNode(ns[i], ns[best]) {
			best = i
		}
	}
	var stale []string
	for i, n := range ns {
		if i != best {
			stale = append(stale, n.ID)
		}
	}
	return &ns[best], stale
}

func setNode(m *Member, n swarm.Node) {
	m.NodeID = n.ID
	m.Hostname = n.Hostname
	m.Role = n.Role
	m.State = n.State
	m.Availability = n.Availability
	m.Labels = cloneLabels(n.Labels)
	m.NodeCreatedAt = n.CreatedAt
	m.Advertised = n.Addr
	if n.ManagerStatus != nil {
		m.Leader = n.ManagerStatus.Leader
		m.Reachable = n.ManagerStatus.Reachability == swarm.ReachabilityReachable
		if h, _, err := net.SplitHostPort(n.ManagerStatus.Addr); err == nil {
			m.Advertised = h
		}
	}
}

// workerNodes converts members with a worker node for
// swarm.ChooseWorkersToRemove. "Newest" is the host's creation, not the
// node's: the hosts of a wave join concurrently, in no particular order.
// Hosts created by one call share a creation time (vendors report
// seconds), so the index in the name breaks the tie — adding it in
// nanoseconds keeps web-10 newer than web-9, which comparing hostnames
// would not.
func workerNodes(ms []Member) []swarm.WorkerNode {
	var out []swarm.WorkerNode
	for _, m := range ms {
		if m.NodeID == "" || m.Role == swarm.RoleManager {
			continue
		}
		created := m.NodeCreatedAt
		if !m.CreatedAt.IsZero() {
			_, idx := splitIndex(m.Name)
			created = m.CreatedAt.Add(time.Duration(idx))
		}
		out = append(out, swarm.WorkerNode{ID: m.NodeID, Hostname: m.Hostname, State: m.State, CreatedAt: created})
	}
	return out
}
