// Package aws serves, on localcloud's core, the subset of Amazon EC2's API
// that Haddock's AWS driver (internal/cloud/aws, aws-sdk-go-v2) uses: the
// query protocol (form-encoded Action=...&Version=2016-11-15, XML answers
// in the 2016-11-15 namespace, EC2's error XML and codes). Shapes follow
// AWS's own service model; the contract/awsmodel package checks every
// request and response against it.
//
// It is a localcloud.API: instances are the core's hosts and Elastic IPs
// the core's pool addresses, the same machines and addresses as
// DigitalOcean's droplets and reserved IPs (real hosts with the netns
// backend); the API keeps only what EC2 alone has (instance ids,
// reservations, tags, key pairs, security groups, allocations and
// associations) under the core's lock, in its part of the state file
// ("apis": {"aws": ...}).
//
//	api := aws.New(aws.Config{})
//	run, err := localcloud.Start(ctx, localcloud.Config{
//		APIs:     []localcloud.API{api},
//		APIAddrs: map[string]string{aws.Name: "127.0.0.1:9081"},
//	})
//	client := ec2.New(ec2.Options{Region: "us-east-1", BaseEndpoint: &run.APIURLs[aws.Name],
//		Credentials: credentials.NewStaticCredentialsProvider(aws.DevAccessKey, aws.DevSecretKey, "")})
//
// The API is served at every path of its own listener (APIAddrs, as an
// EC2 endpoint is; `localcloud serve` puts it on 127.0.0.1:9081) and under
// /aws/ on localcloud's main listener. Request counters key it
// "ec2:<Action>"; an injected fault matches path prefix /aws/ on either.
//
// # Authentication
//
// Every request must be signed with Signature Version 4 by Config's access
// key (default DevAccessKey "localcloud", secret DevSecretKey
// "localcloud-dev-secret"): the API rebuilds the canonical request (method,
// URI-encoded path, sorted encoded query, the signed headers, host
// included, trimmed, and the SHA-256 of the body, which must equal
// X-Amz-Content-Sha256 when sent), the string to sign (AWS4-HMAC-SHA256,
// X-Amz-Date, scope, hash of the canonical request) and the signing key
// (HMAC chain of the secret over date, region, "ec2", "aws4_request"), and
// compares signatures in constant time. The credential scope must name
// service ec2, a region below and X-Amz-Date's day, within 15 minutes of
// now. Anything else (unsigned, another key, a wrong signature, another
// service or region) answers 401 AuthFailure, the reason logged
// (Config.Logf). Presigned query-string requests are not accepted.
//
// # Regions and catalog
//
// Regions us-east-1 (zones a-f), us-west-2 (a-d), eu-west-2, eu-central-1,
// ap-southeast-1 (a-c): us-east-1 and those the portable catalog maps to.
// Each has a default VPC 172.31.0.0/16 with a default subnet per zone and
// a default security group. Instance types t3.micro, t3.small, t3.medium,
// t3.large, t3.xlarge, c5.large, c5.xlarge, c5.2xlarge, m5.large (x86_64)
// and t4g.small (arm64), offered in every region. Images (AMI ids differ
// per region): Debian 12 amd64 (two builds) and arm64 owned by
// 136693071363 (Debian), Ubuntu 24.04 amd64 (two builds) and arm64 and
// Ubuntu 22.04 amd64 owned by 099720109477 (Canonical), named as on AWS,
// so debian-12-amd64-* and ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*
// resolve to the newest amd64 build.
//
// # Actions
//
//	DescribeRegions, DescribeAvailabilityZones, DescribeInstanceTypes (paged),
//	DescribeInstanceTypeOfferings (paged), DescribeImages (Owner, filters, paged),
//	DescribeVpcs, DescribeSubnets
//	ImportKeyPair, DescribeKeyPairs, DeleteKeyPair
//	CreateSecurityGroup, DescribeSecurityGroups, AuthorizeSecurityGroupIngress,
//	RevokeSecurityGroupIngress, DeleteSecurityGroup
//	RunInstances (MinCount/MaxCount, tags, user data, key name, security groups
//	by id or name, subnet, ClientToken), DescribeInstances (InstanceId, filters,
//	MaxResults 5-1000 and NextToken), TerminateInstances, StopInstances (Force),
//	StartInstances, ModifyInstanceAttribute (InstanceType, stopped only; GroupId),
//	CreateTags, DeleteTags (instances, security groups, Elastic IPs, key pairs)
//	AllocateAddress, AssociateAddress (AllowReassociation), DisassociateAddress,
//	ReleaseAddress, DescribeAddresses
//
// Filters take EC2's names (tag:<key>, tag-key, tag-value and the
// resource's own, e.g. instance-state-name, instance-id, name, owner-id)
// with * and ? wildcards; an unknown filter is InvalidParameterValue.
// DryRun=true answers 412 DryRunOperation. Refusals use EC2's codes:
// InvalidInstanceID.NotFound/.Malformed, InvalidAMIID.NotFound/.Malformed,
// InvalidKeyPair.NotFound/.Duplicate, InvalidGroup.NotFound/.Duplicate,
// InvalidPermission.Duplicate/.NotFound, DependencyViolation,
// InvalidSubnetID.NotFound, IncorrectInstanceState,
// Resource.AlreadyAssociated, InvalidAllocationID.NotFound,
// InvalidAssociationID.NotFound, InvalidIPAddress.InUse,
// AddressLimitExceeded (5 per region), InstanceLimitExceeded,
// InvalidParameterValue, MissingParameter, InvalidAction. Injected faults
// answer RequestLimitExceeded (429), InternalError (500), Unavailable (503).
//
// # Lifecycle
//
// A launched instance is pending until its host is provisioned (and the
// core's BootDelay passed), then running; its public and private IPv4 are
// the host's address (with real hosts the same address, on the backend's
// bridge, not in the subnet's 172.31 range), its public IPv4 its Elastic
// IP while one is associated. StopInstances shuts the host down cleanly
// (Force: power off) through Server.PowerHost: stopping until the host is
// off, then stopped, without a public IPv4. StartInstances powers it on:
// pending until dockerd answers, then running. TerminateInstances destroys
// the host: shutting-down while the core still shows it
// (Config.DeleteDelay), then terminated, listed for
// Config.TerminatedRetention (an hour); its Elastic IP is disassociated. A
// host whose provisioning failed (user data the backend refuses) is
// terminated with state reason Server.InternalError.
//
// AssociateAddress moves the core's address to the instance's host
// (Server.MoveAddress: with real hosts it routes there at once); an
// instance holds one Elastic IP, so associating another disassociates the
// first; without AllowReassociation an address associated elsewhere is
// refused. The instance must be running or stopped.
//
// Security groups are recorded and checked (names, duplicates, rules and
// their CIDRs, dependencies) and enforced as DigitalOcean's cloud
// firewalls are, through the same seam (localcloud.FirewallBackend;
// netnsbackend filters on the host's link): an instance admits from the
// network only what the ingress rules of its groups admit, plus replies
// to its own connections. An instance launched without a group is in the
// VPC's default group, which admits everything from the group's members
// only, as on EC2. Sources: IpRanges and Ipv6Ranges by CIDR,
// UserIdGroupPairs by the private and public addresses (Elastic IP
// included) of the group's instances that are not terminated, and by the
// addresses other APIs report in the group (localcloud.FirewallMemberReporter:
// a load balancer in its security groups). Protocols tcp and udp (ports
// 0-65535: all), icmp (IPv4 sources) and icmpv6/58 (IPv6 sources) of the
// rule's ICMP type (FromPort: 0-255, -1 all) and code (ToPort: 0-255, -1
// all, and -1 when the type is; icmpv6 without ports: all), and -1 (tcp,
// udp, icmp and icmpv6, every port); others, such as ESP (50), cannot be
// expressed to the backend and admit nothing. Egress rules are EC2's
// default (everything) and not enforced. Rules are
// pushed before an instance's host is provisioned and again once it is
// (the instance shows pending until its own and its groups' members'
// rules reached the backend), and again when instances are terminated,
// stopped or started, groups modified, ingress authorized or revoked,
// groups deleted, Elastic IPs associated or disassociated, another API's
// members change, and after a restart. Hosts of DigitalOcean's API in
// the same localcloud keep their own filter (DigitalOcean's firewalls):
// each host's rules come from the API that created it. Key pairs are
// passed to the backend as the host's SSH key; hosts run no sshd.
package aws
