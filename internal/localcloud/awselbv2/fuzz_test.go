package awselbv2_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	lcaws "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/aws"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awselbv2"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awsquery/awsquerytest"
)

// FuzzRequestBodies sends arbitrary form bodies, signed, to every action
// of the ELBv2 API in process: localcloud never panics and never answers
// 5xx to bad input (a client error is ELBv2's XML error with a code), and
// the API keeps working afterwards. In the fuzzed form {vpc}, {subnet1}
// and {subnet2} stand for the region's default VPC and two of its
// subnets, {i} for an EC2 instance and {lb}, {tg} and {listener} for a
// fixture load balancer, target group and listener.
func FuzzRequestBodies(f *testing.F) {
	actions := awselbv2.Actions()
	at := func(action string) uint8 { return uint8(slices.Index(actions, action)) }
	f.Add(at("CreateLoadBalancer"), "Name=web&Type=application&Scheme=internet-facing&Subnets.member.1={subnet1}&Subnets.member.2={subnet2}&Tags.member.1.Key=env&Tags.member.1.Value=prod")
	f.Add(at("CreateLoadBalancer"), "Name=net&Type=network&SubnetMappings.member.1.SubnetId={subnet1}&Subnets.member.99999999999999999999={subnet2}")
	f.Add(at("CreateLoadBalancer"), "Name=-bad-&Type=gateway&Subnets.member.1=subnet-0&IpAddressType=dualstack")
	f.Add(at("CreateTargetGroup"), "Name=web&Protocol=HTTP&Port=8080&VpcId={vpc}&TargetType=instance&HealthCheckPath=%2Fhealthz&HealthCheckIntervalSeconds=10&Matcher.HttpCode=200-399")
	f.Add(at("CreateTargetGroup"), "Name=tcp&Protocol=TCP&Port=-1&VpcId={vpc}&HealthyThresholdCount=99999999999999999999")
	f.Add(at("RegisterTargets"), "TargetGroupArn={tg}&Targets.member.1.Id={i}&Targets.member.1.Port=8080&Targets.member.2.Id=i-0&Targets.member.2.Port=0")
	f.Add(at("DeregisterTargets"), "TargetGroupArn={tg}&Targets.member.1.Id={i}")
	f.Add(at("CreateListener"), "LoadBalancerArn={lb}&Protocol=HTTP&Port=80&DefaultActions.member.1.Type=forward&DefaultActions.member.1.TargetGroupArn={tg}")
	f.Add(at("CreateListener"), "LoadBalancerArn={lb}&Protocol=HTTP&Port=8443&DefaultActions.member.1.Type=redirect&DefaultActions.member.1.RedirectConfig.Protocol=HTTPS&DefaultActions.member.1.RedirectConfig.StatusCode=HTTP_301")
	f.Add(at("CreateListener"), "LoadBalancerArn={lb}&Protocol=HTTPS&Port=443&Certificates.member.1.CertificateArn=x&DefaultActions.member.1.Type=forward&DefaultActions.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn={tg}&DefaultActions.member.1.Order=-1")
	f.Add(at("ModifyListener"), "ListenerArn={listener}&Port=81")
	f.Add(at("ModifyTargetGroupAttributes"), "TargetGroupArn={tg}&Attributes.member.1.Key=deregistration_delay.timeout_seconds&Attributes.member.1.Value=-5")
	f.Add(at("AddTags"), "ResourceArns.member.1={lb}&Tags.member.1.Key=aws%3Ax&Tags.member.1.Value")
	f.Add(at("DescribeTargetHealth"), "TargetGroupArn={tg}&Targets.member.1.Id={i}")
	f.Add(at("DescribeLoadBalancers"), "Names.member.1=web&PageSize=0&Marker=%25")
	f.Add(uint8(255), "%zz&;=")

	const region = "us-east-1"
	ec2 := lcaws.New(lcaws.Config{})
	s := localcloud.New(localcloud.Config{APIs: []localcloud.API{ec2, awselbv2.New(awselbv2.Config{Instances: ec2})}})
	f.Cleanup(func() { _ = s.Close() })
	ec2c := awsquerytest.Client{Handler: s.APIHandler(lcaws.Name), Service: "ec2", Region: region, Version: "2016-11-15",
		AccessKey: lcaws.DevAccessKey, SecretKey: lcaws.DevSecretKey}
	elbc := awsquerytest.Client{Handler: s.APIHandler(awselbv2.Name), Service: "elasticloadbalancing", Region: region, Version: "2015-12-01",
		AccessKey: lcaws.DevAccessKey, SecretKey: lcaws.DevSecretKey}
	elb := func(action, form string) *httptest.ResponseRecorder { return elbc.Call(f, action, form) }
	vars := []string{"{vpc}", lcaws.VPCID(region), "{subnet1}", lcaws.SubnetID(region + "a"), "{subnet2}", lcaws.SubnetID(region + "b")}
	fixture := func(name string, rec *httptest.ResponseRecorder, pattern string) {
		m := regexp.MustCompile(pattern).FindStringSubmatch(rec.Body.String())
		if rec.Code != http.StatusOK || m == nil {
			f.Fatalf("creating the fixture %s: %d %s", name, rec.Code, rec.Body)
		}
		vars = append(vars, name, m[1])
	}
	images := ec2c.Call(f, "DescribeImages", "").Body.String()
	ami := regexp.MustCompile(`<imageId>(ami-\w+)</imageId>`).FindStringSubmatch(images)
	if ami == nil {
		f.Fatalf("no image: %s", images)
	}
	fixture("{i}", ec2c.Call(f, "RunInstances", "MinCount=1&MaxCount=1&InstanceType=t3.micro&ImageId="+ami[1]), `<instanceId>(i-\w+)</instanceId>`)
	fill := strings.NewReplacer(vars...)
	fixture("{lb}", elb("CreateLoadBalancer", fill.Replace("Name=fz&Subnets.member.1={subnet1}&Subnets.member.2={subnet2}")), `<LoadBalancerArn>([^<]+)</LoadBalancerArn>`)
	fixture("{tg}", elb("CreateTargetGroup", fill.Replace("Name=fz&Protocol=HTTP&Port=80&VpcId={vpc}")), `<TargetGroupArn>([^<]+)</TargetGroupArn>`)
	fill = strings.NewReplacer(vars...)
	fixture("{listener}", elb("CreateListener", fill.Replace("LoadBalancerArn={lb}&Protocol=HTTP&Port=80&DefaultActions.member.1.Type=forward&DefaultActions.member.1.TargetGroupArn={tg}")), `<ListenerArn>([^<]+)</ListenerArn>`)
	fill = strings.NewReplacer(vars...)

	f.Fuzz(func(t *testing.T, which uint8, form string) {
		action := actions[int(which)%len(actions)]
		form = fill.Replace(form)
		what := fmt.Sprintf("%s with %q", action, form)
		awsquerytest.CheckAnswer(t, what, elbc.Call(t, action, form), awsquerytest.Query)
		elbc.Healthy(t, what, "DescribeLoadBalancers", "")
	})
}
