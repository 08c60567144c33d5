package localcloud

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
)

// sortedRIPs lists reserved IPs by address. Call with s.mu held.
func (s *Server) sortedRIPs() []*reservedIP {
	out := make([]*reservedIP, 0, len(s.st.rips))
	for _, ip := range s.st.rips {
		out = append(out, ip)
	}
	slices.SortFunc(out, func(a, b *reservedIP) int { return a.ip.Compare(b.ip) })
	return out
}

func pathIP(r *http.Request) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(r.PathValue("ip"))
	return ip, err == nil && ip.Is4()
}

func (s *Server) listRIPs(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	s.mu.Lock()
	ips := s.sortedRIPs()
	out := make([]reservedIPJSON, len(ips))
	for i, ip := range ips {
		out[i] = s.renderRIP(ip, now)
	}
	s.mu.Unlock()
	writeList(w, r, "reserved_ips", out)
}

func (s *Server) getRIP(w http.ResponseWriter, r *http.Request) {
	addr, ok := pathIP(r)
	now := s.now()
	s.mu.Lock()
	ip := s.st.rips[addr]
	var out reservedIPJSON
	if ok && ip != nil {
		out = s.renderRIP(ip, now)
	}
	s.mu.Unlock()
	if !ok || ip == nil {
		ew(w).notFound()
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"reserved_ip": out})
}

// assignableDroplet returns droplet id when a reserved IP can be assigned to
// it, or the 422 message saying why not. Call with s.mu held.
func (s *Server) assignableDroplet(id int) (*droplet, string) {
	now := s.now()
	d := s.getDroplet(id, now)
	switch {
	case d == nil || !d.deletedAt.IsZero():
		return nil, fmt.Sprintf("Droplet %d could not be found.", id)
	case s.dropletStatus(d, now) == "new":
		return nil, "Droplet already has a pending event."
	}
	return d, ""
}

