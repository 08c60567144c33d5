package aws

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
)

// maxUserData is EC2's limit on user data, before base64.
const maxUserData = 16 * 1024

// EC2 instance state codes.
var stateCodes = map[string]int{
	"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80,
}

// instanceState is in's EC2 state at now and its host (nil once gone).
// Call with the lock held.
func (a *API) instanceState(in *instance, now time.Time) (*localcloud.Host, string) {
	h := a.s.Host(in.HostID, now)
	switch {
	case !in.TerminatedAt.IsZero() && h != nil:
		return h, "shutting-down"
	case !in.TerminatedAt.IsZero(), h == nil:
		return nil, "terminated"
	case h.Powering() && in.Power == "stop":
		return h, "stopping"
	case h.Powering():
		return h, "pending"
	}
	switch a.s.HostStatus(h, now) {
	case localcloud.HostRunning:
		if a.fw.Waiting(in.HostID) {
			return h, "pending" // its security groups' rules are on their way
		}
		return h, "running"
	case localcloud.HostOff:
		return h, "stopped"
	}
	return h, "pending"
}

// instances lists the region's instances, terminated ones within the
// retention, by id. Call with the lock held.
func (a *API) instances(region string, now time.Time) []*instance {
	var out []*instance
	purged := false
	for id, in := range a.st.Instances {
		if !in.TerminatedAt.IsZero() && now.Sub(in.TerminatedAt) > a.cfg.TerminatedRetention {
			delete(a.st.Instances, id)
			delete(a.st.byHost, in.HostID)
			purged = true
			continue
		}
		if in.Region == region {
			out = append(out, in)
		}
	}
	if purged {
		// A launch whose instances are all gone cannot be retried.
		live := map[string]bool{}
		for _, in := range a.st.Instances {
			live[in.ReservationID] = true
		}
		for tok, rid := range a.st.ClientToken {
			if !live[rid] {
				delete(a.st.ClientToken, tok)
			}
		}
	}
	slices.SortFunc(out, func(x, y *instance) int { return strings.Compare(x.ID, y.ID) })
	return out
}

