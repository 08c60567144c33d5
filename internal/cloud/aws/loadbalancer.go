package aws

// Load balancers (cloud.LoadBalancers) are Elastic Load Balancing v2.
//
// One cloud load balancer is, in the driver's region:
//
//   - one ELBv2 load balancer named spec.Name: an Application Load Balancer
//     for type http, a Network Load Balancer for type network;
//     internet-facing, IPv4, in the default VPC's default subnets (one per
//     Availability Zone, found with DescribeSubnets default-for-az=true; an
//     ALB needs two zones or more), in the security group
//     "haddock-lb-<name>" (loadbalancer_security.go);
//   - one target group named like it (load balancer and target group names
//     are separate namespaces with the same rules: at most 32 letters,
//     digits and hyphens), of target type instance, with the protocol and
//     port every forwarding rule targets (they must agree: they share it),
//     the health check, and the attributes
//     deregistration_delay.timeout_seconds (DeregistrationDelay, always set)
//     and, on an ALB, stickiness (enabled, lb_cookie, duration StickyTTL)
//     when StickyCookie is set;
//   - one listener per forwarding rule on its entry port, forwarding to the
//     target group; an https rule's CertificateID is the certificate ARN
//     (ACM or IAM). With RedirectHTTPToHTTPS the listener of the http:80
//     rule redirects to HTTPS:443 (301) instead of forwarding.
//
// Both carry the spec's neutral tags and the managed tag, as EC2 resources
// do (tags.go). AWS names the stickiness cookie itself (AWSALB), so the
// requested name is kept in the target group's tag haddock:sticky-cookie,
// to be read back.
//
// What AWS cannot express is refused before any call, with cloud.ErrInvalid:
// an http load balancer takes http and https rules (https with a
// certificate; no TLSPassthrough: an ALB terminates TLS) and http or https
// health checks; a network one takes tcp and udp rules forwarding the same
// protocol, and no sticky cookie; http2 is not offered (an ALB's https
// listener negotiates HTTP/2 by itself); RedirectHTTPToHTTPS needs an
// http:80 rule. Zero health check fields and a zero StickyTTL leave AWS's
// values (its defaults at creation), which are what reads back.
//
// Reading back: ID is the load balancer ARN, Address its DNS name, Status
// from its state (provisioning → new, active and active_impaired → active,
// failed → errored), Targets the instances registered in the target group
// (DescribeTargetHealth; draining ones are no longer registered), sorted.
// The spec's rules come from the listeners, by entry port; the health
// check, deregistration delay and stickiness from the target group; Tags
// from the load balancer. ListLoadBalancers lists every ELBv2 load balancer
// of the region but gateway ones, all pages, without Targets (a
// DescribeTargetHealth call each saved; GetLoadBalancer has them).
//
// CreateLoadBalancer creates the load balancer's security group, then the
// load balancer, waits until it is active, then opens the security groups
// and creates the target group and the listeners; a failure before the
// load balancer exists deletes the security group it created, and once the
// load balancer exists a failure returns it with the error. A
// DuplicateLoadBalancerName error (AWS answers an identical request with
// the existing load balancer, a different one with that error) continues
// with the existing one when it is Haddock's and of the same type.
// UpdateLoadBalancer brings the security groups, target group, tags and
// listeners to the spec (adding what is missing, so it also finishes a
// failed creation); the target protocol and port cannot change in place.
// DeleteLoadBalancer deletes the load balancer (its listeners go with it),
// waits until it is gone, then deletes the target group and the security
// group. RemoveTargets returns once DescribeTargetHealth reports the
// targets unused or gone, after the deregistration delay at most plus five
// minutes.
//
// Security groups: each load balancer has its own, which admits its
// listeners from anywhere, and the hosts' group admits the target and
// health check ports from it; see loadbalancer_security.go.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

const (
	// stickyCookieTagKey holds the requested cookie name on the target
	// group, since AWS's lb_cookie stickiness uses a cookie of its own.
	stickyCookieTagKey = "haddock:sticky-cookie"
	// awsStickyCookie is the cookie AWS's lb_cookie stickiness sets; it is
	// what reads back when stickiness was enabled outside Haddock.
	awsStickyCookie = "AWSALB"

	attrDeregistrationDelay = "deregistration_delay.timeout_seconds"
	attrStickyEnabled       = "stickiness.enabled"
	attrStickyType          = "stickiness.type"
	attrStickyDuration      = "stickiness.lb_cookie.duration_seconds"
	stickyTypeLBCookie      = "lb_cookie"

	healthCheckTrafficPort = "traffic-port"
	filterDefaultForAZ     = "default-for-az"
	maxLBNameLen           = 32

	// removeTargetsSlack is how much longer than the deregistration delay
	// RemoveTargets waits for targets to drain.
	removeTargetsSlack = 5 * time.Minute
)

// errNoTargetGroup: the load balancer has no target group of Haddock's
// (its creation stopped early, or it is not Haddock's).
var errNoTargetGroup = errors.New("the load balancer has no target group")

// lbPlan is a spec checked and translated to ELBv2 terms.
type lbPlan struct {
	spec       cloud.LoadBalancerSpec
	lbType     elbtypes.LoadBalancerTypeEnum
	tgProtocol elbtypes.ProtocolEnum
	tgPort     int32
	health     healthPlan
	listeners  []listenerPlan // by entry port
	attrs      []elbtypes.TargetGroupAttribute
	lbTags     []elbtypes.Tag
	tgTags     []elbtypes.Tag
}

// healthPlan is the target group's health check; nil fields keep AWS's
// value.
type healthPlan struct {
	protocol           elbtypes.ProtocolEnum
	port               string
	path               *string
	interval, timeout  *int32
	healthy, unhealthy *int32
}

type listenerPlan struct {
	port     int32
	protocol elbtypes.ProtocolEnum
	cert     string
	redirect bool // to HTTPS:443 instead of forwarding
}

// lbAPI is the driver's ELBv2 client.
func (d *Driver) lbAPI() (ELBv2API, error) {
	if d.elbv2 == nil {
		return nil, errors.New("aws: this driver has no ELBv2 client; build it with aws.New")
	}
	return d.elbv2, nil
}

// CreateLoadBalancer creates the load balancer, waits until it is active,
// then creates its target group and listeners (see the mapping above).
func (d *Driver) CreateLoadBalancer(ctx context.Context, spec cloud.LoadBalancerSpec) (*cloud.LoadBalancer, error) {
	ctx = logContext(ctx)
	what := fmt.Sprintf("ELBv2 load balancer (%s)", spec.Name)
	api, err := d.lbAPI()
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", what, err)
	}
	p, err := d.planLoadBalancer(spec)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", what, err)
	}
	vpcID, subnets, err := d.defaultSubnets(ctx)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", what, err)
	}
	if need := minZones(p.lbType); len(subnets) < need {
		return nil, fmt.Errorf("creating %s: %w", what, invalidError("InvalidSubnet", fmt.Sprintf(
			"an %s load balancer needs default subnets in at least %d Availability Zones, and the default VPC of %s has %d; "+
				"add one with `aws ec2 create-default-subnet --region %s --availability-zone <zone>`",
			p.lbType, need, d.region, len(subnets), d.region)))
	}
	// Before the load balancer: an NLB takes security groups only at
	// creation.
	sgID, sgCreated, err := d.createLBSecurityGroup(ctx, vpcID, spec.Name)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", what, err)
	}
	failed := func(err error) (*cloud.LoadBalancer, error) {
		if sgCreated {
			d.dropGroup(ctx, sgID)
		}
		return nil, fmt.Errorf("creating %s: %w", what, err)
	}

	tflog.SubsystemInfo(ctx, subsystem, "creating ELBv2 load balancer", map[string]any{"name": spec.Name, "type": string(p.lbType), "subnets": subnets, "security_group": sgID})
	out, err := api.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{
		Name:           awssdk.String(spec.Name),
		Type:           p.lbType,
		Scheme:         elbtypes.LoadBalancerSchemeEnumInternetFacing,
		IpAddressType:  elbtypes.IpAddressTypeIpv4,
		Subnets:        subnets,
		SecurityGroups: []string{sgID},
		Tags:           p.lbTags,
	})
	var lb *elbtypes.LoadBalancer
	fresh := true
	switch {
	case hasCode(err, errCodeDuplicateLBName):
		if lb, err = d.adoptLoadBalancer(ctx, api, p); err != nil {
			return failed(err)
		}
		fresh = false
	case err != nil:
		return failed(mapError(err))
	case len(out.LoadBalancers) == 0:
		return failed(errors.New("ELBv2 answered without the load balancer"))
	default:
		lb = &out.LoadBalancers[0]
	}

	// From here on the load balancer exists: a failure returns it, for the
	// caller to record.
	arn := awssdk.ToString(lb.LoadBalancerArn)
	partial := func(err error) (*cloud.LoadBalancer, error) {
		got := d.loadBalancerFrom(lb)
		got.Spec.Tags = neutralELBTags(p.lbTags)
		return &got, fmt.Errorf("creating %s: %w (the load balancer %s exists and is returned with this error: "+
			"updating it to the same spec finishes it, deleting it cleans up)", what, err, arn)
	}
	active, err := d.waitLoadBalancerActive(ctx, api, arn)
	if err != nil {
		return partial(err)
	}
	lb = active
	if err := d.reconcile(ctx, api, lb, p, fresh); err != nil {
		return partial(err)
	}
	got, err := d.readLoadBalancer(ctx, api, lb, true)
	if err != nil {
		return partial(fmt.Errorf("reading it back: %w", err))
	}
	return got, nil
}

