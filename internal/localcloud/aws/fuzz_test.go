package aws

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awsquery/awsquerytest"
)

// FuzzRequestBodies sends arbitrary form bodies, signed, to every action
// of the EC2 API in process: localcloud never panics and never answers
// 5xx to bad input (a client error is EC2's XML error with a code), and
// the API keeps working afterwards. In the fuzzed form {ami}, {vpc},
// {subnet}, {i}, {sg} and {eip} stand for an image, the default VPC and a
// subnet of the region, and a fixture instance, group and address.
func FuzzRequestBodies(f *testing.F) {
	actions := Actions()
	at := func(action string) uint8 {
		for i, a := range actions {
			if a == action {
				return uint8(i)
			}
		}
		f.Fatalf("no action %s", action)
		return 0
	}
	f.Add(at("RunInstances"), "ImageId={ami}&InstanceType=t3.micro&MinCount=1&MaxCount=1&SecurityGroupId.1={sg}&SubnetId={subnet}&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=web&UserData=I2Nsb3VkLWNvbmZpZwo%3D")
	f.Add(at("RunInstances"), "ImageId={ami}&InstanceType=t3.micro&MinCount=1&MaxCount=99999999999999999999")
	f.Add(at("RunInstances"), "ImageId={ami}&InstanceType=t3.micro&MinCount=-1&MaxCount=-5")
	f.Add(at("RunInstances"), "ImageId=&MinCount=&MaxCount=")
	f.Add(at("AuthorizeSecurityGroupIngress"), "GroupId={sg}&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=443&IpPermissions.1.ToPort=443&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0%2F0&IpPermissions.1.IpRanges.1.Description=https")
	f.Add(at("AuthorizeSecurityGroupIngress"), "GroupId={sg}&IpPermissions.1.IpProtocol=icmp&IpPermissions.1.FromPort=8&IpPermissions.1.ToPort=-1&IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0%2F8&IpPermissions.2.IpProtocol=icmpv6&IpPermissions.2.FromPort=-1&IpPermissions.2.ToPort=-1&IpPermissions.2.Ipv6Ranges.1.CidrIpv6=%3A%3A%2F0")
	f.Add(at("AuthorizeSecurityGroupIngress"), "GroupId={sg}&IpPermissions.1.IpProtocol=-1&IpPermissions.1.Groups.1.GroupId={sg}&IpPermissions.1.FromPort=-70000")
	f.Add(at("RevokeSecurityGroupIngress"), "GroupId={sg}&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=443&IpPermissions.1.ToPort=443&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0%2F0")
	f.Add(at("AllocateAddress"), "Domain=vpc&TagSpecification.1.ResourceType=elastic-ip&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=lb")
	f.Add(at("AllocateAddress"), "Domain=standard&TagSpecification.1.ResourceType=instance")
	f.Add(at("AssociateAddress"), "AllocationId={eip}&InstanceId={i}&AllowReassociation=true")
	f.Add(at("CreateTags"), "ResourceId.1={i}&ResourceId.2={sg}&ResourceId.3={eip}&Tag.1.Key=env&Tag.1.Value=prod&Tag.2.Key=aws%3Ax")
	f.Add(at("DeleteTags"), "ResourceId.1={i}&Tag.1.Key=env")
	f.Add(at("DescribeInstances"), "Filter.1.Name=tag%3AName&Filter.1.Value.1=web*&Filter.2.Name=instance-state-name&Filter.2.Value.1=running&Filter.2.Value.2=pending&MaxResults=5")
	f.Add(at("DescribeInstances"), "Filter.99999999999999999999.Name=vpc-id&Filter.0.Value.1=x&Filter.-1.Name=&InstanceId.9223372036854775807={i}&NextToken=%25%25")
	f.Add(at("DescribeInstances"), "Filter.1.Name&Filter.1.Value.1&MaxResults=-3")
	f.Add(at("DescribeImages"), "Owner.1=136693071363&Filter.1.Name=name&Filter.1.Value.1=debian-12-amd64-*%5B&MaxResults=6")
	f.Add(at("CreateSecurityGroup"), "GroupName=web&GroupDescription=web&VpcId={vpc}&TagSpecification.1.ResourceType=security-group&TagSpecification.1.Tag.1.Key=k")
	f.Add(at("ModifyInstanceAttribute"), "InstanceId={i}&GroupId.1={sg}&InstanceType.Value=t3.small")
	f.Add(at("ImportKeyPair"), "KeyName=k&PublicKeyMaterial=c3NoLWVkMjU1MTkgQUFBQQ%3D%3D")
	f.Add(at("StopInstances"), "InstanceId.1={i}&Force=maybe")
	f.Add(at("TerminateInstances"), "InstanceId.1=i-0&DryRun=true")
	f.Add(uint8(255), "%zz&;=")

	const region = "us-east-1"
	api := New(Config{})
	s := localcloud.New(localcloud.Config{APIs: []localcloud.API{api}})
	f.Cleanup(func() { _ = s.Close() })
	c := awsquerytest.Client{Handler: s.APIHandler(Name), Service: sigService, Region: region, Version: "2016-11-15",
		AccessKey: DevAccessKey, SecretKey: DevSecretKey}
	send := func(action, form string) *httptest.ResponseRecorder { return c.Call(f, action, form) }
	reg, _ := findRegion(region)
	vars := map[string]string{"ami": imageID(region, Images[1]), "vpc": vpcID(region), "subnet": subnetID(reg.zones()[0])}
	fixture := func(name, action, form, pattern string) {
		rec := send(action, strings.NewReplacer("{ami}", vars["ami"]).Replace(form))
		m := regexp.MustCompile(pattern).FindStringSubmatch(rec.Body.String())
		if rec.Code != http.StatusOK || m == nil {
			f.Fatalf("creating the fixture %s: %d %s", name, rec.Code, rec.Body)
		}
		vars[name] = m[1]
	}
	fixture("i", "RunInstances", "ImageId={ami}&InstanceType=t3.micro&MinCount=1&MaxCount=1", `<instanceId>(i-\w+)</instanceId>`)
	fixture("sg", "CreateSecurityGroup", "GroupName=fz&GroupDescription=fz", `<groupId>(sg-\w+)</groupId>`)
	fixture("eip", "AllocateAddress", "Domain=vpc", `<allocationId>(eipalloc-\w+)</allocationId>`)
	var pairs []string
	for k, v := range vars {
		pairs = append(pairs, "{"+k+"}", v)
	}
	fill := strings.NewReplacer(pairs...)

	f.Fuzz(func(t *testing.T, which uint8, form string) {
		action := actions[int(which)%len(actions)]
		form = fill.Replace(form)
		what := fmt.Sprintf("%s with %q", action, form)
		awsquerytest.CheckAnswer(t, what, c.Call(t, action, form), awsquerytest.EC2)
		c.Healthy(t, what, "DescribeRegions", "")
	})
}
