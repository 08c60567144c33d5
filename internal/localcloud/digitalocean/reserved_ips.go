package digitalocean

import (
	"fmt"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	"net/http"
	"net/netip"
	"strconv"
)

func pathIP(r *http.Request) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(r.PathValue("ip"))
	return ip, err == nil && ip.Is4()
}

func (a *API) listRIPs(w http.ResponseWriter, r *http.Request) {
	now := a.s.Now()
	a.s.Lock()
	ips := a.s.Addresses(Name)
	out := make([]reservedIPJSON, len(ips))
	for i, ip := range ips {
		out[i] = a.renderRIP(ip, now)
	}
	a.s.Unlock()
	writeList(w, r, "reserved_ips", out)
}

func (a *API) getRIP(w http.ResponseWriter, r *http.Request) {
	addr, ok := pathIP(r)
	now := a.s.Now()
	a.s.Lock()
	ip := a.address(addr)
	var out reservedIPJSON
	if ok && ip != nil {
		out = a.renderRIP(ip, now)
	}
	a.s.Unlock()
	if !ok || ip == nil {
		ew(w).notFound()
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"reserved_ip": out})
}

// assignableDroplet returns droplet id when a reserved IP can be assigned to
// it, or the 422 message saying why not. Call with s.mu held.
func (a *API) assignableDroplet(id int) (*droplet, string) {
	now := a.s.Now()
	d, ok := a.getDroplet(id, now)
	switch {
	case !ok || !d.DeletedAt.IsZero():
		return nil, fmt.Sprintf("Droplet %d could not be found.", id)
	case a.dropletStatus(d, now) == "new":
		return nil, "Droplet already has a pending event."
	}
	return &d, ""
}

// address is reserved IP ip, nil when there is none. Call with the lock
// held.
func (a *API) address(ip netip.Addr) *localcloud.Address {
	if addr := a.s.Address(ip); addr != nil && addr.API == Name {
		return addr
	}
	return nil
}

func (a *API) createRIP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		DropletID *int   `json:"droplet_id"`
		Region    string `json:"region"`
		ProjectID string `json:"project_id"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	defer a.s.Serialize()()

	a.s.Lock()
	var reg region
	var d *droplet
	msg := ""
	switch {
	case len(a.s.Addresses(Name)) >= a.cfg.ReservedIPLimit:
		msg = fmt.Sprintf("You have reached your reserved IP limit of %d.", a.cfg.ReservedIPLimit)
	case req.DropletID != nil:
		if d, msg = a.assignableDroplet(*req.DropletID); d != nil {
			reg = d.region()
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
	if msg == "" && req.ProjectID != "" && a.findProject(req.ProjectID) == nil {
		msg = fmt.Sprintf("Project %s could not be found.", req.ProjectID)
	}
	a.s.Unlock()
	if msg != "" {
		ew(w).unprocessable("%s", msg)
		return
	}

	hostID := 0
	if d != nil {
		hostID = d.ID
	}
	ip, err := a.s.AllocateAddress(Name, reg.Slug, hostID)
	if err != nil {
		ew(w).error(http.StatusInternalServerError, "server_error", "allocating a reserved IP: "+err.Error())
		return
	}

	now, base := a.s.Now(), baseURL(r)
	a.s.Lock()
	a.placeIn(ipURN(ip.IP), req.ProjectID, now)
	links := map[string]any{}
	if d != nil {
		ac := a.newAction("assign_ip", "reserved_ip", ipResourceID(ip.IP), reg, now)
		ac.ip = ip.IP
		ac.completedAt = a.actionDone(now)
		links["droplets"] = []actionLinkJSON{{ID: d.ID, Rel: "droplet", Href: base + "/v2/droplets/" + strconv.Itoa(d.ID)}}
		links["actions"] = []actionLinkJSON{actionLink(base, ac, "assign_ip")}
	}
	out := a.renderRIP(ip, now)
	a.s.Unlock()
	writeJSON(w, http.StatusAccepted, map[string]any{"reserved_ip": out, "links": links})
}

func (a *API) deleteRIP(w http.ResponseWriter, r *http.Request) {
	addr, ok := pathIP(r)
	if !ok {
		ew(w).notFound()
		return
	}
	defer a.s.Serialize()()
	a.s.Lock()
	ok = a.address(addr) != nil
	delete(a.st.assigned, ipURN(addr))
	a.s.Unlock()
	if !ok || !a.s.ReleaseAddress(addr) {
		ew(w).notFound()
		return
	}
	noContent(w, false)
}

func (a *API) ripExists(addr netip.Addr) bool {
	a.s.Lock()
	defer a.s.Unlock()
	return a.address(addr) != nil
}

func (a *API) listRIPActions(w http.ResponseWriter, r *http.Request) {
	addr, ok := pathIP(r)
	if !ok || !a.ripExists(addr) {
		ew(w).notFound()
		return
	}
	a.writeActions(w, r, func(ac *action) bool { return ac.resourceType == "reserved_ip" && ac.ip == addr })
}

func (a *API) getRIPAction(w http.ResponseWriter, r *http.Request) {
	addr, ok := pathIP(r)
	aid, aok := pathID(r, "action_id")
	if !ok || !aok || !a.ripExists(addr) {
		ew(w).notFound()
		return
	}
	a.writeAction(w, aid, func(ac *action) bool { return ac.resourceType == "reserved_ip" && ac.ip == addr })
}

func (a *API) postRIPAction(w http.ResponseWriter, r *http.Request) {
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
	defer a.s.Serialize()()

	a.s.Lock()
	ip := a.address(addr)
	if ip == nil {
		a.s.Unlock()
		ew(w).notFound()
		return
	}
	var d *droplet
	msg := ""
	switch req.Type {
	case "assign":
		if req.DropletID == 0 {
			msg = "droplet_id is required to assign a reserved IP."
		} else if d, msg = a.assignableDroplet(req.DropletID); d != nil && d.Region != ip.Region {
			msg = "The reserved IP and the Droplet must be in the same region."
		}
	case "unassign":
		if ip.HostID == 0 {
			msg = "The reserved IP is not assigned to a Droplet."
		}
	default:
		msg = fmt.Sprintf("Type must be assign or unassign, not %q.", req.Type)
	}
	reg, _ := findRegion(ip.Region)
	a.s.Unlock()
	if msg != "" {
		ew(w).unprocessable("%s", msg)
		return
	}

	hostID := 0
	if d != nil {
		hostID = d.ID
	}
	err := a.s.MoveAddress(addr, hostID)

	now := a.s.Now()
	a.s.Lock()
	ac := a.newAction(req.Type+"_ip", "reserved_ip", ipResourceID(addr), reg, now)
	ac.ip = addr
	ac.completedAt = a.actionDone(now)
	if err != nil {
		a.s.Logf("localcloud: %s reserved IP %s: %v", req.Type, addr, err)
		ac.errored = true
	}
	out := renderAction(ac, now)
	a.s.Unlock()
	writeNewAction(w, out)
}
