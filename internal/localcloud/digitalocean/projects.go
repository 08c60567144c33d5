package digitalocean

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
)

// Projects, as much as Haddock uses: the account's default project, more
// projects made by name (unique), and which project each reserved IP, load
// balancer and droplet is in, since when. Haddock marks what an apply is
// still creating by the project it is in (see the driver), so
// assigned_at is kept as DigitalOcean keeps it: the time of the last move.
// Droplets and resources never moved are in the default project, since
// their creation.

type project struct {
	ID, Name, Description, Purpose, Environment string
	CreatedAt, UpdatedAt                        time.Time
}

// assignment is where a resource is and since when.
type assignment struct {
	Project string    `json:"project"`
	At      time.Time `json:"assigned_at"`
}

type projectJSON struct {
	ID          string `json:"id"`
	OwnerUUID   string `json:"owner_uuid"`
	OwnerID     int    `json:"owner_id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Purpose     string `json:"purpose"`
	Environment string `json:"environment"`
	CreatedAt   string `json:"created_at"`
	UpdatedAt   string `json:"updated_at"`
	IsDefault   bool   `json:"is_default"`
}

type projectResourceJSON struct {
	URN        string            `json:"urn"`
	AssignedAt string            `json:"assigned_at"`
	Links      map[string]string `json:"links"`
	Status     string            `json:"status"`
}

const (
	accountUUID = "6c0c1c1c9b1e4f0c8c1a0c1c1c1c1c1c1c1c1c1c"
	accountID   = 6012345
)

// projectsEpoch is when the default project was made, and the time of
// reserved IPs never moved (localcloud keeps no creation time for them).
var projectsEpoch = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

var projectEnvironments = []string{"Development", "Staging", "Production"}

func (a *API) projectRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /v2/projects", a.listProjects)
	m.HandleFunc("POST /v2/projects", a.createProject)
	m.HandleFunc("GET /v2/projects/{project_id}", a.getProject)
	m.HandleFunc("DELETE /v2/projects/{project_id}", a.deleteProject)
	m.HandleFunc("GET /v2/projects/{project_id}/resources", a.listProjectResources)
	m.HandleFunc("POST /v2/projects/{project_id}/resources", a.assignProjectResources)
}

// defaultProject is the account's default project, there from the start.
func (a *API) defaultProject() *project {
	return &project{ID: projectUUID, Name: "localcloud", Description: "The account's default project", Purpose: "Operational / Developer tooling",
		Environment: "Development", CreatedAt: projectsEpoch, UpdatedAt: projectsEpoch}
}

// findProject resolves a path id ("default" too). Call with the lock held.
func (a *API) findProject(id string) *project {
	if id == "default" || id == projectUUID {
		return a.defaultProject()
	}
	return a.st.projects[id]
}

func renderProject(p *project) projectJSON {
	return projectJSON{ID: p.ID, OwnerUUID: accountUUID, OwnerID: accountID, Name: p.Name, Description: p.Description, Purpose: p.Purpose,
		Environment: p.Environment, CreatedAt: ts(p.CreatedAt), UpdatedAt: ts(p.UpdatedAt), IsDefault: p.ID == projectUUID}
}

func (a *API) listProjects(w http.ResponseWriter, r *http.Request) {
	a.s.Lock()
	out := []projectJSON{renderProject(a.defaultProject())}
	ps := make([]*project, 0, len(a.st.projects))
	for _, p := range a.st.projects {
		ps = append(ps, p)
	}
	a.s.Unlock()
	slices.SortFunc(ps, func(x, y *project) int {
		if c := x.CreatedAt.Compare(y.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	for _, p := range ps {
		out = append(out, renderProject(p))
	}
	writeList(w, r, "projects", out)
}

func (a *API) getProject(w http.ResponseWriter, r *http.Request) {
	a.s.Lock()
	p := a.findProject(r.PathValue("project_id"))
	a.s.Unlock()
	if p == nil {
		ew(w).notFound()
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"project": renderProject(p)})
}

func (a *API) createProject(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		Purpose     string `json:"purpose"`
		Environment string `json:"environment"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	msg := ""
	switch {
	case req.Name == "" || len(req.Name) > 175:
		msg = "name is required and at most 175 characters."
	case req.Purpose == "" || len(req.Purpose) > 255:
		msg = "purpose is required and at most 255 characters."
	case len(req.Description) > 255:
		msg = "description is at most 255 characters."
	case req.Environment != "" && !slices.Contains(projectEnvironments, req.Environment):
		msg = "environment must be Development, Staging or Production."
	}
	if msg != "" {
		ew(w).unprocessable("%s", msg)
		return
	}
	now := a.s.Now()
	a.s.Lock()
	taken := strings.EqualFold(req.Name, a.defaultProject().Name)
	for _, p := range a.st.projects {
		taken = taken || strings.EqualFold(p.Name, req.Name)
	}
	p := &project{ID: localcloud.NewUUID(), Name: req.Name, Description: req.Description, Purpose: req.Purpose, Environment: req.Environment, CreatedAt: now, UpdatedAt: now}
	if !taken {
		a.st.projects[p.ID] = p
	}
	a.s.Unlock()
	if taken {
		ew(w).error(http.StatusConflict, "conflict", "A project with this name already exists.")
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"project": renderProject(p)})
}

