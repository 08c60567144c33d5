package awselbv2

import (
	"slices"
	"strings"
)

// readActions reads DefaultActions: localcloud takes one action, forward
// to one target group (TargetGroupArn, or ForwardConfig with one) or, on
// an application load balancer, redirect to HTTPS.
func readActions(p params) ([]action, *apiError) {
	var out []action
	var err *apiError
	p.each("DefaultActions", func(e string) {
		ac := action{Type: p.get(e + ".Type"), TargetGroupARN: p.get(e + ".TargetGroupArn")}
		if n, ierr := p.integer(e+".Order", 0, 1, 50000); ierr != nil {
			err = ierr
		} else {
			ac.Order = n
		}
		var fwdARNs []string
		p.each(e+".ForwardConfig.TargetGroups", func(t string) { fwdARNs = append(fwdARNs, p.get(t+".TargetGroupArn")) })
		switch ac.Type {
		case "forward":
			if ac.TargetGroupARN == "" && len(fwdARNs) == 1 {
				ac.TargetGroupARN = fwdARNs[0]
			}
			if ac.TargetGroupARN == "" || len(fwdARNs) > 1 || (len(fwdARNs) == 1 && fwdARNs[0] != ac.TargetGroupARN) {
				err = errf(400, "InvalidLoadBalancerAction", "localcloud forwards to one target group: give TargetGroupArn (or a ForwardConfig with that one group)")
			}
		case "redirect":
			r := &redirect{
				Protocol: cmpOr(p.get(e+".RedirectConfig.Protocol"), "#{protocol}"), Port: cmpOr(p.get(e+".RedirectConfig.Port"), "#{port}"),
				Host: cmpOr(p.get(e+".RedirectConfig.Host"), "#{host}"), Path: cmpOr(p.get(e+".RedirectConfig.Path"), "/#{path}"),
				Query: cmpOr(p.get(e+".RedirectConfig.Query"), "#{query}"), StatusCode: p.get(e + ".RedirectConfig.StatusCode"),
			}
			switch {
			case r.StatusCode != "HTTP_301" && r.StatusCode != "HTTP_302":
				err = validation("A redirect action needs RedirectConfig.StatusCode HTTP_301 or HTTP_302")
			case !strings.EqualFold(r.Protocol, "HTTPS") || (r.Port != "443" && r.Port != "#{port}") || r.Host != "#{host}" || r.Path != "/#{path}" || r.Query != "#{query}":
				err = errf(400, "InvalidLoadBalancerAction", "localcloud redirects to HTTPS on port 443 of the same host, path and query only")
			}
			ac.Redirect = r
		case "":
			err = validation("An action needs a Type")
		default:
			err = errf(400, "InvalidLoadBalancerAction", "localcloud offers forward and redirect actions, not '%s'", ac.Type)
		}
		out = append(out, ac)
	})
	if err != nil {
		return nil, err
	}
	if len(out) != 1 {
		return nil, errf(400, "InvalidLoadBalancerAction", "localcloud takes exactly one default action per listener")
	}
	return out, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// listenerFor is listener arn of the call's region. Call with the lock
// held.
func (a *API) listenerFor(c *call, arn string) (*listener, *apiError) {
	l := a.st.Listeners[arn]
	if l == nil || a.st.LoadBalancer[l.LBARN] == nil || a.st.LoadBalancer[l.LBARN].Region != c.region {
		return nil, errf(400, "ListenerNotFound", "Listener '%s' not found", arn)
	}
	return l, nil
}

// checkListener checks l (new or changed) on lb. Call with the lock held.
func (a *API) checkListener(l *listener, lb *loadBalancer) *apiError {
	switch {
	case l.Port < 1 || l.Port > 65535:
		return validation("A listener port between 1 and 65535 must be specified")
	case l.Protocol == "":
		return validation("A listener protocol must be specified")
	case lb.Type == "application" && l.Protocol != "HTTP" && l.Protocol != "HTTPS",
		lb.Type == "network" && l.Protocol != "TCP" && l.Protocol != "TLS" && l.Protocol != "UDP" && l.Protocol != "TCP_UDP":
		return errf(400, "UnsupportedProtocol", "Protocol '%s' is not supported by %s load balancers", l.Protocol, lb.Type)
	case l.Protocol == "UDP" || l.Protocol == "TCP_UDP":
		return errf(400, "UnsupportedProtocol", "localcloud load balancers carry no UDP (HAProxy): use TCP")
	case (l.Protocol == "HTTPS" || l.Protocol == "TLS") && len(l.Certificates) == 0:
		return validation("A certificate must be specified for %s listeners", l.Protocol)
	case len(l.Certificates) > 0:
		return errf(400, "CertificateNotFound", "Certificate '%s' not found: localcloud has no certificates (and terminates no TLS)", l.Certificates[0])
	}
	for _, o := range a.listenersOf(lb.ARN) {
		if o.ARN != l.ARN && o.Port == l.Port {
			return errf(400, "DuplicateListener", "A listener already exists on this port for this load balancer '%s'", lb.ARN)
		}
	}
	for _, ac := range l.Actions {
		if ac.Type == "redirect" {
			if lb.Type != "application" || l.Protocol != "HTTP" {
				return errf(400, "InvalidLoadBalancerAction", "A redirect action is for HTTP listeners of application load balancers")
			}
			continue
		}
		tg := a.st.TargetGroups[ac.TargetGroupARN]
		if tg == nil || tg.Region != lb.Region {
			return errf(400, "TargetGroupNotFound", "Target group '%s' not found", ac.TargetGroupARN)
		}
		if (lb.Type == "application") != (tg.Protocol == "HTTP" || tg.Protocol == "HTTPS") {
			return errf(400, "IncompatibleProtocols", "The target group's protocol %s does not fit a %s load balancer", tg.Protocol, lb.Type)
		}
		for _, other := range a.lbsOf(tg.ARN) {
			if other != lb.ARN {
				return errf(400, "TargetGroupAssociationLimit", "The following target groups cannot be associated with more than one load balancer: %s", tg.ARN)
			}
		}
	}
	return nil
}

func (a *API) renderListener(l *listener) func(x *xw) {
	lc := *l
	return func(x *xw) {
		x.Leaf("ListenerArn", lc.ARN)
		x.Leaf("LoadBalancerArn", lc.LBARN)
		x.Int("Port", lc.Port)
		x.Leaf("Protocol", lc.Protocol)
		members(x, "DefaultActions", lc.Actions, func(ac action) {
			x.Leaf("Type", ac.Type)
			if ac.Type == "forward" {
				x.Leaf("TargetGroupArn", ac.TargetGroupARN)
			}
			if ac.Order > 0 {
				x.Int("Order", ac.Order)
			}
			if r := ac.Redirect; r != nil {
				x.Open("RedirectConfig")
				x.Leaf("Protocol", r.Protocol)
				x.Leaf("Port", r.Port)
				x.Leaf("Host", r.Host)
				x.Leaf("Path", r.Path)
				x.Leaf("Query", r.Query)
				x.Leaf("StatusCode", r.StatusCode)
				x.Close("RedirectConfig")
			}
			if ac.Type == "forward" {
				x.Open("ForwardConfig")
				members(x, "TargetGroups", []string{ac.TargetGroupARN}, func(arn string) { x.Leaf("TargetGroupArn", arn); x.Int("Weight", 1) })
				x.Close("ForwardConfig")
			}
		})
	}
}

func (a *API) createListener(c *call) {
	p := c.p
	if !c.Valid(p.required("LoadBalancerArn")) {
		return
	}
	port, err := p.integer("Port", 0, 1, 65535)
	if !c.Valid(err) {
		return
	}
	acts, err := readActions(p)
	if !c.Valid(err) {
		return
	}
	tags, err := p.tags()
	if !c.Valid(err) {
		return
	}
	var certs []string
	p.each("Certificates", func(e string) { certs = append(certs, p.get(e+".CertificateArn")) })
	a.s.Lock()
	lb, err := a.lbFor(c, p.get("LoadBalancerArn"))
	var out func(*xw)
	if err == nil {
		l := &listener{LBARN: lb.ARN, Port: port, Protocol: p.get("Protocol"), SslPolicy: p.get("SslPolicy"), Certificates: certs, Actions: acts, Tags: tags}
		if err = a.checkListener(l, lb); err == nil {
			l.ARN = a.arn(c.region, "listener/"+lbTypeShort(lb.Type)+"/"+lb.Name+"/"+lb.ID+"/"+a.st.newID())
			a.st.Listeners[l.ARN] = l
			out = a.renderListener(l)
		}
	}
	a.s.Unlock()
	if !c.Valid(err) || !a.reapply(c, []string{lb.ARN}) {
		return
	}
	c.OK(func(x *xw) { members(x, "Listeners", []func(*xw){out}, func(f func(*xw)) { f(x) }) })
}

func (a *API) describeListeners(c *call) {
	p := c.p
	lbARN, arns := p.get("LoadBalancerArn"), p.list("ListenerArns")
	size, err := p.integer("PageSize", 0, 1, 400)
	if !c.Valid(err) {
		return
	}
	if (lbARN == "") == (len(arns) == 0) {
		c.Fail(validation("Specify either a load balancer ARN or listener ARNs"))
		return
	}
	a.s.Lock()
	var ls []*listener
	if lbARN != "" {
		if _, err = a.lbFor(c, lbARN); err == nil {
			ls = a.listenersOf(lbARN)
		}
	}
	for _, arn := range arns {
		var l *listener
		if err == nil {
			l, err = a.listenerFor(c, arn)
		}
		if l != nil && !slices.Contains(ls, l) {
			ls = append(ls, l)
		}
	}
	key := func(l *listener) string { return l.ARN }
	slices.SortFunc(ls, func(x, y *listener) int { return strings.Compare(x.ARN, y.ARN) })
	var next string
	if err == nil {
		ls, next, err = page(ls, key, p.get("Marker"), size)
	}
	out := make([]func(*xw), len(ls))
	for i, l := range ls {
		out[i] = a.renderListener(l)
	}
	a.s.Unlock()
	if !c.Valid(err) {
		return
	}
	c.OK(func(x *xw) {
		members(x, "Listeners", out, func(f func(*xw)) { f(x) })
		x.Opt("NextMarker", next)
	})
}

func (a *API) modifyListener(c *call) {
	p := c.p
	if !c.Valid(p.required("ListenerArn")) {
		return
	}
	var acts []action
	var err *apiError
	if p.has("DefaultActions.member.1.Type") {
		if acts, err = readActions(p); !c.Valid(err) {
			return
		}
	}
	a.s.Lock()
	l, err := a.listenerFor(c, p.get("ListenerArn"))
	var out func(*xw)
	var lbARN string
	if err == nil {
		next := *l
		next.Port, err = p.integer("Port", l.Port, 1, 65535)
		next.Protocol = cmpOr(p.get("Protocol"), l.Protocol)
		if acts != nil {
			next.Actions = acts
		}
		if p.has("Certificates.member.1.CertificateArn") {
			next.Certificates = nil
			p.each("Certificates", func(e string) { next.Certificates = append(next.Certificates, p.get(e+".CertificateArn")) })
		} else if next.Protocol != "HTTPS" && next.Protocol != "TLS" {
			next.Certificates = nil
		}
		if err == nil {
			err = a.checkListener(&next, a.st.LoadBalancer[l.LBARN])
		}
		if err == nil {
			*l = next
			out, lbARN = a.renderListener(l), l.LBARN
		}
	}
	a.s.Unlock()
	if !c.Valid(err) || !a.reapply(c, []string{lbARN}) {
		return
	}
	c.OK(func(x *xw) { members(x, "Listeners", []func(*xw){out}, func(f func(*xw)) { f(x) }) })
}

func (a *API) deleteListener(c *call) {
	if !c.Valid(c.p.required("ListenerArn")) {
		return
	}
	a.s.Lock()
	l, err := a.listenerFor(c, c.p.get("ListenerArn"))
	if err == nil {
		delete(a.st.Listeners, l.ARN)
	}
	a.s.Unlock()
	if !c.Valid(err) || !a.reapply(c, []string{l.LBARN}) {
		return
	}
	c.OK(nil)
}
