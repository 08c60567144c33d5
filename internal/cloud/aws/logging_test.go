package aws

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/terraform-plugin-log/tflogtest"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

const (
	throttleXML = `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>req-throttled</RequestID></Response>`
	regionsXML = `<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>req-ok</requestId>
<regionInfo><item><regionName>us-east-1</regionName><regionEndpoint>ec2.us-east-1.amazonaws.com</regionEndpoint><optInStatus>opt-in-not-required</optInStatus></item></regionInfo></DescribeRegionsResponse>`
	authXML = `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>AuthFailure</Code><Message>AWS was not able to validate the provided access credentials</Message></Error></Errors><RequestID>req-auth</RequestID></Response>`
)

// TestRequestLoggingAndRetries checks, against a local HTTP server, that a
// throttled call is retried by the SDK retryer and that each attempt is
// logged with tflog, without secrets.
func TestRequestLoggingAndRetries(t *testing.T) {
	var calls atomic.Int32
	var auth atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(body), "Action=DescribeRegions") {
			t.Errorf("unexpected request %s", body)
		}
		w.Header().Set("Content-Type", "text/xml")
		switch {
		case auth.Load():
			w.Header().Set("X-Amzn-Requestid", "req-auth") // as EC2 sends it
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, authXML)
		case calls.Add(1) == 1:
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, throttleXML)
		default:
			w.Header().Set("X-Amzn-Requestid", "req-ok")
			_, _ = io.WriteString(w, regionsXML)
		}
	}))
	defer srv.Close()

	var logs bytes.Buffer
	ctx := tflogtest.RootLogger(context.Background(), &logs)
	d, err := New(ctx, Config{
		Region: "us-east-1", AccessKey: "AKIDEXAMPLE", SecretKey: "s3cr3t-key-material", SessionToken: "t0ken-material",
		Endpoints: Endpoints{EC2: srv.URL}, HTTPClient: srv.Client(), MaxAttempts: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	regions, err := d.describeRegions(ctx)
	if err != nil || len(regions) != 1 || regions[0].Slug != "us-east-1" {
		t.Fatalf("describeRegions = %+v, %v", regions, err)
	}
	if calls.Load() != 2 {
		t.Errorf("HTTP calls = %d, want 2 (the throttled one retried)", calls.Load())
	}

	auth.Store(true)
	_, err = d.describeRegions(ctx)
	var ae *cloud.APIError
	if !errors.Is(err, cloud.ErrUnauthorized) || !errors.As(err, &ae) || ae.RequestID != "req-auth" || ae.StatusCode != 401 || !strings.Contains(ae.Message, "not able to validate") {
		t.Errorf("auth failure = %#v", err)
	}

	entries, err := tflogtest.MultilineJSONDecode(&logs)
	if err != nil {
		t.Fatal(err)
	}
	var attempts []map[string]any
	for _, e := range entries {
		if e["@module"] == "provider.aws" && e["operation"] == "DescribeRegions" {
			attempts = append(attempts, e)
		}
	}
	if len(attempts) != 3 {
		t.Fatalf("logged %d attempts, want 3: %v", len(attempts), entries)
	}
	first, second, third := attempts[0], attempts[1], attempts[2]
	if first["attempt"] != float64(1) || first["http_status"] != float64(503) || first["error_code"] != "RequestLimitExceeded" || first["service"] != "EC2" {
		t.Errorf("first attempt log = %v", first)
	}
	if second["attempt"] != float64(2) || second["http_status"] != float64(200) || second["request_id"] != "req-ok" || second["duration_ms"] == nil || second["region"] != "us-east-1" {
		t.Errorf("second attempt log = %v", second)
	}
	if third["attempt"] != float64(1) || third["error_code"] != "AuthFailure" {
		t.Errorf("third attempt log = %v", third)
	}
	for _, secret := range []string{"s3cr3t-key-material", "t0ken-material", "AKIDEXAMPLE"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
}