func (a *API) deleteProject(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("project_id")
	now := a.s.Now()
	a.s.Lock()
	p := a.findProject(id)
	status := 0
	switch {
	case p == nil:
		status = http.StatusNotFound
	case p.ID == projectUUID:
		status = http.StatusPreconditionFailed
	case len(a.projectResources(p.ID, now)) > 0:
		status = http.StatusPreconditionFailed
	default:
		delete(a.st.projects, p.ID)
	}
	a.s.Unlock()
	switch status {
	case http.StatusNotFound:
		ew(w).notFound()
	case http.StatusPreconditionFailed:
		ew(w).error(status, "precondition_failed", "cannot delete a project with resources, or the default project. move or remove the resources first")
	default:
		noContent(w, false)
	}
}

// projectResource is one resource of a project, as the listing shows it.
type projectResource struct {
	urn, self string
	at        time.Time
}

// projectResources lists what is in project id: the resources that exist,
// in the project their assignment says (the default one without any).
// Call with the lock held.
func (a *API) projectResources(id string, now time.Time) []projectResource {
	var out []projectResource
	add := func(urn, self string, created time.Time) {
		as, ok := a.st.assigned[urn]
		if !ok {
			as = assignment{Project: projectUUID, At: created}
		}
		if as.Project == id {
			out = append(out, projectResource{urn, self, as.At})
		}
	}
	for _, d := range a.liveDroplets(now) {
		add("do:droplet:"+strconv.Itoa(d.ID), "/v2/droplets/"+strconv.Itoa(d.ID), d.CreatedAt)
	}
	for _, ip := range a.s.Addresses(Name) {
		add(ipURN(ip.IP), "/v2/reserved_ips/"+ip.IP.String(), projectsEpoch)
	}
	for _, lb := range a.st.lbs {
		add("do:loadbalancer:"+lb.ID, "/v2/load_balancers/"+lb.ID, lb.CreatedAt)
	}
	slices.SortFunc(out, func(x, y projectResource) int {
		if c := x.at.Compare(y.at); c != 0 {
			return c
		}
		return strings.Compare(x.urn, y.urn)
	})
	return out
}

func ipURN(ip netip.Addr) string { return "do:floatingip:" + ip.String() }

// projectOf is the project urn is in. Call with the lock held.
func (a *API) projectOf(urn string) string {
	if as, ok := a.st.assigned[urn]; ok {
		return as.Project
	}
	return projectUUID
}

// exists says whether urn names a live droplet, reserved IP or load
// balancer. Call with the lock held.
func (a *API) exists(urn string, now time.Time) bool {
	kind, id, ok := strings.Cut(strings.TrimPrefix(urn, "do:"), ":")
	if !ok || !strings.HasPrefix(urn, "do:") {
		return false
	}
	switch kind {
	case "droplet":
		n, err := strconv.Atoi(id)
		if err != nil {
			return false
		}
		d, ok := a.getDroplet(n, now)
		return ok && d.DeletedAt.IsZero()
	case "floatingip":
		ip, err := netip.ParseAddr(id)
		return err == nil && a.address(ip) != nil
	case "loadbalancer":
		return a.st.lbs[id] != nil
	}
	return false
}

