package digitalocean

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
)

// sortedActions lists the actions keep says, newest first. Call with s.mu
// held.
func (a *API) sortedActions(keep func(*action) bool) []*action {
	out := []*action{}
	for _, ac := range a.st.actions {
		if keep(ac) {
			out = append(out, ac)
		}
	}
	slices.SortFunc(out, func(x, y *action) int { return y.id - x.id })
	return out
}

func (a *API) writeActions(w http.ResponseWriter, r *http.Request, keep func(*action) bool) {
	now := a.s.Now()
	a.s.Lock()
	as := a.sortedActions(keep)
	out := make([]actionJSON, len(as))
	for i, ac := range as {
		out[i] = renderAction(ac, now)
	}
	a.s.Unlock()
	writeList(w, r, "actions", out)
}

func (a *API) writeAction(w http.ResponseWriter, id int, keep func(*action) bool) {
	now := a.s.Now()
	a.s.Lock()
	ac := a.st.actions[id]
	var out actionJSON
	if ac != nil && keep(ac) {
		out = renderAction(ac, now)
	} else {
		ac = nil
	}
	a.s.Unlock()
	if ac == nil {
		ew(w).notFound()
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"action": out})
}

// writeNewAction answers an action POST: 201 and the action as it was
// started (in-progress unless it failed at once), as DigitalOcean does.
func writeNewAction(w http.ResponseWriter, ac actionJSON) {
	if ac.Status != "errored" {
		ac.Status, ac.CompletedAt = "in-progress", nil
	}
	writeJSON(w, http.StatusCreated, map[string]any{"action": ac})
}

func (a *API) listActions(w http.ResponseWriter, r *http.Request) {
	a.writeActions(w, r, func(*action) bool { return true })
}

func (a *API) getAction(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		ew(w).notFound()
		return
	}
	a.writeAction(w, id, func(*action) bool { return true })
}

// dropletExists reports whether droplet id is visible now.
func (a *API) dropletExists(id int) bool {
	now := a.s.Now()
	a.s.Lock()
	defer a.s.Unlock()
	_, ok := a.getDroplet(id, now)
	return ok
}

func (a *API) listDropletActions(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok || !a.dropletExists(id) {
		ew(w).notFound()
		return
	}
	a.writeActions(w, r, func(ac *action) bool { return ac.resourceType == "droplet" && ac.resourceID == id })
}

func (a *API) getDropletAction(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	aid, aok := pathID(r, "action_id")
	if !ok || !aok || !a.dropletExists(id) {
		ew(w).notFound()
		return
	}
	a.writeAction(w, aid, func(ac *action) bool { return ac.resourceType == "droplet" && ac.resourceID == id })
}

// dropletActionReq is the body of POST /v2/droplets/{id}/actions.
type dropletActionReq struct {
	Type string `json:"type"`
	Name string `json:"name"`
	Size string `json:"size"`
	Disk bool   `json:"disk"`
}

func (a *API) postDropletAction(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		ew(w).notFound()
		return
	}
	var req dropletActionReq
	if !decodeBody(w, r, &req) {
		return
	}
	defer a.s.Serialize()()

	now := a.s.Now()
	a.s.Lock()
	d, ok := a.getDroplet(id, now)
	if !ok || !d.DeletedAt.IsZero() {
		a.s.Unlock()
		ew(w).notFound()
		return
	}
	msg := ""
	_, isPower := localcloud.PowerLeavesOff(req.Type)
	var sz size
	switch {
	case a.dropletStatus(d, now) == "new", d.Powering():
		msg = "Droplet already has a pending event."
	case isPower:
	case req.Type == "rename":
		if !validHostname(req.Name) {
			msg = fmt.Sprintf("Only valid hostname characters are allowed. (a-z, A-Z, 0-9, . and -): %q", req.Name)
		}
	case req.Type == "resize":
		sz, msg = a.checkResize(d, req, now)
	case req.Type == "enable_backups", req.Type == "disable_backups":
	case req.Type == "":
		msg = "Type is required."
	default:
		msg = fmt.Sprintf("localcloud does not support the %q Droplet action.", req.Type)
	}
	if msg != "" {
		a.s.Unlock()
		ew(w).unprocessable("%s", msg)
		return
	}
	ac := a.newAction(req.Type, "droplet", id, d.region(), now)
	switch req.Type {
	case "rename":
		d.Name = req.Name
	case "resize":
		d.resize(sz, req.Disk)
	case "enable_backups":
		d.backups = true
	case "disable_backups":
		d.backups = false
	}
	if !isPower {
		ac.completedAt = a.actionDone(now)
	}
	out := renderAction(ac, now)
	a.s.Unlock()

	if isPower {
		// The action completes when the host is really off or on.
		a.s.PowerHost(d.Host, req.Type, func(err error, now time.Time) {
			ac.completedAt, ac.errored = a.actionDone(now), err != nil
		})
	}
	writeNewAction(w, out)
}

// checkResize checks a resize as DigitalOcean does: the droplet must be off
// and the size one the catalog offers in its region, other than its own,
// with a disk no smaller than the droplet's. msg is the 422 message when it
// fails. Call with the lock held.
func (a *API) checkResize(d droplet, req dropletActionReq, now time.Time) (size, string) {
	if a.dropletStatus(d, now) != "off" {
		return size{}, "Droplet is currently on. Please power it off to run this event."
	}
	if req.Size == "" {
		return size{}, "Size is required."
	}
	sz, ok := findSize(req.Size)
	switch {
	case !ok:
		return sz, "You specified an invalid size for Droplet resize."
	case !sz.offers(d.Region):
		return sz, "Size is not available in this region."
	case sz.Slug == d.Size:
		return sz, "The droplet is already set to this size."
	case sz.DiskGB < d.diskGB():
		return sz, "Size can not decrease size of Droplet's disk image"
	}
	return sz, ""
}

// actionDone is when an action started now completes.
func (a *API) actionDone(now time.Time) time.Time { return now.Add(a.cfg.ActionDelay) }
