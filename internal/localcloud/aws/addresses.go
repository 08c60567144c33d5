package aws

import (
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Elastic IPs are the core's pool addresses: associating one moves the
// address to the instance's host (Server.MoveAddress), so it really routes
// there with real hosts.

// eipOf is the Elastic IP associated with in, nil when none. Call with the
// lock held.
func (a *API) eipOf(in *instance, now time.Time) *elasticIP {
	for _, e := range a.st.Addresses {
		if e.InstanceID == in.ID && a.associated(e, now) != nil {
			return e
		}
	}
	return nil
}

// associated is the instance e is associated with, nil when none: the
// association holds while the core's address is on the instance's host
// (terminating an instance unassigns it). Call with the lock held.
func (a *API) associated(e *elasticIP, now time.Time) *instance {
	in := a.st.Instances[e.InstanceID]
	if in == nil || !in.TerminatedAt.IsZero() {
		return nil
	}
	addr := a.s.Address(netip.MustParseAddr(e.IP))
	if addr == nil || addr.HostID != in.HostID || a.s.Host(in.HostID, now) == nil {
		return nil
	}
	return in
}

// addressByParams finds the address AllocationId (or PublicIp) names.
// Call with the lock held.
func (a *API) addressByParams(c *call) (*elasticIP, *apiError) {
	id, ip := c.p.get("AllocationId"), c.p.get("PublicIp")
	for _, e := range a.st.Addresses {
		if e.Region == c.region.Name && (id != "" && e.AllocationID == id || id == "" && ip != "" && e.IP == ip) {
			return e, nil
		}
	}
	switch {
	case id != "":
		return nil, errf(400, "InvalidAllocationID.NotFound", "The allocation ID '%s' does not exist", id)
	case ip != "":
		return nil, errf(400, "InvalidAddress.NotFound", "Address '%s' not found.", ip)
	}
	return nil, missing("AllocationId")
}

func (a *API) allocateAddress(c *call) {
	if d := c.p.get("Domain"); d != "" && d != "vpc" {
		c.Fail(invalidValue(d, "Domain"))
		return
	}
	if c.p.get("Address") != "" || c.p.get("PublicIpv4Pool") != "" && c.p.get("PublicIpv4Pool") != "amazon" {
		c.Fail(errf(400, "InvalidParameterValue", "localcloud has no address pools of your own (BYOIP): allocate from Amazon's pool"))
		return
	}
	if g := c.p.get("NetworkBorderGroup"); g != "" && g != c.region.Name {
		c.Fail(invalidValue(g, "NetworkBorderGroup"))
		return
	}
	specs, err := c.p.tagSpecs("elastic-ip")
	if err != nil {
		c.Fail(err)
		return
	}
	defer a.s.Serialize()()
	a.s.Lock()
	n := 0
	for _, e := range a.st.Addresses {
		if e.Region == c.region.Name {
			n++
		}
	}
	a.s.Unlock()
	if n >= a.cfg.AddressLimit {
		c.Fail(errf(400, "AddressLimitExceeded", "The maximum number of addresses has been reached."))
		return
	}
	addr, aerr := a.s.AllocateAddress(Name, c.region.Name, 0)
	if aerr != nil {
		a.s.Logf("localcloud: aws: allocating an address: %v", aerr)
		c.Fail(errf(500, "InternalError", "An internal error has occurred"))
		return
	}
	a.s.Lock()
	e := &elasticIP{AllocationID: a.st.newID("eipalloc"), IP: addr.IP.String(), Region: c.region.Name, Tags: specs["elastic-ip"]}
	a.st.Addresses[e.AllocationID] = e
	a.s.Unlock()
	c.OK(func(x *xw) {
		x.Leaf("publicIp", e.IP)
		x.Leaf("domain", "vpc")
		x.Leaf("allocationId", e.AllocationID)
		x.Leaf("publicIpv4Pool", "amazon")
		x.Leaf("networkBorderGroup", e.Region)
	})
}

func (a *API) associateAddress(c *call) {
	instID := c.p.get("InstanceId")
	if instID == "" {
		c.Fail(errf(400, "MissingParameter", "Either an instance ID or a network interface ID must be specified (localcloud: an instance ID)"))
		return
	}
	reassoc, err := c.p.boolean("AllowReassociation")
	if err != nil {
		c.Fail(err)
		return
	}
	defer a.s.Serialize()()
	a.s.Lock()
	e, err := a.addressByParams(c)
	var in *instance
	if err == nil {
		in, err = a.instanceByID(c.region.Name, instID)
	}
	if err == nil {
		switch _, st := a.instanceState(in, c.now); st {
		case "running", "stopped":
		default:
			err = errf(400, "IncorrectInstanceState", "The %s instance '%s' is not in a valid state for this operation.", st, in.ID)
		}
	}
	if err == nil {
		if cur := a.associated(e, c.now); cur != nil && cur != in && !reassoc {
			err = errf(400, "Resource.AlreadyAssociated", "resource %s is already associated with associate-id %s", e.AllocationID, e.AssociationID)
		}
	}
	if err != nil {
		a.s.Unlock()
		c.Fail(err)
		return
	}
	// The instance's primary private address takes one Elastic IP: another
	// one there is disassociated.
	var previous *elasticIP
	if old := a.eipOf(in, c.now); old != nil && old != e {
		previous = old
	}
	hostID := in.HostID
	a.s.Unlock()

	if previous != nil {
		if err := a.s.MoveAddress(netip.MustParseAddr(previous.IP), 0); err != nil {
			a.s.Logf("localcloud: aws: disassociating %s: %v", previous.IP, err)
		}
	}
	if err := a.s.MoveAddress(netip.MustParseAddr(e.IP), hostID); err != nil {
		a.s.Logf("localcloud: aws: associating %s with %s: %v", e.IP, in.ID, err)
		a.fw.SyncLater() // a previous address may have moved
		c.Fail(errf(500, "InternalError", "An internal error has occurred"))
		return
	}
	a.s.Lock()
	if previous != nil {
		previous.AssociationID, previous.InstanceID = "", ""
	}
	e.AssociationID, e.InstanceID = a.st.newID("eipassoc"), in.ID
	assoc := e.AssociationID
	a.s.Unlock()
	a.fw.Sync(false) // the instance's public address changed
	c.OK(func(x *xw) { x.Leaf("associationId", assoc) })
}

func (a *API) disassociateAddress(c *call) {
	assoc, ip := c.p.get("AssociationId"), c.p.get("PublicIp")
	if assoc == "" && ip == "" {
		c.Fail(missing("AssociationId"))
		return
	}
	defer a.s.Serialize()()
	a.s.Lock()
	var e *elasticIP
	for _, x := range a.st.Addresses {
		if x.Region == c.region.Name && a.associated(x, c.now) != nil && (assoc != "" && x.AssociationID == assoc || assoc == "" && x.IP == ip) {
			e = x
		}
	}
	a.s.Unlock()
	if e == nil {
		c.Fail(errf(400, "InvalidAssociationID.NotFound", "The association ID '%s' does not exist", assoc+ip))
		return
	}
	if err := a.s.MoveAddress(netip.MustParseAddr(e.IP), 0); err != nil {
		a.s.Logf("localcloud: aws: disassociating %s: %v", e.IP, err)
		c.Fail(errf(500, "InternalError", "An internal error has occurred"))
		return
	}
	a.s.Lock()
	e.AssociationID, e.InstanceID = "", ""
	a.s.Unlock()
	a.fw.Sync(false) // the instance's public address changed
	c.OK(nil)
}

func (a *API) releaseAddress(c *call) {
	defer a.s.Serialize()()
	a.s.Lock()
	e, err := a.addressByParams(c)
	if err == nil && a.associated(e, c.now) != nil {
		err = errf(400, "InvalidIPAddress.InUse", "Address %s is in use.", e.AllocationID)
	}
	if err == nil {
		delete(a.st.Addresses, e.AllocationID)
	}
	a.s.Unlock()
	if err != nil {
		c.Fail(err)
		return
	}
	a.s.ReleaseAddress(netip.MustParseAddr(e.IP))
	c.OK(nil)
}

func (a *API) describeAddresses(c *call) {
	ids, ips := c.p.list("AllocationId"), c.p.list("PublicIp")
	fs, err := c.p.filters([]string{"allocation-id", "association-id", "domain", "instance-id", "public-ip", "network-border-group", "private-ip-address"}, true)
	if err != nil {
		c.Fail(err)
		return
	}
	type row struct {
		e                    elasticIP
		assoc, inst, private string
	}
	a.s.Lock()
	var out []row
	for _, e := range a.st.Addresses {
		if e.Region != c.region.Name || len(ids) > 0 && !slices.Contains(ids, e.AllocationID) || len(ips) > 0 && !slices.Contains(ips, e.IP) {
			continue
		}
		r := row{e: *e}
		r.e.Tags = slices.Clone(e.Tags)
		if in := a.associated(e, c.now); in != nil {
			r.assoc, r.inst = e.AssociationID, in.ID
			_, r.private = a.addresses(in, c.now)
		}
		if matchFilters(fs, e.Tags, func(n string) []string {
			return map[string][]string{
				"allocation-id": {e.AllocationID}, "association-id": {r.assoc}, "domain": {"vpc"}, "instance-id": {r.inst},
				"public-ip": {e.IP}, "network-border-group": {e.Region}, "private-ip-address": {r.private},
			}[n]
		}) {
			out = append(out, r)
		}
	}
	a.s.Unlock()
	for _, id := range ids {
		if !slices.ContainsFunc(out, func(r row) bool { return r.e.AllocationID == id }) && len(fs) == 0 {
			c.Fail(errf(400, "InvalidAllocationID.NotFound", "The allocation ID '%s' does not exist", id))
			return
		}
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(out, func(r row) bool { return r.e.IP == ip }) && len(fs) == 0 {
			c.Fail(errf(400, "InvalidAddress.NotFound", "Address '%s' not found.", ip))
			return
		}
	}
	slices.SortFunc(out, func(x, y row) int { return strings.Compare(x.e.AllocationID, y.e.AllocationID) })
	c.OK(func(x *xw) {
		set(x, "addressesSet", out, func(r row) {
			x.Leaf("publicIp", r.e.IP)
			x.Leaf("allocationId", r.e.AllocationID)
			x.Leaf("domain", "vpc")
			x.Opt("instanceId", r.inst)
			x.Opt("associationId", r.assoc)
			if r.assoc != "" {
				x.Leaf("networkInterfaceOwnerId", AccountID)
			}
			x.Opt("privateIpAddress", r.private)
			tagSet(x, r.e.Tags)
			x.Leaf("publicIpv4Pool", "amazon")
			x.Leaf("networkBorderGroup", r.e.Region)
		})
	})
}
