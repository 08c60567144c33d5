// Package digitalocean is the DigitalOcean driver behind internal/cloud,
// built on godo. It never sees Terraform: the provider hands it a Config.
package digitalocean

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	"golang.org/x/time/rate"
)

// DefaultAPIEndpoint is DigitalOcean's public API.
const DefaultAPIEndpoint = "https://api.digitalocean.com"

const logSubsystem = "digitalocean"

// Config configures the driver. Zero values take the defaults noted.
type Config struct {
	Token             string
	APIEndpoint       string        // default DefaultAPIEndpoint
	RequestsPerSecond float64       // client-side limit; 0 means none
	HTTPRetryMax      int           // retries after the first attempt; default 4, negative disables
	RetryWaitMin      time.Duration // default 1s
	RetryWaitMax      time.Duration // default 30s
	UserAgent         string
	PollInterval      time.Duration // waiters; default 2s
}

func (c *Config) withDefaults() Config {
	out := *c
	if out.APIEndpoint == "" {
		out.APIEndpoint = DefaultAPIEndpoint
	}
	if out.HTTPRetryMax == 0 {
		out.HTTPRetryMax = 4
	}
	if out.HTTPRetryMax < 0 {
		out.HTTPRetryMax = 0
	}
	if out.RetryWaitMin == 0 {
		out.RetryWaitMin = time.Second
	}
	if out.RetryWaitMax == 0 {
		out.RetryWaitMax = 30 * time.Second
	}
	if out.PollInterval == 0 {
		out.PollInterval = 2 * time.Second
	}
	return out
}

// ValidateToken checks a token's form without calling the API: DigitalOcean
// tokens are 64 hex characters, optionally behind a dop_v1_/doo_v1_/dor_v1_
// prefix. Local clouds accept other tokens, so the provider only applies
// this to the public endpoint.
func ValidateToken(token string) error {
	if token == "" {
		return errors.New("the token is empty")
	}
	if strings.ContainsAny(token, " \t\r\n") {
		return errors.New("the token contains white space")
	}
	t := token
	for _, p := range []string{"dop_v1_", "doo_v1_", "dor_v1_"} {
		t = strings.TrimPrefix(t, p)
	}
	if len(t) != 64 {
		return fmt.Errorf("a DigitalOcean token is 64 hexadecimal characters (optionally prefixed dop_v1_), this one has %d", len(t))
	}
	for _, r := range t {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return errors.New("a DigitalOcean token is hexadecimal; this one has other characters")
		}
	}
	return nil
}

// newHTTPClient builds the stack every request goes through:
// retries (429 honouring Retry-After / RateLimit-Reset; 5xx and connection
// errors only for requests safe to repeat, see retrySafe; capped
// exponential backoff) → client-side rate limit → log line per attempt →
// bearer token → transport.
func newHTTPClient(cfg Config) *http.Client {
	var limiter *rate.Limiter
	if cfg.RequestsPerSecond > 0 {
		burst := int(math.Max(1, math.Ceil(cfg.RequestsPerSecond)))
		limiter = rate.NewLimiter(rate.Limit(cfg.RequestsPerSecond), burst)
	}
	rc := retryablehttp.NewClient()
	rc.Logger = nil
	rc.RetryMax = cfg.HTTPRetryMax
	rc.RetryWaitMin = cfg.RetryWaitMin
	rc.RetryWaitMax = cfg.RetryWaitMax
	rc.CheckRetry = checkRetry
	rc.Backoff = backoff
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	rc.HTTPClient = &http.Client{Transport: &transport{
		base:    cleanhttp.DefaultPooledTransport(),
		token:   cfg.Token,
		limiter: limiter,
		agent:   cfg.UserAgent,
	}}
	return &http.Client{Transport: &retryTransport{rt: &retryablehttp.RoundTripper{Client: rc}}}
}

// retryTransport tells checkRetry, through the request's context, whether
// the request may be repeated after a 5xx or a connection error.
type retryTransport struct{ rt http.RoundTripper }

type retrySafeKey struct{}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.rt.RoundTrip(req.WithContext(context.WithValue(req.Context(), retrySafeKey{}, retrySafe(req))))
}

