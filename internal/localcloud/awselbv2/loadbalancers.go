package awselbv2

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	lcaws "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/aws"
)

// checkName applies ELBv2's naming rules, which load balancers and target
// groups share.
func checkName(what, name string) *apiError {
	bad := func() *apiError {
		return validation("%s name '%s' cannot be longer than 32 characters, must contain only alphanumeric characters or hyphens, must not begin or end with a hyphen, and must not begin with \"internal-\"", what, name)
	}
	if name == "" || len(name) > 32 || strings.HasPrefix(name, "-") || strings.HasSuffix(name, "-") || strings.HasPrefix(name, "internal-") {
		return bad()
	}
	for _, c := range name {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' {
			return bad()
		}
	}
	return nil
}

func (a *API) arn(region, resource string) string {
	return fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:%s", region, a.cfg.AccountID, resource)
}

func lbTypeShort(t string) string {
	if t == "network" {
		return "net"
	}
	return "app"
}

// lbFor is the load balancer arn of the call's region. Call with the lock
// held.
func (a *API) lbFor(c *call, arn string) (*loadBalancer, *apiError) {
	lb := a.st.LoadBalancer[arn]
	if lb == nil || lb.Region != c.region {
		return nil, errf(400, "LoadBalancerNotFound", "Load balancer '%s' not found", arn)
	}
	return lb, nil
}

func (a *API) createLoadBalancer(c *call) {
	p := c.p
	if !c.Valid(p.required("Name")) {
		return
	}
	name := p.get("Name")
	typ := cmpOr(p.get("Type"), "application")
	scheme := cmpOr(p.get("Scheme"), "internet-facing")
	ipType := cmpOr(p.get("IpAddressType"), "ipv4")
	subnets := p.list("Subnets")
	p.each("SubnetMappings", func(e string) { subnets = append(subnets, p.get(e+".SubnetId")) })
	groups := p.list("SecurityGroups")
	tags, terr := p.tags()
	var err *apiError
	switch {
	case terr != nil:
		err = terr
	case checkName("Load balancer", name) != nil:
		err = checkName("Load balancer", name)
	case typ == "gateway":
		err = validation("localcloud offers no gateway load balancers: use application or network")
	case typ != "application" && typ != "network":
		err = validation("Load balancer type '%s' is not valid", typ)
	case scheme != "internet-facing" && scheme != "internal":
		err = validation("Scheme '%s' is not valid", scheme)
	case ipType != "ipv4":
		err = validation("localcloud load balancers are IPv4 only: IpAddressType '%s' is not offered", ipType)
	case len(p.list("Subnets")) > 0 && p.has("SubnetMappings.member.1.SubnetId"):
		err = validation("You can specify subnets or subnet mappings, not both")
	case len(subnets) == 0:
		err = validation("At least one subnet must be specified")
	case len(tags) > 50:
		err = errf(400, "TooManyTags", "You've reached the limit on the number of tags for this resource")
	}
	zones := map[string]bool{}
	for _, s := range subnets {
		if err != nil {
			break
		}
		z, ok := subnetZone(c.region, s)
		switch {
		case !ok:
			err = errf(400, "SubnetNotFound", "The subnet ID '%s' is not valid", s)
		case zones[z]:
			err = errf(400, "InvalidConfigurationRequest", "A load balancer cannot be attached to multiple subnets in the same Availability Zone")
		}
		zones[z] = true
	}
	if err == nil && typ == "application" && len(zones) < 2 {
		err = errf(400, "InvalidConfigurationRequest", "At least two subnets in two different Availability Zones must be specified")
	}
	for _, g := range groups {
		if err == nil && !strings.HasPrefix(g, "sg-") {
			err = errf(400, "InvalidSecurityGroup", "Security group '%s' does not exist", g)
		}
	}
	if !c.Valid(err) {
		return
	}
	slices.Sort(subnets)
	a.s.Lock()
	var lb *loadBalancer
	for _, o := range a.st.LoadBalancer {
		if o.Region != c.region || o.Name != name {
			continue
		}
		// AWS answers an identical request with the existing load
		// balancer.
		if o.Type != typ || o.Scheme != scheme || !slices.Equal(o.Subnets, subnets) || !slices.Equal(o.SecurityGroups, groups) {
			a.s.Unlock()
			c.Fail(errf(400, "DuplicateLoadBalancerName", "A load balancer with the same name '%s' exists, but with different settings", name))
			return
		}
		lb = o
	}
	fresh := lb == nil
	if fresh {
		id := a.st.newID()
		lb = &loadBalancer{
			ARN: a.arn(c.region, "loadbalancer/"+lbTypeShort(typ)+"/"+name+"/"+id), ID: id, Name: name, Region: c.region,
			Type: typ, Scheme: scheme, IPAddressType: ipType, VpcID: lcaws.VPCID(c.region), Subnets: subnets, SecurityGroups: groups,
			Tags: tags, State: "provisioning", CreatedAt: c.now,
		}
		a.st.LoadBalancer[lb.ARN] = lb
	}
	out := a.renderLB(lb)
	a.s.Unlock()
	if fresh {
		arn := lb.ARN
		a.s.Background(func(context.Context) {
			_ = a.applyLB(arn, true)     // a failure fails the load balancer
			a.s.FirewallMembersChanged() // its address, in its security groups
		})
	}
	c.OK(func(x *xw) { members(x, "LoadBalancers", []func(*xw){out}, func(f func(*xw)) { f(x) }) })
}