// adoptLoadBalancer returns the existing load balancer of p's name, when it
// is Haddock's and of p's type; CreateLoadBalancer continues with it.
func (d *Driver) adoptLoadBalancer(ctx context.Context, api ELBv2API, p *lbPlan) (*elbtypes.LoadBalancer, error) {
	lb, err := findLoadBalancerByName(ctx, api, p.spec.Name)
	if err != nil {
		return nil, fmt.Errorf("finding the existing load balancer of that name: %w", err)
	}
	arn := awssdk.ToString(lb.LoadBalancerArn)
	tags, err := describeTags(ctx, api, arn)
	if err != nil {
		return nil, fmt.Errorf("reading the tags of the existing load balancer (%s): %w", arn, err)
	}
	if !slices.Contains(neutralELBTags(tags[arn]), cloud.ManagedTag) || lb.Type != p.lbType {
		return nil, &cloud.APIError{Cloud: cloud.AWS, Kind: cloud.ErrConflict, Code: errCodeDuplicateLBName, Message: fmt.Sprintf(
			"a load balancer named %s exists already in %s (%s) and is not a Haddock %s load balancer: choose another name, or delete it",
			p.spec.Name, d.region, arn, p.lbType)}
	}
	tflog.SubsystemInfo(ctx, subsystem, "continuing with the existing load balancer of that name", map[string]any{"arn": arn})
	return lb, nil
}

// GetLoadBalancer describes the load balancer with its ARN; a deleted one
// is an error wrapping cloud.ErrNotFound.
func (d *Driver) GetLoadBalancer(ctx context.Context, id string) (*cloud.LoadBalancer, error) {
	ctx = logContext(ctx)
	api, err := d.lbAPI()
	if err != nil {
		return nil, fmt.Errorf("reading ELBv2 load balancer (%s): %w", id, err)
	}
	lb, err := findLoadBalancer(ctx, api, id)
	if err != nil {
		return nil, fmt.Errorf("reading ELBv2 load balancer (%s): %w", id, err)
	}
	got, err := d.readLoadBalancer(ctx, api, lb, true)
	if err != nil {
		return nil, fmt.Errorf("reading ELBv2 load balancer (%s): %w", id, err)
	}
	return got, nil
}

// ListLoadBalancers lists the region's ELBv2 load balancers, gateway load
// balancers excepted, all pages, without their Targets.
func (d *Driver) ListLoadBalancers(ctx context.Context) ([]cloud.LoadBalancer, error) {
	ctx = logContext(ctx)
	api, err := d.lbAPI()
	if err != nil {
		return nil, fmt.Errorf("listing ELBv2 load balancers: %w", err)
	}
	var lbs []cloud.LoadBalancer
	pages := elb.NewDescribeLoadBalancersPaginator(api, &elb.DescribeLoadBalancersInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing ELBv2 load balancers: %w", mapError(err))
		}
		for i := range page.LoadBalancers {
			lb := &page.LoadBalancers[i]
			if lb.Type == elbtypes.LoadBalancerTypeEnumGateway {
				continue
			}
			got, err := d.readLoadBalancer(ctx, api, lb, false)
			if cloud.IsNotFound(err) {
				continue // deleted since the page was read
			}
			if err != nil {
				return nil, fmt.Errorf("listing ELBv2 load balancers: reading %s: %w", awssdk.ToString(lb.LoadBalancerArn), err)
			}
			lbs = append(lbs, *got)
		}
	}
	return lbs, nil
}

// UpdateLoadBalancer brings the target group's health check and
// attributes, the tags and the listeners to spec, creating what is missing.
// An empty Name or Type means unchanged.
func (d *Driver) UpdateLoadBalancer(ctx context.Context, id string, spec cloud.LoadBalancerSpec) (*cloud.LoadBalancer, error) {
	ctx = logContext(ctx)
	what := fmt.Sprintf("ELBv2 load balancer (%s)", id)
	api, err := d.lbAPI()
	if err != nil {
		return nil, fmt.Errorf("updating %s: %w", what, err)
	}
	lb, err := findLoadBalancer(ctx, api, id)
	if err != nil {
		return nil, fmt.Errorf("updating %s: %w", what, err)
	}
	name, typ := awssdk.ToString(lb.LoadBalancerName), lbTypeOf(lb.Type)
	switch {
	case spec.Name == "":
		spec.Name = name
	case spec.Name != name:
		return nil, fmt.Errorf("updating %s: %w", what, invalidError("InvalidLoadBalancerName",
			fmt.Sprintf("AWS cannot rename a load balancer (%s to %s): replace it", name, spec.Name)))
	}
	switch {
	case spec.Type == "":
		spec.Type = typ
	case spec.Type != typ:
		return nil, fmt.Errorf("updating %s: %w", what, invalidError("InvalidLoadBalancerType",
			fmt.Sprintf("AWS cannot change a load balancer's type (%s to %s): replace it", typ, spec.Type)))
	}
	p, err := d.planLoadBalancer(spec)
	if err != nil {
		return nil, fmt.Errorf("updating %s: %w", what, err)
	}
	tflog.SubsystemInfo(ctx, subsystem, "updating ELBv2 load balancer", map[string]any{"arn": id})
	if err := d.reconcile(ctx, api, lb, p, false); err != nil {
		return nil, fmt.Errorf("updating %s: %w", what, err)
	}
	got, err := d.readLoadBalancer(ctx, api, lb, true)
	if err != nil {
		return nil, fmt.Errorf("updating %s: reading it back: %w", what, err)
	}
	return got, nil
}

// DeleteLoadBalancer deletes the load balancer, waits until it is gone and
// deletes its target group and its security group (with the hosts' rules
// that admit it). A load balancer already gone is not an error; a target
// group or security group an interrupted delete left behind is deleted
// then.
func (d *Driver) DeleteLoadBalancer(ctx context.Context, id string) error {
	ctx = logContext(ctx)
	what := fmt.Sprintf("ELBv2 load balancer (%s)", id)
	api, err := d.lbAPI()
	if err != nil {
		return fmt.Errorf("deleting %s: %w", what, err)
	}
	lb, err := findLoadBalancer(ctx, api, id)
	if cloud.IsNotFound(err) {
		if err := d.deleteOrphanTargetGroup(ctx, api, id); err != nil {
			return fmt.Errorf("deleting %s: %w", what, err)
		}
		if err := d.deleteOrphanLBSecurity(ctx, api, id); err != nil {
			return fmt.Errorf("deleting %s: %w", what, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting %s: %w", what, err)
	}
	// Found before the load balancer goes: with it goes the association.
	tg, err := findTargetGroupOf(ctx, api, id, awssdk.ToString(lb.LoadBalancerName))
	switch {
	case cloud.IsNotFound(err): // deleted meanwhile
		if err := d.deleteOrphanLBSecurity(ctx, api, id); err != nil {
			return fmt.Errorf("deleting %s: %w", what, err)
		}
		return nil
	case err != nil && !errors.Is(err, errNoTargetGroup):
		return fmt.Errorf("deleting %s: %w", what, err)
	}

	tflog.SubsystemInfo(ctx, subsystem, "deleting ELBv2 load balancer", map[string]any{"arn": id})
	_, err = api.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerArn: awssdk.String(id)})
	if err != nil && !hasCode(err, errCodeLoadBalancerNotFound) {
		return fmt.Errorf("deleting %s: %w", what, mapError(err))
	}
	w := elb.NewLoadBalancersDeletedWaiter(api, func(o *elb.LoadBalancersDeletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = d.waiterDelays()
	})
	if err := w.Wait(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{id}}, d.timing.stateChange); err != nil {
		return fmt.Errorf("deleting %s: waiting for it to be gone: %w", what, mapError(err))
	}
	if tg != nil {
		if err := d.deleteTargetGroup(ctx, api, awssdk.ToString(tg.TargetGroupArn)); err != nil {
			return fmt.Errorf("deleting %s: %w", what, err)
		}
	}
	if err := d.deleteLBSecurity(ctx, awssdk.ToString(lb.VpcId), awssdk.ToString(lb.LoadBalancerName)); err != nil {
		return fmt.Errorf("deleting %s: %w", what, err)
	}
	return nil
}