func (s *Server) createRIP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		DropletID *int   `json:"droplet_id"`
		Region    string `json:"region"`
		ProjectID string `json:"project_id"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	s.opMu.Lock()
	defer s.opMu.Unlock()

	s.mu.Lock()
	var reg region
	var d *droplet
	msg := ""
	switch {
	case len(s.st.rips) >= s.cfg.ReservedIPLimit:
		msg = fmt.Sprintf("You have reached your reserved IP limit of %d.", s.cfg.ReservedIPLimit)
	case req.DropletID != nil:
		if d, msg = s.assignableDroplet(*req.DropletID); d != nil {
			reg = d.region
			if req.Region != "" && req.Region != reg.Slug {
				msg = "The reserved IP and the Droplet must be in the same region."
			}
		}
	case req.Region != "":
		var ok bool
		reg, ok = findRegion(req.Region)
		switch {
		case !ok:
			msg = "You specified an invalid region."
		case !reg.Available:
			msg = "Region is not available."
		}
	default:
		msg = "Either droplet_id or region is required."
	}
	s.mu.Unlock()
	if msg != "" {
		ew(w).unprocessable("%s", msg)
		return
	}

	addr, err := s.backend.AllocateIP(s.ctx, reg.Slug)
	if err != nil {
		ew(w).error(http.StatusInternalServerError, "server_error", "allocating a reserved IP: "+err.Error())
		return
	}
	if d != nil {
		if err := s.backend.AssignIP(s.ctx, addr, d.id); err != nil {
			_ = s.backend.ReleaseIP(s.ctx, addr)
			ew(w).error(http.StatusInternalServerError, "server_error", "assigning the reserved IP: "+err.Error())
			return
		}
	}

	now, base := s.now(), baseURL(r)
	s.mu.Lock()
	ip := &reservedIP{ip: addr, region: reg}
	s.st.rips[addr] = ip
	links := map[string]any{}
	if d != nil {
		ip.dropletID = d.id
		a := s.newAction("assign_ip", "reserved_ip", ipResourceID(addr), reg, now)
		a.ip = addr
		a.completedAt = s.actionDone(now)
		links["droplets"] = []actionLinkJSON{{ID: d.id, Rel: "droplet", Href: base + "/v2/droplets/" + strconv.Itoa(d.id)}}
		links["actions"] = []actionLinkJSON{actionLink(base, a, "assign_ip")}
	}
	out := s.renderRIP(ip, now)
	s.mu.Unlock()
	writeJSON(w, http.StatusAccepted, map[string]any{"reserved_ip": out, "links": links})
}

func (s *Server) deleteRIP(w http.ResponseWriter, r *http.Request) {
	addr, ok := pathIP(r)
	if !ok {
		ew(w).notFound()
		return
	}
	s.opMu.Lock()
	defer s.opMu.Unlock()
	s.mu.Lock()
	ip := s.st.rips[addr]
	if ip != nil {
		delete(s.st.rips, addr)
	}
	s.mu.Unlock()
	if ip == nil {
		ew(w).notFound()
		return
	}
	if ip.dropletID != 0 {
		if err := s.backend.UnassignIP(s.ctx, addr); err != nil {
			s.logf("localcloud: unassigning reserved IP %s: %v", addr, err)
		}
	}
	if err := s.backend.ReleaseIP(s.ctx, addr); err != nil {
		s.logf("localcloud: releasing reserved IP %s: %v", addr, err)
	}
	noContent(w, false)
}

func (s *Server) ripExists(addr netip.Addr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.rips[addr] != nil
}

func (s *Server) listRIPActions(w http.ResponseWriter, r *http.Request) {
	addr, ok := pathIP(r)
	if !ok || !s.ripExists(addr) {
		ew(w).notFound()
		return
	}
	s.writeActions(w, r, func(a *action) bool { return a.resourceType == "reserved_ip" && a.ip == addr })
}

func (s *Server) getRIPAction(w http.ResponseWriter, r *http.Request) {
	addr, ok := pathIP(r)
	aid, aok := pathID(r, "action_id")
	if !ok || !aok || !s.ripExists(addr) {
		ew(w).notFound()
		return
	}
	s.writeAction(w, aid, func(a *action) bool { return a.resourceType == "reserved_ip" && a.ip == addr })
}

func (s *Server) postRIPAction(w http.ResponseWriter, r *http.Request) {
	addr, ok := pathIP(r)
	if !ok {
		ew(w).notFound()
		return
	}
	var req struct {
		Type      string `json:"type"`
		DropletID int    `json:"droplet_id"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	s.opMu.Lock()
	defer s.opMu.Unlock()

	s.mu.Lock()
	ip := s.st.rips[addr]
	if ip == nil {
		s.mu.Unlock()
		ew(w).notFound()
		return
	}
	var d *droplet
	msg := ""
	switch req.Type {
	case "assign":
		if req.DropletID == 0 {
			msg = "droplet_id is required to assign a reserved IP."
		} else if d, msg = s.assignableDroplet(req.DropletID); d != nil && d.region.Slug != ip.region.Slug {
			msg = "The reserved IP and the Droplet must be in the same region."
		}
	case "unassign":
		if ip.dropletID == 0 {
			msg = "The reserved IP is not assigned to a Droplet."
		}
	default:
		msg = fmt.Sprintf("Type must be assign or unassign, not %q.", req.Type)
	}
	s.mu.Unlock()
	if msg != "" {
		ew(w).unprocessable("%s", msg)
		return
	}

	var err error
	if d != nil {
		err = s.backend.AssignIP(s.ctx, addr, d.id)
	} else {
		err = s.backend.UnassignIP(s.ctx, addr)
	}

	now := s.now()
	s.mu.Lock()
	a := s.newAction(req.Type+"_ip", "reserved_ip", ipResourceID(addr), ip.region, now)
	a.ip = addr
	a.completedAt = s.actionDone(now)
	switch {
	case err != nil:
		s.logf("localcloud: %s reserved IP %s: %v", req.Type, addr, err)
		a.errored = true
	case d != nil:
		ip.dropletID = d.id
	default:
		ip.dropletID = 0
	}
	out := renderAction(a, now)
	s.mu.Unlock()
	writeNewAction(w, out)
}
