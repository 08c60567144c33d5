package aws

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

// TestVerifySignature checks verifySignature against requests signed by
// the AWS SDK's own signer, and that any change to what was signed, or
// another key, date, service or clock, is refused.
func TestVerifySignature(t *testing.T) {
	now := time.Now()
	const body = "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3AName&Filter.1.Value.1=a+b"
	sign := func(secret, service, region string, at time.Time, mutate func(r *http.Request)) *http.Request {
		r, _ := http.NewRequest("POST", "http://127.0.0.1:9081/?x=1&a=b%20c", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		r.Header.Set("User-Agent", "test   agent")
		sum := sha256.Sum256([]byte(body))
		err := v4.NewSigner().SignHTTP(context.Background(), awssdk.Credentials{AccessKeyID: DevAccessKey, SecretAccessKey: secret},
			r, hex.EncodeToString(sum[:]), service, region, at)
		if err != nil {
			t.Fatal(err)
		}
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
		{"signed by the SDK", sign(DevSecretKey, "ec2", "eu-central-1", now, nil), true},
		{"another secret", sign("other", "ec2", "eu-central-1", now, nil), false},
		{"another service", sign(DevSecretKey, "s3", "eu-central-1", now, nil), false},
		{"too old", sign(DevSecretKey, "ec2", "eu-central-1", now.Add(-20*time.Minute), nil), false},
		{"body changed", sign(DevSecretKey, "ec2", "eu-central-1", now, func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(strings.Replace(body, "a+b", "a+c", 1)))
		}), false},
		{"query changed", sign(DevSecretKey, "ec2", "eu-central-1", now, func(r *http.Request) { r.URL.RawQuery = "x=2&a=b%20c" }), false},
		{"host changed", sign(DevSecretKey, "ec2", "eu-central-1", now, func(r *http.Request) { r.Host = "127.0.0.1:9082" }), false},
		{"path changed", sign(DevSecretKey, "ec2", "eu-central-1", now, func(r *http.Request) { r.URL.Path = "/aws/" }), false},
		{"date changed", sign(DevSecretKey, "ec2", "eu-central-1", now, func(r *http.Request) {
			r.Header.Set("X-Amz-Date", now.Add(time.Second).UTC().Format("20060102T150405Z"))
		}), false},
		{"signature changed", sign(DevSecretKey, "ec2", "eu-central-1", now, func(r *http.Request) {
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
			region, err := verifySignature(tc.r, DevAccessKey, DevSecretKey, now)
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
