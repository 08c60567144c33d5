// Package swarm drives the Docker Engine on Haddock hosts over mutual TLS:
// connecting, waiting for an engine to answer, reading its state, and (in
// operations.go) the Swarm operations built on top.
//
// Every connection verifies the engine by the cluster CA and by the host's
// identity (pki.HostIdentity), never by the address dialled, so a host
// reached through a floating IP, a private address or a changed public
// address verifies, and another host answering on an address is refused.
// The plain-text port 2375 and non-TLS endpoints are never used.
//
// The Docker SDK stays inside this package: the Client's methods return
// Haddock's own types, and the SDK is reached through the narrow engineAPI
// interface so tests can substitute it.
package swarm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/client"

	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

// Ports of the Docker Engine API.
const (
	// EnginePort is the mTLS port every Haddock engine listens on.
	EnginePort = 2376
	// PlainPort is the unauthenticated plain-text port. Haddock refuses it.
	PlainPort = 2375
)

// Timeouts of the transport. Requests have no overall timeout: some Docker
// API calls (swarm init, image pulls, events) legitimately run long; callers
// bound them with their context.
const (
	dialTimeout         = 10 * time.Second
	tlsHandshakeTimeout = 10 * time.Second
	idleConnTimeout     = 90 * time.Second
	// defaultPingTimeout bounds a Ping whose context has no deadline.
	defaultPingTimeout = 10 * time.Second
	// DefaultPollInterval is WaitReady's interval when given none.
	DefaultPollInterval = 2 * time.Second
)

const userAgent = "haddock-terraform-provider"

// Endpoint is how to reach one host's engine. The key is secret.
type Endpoint struct {
	// Host is "tcp://address:2376"; the address may be any of the host's
	// (public, private, floating). "https://" is accepted as a synonym of
	// "tcp://", a missing scheme means tcp and a missing port 2376.
	Host string
	// CACertPEM is the cluster CA; CertPEM and KeyPEM the provider's client
	// certificate (pki.CA.IssueClient).
	CACertPEM []byte
	CertPEM   []byte
	KeyPEM    []byte
	// Identity is the name the engine's certificate must carry,
	// pki.HostIdentity(hostID).
	Identity string
}

// engineAPI is the part of the Docker SDK client Haddock uses. Swarm
// operations extend it as they are implemented.
type engineAPI interface {
	Ping(ctx context.Context) (types.Ping, error)
	Info(ctx context.Context) (system.Info, error)
	ClientVersion() string
	Close() error
}

var _ engineAPI = (*client.Client)(nil)

// Client talks to one host's Docker Engine over mTLS. It is safe for
// concurrent use.
type Client struct {
	host     string
	identity string
	api      engineAPI
}

// Connect returns a client for the engine at ep. It validates the endpoint
// and the TLS material but does not contact the engine (the host may still
// be booting): use Ping or WaitReady. The API version is negotiated with the
// engine on first use.
func Connect(ctx context.Context, ep Endpoint) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	host, err := NormalizeHost(ep.Host)
	if err != nil {
		return nil, fmt.Errorf("connecting to docker engine: %w", err)
	}
	if len(ep.CACertPEM) == 0 || len(ep.CertPEM) == 0 || len(ep.KeyPEM) == 0 {
		return nil, fmt.Errorf("connecting to docker engine at %s: TLS CA, client certificate and key are all required: Haddock only talks to engines over mutual TLS", host)
	}
	tlsCfg, err := pki.ClientTLSConfig(ep.CACertPEM, ep.CertPEM, ep.KeyPEM, ep.Identity)
	if err != nil {
		return nil, fmt.Errorf("connecting to docker engine at %s: %w", host, err)
	}
	transport := &http.Transport{
		// Honour HTTPS_PROXY like the docker CLI; TLS is end to end through
		// a CONNECT tunnel, and ServerName stays the identity.
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   tlsHandshakeTimeout,
		IdleConnTimeout:       idleConnTimeout,
		MaxIdleConnsPerHost:   4,
		ExpectContinueTimeout: time.Second,
	}
	// WithHost must come before WithHTTPClient: it reconfigures the
	// transport it finds (dialer, proxy), and ours is already complete.
	api, err := client.NewClientWithOpts(
		client.WithHost(host),
		client.WithHTTPClient(&http.Client{Transport: transport}),
		client.WithAPIVersionNegotiation(),
		client.WithUserAgent(userAgent),
	)
	if err != nil {
		transport.CloseIdleConnections()
		return nil, fmt.Errorf("connecting to docker engine at %s: %w", host, err)
	}
	return &Client{host: host, identity: ep.Identity, api: api}, nil
}

