package aws

// Trusted sources of the databases: the rules of a database's security
// group, and the tags of that group that record the sources as given (see
// database.go).

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

const (
	// trustedTagPrefix starts the tag keys of a database's security group
	// that record its trusted sources: haddock:trusted:<kind>:<value>.
	trustedTagPrefix = "haddock:trusted:"
	// maxTagKeyLen is EC2's limit on tag keys.
	maxTagKeyLen = 128
	// maxTrustedSources is what a security group's 50 tags leave for
	// sources beside the managed tag and Name.
	maxTrustedSources = 48
	// maxRuleDescriptionLen is EC2's limit on rule descriptions.
	maxRuleDescriptionLen = 255
)

// resolvedSources are trusted sources checked and turned into rules.
type resolvedSources struct {
	given []cloud.TrustedSource // sorted, without duplicates
	rules []ingressRule
}

// resolveTrustedSources checks sources and resolves them to ingress rules
// on port: a host or the hosts of a tag to their private addresses as of
// now.
func (d *Driver) resolveTrustedSources(ctx context.Context, sources []cloud.TrustedSource, port int32) (*resolvedSources, error) {
	r := &resolvedSources{given: sortedSources(sources)}
	if len(r.given) > maxTrustedSources {
		return nil, invalidError("InvalidTrustedSource", fmt.Sprintf("%d trusted sources: AWS records at most %d on a database's security group; use CIDRs that cover several", len(r.given), maxTrustedSources))
	}
	for _, s := range r.given {
		bad := func(msg string) error {
			return invalidError("InvalidTrustedSource", fmt.Sprintf("trusted source %s %q: %s", s.Kind, s.Value, msg))
		}
		if len(trustedTagKey(s)) > maxTagKeyLen {
			return nil, bad(fmt.Sprintf("too long to record: the value takes %d characters at most", maxTagKeyLen-len(trustedTagKey(cloud.TrustedSource{Kind: s.Kind}))))
		}
		switch s.Kind {
		case cloud.TrustedCIDR:
			cidr, err := parseCIDR(s.Value)
			if err != nil {
				return nil, bad("not an address or a CIDR (203.0.113.0/24, 198.51.100.7, 2001:db8::/32)")
			}
			r.rules = append(r.rules, portRule("tcp", port, cidr, "", ruleDescription("cidr "+s.Value)))
		case cloud.TrustedHost:
			inst, err := findInstanceByID(ctx, d.ec2, s.Value)
			if cloud.IsNotFound(err) || hasCode(err, "InvalidInstanceID.Malformed") {
				return nil, bad(fmt.Sprintf("no such EC2 instance in %s (a host elsewhere is trusted by its address: a cidr source)", d.region))
			}
			if err != nil {
				return nil, fmt.Errorf("finding trusted host %s: %w", s.Value, err)
			}
			ip := awssdk.ToString(inst.PrivateIpAddress)
			if ip == "" {
				return nil, bad("the instance has no private address")
			}
			r.rules = append(r.rules, portRule("tcp", port, ip+"/32", "", ruleDescription("host "+s.Value)))
		case cloud.TrustedTag:
			if s.Value == "" {
				return nil, bad("a tag source names a tag")
			}
			insts, err := findInstances(ctx, d.ec2, &ec2.DescribeInstancesInput{Filters: append(tagFilters(s.Value), types.Filter{
				Name:   awssdk.String(filterStateName),
				Values: []string{"pending", "running", "stopping", "stopped"},
			})})
			if err != nil {
				return nil, fmt.Errorf("finding the hosts tagged %s: %w", s.Value, err)
			}
			n := 0
			for _, inst := range insts {
				if ip := awssdk.ToString(inst.PrivateIpAddress); ip != "" {
					r.rules = append(r.rules, portRule("tcp", port, ip+"/32", "", ruleDescription(fmt.Sprintf("tag %s: %s", s.Value, awssdk.ToString(inst.InstanceId)))))
					n++
				}
			}
			tflog.SubsystemInfo(ctx, subsystem, "trusting the hosts a tag has now", map[string]any{"tag": s.Value, "hosts": n})
		default:
			return nil, bad(fmt.Sprintf("the kind is %s, %s or %s", cloud.TrustedCIDR, cloud.TrustedHost, cloud.TrustedTag))
		}
	}
	return r, nil
}