// deleteTargetGroup deletes a target group; one gone already is not an
// error.
func (d *Driver) deleteTargetGroup(ctx context.Context, api ELBv2API, arn string) error {
	// The listeners of a load balancer just deleted hold on to the group
	// for a moment (ResourceInUse).
	err := d.retryWhen(ctx, d.timing.stateChange, func() error {
		_, err := api.DeleteTargetGroup(ctx, &elb.DeleteTargetGroupInput{TargetGroupArn: awssdk.String(arn)})
		return err
	}, errCodeResourceInUse)
	if err != nil && !hasCode(err, errCodeTargetGroupNotFound) {
		return fmt.Errorf("deleting its target group (%s): %w", arn, mapError(err))
	}
	return nil
}

// deleteOrphanTargetGroup deletes the target group named like the load
// balancer lbARN, which is gone, when the group is Haddock's, attached to
// no other load balancer, and no load balancer of that name exists again.
func (d *Driver) deleteOrphanTargetGroup(ctx context.Context, api ELBv2API, lbARN string) error {
	name := lbNameFromARN(lbARN)
	if name == "" {
		return nil
	}
	if _, err := findLoadBalancerByName(ctx, api, name); !cloud.IsNotFound(err) {
		return err // nil: a new load balancer of that name owns the group
	}
	tg, err := findManagedTargetGroupByName(ctx, api, name)
	if errors.Is(err, errNoTargetGroup) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, a := range tg.LoadBalancerArns {
		if a != lbARN {
			return nil
		}
	}
	tflog.SubsystemInfo(ctx, subsystem, "deleting a target group an earlier delete left behind", map[string]any{"arn": awssdk.ToString(tg.TargetGroupArn)})
	return d.deleteTargetGroup(ctx, api, awssdk.ToString(tg.TargetGroupArn))
}

// AddTargets registers instances in the target group; registered already
// is not an error.
func (d *Driver) AddTargets(ctx context.Context, id string, hostIDs []string) error {
	ctx = logContext(ctx)
	what := fmt.Sprintf("ELBv2 load balancer (%s)", id)
	if len(hostIDs) == 0 {
		return nil
	}
	api, err := d.lbAPI()
	if err != nil {
		return fmt.Errorf("adding targets to %s: %w", what, err)
	}
	tg, err := targetGroupForTargets(ctx, api, id)
	if err != nil {
		return fmt.Errorf("adding targets to %s: %w", what, err)
	}
	tflog.SubsystemInfo(ctx, subsystem, "registering ELBv2 targets", map[string]any{"arn": id, "instances": hostIDs})
	// ELBv2 refuses an instance EC2 launched moments ago (unknown, or not
	// running yet) with InvalidTarget: retried for a while.
	err = d.retryWhen(ctx, d.timing.propagation, func() error {
		_, err := api.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn, Targets: targetDescriptions(hostIDs)})
		return err
	}, errCodeInvalidTarget)
	if err != nil {
		return fmt.Errorf("adding targets %v to %s: %w", hostIDs, what, mapError(err))
	}
	return nil
}

// RemoveTargets deregisters instances and waits until ELBv2 reports them
// unused (drained) or unknown, for the deregistration delay plus five
// minutes at most. Instances not registered are not an error.
func (d *Driver) RemoveTargets(ctx context.Context, id string, hostIDs []string) error {
	ctx = logContext(ctx)
	what := fmt.Sprintf("ELBv2 load balancer (%s)", id)
	if len(hostIDs) == 0 {
		return nil
	}
	api, err := d.lbAPI()
	if err != nil {
		return fmt.Errorf("removing targets from %s: %w", what, err)
	}
	tg, err := targetGroupForTargets(ctx, api, id)
	if errors.Is(err, errNoTargetGroup) {
		return nil // nothing can be registered
	}
	if err != nil {
		return fmt.Errorf("removing targets from %s: %w", what, err)
	}
	tgARN := awssdk.ToString(tg.TargetGroupArn)
	health, err := describeTargetHealth(ctx, api, tgARN, nil)
	if err != nil {
		return fmt.Errorf("removing targets from %s: %w", what, err)
	}
	states := map[string]elbtypes.TargetHealthStateEnum{}
	for _, h := range health {
		states[targetID(h)] = targetHealthState(h)
	}
	var deregister, drain []string
	for _, hid := range sortedUnique(hostIDs) {
		s, ok := states[hid]
		switch {
		case !ok || s == elbtypes.TargetHealthStateEnumUnused:
		case isDraining(s):
			drain = append(drain, hid)
		default:
			deregister, drain = append(deregister, hid), append(drain, hid)
		}
	}
	if len(drain) == 0 {
		return nil
	}
	if len(deregister) > 0 {
		tflog.SubsystemInfo(ctx, subsystem, "deregistering ELBv2 targets", map[string]any{"arn": id, "instances": deregister})
		if err := deregisterTargets(ctx, api, tgARN, deregister); err != nil {
			return fmt.Errorf("removing targets %v from %s: %w", deregister, what, err)
		}
	}
	attrs, err := describeTargetGroupAttributes(ctx, api, tgARN)
	if err != nil {
		return fmt.Errorf("removing targets from %s: %w", what, err)
	}
	delay, _ := strconv.Atoi(attrs[attrDeregistrationDelay])
	timeout := time.Duration(delay)*time.Second + removeTargetsSlack
	w := elb.NewTargetDeregisteredWaiter(api, func(o *elb.TargetDeregisteredWaiterOptions) {
		o.MinDelay, o.MaxDelay = d.waiterDelays()
	})
	in := &elb.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn, Targets: targetDescriptions(drain)}
	if err := w.Wait(ctx, in, timeout); err != nil {
		return fmt.Errorf("removing targets %v from %s: waiting for them to drain (deregistration delay %ds): %w", drain, what, delay, mapError(err))
	}
	return nil
}

// deregisterTargets deregisters ids; when ELBv2 refuses the batch because
// one is gone (a terminated instance leaves by itself), it deregisters the
// others one by one.
func deregisterTargets(ctx context.Context, api ELBv2API, tgARN string, ids []string) error {
	dereg := func(ids []string) error {
		_, err := api.DeregisterTargets(ctx, &elb.DeregisterTargetsInput{TargetGroupArn: awssdk.String(tgARN), Targets: targetDescriptions(ids)})
		return err
	}
	err := dereg(ids)
	if hasCode(err, errCodeInvalidTarget) && len(ids) > 1 {
		err = nil
		for _, id := range ids {
			if e := dereg([]string{id}); e != nil && !hasCode(e, errCodeInvalidTarget) {
				err = e
				break
			}
		}
	}
	if hasCode(err, errCodeInvalidTarget) {
		return nil
	}
	return mapError(err)
}