// NormalizeHost checks a Docker host address and returns it as
// "tcp://address:port". It refuses anything that is not TCP with TLS:
// unix sockets, ssh, plain http and the plain-text port 2375.
func NormalizeHost(host string) (string, error) {
	h := strings.TrimSpace(host)
	if h == "" {
		return "", errors.New("endpoint host is empty; want tcp://<address>:2376")
	}
	if !strings.Contains(h, "://") {
		h = "tcp://" + h
	}
	u, err := url.Parse(h)
	if err != nil {
		return "", fmt.Errorf("endpoint %q is not a valid address: %w", host, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "tcp", "https":
	case "http":
		return "", fmt.Errorf("endpoint %q is plain HTTP; Haddock only talks to engines over mutual TLS (tcp://<address>:%d)", host, EnginePort)
	default:
		return "", fmt.Errorf("endpoint %q uses %s://; Haddock only talks to engines over mutual TLS (tcp://<address>:%d)", host, u.Scheme, EnginePort)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("endpoint %q must be tcp://<address>:<port> with nothing else", host)
	}
	addr := u.Hostname()
	if addr == "" {
		return "", fmt.Errorf("endpoint %q has no address", host)
	}
	port := EnginePort
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return "", fmt.Errorf("endpoint %q has an invalid port", host)
		}
		port = n
	}
	if port == PlainPort {
		return "", fmt.Errorf("endpoint %q is the plain-text Docker port %d, which Haddock never uses; engines listen with mutual TLS on %d", host, PlainPort, EnginePort)
	}
	return "tcp://" + net.JoinHostPort(addr, strconv.Itoa(port)), nil
}

// Host returns the engine address, "tcp://address:port".
func (c *Client) Host() string { return c.host }

// Identity returns the identity the engine's certificate is verified
// against.
func (c *Client) Identity() string { return c.identity }

// APIVersion returns the Docker API version in use: the negotiated one once
// a versioned call has been made, the SDK's default before.
func (c *Client) APIVersion() string { return c.api.ClientVersion() }

// Ping checks that the engine answers over mTLS. Without a deadline on ctx
// it gives up after 10 seconds.
func (c *Client) Ping(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultPingTimeout)
		defer cancel()
	}
	if _, err := c.api.Ping(ctx); err != nil {
		return fmt.Errorf("pinging docker engine %s at %s: %w", c.identity, c.host, err)
	}
	return nil
}

// WaitReady pings the engine every interval (DefaultPollInterval when
// interval <= 0) until it answers over mTLS or ctx ends. Every error is
// retried — connection refused while the host boots, but also a
// certificate for another identity, since a floating IP may still point at
// the previous host. When ctx ends the error (a *wait.TimeoutError) wraps
// ctx.Err() and the last ping error.
func (c *Client) WaitReady(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	return wait.Until(ctx, wait.Options{What: "docker engine " + c.identity + " at " + c.host, Interval: interval},
		func(ctx context.Context) (bool, string, error) {
			attemptCtx, cancel := context.WithTimeout(ctx, defaultPingTimeout)
			defer cancel()
			return true, "", wait.Retry(c.Ping(attemptCtx))
		})
}

// Close releases the client's idle connections.
func (c *Client) Close() error {
	if err := c.api.Close(); err != nil {
		return fmt.Errorf("closing docker client for %s: %w", c.host, err)
	}
	return nil
}
