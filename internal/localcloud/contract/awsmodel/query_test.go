package awsmodel_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/contract/awsmodel"
)

const elbNS = `xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"`

// TestQueryValidator feeds a validator over ELBv2's model (query
// protocol) exchanges that conform and ones that do not.
func TestQueryValidator(t *testing.T) {
	m, err := awsmodel.ELBv2()
	if err != nil {
		t.Fatal(err)
	}
	meta := `<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>`
	okLBs := `<DescribeLoadBalancersResponse ` + elbNS + `><DescribeLoadBalancersResult><LoadBalancers><member>` +
		`<LoadBalancerArn>arn</LoadBalancerArn><State><Code>active</Code></State><Type>application</Type>` +
		`<AvailabilityZones><member><SubnetId>subnet-1</SubnetId></member></AvailabilityZones><SecurityGroups/>` +
		`</member></LoadBalancers></DescribeLoadBalancersResult>` + meta + `</DescribeLoadBalancersResponse>`
	desc := "Action=DescribeLoadBalancers&Version=2015-12-01&Names.member.1=a&PageSize=10"
	errBody := `<ErrorResponse ` + elbNS + `><Error><Type>Sender</Type><Code>LoadBalancerNotFound</Code><Message>m</Message></Error><RequestId>r</RequestId></ErrorResponse>`
	attrs := "Action=ModifyTargetGroupAttributes&Version=2015-12-01&TargetGroupArn=a&Attributes.member.1.Key=k&Attributes.member.1.Value=v"
	okAttrs := `<ModifyTargetGroupAttributesResponse ` + elbNS + `><ModifyTargetGroupAttributesResult><Attributes><member><Key>k</Key><Value>v</Value></member></Attributes></ModifyTargetGroupAttributesResult>` + meta + `</ModifyTargetGroupAttributesResponse>`
	for _, tc := range []struct {
		name, query string
		status      int
		body, want  string
	}{
		{"conforms", desc, 200, okLBs, ""},
		{"structure list conforms", attrs, 200, okAttrs, ""},
		{"empty result conforms", "Action=DeleteLoadBalancer&Version=2015-12-01&LoadBalancerArn=a", 200,
			`<DeleteLoadBalancerResponse ` + elbNS + `><DeleteLoadBalancerResult/>` + meta + `</DeleteLoadBalancerResponse>`, ""},
		{"error conforms", desc, 400, errBody, ""},
		{"ec2 list encoding", "Action=DescribeLoadBalancers&Version=2015-12-01&Names.1=a", 400, errBody, "list items are"},
		{"capitalized like ec2", "Action=DescribeTags&Version=2015-12-01&resourceArns.member.1=a", 400, errBody, `no member serialized as "resourceArns"`},
		{"required missing", "Action=ModifyTargetGroupAttributes&Version=2015-12-01&TargetGroupArn=a", 400, errBody, "required member Attributes"},
		{"page size out of range", strings.Replace(desc, "PageSize=10", "PageSize=1000", 1), 200, okLBs, "out of the shape's range"},
		{"no result wrapper", desc, 200, `<DescribeLoadBalancersResponse ` + elbNS + `><LoadBalancers/>` + meta + `</DescribeLoadBalancersResponse>`, "want <DescribeLoadBalancersResult>"},
		{"no metadata", desc, 200, `<DescribeLoadBalancersResponse ` + elbNS + `><DescribeLoadBalancersResult/></DescribeLoadBalancersResponse>`, "no ResponseMetadata"},
		{"items not member", desc, 200, strings.ReplaceAll(okLBs, "member>", "item>"), "items are <member>"},
		{"bad enum", desc, 200, strings.Replace(okLBs, "<Code>active</Code>", "<Code>up</Code>", 1), "enum"},
		{"ec2 error shape", desc, 400, `<Response><Errors><Error><Code>X</Code><Message>m</Message></Error></Errors><RequestID>r</RequestID></Response>`, "want <ErrorResponse>"},
		{"bad error type", desc, 400, strings.Replace(errBody, "Sender", "Client", 1), "Type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := awsmodel.NewFor(m)
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			v.Validate(q, tc.status, []byte(tc.body))
			got := v.Violations()
			if tc.want == "" {
				if len(got) != 0 {
					t.Errorf("violations: %v", got)
				}
				return
			}
			found := false
			for _, x := range got {
				found = found || strings.Contains(x.String(), tc.want)
			}
			if !found {
				t.Errorf("want a violation with %q, got %v", tc.want, got)
			}
		})
	}
}

// TestOnlyService checks that a validator looks at its service's requests
// only.
func TestOnlyService(t *testing.T) {
	v, err := awsmodel.NewELBv2()
	if err != nil {
		t.Fatal(err)
	}
	h := v.OnlyService("elasticloadbalancing", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(400)
		_, _ = w.Write([]byte("<nope/>"))
	}))
	for _, svc := range []string{"ec2", "elasticloadbalancing"} {
		r := httptest.NewRequest("POST", "/", strings.NewReader("Action=DescribeTags&Version=2015-12-01"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=k/20250101/us-east-1/"+svc+"/aws4_request, SignedHeaders=host, Signature=0")
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	if v.Checked() != 1 || len(v.Violations()) == 0 {
		t.Errorf("checked %d, violations %v; want 1 checked, with violations", v.Checked(), v.Violations())
	}
}
