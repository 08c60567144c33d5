package digitalocean

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

var _ cloud.LoadBalancers = (*Driver)(nil)

// Load balancers: http is a REGIONAL load balancer, network a
// REGIONAL_NETWORK one. Membership is by droplet id (never by tag: a tag
// would add a host before its node is ready). DigitalOcean reports no
// per-target health, so RemoveTargets waits the health check's interval ×
// unhealthy threshold after the removal, the longest the load balancer can
// keep sending a host new traffic; TargetStates reports every target
// "unknown". DigitalOcean has no deregistration delay: it is ignored.

const (
	lbTypeHTTP    = "REGIONAL"
	lbTypeNetwork = "REGIONAL_NETWORK"
)

// CreateLoadBalancer creates the load balancer and waits until it is
// active. The HTTP client never repeats a create; after a 5xx or a broken
// connection the account's load balancers are listed and one of that name
// that was not there before is the one it made.
func (d *Driver) CreateLoadBalancer(ctx context.Context, spec cloud.LoadBalancerSpec) (*cloud.LoadBalancer, error) {
	return d.createLoadBalancer(ctx, spec, "")
}

// createLoadBalancer creates it in project (the default project when "").
func (d *Driver) createLoadBalancer(ctx context.Context, spec cloud.LoadBalancerSpec, project string) (*cloud.LoadBalancer, error) {
	req := lbRequest(spec)
	req.ProjectID = project
	before, err := d.ListLoadBalancers(ctx)
	if err != nil {
		return nil, err
	}
	had := map[string]bool{}
	for _, lb := range before {
		had[lb.ID] = true
	}
	created, err := createFindingAgain(ctx, d, "load balancer",
		func() (*godo.LoadBalancer, error) { return d.sendLB(ctx, http.MethodPost, "v2/load_balancers", req) },
		func(err error) ([]*godo.LoadBalancer, error) {
			after, lerr := d.ListLoadBalancers(ctx)
			if lerr != nil {
				return nil, fmt.Errorf("%w (and listing load balancers to find one it may have made: %v)", apiError(err), lerr)
			}
			var made []*godo.LoadBalancer
			for _, lb := range after {
				if !had[lb.ID] && lb.Spec.Name == spec.Name {
					made = append(made, &godo.LoadBalancer{ID: lb.ID})
				}
			}
			return made, nil
		},
		func(err error, n int) error {
			return fmt.Errorf("creating load balancer %s failed (%v), and %d load balancers of that name appeared since: import one and delete the others", spec.Name, apiError(err), n)
		})
	if err != nil {
		return nil, err
	}
	id := created.ID
	lb, err := d.waitLoadBalancerActive(ctx, id)
	if err != nil {
		return &cloud.LoadBalancer{ID: id, Spec: spec, Status: cloud.LoadBalancerNew}, err
	}
	return lb, nil
}

// waitLoadBalancerActive waits until load balancer id is active.
func (d *Driver) waitLoadBalancerActive(ctx context.Context, id string) (*cloud.LoadBalancer, error) {
	var out *cloud.LoadBalancer
	err := wait.Until(ctx, wait.Options{What: "load balancer " + id + " to be active", Interval: d.cfg.PollInterval, MaxInterval: 4 * d.cfg.PollInterval},
		func(ctx context.Context) (bool, string, error) {
			lb, err := d.loadBalancer(ctx, id)
			if err != nil {
				return false, "", err
			}
			if lb.Status == cloud.LoadBalancerError {
				return false, string(lb.Status), fmt.Errorf("load balancer %s errored while it was being created: delete it and apply again", id)
			}
			out = lb
			return lb.Status == cloud.LoadBalancerActive, string(lb.Status), nil
		})
	return out, err
}

// loadBalancer reads one load balancer without its unsaved mark: what the
// waits and the driver's own checks need.
func (d *Driver) loadBalancer(ctx context.Context, id string) (*cloud.LoadBalancer, error) {
	lb, _, err := d.client.LoadBalancers.Get(ctx, id)
	if err != nil {
		return nil, apiError(err)
	}
	return toLoadBalancer(lb), nil
}

// GetLoadBalancer reads one load balancer, with its unsaved mark.
func (d *Driver) GetLoadBalancer(ctx context.Context, id string) (*cloud.LoadBalancer, error) {
	lb, _, err := d.client.LoadBalancers.Get(ctx, id)
	if err != nil {
		return nil, apiError(err)
	}
	out := []cloud.LoadBalancer{*toLoadBalancer(lb)}
	if err := d.markUnsavedLBs(ctx, []godo.LoadBalancer{*lb}, out); err != nil {
		return nil, err
	}
	return &out[0], nil
}

