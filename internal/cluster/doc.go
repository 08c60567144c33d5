// Package cluster orchestrates Docker Swarm clusters on rented hosts: the
// logic behind the haddock_swarm_cluster and haddock_node_group resources.
// It reaches vendors only through cloud.Driver (and cloud.HostWatcher) and
// engines only through internal/swarm, so it never sees godo, the AWS SDK
// or Terraform; it logs with tflog (subsystem "cluster").
//
// # API
//
//	c, view, err := cluster.Create(ctx, driver, spec, opts) // new cluster; save c.State() even when err != nil
//	c, err := cluster.Open(driver, state, opts)             // an existing one, from persisted state
//	view, err := c.Observe(ctx)                             // refresh
//	view, err := c.Apply(ctx, spec)                         // update: manager count, labels, settings
//	err := c.Destroy(ctx, cluster.DestroyOptions{})
//	key, err := c.UnlockKey(ctx)                            // autolock's key, read when needed
//
//	g, err := c.NodeGroup(groupDriver, "web")               // groupDriver may be another vendor's
//	view, err := g.Apply(ctx, groupSpec)                    // create and update
//	view, err := g.Observe(ctx)
//	err := g.Destroy(ctx, cluster.GroupDestroyOptions{DrainTimeout: d})
//
// Region, size and image are vendor-native values: the caller resolves
// portable ones through the catalog first. Mutating calls return the view
// alongside their error, so a resource can record what exists after a
// partial failure.
//
// # What the caller persists
//
// Only State: the cluster uid, the swarm ID, and Credentials — the
// cluster's own CA (certificate and key) and the client certificate and key
// the provider presents to every engine (all secret except the CA
// certificate: sensitive attributes). A node group persists nothing of its
// own beyond its configuration: its hosts are found by tag. Everything
// else (hosts, addresses, identities, nodes, roles, the leader, the swarm's
// settings) is observed. Join tokens are read from a manager over mutual
// TLS when a node joins and are never returned; neither is autolock's
// unlock key unless UnlockKey is called.
//
// # Identity and membership, recorded on the host
//
// Each host gets a random uid at creation. Its TLS identity is
// pki.HostIdentity(uid), "<uid>.hosts.haddock.internal": the engine's
// server certificate (a key pair of its own, signed by the cluster CA,
// delivered in the user data by cloudinit.Render) names it, and every
// connection verifies it, whatever address is dialled. Membership is
// recorded in vendor tags (DigitalOcean allows letters, digits, ':', '-'
// and '_'; the AWS driver maps each neutral tag t to the EC2 tag key
// "haddock:tag:<t>"):
//
//	haddock                                  every Haddock host (cloud.ManagedTag, added by the drivers)
//	haddock-cluster:<cluster uid>            every host of the cluster
//	haddock-group:<cluster uid>:<group>      every host of one group; the managers are the group "manager"
//	haddock-role:manager|worker              the role the host joined with
//	haddock-uid:<host uid>                   the host's uid, hence its identity
//
// and in the engine's labels (daemon.json), which Swarm reports with each
// node, so a node is tied to its host from the node list alone:
//
//	haddock.cluster=<cluster uid>  haddock.group=<group>  haddock.uid=<host uid>
//
// Services may place tasks with them: "engine.labels.haddock.group == web".
// Group names are lower-case letters, digits and hyphens; "manager" is
// reserved. Hosts are named "<cluster name>-manager-<n>" and
// "<group or HostNamePrefix>-<n>", n the lowest free index.
//
// # Refresh costs no call per host
//
// Observe lists the group by its tag (one list call; the driver reads every
// page), lists the managers by theirs (one more, for a node group) and reads
// the node list from the first manager that answers. A member is a host
// with its node; a node of the group whose host is gone (deleted outside
// Haddock) is a member without a host (Member.HostMissing), down, so the
// resource can plan to replace it; Member.Problem says what is wrong.
//
// # Creating a cluster
//
// Create makes the uid and the credentials, then Apply creates every
// manager with one CreateHosts call, waits for them together through a
// HostWatcher (one list call per poll for all of them, never a GET per
// host) and for their engines to answer over mutual TLS, runs swarm init on
// the first advertising its private address (Settings.Advertise), then
// joins the others one at a time as managers, each ready and reachable in
// Raft before the next. DigitalOcean's multi-create cannot batch these
// requests into one: every host's user data differs (its own key pair), so
// the driver sends one create request per host inside that one call.
//
// # Changing the managers
//
// Apply validates the count (1, 3, 5 or 7, swarm.ValidManagerCount) and:
// removes managers whose hosts were deleted outside Haddock
// (swarm.PlanRemoveManagers: demoted, then removed); joins manager hosts
// that are not in the swarm (an earlier run failed); grows by creating the
// new hosts in one call and joining them one at a time; shrinks following
// swarm.PlanManagerChange — unreachable managers first, then the newest,
// the leader last (so it stays) — each demoted (Demote waits until Raft has
// accepted it), left, removed from the node list, its host deleted, every
// call going to a manager that stays. A change that needs a quorum the
// swarm lacks, or would leave it without one, is refused before anything
// is touched, with the arithmetic ("3 managers with 2 unreachable: quorum
// is 2 of 3, only 1 reachable; ..."). Node labels are set where they
// differ; autolock and the task history limit are updated in place.
// DefaultAddrPool and SubnetSize are fixed at creation; ClusterView.Settings
// shows the swarm's, for drift detection. Region, size and image apply to
// hosts created afterwards only: the resource should require replacement
// when they change.
//
// # Node groups
//
// A node group's hosts may be on another vendor than the managers: the
// group has its own driver, the managers are reached through the
// cluster's. Its nodes advertise the kind of address the managers
// advertise; with private addresses (the default) hosts of another vendor
// need a network path to the managers' private network (VPN, peering), so
// use Settings.Advertise = AddressPublic without one, and open 2377/tcp,
// 7946/tcp+udp and 4789/udp between the hosts.
//
// Apply grows by creating only the new hosts, in waves of
// Options.Concurrency hosts (default 64: 50 hosts boot in one wave), one
// CreateHosts call per wave, all of a wave waited for together, each
// joined as a worker as soon as its engine answers, with a worker token
// read once from a manager — at most 8 joins at once, fewer after joins
// fail for a passing reason (a timeout, no route), and such a join retried
// only once the host's engine and the managers say its node did not join
// after all (joinwave.go). It shrinks by choosing nodes with
// swarm.ChooseWorkersToRemove (not ready first, then newest), draining
// them together (swarm.DrainNodes, bounded by GroupSpec.DrainTimeout: when
// their tasks cannot be placed elsewhere nothing is removed, the nodes are
// set back, and the error names each service and task that could not be
// placed with the scheduler's reason), then for each: Leave, remove from
// the node list, delete the host. Nothing else is touched: existing nodes
// only get their labels or availability set when those differ from the
// spec. Apply also removes nodes of deleted hosts, replaces hosts the
// vendor failed, and joins hosts an earlier run created but could not join.
//
// Destroy never costs the swarm its quorum: nodes promoted to manager by
// hand are demoted first, one at a time (swarm.PlanRemoveManagers), and a
// host whose node could not be demoted is kept and named in the error. It
// drains the nodes as a shrink does, bounded by the drain timeout, but a
// drain that cannot place every task does not stop it (the group was asked
// to go): then each node leaves, is removed through a manager, and every
// host is deleted and waited for. When no manager answers, each host's own
// engine is asked: hosts that say they are not managers are deleted; if
// one answers as a manager, or does not answer while the cluster has
// manager hosts, nothing is deleted and the error says what to do.
//
// Cluster.Destroy deletes the managers' hosts (found by the cluster tag);
// the swarm goes with them. It refuses while node groups on the managers'
// vendor still have hosts, naming them, unless DestroyOptions says to
// delete them too; Terraform destroys node groups first since they
// reference the cluster.
//
// # Errors and partial progress
//
// Every failure concerning one host or node is a *HostError: the host's
// name, vendor and id, the node id, what was being done, the cause, and
// what to do (Fix); HostErrors extracts them from an operation's error.
// Operations go as far as they safely can: a host whose join failed is
// reported and the others carry on; the view returned with the error shows
// what exists. Since hosts are found by tag, running Apply again picks up
// from there (created hosts are joined, not created again); a failed
// Create still returns the Cluster, whose State must be saved so that
// Apply can resume and Destroy can clean up.
//
// # Overlay encryption
//
// Docker has no swarm-wide default for overlay encryption: it is the
// "encrypted" option of each overlay network. Settings.EncryptOverlayByDefault
// is therefore recorded, not applied: whoever creates overlay networks for
// the cluster (stacks) passes Settings.OverlayDriverOptions() to them. It is
// not observable from the swarm; the cluster resource keeps it in its
// configuration.
//
// # Testing seams
//
// Options.Dial opens engines: the default is mutual TLS (swarm.Connect);
// tests substitute an in-memory swarm behind the Engine interface, so the
// orchestration runs against fake drivers, or against localcloud's
// in-memory backend (whose hosts run no Docker) to count API requests.
//
// # Load balancers
//
// HostsSpec.LoadBalancers ("<cloud>/<vendor id>") are load balancers
// whose targets a group's hosts are; the group owns that membership
// (loadbalancers.go): a host is registered once its node is ready and the
// tasks placed on it run, and deregistered — cloud.LoadBalancers
// RemoveTargets returns once the load balancer sends it nothing new —
// before it is drained: on shrink, rollout (the replacement registered
// first), migration and NodeGroup.Destroy (GroupDestroyOptions
// .LoadBalancers). After every apply the load balancers' targets among the
// group's hosts are its ready hosts; FormerLoadBalancers lose the group's
// hosts; other targets are left alone.
//
// # Firewall
//
// ClusterSpec.Firewall and GroupSpec.Firewall (a FirewallPolicy; nil
// leaves the firewalls alone) keep one vendor firewall per place the
// cluster has hosts, named FirewallName and applying to the cluster tag
// (firewall.go): Swarm's ports from the cluster's hosts, the Docker API and
// SSH from the policy's sources, what the services publish from anywhere.
// A run keeps it before it creates hosts, before hosts of another vendor
// join (booted first, so their addresses are known), and as it settles;
// Cluster.SyncFirewall is what a stack calls after a deploy. The last host
// at a place takes the place's firewall with it (Destroy).
package cluster
