// Package aws is Haddock's AWS driver: it implements cloud.Driver,
// cloud.FloatingIPs and cloud.Firewalls (cluster_firewall.go) with EC2,
// cloud.LoadBalancers with Elastic Load Balancing v2 (loadbalancer.go) and
// cloud.Databases with RDS and Secrets Manager (database.go), with
// aws-sdk-go-v2, behind the narrow SDK interfaces of api.go so tests can
// inject fakes. It never imports the provider or the plugin framework; it
// logs through tflog, subsystem "aws".
//
// Regions. EC2, ELBv2 and RDS are regional: a Driver works in one region
// (Config.Region) and ForRegion gives the driver of another. Hosts,
// Elastic IPs, load balancers, databases and firewalls of other regions
// are invisible to it, and a spec naming another region is rejected with
// cloud.ErrInvalid.
//
// Hosts are EC2 instances in the region's default VPC (the account needs
// one), in the security group SecurityGroupName (see securitygroup.go for
// its rules), with IMDSv2 required. Names are the Name tag; neutral tags
// are EC2 tag keys (see tags.go); the managed tag cloud.ManagedTag is
// haddock=true. Images are AMI ids or publisher name filters (see
// ResolveImage); sizes are instance types; SSH keys are key pair names, at
// most one per host. Load balancers and databases have security groups of
// their own (firewall.go).
//
// Firewalls are security groups too, "haddock-fw-<name>", one per
// firewall, attached to the hosts carrying its target tag beside the
// hosts' group; EnsureFirewall attaches it to hosts created since the last
// call. Security groups union their rules, and the hosts' group keeps SSH
// (22) and the Docker API (2376, mutual TLS) open to anywhere and Swarm's
// ports open to every Haddock host of the region (standalone hosts rely on
// it, so firewalls leave it alone): on AWS a cluster firewall adds what it
// lists, published stack ports say, and cannot narrow SSH or the Docker
// API below what the hosts' group admits.
//
// Status mapping: pending → pending, running → active, stopping/stopped →
// off, shutting-down/terminated → deleting; ListHosts leaves terminated
// instances out and GetHost reports them as not found.
//
// Errors come back as *cloud.APIError with the AWS code, message and
// request id, and a Kind (errors.go). Throttling is retried by the SDK
// retryer (Config.RetryMode, Config.MaxAttempts); eventual-consistency
// errors right after a launch are retried by the driver.
//
// Integration tests run against moto_server; see the mototest package.
package aws