// ListLoadBalancers lists every load balancer of the account, all pages.
func (d *Driver) ListLoadBalancers(ctx context.Context) ([]cloud.LoadBalancer, error) {
	lbs, err := allPages(func(opt *godo.ListOptions) ([]godo.LoadBalancer, *godo.Response, error) {
		return d.client.LoadBalancers.List(ctx, opt)
	})
	if err != nil {
		return nil, err
	}
	out := make([]cloud.LoadBalancer, len(lbs))
	for i := range lbs {
		out[i] = *toLoadBalancer(&lbs[i])
	}
	if err := d.markUnsavedLBs(ctx, lbs, out); err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateLoadBalancer replaces the load balancer's settings (PUT takes the
// whole object), keeping its droplets.
func (d *Driver) UpdateLoadBalancer(ctx context.Context, id string, spec cloud.LoadBalancerSpec) (*cloud.LoadBalancer, error) {
	cur, _, err := d.client.LoadBalancers.Get(ctx, id)
	if err != nil {
		return nil, apiError(err)
	}
	req := lbRequest(spec)
	req.DropletIDs = cur.DropletIDs
	lb, err := d.sendLB(ctx, http.MethodPut, "v2/load_balancers/"+id, req)
	if err != nil {
		return nil, apiError(err)
	}
	return toLoadBalancer(lb), nil
}

// DeleteLoadBalancer deletes it and waits until it is gone.
func (d *Driver) DeleteLoadBalancer(ctx context.Context, id string) error {
	if _, err := d.client.LoadBalancers.Delete(ctx, id); err != nil && !isStatus(err, http.StatusNotFound) {
		return apiError(err)
	}
	return wait.Until(ctx, wait.Options{What: "load balancer " + id + " to be deleted", Interval: d.cfg.PollInterval, MaxInterval: 4 * d.cfg.PollInterval},
		func(ctx context.Context) (bool, string, error) {
			_, _, err := d.client.LoadBalancers.Get(ctx, id)
			if isStatus(err, http.StatusNotFound) {
				return true, "gone", nil
			}
			if err != nil {
				return false, "", wait.Retry(apiError(err))
			}
			return false, "still there", nil
		})
}

// AddTargets registers droplets.
func (d *Driver) AddTargets(ctx context.Context, id string, hostIDs []string) error {
	ns, err := dropletIDs(hostIDs)
	if err != nil || len(ns) == 0 {
		return err
	}
	if _, err := d.client.LoadBalancers.AddDroplets(ctx, id, ns...); err != nil {
		return apiError(err)
	}
	return nil
}

// RemoveTargets deregisters droplets, then waits the health check's
// interval × unhealthy threshold (see the package comment).
func (d *Driver) RemoveTargets(ctx context.Context, id string, hostIDs []string) error {
	ns, err := dropletIDs(hostIDs)
	if err != nil || len(ns) == 0 {
		return err
	}
	lb, _, err := d.client.LoadBalancers.Get(ctx, id)
	if isStatus(err, http.StatusNotFound) {
		return nil
	}
	if err != nil {
		return apiError(err)
	}
	ns = slices.DeleteFunc(ns, func(n int) bool { return !slices.Contains(lb.DropletIDs, n) })
	if len(ns) == 0 {
		return nil
	}
	if _, err := d.client.LoadBalancers.RemoveDroplets(ctx, id, ns...); err != nil && !isStatus(err, http.StatusNotFound) {
		return apiError(err)
	}
	hc := toLoadBalancer(lb).Spec.HealthCheck
	wait0 := hc.DeregistrationWait()
	tflog.SubsystemInfo(ctx, logSubsystem, "waiting for the load balancer to stop sending traffic to the removed droplets (health check interval × unhealthy threshold: DigitalOcean reports no target state)",
		map[string]any{"load_balancer": id, "droplets": ns, "wait": wait0.String()})
	return wait.Sleep(ctx, wait0)
}

// TargetStates reports every registered droplet as unknown: DigitalOcean
// reports no per-target health.
func (d *Driver) TargetStates(ctx context.Context, id string) (map[string]cloud.TargetState, error) {
	lb, err := d.loadBalancer(ctx, id)
	if err != nil {
		return nil, err
	}
	out := map[string]cloud.TargetState{}
	for _, t := range lb.Targets {
		out[t] = cloud.TargetUnknown
	}
	return out, nil
}

// sendLB sends a create or update. godo leaves an empty droplet_ids out,
// and DigitalOcean's spec wants droplet_ids (or tag) in every create and
// update: a load balancer of no droplet yet sends an empty list.
func (d *Driver) sendLB(ctx context.Context, method, path string, req *godo.LoadBalancerRequest) (*godo.LoadBalancer, error) {
	raw, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, err
	}
	if _, ok := body["droplet_ids"]; !ok {
		body["droplet_ids"] = []int{}
	}
	hr, err := d.client.NewRequest(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	var root struct {
		LoadBalancer *godo.LoadBalancer `json:"load_balancer"`
	}
	if _, err := d.client.Do(ctx, hr, &root); err != nil {
		return nil, err
	}
	if root.LoadBalancer == nil {
		return nil, fmt.Errorf("DigitalOcean answered %s %s without a load balancer", method, path)
	}
	return root.LoadBalancer, nil
}

func dropletIDs(hostIDs []string) ([]int, error) {
	out := make([]int, 0, len(hostIDs))
	for _, h := range hostIDs {
		n, err := dropletID(h)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// lbRequest is spec as DigitalOcean's create and update body.
func lbRequest(spec cloud.LoadBalancerSpec) *godo.LoadBalancerRequest {
	typ := lbTypeHTTP
	if spec.Type == cloud.LoadBalancerNetwork {
		typ = lbTypeNetwork
	}
	hc := spec.HealthCheck
	req := &godo.LoadBalancerRequest{
		Name: spec.Name, Region: spec.Region, Type: typ, SizeUnit: 1,
		HealthCheck: &godo.HealthCheck{
			Protocol: hc.Protocol, Port: hc.Port, Path: hc.Path,
			CheckIntervalSeconds: int(hc.Interval / time.Second), ResponseTimeoutSeconds: int(hc.Timeout / time.Second),
			HealthyThreshold: hc.HealthyThreshold, UnhealthyThreshold: hc.UnhealthyThreshold,
		},
		RedirectHttpToHttps: spec.RedirectHTTPToHTTPS,
		// Sent empty rather than left out: a droplet-id load balancer.
		DropletIDs: []int{},
	}
	if hc.Protocol == "tcp" {
		req.HealthCheck.Path = ""
	}
	for _, r := range spec.ForwardingRules {
		req.ForwardingRules = append(req.ForwardingRules, godo.ForwardingRule{
			EntryProtocol: r.EntryProtocol, EntryPort: r.EntryPort, TargetProtocol: r.TargetProtocol, TargetPort: r.TargetPort,
			CertificateID: r.CertificateID, TlsPassthrough: r.TLSPassthrough,
		})
	}
	if spec.StickyCookie != "" {
		req.StickySessions = &godo.StickySessions{Type: "cookies", CookieName: spec.StickyCookie, CookieTtlSeconds: int(spec.StickyTTL / time.Second)}
	} else {
		req.StickySessions = &godo.StickySessions{Type: "none"}
	}
	return req
}

func toLoadBalancer(lb *godo.LoadBalancer) *cloud.LoadBalancer {
	out := &cloud.LoadBalancer{ID: lb.ID, Address: lb.IP}
	out.Spec.Name = lb.Name
	if lb.Region != nil {
		out.Spec.Region = lb.Region.Slug
	}
	out.Spec.Type = cloud.LoadBalancerHTTP
	if lb.Type == lbTypeNetwork {
		out.Spec.Type = cloud.LoadBalancerNetwork
	}
	for _, r := range lb.ForwardingRules {
		out.Spec.ForwardingRules = append(out.Spec.ForwardingRules, cloud.ForwardingRule{
			EntryProtocol: r.EntryProtocol, EntryPort: r.EntryPort, TargetProtocol: r.TargetProtocol, TargetPort: r.TargetPort,
			CertificateID: r.CertificateID, TLSPassthrough: r.TlsPassthrough,
		})
	}
	if hc := lb.HealthCheck; hc != nil {
		out.Spec.HealthCheck = cloud.HealthCheck{
			Protocol: hc.Protocol, Port: hc.Port, Path: hc.Path,
			Interval: time.Duration(hc.CheckIntervalSeconds) * time.Second, Timeout: time.Duration(hc.ResponseTimeoutSeconds) * time.Second,
			HealthyThreshold: hc.HealthyThreshold, UnhealthyThreshold: hc.UnhealthyThreshold,
		}
	}
	if s := lb.StickySessions; s != nil && s.Type == "cookies" {
		out.Spec.StickyCookie, out.Spec.StickyTTL = s.CookieName, time.Duration(s.CookieTtlSeconds)*time.Second
	}
	out.Spec.RedirectHTTPToHTTPS = lb.RedirectHttpToHttps
	switch lb.Status {
	case "active":
		out.Status = cloud.LoadBalancerActive
	case "errored":
		out.Status = cloud.LoadBalancerError
	default:
		out.Status = cloud.LoadBalancerNew
	}
	for _, n := range lb.DropletIDs {
		out.Targets = append(out.Targets, strconv.Itoa(n))
	}
	slices.Sort(out.Targets)
	if t, err := time.Parse(time.RFC3339, lb.Created); err == nil {
		out.CreatedAt = t
	}
	return out
}