// renderLB renders a LoadBalancer. DNSName is the load balancer's IPv4
// address (nothing resolves a name offline), empty while provisioning.
// Call with the lock held.
func (a *API) renderLB(lb *loadBalancer) func(x *xw) {
	l := *lb
	l.Subnets, l.SecurityGroups = slices.Clone(lb.Subnets), slices.Clone(lb.SecurityGroups)
	return func(x *xw) {
		x.Leaf("LoadBalancerArn", l.ARN)
		if l.IP.IsValid() {
			x.Leaf("DNSName", l.IP.String())
		}
		x.Time("CreatedTime", l.CreatedAt)
		x.Leaf("LoadBalancerName", l.Name)
		x.Leaf("Scheme", l.Scheme)
		x.Leaf("VpcId", l.VpcID)
		x.Open("State")
		x.Leaf("Code", l.State)
		x.Opt("Reason", l.Reason)
		x.Close("State")
		x.Leaf("Type", l.Type)
		members(x, "AvailabilityZones", l.Subnets, func(s string) {
			z, _ := subnetZone(l.Region, s)
			x.Opt("ZoneName", z)
			x.Leaf("SubnetId", s)
		})
		strs(x, "SecurityGroups", l.SecurityGroups)
		x.Leaf("IpAddressType", l.IPAddressType)
	}
}

func (a *API) describeLoadBalancers(c *call) {
	p := c.p
	arns, names := p.list("LoadBalancerArns"), p.list("Names")
	size, err := p.integer("PageSize", 0, 1, 400)
	if !c.Valid(err) {
		return
	}
	if len(arns) > 0 && len(names) > 0 {
		c.Fail(validation("Load balancer names and load balancer ARNs cannot be specified at the same time"))
		return
	}
	if len(arns) > 20 {
		c.Fail(validation("You can specify up to 20 load balancer ARNs"))
		return
	}
	a.s.Lock()
	var lbs []*loadBalancer
	for _, lb := range a.st.LoadBalancer {
		if lb.Region == c.region && (len(arns) == 0 || slices.Contains(arns, lb.ARN)) && (len(names) == 0 || slices.Contains(names, lb.Name)) {
			lbs = append(lbs, lb)
		}
	}
	if (len(arns) > 0 && len(lbs) < len(slices.Compact(slices.Sorted(slices.Values(arns))))) ||
		(len(names) > 0 && len(lbs) < len(slices.Compact(slices.Sorted(slices.Values(names))))) {
		a.s.Unlock()
		c.Fail(errf(400, "LoadBalancerNotFound", "One or more load balancers not found"))
		return
	}
	key := func(lb *loadBalancer) string { return lb.Name + "\x00" + lb.ARN }
	slices.SortFunc(lbs, func(x, y *loadBalancer) int { return strings.Compare(key(x), key(y)) })
	lbs, next, err := page(lbs, key, p.get("Marker"), size)
	out := make([]func(*xw), len(lbs))
	for i, lb := range lbs {
		out[i] = a.renderLB(lb)
	}
	a.s.Unlock()
	if !c.Valid(err) {
		return
	}
	c.OK(func(x *xw) {
		members(x, "LoadBalancers", out, func(f func(*xw)) { f(x) })
		x.Opt("NextMarker", next)
	})
}