// TargetStates reports the registered targets' states by instance id;
// targets ELBv2 reports unused (deregistered) are left out.
func (d *Driver) TargetStates(ctx context.Context, id string) (map[string]cloud.TargetState, error) {
	ctx = logContext(ctx)
	what := fmt.Sprintf("ELBv2 load balancer (%s)", id)
	api, err := d.lbAPI()
	if err != nil {
		return nil, fmt.Errorf("reading the targets of %s: %w", what, err)
	}
	tg, err := targetGroupForTargets(ctx, api, id)
	if errors.Is(err, errNoTargetGroup) {
		return map[string]cloud.TargetState{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the targets of %s: %w", what, err)
	}
	health, err := describeTargetHealth(ctx, api, awssdk.ToString(tg.TargetGroupArn), nil)
	if err != nil {
		return nil, fmt.Errorf("reading the targets of %s: %w", what, err)
	}
	states := make(map[string]cloud.TargetState, len(health))
	for _, h := range health {
		if s, ok := targetState(targetHealthState(h)); ok {
			states[targetID(h)] = s
		}
	}
	return states, nil
}

// planLoadBalancer checks spec and translates it; what AWS cannot express
// is a cloud.ErrInvalid error saying what to change.
func (d *Driver) planLoadBalancer(spec cloud.LoadBalancerSpec) (*lbPlan, error) {
	if err := d.checkRegion(spec.Region); err != nil {
		return nil, err
	}
	if err := checkLBName(spec.Name); err != nil {
		return nil, err
	}
	p := &lbPlan{spec: spec}
	var protocols []string
	switch spec.Type {
	case cloud.LoadBalancerHTTP:
		p.lbType, protocols = elbtypes.LoadBalancerTypeEnumApplication, []string{"http", "https"}
	case cloud.LoadBalancerNetwork:
		p.lbType, protocols = elbtypes.LoadBalancerTypeEnumNetwork, []string{"tcp", "udp"}
	default:
		return nil, invalidError("InvalidLoadBalancerType", fmt.Sprintf("load balancer type %q is not %q or %q", spec.Type, cloud.LoadBalancerHTTP, cloud.LoadBalancerNetwork))
	}
	if len(spec.ForwardingRules) == 0 {
		return nil, invalidError("InvalidForwardingRule", "a load balancer needs at least one forwarding rule")
	}

	redirects := false
	ports := map[int]bool{}
	for i, r := range spec.ForwardingRules {
		rule := fmt.Sprintf("forwarding rule %d (%s:%d to %s:%d)", i+1, r.EntryProtocol, r.EntryPort, r.TargetProtocol, r.TargetPort)
		bad := func(msg string) (*lbPlan, error) {
			return nil, invalidError("InvalidForwardingRule", rule+": "+msg)
		}
		switch {
		case r.EntryProtocol == "http2" || r.TargetProtocol == "http2":
			return bad("AWS offers no http2 rules: use https, whose listener negotiates HTTP/2 by itself")
		case !slices.Contains(protocols, r.EntryProtocol) || !slices.Contains(protocols, r.TargetProtocol):
			return bad(fmt.Sprintf("a %s load balancer's rules use the protocols %s", spec.Type, strings.Join(protocols, " and ")))
		case spec.Type == cloud.LoadBalancerNetwork && r.EntryProtocol != r.TargetProtocol:
			return bad("a network load balancer forwards tcp to tcp and udp to udp")
		case !validPort(r.EntryPort) || !validPort(r.TargetPort):
			return bad("ports are 1 to 65535")
		case ports[r.EntryPort]:
			return bad(fmt.Sprintf("another rule listens on port %d already", r.EntryPort))
		case r.TLSPassthrough:
			return bad("an Application Load Balancer terminates TLS and cannot pass it through: use a network load balancer with a tcp rule")
		case r.EntryProtocol == "https" && r.CertificateID == "":
			return bad("an https rule needs CertificateID, the ARN of an ACM certificate")
		case r.EntryProtocol != "https" && r.CertificateID != "":
			return bad("only https rules take a CertificateID")
		}
		ports[r.EntryPort] = true
		target := elbtypes.ProtocolEnum(strings.ToUpper(r.TargetProtocol))
		if i == 0 {
			p.tgProtocol, p.tgPort = target, int32(r.TargetPort)
		} else if target != p.tgProtocol || int32(r.TargetPort) != p.tgPort {
			return bad(fmt.Sprintf("on AWS every rule forwards to the load balancer's one target group, so all must target %s:%d as rule 1 does",
				strings.ToLower(string(p.tgProtocol)), p.tgPort))
		}
		redirect := spec.RedirectHTTPToHTTPS && r.EntryProtocol == "http" && r.EntryPort == 80
		redirects = redirects || redirect
		p.listeners = append(p.listeners, listenerPlan{
			port: int32(r.EntryPort), protocol: elbtypes.ProtocolEnum(strings.ToUpper(r.EntryProtocol)),
			cert: r.CertificateID, redirect: redirect,
		})
	}
	if spec.RedirectHTTPToHTTPS && !redirects {
		return nil, invalidError("InvalidForwardingRule", "RedirectHTTPToHTTPS redirects the listener of an http:80 forwarding rule to https:443; add such a rule")
	}
	sort.Slice(p.listeners, func(i, j int) bool { return p.listeners[i].port < p.listeners[j].port })

	var err error
	if p.health, err = planHealthCheck(spec.HealthCheck, p); err != nil {
		return nil, err
	}
	if p.attrs, err = planAttributes(spec, p.lbType); err != nil {
		return nil, err
	}
	p.lbTags = elbTags(spec.Tags)
	p.tgTags = slices.Clone(p.lbTags)
	if spec.StickyCookie != "" {
		p.tgTags = append(p.tgTags, elbtypes.Tag{Key: awssdk.String(stickyCookieTagKey), Value: awssdk.String(spec.StickyCookie)})
	}
	return p, nil
}

func planHealthCheck(hc cloud.HealthCheck, p *lbPlan) (healthPlan, error) {
	bad := func(msg string) (healthPlan, error) {
		return healthPlan{}, invalidError("InvalidHealthCheck", "health check: "+msg)
	}
	proto := hc.Protocol
	if proto == "" {
		proto = "tcp"
		if p.lbType == elbtypes.LoadBalancerTypeEnumApplication {
			proto = strings.ToLower(string(p.tgProtocol))
		}
	}
	switch {
	case proto != "http" && proto != "https" && proto != "tcp":
		return bad(fmt.Sprintf("protocol %q is not http, https or tcp", proto))
	case proto == "tcp" && p.lbType == elbtypes.LoadBalancerTypeEnumApplication:
		return bad("an Application Load Balancer checks with http or https, not tcp")
	case proto == "tcp" && hc.Path != "":
		return bad("a tcp check has no path")
	case hc.Port != 0 && !validPort(hc.Port):
		return bad("the port is 1 to 65535, or 0 for the targets' port")
	case hc.HealthyThreshold < 0 || hc.UnhealthyThreshold < 0:
		return bad("thresholds are not negative")
	}
	h := healthPlan{protocol: elbtypes.ProtocolEnum(strings.ToUpper(proto)), port: healthCheckTrafficPort}
	if hc.Port != 0 {
		h.port = strconv.Itoa(hc.Port)
	}
	if hc.Path != "" {
		h.path = awssdk.String(hc.Path)
	}
	var err error
	if h.interval, err = wholeSeconds("health check interval", hc.Interval); err != nil {
		return healthPlan{}, err
	}
	if h.timeout, err = wholeSeconds("health check timeout", hc.Timeout); err != nil {
		return healthPlan{}, err
	}
	if hc.HealthyThreshold > 0 {
		h.healthy = awssdk.Int32(int32(hc.HealthyThreshold))
	}
	if hc.UnhealthyThreshold > 0 {
		h.unhealthy = awssdk.Int32(int32(hc.UnhealthyThreshold))
	}
	return h, nil
}

func planAttributes(spec cloud.LoadBalancerSpec, lbType elbtypes.LoadBalancerTypeEnum) ([]elbtypes.TargetGroupAttribute, error) {
	delay, err := wholeSeconds("deregistration delay", spec.DeregistrationDelay)
	if err != nil {
		return nil, err
	}
	attrs := []elbtypes.TargetGroupAttribute{attr(attrDeregistrationDelay, strconv.Itoa(int(awssdk.ToInt32(delay))))}
	if lbType != elbtypes.LoadBalancerTypeEnumApplication {
		if spec.StickyCookie != "" {
			return nil, invalidError("InvalidStickiness", "a network load balancer has no cookie stickiness: leave StickyCookie empty, or use an http load balancer")
		}
		return attrs, nil
	}
	if spec.StickyCookie == "" {
		return append(attrs, attr(attrStickyEnabled, "false")), nil
	}
	attrs = append(attrs, attr(attrStickyEnabled, "true"), attr(attrStickyType, stickyTypeLBCookie))
	ttl, err := wholeSeconds("sticky cookie TTL", spec.StickyTTL)
	if err != nil {
		return nil, err
	}
	if ttl != nil {
		attrs = append(attrs, attr(attrStickyDuration, strconv.Itoa(int(*ttl))))
	}
	return attrs, nil
}

// checkLBName applies ELBv2's naming rules, which load balancers and
// target groups share.
func checkLBName(name string) error {
	bad := func(msg string) error {
		return invalidError("InvalidLoadBalancerName", fmt.Sprintf("load balancer name %q: %s", name, msg))
	}
	switch {
	case name == "":
		return invalidError("InvalidLoadBalancerName", "a load balancer needs a name")
	case len(name) > maxLBNameLen:
		return bad(fmt.Sprintf("AWS takes at most %d characters", maxLBNameLen))
	case strings.HasPrefix(name, "-") || strings.HasSuffix(name, "-"):
		return bad("it may not begin or end with a hyphen")
	case strings.HasPrefix(name, "internal-"):
		return bad(`AWS reserves the prefix "internal-"`)
	}
	for _, c := range name {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (c < '0' || c > '9') && c != '-' {
			return bad("AWS takes letters, digits and hyphens only")
		}
	}
	return nil
}

// reconcile brings lb's security groups, target group (created when
// missing), its health check and attributes, the tags and the listeners to
// p. fresh says lb was created just now, with p's tags.
func (d *Driver) reconcile(ctx context.Context, api ELBv2API, lb *elbtypes.LoadBalancer, p *lbPlan, fresh bool) error {
	arn := awssdk.ToString(lb.LoadBalancerArn)
	tg, err := findTargetGroupOf(ctx, api, arn, p.spec.Name)
	newTG := errors.Is(err, errNoTargetGroup)
	switch {
	case newTG:
	case err != nil:
		return err
	case tg.Protocol != p.tgProtocol || awssdk.ToInt32(tg.Port) != p.tgPort:
		return invalidError("InvalidForwardingRule", fmt.Sprintf(
			"AWS cannot change where a load balancer forwards in place (its target group forwards to %s:%d, the rules to %s:%d): replace the load balancer",
			strings.ToLower(string(tg.Protocol)), awssdk.ToInt32(tg.Port), strings.ToLower(string(p.tgProtocol)), p.tgPort))
	}
	// New ports are opened before the listeners and health checks use
	// them; old ones closed once nothing does (below).
	if err := d.reconcileLBSecurity(ctx, api, lb, p, false); err != nil {
		return err
	}
	switch {
	case newTG:
		if tg, err = d.createTargetGroup(ctx, api, awssdk.ToString(lb.VpcId), p); err != nil {
			return err
		}
	case healthDiffers(tg, p.health):
		h := p.health
		_, err := api.ModifyTargetGroup(ctx, &elb.ModifyTargetGroupInput{
			TargetGroupArn:             tg.TargetGroupArn,
			HealthCheckEnabled:         awssdk.Bool(true),
			HealthCheckProtocol:        h.protocol,
			HealthCheckPort:            awssdk.String(h.port),
			HealthCheckPath:            h.path,
			HealthCheckIntervalSeconds: h.interval,
			HealthCheckTimeoutSeconds:  h.timeout,
			HealthyThresholdCount:      h.healthy,
			UnhealthyThresholdCount:    h.unhealthy,
		})
		if err != nil {
			return fmt.Errorf("changing the health check of target group (%s): %w", awssdk.ToString(tg.TargetGroupArn), mapError(err))
		}
	}
	tgARN := awssdk.ToString(tg.TargetGroupArn)
	if _, err := api.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{TargetGroupArn: tg.TargetGroupArn, Attributes: p.attrs}); err != nil {
		return fmt.Errorf("setting the attributes of target group (%s): %w", tgARN, mapError(err))
	}
	want := map[string][]elbtypes.Tag{}
	if !fresh {
		want[arn] = p.lbTags
	}
	if !newTG {
		want[tgARN] = p.tgTags
	}
	if err := reconcileTags(ctx, api, want); err != nil {
		return err
	}
	if err := reconcileListeners(ctx, api, arn, tgARN, p); err != nil {
		return err
	}
	return d.reconcileLBSecurity(ctx, api, lb, p, true)
}

