// Package localcloud serves, on loopback, the subset of the DigitalOcean v2
// API that Haddock's godo-based driver uses, backed by memory (the default)
// or by real hosts (see Real hosts), so the provider can be tried and
// tested offline. Shapes, status codes and error
// bodies follow DigitalOcean's OpenAPI spec; the contract subpackage checks
// every request and response against it.
//
// # Running it
//
// In process:
//
//	run, err := localcloud.Start(ctx, localcloud.Config{Token: "t", BootDelay: time.Second})
//	defer run.Close()
//	client, _ := godo.New(oauthClient("t"), godo.SetBaseURL(run.URL))
//
// or as a handler (New(cfg) is an http.Handler), or from the command line:
// `localcloud serve` (cmd/localcloud), which prints the DIGITALOCEAN_API_URL
// and DIGITALOCEAN_TOKEN to export. The default token is DevToken. Start
// listens on loopback only.
//
// # Endpoints
//
//	GET    /v2/account
//	GET    /v2/regions, /v2/sizes
//	GET    /v2/images                    type=distribution|application, private=true, tag_name
//	GET    /v2/images/{id or slug}
//	GET    /v2/account/keys              POST /v2/account/keys
//	GET    /v2/account/keys/{id or fingerprint}   PUT, DELETE
//	GET    /v2/tags                      POST /v2/tags
//	GET    /v2/tags/{name}               DELETE
//	POST   /v2/tags/{name}/resources     DELETE (droplets only)
//	GET    /v2/droplets                  tag_name, name, type filters
//	POST   /v2/droplets                  name (one) or names (up to 10)
//	DELETE /v2/droplets?tag_name=
//	GET    /v2/droplets/{id}             DELETE
//	GET    /v2/droplets/{id}/actions     POST: rename, power_off, power_on, shutdown,
//	                                     reboot, power_cycle, enable_backups, disable_backups
//	GET    /v2/droplets/{id}/actions/{action_id}
//	GET    /v2/actions, /v2/actions/{id}
//	GET    /v2/reserved_ips              POST (droplet_id or region)
//	GET    /v2/reserved_ips/{ip}         DELETE
//	GET    /v2/reserved_ips/{ip}/actions POST: assign (droplet_id), unassign
//	GET    /v2/reserved_ips/{ip}/actions/{action_id}
//
// Every request needs "Authorization: Bearer <token>" (else 401
// {"id":"Unauthorized","message":"Unable to authenticate you"}). Every
// response carries ratelimit-limit, ratelimit-remaining, ratelimit-reset
// (counted per hour, never enforced) and x-request-id; error bodies are
// {"id","message","request_id"}. Lists paginate as DigitalOcean does: page,
// per_page (default 20, at most 200), links.pages with absolute first/prev
// and next/last URLs where they apply, meta.total.
//
// # Catalog
//
// Regions nyc1 nyc3 sfo3 ams3 lon1 fra1 sgp1 tor1 blr1 syd1; nyc1 is
// available=false (creating there answers 422 "Region is not available.").
// Sizes s-1vcpu-1gb s-1vcpu-2gb s-2vcpu-2gb s-2vcpu-4gb s-4vcpu-8gb
// s-8vcpu-16gb c-2 c-4 g-2vcpu-8gb; g-2vcpu-8gb is not offered in sgp1, blr1
// and tor1, c-4 not in blr1 (422 "Size is not available in this region.").
// Images debian-12-x64, ubuntu-24-04-x64, ubuntu-22-04-x64 (public
// distribution images). A create without a region picks the first region
// offering the size; a region prefix such as "nyc" picks within it.
//
// # Lifecycle
//
// A created droplet is "new" until the backend has provisioned it and
// Config.BootDelay has passed since creation, then "active" (computed when
// read; no timers). Its networks are empty while new. Deleting answers 204
// and the droplet disappears after Config.DeleteDelay (default at once);
// reserved IPs assigned to it are unassigned. Tags given at creation are
// created if missing. Actions answer 201 "in-progress" and complete after
// Config.ActionDelay (default 0); a droplet's create action completes when
// it turns active. An assigned reserved IP is listed in the droplet's
// networks.v4 as a second public address, after the droplet's own, as on
// DigitalOcean. Acting on a droplet that is still new answers 422 "Droplet
// already has a pending event."
//
// # The backend seam
//
// HostBackend stands behind droplets and reserved IPs; the API layer keeps
// every piece of DigitalOcean bookkeeping and calls the backend only for
// machine-level effects:
//
//	Provision(ctx, HostRequest) (HostAddrs, error)  // in a goroutine per droplet; droplet is new until it returns
//	Destroy(ctx, hostID) error                      // in a goroutine, after Provision returned
//	AllocateIP(ctx, region) (netip.Addr, error)     // reserved IP creation
//	ReleaseIP(ctx, ip) error                        // reserved IP deletion
//	AssignIP(ctx, ip, hostID) error                 // moves ip to the host, from wherever it is
//	UnassignIP(ctx, ip) error
//
// HostRequest carries the droplet id, name, slugs, resources, resolved SSH
// public keys, tags and user_data. A backend may also implement
// PowerController to act on power_off/shutdown/power_on/reboot/power_cycle,
// and Restorer to bring its hosts back when a saved state is loaded (see
// Persistence).
// Reserved IP calls and droplet deletion are serialized, so an address is
// never assigned to a host being destroyed. A failed Provision marks the
// create action errored and removes the droplet; a failed AssignIP or
// UnassignIP marks that action errored and leaves the assignment as it was.
// MemoryBackend, the default, only hands out addresses (see its doc).
//
// # Test controls
//
// Under /_localcloud (same token; not DigitalOcean, not validated):
//
//	POST   /_localcloud/faults    {"method":"GET","path_prefix":"/v2/droplets","status":429,"count":2,"retry_after_seconds":1}
//	GET    /_localcloud/faults    pending faults
//	DELETE /_localcloud/faults
//	GET    /_localcloud/requests  {"total":N,"requests":{"GET /v2/droplets/{id}":3,...}}
//	DELETE /_localcloud/requests
//
// A fault answers the next count matching /v2 requests with its status
// before they reach the API; 429 adds Retry-After, ratelimit-remaining 0
// and ratelimit-reset now+retry_after_seconds. The same controls exist in
// Go: Server.InjectFault, ClearFaults, Requests, ResetRequests. Request
// counter keys are the route patterns, so ids never multiply the keys.
//
// Config.Middleware wraps the whole handler; contract.Validator plugs in
// there. Config.Now replaces the clock.
//
// # Persistence
//
// By default everything is in memory and nothing touches the disk. With
// Config.StateDir (through Open or Start; New refuses it) the API state —
// droplets, actions, tags, SSH keys, reserved IPs and the id counters — is
// saved as JSON in StateDir/localcloud-state.json after every request that
// may change it, when a Provision returns and on Close, each time written
// to a temporary file, synced and renamed over the old one. Open takes an
// exclusive lock (StateDir/localcloud.lock; a second localcloud on the same
// directory fails at once), loads the file and settles it: a droplet that
// was still being created when localcloud stopped has failed (its create
// action errored, the droplet gone), a deleted one is gone. A backend that
// implements Restorer then gets the droplets and reserved IPs the state
// holds, to bring its hosts back and remove the others; MemoryBackend does,
// so that new addresses follow the restored ones. LockStateDir and
// RemoveState serve `localcloud down`.
//
// # Real hosts
//
// Package netnsbackend is a HostBackend (and Restorer) over the netns
// package: each droplet is a network namespace with its own dockerd, and
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
// Addresses: a host has one interface, on the backend's bridge. Its address
// is the droplet's public IPv4 (networks.v4 type public, the bridge as
// gateway), and the droplet's private IPv4 is the same address: hosts reach
// each other on it as droplets do on their VPC. There is no IPv6. Reserved
// IPs come from the backend's reserved prefix; assigning one puts it on the
// host and routes it there from the machine, so a connection from the
// machine to the reserved IP reaches the host that holds it now, and
// reassigning it moves it. Power actions only change the API status.
package localcloud