// deleteLoadBalancer deletes it and its listeners; an unknown one is not
// an error, as on AWS.
func (a *API) deleteLoadBalancer(c *call) {
	if !c.Valid(c.p.required("LoadBalancerArn")) {
		return
	}
	arn := c.p.get("LoadBalancerArn")
	defer a.s.Serialize()()
	a.s.Lock()
	lb, _ := a.lbFor(c, arn)
	if lb != nil {
		delete(a.st.LoadBalancer, arn)
		for k, l := range a.st.Listeners {
			if l.LBARN == arn {
				delete(a.st.Listeners, k)
			}
		}
	}
	a.s.Unlock()
	if lb != nil {
		if err := a.s.DeleteLoadBalancer(lb.backendID()); err != nil {
			a.s.Logf("localcloud: elbv2: deleting load balancer %s: %v", arn, err)
		}
		a.s.FirewallMembersChanged()
	}
	c.OK(nil)
}

func (a *API) setSecurityGroups(c *call) {
	if !c.Valid(c.p.required("LoadBalancerArn")) {
		return
	}
	groups := c.p.list("SecurityGroups")
	for _, g := range groups {
		if !strings.HasPrefix(g, "sg-") {
			c.Fail(errf(400, "InvalidSecurityGroup", "Security group '%s' does not exist", g))
			return
		}
	}
	a.s.Lock()
	lb, err := a.lbFor(c, c.p.get("LoadBalancerArn"))
	if err == nil && lb.Type == "network" && len(lb.SecurityGroups) == 0 {
		err = validation("You cannot set security groups on a Network Load Balancer which was created without any security groups.")
	}
	if err == nil {
		lb.SecurityGroups = groups
	}
	a.s.Unlock()
	if !c.Valid(err) {
		return
	}
	a.s.FirewallMembersChanged()
	c.OK(func(x *xw) { strs(x, "SecurityGroupIds", groups) })
}

// applyLB has the backend serve load balancer arn as the records say; a
// first apply that fails fails the load balancer. It takes Serialize.
func (a *API) applyLB(arn string, first bool) error {
	defer a.s.Serialize()()
	now := a.s.Now()
	a.s.Lock()
	lb := a.st.LoadBalancer[arn]
	if lb == nil || (!first && lb.State != "active") {
		a.s.Unlock()
		return nil // deleted meanwhile, or not served (its first apply serves the latest records)
	}
	cfg := a.backendConfig(lb, now)
	id := lb.backendID()
	a.s.Unlock()
	ip, err := a.s.ApplyLoadBalancer(id, cfg)
	a.s.Lock()
	defer a.s.Unlock()
	if a.st.LoadBalancer[arn] != lb {
		return nil
	}
	if err != nil {
		a.s.Logf("localcloud: elbv2: %v", err)
		if first {
			lb.State, lb.Reason = "failed", err.Error()
		}
		return err
	}
	lb.IP, lb.State, lb.Reason = ip, "active", ""
	return nil
}

// reapply applies every load balancer in arns again, after a change, and
// answers 500 when one fails; it reports whether all applied.
func (a *API) reapply(c *call, arns []string) bool {
	for _, arn := range arns {
		if err := a.applyLB(arn, false); err != nil {
			c.Fail(errf(500, "InternalFailure", "applying the change to load balancer %s: %v", arn, err))
			return false
		}
	}
	return true
}

