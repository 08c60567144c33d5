package awselbv2

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// targetRef is one TargetDescription of a request.
type targetRef struct {
	id   string
	port int
}

// readTargets reads Targets.member.N.Id / .Port.
func readTargets(p params) ([]targetRef, *apiError) {
	var out []targetRef
	var err *apiError
	p.each("Targets", func(e string) {
		t := targetRef{id: p.get(e + ".Id")}
		if t.port, err = p.integer(e+".Port", 0, 1, 65535); err != nil {
			return
		}
		if t.id == "" {
			err = validation("A target needs an Id")
		}
		out = append(out, t)
	})
	return out, err
}

// liveTargets are tg's targets, the drained ones removed. Call with the
// lock held.
func (a *API) liveTargets(tg *targetGroup, now time.Time) []*target {
	tg.Targets = slices.DeleteFunc(tg.Targets, func(t *target) bool { return !t.DrainUntil.IsZero() && !now.Before(t.DrainUntil) })
	return tg.Targets
}

func findTarget(ts []*target, id string) *target {
	i := slices.IndexFunc(ts, func(t *target) bool { return t.ID == id })
	if i < 0 {
		return nil
	}
	return ts[i]
}

func invalidTargets(msg string, ids []string) *apiError {
	return errf(400, "InvalidTarget", "%s: %s", msg, strings.Join(ids, ", "))
}

// registerTargets registers instances: each must be an EC2 instance of
// the EC2 API whose host has its address (running).
func (a *API) registerTargets(c *call) {
	p := c.p
	if !c.Valid(p.required("TargetGroupArn")) {
		return
	}
	refs, err := readTargets(p)
	if err == nil && len(refs) == 0 {
		err = missing("Targets")
	}
	if !c.Valid(err) {
		return
	}
	// Resolved before the lock: the resolver takes it.
	hosts := make([]int, len(refs))
	var bad []string
	for i, t := range refs {
		ok := false
		if a.cfg.Instances != nil {
			hosts[i], ok = a.cfg.Instances.HostOfInstance(t.id)
		}
		if !ok {
			bad = append(bad, t.id)
		}
	}
	if len(bad) > 0 {
		c.Fail(invalidTargets("The following targets are not valid (or not in a running state)", bad))
		return
	}
	a.s.Lock()
	tg, err := a.tgFor(c, p.get("TargetGroupArn"))
	var lbs []string
	if err == nil {
		for i, t := range refs {
			if _, ok := a.s.TargetAddr(hosts[i]); !ok {
				bad = append(bad, t.id)
			}
			if t.port != 0 && t.port != tg.Port && err == nil {
				err = validation("localcloud targets take their target group's port %d, not %d", tg.Port, t.port)
			}
		}
		if len(bad) > 0 && err == nil {
			err = invalidTargets("The following targets are not in a running state and cannot be registered", bad)
		}
	}
	if err == nil {
		live := a.liveTargets(tg, c.now)
		for i, t := range refs {
			if have := findTarget(live, t.id); have != nil {
				have.HostID, have.DrainUntil = hosts[i], time.Time{}
				continue
			}
			tg.Targets = append(tg.Targets, &target{ID: t.id, Port: tg.Port, HostID: hosts[i]})
			live = tg.Targets
		}
		lbs = a.lbsOf(tg.ARN)
	}
	a.s.Unlock()
	if !c.Valid(err) || !a.reapply(c, lbs) {
		return
	}
	c.OK(nil)
}

