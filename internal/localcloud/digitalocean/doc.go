// Package digitalocean serves, on localcloud's core, the subset of the
// DigitalOcean v2 API that Haddock's godo-based driver uses. Shapes,
// status codes and error bodies follow DigitalOcean's OpenAPI spec; the
// contract package checks every request and response against it.
//
// It is a localcloud.API under /v2/: droplets are the core's hosts and
// reserved IPs the core's addresses, seen DigitalOcean's way; the API keeps
// only what DigitalOcean alone has (actions, SSH keys, tags, a droplet's
// ipv6, monitoring and backups flags), under the core's lock, and saves it
// in its part of the state file.
//
//	api := digitalocean.New(digitalocean.Config{ActionDelay: time.Second})
//	run, err := localcloud.Start(ctx, localcloud.Config{Token: "t", APIs: []localcloud.API{api}})
//	client, _ := godo.New(oauthClient("t"), godo.SetBaseURL(run.URL))
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
//	                                     reboot, power_cycle, resize (size, disk),
//	                                     enable_backups, disable_backups
//	GET    /v2/droplets/{id}/actions/{action_id}
//	GET    /v2/actions, /v2/actions/{id}
//	GET    /v2/reserved_ips              POST (droplet_id or region, project_id)
//	GET    /v2/reserved_ips/{ip}         DELETE
//	GET    /v2/reserved_ips/{ip}/actions POST: assign (droplet_id), unassign
//	GET    /v2/reserved_ips/{ip}/actions/{action_id}
//	GET    /v2/firewalls                 POST (answers 202)
//	GET    /v2/firewalls/{id}            PUT (replaces it all), DELETE
//	POST   /v2/firewalls/{id}/droplets   DELETE; the same for /tags and /rules
//	GET    /v2/droplets/{id}/firewalls
//	GET    /v2/projects                  POST (name unique: 409)
//	GET    /v2/projects/{id|default}     DELETE (412 unless empty, never the default)
//	GET    /v2/projects/{id|default}/resources  POST: move droplets, reserved IPs, load balancers
//
// Projects (projects.go) keep where each resource is and since when
// (assigned_at): Haddock marks what an apply is still creating by its
// project. Load balancers and databases are described in load_balancers.go and
// databases.go.
//
// Every request needs "Authorization: Bearer <token>" (the core checks
// it; Refuse answers 401 {"id":"Unauthorized","message":"Unable to
// authenticate you"}). Every response carries ratelimit-limit,
// ratelimit-remaining, ratelimit-reset (counted per hour, never enforced)
// and the core's x-request-id; error bodies are {"id","message",
// "request_id"}. Lists paginate as DigitalOcean does: page, per_page
// (default 20, at most 200), links.pages with absolute first/prev and
// next/last URLs where they apply, meta.total. An injected fault (the
// core's) answers 429 with Retry-After, ratelimit-remaining 0 and
// ratelimit-reset now+retry_after_seconds, or 500, 503 or its status in
// the same error body.
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
// localcloud.Config.BootDelay has passed since creation, then "active" (computed when
// read; no timers). Its networks are empty while new. Deleting answers 204
// and the droplet disappears after localcloud.Config.DeleteDelay (default at once);
// reserved IPs assigned to it are unassigned. Tags given at creation are
// created if missing. Actions answer 201 "in-progress" and complete after
// Config.ActionDelay (default 0); a droplet's create action completes when
// it turns active. An assigned reserved IP is listed in the droplet's
// networks.v4 as a second public address, after the droplet's own, as on
// DigitalOcean. Acting on a droplet that is still new, or while a power
// action on it is in progress, answers 422 "Droplet already has a pending
// event."
//
// Power actions (power_off, shutdown, power_on, reboot, power_cycle) go to
// the core (localcloud.Server.PowerHost). With a backend that powers hosts
// (real hosts) the action stays in-progress until the host is really off
// or on, the droplet keeps its status until then, and completes
// ActionDelay after; with the memory backend the droplet turns off or
// active at once and the action completes after ActionDelay.
//
// resize {"type":"resize","size":slug,"disk":bool} is checked as
// DigitalOcean checks it, each refusal a 422:
//
//	droplet not off        "Droplet is currently on. Please power it off to run this event."
//	no size                "Size is required."
//	size not in catalog    "You specified an invalid size for Droplet resize."
//	size not in region     "Size is not available in this region."
//	the droplet's size     "The droplet is already set to this size."
//	smaller disk than now  "Size can not decrease size of Droplet's disk image"
//
// Accepted, the droplet has the new size at once (size_slug, size, memory,
// vcpus) and the action completes after ActionDelay. With disk true its
// disk (disk, disk_info) becomes the size's, for good; otherwise it keeps
// its disk, so it can be resized back down to a size whose disk still
// fits. The host itself is not changed.
//
// # Firewalls
//
// A cloud firewall applies to the droplets it names (droplet_ids) and to
// those carrying one of its tags (which need not exist yet). Each
// droplet's effective inbound rules, the union of its firewalls' inbound
// rules with every source resolved to addresses (an address or CIDR as
// it is; droplets and tagged droplets by their public and private IPv4
// and IPv6; load balancers by their address), go to the backend
// (localcloud.FirewallBackend), again for the droplets whose rules change
// whenever firewalls, droplets, tags or load balancers do; a droplet in
// no firewall is not filtered, and a rule whose sources match nothing
// admits nothing. Outbound rules are kept and shown, never enforced. A
// new droplet's rules reach the backend before it is provisioned and
// again once it is; until then it stays "new". Changes through
// /v2/firewalls apply before the answer: a firewall is always
// "succeeded", pending_changes empty. Refusals are 422 naming the field:
// name (2 to 255 letters, digits, '.' and '-', as the spec's pattern),
// at least one rule, protocol tcp, udp or icmp, ports "all"/"0", "N" or
// "N-M" within 1-65535 (icmp none; shown "0", as "all" is), at least one
// source or destination, addresses, tag names, droplets and load
// balancers that exist (Kubernetes clusters never do), allow rules only.
//
// # State
//
// DigitalOcean's part of the state file ("apis": {"digitalocean": ...})
// holds the id counters of actions and keys, each droplet's flags, disk
// after a resize and create action, the SSH keys, tags, actions, load
// balancers, databases and firewalls; every droplet's firewall rules are
// handed to the backend again once it is back. A power
// action still in progress when localcloud stopped has errored when it
// comes back. Its field names are those
// of the version 1 file, written when localcloud served DigitalOcean only,
// so the core hands a version 1 file to LoadState as it is. LoadState
// checks the droplets' and reserved IPs' region, size and image slugs
// against the catalog. A droplet still being created when localcloud
// stopped has failed when it comes back: its create action errored
// (HostProvisioned with localcloud.ErrInterrupted).
package digitalocean