func (d *Driver) createTargetGroup(ctx context.Context, api ELBv2API, vpcID string, p *lbPlan) (*elbtypes.TargetGroup, error) {
	h := p.health
	tflog.SubsystemInfo(ctx, subsystem, "creating ELBv2 target group", map[string]any{"name": p.spec.Name, "protocol": string(p.tgProtocol), "port": p.tgPort})
	out, err := api.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
		Name:                       awssdk.String(p.spec.Name),
		TargetType:                 elbtypes.TargetTypeEnumInstance,
		Protocol:                   p.tgProtocol,
		Port:                       awssdk.Int32(p.tgPort),
		VpcId:                      awssdk.String(vpcID),
		HealthCheckEnabled:         awssdk.Bool(true),
		HealthCheckProtocol:        h.protocol,
		HealthCheckPort:            awssdk.String(h.port),
		HealthCheckPath:            h.path,
		HealthCheckIntervalSeconds: h.interval,
		HealthCheckTimeoutSeconds:  h.timeout,
		HealthyThresholdCount:      h.healthy,
		UnhealthyThresholdCount:    h.unhealthy,
		Tags:                       p.tgTags,
	})
	if hasCode(err, errCodeDuplicateTGName) {
		return nil, &cloud.APIError{Cloud: cloud.AWS, Kind: cloud.ErrConflict, Code: errCodeDuplicateTGName, Message: fmt.Sprintf(
			"a target group named %s exists in %s that this load balancer cannot use (Haddock did not create it, or another load balancer uses it): delete or rename it",
			p.spec.Name, d.region)}
	}
	if err != nil {
		return nil, fmt.Errorf("creating target group (%s): %w", p.spec.Name, mapError(err))
	}
	if len(out.TargetGroups) == 0 {
		return nil, fmt.Errorf("creating target group (%s): ELBv2 answered without it", p.spec.Name)
	}
	return &out.TargetGroups[0], nil
}

// healthDiffers reports whether tg's health check differs from h where h
// sets a value.
func healthDiffers(tg *elbtypes.TargetGroup, h healthPlan) bool {
	differs := func(want, got *int32) bool { return want != nil && awssdk.ToInt32(got) != *want }
	return tg.HealthCheckProtocol != h.protocol ||
		awssdk.ToString(tg.HealthCheckPort) != h.port ||
		(h.path != nil && awssdk.ToString(tg.HealthCheckPath) != *h.path) ||
		differs(h.interval, tg.HealthCheckIntervalSeconds) ||
		differs(h.timeout, tg.HealthCheckTimeoutSeconds) ||
		differs(h.healthy, tg.HealthyThresholdCount) ||
		differs(h.unhealthy, tg.UnhealthyThresholdCount) ||
		!awssdk.ToBool(tg.HealthCheckEnabled)
}

