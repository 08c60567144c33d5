package awsmodel_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/contract/awsmodel"
)

const ns = `xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"`

// TestValidator feeds the validator exchanges that conform and ones that do
// not, each of the latter with the violation it must report.
func TestValidator(t *testing.T) {
	m, err := awsmodel.EC2()
	if err != nil {
		t.Fatal(err)
	}
	okReservation := `<RunInstancesResponse ` + ns + `><requestId>r</requestId><reservationId>r-1</reservationId><ownerId>1</ownerId>` +
		`<instancesSet><item><instanceId>i-1</instanceId><instanceState><code>0</code><name>pending</name></instanceState>` +
		`<tagSet><item><key>Name</key><value>a</value></item></tagSet><launchTime>2025-01-01T00:00:00.000Z</launchTime></item></instancesSet></RunInstancesResponse>`
	run := "Action=RunInstances&Version=2016-11-15&ImageId=ami-1&MinCount=1&MaxCount=1&InstanceType=t3.small" +
		"&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=a"
	errBody := `<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code><Message>m</Message></Error></Errors><RequestID>r</RequestID></Response>`
	for _, tc := range []struct {
		name, query string
		status      int
		body, want  string // want: a substring of the violation, "" for none
	}{
		{"conforms", run, 200, okReservation, ""},
		{"filters conform", "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag-key&Filter.1.Value.1=x&MaxResults=5",
			200, `<DescribeInstancesResponse ` + ns + `><requestId>r</requestId><reservationSet/></DescribeInstancesResponse>`, ""},
		{"error conforms", "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-1", 400, errBody, ""},
		{"unknown action", "Action=LaunchRocket&Version=2016-11-15", 400, errBody, "no operation"},
		{"wrong version", "Action=DescribeRegions&Version=2014-01-01", 200, `<DescribeRegionsResponse ` + ns + `><requestId>r</requestId></DescribeRegionsResponse>`, "Version"},
		{"unknown parameter", run + "&Colour=blue", 200, okReservation, `no member serialized as "Colour"`},
		{"member name instead of query name", "Action=DescribeInstances&Version=2016-11-15&InstanceIds.1=i-1", 400, errBody, `"InstanceIds"`},
		{"list not flattened", "Action=DescribeInstances&Version=2016-11-15&InstanceId=i-1", 400, errBody, "where list"},
		{"not an integer", strings.Replace(run, "MinCount=1", "MinCount=one", 1), 200, okReservation, "not an integer"},
		{"not in the enum", strings.Replace(run, "InstanceType=t3.small", "InstanceType=t9.huge", 1), 200, okReservation, "enum"},
		{"required missing", strings.Replace(run, "&MaxCount=1", "", 1), 200, okReservation, "required member MaxCount"},
		{"response member unknown", run, 200, strings.Replace(okReservation, "<ownerId>1</ownerId>", "<owner>1</owner>", 1), `locationName "owner"`},
		{"response member name instead of locationName", run, 200, strings.Replace(okReservation, "instancesSet", "Instances", 2), `locationName "Instances"`},
		{"list items misnamed", run, 200, strings.Replace(strings.Replace(okReservation, "<item><key>", "<member><key>", 1), "</value></item>", "</value></member>", 1), "items are <item>"},
		{"response enum", run, 200, strings.Replace(okReservation, "<name>pending</name>", "<name>booting</name>", 1), "enum"},
		{"response type", run, 200, strings.Replace(okReservation, "<code>0</code>", "<code>zero</code>", 1), "not an integer"},
		{"timestamp", run, 200, strings.Replace(okReservation, "2025-01-01T00:00:00.000Z", "yesterday", 1), "timestamp"},
		{"root", run, 200, strings.Replace(okReservation, "RunInstancesResponse", "RunInstancesResult", 2), "root element"},
		{"no requestId", run, 200, strings.Replace(okReservation, "<requestId>r</requestId>", "", 1), "no requestId"},
		{"error shape", run, 400, `<ErrorResponse><Error><Code>X</Code></Error></ErrorResponse>`, "want <Response>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			v := awsmodel.NewFor(m)
			v.Validate(q, tc.status, []byte(tc.body))
			vs := v.Violations()
			if tc.want == "" {
				for _, x := range vs {
					t.Errorf("violation: %s", x)
				}
				return
			}
			found := false
			for _, x := range vs {
				found = found || strings.Contains(x.Detail, tc.want)
			}
			if !found {
				t.Errorf("want a violation mentioning %q, got %v", tc.want, vs)
			}
		})
	}
}