// applyTrustedSources makes sg's rules exactly r's (every rule of a
// database's group is the driver's) and records r's sources in its tags.
func (d *Driver) applyTrustedSources(ctx context.Context, fw FirewallAPI, sg *types.SecurityGroup, r *resolvedSources) error {
	groupID := awssdk.ToString(sg.GroupId)
	if err := reconcileIngress(ctx, fw, groupID, sg.IpPermissions, r.rules, func(ingressRule) bool { return true }); err != nil {
		return err
	}
	want := map[string]bool{}
	for _, s := range r.given {
		want[trustedTagKey(s)] = true
	}
	var add []types.Tag
	var remove []types.Tag
	have := map[string]bool{}
	for _, t := range sg.Tags {
		k := awssdk.ToString(t.Key)
		if !strings.HasPrefix(k, trustedTagPrefix) {
			continue
		}
		have[k] = true
		if !want[k] {
			remove = append(remove, types.Tag{Key: t.Key})
		}
	}
	for _, s := range r.given {
		if k := trustedTagKey(s); !have[k] {
			add = append(add, types.Tag{Key: awssdk.String(k), Value: awssdk.String("")})
		}
	}
	if len(remove) > 0 {
		if _, err := d.ec2.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{groupID}, Tags: remove}); err != nil {
			return fmt.Errorf("untagging security group (%s): %w", groupID, mapError(err))
		}
	}
	if len(add) > 0 {
		if _, err := d.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{groupID}, Tags: add}); err != nil {
			return fmt.Errorf("tagging security group (%s): %w", groupID, mapError(err))
		}
	}
	return nil
}

// trustedSourcesOf reads the trusted sources of instances back from their
// security groups' tags, by instance identifier.
func (d *Driver) trustedSourcesOf(ctx context.Context, insts []rdstypes.DBInstance) (map[string][]cloud.TrustedSource, error) {
	groupOf := map[string]string{} // group id → instance identifier
	var ids []string
	for _, inst := range insts {
		for _, g := range inst.VpcSecurityGroups {
			id := awssdk.ToString(g.VpcSecurityGroupId)
			groupOf[id] = awssdk.ToString(inst.DBInstanceIdentifier)
			ids = append(ids, id)
		}
	}
	out := map[string][]cloud.TrustedSource{}
	const chunk = 200 // EC2's limit of values per filter
	for len(ids) > 0 {
		n := min(chunk, len(ids))
		// A filter, not GroupIds: a group deleted meanwhile is no error.
		pages := ec2.NewDescribeSecurityGroupsPaginator(d.ec2, &ec2.DescribeSecurityGroupsInput{
			Filters: []types.Filter{{Name: awssdk.String("group-id"), Values: ids[:n]}},
		})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("reading the databases' security groups: %w", mapError(err))
			}
			for _, sg := range page.SecurityGroups {
				db := groupOf[awssdk.ToString(sg.GroupId)]
				if awssdk.ToString(sg.GroupName) != dbSecurityGroupName(db) {
					continue // someone else's group on the instance
				}
				out[db] = sourcesFromTags(sg.Tags)
			}
		}
		ids = ids[n:]
	}
	return out, nil
}

// sourcesFromTags reads the recorded trusted sources, sorted.
func sourcesFromTags(tags []types.Tag) []cloud.TrustedSource {
	var out []cloud.TrustedSource
	for _, t := range tags {
		rest, ok := strings.CutPrefix(awssdk.ToString(t.Key), trustedTagPrefix)
		if !ok {
			continue
		}
		if kind, value, ok := strings.Cut(rest, ":"); ok {
			out = append(out, cloud.TrustedSource{Kind: kind, Value: value})
		}
	}
	return sortedSources(out)
}

func trustedTagKey(s cloud.TrustedSource) string { return trustedTagPrefix + s.Kind + ":" + s.Value }

// sortedSources sorts sources by kind and value, without duplicates.
func sortedSources(sources []cloud.TrustedSource) []cloud.TrustedSource {
	if len(sources) == 0 {
		return nil
	}
	out := make([]cloud.TrustedSource, 0, len(sources))
	seen := map[cloud.TrustedSource]bool{}
	for _, s := range sources {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Value < out[j].Value
	})
	return out
}

// parseCIDR reads a CIDR or a bare address (a /32 or /128) and gives it in
// EC2's form: the network address.
func parseCIDR(s string) (string, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return "", fmt.Errorf("not an address: %q", s)
		}
		return netip.PrefixFrom(a, a.BitLen()).String(), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return "", err
	}
	return p.Masked().String(), nil
}

// ruleDescription keeps the characters EC2 takes in a rule description
// (a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*), others become "_",
// and its length.
func ruleDescription(s string) string {
	const allowed = " ._-:/()#,@[]+=&;{}!$*"
	b := make([]byte, 0, len(s))
	for _, c := range s {
		if ok := isASCIILetter(c) || c >= '0' && c <= '9' || strings.ContainsRune(allowed, c); !ok {
			c = '_'
		}
		b = append(b, byte(c))
	}
	if len(b) > maxRuleDescriptionLen {
		b = b[:maxRuleDescriptionLen]
	}
	return string(b)
}