// reconcileListeners makes lb's listeners p's: it deletes those on ports
// p does not listen on (and those whose protocol changes: ELBv2 ties
// certificates and actions to it), creates the missing ones and modifies
// the others where they differ.
func reconcileListeners(ctx context.Context, api ELBv2API, lbARN, tgARN string, p *lbPlan) error {
	existing, err := findListeners(ctx, api, lbARN)
	if err != nil {
		return err
	}
	want := map[int32]listenerPlan{}
	for _, lp := range p.listeners {
		want[lp.port] = lp
	}
	have := map[int32]elbtypes.Listener{}
	for _, l := range existing {
		port := awssdk.ToInt32(l.Port)
		if lp, ok := want[port]; ok && l.Protocol == lp.protocol {
			have[port] = l
			continue
		}
		tflog.SubsystemInfo(ctx, subsystem, "deleting ELBv2 listener", map[string]any{"arn": awssdk.ToString(l.ListenerArn), "port": port})
		_, err := api.DeleteListener(ctx, &elb.DeleteListenerInput{ListenerArn: l.ListenerArn})
		if err != nil && !hasCode(err, errCodeListenerNotFound) {
			return fmt.Errorf("deleting the listener on port %d: %w", port, mapError(err))
		}
	}
	for _, lp := range p.listeners {
		var certs []elbtypes.Certificate
		if lp.cert != "" {
			certs = []elbtypes.Certificate{{CertificateArn: awssdk.String(lp.cert)}}
		}
		l, ok := have[lp.port]
		switch {
		case !ok:
			tflog.SubsystemInfo(ctx, subsystem, "creating ELBv2 listener", map[string]any{"port": lp.port, "protocol": string(lp.protocol), "redirect": lp.redirect})
			_, err := api.CreateListener(ctx, &elb.CreateListenerInput{
				LoadBalancerArn: awssdk.String(lbARN),
				Port:            awssdk.Int32(lp.port),
				Protocol:        lp.protocol,
				Certificates:    certs,
				DefaultActions:  lp.actions(tgARN),
			})
			if err != nil {
				return fmt.Errorf("creating the listener on port %d: %w", lp.port, mapError(err))
			}
		case !lp.matches(&l, tgARN):
			tflog.SubsystemInfo(ctx, subsystem, "changing ELBv2 listener", map[string]any{"arn": awssdk.ToString(l.ListenerArn), "port": lp.port})
			_, err := api.ModifyListener(ctx, &elb.ModifyListenerInput{
				ListenerArn:    l.ListenerArn,
				Port:           awssdk.Int32(lp.port),
				Protocol:       lp.protocol,
				Certificates:   certs,
				DefaultActions: lp.actions(tgARN),
			})
			if err != nil {
				return fmt.Errorf("changing the listener on port %d: %w", lp.port, mapError(err))
			}
		}
	}
	return nil
}

// actions are the listener's default actions: forward to the target group,
// or redirect to HTTPS:443.
func (lp listenerPlan) actions(tgARN string) []elbtypes.Action {
	if lp.redirect {
		return []elbtypes.Action{{
			Type: elbtypes.ActionTypeEnumRedirect,
			RedirectConfig: &elbtypes.RedirectActionConfig{
				Protocol: awssdk.String("HTTPS"), Port: awssdk.String("443"), StatusCode: elbtypes.RedirectActionStatusCodeEnumHttp301,
			},
		}}
	}
	return []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: awssdk.String(tgARN)}}
}

// matches reports whether l already is what lp asks for.
func (lp listenerPlan) matches(l *elbtypes.Listener, tgARN string) bool {
	if l.Protocol != lp.protocol || firstCertificate(l) != lp.cert || len(l.DefaultActions) != 1 {
		return false
	}
	a := &l.DefaultActions[0]
	if lp.redirect {
		return isHTTPSRedirect(a)
	}
	return a.Type == elbtypes.ActionTypeEnumForward && forwardTarget(a) == tgARN
}

func isHTTPSRedirect(a *elbtypes.Action) bool {
	return a.Type == elbtypes.ActionTypeEnumRedirect && a.RedirectConfig != nil &&
		strings.EqualFold(awssdk.ToString(a.RedirectConfig.Protocol), "HTTPS") && awssdk.ToString(a.RedirectConfig.Port) == "443"
}

// forwardTarget is the one target group a forward action sends to, or "".
func forwardTarget(a *elbtypes.Action) string {
	if a.TargetGroupArn != nil {
		return awssdk.ToString(a.TargetGroupArn)
	}
	if a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) == 1 {
		return awssdk.ToString(a.ForwardConfig.TargetGroups[0].TargetGroupArn)
	}
	return ""
}

func firstCertificate(l *elbtypes.Listener) string {
	if len(l.Certificates) == 0 {
		return ""
	}
	return awssdk.ToString(l.Certificates[0].CertificateArn)
}

// reconcileTags makes the Haddock tags (the managed tag, neutral tags, the
// sticky cookie's) of each resource in want exactly want's; other tags are
// left alone.
func reconcileTags(ctx context.Context, api ELBv2API, want map[string][]elbtypes.Tag) error {
	if len(want) == 0 {
		return nil
	}
	arns := make([]string, 0, len(want))
	for arn := range want {
		arns = append(arns, arn)
	}
	sort.Strings(arns)
	have, err := describeTags(ctx, api, arns...)
	if err != nil {
		return fmt.Errorf("reading tags: %w", err)
	}
	for _, arn := range arns {
		current := map[string]string{}
		for _, t := range have[arn] {
			current[awssdk.ToString(t.Key)] = awssdk.ToString(t.Value)
		}
		wanted := map[string]bool{}
		var add []elbtypes.Tag
		for _, t := range want[arn] {
			k := awssdk.ToString(t.Key)
			wanted[k] = true
			if v, ok := current[k]; !ok || v != awssdk.ToString(t.Value) {
				add = append(add, t)
			}
		}
		var remove []string
		for k := range current {
			if ownedTagKey(k) && !wanted[k] {
				remove = append(remove, k)
			}
		}
		sort.Strings(remove)
		if len(remove) > 0 {
			if _, err := api.RemoveTags(ctx, &elb.RemoveTagsInput{ResourceArns: []string{arn}, TagKeys: remove}); err != nil {
				return fmt.Errorf("untagging %s: %w", arn, mapError(err))
			}
		}
		if len(add) > 0 {
			if _, err := api.AddTags(ctx, &elb.AddTagsInput{ResourceArns: []string{arn}, Tags: add}); err != nil {
				return fmt.Errorf("tagging %s: %w", arn, mapError(err))
			}
		}
	}
	return nil
}

// ownedTagKey reports whether Haddock sets the tag key on ELBv2
// resources, so may remove it.
func ownedTagKey(k string) bool {
	return k == managedTagKey || k == stickyCookieTagKey || strings.HasPrefix(k, neutralTagPrefix)
}

// readLoadBalancer reads lb back: its target group, tags, listeners, and,
// withTargets, its registered targets.
func (d *Driver) readLoadBalancer(ctx context.Context, api ELBv2API, lb *elbtypes.LoadBalancer, withTargets bool) (*cloud.LoadBalancer, error) {
	got := d.loadBalancerFrom(lb)
	arn := got.ID
	tg, err := findTargetGroupOf(ctx, api, arn, got.Spec.Name)
	if err != nil && !errors.Is(err, errNoTargetGroup) {
		return nil, err
	}
	arns := []string{arn}
	if tg != nil {
		arns = append(arns, awssdk.ToString(tg.TargetGroupArn))
	}
	tags, err := describeTags(ctx, api, arns...)
	if err != nil {
		return nil, fmt.Errorf("reading tags: %w", err)
	}
	got.Spec.Tags = neutralELBTags(tags[arn])
	listeners, err := findListeners(ctx, api, arn)
	if err != nil {
		return nil, err
	}

	var tgProtocol string
	var tgPort int
	if tg != nil {
		tgARN := awssdk.ToString(tg.TargetGroupArn)
		tgProtocol, tgPort = strings.ToLower(string(tg.Protocol)), int(awssdk.ToInt32(tg.Port))
		got.Spec.HealthCheck = healthCheckFrom(tg)
		attrs, err := describeTargetGroupAttributes(ctx, api, tgARN)
		if err != nil {
			return nil, err
		}
		delay, _ := strconv.Atoi(attrs[attrDeregistrationDelay])
		got.Spec.DeregistrationDelay = time.Duration(delay) * time.Second
		if attrs[attrStickyEnabled] == "true" && attrs[attrStickyType] == stickyTypeLBCookie {
			got.Spec.StickyCookie = awsStickyCookie
			for _, t := range tags[tgARN] {
				if awssdk.ToString(t.Key) == stickyCookieTagKey && awssdk.ToString(t.Value) != "" {
					got.Spec.StickyCookie = awssdk.ToString(t.Value)
				}
			}
			ttl, _ := strconv.Atoi(attrs[attrStickyDuration])
			got.Spec.StickyTTL = time.Duration(ttl) * time.Second
		}
		if withTargets {
			health, err := describeTargetHealth(ctx, api, tgARN, nil)
			if err != nil {
				return nil, err
			}
			got.Targets = []string{}
			for _, h := range health {
				if s := targetHealthState(h); s != elbtypes.TargetHealthStateEnumUnused && !isDraining(s) {
					got.Targets = append(got.Targets, targetID(h))
				}
			}
			got.Targets = sortedUnique(got.Targets)
		}
	}

	sort.Slice(listeners, func(i, j int) bool { return awssdk.ToInt32(listeners[i].Port) < awssdk.ToInt32(listeners[j].Port) })
	for i := range listeners {
		l := &listeners[i]
		r := cloud.ForwardingRule{
			EntryProtocol:  strings.ToLower(string(l.Protocol)),
			EntryPort:      int(awssdk.ToInt32(l.Port)),
			TargetProtocol: tgProtocol,
			TargetPort:     tgPort,
			CertificateID:  firstCertificate(l),
		}
		if len(l.DefaultActions) == 1 && isHTTPSRedirect(&l.DefaultActions[0]) && r.EntryProtocol == "http" && r.EntryPort == 80 {
			got.Spec.RedirectHTTPToHTTPS = true
		}
		got.Spec.ForwardingRules = append(got.Spec.ForwardingRules, r)
	}
	return &got, nil
}