// listenersOf are lb's listeners by port. Call with the lock held.
func (a *API) listenersOf(lbARN string) []*listener {
	var out []*listener
	for _, l := range a.st.Listeners {
		if l.LBARN == lbARN {
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(x, y *listener) int { return x.Port - y.Port })
	return out
}

// backendConfig is lb as the backend needs it. Every listener is a rule:
// a forwarding one to its target group's protocol and port, a redirecting
// one (to HTTPS) with RedirectHTTPToHTTPS. The health check and stickiness
// are those of the first target group (by listener port); the targets are
// every forwarding target group's registered ones that are not draining.
// Call with the lock held.
func (a *API) backendConfig(lb *loadBalancer, now time.Time) localcloud.LoadBalancerConfig {
	cfg := localcloud.LoadBalancerConfig{Network: lb.Type == "network"}
	var first *targetGroup
	seen := map[int]bool{}
	ls := a.listenersOf(lb.ARN)
	for _, l := range ls {
		if tg := a.forwardTarget(l); tg != nil && first == nil {
			first = tg
		}
	}
	for _, l := range ls {
		rule := localcloud.LBRule{EntryProtocol: strings.ToLower(l.Protocol), EntryPort: l.Port, TargetProtocol: "http", TargetPort: 80}
		tg := a.forwardTarget(l)
		if tg == nil {
			tg = first
			if len(l.Actions) > 0 && l.Actions[0].Type == "redirect" {
				cfg.RedirectHTTPToHTTPS = true
			}
		}
		if tg != nil {
			rule.TargetProtocol, rule.TargetPort = strings.ToLower(tg.Protocol), tg.Port
			for _, t := range a.liveTargets(tg, now) {
				if t.DrainUntil.IsZero() && !seen[t.HostID] {
					if addr, ok := a.s.TargetAddr(t.HostID); ok {
						seen[t.HostID] = true
						cfg.Targets = append(cfg.Targets, localcloud.LBTarget{HostID: t.HostID, Addr: addr})
					}
				}
			}
		}
		cfg.Rules = append(cfg.Rules, rule)
	}
	if first != nil {
		hc := first.Check
		port, _ := strconv.Atoi(hc.Port) // traffic-port: 0, the rule's target port
		cfg.Check = localcloud.LBCheck{
			Protocol: strings.ToLower(hc.Protocol), Port: port, Path: hc.Path,
			Interval: time.Duration(hc.Interval) * time.Second, Timeout: time.Duration(hc.Timeout) * time.Second,
			Healthy: hc.Healthy, Unhealthy: hc.Unhealthy,
		}
		if first.Attrs[attrStickyEnabled] == "true" && first.Attrs[attrStickyType] == "lb_cookie" {
			ttl, _ := strconv.Atoi(first.Attrs[attrStickyDuration])
			cfg.StickyCookie, cfg.StickyTTL = "AWSALB", time.Duration(ttl)*time.Second
		}
	}
	return cfg
}

// forwardTarget is the target group l forwards to, nil for a redirect.
// Call with the lock held.
func (a *API) forwardTarget(l *listener) *targetGroup {
	for _, ac := range l.Actions {
		if ac.Type == "forward" {
			return a.st.TargetGroups[ac.TargetGroupARN]
		}
	}
	return nil
}

// FirewallMembers implements localcloud.FirewallMemberReporter: an active
// load balancer sends from its address (HAProxy proxies: health checks and
// traffic reach the targets from it), so the EC2 security group rules
// that name one of its groups admit it. Called with the lock held.
func (a *API) FirewallMembers(out map[string][]netip.Addr) {
	for _, lb := range a.st.LoadBalancer {
		if lb.State != "active" || !lb.IP.IsValid() {
			continue
		}
		for _, g := range lb.SecurityGroups {
			out[g] = append(out[g], lb.IP)
		}
	}
}

var _ localcloud.FirewallMemberReporter = (*API)(nil)
