package digitalocean

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

func TestValidateToken(t *testing.T) {
	hex64 := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		token string
		err   string
	}{
		{token: hex64},
		{token: "dop_v1_" + hex64},
		{token: "", err: "empty"},
		{token: "dop_v1_" + hex64 + "\n", err: "white space"},
		{token: "not-a-token", err: "this one has 11"},
		{token: strings.Repeat("z", 64), err: "hexadecimal"},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			err := ValidateToken(tt.token)
			if tt.err == "" && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("error = %v, want %q", err, tt.err)
			}
		})
	}
}

func TestCheckRetry(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name  string
		ctx   context.Context
		code  int
		err   error
		safe  bool // the request may be repeated (retrySafe)
		retry bool
	}{
		{name: "ok", code: 200, safe: true},
		{name: "not found", code: 404, safe: true},
		{name: "unprocessable", code: 422, safe: true},
		{name: "too many requests", code: 429, safe: true, retry: true},
		{name: "too many requests, create", code: 429, retry: true},
		{name: "server error", code: 500, safe: true, retry: true},
		{name: "server error, create", code: 500},
		{name: "unavailable", code: 503, safe: true, retry: true},
		{name: "not implemented", code: 501, safe: true},
		{name: "connection refused", err: &url.Error{Op: "Get", Err: errors.New("connection refused")}, safe: true, retry: true},
		{name: "connection refused, create", err: &url.Error{Op: "Post", Err: errors.New("connection refused")}},
		{name: "cancelled", ctx: cancelled, code: 500, safe: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			ctx = context.WithValue(ctx, retrySafeKey{}, tt.safe)
			var resp *http.Response
			if tt.err == nil {
				resp = &http.Response{StatusCode: tt.code, Header: http.Header{}}
			}
			got, _ := checkRetry(ctx, resp, tt.err)
			if got != tt.retry {
				t.Fatalf("retry = %v, want %v", got, tt.retry)
			}
		})
	}
}

func TestBackoffHonoursServer(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{name: "retry-after seconds", header: http.Header{"Retry-After": {"3"}}, want: 3 * time.Second},
		{name: "ratelimit-reset unix time", header: http.Header{"Ratelimit-Reset": {strconv.FormatInt(now.Add(5*time.Second).Unix(), 10)}}, want: 5 * time.Second},
		{name: "capped", header: http.Header{"Retry-After": {"3600"}}, want: 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := backoff(time.Millisecond, 10*time.Second, 1, &http.Response{StatusCode: 429, Header: tt.header})
			if got < tt.want-time.Second || got > tt.want {
				t.Fatalf("backoff = %v, want about %v", got, tt.want)
			}
		})
	}
	if got := backoff(100*time.Millisecond, time.Second, 0, &http.Response{StatusCode: 503, Header: http.Header{}}); got != 100*time.Millisecond {
		t.Fatalf("5xx first backoff = %v, want the minimum", got)
	}
}

func TestBatches(t *testing.T) {
	spec := func(name, size string) cloud.HostSpec {
		return cloud.HostSpec{Name: name, Region: "nyc3", Size: size, Image: "debian-12-x64", Tags: []string{"a"}}
	}
	var specs []cloud.HostSpec
	for i := range 12 {
		specs = append(specs, spec("h"+strconv.Itoa(i), "s-1vcpu-1gb"))
	}
	specs = append(specs, spec("big", "s-2vcpu-4gb"))
	got := batches(specs)
	sizes := []int{}
	for _, b := range got {
		sizes = append(sizes, len(b))
	}
	if want := []int{10, 2, 1}; !equalInts(sizes, want) {
		t.Fatalf("batch sizes %v, want %v", sizes, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNewRejectsBadEndpoint(t *testing.T) {
	for _, ep := range []string{"ftp://x", "not a url", "http://"} {
		if _, err := New(Config{Token: "t", APIEndpoint: ep}); err == nil {
			t.Errorf("New accepted endpoint %q", ep)
		}
	}
}