// loadBalancerFrom maps what DescribeLoadBalancers says of a load balancer.
func (d *Driver) loadBalancerFrom(lb *elbtypes.LoadBalancer) cloud.LoadBalancer {
	return cloud.LoadBalancer{
		ID:        awssdk.ToString(lb.LoadBalancerArn),
		Address:   awssdk.ToString(lb.DNSName),
		Status:    lbStatus(lb.State),
		CreatedAt: awssdk.ToTime(lb.CreatedTime),
		Spec: cloud.LoadBalancerSpec{
			Name:   awssdk.ToString(lb.LoadBalancerName),
			Region: d.region,
			Type:   lbTypeOf(lb.Type),
		},
	}
}

func healthCheckFrom(tg *elbtypes.TargetGroup) cloud.HealthCheck {
	hc := cloud.HealthCheck{
		Protocol:           strings.ToLower(string(tg.HealthCheckProtocol)),
		Path:               awssdk.ToString(tg.HealthCheckPath),
		Interval:           time.Duration(awssdk.ToInt32(tg.HealthCheckIntervalSeconds)) * time.Second,
		Timeout:            time.Duration(awssdk.ToInt32(tg.HealthCheckTimeoutSeconds)) * time.Second,
		HealthyThreshold:   int(awssdk.ToInt32(tg.HealthyThresholdCount)),
		UnhealthyThreshold: int(awssdk.ToInt32(tg.UnhealthyThresholdCount)),
	}
	if port, err := strconv.Atoi(awssdk.ToString(tg.HealthCheckPort)); err == nil {
		hc.Port = port // else traffic-port: 0
	}
	return hc
}

func lbStatus(s *elbtypes.LoadBalancerState) cloud.LoadBalancerStatus {
	if s == nil {
		return cloud.LoadBalancerNew
	}
	switch s.Code {
	case elbtypes.LoadBalancerStateEnumActive, elbtypes.LoadBalancerStateEnumActiveImpaired:
		return cloud.LoadBalancerActive
	case elbtypes.LoadBalancerStateEnumFailed:
		return cloud.LoadBalancerError
	default: // provisioning
		return cloud.LoadBalancerNew
	}
}

func lbTypeOf(t elbtypes.LoadBalancerTypeEnum) cloud.LoadBalancerType {
	switch t {
	case elbtypes.LoadBalancerTypeEnumApplication:
		return cloud.LoadBalancerHTTP
	case elbtypes.LoadBalancerTypeEnumNetwork:
		return cloud.LoadBalancerNetwork
	default:
		return cloud.LoadBalancerType(t)
	}
}

// targetState maps an ELBv2 target state; unused (not registered) has
// none.
func targetState(s elbtypes.TargetHealthStateEnum) (cloud.TargetState, bool) {
	switch s {
	case elbtypes.TargetHealthStateEnumHealthy:
		return cloud.TargetHealthy, true
	case elbtypes.TargetHealthStateEnumUnhealthy:
		return cloud.TargetUnhealthy, true
	case elbtypes.TargetHealthStateEnumInitial:
		return cloud.TargetInitial, true
	case elbtypes.TargetHealthStateEnumDraining, elbtypes.TargetHealthStateEnumUnhealthyDraining:
		return cloud.TargetDraining, true
	case elbtypes.TargetHealthStateEnumUnused:
		return "", false
	default: // unavailable: health checks disabled; or a state newer than the SDK
		return cloud.TargetUnknown, true
	}
}

func isDraining(s elbtypes.TargetHealthStateEnum) bool {
	return s == elbtypes.TargetHealthStateEnumDraining || s == elbtypes.TargetHealthStateEnumUnhealthyDraining
}

func targetHealthState(h elbtypes.TargetHealthDescription) elbtypes.TargetHealthStateEnum {
	if h.TargetHealth == nil {
		return ""
	}
	return h.TargetHealth.State
}

func targetID(h elbtypes.TargetHealthDescription) string {
	if h.Target == nil {
		return ""
	}
	return awssdk.ToString(h.Target.Id)
}

func targetDescriptions(ids []string) []elbtypes.TargetDescription {
	out := make([]elbtypes.TargetDescription, len(ids))
	for i, id := range ids {
		out[i] = elbtypes.TargetDescription{Id: awssdk.String(id)}
	}
	return out
}

// defaultSubnets returns the default VPC and its default subnets, one per
// Availability Zone, in zone order.
func (d *Driver) defaultSubnets(ctx context.Context) (vpcID string, subnets []string, err error) {
	conn, ok := d.ec2.(SubnetsAPI)
	if !ok {
		return "", nil, errors.New("aws: this driver's EC2 client cannot describe subnets, which load balancers need")
	}
	vpc, err := findDefaultVPC(ctx, d.ec2)
	if cloud.IsNotFound(err) {
		return "", nil, invalidError("NoDefaultVPC", fmt.Sprintf("region %s has no default VPC: Haddock places load balancers in the default VPC; create one with `aws ec2 create-default-vpc --region %s`", d.region, d.region))
	}
	if err != nil {
		return "", nil, fmt.Errorf("finding the default VPC: %w", err)
	}
	byZone := map[string]string{}
	pages := ec2.NewDescribeSubnetsPaginator(conn, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{
		{Name: awssdk.String(filterVPCID), Values: []string{awssdk.ToString(vpc.VpcId)}},
		{Name: awssdk.String(filterDefaultForAZ), Values: []string{"true"}},
	}})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return "", nil, fmt.Errorf("finding the default subnets: %w", mapError(err))
		}
		for _, s := range page.Subnets {
			zone := awssdk.ToString(s.AvailabilityZone)
			if _, ok := byZone[zone]; !ok {
				byZone[zone] = awssdk.ToString(s.SubnetId)
			}
		}
	}
	zones := make([]string, 0, len(byZone))
	for z := range byZone {
		zones = append(zones, z)
	}
	sort.Strings(zones)
	subnets = make([]string, len(zones))
	for i, z := range zones {
		subnets[i] = byZone[z]
	}
	return awssdk.ToString(vpc.VpcId), subnets, nil
}

func minZones(t elbtypes.LoadBalancerTypeEnum) int {
	if t == elbtypes.LoadBalancerTypeEnumApplication {
		return 2
	}
	return 1
}

// waitLoadBalancerActive waits until the load balancer is active (or
// active_impaired); failed ends the wait.
func (d *Driver) waitLoadBalancerActive(ctx context.Context, api ELBv2API, arn string) (*elbtypes.LoadBalancer, error) {
	w := elb.NewLoadBalancerAvailableWaiter(api, func(o *elb.LoadBalancerAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = d.waiterDelays()
		sdk := o.Retryable
		o.Retryable = func(ctx context.Context, in *elb.DescribeLoadBalancersInput, out *elb.DescribeLoadBalancersOutput, err error) (bool, error) {
			if err == nil && out != nil && len(out.LoadBalancers) > 0 {
				if s := out.LoadBalancers[0].State; s != nil {
					switch s.Code {
					case elbtypes.LoadBalancerStateEnumFailed:
						return false, fmt.Errorf("the load balancer failed: %s", awssdk.ToString(s.Reason))
					case elbtypes.LoadBalancerStateEnumActiveImpaired:
						return false, nil // serving, in fewer zones; the SDK waits for active
					}
				}
			}
			return sdk(ctx, in, out, err)
		}
	})
	out, err := w.WaitForOutput(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{arn}}, d.timing.stateChange)
	if err != nil {
		return nil, fmt.Errorf("waiting for it to become active: %w", mapError(err))
	}
	if len(out.LoadBalancers) == 0 {
		return nil, fmt.Errorf("waiting for it to become active: %w", cloud.NotFoundError(cloud.AWS, "ELBv2 load balancer", arn))
	}
	return &out.LoadBalancers[0], nil
}

