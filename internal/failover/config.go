package failover

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud/aws"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud/digitalocean"
	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
)

// DefaultPollInterval is how often the agent reads the node list.
const DefaultPollInterval = time.Second

// DefaultCloudRefresh is how often the leader's agent re-reads the floating
// IP and the managers' hosts while nothing needs doing. A decision to move
// always re-reads them first.
const DefaultCloudRefresh = 30 * time.Second

// Config is the agent's configuration: the JSON document of its swarm
// secret (SecretTarget, /run/secrets/haddock-agent in the container).
//
//	{"cloud": "digitalocean", "token": "dop_v1_...", "floating_ip_id": "203.0.113.7",
//	 "cluster_uid": "k3x9...", "poll_interval": "1s"}
//	{"cloud": "aws", "region": "eu-central-1", "access_key": "AKIA...", "secret_key": "...",
//	 "floating_ip_id": "eipalloc-...", "cluster_uid": "k3x9..."}
//
// It holds credentials: String redacts them, and the agent never logs
// anything else of it.
type Config struct {
	// Cloud is "digitalocean" or "aws".
	Cloud cloud.Name `json:"cloud"`
	// Region is the AWS region (required for AWS); DigitalOcean ignores it.
	Region string `json:"region,omitempty"`
	// Token is the DigitalOcean API token.
	Token string `json:"token,omitempty"`
	// AccessKey, SecretKey and SessionToken are AWS credentials; without
	// them the AWS SDK's default chain (an instance profile) is used.
	AccessKey    string `json:"access_key,omitempty"`
	SecretKey    string `json:"secret_key,omitempty"`
	SessionToken string `json:"session_token,omitempty"`
	// APIEndpoint replaces the vendor's API base URL: DigitalOcean's API
	// (localcloud's URL), or the EC2 endpoint on AWS.
	APIEndpoint string `json:"api_endpoint,omitempty"`
	// FloatingIPID is the floating IP the agent keeps on a Ready manager:
	// the address on DigitalOcean, the allocation id on AWS.
	FloatingIPID string `json:"floating_ip_id"`
	// ClusterUID is the cluster's uid: its managers' hosts carry the tag
	// cluster.GroupTag(uid, "manager").
	ClusterUID string `json:"cluster_uid"`
	// PollInterval is how often the node list is read; default 1s.
	PollInterval Duration `json:"poll_interval,omitempty"`
	// CloudRefresh is how often the floating IP and the hosts are re-read
	// while nothing needs doing; default 30s.
	CloudRefresh Duration `json:"cloud_refresh,omitempty"`
}

// Duration is a time.Duration written in JSON as a Go duration string
// ("1s", "500ms") or a number of seconds.
type Duration time.Duration

// MarshalJSON writes a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "1s" or 1.5 (seconds).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("want a duration (\"1s\") or a number of seconds, got %s", b)
	}
	*d = Duration(secs * float64(time.Second))
	return nil
}

// ParseConfig reads a configuration, fills the defaults and validates it.
// Unknown fields are refused: a misspelt key would otherwise be ignored.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("reading the agent's configuration: %w", err)
	}
	if c.PollInterval == 0 {
		c.PollInterval = Duration(DefaultPollInterval)
	}
	if c.CloudRefresh == 0 {
		c.CloudRefresh = Duration(DefaultCloudRefresh)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// LoadConfig reads the configuration file at path (the swarm secret).
func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading the agent's configuration: %w", err)
	}
	return ParseConfig(b)
}

// Validate says what is missing or wrong, never showing a credential.
func (c Config) Validate() error {
	var errs []error
	switch c.Cloud {
	case cloud.DigitalOcean:
		if c.Token == "" {
			errs = append(errs, errors.New("token is required for digitalocean"))
		}
	case cloud.AWS:
		if c.Region == "" {
			errs = append(errs, errors.New("region is required for aws"))
		}
		if (c.AccessKey == "") != (c.SecretKey == "") {
			errs = append(errs, errors.New("access_key and secret_key go together"))
		}
	default:
		errs = append(errs, fmt.Errorf("cloud %q: want digitalocean or aws", c.Cloud))
	}
	if c.FloatingIPID == "" {
		errs = append(errs, errors.New("floating_ip_id is required"))
	}
	if err := cluster.ValidateClusterUID(c.ClusterUID); err != nil {
		errs = append(errs, err)
	}
	if c.PollInterval < Duration(100*time.Millisecond) {
		errs = append(errs, fmt.Errorf("poll_interval %s: at least 100ms", time.Duration(c.PollInterval)))
	}
	if c.CloudRefresh < c.PollInterval {
		errs = append(errs, fmt.Errorf("cloud_refresh %s: at least poll_interval", time.Duration(c.CloudRefresh)))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("the agent's configuration: %w", err)
	}
	return nil
}

// String shows the configuration with every credential redacted.
func (c Config) String() string {
	red := func(s string) string {
		if s == "" {
			return `""`
		}
		return "<redacted>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "cloud=%s", c.Cloud)
	if c.Region != "" {
		fmt.Fprintf(&b, " region=%s", c.Region)
	}
	if c.APIEndpoint != "" {
		fmt.Fprintf(&b, " api_endpoint=%s", c.APIEndpoint)
	}
	fmt.Fprintf(&b, " floating_ip_id=%s cluster_uid=%s poll_interval=%s cloud_refresh=%s",
		c.FloatingIPID, c.ClusterUID, time.Duration(c.PollInterval), time.Duration(c.CloudRefresh))
	switch c.Cloud {
	case cloud.AWS:
		fmt.Fprintf(&b, " access_key=%s secret_key=%s session_token=%s", red(c.AccessKey), red(c.SecretKey), red(c.SessionToken))
	default:
		fmt.Fprintf(&b, " token=%s", red(c.Token))
	}
	return b.String()
}

// GoString is String, so that %#v redacts too.
func (c Config) GoString() string { return c.String() }

// Cloud is what the agent needs of a vendor driver.
type Cloud interface {
	ListHosts(ctx context.Context, tag string) ([]cloud.Host, error)
	GetFloatingIP(ctx context.Context, id string) (*cloud.FloatingIP, error)
	AssignFloatingIP(ctx context.Context, id, hostID string) error
}

// NewCloud builds the vendor driver the configuration names, tuned for a
// loop that must react within seconds: short retry waits, a fast action
// poll. Each round bounds its calls with its own deadline.
func NewCloud(ctx context.Context, c Config) (Cloud, error) {
	switch c.Cloud {
	case cloud.DigitalOcean:
		return digitalocean.New(digitalocean.Config{
			Token: c.Token, APIEndpoint: c.APIEndpoint, UserAgent: "haddock-agent",
			HTTPRetryMax: 2, RetryWaitMin: 200 * time.Millisecond, RetryWaitMax: 2 * time.Second,
			PollInterval: 250 * time.Millisecond,
		})
	case cloud.AWS:
		return aws.New(ctx, aws.Config{
			Region: c.Region, AccessKey: c.AccessKey, SecretKey: c.SecretKey, SessionToken: c.SessionToken,
			Endpoints: aws.Endpoints{EC2: c.APIEndpoint}, MaxAttempts: 3,
		})
	}
	return nil, fmt.Errorf("cloud %q: want digitalocean or aws", c.Cloud)
}
