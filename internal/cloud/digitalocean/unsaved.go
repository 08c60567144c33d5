package digitalocean

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

// Reserved IPs and load balancers take no tags on DigitalOcean, and load
// balancer names are not unique, so what a killed apply was creating could
// not be told from anything else. They are marked by their project
// instead: created inside the project UnsavedProject (the create itself
// takes project_id, so nothing exists unmarked), and moved to the
// account's default project once Terraform's state holds them. DigitalOcean
// keeps no deadline with a resource, so one still in that project
// UnsavedHorizon after it got there (the project's assigned_at; a load
// balancer's created_at) was left by a killed apply. A create whose own
// deadline is later than that is made unmarked, as before, with a warning.
// A token without the project scopes (project:read, project:create,
// project:update) makes unmarked resources too, with a warning: marking is
// a safety net, never a reason to fail a create.

var (
	_ cloud.UnsavedFloatingIPs   = (*Driver)(nil)
	_ cloud.UnsavedLoadBalancers = (*Driver)(nil)
)

const (
	// UnsavedProject is the project that holds what applies are creating.
	UnsavedProject = "haddock-unsaved"
	// UnsavedHorizon is how long after its create a marked resource may
	// still be on its way into a state: longer than any create Haddock
	// makes with its default timeouts (5 and 10 minutes), with room.
	UnsavedHorizon = time.Hour
)

// unsavedProjects caches the project's id per driver: looked up once, made
// by the first create that marks something.
type unsavedProjects struct {
	mu     sync.Mutex
	looked bool
	id     string
}

// unsavedProjectID returns the project's id, "" when there is none (and
// create is false) or the token may not read projects (logged).
func (d *Driver) unsavedProjectID(ctx context.Context, create bool) (string, error) {
	p := &d.unsaved
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.looked {
		id, err := d.findProject(ctx, UnsavedProject)
		if isStatus(err, http.StatusForbidden) {
			tflog.SubsystemWarn(ctx, logSubsystem, "the token may not read projects: what a killed apply leaves is not marked", map[string]any{"error": err.Error()})
			p.looked = true
			return "", nil
		}
		if err != nil {
			return "", err
		}
		p.looked, p.id = true, id
	}
	if p.id != "" || !create {
		return p.id, nil
	}
	pr, _, err := d.client.Projects.Create(ctx, &godo.CreateProjectRequest{
		Name: UnsavedProject, Purpose: "Operational / Developer tooling", Environment: "Production",
		Description: "Haddock: reserved IPs and load balancers an apply is still creating. Empty once applies finish; what stays over an hour was left by a killed apply, and the next create in its region deletes it.",
	})
	if err != nil {
		// Another run made it meanwhile: names are unique.
		if id, ferr := d.findProject(ctx, UnsavedProject); ferr == nil && id != "" {
			p.id = id
			return id, nil
		}
		return "", apiError(err)
	}
	p.id = pr.ID
	return p.id, nil
}

func (d *Driver) findProject(ctx context.Context, name string) (string, error) {
	all, err := allPages(func(opt *godo.ListOptions) ([]godo.Project, *godo.Response, error) {
		return d.client.Projects.List(ctx, opt)
	})
	if err != nil {
		return "", err
	}
	for _, p := range all {
		if p.Name == name {
			return p.ID, nil
		}
	}
	return "", nil
}

// markable returns the project to create in, or "" (with a warning why)
// when the create is to be made unmarked.
func (d *Driver) markable(ctx context.Context, what string, until time.Time) string {
	if until.After(time.Now().Add(UnsavedHorizon)) {
		tflog.SubsystemWarn(ctx, logSubsystem, "the create's deadline is later than DigitalOcean's unsaved horizon: not marked", map[string]any{"what": what, "until": until, "horizon": UnsavedHorizon.String()})
		return ""
	}
	id, err := d.unsavedProjectID(ctx, true)
	if err != nil {
		tflog.SubsystemWarn(ctx, logSubsystem, "no project to mark an unsaved resource with: not marked", map[string]any{"what": what, "error": err.Error()})
		return ""
	}
	return id
}