// instanceByID finds an instance of the region, or the EC2 error for id.
// Call with the lock held.
func (a *API) instanceByID(region, id string) (*instance, *apiError) {
	if !validID(id, "i") {
		return nil, errf(400, "InvalidInstanceID.Malformed", "Invalid id: \"%s\"", id)
	}
	in := a.st.Instances[id]
	if in == nil || in.Region != region {
		return nil, errf(400, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", id)
	}
	return in, nil
}

// instancesByIDs finds every id, or the error naming those not found.
func (a *API) instancesByIDs(region string, ids []string) ([]*instance, *apiError) {
	var out []*instance
	var gone []string
	for _, id := range ids {
		in, err := a.instanceByID(region, id)
		switch {
		case err != nil && err.Code == "InvalidInstanceID.NotFound":
			gone = append(gone, id)
		case err != nil:
			return nil, err
		default:
			out = append(out, in)
		}
	}
	switch {
	case len(gone) == 1:
		return nil, errf(400, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", gone[0])
	case len(gone) > 1:
		return nil, errf(400, "InvalidInstanceID.NotFound", "The instance IDs '%s' do not exist", strings.Join(gone, ", "))
	}
	return out, nil
}

// validID reports whether id looks like an EC2 id: prefix-<8 or 17
// lower-case hex digits>.
func validID(id, prefix string) bool {
	hexd, ok := strings.CutPrefix(id, prefix+"-")
	return ok && (len(hexd) == 8 || len(hexd) == 17) && strings.Trim(hexd, "0123456789abcdef") == ""
}

func (a *API) runInstances(c *call) {
	p := c.p
	minN, err := p.integer("MinCount", 0)
	if err == nil && !p.has("MinCount") {
		err = missing("MinCount")
	}
	maxN, err2 := p.integer("MaxCount", 0)
	if err == nil && err2 != nil {
		err = err2
	}
	if err == nil && !p.has("MaxCount") {
		err = missing("MaxCount")
	}
	if err == nil && (minN < 1 || maxN < minN) {
		err = errf(400, "InvalidParameterValue", "MinCount must be at least 1 and MaxCount at least MinCount (got %d, %d)", minN, maxN)
	}
	if err != nil {
		c.Fail(err)
		return
	}
	imageID, typ := p.get("ImageId"), p.get("InstanceType")
	if typ == "" {
		typ = "m1.small" // EC2's default, which localcloud does not sell
	}
	var userData string
	if ud := p.get("UserData"); ud != "" {
		b, derr := base64.StdEncoding.DecodeString(ud)
		if derr != nil {
			c.Fail(errf(400, "InvalidParameterValue", "Invalid BASE64 encoding of user data."))
			return
		}
		if len(b) > maxUserData {
			c.Fail(errf(400, "InvalidParameterValue", "User data is limited to %d bytes", maxUserData))
			return
		}
		userData = string(b)
	}
	if err := a.s.CheckHostRequest(localcloud.HostRequest{UserData: userData}); err != nil {
		c.Fail(errf(400, "InvalidParameterValue", "User data refused: %v", err))
		return
	}
	specs, err := p.tagSpecs("instance", "volume", "network-interface")
	if err != nil {
		c.Fail(err)
		return
	}
	region := c.region.Name

	a.s.Lock()
	if rid := a.st.ClientToken[p.get("ClientToken")]; rid != "" && p.get("ClientToken") != "" {
		// A retry of a launch that happened: the same reservation.
		var insts []*instance
		for _, in := range a.instances(region, c.now) {
			if in.ReservationID == rid {
				insts = append(insts, in)
			}
		}
		out := a.renderReservation(rid, insts, c.now)
		a.s.Unlock()
		c.OK(out)
		return
	}
	im, zone, subnet, groups, key, err := a.checkLaunch(c, imageID, typ)
	live := 0
	for _, in := range a.instances(region, c.now) {
		if in.TerminatedAt.IsZero() {
			live++
		}
	}
	if err == nil && live+minN > a.cfg.InstanceLimit {
		err = errf(400, "InstanceLimitExceeded", "You have requested more instances (%d) than your current instance limit of %d allows for the specified instance type.", live+minN, a.cfg.InstanceLimit)
	}
	if err != nil {
		a.s.Unlock()
		c.Fail(err)
		return
	}
	n := min(maxN, a.cfg.InstanceLimit-live)
	it, _ := findType(typ)
	rid := a.st.newID("r")
	if tok := p.get("ClientToken"); tok != "" {
		a.st.ClientToken[tok] = rid
	}
	name := ""
	for _, t := range specs["instance"] {
		if t.Key == "Name" {
			name = t.Value
		}
	}
	var created []*localcloud.Host
	var reqs []localcloud.HostRequest
	var insts []*instance
	for i := range n {
		h := &localcloud.Host{API: Name, Name: name, Region: region, Size: typ, Image: imageID, UserData: userData, CreatedAt: c.now}
		a.s.AddHost(h)
		z, sub := zone, subnet
		if z == "" {
			// No subnet named: EC2 picks a default subnet.
			zones := c.region.zones()
			z = zones[(h.ID-1)%len(zones)]
			sub = subnetID(z)
		}
		in := &instance{
			ID: a.st.newID("i"), HostID: h.ID, Region: region, Zone: z, SubnetID: sub, ReservationID: rid,
			ImageID: imageID, Type: typ, KeyName: p.get("KeyName"), Groups: groups,
			Tags: slices.Clone(specs["instance"]), LaunchIndex: i, LaunchTime: c.now,
		}
		a.st.Instances[in.ID] = in
		a.st.byHost[h.ID] = in
		insts = append(insts, in)
		created = append(created, h)
		var keys []string
		if key != nil {
			keys = []string{key.PublicKey}
		}
		reqs = append(reqs, localcloud.HostRequest{
			Name: name, Region: region, Size: typ, Image: im.Name, VCPUs: it.VCPUs, MemoryMB: it.MemoryMB, DiskGB: 8,
			SSHKeys: keys, UserData: userData,
		})
	}
	out := a.renderReservation(rid, insts, c.now)
	a.s.Unlock()
	// The instances' rules get to the backend before they are provisioned,
	// for a backend that keeps rules for hosts it is still creating; they
	// are pushed again once they are.
	a.fw.Sync(false)
	for i, h := range created {
		a.s.Provision(h, reqs[i])
	}
	c.OK(out)
}

// checkLaunch checks what RunInstances names, as EC2 does. Call with the
// lock held.
func (a *API) checkLaunch(c *call, imageID, typ string) (im Image, zone, subnet string, groups []string, key *keyPair, err *apiError) {
	p, region := c.p, c.region.Name
	switch {
	case imageID == "":
		return im, "", "", nil, nil, missing("ImageId")
	case !validID(imageID, "ami"):
		return im, "", "", nil, nil, errf(400, "InvalidAMIID.Malformed", "Invalid id: \"%s\" (expecting \"ami-...\")", imageID)
	}
	im, ok := findImage(region, imageID)
	if !ok {
		return im, "", "", nil, nil, errf(400, "InvalidAMIID.NotFound", "The image id '[%s]' does not exist", imageID)
	}
	it, ok := findType(typ)
	if !ok {
		return im, "", "", nil, nil, errf(400, "InvalidParameterValue", "Invalid value '%s' for InstanceType.", typ)
	}
	if it.Arch != im.Arch {
		return im, "", "", nil, nil, errf(400, "InvalidParameterValue", "The architecture '%s' of the specified instance type does not match the architecture '%s' of the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again.", it.Arch, im.Arch)
	}
	if s := p.get("SubnetId"); s != "" {
		z, ok := subnetZone(region, s)
		if !ok {
			return im, "", "", nil, nil, errf(400, "InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", s)
		}
		zone, subnet = z, s
	}
	if k := p.get("KeyName"); k != "" {
		if key = a.keyByName(region, k); key == nil {
			return im, "", "", nil, nil, errf(400, "InvalidKeyPair.NotFound", "The key pair '%s' does not exist", k)
		}
	}
	vpc := vpcID(region)
	for _, id := range p.list("SecurityGroupId") {
		g := a.st.Groups[id]
		if g == nil || g.VpcID != vpc {
			return im, "", "", nil, nil, errf(400, "InvalidGroup.NotFound", "The security group '%s' does not exist in VPC '%s'", id, vpc)
		}
		groups = append(groups, id)
	}
	for _, name := range p.list("SecurityGroup") {
		g := a.groupByName(region, name)
		if g == nil {
			return im, "", "", nil, nil, errf(400, "InvalidGroup.NotFound", "The security group '%s' does not exist in default VPC '%s'", name, vpc)
		}
		groups = append(groups, g.ID)
	}
	if len(groups) == 0 {
		groups = []string{a.defaultGroup(region).ID}
	}
	return im, zone, subnet, slices.Compact(groups), key, nil
}

// instanceFilters are the DescribeInstances filters served (and tag:*).
var instanceFilters = []string{
	"instance-id", "instance-state-name", "instance-state-code", "instance-type", "image-id", "key-name",
	"vpc-id", "subnet-id", "availability-zone", "reservation-id", "ip-address", "private-ip-address",
	"instance.group-id", "instance.group-name", "group-id", "group-name", "launch-index",
}

func (a *API) describeInstances(c *call) {
	ids := c.p.list("InstanceId")
	maxR, err := c.p.maxResults(5, 1000)
	if err == nil && len(ids) > 0 && c.p.has("MaxResults") {
		err = errf(400, "InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults")
	}
	fs, ferr := c.p.filters(instanceFilters, true)
	if !c.Valid(err, ferr) {
		return
	}
	a.s.Lock()
	all := a.instances(c.region.Name, c.now)
	if len(ids) > 0 {
		if all, err = a.instancesByIDs(c.region.Name, ids); err != nil {
			a.s.Unlock()
			c.Fail(err)
			return
		}
	}
	var match []*instance
	for _, in := range all {
		if matchFilters(fs, in.Tags, func(name string) []string { return a.instanceField(in, name, c.now) }) {
			match = append(match, in)
		}
	}
	pg, next, err := page(match, func(in *instance) string { return in.ID }, c.p.get("NextToken"), maxR)
	if err != nil {
		a.s.Unlock()
		c.Fail(err)
		return
	}
	// One reservation per launch, its instances in this page.
	var rids []string
	byRes := map[string][]*instance{}
	for _, in := range pg {
		if byRes[in.ReservationID] == nil {
			rids = append(rids, in.ReservationID)
		}
		byRes[in.ReservationID] = append(byRes[in.ReservationID], in)
	}
	var parts []func(x *xw)
	for _, rid := range rids {
		parts = append(parts, a.renderReservation(rid, byRes[rid], c.now))
	}
	a.s.Unlock()
	c.OK(func(x *xw) {
		set(x, "reservationSet", parts, func(f func(x *xw)) { f(x) })
		x.Opt("nextToken", next)
	})
}

// instanceField is in's values for a filter name. Call with the lock held.
func (a *API) instanceField(in *instance, name string, now time.Time) []string {
	_, st := a.instanceState(in, now)
	pub, priv := a.addresses(in, now)
	switch name {
	case "instance-id":
		return []string{in.ID}
	case "instance-state-name":
		return []string{st}
	case "instance-state-code":
		return []string{strconv.Itoa(stateCodes[st])}
	case "instance-type":
		return []string{in.Type}
	case "image-id":
		return []string{in.ImageID}
	case "key-name":
		return []string{in.KeyName}
	case "vpc-id":
		return []string{vpcID(in.Region)}
	case "subnet-id":
		return []string{in.SubnetID}
	case "availability-zone":
		return []string{in.Zone}
	case "reservation-id":
		return []string{in.ReservationID}
	case "ip-address":
		return []string{pub}
	case "private-ip-address":
		return []string{priv}
	case "instance.group-id", "group-id":
		return in.Groups
	case "instance.group-name", "group-name":
		var out []string
		for _, g := range in.Groups {
			if sg := a.st.Groups[g]; sg != nil {
				out = append(out, sg.Name)
			}
		}
		return out
	case "launch-index":
		return []string{strconv.Itoa(in.LaunchIndex)}
	}
	return nil
}

// addresses are in's public address (its Elastic IP when one is
// associated) and private address; empty until its host has them or once
// it is stopped or gone. Call with the lock held.
func (a *API) addresses(in *instance, now time.Time) (public, private string) {
	h, st := a.instanceState(in, now)
	if h == nil || !h.Provisioned || st == "terminated" {
		return "", ""
	}
	if h.Addrs.PrivateIPv4.IsValid() {
		private = h.Addrs.PrivateIPv4.Addr().String()
	}
	if eip := a.eipOf(in, now); eip != nil {
		return eip.IP, private
	}
	if st == "stopped" || st == "stopping" {
		return "", private // a stopped instance loses its public IPv4
	}
	if h.Addrs.PublicIPv4.IsValid() {
		public = h.Addrs.PublicIPv4.Addr().String()
	}
	return public, private
}

// renderReservation renders a Reservation (RunInstances' answer, an item
// of DescribeInstances' reservationSet). Call with the lock held.
func (a *API) renderReservation(rid string, insts []*instance, now time.Time) func(x *xw) {
	var parts []func(x *xw)
	for _, in := range insts {
		parts = append(parts, a.renderInstance(in, now))
	}
	return func(x *xw) {
		x.Leaf("reservationId", rid)
		x.Leaf("ownerId", AccountID)
		x.Raw("<groupSet/>")
		set(x, "instancesSet", parts, func(f func(x *xw)) { f(x) })
	}
}

// renderInstance renders an Instance; what it says is computed now, the
// writing happens later. Call with the lock held.
func (a *API) renderInstance(in *instance, now time.Time) func(x *xw) {
	_, st := a.instanceState(in, now)
	pub, priv := a.addresses(in, now)
	type grp struct{ id, name string }
	var groups []grp
	for _, g := range in.Groups {
		if sg := a.st.Groups[g]; sg != nil {
			groups = append(groups, grp{g, sg.Name})
		}
	}
	it, _ := findType(in.Type)
	tags := slices.Clone(in.Tags)
	reason, code, msg := in.Reason, in.StateReason, in.StateMessage
	if st == "pending" || st == "running" {
		code, msg = "", ""
	}
	return func(x *xw) {
		x.Leaf("instanceId", in.ID)
		x.Leaf("imageId", in.ImageID)
		x.Open("instanceState")
		x.Int("code", stateCodes[st])
		x.Leaf("name", st)
		x.Close("instanceState")
		x.Leaf("privateDnsName", privateDNS(priv, in.Region))
		x.Leaf("dnsName", "")
		x.Leaf("reason", reason)
		x.Opt("keyName", in.KeyName)
		x.Int("amiLaunchIndex", in.LaunchIndex)
		x.Raw("<productCodes/>")
		x.Leaf("instanceType", in.Type)
		x.Time("launchTime", in.LaunchTime)
		x.Open("placement")
		x.Leaf("availabilityZone", in.Zone)
		x.Leaf("groupName", "")
		x.Leaf("tenancy", "default")
		x.Close("placement")
		x.Open("monitoring")
		x.Leaf("state", "disabled")
		x.Close("monitoring")
		if st != "terminated" {
			x.Leaf("subnetId", in.SubnetID)
			x.Leaf("vpcId", vpcID(in.Region))
		}
		x.Opt("privateIpAddress", priv)
		x.Opt("ipAddress", pub)
		x.Bool("sourceDestCheck", true)
		set(x, "groupSet", groups, func(g grp) { x.Leaf("groupId", g.id); x.Leaf("groupName", g.name) })
		if code != "" {
			x.Open("stateReason")
			x.Leaf("code", code)
			x.Leaf("message", msg)
			x.Close("stateReason")
		}
		x.Leaf("architecture", it.Arch)
		x.Leaf("rootDeviceType", "ebs")
		x.Leaf("rootDeviceName", "/dev/xvda")
		x.Raw("<blockDeviceMapping/>")
		x.Leaf("virtualizationType", "hvm")
		tagSet(x, tags)
		x.Leaf("hypervisor", "xen")
		x.Bool("ebsOptimized", false)
		x.Bool("enaSupport", true)
		x.Open("metadataOptions")
		x.Leaf("state", "applied")
		x.Leaf("httpTokens", "required")
		x.Int("httpPutResponseHopLimit", 2)
		x.Leaf("httpEndpoint", "enabled")
		x.Close("metadataOptions")
		x.Leaf("platformDetails", "Linux/UNIX")
		x.Leaf("usageOperation", "RunInstances")
	}
}

func privateDNS(ip, region string) string {
	if ip == "" {
		return ""
	}
	host := "ip-" + strings.ReplaceAll(ip, ".", "-")
	if region == "us-east-1" {
		return host + ".ec2.internal"
	}
	return host + "." + region + ".compute.internal"
}

// stateChange is one item of a Terminate/Stop/StartInstances answer.
type stateChange struct{ id, prev, cur string }

func renderChanges(changes []stateChange) func(x *xw) {
	return func(x *xw) {
		set(x, "instancesSet", changes, func(ch stateChange) {
			x.Leaf("instanceId", ch.id)
			for _, s := range []struct{ el, name string }{{"currentState", ch.cur}, {"previousState", ch.prev}} {
				x.Open(s.el)
				x.Int("code", stateCodes[s.name])
				x.Leaf("name", s.name)
				x.Close(s.el)
			}
		})
	}
}

// lockInstances takes the lock and finds the instances InstanceId.N
// names; when it cannot, it answers the error and reports false, the lock
// released.
func (a *API) lockInstances(c *call) ([]*instance, bool) {
	ids := c.p.list("InstanceId")
	if len(ids) == 0 {
		c.Fail(missing("InstanceId"))
		return nil, false
	}
	a.s.Lock()
	insts, err := a.instancesByIDs(c.region.Name, ids)
	if err != nil {
		a.s.Unlock()
		c.Fail(err)
		return nil, false
	}
	return insts, true
}

func (a *API) terminateInstances(c *call) {
	insts, ok := a.lockInstances(c)
	if !ok {
		return
	}
	var changes []stateChange
	doomed := map[int]bool{}
	for _, in := range insts {
		_, prev := a.instanceState(in, c.now)
		if in.TerminatedAt.IsZero() {
			in.TerminatedAt = c.now
			in.StateReason, in.StateMessage = "Client.UserInitiatedShutdown", "Client.UserInitiatedShutdown: User initiated shutdown"
			in.Reason = "User initiated (" + c.now.UTC().Format("2006-01-02 15:04:05 MST") + ")"
			doomed[in.HostID] = true
		}
		cur := "shutting-down"
		if prev == "terminated" {
			cur = "terminated"
		}
		changes = append(changes, stateChange{in.ID, prev, cur})
	}
	a.s.Unlock()
	if len(doomed) > 0 {
		defer a.fw.SyncLater() // the others no longer admit its addresses
		a.s.DestroyHosts(func(now time.Time) []*localcloud.Host {
			var hs []*localcloud.Host
			for id := range doomed {
				if h := a.s.Host(id, now); h != nil {
					hs = append(hs, h)
				}
			}
			return hs
		})
	}
	c.OK(renderChanges(changes))
}

func (a *API) stopInstances(c *call) { a.power(c, "stop") }

func (a *API) startInstances(c *call) { a.power(c, "start") }

// power stops or starts instances: running ones stop (a clean shutdown, or
// power off with Force), stopped ones start; those already so or on their
// way stay; others are refused, the whole request with them.
func (a *API) power(c *call, what string) {
	force, err := c.p.boolean("Force")
	if !c.Valid(err) {
		return
	}
	defer a.s.Serialize()()
	insts, ok := a.lockInstances(c)
	if !ok {
		return
	}
	var changes []stateChange
	var act []*instance
	for _, in := range insts {
		_, st := a.instanceState(in, c.now)
		ch := stateChange{id: in.ID, prev: st, cur: st}
		switch {
		case what == "stop" && st == "running":
			ch.cur = "stopping"
			act = append(act, in)
		case what == "stop" && (st == "stopping" || st == "stopped"):
		case what == "start" && st == "stopped":
			ch.cur = "pending"
			act = append(act, in)
		case what == "start" && (st == "pending" || st == "running"):
		default:
			a.s.Unlock()
			c.Fail(errf(400, "IncorrectInstanceState", "The instance '%s' is not in a state from which it can be %s.", in.ID, map[string]string{"stop": "stopped", "start": "started"}[what]))
			return
		}
		changes = append(changes, ch)
	}
	action := localcloud.PowerOn
	if what == "stop" {
		action = localcloud.Shutdown
		if force {
			action = localcloud.PowerOff
		}
	}
	hosts := make([]*localcloud.Host, len(act))
	for i, in := range act {
		in.Power = what
		hosts[i] = a.s.Host(in.HostID, c.now)
		if what == "stop" {
			in.Reason = "User initiated (" + c.now.UTC().Format("2006-01-02 15:04:05 MST") + ")"
			in.StateReason, in.StateMessage = "Client.UserInitiatedShutdown", "Client.UserInitiatedShutdown: User initiated shutdown"
		} else {
			in.Reason = ""
		}
	}
	a.s.Unlock()
	for i, in := range act {
		a.s.PowerHost(hosts[i], action, func(err error, _ time.Time) {
			in.Power = ""
			if err != nil {
				in.StateReason, in.StateMessage = "Server.InternalError", "Server.InternalError: "+err.Error()
			}
			// A stopped instance has no public address; a started one has
			// it back, and shows pending until the rules admit it again.
			if err == nil && what == "start" {
				a.fw.Wait(in.HostID)
			}
			a.fw.SyncLater()
		})
	}
	c.OK(renderChanges(changes))
}

func (a *API) modifyInstanceAttribute(c *call) {
	p := c.p
	id := p.get("InstanceId")
	if id == "" {
		c.Fail(missing("InstanceId"))
		return
	}
	typ := p.get("InstanceType.Value")
	if p.get("Attribute") == "instanceType" {
		typ = p.get("Value")
	}
	groups := p.list("GroupId")
	if typ == "" && len(groups) == 0 {
		c.Fail(errf(400, "InvalidParameterCombination", "localcloud modifies only the instanceType and groupSet attributes"))
		return
	}
	a.s.Lock()
	err := a.modifyInstance(c, id, typ, groups)
	a.s.Unlock()
	if err != nil {
		c.Fail(err)
		return
	}
	if len(groups) > 0 {
		a.fw.Sync(false) // its rules, and those of groups admitting its new groups
	}
	c.OK(nil)
}

// modifyInstance changes instance id's type and groups, all or nothing.
// Call with the lock held.
func (a *API) modifyInstance(c *call, id, typ string, groups []string) *apiError {
	in, err := a.instanceByID(c.region.Name, id)
	if err != nil {
		return err
	}
	h, st := a.instanceState(in, c.now)
	if st == "terminated" || st == "shutting-down" {
		return errf(400, "IncorrectInstanceState", "The instance '%s' is not in a state from which it can be modified.", id)
	}
	for _, g := range groups {
		if sg := a.st.Groups[g]; sg == nil || sg.VpcID != vpcID(in.Region) {
			return errf(400, "InvalidGroup.NotFound", "The security group '%s' does not exist", g)
		}
	}
	if typ != "" {
		it, ok := findType(typ)
		im, _ := findImage(in.Region, in.ImageID)
		switch {
		case st != "stopped":
			return errf(400, "IncorrectInstanceState", "The instance '%s' is not in the 'stopped' state.", id)
		case !ok:
			return errf(400, "InvalidParameterValue", "Invalid value '%s' for InstanceType.", typ)
		case it.Arch != im.Arch:
			return errf(400, "InvalidParameterValue", "The instance type '%s' does not support the architecture '%s' of the instance's AMI.", typ, im.Arch)
		}
		in.Type, h.Size = typ, typ
	}
	if len(groups) > 0 {
		in.Groups = slices.Compact(groups)
	}
	return nil
}

// taggable finds a resource's tags by id, or the EC2 error. Call with the
// lock held.
func (a *API) taggable(region, id string, now time.Time) (*[]tag, func(), *apiError) {
	prefix, _, _ := strings.Cut(id, "-")
	switch prefix {
	case "i":
		in, err := a.instanceByID(region, id)
		if err != nil {
			return nil, nil, err
		}
		return &in.Tags, func() {
			if h := a.s.Host(in.HostID, now); h != nil {
				for _, t := range in.Tags {
					if t.Key == "Name" {
						h.Name = t.Value
					}
				}
			}
		}, nil
	case "sg":
		if g := a.st.Groups[id]; g != nil && g.Region == region {
			return &g.Tags, nil, nil
		}
		return nil, nil, errf(400, "InvalidGroup.NotFound", "The security group '%s' does not exist", id)
	case "eipalloc":
		if e := a.st.Addresses[id]; e != nil && e.Region == region {
			return &e.Tags, nil, nil
		}
		return nil, nil, errf(400, "InvalidAllocationID.NotFound", "The allocation ID '%s' does not exist", id)
	case "key":
		if k := a.st.KeyPairs[id]; k != nil && k.Region == region {
			return &k.Tags, nil, nil
		}
		return nil, nil, errf(400, "InvalidKeyPair.NotFound", "The key pair '%s' does not exist", id)
	}
	return nil, nil, errf(400, "InvalidID", "The ID '%s' is not valid", id)
}

func (a *API) createTags(c *call) { a.retag(c, false) }

func (a *API) deleteTags(c *call) { a.retag(c, true) }

// retag adds (CreateTags) or removes (DeleteTags) tags on every resource,
// all or none.
func (a *API) retag(c *call, del bool) {
	ids := c.p.list("ResourceId")
	tags := c.p.tagList("Tag")
	if len(ids) == 0 {
		c.Fail(missing("ResourceId"))
		return
	}
	if !del && len(tags) == 0 {
		c.Fail(missing("Tag"))
		return
	}
	if !del {
		if err := checkTags(tags); err != nil {
			c.Fail(err)
			return
		}
	}
	valueGiven := make([]bool, len(tags))
	for i, n := range c.p.indexes("Tag") {
		valueGiven[i] = c.p.has(fmt.Sprintf("Tag.%d.Value", n))
	}
	a.s.Lock()
	defer a.s.Unlock()
	type target struct {
		tags  *[]tag
		after func()
	}
	var targets []target
	for _, id := range ids {
		t, after, err := a.taggable(c.region.Name, id, c.now)
		if err != nil {
			c.Fail(err)
			return
		}
		targets = append(targets, target{t, after})
	}
	for _, t := range targets {
		if !del && len(setTags(slices.Clone(*t.tags), tags)) > 50 {
			c.Fail(errf(400, "TagLimitExceeded", "The maximum number of Tags for a resource has been reached."))
			return
		}
	}
	for _, t := range targets {
		if del {
			*t.tags = deleteTags(*t.tags, tags, valueGiven)
		} else {
			*t.tags = setTags(*t.tags, tags)
		}
		if t.after != nil {
			t.after()
		}
	}
	c.OK(nil)
}