// waiterDelays are the SDK waiters' bounds between polls.
func (d *Driver) waiterDelays() (minDelay, maxDelay time.Duration) {
	return d.timing.poll, max(d.timing.poll, d.timing.maxDelay)
}

// findLoadBalancer returns the load balancer with that ARN, or a not-found
// error.
func findLoadBalancer(ctx context.Context, api ELBv2API, arn string) (*elbtypes.LoadBalancer, error) {
	out, err := api.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{arn}})
	if err != nil {
		return nil, mapError(err)
	}
	for i := range out.LoadBalancers {
		if awssdk.ToString(out.LoadBalancers[i].LoadBalancerArn) == arn {
			return &out.LoadBalancers[i], nil
		}
	}
	return nil, cloud.NotFoundError(cloud.AWS, "ELBv2 load balancer", arn)
}

// findLoadBalancerByName returns the load balancer of that name, or a
// not-found error.
func findLoadBalancerByName(ctx context.Context, api ELBv2API, name string) (*elbtypes.LoadBalancer, error) {
	out, err := api.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{name}})
	if err != nil {
		return nil, mapError(err)
	}
	for i := range out.LoadBalancers {
		if awssdk.ToString(out.LoadBalancers[i].LoadBalancerName) == name {
			return &out.LoadBalancers[i], nil
		}
	}
	return nil, cloud.NotFoundError(cloud.AWS, "ELBv2 load balancer", name)
}

// findTargetGroupOf returns the load balancer's target group: the one its
// listeners forward to (named like it when there are several), else, for
// a load balancer whose listeners do not forward yet, the Haddock target
// group named like it and attached to nothing else. errNoTargetGroup when
// there is none; a not-found error when the load balancer is gone.
func findTargetGroupOf(ctx context.Context, api ELBv2API, lbARN, name string) (*elbtypes.TargetGroup, error) {
	out, err := api.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{LoadBalancerArn: awssdk.String(lbARN)})
	if err != nil && !hasCode(err, errCodeTargetGroupNotFound) {
		return nil, mapError(err)
	}
	if err == nil && len(out.TargetGroups) > 0 {
		for i := range out.TargetGroups {
			if awssdk.ToString(out.TargetGroups[i].TargetGroupName) == name {
				return &out.TargetGroups[i], nil
			}
		}
		return &out.TargetGroups[0], nil
	}
	tg, err := findManagedTargetGroupByName(ctx, api, name)
	if err != nil {
		return nil, err
	}
	for _, a := range tg.LoadBalancerArns {
		if a != lbARN {
			return nil, errNoTargetGroup
		}
	}
	return tg, nil
}

// findManagedTargetGroupByName returns the target group of that name when
// it carries the managed tag, else errNoTargetGroup.
func findManagedTargetGroupByName(ctx context.Context, api ELBv2API, name string) (*elbtypes.TargetGroup, error) {
	out, err := api.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{name}})
	if hasCode(err, errCodeTargetGroupNotFound) {
		return nil, errNoTargetGroup
	}
	if err != nil {
		return nil, mapError(err)
	}
	for i := range out.TargetGroups {
		tg := &out.TargetGroups[i]
		if awssdk.ToString(tg.TargetGroupName) != name {
			continue
		}
		arn := awssdk.ToString(tg.TargetGroupArn)
		tags, err := describeTags(ctx, api, arn)
		if err != nil {
			return nil, err
		}
		if slices.Contains(neutralELBTags(tags[arn]), cloud.ManagedTag) {
			return tg, nil
		}
	}
	return nil, errNoTargetGroup
}

// targetGroupForTargets is the target group of the load balancer with that
// ARN, for the target operations: a not-found error when the load balancer
// is gone, errNoTargetGroup (wrapped with what to do) when it has none.
func targetGroupForTargets(ctx context.Context, api ELBv2API, lbARN string) (*elbtypes.TargetGroup, error) {
	tg, err := findTargetGroupOf(ctx, api, lbARN, lbNameFromARN(lbARN))
	if errors.Is(err, errNoTargetGroup) {
		return nil, fmt.Errorf("%w (its creation did not finish: update it to its spec to create it)", err)
	}
	return tg, err
}

// lbNameFromARN is the name in a load balancer ARN
// (arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID), or
// "".
func lbNameFromARN(arn string) string {
	_, resource, ok := strings.Cut(arn, ":loadbalancer/")
	if !ok {
		return ""
	}
	parts := strings.Split(resource, "/")
	if len(parts) != 3 {
		return ""
	}
	return parts[1]
}

// findListeners lists the load balancer's listeners, all pages.
func findListeners(ctx context.Context, api ELBv2API, lbARN string) ([]elbtypes.Listener, error) {
	var out []elbtypes.Listener
	pages := elb.NewDescribeListenersPaginator(api, &elb.DescribeListenersInput{LoadBalancerArn: awssdk.String(lbARN)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading listeners: %w", mapError(err))
		}
		out = append(out, page.Listeners...)
	}
	return out, nil
}

// describeTags returns the tags of up to 20 resources, by ARN.
func describeTags(ctx context.Context, api ELBv2API, arns ...string) (map[string][]elbtypes.Tag, error) {
	out, err := api.DescribeTags(ctx, &elb.DescribeTagsInput{ResourceArns: arns})
	if err != nil {
		return nil, mapError(err)
	}
	tags := make(map[string][]elbtypes.Tag, len(out.TagDescriptions))
	for _, td := range out.TagDescriptions {
		tags[awssdk.ToString(td.ResourceArn)] = td.Tags
	}
	return tags, nil
}

func describeTargetGroupAttributes(ctx context.Context, api ELBv2API, tgARN string) (map[string]string, error) {
	out, err := api.DescribeTargetGroupAttributes(ctx, &elb.DescribeTargetGroupAttributesInput{TargetGroupArn: awssdk.String(tgARN)})
	if err != nil {
		return nil, fmt.Errorf("reading the attributes of target group (%s): %w", tgARN, mapError(err))
	}
	attrs := make(map[string]string, len(out.Attributes))
	for _, a := range out.Attributes {
		attrs[awssdk.ToString(a.Key)] = awssdk.ToString(a.Value)
	}
	return attrs, nil
}

// describeTargetHealth reports the targets ids names, or every registered
// one when ids is nil.
func describeTargetHealth(ctx context.Context, api ELBv2API, tgARN string, ids []string) ([]elbtypes.TargetHealthDescription, error) {
	in := &elb.DescribeTargetHealthInput{TargetGroupArn: awssdk.String(tgARN)}
	if len(ids) > 0 {
		in.Targets = targetDescriptions(ids)
	}
	out, err := api.DescribeTargetHealth(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("reading the targets of target group (%s): %w", tgARN, mapError(err))
	}
	return out.TargetHealthDescriptions, nil
}

// elbTags maps neutral tags to ELBv2 tags, as ec2Tags does to EC2 tags.
func elbTags(neutral []string) []elbtypes.Tag {
	ts := ec2Tags(neutral)
	out := make([]elbtypes.Tag, len(ts))
	for i, t := range ts {
		out[i] = elbtypes.Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

// neutralELBTags reads the neutral tags back from ELBv2 tags, sorted.
func neutralELBTags(tags []elbtypes.Tag) []string {
	ts := make([]ec2types.Tag, len(tags))
	for i, t := range tags {
		ts[i] = ec2types.Tag{Key: t.Key, Value: t.Value}
	}
	_, neutral := neutralTags(ts)
	return neutral
}

func attr(k, v string) elbtypes.TargetGroupAttribute {
	return elbtypes.TargetGroupAttribute{Key: awssdk.String(k), Value: awssdk.String(v)}
}

// wholeSeconds is d in seconds, nil for 0; ELBv2 takes whole seconds.
func wholeSeconds(what string, d time.Duration) (*int32, error) {
	switch {
	case d == 0:
		return nil, nil
	case d < 0 || d%time.Second != 0 || d > time.Duration(1<<31-1)*time.Second:
		return nil, invalidError("InvalidDuration", fmt.Sprintf("%s %s: AWS takes a whole, positive number of seconds", what, d))
	}
	return awssdk.Int32(int32(d / time.Second)), nil
}

func validPort(p int) bool { return p >= 1 && p <= 65535 }

func sortedUnique(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}