// unsavedSince maps the URNs in the unsaved project to when they got there.
func (d *Driver) unsavedSince(ctx context.Context, projectID string) (map[string]time.Time, error) {
	res, err := allPages(func(opt *godo.ListOptions) ([]godo.ProjectResource, *godo.Response, error) {
		return d.client.Projects.ListResources(ctx, projectID, opt)
	})
	if err != nil {
		return nil, apiError(err)
	}
	out := make(map[string]time.Time, len(res))
	for _, r := range res {
		at, err := time.Parse(time.RFC3339, r.AssignedAt)
		if err != nil {
			// Unreadable: treat it as just assigned, never as a leftover.
			at = time.Now()
		}
		out[r.URN] = at
	}
	return out, nil
}

// unsavedProjectAmong is the unsaved project's id when resources in the
// projects given may be in it, "" when none is in any project (the
// project is not looked up) or there is no unsaved project.
func (d *Driver) unsavedProjectAmong(ctx context.Context, projects []string) (string, error) {
	for _, p := range projects {
		if p != "" {
			return d.unsavedProjectID(ctx, false)
		}
	}
	return "", nil
}

// markUnsavedIPs sets UnsavedUntil on the addresses in the unsaved project.
func (d *Driver) markUnsavedIPs(ctx context.Context, ips []godo.ReservedIP, out []cloud.FloatingIP) error {
	projects := make([]string, len(ips))
	for i, ip := range ips {
		projects[i] = ip.ProjectID
	}
	pid, err := d.unsavedProjectAmong(ctx, projects)
	if err != nil || pid == "" {
		return err
	}
	var since map[string]time.Time
	for i, ip := range ips {
		if ip.ProjectID != pid {
			continue
		}
		if since == nil {
			if since, err = d.unsavedSince(ctx, pid); err != nil {
				return err
			}
		}
		at, ok := since[ipURN(ip.IP)]
		if !ok {
			at = time.Now() // moved meanwhile: not a leftover
		}
		out[i].UnsavedUntil = at.Add(UnsavedHorizon)
	}
	return nil
}

func ipURN(ip string) string { return "do:floatingip:" + ip }

// CreateUnsavedFloatingIP reserves the address inside the unsaved project,
// then assigns it to hostID when one is given (a create with droplet_id
// takes no project). An address whose assignment fails comes back with the
// error, as from CreateFloatingIP.
func (d *Driver) CreateUnsavedFloatingIP(ctx context.Context, region, hostID string, until time.Time) (*cloud.FloatingIP, error) {
	pid := d.markable(ctx, "reserved IP", until)
	if pid == "" {
		return d.CreateFloatingIP(ctx, region, hostID)
	}
	ip, err := d.createMarkedIP(ctx, region, pid)
	if err != nil {
		return nil, err
	}
	f := toFloatingIP(ip)
	f.UnsavedUntil = time.Now().Add(UnsavedHorizon)
	if hostID == "" {
		return f, nil
	}
	if err := d.AssignFloatingIP(ctx, ip.IP, hostID); err != nil {
		return f, fmt.Errorf("reserved IP %s was created but not assigned to droplet %s: %w; it is kept: apply again to assign it, or delete it", ip.IP, hostID, err)
	}
	got, err := d.reservedIP(ctx, ip.IP)
	if err != nil {
		return f, fmt.Errorf("reading reserved IP %s after assigning it to droplet %s: %w", ip.IP, hostID, err)
	}
	got.UnsavedUntil = f.UnsavedUntil // still in the project it was made in
	return got, nil
}

