// Package awselbv2 serves, on localcloud's core, the subset of Elastic Load
// Balancing v2 that Haddock's AWS driver (internal/cloud/aws) uses: the
// query protocol (form-encoded Action=...&Version=2015-12-01, answers
// <ActionResponse><ActionResult/><ResponseMetadata/></ActionResponse> in
// the 2015-12-01 namespace, lists as <member>, errors as
// <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>),
// shapes as AWS's own service model has them; contract/awsmodel checks
// every exchange against it (awsmodel.NewELBv2).
//
//	ec2 := aws.New(aws.Config{})
//	elb := awselbv2.New(awselbv2.Config{Instances: ec2})
//	run, err := localcloud.Start(ctx, localcloud.Config{
//		APIs:     []localcloud.API{ec2, elb},
//		APIAddrs: map[string]string{aws.Name: "127.0.0.1:9081", awselbv2.Name: "127.0.0.1:9082"},
//	})
//
// The API is served at every path of its own listener (APIAddrs[Name])
// and under /elbv2/ on the main one, signed with SigV4 for service
// elasticloadbalancing by the EC2 API's credentials (DevAccessKey), in
// the regions the EC2 API serves; request counters key it
// "elbv2:<Action>". Records (load balancers, target groups, listeners,
// targets) are kept under the core's lock and saved in the API's part of
// the state file.
//
// # Actions
//
//	CreateLoadBalancer, DescribeLoadBalancers (ARNs or names, PageSize/Marker),
//	DeleteLoadBalancer, SetSecurityGroups
//	CreateTargetGroup, DescribeTargetGroups (load balancer, ARNs or names, paged),
//	ModifyTargetGroup, DescribeTargetGroupAttributes, ModifyTargetGroupAttributes,
//	DeleteTargetGroup
//	CreateListener, DescribeListeners (paged), ModifyListener, DeleteListener
//	RegisterTargets, DeregisterTargets, DescribeTargetHealth
//	AddTags, RemoveTags, DescribeTags
//
// Refusals use ELBv2's codes: LoadBalancerNotFound, TargetGroupNotFound,
// ListenerNotFound, DuplicateLoadBalancerName, DuplicateTargetGroupName,
// DuplicateListener, ValidationError, InvalidTarget, ResourceInUse,
// SubnetNotFound, InvalidConfigurationRequest, InvalidSecurityGroup,
// UnsupportedProtocol, IncompatibleProtocols, InvalidLoadBalancerAction,
// TargetGroupAssociationLimit, CertificateNotFound, TooManyTags,
// DuplicateTagKeys; a request the core refuses is InvalidClientTokenId
// (403), injected faults Throttling, InternalFailure, ServiceUnavailable.
//
// # Semantics
//
// A load balancer (application or network, IPv4, in default subnets of the
// region's default VPC, two zones or more for an application one) is
// provisioning until Server.ApplyLoadBalancer returned its address in the
// background, then active (failed when that failed). Its listeners and
// target groups are one localcloud.LoadBalancerConfig: each listener is a
// rule from its port and protocol to its target group's protocol and
// port; the health check is the target group's (traffic-port: the rule's
// target port); lb_cookie stickiness is StickyCookie "AWSALB" for
// stickiness.lb_cookie.duration_seconds; the targets are the registered
// instances' private addresses (Server.TargetAddr of their hosts). Every
// change (listeners, health check, attributes, targets) is applied before
// the answer. Instance ids are mapped to the core's hosts by
// Config.Instances (InstanceResolver): the EC2 API (package localcloud/aws)
// implements it.
// DeleteLoadBalancer of an unknown ARN, and DeleteTargetGroup of an
// unknown group, succeed, as on AWS.
//
// Deregistered targets leave the configuration at once (the backend
// finishes their connections) and are reported draining for the target
// group's deregistration_delay.timeout_seconds (server clock), then gone
// ("unused", Target.NotRegistered, when asked for by id).
//
// # Deviations from AWS
//
//   - DNSName is the load balancer's IPv4 address, not a
//     <name>-<id>.<region>.elb.amazonaws.com name: nothing resolves a name
//     offline, and clients reach the load balancer at that address. It is
//     absent while provisioning.
//   - Target health is not the backend's: a registered target whose host
//     has its address, in a group an active load balancer forwards to, is
//     healthy (HAProxy's checks are not read); initial while the load
//     balancer provisions; unused (Target.NotInUse) when no listener
//     forwards to the group, (Target.InvalidState) when its host is gone.
//   - No certificates: HTTPS and TLS listeners are refused
//     (CertificateNotFound); no UDP; instance targets only, on the target
//     group's port; one default action per listener (forward to one group,
//     or redirect to HTTPS:443 of the same host, path and query); no
//     listener rules.
//   - The backend has one health check, one stickiness and one target set
//     per load balancer: with several target groups the first forwarding
//     listener's group (by port) gives the check and stickiness, and the
//     targets are the union. A redirect listener makes every HTTP rule of
//     the load balancer redirect (RedirectHTTPToHTTPS).
//   - Security groups are recorded (ids starting sg-), not checked against
//     EC2 nor enforced; subnets are checked against the default subnets'
//     ids as the EC2 API derives them.
package awselbv2
