// Package localcloud is the vendor-neutral core of Haddock's local cloud:
// a loopback HTTP server with token authentication on which vendor APIs
// are mounted, and what they share — hosts and pool addresses in neutral
// terms, the host backend that makes them real, persistence, injected
// faults, request counters and the /_localcloud/ test controls. It holds
// no vendor's wire shapes.
//
// # Layout
//
//	localcloud/               the core (this package)
//	localcloud/digitalocean/  DigitalOcean's v2 API (droplets, actions, reserved IPs, load balancers, databases, firewalls, catalog) as an API
//	localcloud/aws/           EC2's query API (instances, Elastic IPs, key pairs, security groups enforced, catalog) as an API
//	localcloud/awselbv2/      ELBv2's query API (load balancers, target groups, listeners, targets) on the same load balancers as DigitalOcean's
//	localcloud/awsrds/        RDS's query API (DB instances) and Secrets Manager's GetSecretValue on the same database servers
//	localcloud/awsauth/       SigV4 verification for the AWS APIs
//	localcloud/awsquery/      the query protocol the AWS APIs share: dispatch, XML answers, errors, paging
//	localcloud/contract/      checks every exchange against DigitalOcean's OpenAPI spec
//	localcloud/contract/awsmodel/ checks every EC2, ELBv2 and RDS exchange against AWS's service models
//	localcloud/netns/         real hosts: network namespaces, each running dockerd
//	localcloud/netnsbackend/  a HostBackend (and Restorer) over netns
//	localcloud/registry/      the image registry on the hosts' bridge
//	localcloud/proc/          what the process supervisors share
//	localcloud/localcloudtest/ starting localcloud with real hosts in tests (no cloud driver)
//
// The EC2 API (localcloud/aws/) sits beside digitalocean/ the same way, on
// the same hosts and addresses, served on a listener of its own.
//
// # Running it
//
// In process:
//
//	run, err := localcloud.Start(ctx, localcloud.Config{
//		Token: "t", BootDelay: time.Second,
//		APIs:  []localcloud.API{digitalocean.New(digitalocean.Config{})},
//	})
//	defer run.Close()
//
// or as a handler (New(cfg) is an http.Handler), or from the command line:
// `localcloud serve` (cmd/localcloud), which serves DigitalOcean's API on
// 127.0.0.1:9080 and EC2's on 127.0.0.1:9081 and prints the
// DIGITALOCEAN_API_URL, DIGITALOCEAN_TOKEN, AWS_ENDPOINT_URL_EC2 and AWS
// credentials to export. The default token is DevToken. Start listens on
// loopback only.
//
// Random faults (Config.FaultRate and FaultSeed, `localcloud serve -faults
// 0.1 -fault-seed N`, or POST /_localcloud/faults/random) make a fraction of
// API requests, never the /_localcloud/ ones, meet a fault drawn
// reproducibly from the seed: 500, 502 or 503 with nothing done, 429 with
// Retry-After, an answer SlowFaultDelay late, a connection closed without
// an answer, or a write carried out and then answered 500 (a create that
// made the droplet, as a client sees it). The reliability acceptance test
// and `make soak` run the provider through them.
//
// With real hosts (package netnsbackend) a host's dockerd runs as root on
// the machine, so whoever holds the token has root there: `localcloud
// serve -backend netns` generates a random token into <state-dir>/token
// (0600) instead of DevToken (-token-file and $LOCALCLOUD_TOKEN keep it out
// of argv), the backend refuses at create time (HostRequestChecker) user
// data whose daemon.json sets a key outside netns.AllowedDaemonKeys or a
// tcp:// listener without tlsverify, and the image registry takes pushes
// only with user registry.PushUser and the token. `localcloud serve` also
// serves its APIs on the hosts' bridge gateway (same ports), as a droplet
// reaches its vendor's API.
//
// Config.APIAddrs serves an API on a listener of its own as well (by API
// name; Start listens there, Running.APIURLs has the URLs, and
// Server.APIHandler is that listener's handler): every request there goes
// to that API whatever its path, as an EC2 endpoint takes POST /. It is
// authenticated, counted, faulted (a fault's path prefix sees the API's
// Prefix before the path) and wrapped by Middleware as on Addr; the
// /_localcloud/ controls stay on Addr.
//
// # The API seam
//
// Config.APIs lists the vendor APIs; New mounts each (API.Mount) under its
// path prefix. For a request under an API's prefix the core sets
// X-Request-Id, checks "Authorization: Bearer <token>" (or, for an API
// that is an Authenticator, has the API check its vendor's credentials:
// EC2's SigV4 signature), counts the request
// under API.Route, applies an injected fault, and hands it to the API;
// refusals (401, faults) are answered by API.Refuse in the vendor's error
// shape. The API keeps its vendor's bookkeeping under the core's lock
// (Server.Lock) and reaches machines only through the core:
//
//	AddHost, Provision, Host, Hosts, HostStatus, DestroyHosts, PowerHost   hosts
//	AllocateAddress, MoveAddress, ReleaseAddress, Address, Addresses   the address pool
//	Serialize                                                          check, then act through the backend
//
// A host is pending until the backend has provisioned it and
// Config.BootDelay has passed since its creation, then running (or off);
// computed when read, no timers. A deleted host stays visible for
// Config.DeleteDelay. The API hears when a Provision returns
// (API.HostProvisioned). PowerHost carries out a power action (PowerOff,
// Shutdown, PowerOn, Reboot, PowerCycle) through the backend in the
// background: the host is Powering until the backend is done, then off or
// running, and the API's callback completes its action then (or errors
// it, the host as it was).
//
// # The backend seam
//
// HostBackend stands behind hosts and addresses and does the machine-level
// effects only:
//
//	Provision(ctx, HostRequest) (HostAddrs, error)  // in a goroutine per host; the host is pending until it returns
//	Destroy(ctx, hostID) error                      // in a goroutine, after Provision returned
//	AllocateIP(ctx, region) (netip.Addr, error)     // a pool address
//	ReleaseIP(ctx, ip) error
//	AssignIP(ctx, ip, hostID) error                 // moves ip to the host, from wherever it is
//	UnassignIP(ctx, ip) error
//
// A backend may also run load balancers (LoadBalancerBackend:
// ApplyLoadBalancer creates one or changes it without dropping established
// connections and returns its address; DeleteLoadBalancer) and database
// servers (DatabaseBackend: ApplyDatabase brings users, databases and the
// firewall to a config and returns the server's address; DeleteDatabase
// removes it and its data). The vendor APIs keep the records and call
// Server.ApplyLoadBalancer, ApplyDatabase and their deletes under
// Serialize; Server.Background runs what an API does after answering (a
// load balancer or database being provisioned: "new" / "creating" until
// then). MemoryBackend gives both an address only.
//
// A backend may also filter what reaches its hosts from the network
// (FirewallBackend: Server.SetHostFirewall hands a host its effective
// inbound rules, each a protocol, a port range and source prefixes; nil
// removes the filter). The vendor APIs keep their firewalls and compute
// the rules: DigitalOcean's /v2/firewalls gives each droplet the union of
// the inbound rules of the firewalls naming it or its tags, sources
// resolved to addresses, and pushes again the rules that droplets, tags
// or load balancers coming and going change; EC2's security groups give
// each instance the union of its groups' ingress rules (the VPC's
// default group when it names none), a group source resolved to its
// members' addresses. Each host's rules come from the API that created
// it (Host.API), whose FirewallPusher hands the backend those that
// changed. An API whose other resources sit in another API's
// groups (ELBv2's load balancers in EC2's security groups) reports them
// (FirewallMemberReporter) and calls Server.FirewallMembersChanged when
// they change; the API keeping the groups (FirewallGroupKeeper) pushes
// its hosts' rules again. Only inbound rules are
// enforced: outbound rules are stored and shown, not enforced (a host
// sends anywhere). MemoryBackend records the rules (HostFirewall).
//
// HostRequest carries the host id, the API creating it (which, with the
// region, names its private network), name, the vendor's region, size and
// image, resources, resolved SSH public keys, tags and user data. A backend
// may also implement PowerController (power actions on the machine; it
// returns once the host is really off or on), FaultInjector (the host
// controls below) and Restorer to bring its hosts back when a saved state
// is loaded (see Persistence). Address moves and host
// deletion are serialized, so an address is never assigned to a host being
// destroyed. A failed Provision removes the host. MemoryBackend, the
// default, only hands out addresses (see its doc).
//
// # Test controls
//
// Under /_localcloud (same token; no vendor's, not validated; errors
// {"id","message","request_id"}):
//
//	POST   /_localcloud/faults    {"method":"GET","path_prefix":"/v2/droplets","status":429,"count":2,"retry_after_seconds":1}
//	GET    /_localcloud/faults    pending faults
//	DELETE /_localcloud/faults
//	POST   /_localcloud/faults/random  {"rate":0.1,"seed":42}: a fraction of API requests meet a random fault
//	GET    /_localcloud/faults/random  the rate, the seed and the faults injected by kind
//	GET    /_localcloud/requests  {"total":N,"requests":{"GET /v2/droplets/{id}":3,...}}
//	DELETE /_localcloud/requests
//
// A fault answers the next count matching API requests with its status
// before they reach the API, Retry-After set. The same controls exist in
// Go: Server.InjectFault, ClearFaults, Requests, ResetRequests. Request
// counter keys are the APIs' routes, so ids never multiply the keys.
//
// Machines that fail (the backend must be a FaultInjector: real hosts;
// otherwise 501 {"id":"not_implemented"}). No body; each answers 200
// {"host":{"id","api","name","status","address","faulted","partitioned","powering"}}:
//
//	GET  /_localcloud/hosts                 {"hosts":[...]}, every API's hosts
//	POST /_localcloud/hosts/{id}/fail       a hardware fault
//	POST /_localcloud/hosts/{id}/partition  cut off from the other hosts
//	POST /_localcloud/hosts/{id}/heal       undo partition
//
// fail kills every process of the host at once (dockerd, containerd,
// containers; nothing shuts down cleanly) and takes its link down, so its
// addresses, reserved IPs included, stop answering; namespace and
// data-root stay. Its API is not told: the droplet stays "active", as
// DigitalOcean shows a droplet whose hypervisor died until someone acts (a
// vendor's own checks may notice much later; localcloud never does, so
// tests see what a client really sees: an active droplet that does not
// answer). "faulted" shows it. A power action that turns the host on
// (power_on, reboot, power_cycle) brings it back with its data, its
// containers restarting as their restart policies say; power_off or
// shutdown leave it off. partition adds iptables DROP rules (FORWARD,
// comment "localcloud-partition", on the backend's bridge) for everything
// the bridge forwards from or to the host's address and the reserved IPs
// it holds, following them as they move: the host and the other hosts no
// longer reach each other, the machine localcloud runs on still reaches
// it. heal deletes them; deleting the host, `localcloud down` and the
// backend's Down delete them too. Errors: 404 not_found (no such host),
// 422 unprocessable_entity (still being created, a power action under way,
// fail on a host that is off), 500 when the backend failed. In Go:
// Server.FailHost, PartitionHost, HealHost, HostReports.
//
// Config.RateLimit (localcloud serve -rate-limit N) answers at most N API
// requests a minute, as a vendor's rate limit does (DigitalOcean allows
// 250): beyond it a request gets 429 with Retry-After, the seconds until the
// oldest of the minute's requests ages out; Server.Throttled counts them.
//
// Config.Middleware wraps the whole handler; contract.Validator plugs in
// there. Config.Now replaces the clock.
//
// # Persistence
//
// By default everything is in memory and nothing touches the disk. With
// Config.StateDir (through Open or Start; New refuses it) the state — hosts,
// addresses, the host id counter and each API's own records
// (API.SaveState) — is saved as JSON in StateDir/localcloud-state.json
// (version 2) after every API request that may change it (not a GET or
// HEAD, and not one a ReadOnlyReporter API reports read-only: EC2's
// Describe* actions), when a Provision returns and on Close, each time
// written to a temporary file, synced and renamed over the old one. Open takes an exclusive lock
// (StateDir/localcloud.lock; a second localcloud on the same directory
// fails at once), loads the file (a version 1 file, DigitalOcean's records
// at the top level, is migrated: its droplets are hosts, its reserved IPs
// addresses, and the file is DigitalOcean's part) and settles it: a host
// that was still being provisioned when localcloud stopped has failed, a
// deleted one is gone. A backend that implements Restorer then gets the
// hosts and addresses the state holds, to bring its hosts back and remove
// the others; MemoryBackend does, so that new addresses follow the restored
// ones. LockStateDir and RemoveState serve `localcloud down`.
//
// # Real hosts
//
// Package netnsbackend is a HostBackend (and Restorer) over the netns
// package: each host (a droplet) is a network namespace with its own dockerd, and
// the machine reaches it at the droplet's address (`localcloud serve
// -backend netns`, root and docker.io needed). Provision does what
// cloud-init does on a real droplet, for the part of cloud-config Haddock
// depends on, read with cloudinit.Parse (plain #cloud-config or MIME
// multipart, gzip included):
//
//   - write_files: every entry is written into the host's root (its
//     /etc/docker/ca.pem is StateDir/hosts/<id>/root/etc/docker/ca.pem), in
//     order, append and permissions honoured, owner ignored, deferred
//     entries written too; content encodings as cloud-init decodes them;
//   - hostname: the host's hostname (its UTS namespace; docker info's Name),
//     the droplet's name when the user data sets none;
//   - /etc/docker/daemon.json from write_files is the host's daemon
//     configuration, its /etc/docker paths and unix socket rewritten into
//     the host's directory, tcp:// listeners kept (tcp://0.0.0.0:2376 with
//     tlsverify is mTLS on the droplet's address). User data without it
//     gives a plain dockerd on the host's unix socket only, no TCP.
//
// Nothing else runs: runcmd, bootcmd, packages, users, scripts and other
// parts are not executed (dockerd is the machine's docker.io, started
// directly). User data cloudinit.Parse rejects fails the droplet: its create
// action errors and the droplet disappears, and so it does when dockerd does
// not start; the host is removed either way.
//
// Addresses: a host has one interface, on the backend's bridge, with two
// addresses. The first is the droplet's public IPv4 (networks.v4 type
// public, EC2's PublicIpAddress; the bridge as gateway); the second, its
// private IPv4 (type private, PrivateIpAddress), is in the VPC of the API
// that created it and its region (HostRequest.API and Region): only hosts
// of the same vendor and region reach it, whatever their firewalls admit,
// and across vendors or regions only public addresses route, as between
// clouds (see netns's "Private networks"). Load balancers and databases
// are in no VPC: they reach targets, and see clients, at their public
// addresses. There is no IPv6. Reserved
// IPs come from the backend's reserved prefix; assigning one puts it on the
// host and routes it there from the machine, so a connection from the
// machine to the reserved IP reaches the host that holds it now, and
// reassigning it moves it.
//
// Load balancers and databases are netns appliances: a namespace with its
// own address on the bridge and no dockerd (netns.HostSpec.Appliance).
// A load balancer runs Debian's HAProxy there: one frontend per forwarding
// rule, health checks to the targets' private addresses (inter, fall, rise
// from the health check; `option redispatch` retries a refused connection
// on another target), sticky cookies, the HTTP-to-HTTPS redirect; a change
// writes the configuration, checks it (haproxy -c) and starts a new HAProxy
// that takes the listening sockets over from the old one (-x, the stats
// socket's expose-fd) and tells it to finish its connections (-sf). A
// database runs Debian's PostgreSQL 15 there as the postgres user (data in
// <StateDir>/pg/<host>), on port 25060 with TLS on (a certificate the
// API's CA signs), its firewall the server's pg_hba.conf (TLS with a SCRAM
// password from the trusted ranges only); localcloud creates roles and
// databases over the server's unix socket. Both come back when localcloud
// restarts on the same state, and go with Down.
//
// Power actions act on the host (netns.Manager.PowerOff, PowerOn):
// power_off kills every process of the host at once with SIGKILL and takes
// its link down; shutdown sends dockerd SIGTERM (it stops its containers),
// waits for it (SIGKILL after netns.Config.StopTimeout), then takes the
// link down. Either way the namespace, the host's files and its data-root
// stay, and the droplet turns "off" when the host is. power_on brings the
// link up and starts the host's dockerd on the same data-root: containers
// restart as Docker restarts them after a reboot (restart policies; swarm
// tasks come back through the swarm), and the droplet turns "active" once
// dockerd answers. reboot is shutdown then power_on, power_cycle power_off
// then power_on. Each action stays in-progress until the host is done. A
// host that is off stays off when localcloud restarts.
//
// # Firewalls on real hosts
//
// netnsbackend enforces each host's effective rules (FirewallBackend)
// with a packet filter in the host's namespace, on its link to the
// bridge, before anything on the host sees the packet: what no rule
// admits is dropped (a connection times out, as behind a vendor's
// firewall), ports Docker publishes and reserved IPs included, while
// replies to the host's own connections (to the API and registry on the
// gateway, to other hosts) pass. Traffic between a host's own containers
// is not filtered. The rules outlive power cycles and restarts.
package localcloud
