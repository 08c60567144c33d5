package awsauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testKey    = "localcloud"
	testSecret = "localcloud-dev-secret"
)

// sdkSign signs r, whose body is body, by testKey and secret for service
// in region at at, with the AWS SDK's own signer.
func sdkSign(tb testing.TB, r *http.Request, body, secret, service, region string, at time.Time) {
	tb.Helper()
	sum := sha256.Sum256([]byte(body))
	err := v4.NewSigner().SignHTTP(context.Background(), awssdk.Credentials{AccessKeyID: testKey, SecretAccessKey: secret},
		r, hex.EncodeToString(sum[:]), service, region, at)
	if err != nil {
		tb.Fatal(err)
	}
}

// TestVerifySignature checks Verify against requests signed by
// the AWS SDK's own signer, and that any change to what was signed, or
// another key, date, service or clock, is refused.
func TestVerifySignature(t *testing.T) {
	now := time.Now()
	const body = "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3AName&Filter.1.Value.1=a+b"
	sign := func(secret, service, region string, at time.Time, mutate func(r *http.Request)) *http.Request {
		r, _ := http.NewRequest("POST", "http://127.0.0.1:9081/?x=1&a=b%20c", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		r.Header.Set("User-Agent", "test   agent")
		sdkSign(t, r, body, secret, service, region, at)
		if mutate != nil {
			mutate(r)
		}
		return r
	}
	for _, tc := range []struct {
		name string
		r    *http.Request
		ok   bool
	}{
		{"signed by the SDK", sign(testSecret, "ec2", "eu-central-1", now, nil), true},
		{"another secret", sign("other", "ec2", "eu-central-1", now, nil), false},
		{"another service", sign(testSecret, "s3", "eu-central-1", now, nil), false},
		{"too old", sign(testSecret, "ec2", "eu-central-1", now.Add(-20*time.Minute), nil), false},
		{"body changed", sign(testSecret, "ec2", "eu-central-1", now, func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(strings.Replace(body, "a+b", "a+c", 1)))
		}), false},
		{"query changed", sign(testSecret, "ec2", "eu-central-1", now, func(r *http.Request) { r.URL.RawQuery = "x=2&a=b%20c" }), false},
		{"host changed", sign(testSecret, "ec2", "eu-central-1", now, func(r *http.Request) { r.Host = "127.0.0.1:9082" }), false},
		{"path changed", sign(testSecret, "ec2", "eu-central-1", now, func(r *http.Request) { r.URL.Path = "/aws/" }), false},
		{"date changed", sign(testSecret, "ec2", "eu-central-1", now, func(r *http.Request) {
			r.Header.Set("X-Amz-Date", now.Add(time.Second).UTC().Format("20060102T150405Z"))
		}), false},
		{"signature changed", sign(testSecret, "ec2", "eu-central-1", now, func(r *http.Request) {
			a := r.Header.Get("Authorization")
			last := a[len(a)-1:]
			r.Header.Set("Authorization", a[:len(a)-1]+map[bool]string{true: "1", false: "0"}[last == "0"])
		}), false},
		{"not signed", func() *http.Request {
			r, _ := http.NewRequest("POST", "http://127.0.0.1:9081/", strings.NewReader(body))
			return r
		}(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			region, err := Verify(tc.r, "ec2", testKey, testSecret, now)
			if tc.ok && (err != nil || region != "eu-central-1") {
				t.Errorf("refused: %v (region %q)", err, region)
			}
			if !tc.ok && err == nil {
				t.Error("accepted")
			}
			if b, _ := io.ReadAll(tc.r.Body); tc.ok && string(b) != body {
				t.Errorf("body left %q", b)
			}
		})
	}
}

// A request is verified for the service it names: an ELBv2 request
// passes as elasticloadbalancing, not as ec2, and Region and Service read
// its scope.
func TestVerifyService(t *testing.T) {
	now := time.Now()
	r, _ := http.NewRequest("POST", "http://127.0.0.1:9082/", strings.NewReader("Action=DescribeLoadBalancers"))
	sdkSign(t, r, "Action=DescribeLoadBalancers", testSecret, "elasticloadbalancing", "us-east-1", now)
	if _, err := Verify(r, "ec2", testKey, testSecret, now); err == nil {
		t.Error("an ELBv2 request verified as EC2")
	}
	if region, err := Verify(r, "elasticloadbalancing", testKey, testSecret, now); err != nil || region != "us-east-1" {
		t.Errorf("as ELBv2: %q, %v", region, err)
	}
	a := r.Header.Get("Authorization")
	if Region(a) != "us-east-1" || Service(a) != "elasticloadbalancing" || Region("garbage") != "" {
		t.Errorf("Region %q, Service %q", Region(a), Service(a))
	}
}
