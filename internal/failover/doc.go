// Package failover is the in-cluster agent that keeps a floating IP on a
// Ready manager of a Haddock swarm (cmd/haddock-agent), what the agent's
// service and image are, and how fast it reacts.
//
// # Deploying it
//
// The caller (the provider's haddock_floating_ip following a cluster)
// pushes the agent's image (BuildImage, PushImage) and calls Deploy with a
// manager's Docker API, the image and a Config: Deploy creates the
// configuration's swarm secret (named by a hash of its content, so a new
// configuration is a new secret) and creates or updates the service
// ServiceSpec describes — global, constraint node.role == manager, the
// engine's socket /var/run/docker.sock bind-mounted, the secret at
// /run/secrets/haddock-agent (root only), restart on any exit. The IP may
// be created unassigned: the agent assigns it.
//
// # Configuration
//
// A JSON document (Config), the swarm secret; unknown keys are refused:
//
//	{"cloud": "digitalocean", "token": "...", "api_endpoint": "http://10.213.0.1:9080",
//	 "floating_ip_id": "10.213.128.3", "cluster_uid": "...", "poll_interval": "1s", "cloud_refresh": "30s"}
//	{"cloud": "aws", "region": "eu-central-1", "access_key": "...", "secret_key": "...",
//	 "floating_ip_id": "eipalloc-...", "cluster_uid": "..."}
//
// The driver is built by NewCloud from internal/cloud/digitalocean or
// internal/cloud/aws (never the provider). What the credential needs:
// DigitalOcean, reading droplets (by tag) and reserved IPs and assigning a
// reserved IP (a token scoped to droplet:read, reserved_ip:read and
// reserved_ip:update); AWS, ec2:DescribeAddresses, ec2:DescribeInstances
// and ec2:AssociateAddress (without keys the SDK's chain applies: an
// instance profile needs IMDSv2's hop limit at 2 to be reached from a
// container). Config.String redacts every credential; the agent logs
// nothing else of its configuration.
//
// # Who acts: the Raft leader
//
// Every manager runs an instance; each reads its own node id (Info) and
// the node list from its local engine every poll. Only the instance whose
// own node has ManagerStatus.Leader acts. That is enough for one actor at
// a time: Raft elects at most one leader per term, and a node's state
// changes (Ready → down or unknown) are written by the leader's dispatcher
// through Raft, which needs a quorum. An old leader cut off from the
// majority cannot commit such a change, so it never sees a node go down
// and has nothing to act on; swarmkit runs Raft with CheckQuorum, so it
// steps down after an election timeout and its node list calls then fail.
// During an election there is no leader: node list calls fail on every
// manager, every agent waits and logs the error once, and the new leader's
// agent acts on its first round. Even if two instances believed themselves
// leader for a moment, both would only move an IP off a host that is not
// a Ready manager, to a Ready manager: the worst case is one extra move.
//
// # The decision (Decide)
//
// The leader's agent finds the IP's holder with GetFloatingIP, the
// managers' hosts with ListHosts(cluster.GroupTag(uid, "manager")), and
// maps each host to its node by its "haddock-uid:<uid>" tag and the
// node's "haddock.uid" engine label. The IP stays while it is on the
// leader's own host or on a manager whose node is Ready, active and a
// manager: a Ready manager's IP is never moved. It moves when it is
// unassigned, on a host that is not a manager of the cluster, on a host
// whose node is missing from the swarm, not Ready (down, or unknown after
// a leadership change), drained or demoted.
//
// It moves to a follower that is Ready, active and reachable in Raft (the
// lowest host name), and to the leader's own host only when there is no
// such follower. Not the leader first: the leader's host is certainly
// alive, but a holder that is the leader is the slow case — when it fails,
// nothing can act before a new leader is elected (see below), which alone
// may take longer than the recovery target, whereas a follower's failure
// is seen within the dispatcher's grace period by a leader that is still
// there. A follower's Ready may be up to one grace period stale; if it
// was failing too, the next rounds see it and move the IP again.
//
// Cloud calls are few: the leader re-reads the IP and the hosts every
// Config.CloudRefresh (30 s) while nothing needs doing, whenever the set of
// nodes that are not Ready changes (the IP may have been moved by hand
// since the last read, onto the node that just went down: trusting the
// cache would keep it there until the refresh), and always right before a
// move (never acting on a cached view): about 240 calls an hour, well
// under DigitalOcean's 5,000. The node list comes from the local
// engine and costs nothing. A failed call is logged and retried on the
// next round; a round's calls are bounded by max(10 s, 5 polls).
//
// # Timing: the swarm's detection delay and the poll interval
//
// Failover time (abrupt failure of the holding manager → the first request
// through the IP answered) is
//
//	detection (swarm) + up to one poll interval + cloud calls (read IP and hosts, assign, wait for the action)
//
// Detection is swarmkit's dispatcher (manager/dispatcher, nodes.go and
// period.go in moby/swarmkit): each node heartbeats the leader every
// period′, where period′ is the swarm's Dispatcher.HeartbeatPeriod P
// (default 5 s) with a random ±500 ms (heartbeat epsilon) chosen at each
// heartbeat; the leader marks a node down ("heartbeat failure") when
// nothing came for grace = period′ × 3 (the grace period multiplier)
// after its last heartbeat. A node failing between two heartbeats is
// therefore marked down between 2·period′ and 3·period′ after it failed:
// at most 3·(P + 0.5 s). With the default 5 s that is up to 16.5 s —
// alone over a 15 s target —; with P = 2 s, 4.5 to 7.5 s; with P = 1 s,
// 1.5 to 4.5 s. After a leadership change the new leader's dispatcher
// marks every node unknown and gives it twice the grace (6·period′) to
// heartbeat again; the agent treats unknown as not Ready, so it does not
// wait for that.
//
// When the failed holder is the leader itself, a new leader must be
// elected first: Raft's election timeout is the engine's
// swarm-raft-election-tick (daemon.json; default 10) ticks of 1 s,
// randomized up to twice that, so 10 to 20 s before any agent can act.
// The agent avoids that case by not preferring the leader's host (above);
// it remains possible when leadership later lands on the holder. Lowering
// swarm-raft-election-tick (for example to 5 with the default heartbeat
// tick 1) bounds it, at the price of elections on shorter hiccups.
//
// The poll interval (Config.PollInterval, default 1 s) adds up to one
// interval; it costs one node list call on the local engine per manager
// per interval and nothing on the cloud.
//
// The trade-off is the heartbeat period: shorter detects faster but marks
// nodes down on shorter stalls (a 3·P network blip or pause makes the
// swarm reschedule the node's tasks and the agent move the IP), and each
// node sends 1/P heartbeats a second to the leader. For the 15 s target,
// Dispatcher.HeartbeatPeriod = 2 s leaves about 7 s for the poll and the
// vendor's assignment (DigitalOcean's reserved IP action, EC2's
// AssociateAddress take a few seconds); 1 s leaves 10 s when the vendor is
// slow.
//
// Measured on localcloud (real hosts, 3 managers and 2 workers, the
// counter stack, HeartbeatPeriod 2 s, poll 1 s; BenchmarkRealFailover):
// requests through the IP answer again 3.9 to 6.6 s after a follower
// holding it fails (min/median/max 5.7/5.9/6.6 s over 5 trials; the window
// of failed requests is about 0.2 s shorter); a failed
// leader holding the IP (it got there when the only other follower had not
// rejoined Raft yet) after 22.8 s, of which the election is 10 to 20 s:
// over the 15 s target, hence the follower preference and the advice on
// swarm-raft-election-tick above.
package failover