// deregisterTargets starts draining targets: they leave the load
// balancer's configuration at once (the backend finishes their
// connections) and are reported draining for the target group's
// deregistration delay, then gone.
func (a *API) deregisterTargets(c *call) {
	p := c.p
	if !c.Valid(p.required("TargetGroupArn")) {
		return
	}
	refs, err := readTargets(p)
	if err == nil && len(refs) == 0 {
		err = missing("Targets")
	}
	if !c.Valid(err) {
		return
	}
	a.s.Lock()
	tg, err := a.tgFor(c, p.get("TargetGroupArn"))
	var lbs []string
	if err == nil {
		live := a.liveTargets(tg, c.now)
		var bad []string
		for _, t := range refs {
			if findTarget(live, t.id) == nil {
				bad = append(bad, t.id)
			}
		}
		if len(bad) > 0 {
			err = invalidTargets("The following targets are not registered in target group "+tg.ARN, bad)
		}
	}
	if err == nil {
		delay, _ := strconv.Atoi(tg.Attrs[attrDeregistrationDelay])
		for _, r := range refs {
			if t := findTarget(tg.Targets, r.id); t.DrainUntil.IsZero() {
				t.DrainUntil = c.now.Add(time.Duration(delay) * time.Second)
			}
		}
		a.liveTargets(tg, c.now) // a delay of 0: gone at once
		lbs = a.lbsOf(tg.ARN)
	}
	a.s.Unlock()
	if !c.Valid(err) || !a.reapply(c, lbs) {
		return
	}
	c.OK(nil)
}

// health is a target's TargetHealth.
type health struct{ state, reason, desc string }

// targetHealth is t's health in tg (t nil: not registered). localcloud
// does not read the backend's health checks: a registered target of a
// group an active load balancer forwards to is healthy. Call with the lock
// held.
func (a *API) targetHealth(tg *targetGroup, t *target) health {
	switch {
	case t == nil:
		return health{"unused", "Target.NotRegistered", "Target is not registered to the target group"}
	case !t.DrainUntil.IsZero():
		return health{"draining", "Target.DeregistrationInProgress", "Target deregistration is in progress"}
	}
	if _, ok := a.s.TargetAddr(t.HostID); !ok {
		return health{"unused", "Target.InvalidState", "Target is in the stopped or terminated state"}
	}
	lbs := a.lbsOf(tg.ARN)
	if len(lbs) == 0 {
		return health{"unused", "Target.NotInUse", "Target group is not configured to receive traffic from the load balancer"}
	}
	if !tg.Check.Enabled {
		return health{"unavailable", "Target.HealthCheckDisabled", "Health checks are disabled"}
	}
	for _, arn := range lbs {
		if lb := a.st.LoadBalancer[arn]; lb != nil && lb.State == "active" {
			return health{state: "healthy"}
		}
	}
	return health{"initial", "Elb.RegistrationInProgress", "Target registration is in progress"}
}

func (a *API) describeTargetHealth(c *call) {
	p := c.p
	if !c.Valid(p.required("TargetGroupArn")) {
		return
	}
	refs, err := readTargets(p)
	if !c.Valid(err) {
		return
	}
	type row struct {
		id, hcPort string
		port       int
		h          health
	}
	a.s.Lock()
	tg, err := a.tgFor(c, p.get("TargetGroupArn"))
	var rows []row
	if err == nil {
		live := a.liveTargets(tg, c.now)
		hcPort := tg.Check.Port
		if hcPort == "traffic-port" {
			hcPort = strconv.Itoa(tg.Port)
		}
		if len(refs) == 0 {
			for _, t := range live {
				refs = append(refs, targetRef{id: t.ID})
			}
		}
		for _, r := range refs {
			t := findTarget(live, r.id)
			rows = append(rows, row{id: r.id, hcPort: hcPort, port: cmpInt(r.port, tg.Port), h: a.targetHealth(tg, t)})
		}
	}
	a.s.Unlock()
	if !c.Valid(err) {
		return
	}
	c.OK(func(x *xw) {
		members(x, "TargetHealthDescriptions", rows, func(r row) {
			x.Open("Target")
			x.Leaf("Id", r.id)
			x.Int("Port", r.port)
			x.Close("Target")
			x.Leaf("HealthCheckPort", r.hcPort)
			x.Open("TargetHealth")
			x.Leaf("State", r.h.state)
			x.Opt("Reason", r.h.reason)
			x.Opt("Description", r.h.desc)
			x.Close("TargetHealth")
		})
	})
}

func cmpInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// tagsOf is the tags of resource arn in the call's region. Call with the
// lock held.
func (a *API) tagsOf(c *call, arn string) (*[]tag, *apiError) {
	switch {
	case strings.Contains(arn, ":loadbalancer/"):
		lb, err := a.lbFor(c, arn)
		if err != nil {
			return nil, err
		}
		return &lb.Tags, nil
	case strings.Contains(arn, ":targetgroup/"):
		tg, err := a.tgFor(c, arn)
		if err != nil {
			return nil, err
		}
		return &tg.Tags, nil
	case strings.Contains(arn, ":listener/"):
		l, err := a.listenerFor(c, arn)
		if err != nil {
			return nil, err
		}
		return &l.Tags, nil
	}
	return nil, validation("'%s' is not a valid load balancer, target group or listener ARN", arn)
}

func (a *API) addTags(c *call) {
	p := c.p
	arns := p.list("ResourceArns")
	tags, err := p.tags()
	if err == nil && len(arns) == 0 {
		err = missing("ResourceArns")
	}
	if err == nil && len(tags) == 0 {
		err = missing("Tags")
	}
	if !c.Valid(err) {
		return
	}
	a.s.Lock()
	var ptrs []*[]tag
	for _, arn := range arns {
		if err == nil {
			var t *[]tag
			t, err = a.tagsOf(c, arn)
			ptrs = append(ptrs, t)
		}
	}
	for _, t := range ptrs {
		if err == nil && len(setTags(slices.Clone(*t), tags)) > 50 {
			err = errf(400, "TooManyTags", "You've reached the limit on the number of tags for this resource")
		}
	}
	if err == nil {
		for _, t := range ptrs {
			*t = setTags(*t, tags)
		}
	}
	a.s.Unlock()
	if !c.Valid(err) {
		return
	}
	c.OK(nil)
}

func (a *API) removeTags(c *call) {
	p := c.p
	arns, keys := p.list("ResourceArns"), p.list("TagKeys")
	switch {
	case len(arns) == 0:
		c.Fail(missing("ResourceArns"))
		return
	case len(keys) == 0:
		c.Fail(missing("TagKeys"))
		return
	}
	a.s.Lock()
	var err *apiError
	var ptrs []*[]tag
	for _, arn := range arns {
		if err == nil {
			var t *[]tag
			t, err = a.tagsOf(c, arn)
			ptrs = append(ptrs, t)
		}
	}
	if err == nil {
		for _, t := range ptrs {
			*t = slices.DeleteFunc(*t, func(x tag) bool { return slices.Contains(keys, x.Key) })
		}
	}
	a.s.Unlock()
	if !c.Valid(err) {
		return
	}
	c.OK(nil)
}

func (a *API) describeTags(c *call) {
	arns := c.p.list("ResourceArns")
	switch {
	case len(arns) == 0:
		c.Fail(missing("ResourceArns"))
		return
	case len(arns) > 20:
		c.Fail(validation("You can specify up to 20 resources, not %d", len(arns)))
		return
	}
	type desc struct {
		arn  string
		tags []tag
	}
	a.s.Lock()
	var out []desc
	var err *apiError
	for _, arn := range arns {
		if err == nil {
			var t *[]tag
			if t, err = a.tagsOf(c, arn); err == nil {
				out = append(out, desc{arn, slices.Clone(*t)})
			}
		}
	}
	a.s.Unlock()
	if !c.Valid(err) {
		return
	}
	c.OK(func(x *xw) {
		members(x, "TagDescriptions", out, func(d desc) {
			x.Leaf("ResourceArn", d.arn)
			members(x, "Tags", d.tags, func(t tag) { x.Leaf("Key", t.Key); x.Leaf("Value", t.Value) })
		})
	})
}
