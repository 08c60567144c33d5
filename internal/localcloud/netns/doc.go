// Package netns is localcloud's real-host backend: every droplet is a Linux
// network namespace with its own IPv4 address on a bridge, its own hostname
// and its own dockerd, so Haddock's provider, its TLS client and Docker Swarm
// talk to real engines over real TCP/IP without any cloud account.
//
// # What a host is
//
// Provision creates, for HostSpec.ID "web1" with the default Config:
//
//   - the network namespace hdk-web1 (/run/netns/hdk-web1) with lo up and a
//     veth pair: eth0 inside, with the host's address from Config.Subnet and
//     a default route via the bridge's address; the machine side (hdk0v<n>)
//     is a port of the bridge hdk0;
//
//   - the host's directory StateDir/hosts/web1 holding its root (the files of
//     HostSpec.Files), the effective daemon.json, data-root (data/),
//     exec-root (run/), the daemon's unix socket (docker.sock), pid file and
//     log (dockerd.log);
//
//   - a dockerd in the namespace, with its own hostname and mounts.
//
// The dockerd is started as
//
//	nsenter --net=/run/netns/hdk-web1 -- \
//	  unshare --uts --mount --propagation private -- \
//	  /bin/sh -c SCRIPT localcloud-host web1 1 \
//	  dockerd --config-file StateDir/hosts/web1/daemon.json
//
// nsenter rather than "ip netns exec", which remounts /sys and hides the
// cgroup mounts dockerd needs. The daemon gets its own UTS namespace (so
// "docker info" reports the host's name) and its own mount namespace: every
// mount it makes (overlay layers, container network namespaces) lives there
// and disappears with it, and a private tmpfs on /run keeps its /run/docker,
// /run/containerd and the iptables lock away from the machine's and the
// other hosts' (not when StateDir is under /run, which it would hide). SCRIPT
// sets the hostname and first lazily unmounts the nsfs mounts copied from
// the machine (the other hosts' /run/netns entries): left there, they would
// keep those namespaces, and their veths, alive after the hosts are
// destroyed. dockerd runs its own containerd, whose state lives under the
// host's data-root and exec-root.
//
// Provision returns once the daemon's unix socket answers GET /_ping.
//
// # daemon.json and file paths
//
// cloud-init on a real droplet writes its write_files at absolute paths,
// /etc/docker/ca.pem and so on. Here each host has a root directory,
// StateDir/hosts/<id>/root, and every HostSpec.File is written below it:
// /etc/docker/ca.pem becomes StateDir/hosts/<id>/root/etc/docker/ca.pem. The
// original daemon.json is kept at root/etc/docker/daemon.json; the daemon
// runs with an effective copy, StateDir/hosts/<id>/daemon.json, in which:
//
//   - every string value that is the path of one of HostSpec.Files, or
//     lies under /etc/docker/, is rewritten into the host's root the same
//     way (tlscacert, tlscert, tlskey, ...);
//   - hosts keeps its tcp:// listeners (they bind inside the host's
//     namespace, so tcp://0.0.0.0:2376 is the host's own address) and
//     replaces unix:// and fd:// ones by StateDir/hosts/<id>/docker.sock
//     (what localcloud dials) and, with the private /run, by
//     /run/docker.sock: the host's own /var/run/docker.sock, which a
//     container bind-mounts to drive its engine as on any Docker host
//     (Haddock's failover agent does);
//   - data-root, exec-root and pidfile are set to the host's directory, and
//     "graph" and "containerd" (an external containerd) are dropped;
//   - storage-driver is set to the driver that works on StateDir's file
//     system (see Config.StorageDriver) when absent, or when it says overlay2
//     and overlay mounts do not work there;
//   - cgroup-parent defaults to /hdk-<id>, so the host's containers can be
//     found, killed and their cgroups removed on Destroy;
//   - for dockerd before 23, deprecated-key-path keeps the engine's key.json
//     in the host's directory instead of /etc/docker.
//
// Every setting is in the file: dockerd gets no other flag, so nothing can
// collide with daemon.json ("specified both as a flag and in the
// configuration file").
//
// # Network
//
// The bridge holds the gateway address (the first address of Subnet) and
// the machine reaches every host directly. Reserved IPs come from
// Config.ReservedPrefix, which must not overlap Subnet: AssignIP adds ip/32
// to the host's eth0 and routes ip/32 from the machine via the host's
// address; the whole prefix has an "unreachable" route so that an
// unassigned reserved IP never leaves the machine. Hosts reach each other's
// reserved IPs through their default route: forwarding is enabled on the
// bridge only (net.ipv4.conf.<bridge>.forwarding; the global ip_forward is
// left alone), and each host ignores ICMP redirects, so a reserved IP that
// moves is not still redirected to its former host.
//
// The kernel's IPv4 neighbour (ARP) table is one for the whole machine,
// every namespace's entries counted together, and its default hard limit
// (net.ipv4.neigh.default.gc_thresh3) is 1024: hosts that all talk to each
// other at two addresses each (Swarm's gossip) hold about 4n² entries, and
// past the limit address resolution fails ("neighbor table overflow", "no
// route to host"). Before a host's network is set up (Provision, Restore),
// the manager raises gc_thresh3 to the power of two at or above 4n² for its
// n hosts (never below 1024), gc_thresh2 to half that and gc_thresh1 to an
// eighth, when they are lower; the state records each one's former value
// (Created), and Down puts back those that still hold what the manager
// set. When a limit cannot be raised (a /proc/sys that refuses the write),
// Provision fails with a message naming the sysctls to set.
//
// # Private networks
//
// A host whose HostSpec.VPC names a private network (netnsbackend uses
// "<api>/<region>": one VPC per vendor API and region) has a second
// address on eth0, its private address, from the VPC's share of
// Config.PrivatePrefix (default 10.216.0.0/16; each VPC takes a prefix as
// long as the subnet, /24 by default, and the state keeps which). The
// private address has the public one's offset (10.213.0.7 is 10.216.N.7),
// and eth0's MAC is made of the public address (02:6c:0a:d5:00:07), so an
// address that localcloud hands out again keeps its MAC and the other
// hosts' neighbour caches stay right. Hosts of the same VPC share that on-link prefix and reach
// each other's private addresses directly across the bridge; the machine
// routes the whole private prefix "unreachable", so a host of another VPC
// (whose default route leads to the machine) does not get there. As that
// alone would not stop a host that routes the prefix on its link itself,
// each host's raw table holds, first in PREROUTING, a DROP (comment
// "localcloud-vpc") of what arrives on eth0 for its private address from
// outside its VPC's prefix: raw comes before the firewall's mangle chain,
// conntrack and Docker's DNAT, so it holds whatever the host's firewall
// admits. Across VPCs (vendors, regions) only public addresses route,
// exactly as between clouds. Partitions drop the private address too.
// The address and rule are put back wherever the host's network is set
// up (Provision, Restore, PowerOn).
//
// Two rules tagged with the iptables comment "localcloud" go first in the
// FORWARD chain: ACCEPT from the bridge to the bridge (traffic between hosts
// crosses FORWARD even when bridged, because br_netfilter is loaded, and
// must work when the policy is DROP) and REJECT anything else from the
// bridge: localcloud hosts have no route to the outside world. They are
// added with the iptables that Debian's alternatives select (nft or
// legacy), and also with the other one when it holds a filter table.
//
// # Processes of a host
//
// Destroy, Stop and Restore find a host's processes by its network
// namespace (dockerd, containerd, shims, docker-proxy), by a command line
// naming its directory (the same, should the namespace be gone) and by its
// containers' cgroups under cgroup-parent. dockerd gets SIGTERM, then
// SIGKILL after Config.StopTimeout; whatever is left then gets SIGKILL, and
// Destroy returns once all of them have exited.
//
// # Power and partitions
//
// PowerOff stops a host without removing it: cleanly (stopHost: dockerd
// gets SIGTERM, then SIGKILL after Config.StopTimeout) or as a power cut
// (every process of the host gets SIGKILL at once), and sets its veth on
// the machine down, so its address and reserved IPs stop answering. The
// namespace, the host's directory and data-root stay, and the state
// records it off: Restore leaves it off. PowerOn sets the veth up and
// starts dockerd again on the same data-root; containers restart as their
// restart policies say.
//
// Partition cuts a host off from the other hosts with DROP rules in
// FORWARD, tagged with the comment "localcloud-partition", for everything
// the bridge forwards from or to the host's address and its reserved IPs
// (recomputed when a reserved IP moves), above the rules that let hosts
// talk. The machine still reaches the host (that is INPUT and OUTPUT, not
// FORWARD). Heal, Destroy and Down delete them; Restore puts back those of
// hosts the state records partitioned.
//
// # Firewalls
//
// SetFirewall filters what reaches a host from the network, as a cloud
// firewall outside the machine does: in the host's namespace, the mangle
// table's PREROUTING jumps from eth0 to the chain LOCALCLOUD-FW, which
// returns replies to the host's own connections (conntrack ESTABLISHED,
// RELATED), then one rule per admitted protocol, port range and source,
// and drops the rest. mangle PREROUTING comes before Docker's DNAT (nat
// PREROUTING), so published ports are filtered as they arrive, and a
// reserved IP arrives on eth0 like the host's own address; what the
// host's containers send each other never crosses eth0. IPv6 gets the
// same chain with the IPv6 sources (eth0 has a link-local address the
// other hosts reach), neighbour discovery admitted. An icmp rule may be
// narrowed to one ICMP type and code (ICMPv6's from IPv6 sources); IPv4
// type 255, which the kernel's icmp match reads as any type, admits
// nothing. Like a vendor's
// stateful firewall, a change leaves connections already established
// alone. Each change is one iptables-restore --noflush transaction per
// family, with the iptables flavour the manager uses, so the host is
// never open or closed wrongly in between. The state keeps the rules:
// PowerOn applies them after it resets the namespace's tables and before
// the link comes up, Restore and Provision before dockerd starts; rules
// set for an ID no host has yet wait in memory for its Provision.
// Destroy forgets them.
//
// # State
//
// The manager's state is StateDir/netns-state.json. Stop stops the daemons
// and keeps everything else. Restore brings every
// host back after localcloud stopped or crashed: it re-creates the bridge,
// namespaces, veths, addresses, routes and rules that are missing, adopts a
// dockerd still running and answering, and restarts the others. Down removes
// everything: the hosts, the bridge, the rules, the routes and the state.
package netns
