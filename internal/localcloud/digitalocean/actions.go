package digitalocean

import (
	"fmt"
	"net/http"
	"slices"
	"time"
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

// powerEffect is what a power action leaves the droplet as: off or not.
var powerEffect = map[string]bool{
	"power_off":   true,
	"shutdown":    true,
	"power_on":    false,
	"reboot":      false,
	"power_cycle": false,
}

func (a *API) postDropletAction(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		ew(w).notFound()
		return
	}
	var req struct {
		Type string `json:"type"`
		Name string `json:"name"`
	}
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
	off, isPower := powerEffect[req.Type]
	switch {
	case a.dropletStatus(d, now) == "new":
		msg = "Droplet already has a pending event."
	case isPower:
	case req.Type == "rename":
		if !validHostname(req.Name) {
			msg = fmt.Sprintf("Only valid hostname characters are allowed. (a-z, A-Z, 0-9, . and -): %q", req.Name)
		}
	case req.Type == "enable_backups", req.Type == "disable_backups":
	case req.Type == "":
		msg = "Type is required."
	default:
		msg = fmt.Sprintf("localcloud does not support the %q Droplet action.", req.Type)
	}
	a.s.Unlock()
	if msg != "" {
		ew(w).unprocessable("%s", msg)
		return
	}

	var berr error
	if isPower {
		berr = a.s.Power(id, req.Type)
	}

	now = a.s.Now()
	a.s.Lock()
	ac := a.newAction(req.Type, "droplet", id, d.region(), now)
	ac.completedAt = a.actionDone(now)
	switch {
	case berr != nil:
		a.s.Logf("localcloud: %s droplet %d: %v", req.Type, id, berr)
		ac.errored = true
	case isPower:
		d.Off = off
	case req.Type == "rename":
		d.Name = req.Name
	case req.Type == "enable_backups":
		d.backups = true
	case req.Type == "disable_backups":
		d.backups = false
	}
	out := renderAction(ac, now)
	a.s.Unlock()
	writeNewAction(w, out)
}

// actionDone is when an action started now completes.
func (a *API) actionDone(now time.Time) time.Time { return now.Add(a.cfg.ActionDelay) }