// retrySafe reports whether repeating req is harmless when the server may
// already have acted on it: after a 5xx or a broken connection the first
// attempt may have taken effect. GET, HEAD, OPTIONS, PUT and DELETE are
// idempotent. Of the POSTs the driver sends, these only set a state, so a
// repeat ends where one request would:
//   - /v2/tags (creating a tag that exists answers 409, which TagHost
//     accepts) and /v2/tags/<tag>/resources (tagging twice is tagging once);
//   - droplet and reserved IP actions (/v2/droplets/<id>/actions,
//     /v2/reserved_ips/<ip>/actions): rename, power off/on, resize, assign,
//     unassign. At worst a repeat is refused (422, an event is pending) and
//     the caller sees an error; it never makes anything twice.
//
// Creates are not: a droplet create repeated after a 5xx that DigitalOcean
// acted on makes a second droplet, a reserved IP create a second address.
// CreateHosts looks its droplets up before creating again (createBatch);
// CreateFloatingIP does not repeat. Assigning resources to a project (a
// move) is safe to repeat.
func retrySafe(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	case http.MethodPost:
		p := strings.TrimSuffix(req.URL.Path, "/")
		parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
		n := len(parts)
		switch {
		case n >= 2 && parts[n-2] == "v2" && parts[n-1] == "tags":
			return true
		case n >= 4 && parts[n-4] == "v2" && (parts[n-3] == "tags" || parts[n-3] == "projects") && parts[n-1] == "resources":
			return true
		case n >= 4 && parts[n-4] == "v2" && (parts[n-3] == "droplets" || parts[n-3] == "reserved_ips") && parts[n-1] == "actions":
			return true
		}
	}
	return false
}

// checkRetry retries 429 (the server did not act), and 5xx (but 501) and
// connection errors for requests safe to repeat (retrySafe, read from the
// context); never a cancelled context.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	safe, _ := ctx.Value(retrySafeKey{}).(bool)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) && errors.Is(uerr.Err, context.Canceled) {
			return false, err
		}
		return safe, nil
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return true, nil
	}
	if resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented {
		return safe, nil
	}
	return false, nil
}

// backoff waits as the server asks on 429 (Retry-After in seconds, or
// RateLimit-Reset as a Unix time), capped at max; otherwise exponential.
func backoff(waitMin, waitMax time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
		if d, ok := serverWait(resp.Header, time.Now()); ok {
			return min(d, waitMax)
		}
	}
	return retryablehttp.DefaultBackoff(waitMin, waitMax, attempt, nil)
}

func serverWait(h http.Header, now time.Time) (time.Duration, bool) {
	if s := h.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			return time.Duration(n) * time.Second, true
		}
		if t, err := http.ParseTime(s); err == nil {
			return max(0, t.Sub(now)), true
		}
	}
	if s := h.Get("RateLimit-Reset"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return max(0, time.Unix(n, 0).Sub(now)), true
		}
	}
	return 0, false
}

type transport struct {
	base    http.RoundTripper
	token   string
	limiter *rate.Limiter
	agent   string
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if t.limiter != nil {
		if err := t.limiter.Wait(ctx); err != nil {
			return nil, err
		}
	}
	r := req.Clone(ctx)
	r.Header.Set("Authorization", "Bearer "+t.token)
	if t.agent != "" {
		r.Header.Set("User-Agent", t.agent)
	}
	start := time.Now()
	resp, err := t.base.RoundTrip(r)
	fields := map[string]any{
		"method":      req.Method,
		"path":        req.URL.Path,
		"duration_ms": time.Since(start).Milliseconds(),
	}
	if req.URL.RawQuery != "" {
		fields["query"] = req.URL.RawQuery
	}
	ctx = tflog.NewSubsystem(ctx, logSubsystem)
	ctx = tflog.SubsystemMaskAllFieldValuesStrings(ctx, logSubsystem, t.token)
	if err != nil {
		fields["error"] = err.Error()
		tflog.SubsystemDebug(ctx, logSubsystem, "DigitalOcean API request failed", fields)
		return nil, err
	}
	fields["status"] = resp.StatusCode
	if id := resp.Header.Get("X-Request-Id"); id != "" {
		fields["request_id"] = id
	}
	tflog.SubsystemDebug(ctx, logSubsystem, "DigitalOcean API request", fields)
	return resp, nil
}

// Driver is the DigitalOcean driver.
type Driver struct {
	cfg    Config
	client *godo.Client
	offers offeringsCache
	// unsaved is the project that marks what applies are creating.
	unsaved unsavedProjects
}

// New builds a driver. It does not call the API.
func New(cfg Config) (*Driver, error) {
	cfg = cfg.withDefaults()
	if cfg.Token == "" {
		return nil, errors.New("a DigitalOcean token is required")
	}
	u, err := url.Parse(cfg.APIEndpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("api_endpoint %q is not an http(s) URL", cfg.APIEndpoint)
	}
	base := strings.TrimSuffix(cfg.APIEndpoint, "/") + "/"
	opts := []godo.ClientOpt{godo.SetBaseURL(base)}
	if cfg.UserAgent != "" {
		opts = append(opts, godo.SetUserAgent(cfg.UserAgent))
	}
	c, err := godo.New(newHTTPClient(cfg), opts...)
	if err != nil {
		return nil, fmt.Errorf("configuring the DigitalOcean client: %w", err)
	}
	return &Driver{cfg: cfg, client: c}, nil
}
