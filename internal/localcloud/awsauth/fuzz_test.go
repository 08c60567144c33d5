package awsauth

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// FuzzAuthorization feeds arbitrary Authorization and X-Amz-Date headers
// to the parser and to Verify: neither panics, a header that parses names
// a key, a scope and a signature, and Verify accepts only a request whose
// header parses, for the region it names. A request signed for the
// fuzzed region, path, query and body, by the AWS SDK's signer and by
// Sign, verifies.
func FuzzAuthorization(f *testing.F) {
	now := time.Date(2025, 6, 10, 21, 40, 0, 0, time.UTC)
	const amzDate = "20250610T214000Z"
	sdk := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:9081/", strings.NewReader("Action=DescribeRegions"))
	sdkSign(f, sdk, "Action=DescribeRegions", testSecret, "ec2", "eu-central-1", now)
	f.Add(sdk.Header.Get("Authorization"), amzDate, "eu-central-1", "/", "", "Action=DescribeRegions")
	f.Add("AWS4-HMAC-SHA256 Credential=localcloud/20250610/us-east-1/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=00", amzDate, "us-east-1", "/aws/", "x=1&a=b%20c", "Action=DescribeInstances&Filter.1.Name=tag%3AName")
	f.Add("AWS4-HMAC-SHA256 Credential=localcloud/2025/us-east-1/ec2/aws4_request,SignedHeaders=,Signature=", "2025", "", "/%zz", "%", "")
	f.Add("AWS4-HMAC-SHA256 Credential=/////, SignedHeaders=host;;host, Signature==", "20250610T214000", "a/b", "//x", "&&=", "\x00\xff")
	f.Add("AWS4-HMAC-SHA256", "", "us-east-1", "", "", "")
	f.Add("Bearer localcloud-dev-token", amzDate, "eu-west-2", "/", "", "x")
	region := regexp.MustCompile(`^[a-z0-9-]{1,30}$`)

	f.Fuzz(func(t *testing.T, authorization, date, reg, path, query, body string) {
		a, perr := parseAuthorization(authorization)
		if perr == nil && (a.accessKey == "" || len(a.signedHeaders) == 0 || a.signature == "") {
			t.Errorf("%q parses to %+v", authorization, a)
		}
		if perr == nil && (Region(authorization) != a.region || Service(authorization) != a.service) {
			t.Errorf("%q: Region %q, Service %q, parsed %+v", authorization, Region(authorization), Service(authorization), a)
		}
		r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:9081/", strings.NewReader(body))
		r.Header.Set("Authorization", authorization)
		r.Header.Set("X-Amz-Date", date)
		if got, err := Verify(r, "ec2", testKey, testSecret, now); err == nil && (perr != nil || got != a.region) {
			t.Errorf("%q at %q verified for %q (parsed %+v, %v)", authorization, date, got, a, perr)
		}

		// A signed request verifies, for its region; the query is one a
		// client can send (no space, control or non-ASCII byte, no '#').
		if !region.MatchString(reg) {
			reg = "us-east-1"
		}
		if strings.ContainsFunc(query, func(c rune) bool { return c <= ' ' || c >= 0x7f || c == '#' }) {
			query = url.QueryEscape(query)
		}
		for _, sign := range []func(*http.Request){
			func(r *http.Request) { sdkSign(t, r, body, testSecret, "ec2", reg, now) },
			func(r *http.Request) {
				if err := Sign(r, "ec2", reg, testKey, testSecret, now); err != nil {
					t.Fatal(err)
				}
			},
		} {
			r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:9081/", strings.NewReader(body))
			r.URL.Path, r.URL.RawQuery = "/"+strings.TrimLeft(path, "/"), query
			sign(r)
			if got, err := Verify(r, "ec2", testKey, testSecret, now); err != nil || got != reg {
				t.Errorf("signed for %s, path %q, query %q: %q, %v (%s)", reg, r.URL.Path, query, got, err, r.Header.Get("Authorization"))
			}
		}
	})
}