func (a *API) listProjectResources(w http.ResponseWriter, r *http.Request) {
	now, base := a.s.Now(), baseURL(r)
	a.s.Lock()
	p := a.findProject(r.PathValue("project_id"))
	var res []projectResource
	if p != nil {
		res = a.projectResources(p.ID, now)
	}
	a.s.Unlock()
	if p == nil {
		ew(w).notFound()
		return
	}
	out := make([]projectResourceJSON, len(res))
	for i, x := range res {
		out[i] = projectResourceJSON{URN: x.urn, AssignedAt: ts(x.at), Links: map[string]string{"self": base + x.self}, Status: "ok"}
	}
	writeList(w, r, "resources", out)
}

// assignProjectResources moves each resource to the project; a urn that
// names nothing is answered not_found, one in the project already
// already_assigned (its assigned_at kept).
func (a *API) assignProjectResources(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Resources []string `json:"resources"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	now, base := a.s.Now(), baseURL(r)
	a.s.Lock()
	p := a.findProject(r.PathValue("project_id"))
	out := []projectResourceJSON{}
	if p != nil {
		for _, urn := range req.Resources {
			x := projectResourceJSON{URN: urn, AssignedAt: ts(now), Links: map[string]string{"self": base + "/v2/projects/" + p.ID + "/resources"}}
			switch {
			case !a.exists(urn, now):
				x.Status = "not_found"
			case a.projectOf(urn) == p.ID:
				x.Status = "already_assigned"
				if as, ok := a.st.assigned[urn]; ok {
					x.AssignedAt = ts(as.At)
				}
			default:
				a.st.assigned[urn] = assignment{Project: p.ID, At: now}
				x.Status = "assigned"
			}
			out = append(out, x)
		}
	}
	a.s.Unlock()
	if p == nil {
		ew(w).notFound()
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"resources": out})
}

// placeIn records a new resource's project: project_id as the create gave
// it (checked by the caller), else the default. Call with the lock held.
func (a *API) placeIn(urn, projectID string, now time.Time) {
	p := a.findProject(projectID)
	if p == nil {
		p = a.defaultProject()
	}
	a.st.assigned[urn] = assignment{Project: p.ID, At: now}
}

// Age moves back by d when urn got into its project (and, for a load
// balancer, when it was created): what a test does to see what an hour
// later looks like. Haddock tells a killed apply's leftover by that time.
func (a *API) Age(urn string, d time.Duration) error {
	now := a.s.Now()
	a.s.Lock()
	defer a.s.Unlock()
	if !a.exists(urn, now) {
		return fmt.Errorf("%s does not exist", urn)
	}
	as, ok := a.st.assigned[urn]
	if !ok {
		as = assignment{Project: projectUUID, At: now}
	}
	as.At = as.At.Add(-d)
	a.st.assigned[urn] = as
	if id, ok := strings.CutPrefix(urn, "do:loadbalancer:"); ok {
		a.st.lbs[id].CreatedAt = a.st.lbs[id].CreatedAt.Add(-d)
	}
	return nil
}

// savedProject is a project in the state file.
type savedProject struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Purpose     string    `json:"purpose"`
	Environment string    `json:"environment,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// saveProjects returns the projects and the assignments of resources that
// still exist. Call with the lock held.
func (a *API) saveProjects(now time.Time) ([]savedProject, map[string]assignment) {
	var ps []savedProject
	for _, p := range a.st.projects {
		ps = append(ps, savedProject{p.ID, p.Name, p.Description, p.Purpose, p.Environment, p.CreatedAt, p.UpdatedAt})
	}
	slices.SortFunc(ps, func(x, y savedProject) int { return strings.Compare(x.ID, y.ID) })
	as := map[string]assignment{}
	for urn, x := range a.st.assigned {
		if a.exists(urn, now) {
			as[urn] = x
		}
	}
	return ps, as
}

func (a *API) loadProjects(ps []savedProject, as map[string]assignment) error {
	for _, p := range ps {
		a.st.projects[p.ID] = &project{ID: p.ID, Name: p.Name, Description: p.Description, Purpose: p.Purpose, Environment: p.Environment, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	}
	for urn, x := range as {
		if x.Project != projectUUID && a.st.projects[x.Project] == nil {
			return fmt.Errorf("resource %s: unknown project %s", urn, x.Project)
		}
		a.st.assigned[urn] = x
	}
	return nil
}