// createMarkedIP reserves an address in region inside the unsaved project.
// The HTTP client never repeats the create (a repeat after a 5xx
// DigitalOcean acted on reserves a second address); after such a failure
// the project's addresses are listed, and one of region, unassigned, that
// was not there before is the one it made; with none the create is tried
// again. Several (another run creating at the same moment) are refused:
// all are marked, so whatever this create made is released an hour on.
func (d *Driver) createMarkedIP(ctx context.Context, region, pid string) (*godo.ReservedIP, error) {
	before, err := d.unsavedSince(ctx, pid)
	if err != nil {
		return nil, err
	}
	return createFindingAgain(ctx, d, "reserved IP",
		func() (*godo.ReservedIP, error) {
			ip, _, err := d.client.ReservedIPs.Create(ctx, &godo.ReservedIPCreateRequest{Region: region, ProjectID: pid})
			return ip, err
		},
		func(err error) ([]*godo.ReservedIP, error) {
			after, lerr := d.unsavedSince(ctx, pid)
			if lerr != nil {
				return nil, fmt.Errorf("%w (and listing project %s to find an address it may have made: %v)", apiError(err), UnsavedProject, lerr)
			}
			var made []*godo.ReservedIP
			for urn := range after {
				addr, ok := strings.CutPrefix(urn, "do:floatingip:")
				if _, had := before[urn]; !ok || had {
					continue
				}
				got, _, gerr := d.client.ReservedIPs.Get(ctx, addr)
				if isStatus(gerr, http.StatusNotFound) {
					continue
				}
				if gerr != nil {
					return nil, fmt.Errorf("%w (and reading reserved IP %s to see whether it made it: %v)", apiError(err), addr, apiError(gerr))
				}
				if got.Droplet == nil && got.Region != nil && got.Region.Slug == region {
					made = append(made, got)
				}
			}
			return made, nil
		},
		func(err error, n int) error {
			return fmt.Errorf("creating a reserved IP in %s failed (%v), and %d unassigned addresses appeared in project %s since (another run creating at the same time): apply again; the one this create may have made is released an hour on", region, apiError(err), n, UnsavedProject)
		})
}

// MarkFloatingIPSaved moves the address to the default project.
func (d *Driver) MarkFloatingIPSaved(ctx context.Context, id string) error {
	return d.moveToDefault(ctx, ipURN(id))
}

// moveToDefault assigns urn to the account's default project.
func (d *Driver) moveToDefault(ctx context.Context, urn string) error {
	res, _, err := d.client.Projects.AssignResources(ctx, "default", urn)
	if err != nil {
		return apiError(err)
	}
	for _, r := range res {
		if r.URN == urn && r.Status != "" && r.Status != "ok" && r.Status != "assigned" && r.Status != "already_assigned" {
			if r.Status == "not_found" {
				return nil // gone: nothing left to mark
			}
			return fmt.Errorf("moving %s to the default project: DigitalOcean answered %q", urn, r.Status)
		}
	}
	return nil
}

func lbURN(id string) string { return "do:loadbalancer:" + id }

// CreateUnsavedLoadBalancer is CreateLoadBalancer inside the unsaved
// project.
func (d *Driver) CreateUnsavedLoadBalancer(ctx context.Context, spec cloud.LoadBalancerSpec, until time.Time) (*cloud.LoadBalancer, error) {
	pid := d.markable(ctx, "load balancer", until)
	lb, err := d.createLoadBalancer(ctx, spec, pid)
	if lb != nil && pid != "" {
		lb.UnsavedUntil = time.Now().Add(UnsavedHorizon)
	}
	return lb, err
}

// MarkLoadBalancerSaved moves the load balancer to the default project.
func (d *Driver) MarkLoadBalancerSaved(ctx context.Context, id string) error {
	return d.moveToDefault(ctx, lbURN(id))
}

// markUnsavedLBs sets UnsavedUntil on the load balancers in the unsaved
// project: their created_at and the horizon.
func (d *Driver) markUnsavedLBs(ctx context.Context, lbs []godo.LoadBalancer, out []cloud.LoadBalancer) error {
	projects := make([]string, len(lbs))
	for i, lb := range lbs {
		projects[i] = lb.ProjectID
	}
	pid, err := d.unsavedProjectAmong(ctx, projects)
	if err != nil || pid == "" {
		return err
	}
	for i, lb := range lbs {
		if lb.ProjectID != pid {
			continue
		}
		at := out[i].CreatedAt
		if at.IsZero() {
			at = time.Now()
		}
		out[i].UnsavedUntil = at.Add(UnsavedHorizon)
	}
	return nil
}
