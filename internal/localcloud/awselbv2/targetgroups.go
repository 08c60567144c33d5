package awselbv2

import (
	"cmp"
	lcaws "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/aws"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Target group attributes localcloud knows.
const (
	attrDeregistrationDelay = "deregistration_delay.timeout_seconds"
	attrStickyEnabled       = "stickiness.enabled"
	attrStickyType          = "stickiness.type"
	attrStickyDuration      = "stickiness.lb_cookie.duration_seconds"
	attrAlgorithm           = "load_balancing.algorithm.type"
)

// tgFor is target group arn of the call's region. Call with the lock held.
func (a *API) tgFor(c *call, arn string) (*targetGroup, *apiError) {
	tg := a.st.TargetGroups[arn]
	if tg == nil || tg.Region != c.region {
		return nil, errf(400, "TargetGroupNotFound", "Target group '%s' not found", arn)
	}
	return tg, nil
}

// readHealthCheck reads the health check parameters over hc and checks
// the result against the target group's protocol.
func readHealthCheck(p params, hc healthCheck, protocol string) (healthCheck, *apiError) {
	var err *apiError
	if v := p.get("HealthCheckProtocol"); v != "" {
		hc.Protocol = v
	}
	if v := p.get("HealthCheckPort"); v != "" {
		hc.Port = v
	}
	if p.has("HealthCheckPath") {
		hc.Path = p.get("HealthCheckPath")
	}
	if hc.Enabled, err = p.boolean("HealthCheckEnabled", hc.Enabled); err != nil {
		return hc, err
	}
	if hc.Interval, err = p.integer("HealthCheckIntervalSeconds", hc.Interval, 5, 300); err != nil {
		return hc, err
	}
	if hc.Timeout, err = p.integer("HealthCheckTimeoutSeconds", hc.Timeout, 2, 120); err != nil {
		return hc, err
	}
	if hc.Healthy, err = p.integer("HealthyThresholdCount", hc.Healthy, 2, 10); err != nil {
		return hc, err
	}
	if hc.Unhealthy, err = p.integer("UnhealthyThresholdCount", hc.Unhealthy, 2, 10); err != nil {
		return hc, err
	}
	if v := p.get("Matcher.HttpCode"); v != "" {
		hc.Matcher = v
	}
	httpTG := protocol == "HTTP" || protocol == "HTTPS"
	switch {
	case hc.Protocol != "HTTP" && hc.Protocol != "HTTPS" && hc.Protocol != "TCP":
		return hc, validation("Health check protocol '%s' is not supported", hc.Protocol)
	case httpTG && hc.Protocol == "TCP":
		return hc, validation("Health check protocol 'TCP' is not supported for target group protocol '%s'", protocol)
	case hc.Protocol == "TCP" && hc.Path != "":
		return hc, validation("A health check path cannot be specified for the TCP health check protocol")
	case hc.Path != "" && !strings.HasPrefix(hc.Path, "/"):
		return hc, validation("Health check path must begin with a '/' character")
	case hc.Port != "traffic-port":
		if n, perr := strconv.Atoi(hc.Port); perr != nil || n < 1 || n > 65535 {
			return hc, validation("Health check port '%s' must be 'traffic-port' or a port between 1 and 65535", hc.Port)
		}
	}
	if hc.Timeout >= hc.Interval {
		return hc, validation("Health check interval must be greater than the timeout.")
	}
	if hc.Protocol != "TCP" && hc.Path == "" {
		hc.Path = "/"
	}
	return hc, nil
}

func (a *API) createTargetGroup(c *call) {
	p := c.p
	if !c.Valid(p.required("Name")) {
		return
	}
	name := p.get("Name")
	tt := cmp.Or(p.get("TargetType"), "instance")
	proto := p.get("Protocol")
	port, err := p.integer("Port", 0, 1, 65535)
	tags, terr := p.tags()
	switch {
	case err != nil:
	case terr != nil:
		err = terr
	case checkName("Target group", name) != nil:
		err = checkName("Target group", name)
	case tt != "instance":
		err = validation("localcloud target groups take instance targets only, not '%s'", tt)
	case proto == "" || port == 0 || p.get("VpcId") == "":
		err = validation("A protocol, a port and a VPC ID must be specified for target type 'instance'")
	case proto != "HTTP" && proto != "HTTPS" && proto != "TCP":
		err = errf(400, "UnsupportedProtocol", "localcloud target groups forward HTTP, HTTPS or TCP, not '%s' (its load balancers carry no UDP, TLS or GENEVE)", proto)
	case p.get("VpcId") != lcaws.VPCID(c.region):
		err = validation("The VPC ID '%s' is not found (localcloud has the default VPC %s only)", p.get("VpcId"), lcaws.VPCID(c.region))
	case p.get("ProtocolVersion") != "" && p.get("ProtocolVersion") != "HTTP1":
		err = validation("localcloud target groups speak HTTP1 only")
	}
	if !c.Valid(err) {
		return
	}
	hc := healthCheck{Enabled: true, Protocol: proto, Port: "traffic-port", Interval: 30, Timeout: 5, Healthy: 5, Unhealthy: 2, Matcher: "200"}
	attrs := map[string]string{attrDeregistrationDelay: "300", attrStickyEnabled: "false", attrStickyType: "lb_cookie", attrStickyDuration: "86400", attrAlgorithm: "round_robin"}
	if proto == "TCP" {
		hc.Timeout, hc.Healthy, hc.Matcher = 10, 5, ""
		attrs = map[string]string{attrDeregistrationDelay: "300", attrStickyEnabled: "false", attrStickyType: "source_ip"}
	}
	if hc, err = readHealthCheck(p, hc, proto); !c.Valid(err) {
		return
	}
	a.s.Lock()
	var tg *targetGroup
	for _, o := range a.st.TargetGroups {
		if o.Region != c.region || o.Name != name {
			continue
		}
		if o.Protocol != proto || o.Port != port || o.Check != hc {
			a.s.Unlock()
			c.Fail(errf(400, "DuplicateTargetGroupName", "A target group with the same name '%s' exists, but with different settings", name))
			return
		}
		tg = o
	}
	if tg == nil {
		tg = &targetGroup{
			ARN: a.arn(c.region, "targetgroup/"+name+"/"+a.st.newID()), Name: name, Region: c.region, Protocol: proto, Port: port,
			VpcID: lcaws.VPCID(c.region), TargetType: tt, Check: hc, Attrs: attrs, Tags: tags,
		}
		a.st.TargetGroups[tg.ARN] = tg
	}
	out := a.renderTG(tg)
	a.s.Unlock()
	c.OK(func(x *xw) { members(x, "TargetGroups", []func(*xw){out}, func(f func(*xw)) { f(x) }) })
}

// lbsOf are the load balancers whose listeners forward to tg, sorted.
// Call with the lock held.
func (a *API) lbsOf(tgARN string) []string {
	var out []string
	for _, l := range a.st.Listeners {
		for _, ac := range l.Actions {
			if ac.Type == "forward" && ac.TargetGroupARN == tgARN && !slices.Contains(out, l.LBARN) {
				out = append(out, l.LBARN)
			}
		}
	}
	slices.Sort(out)
	return out
}

// renderTG renders a TargetGroup. Call with the lock held.
func (a *API) renderTG(tg *targetGroup) func(x *xw) {
	t := *tg
	lbs := a.lbsOf(tg.ARN)
	return func(x *xw) {
		x.Leaf("TargetGroupArn", t.ARN)
		x.Leaf("TargetGroupName", t.Name)
		x.Leaf("Protocol", t.Protocol)
		x.Int("Port", t.Port)
		x.Leaf("VpcId", t.VpcID)
		x.Leaf("HealthCheckProtocol", t.Check.Protocol)
		x.Leaf("HealthCheckPort", t.Check.Port)
		x.Bool("HealthCheckEnabled", t.Check.Enabled)
		x.Int("HealthCheckIntervalSeconds", t.Check.Interval)
		x.Int("HealthCheckTimeoutSeconds", t.Check.Timeout)
		x.Int("HealthyThresholdCount", t.Check.Healthy)
		x.Int("UnhealthyThresholdCount", t.Check.Unhealthy)
		x.Opt("HealthCheckPath", t.Check.Path)
		if t.Check.Matcher != "" {
			x.Open("Matcher")
			x.Leaf("HttpCode", t.Check.Matcher)
			x.Close("Matcher")
		}
		strs(x, "LoadBalancerArns", lbs)
		x.Leaf("TargetType", t.TargetType)
		if t.Protocol != "TCP" {
			x.Leaf("ProtocolVersion", "HTTP1")
		}
		x.Leaf("IpAddressType", "ipv4")
	}
}

func (a *API) describeTargetGroups(c *call) {
	p := c.p
	lbARN, arns, names := p.get("LoadBalancerArn"), p.list("TargetGroupArns"), p.list("Names")
	size, err := p.integer("PageSize", 0, 1, 400)
	if !c.Valid(err) {
		return
	}
	given := 0
	for _, g := range []bool{lbARN != "", len(arns) > 0, len(names) > 0} {
		if g {
			given++
		}
	}
	if given > 1 {
		c.Fail(validation("Specify a load balancer ARN, target group ARNs or target group names, not several"))
		return
	}
	a.s.Lock()
	var used []string
	if lbARN != "" {
		if _, err = a.lbFor(c, lbARN); err == nil {
			for _, l := range a.listenersOf(lbARN) {
				if tg := a.forwardTarget(l); tg != nil {
					used = append(used, tg.ARN)
				}
			}
		}
	}
	var tgs []*targetGroup
	for _, tg := range a.st.TargetGroups {
		if tg.Region == c.region && (len(arns) == 0 || slices.Contains(arns, tg.ARN)) && (len(names) == 0 || slices.Contains(names, tg.Name)) &&
			(lbARN == "" || slices.Contains(used, tg.ARN)) {
			tgs = append(tgs, tg)
		}
	}
	if err == nil && ((len(arns) > 0 && len(tgs) < len(slices.Compact(slices.Sorted(slices.Values(arns))))) ||
		(len(names) > 0 && len(tgs) < len(slices.Compact(slices.Sorted(slices.Values(names)))))) {
		err = errf(400, "TargetGroupNotFound", "One or more target groups not found")
	}
	key := func(tg *targetGroup) string { return tg.Name + "\x00" + tg.ARN }
	slices.SortFunc(tgs, func(x, y *targetGroup) int { return strings.Compare(key(x), key(y)) })
	var next string
	if err == nil {
		tgs, next, err = page(tgs, key, p.get("Marker"), size)
	}
	out := make([]func(*xw), len(tgs))
	for i, tg := range tgs {
		out[i] = a.renderTG(tg)
	}
	a.s.Unlock()
	if !c.Valid(err) {
		return
	}
	c.OK(func(x *xw) {
		members(x, "TargetGroups", out, func(f func(*xw)) { f(x) })
		x.Opt("NextMarker", next)
	})
}

func (a *API) modifyTargetGroup(c *call) {
	if !c.Valid(c.p.required("TargetGroupArn")) {
		return
	}
	a.s.Lock()
	tg, err := a.tgFor(c, c.p.get("TargetGroupArn"))
	var lbs []string
	var out func(*xw)
	if err == nil {
		var hc healthCheck
		if hc, err = readHealthCheck(c.p, tg.Check, tg.Protocol); err == nil {
			tg.Check = hc
			lbs, out = a.lbsOf(tg.ARN), a.renderTG(tg)
		}
	}
	a.s.Unlock()
	if !c.Valid(err) || !a.reapply(c, lbs) {
		return
	}
	c.OK(func(x *xw) { members(x, "TargetGroups", []func(*xw){out}, func(f func(*xw)) { f(x) }) })
}

func renderAttrs(x *xw, attrs map[string]string) {
	keys := slices.Sorted(maps.Keys(attrs))
	members(x, "Attributes", keys, func(k string) { x.Leaf("Key", k); x.Leaf("Value", attrs[k]) })
}

func (a *API) describeTargetGroupAttributes(c *call) {
	if !c.Valid(c.p.required("TargetGroupArn")) {
		return
	}
	a.s.Lock()
	tg, err := a.tgFor(c, c.p.get("TargetGroupArn"))
	var attrs map[string]string
	if err == nil {
		attrs = maps.Clone(tg.Attrs)
	}
	a.s.Unlock()
	if !c.Valid(err) {
		return
	}
	c.OK(func(x *xw) { renderAttrs(x, attrs) })
}

// checkAttr checks one attribute for a target group of protocol.
func checkAttr(k, v, protocol string) *apiError {
	num := func(lo, hi int) *apiError {
		if n, err := strconv.Atoi(v); err != nil || n < lo || n > hi {
			return validation("The value of '%s' must be between %d and %d", k, lo, hi)
		}
		return nil
	}
	switch k {
	case attrDeregistrationDelay:
		return num(0, 3600)
	case attrStickyEnabled:
		if v != "true" && v != "false" {
			return validation("The value of '%s' must be true or false", k)
		}
	case attrStickyType:
		if protocol == "TCP" && v != "source_ip" || protocol != "TCP" && v != "lb_cookie" {
			return validation("localcloud offers stickiness type lb_cookie on HTTP and HTTPS target groups and source_ip on TCP ones, not '%s'", v)
		}
	case attrStickyDuration:
		if protocol == "TCP" {
			return validation("Target group attribute key '%s' is not recognized", k)
		}
		return num(1, 604800)
	case attrAlgorithm:
		if protocol == "TCP" || v != "round_robin" {
			return validation("localcloud balances round_robin only")
		}
	default:
		return validation("Target group attribute key '%s' is not recognized", k)
	}
	return nil
}

func (a *API) modifyTargetGroupAttributes(c *call) {
	p := c.p
	if !c.Valid(p.required("TargetGroupArn")) {
		return
	}
	set := map[string]string{}
	p.each("Attributes", func(e string) { set[p.get(e+".Key")] = p.get(e + ".Value") })
	if len(set) == 0 {
		c.Fail(validation("At least one attribute must be specified"))
		return
	}
	a.s.Lock()
	tg, err := a.tgFor(c, p.get("TargetGroupArn"))
	for _, k := range slices.Sorted(maps.Keys(set)) {
		if err == nil {
			err = checkAttr(k, set[k], tg.Protocol)
		}
	}
	var attrs map[string]string
	var lbs []string
	if err == nil {
		maps.Copy(tg.Attrs, set)
		attrs, lbs = maps.Clone(tg.Attrs), a.lbsOf(tg.ARN)
	}
	a.s.Unlock()
	if !c.Valid(err) || !a.reapply(c, lbs) {
		return
	}
	c.OK(func(x *xw) { renderAttrs(x, attrs) })
}

// deleteTargetGroup deletes a target group no listener forwards to.
func (a *API) deleteTargetGroup(c *call) {
	if !c.Valid(c.p.required("TargetGroupArn")) {
		return
	}
	arn := c.p.get("TargetGroupArn")
	a.s.Lock()
	tg, err := a.tgFor(c, arn)
	if err == nil && len(a.lbsOf(arn)) > 0 {
		err = errf(400, "ResourceInUse", "Target group '%s' is currently in use by a listener or a rule", arn)
	}
	if tg != nil && err == nil {
		delete(a.st.TargetGroups, arn)
	}
	a.s.Unlock()
	if err != nil && err.Code == "TargetGroupNotFound" {
		err = nil // as on AWS, deleting a group that is gone succeeds
	}
	if !c.Valid(err) {
		return
	}
	c.OK(nil)
}
