package localcloud

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

// sortedActions lists the actions keep says, newest first. Call with s.mu
// held.
func (s *Server) sortedActions(keep func(*action) bool) []*action {
	out := []*action{}
	for _, a := range s.st.actions {
		if keep(a) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b *action) int { return b.id - a.id })
	return out
}

func (s *Server) writeActions(w http.ResponseWriter, r *http.Request, keep func(*action) bool) {
	now := s.now()
	s.mu.Lock()
	as := s.sortedActions(keep)
	out := make([]actionJSON, len(as))
	for i, a := range as {
		out[i] = renderAction(a, now)
	}
	s.mu.Unlock()
	writeList(w, r, "actions", out)
}

func (s *Server) writeAction(w http.ResponseWriter, id int, keep func(*action) bool) {
	now := s.now()
	s.mu.Lock()
	a := s.st.actions[id]
	var out actionJSON
	if a != nil && keep(a) {
		out = renderAction(a, now)
	} else {
		a = nil
	}
	s.mu.Unlock()
	if a == nil {
		ew(w).notFound()
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"action": out})
}

// writeNewAction answers an action POST: 201 and the action as it was
// started (in-progress unless it failed at once), as DigitalOcean does.
func writeNewAction(w http.ResponseWriter, a actionJSON) {
	if a.Status != "errored" {
		a.Status, a.CompletedAt = "in-progress", nil
	}
	writeJSON(w, http.StatusCreated, map[string]any{"action": a})
}

func (s *Server) listActions(w http.ResponseWriter, r *http.Request) {
	s.writeActions(w, r, func(*action) bool { return true })
}

func (s *Server) getAction(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		ew(w).notFound()
		return
	}
	s.writeAction(w, id, func(*action) bool { return true })
}

// dropletExists reports whether droplet id is visible now.
func (s *Server) dropletExists(id int) bool {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.getDroplet(id, now) != nil
}

func (s *Server) listDropletActions(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok || !s.dropletExists(id) {
		ew(w).notFound()
		return
	}
	s.writeActions(w, r, func(a *action) bool { return a.resourceType == "droplet" && a.resourceID == id })
}

func (s *Server) getDropletAction(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	aid, aok := pathID(r, "action_id")
	if !ok || !aok || !s.dropletExists(id) {
		ew(w).notFound()
		return
	}
	s.writeAction(w, aid, func(a *action) bool { return a.resourceType == "droplet" && a.resourceID == id })
}

// powerEffect is what a power action leaves the droplet as: off or not.
var powerEffect = map[string]bool{
	"power_off":   true,
	"shutdown":    true,
	"power_on":    false,
	"reboot":      false,
	"power_cycle": false,
}

func (s *Server) postDropletAction(w http.ResponseWriter, r *http.Request) {
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
	s.opMu.Lock()
	defer s.opMu.Unlock()

	now := s.now()
	s.mu.Lock()
	d := s.getDroplet(id, now)
	if d == nil || !d.deletedAt.IsZero() {
		s.mu.Unlock()
		ew(w).notFound()
		return
	}
	msg := ""
	off, isPower := powerEffect[req.Type]
	switch {
	case s.dropletStatus(d, now) == "new":
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
	s.mu.Unlock()
	if msg != "" {
		ew(w).unprocessable("%s", msg)
		return
	}

	var berr error
	if pc, ok := s.backend.(PowerController); ok && isPower {
		berr = pc.Power(s.ctx, id, req.Type)
	}

	now = s.now()
	s.mu.Lock()
	a := s.newAction(req.Type, "droplet", id, d.region, now)
	a.completedAt = s.actionDone(now)
	switch {
	case berr != nil:
		s.logf("localcloud: %s droplet %d: %v", req.Type, id, berr)
		a.errored = true
	case isPower:
		d.off = off
	case req.Type == "rename":
		d.name = req.Name
	case req.Type == "enable_backups":
		d.backups = true
	case req.Type == "disable_backups":
		d.backups = false
	}
	out := renderAction(a, now)
	s.mu.Unlock()
	writeNewAction(w, out)
}

// actionDone is when an action started now completes.
func (s *Server) actionDone(now time.Time) time.Time { return now.Add(s.cfg.ActionDelay) }
