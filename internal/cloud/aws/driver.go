package aws

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

var (
	_ cloud.Driver        = (*Driver)(nil)
	_ cloud.FloatingIPs   = (*Driver)(nil)
	_ cloud.LoadBalancers = (*Driver)(nil)
	_ cloud.Databases     = (*Driver)(nil)
)

// Config configures the AWS driver. The provider fills it from its own
// schema and environment variables; the driver reads no environment of its
// own beyond what the AWS SDK's default credential chain does when AccessKey
// and SecretKey are empty.
type Config struct {
	// Region is the region the driver works in. When empty, the SDK's
	// default chain (AWS_REGION, the shared config profile) decides.
	Region string
	// AccessKey and SecretKey, when both set, are used as static
	// credentials (with SessionToken for temporary ones). When both are
	// empty, the SDK's default chain is used: environment, shared
	// credentials and config files (Profile), SSO, IMDS.
	AccessKey    string
	SecretKey    string
	SessionToken string
	// Profile names a shared config profile.
	Profile string
	// Endpoints overrides service endpoints, e.g. for moto.
	Endpoints Endpoints
	// RetryMode is "standard" (the default) or "adaptive" (client-side rate
	// limiting on throttling errors).
	RetryMode string
	// MaxAttempts caps the attempts per API call, retries included; 0 keeps
	// the SDK default (3).
	MaxAttempts int
	// HTTPClient, when set, carries the requests of every service the
	// driver calls (EC2, ELBv2, RDS, Secrets Manager, STS). Credential
	// providers (SSO, assume role, IMDS) keep the SDK's own client, which
	// honours a CA bundle from AWS_CA_BUNDLE or the shared config: the SDK
	// cannot add one to a caller's *http.Client.
	HTTPClient *http.Client
}

// Endpoints are base URLs that replace the AWS endpoints of each service;
// "" keeps AWS's (or what AWS_ENDPOINT_URL_<SERVICE> says).
type Endpoints struct {
	EC2   string
	ELBv2 string
	RDS   string
	// SecretsManager serves the passwords RDS manages (Credentials). It
	// goes with RDS: an RDS endpoint of an emulator names secrets that
	// only the emulator's Secrets Manager holds.
	SecretsManager string
	STS            string
}

// timing holds the driver's delays, so unit tests can shrink them.
type timing struct {
	// propagation bounds retries on eventual-consistency errors, such as
	// tagging an instance RunInstances has just returned.
	propagation time.Duration
	// stateChange bounds waits for an instance to leave "pending" before an
	// Elastic IP can be associated with it.
	stateChange time.Duration
	minDelay    time.Duration
	maxDelay    time.Duration
	// poll is the interval of the exported waiters.
	poll time.Duration
	// database bounds waits for an RDS DB instance to become available or
	// to be deleted: creating one, Multi-AZ above all, takes tens of
	// minutes.
	database time.Duration
}

// cleanupTimeout bounds a request that undoes part of a failed operation
// (releasing an Elastic IP whose association failed, starting an instance a
// failed resize stopped); it runs on a context of its own, since the
// caller's may have ended.
const cleanupTimeout = time.Minute

var defaultTiming = timing{
	propagation: 2 * time.Minute,
	stateChange: 10 * time.Minute,
	minDelay:    500 * time.Millisecond,
	maxDelay:    10 * time.Second,
	poll:        5 * time.Second,
	database:    90 * time.Minute,
}

// Driver is the AWS implementation of cloud.Driver, cloud.FloatingIPs,
// cloud.LoadBalancers and cloud.Databases. It works in one region
// (Region); ForRegion gives a sibling for another region sharing
// credentials and the offerings cache. It is safe for concurrent use.
type Driver struct {
	region    string
	ec2       EC2API
	clientFor func(region string) EC2API
	sts       STSAPI
	timing    timing

	// elbv2 is nil in drivers built by NewWithAPI; elbv2For builds the
	// client of another region, for ForRegion. So are rds and secrets.
	elbv2      ELBv2API
	elbv2For   func(region string) ELBv2API
	rds        RDSAPI
	rdsFor     func(region string) RDSAPI
	secrets    SecretsAPI
	secretsFor func(region string) SecretsAPI

	offerings *offeringsCache
	sg        *securityGroupCache
	siblings  *siblings
}

// siblings are the drivers of one configuration, one per region.
type siblings struct {
	mu      sync.Mutex
	drivers map[string]*Driver
}

// New builds a driver from cfg. It makes no API call.
func New(ctx context.Context, cfg Config) (*Driver, error) {
	sdkCfg, err := loadSDKConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	ec2Opts := func(o *ec2.Options) {
		if cfg.Endpoints.EC2 != "" {
			o.BaseEndpoint = awssdk.String(cfg.Endpoints.EC2)
		}
		if cfg.HTTPClient != nil {
			o.HTTPClient = cfg.HTTPClient
		}
	}
	clientFor := func(region string) EC2API {
		return ec2.NewFromConfig(sdkCfg, ec2Opts, func(o *ec2.Options) { o.Region = region })
	}
	stsClient := sts.NewFromConfig(sdkCfg, func(o *sts.Options) {
		if cfg.Endpoints.STS != "" {
			o.BaseEndpoint = awssdk.String(cfg.Endpoints.STS)
		}
		if cfg.HTTPClient != nil {
			o.HTTPClient = cfg.HTTPClient
		}
	})
	elbv2For := func(region string) ELBv2API {
		return elasticloadbalancingv2.NewFromConfig(sdkCfg, func(o *elasticloadbalancingv2.Options) {
			o.Region = region
			if cfg.Endpoints.ELBv2 != "" {
				o.BaseEndpoint = awssdk.String(cfg.Endpoints.ELBv2)
			}
			if cfg.HTTPClient != nil {
				o.HTTPClient = cfg.HTTPClient
			}
		})
	}
	rdsFor := func(region string) RDSAPI {
		return rds.NewFromConfig(sdkCfg, func(o *rds.Options) {
			o.Region = region
			if cfg.Endpoints.RDS != "" {
				o.BaseEndpoint = awssdk.String(cfg.Endpoints.RDS)
			}
			if cfg.HTTPClient != nil {
				o.HTTPClient = cfg.HTTPClient
			}
		})
	}
	secretsFor := func(region string) SecretsAPI {
		return secretsmanager.NewFromConfig(sdkCfg, func(o *secretsmanager.Options) {
			o.Region = region
			if cfg.Endpoints.SecretsManager != "" {
				o.BaseEndpoint = awssdk.String(cfg.Endpoints.SecretsManager)
			}
			if cfg.HTTPClient != nil {
				o.HTTPClient = cfg.HTTPClient
			}
		})
	}
	d := newDriver(sdkCfg.Region, clientFor(sdkCfg.Region), clientFor)
	d.sts = stsClient
	d.elbv2, d.elbv2For = elbv2For(sdkCfg.Region), elbv2For
	d.rds, d.rdsFor = rdsFor(sdkCfg.Region), rdsFor
	d.secrets, d.secretsFor = secretsFor(sdkCfg.Region), secretsFor
	return d, nil
}

// NewWithAPI builds a driver over an EC2API of the caller's, typically a
// fake in tests. clientFor gives the client of another region (Offerings
// asks every region which instance types it offers); when nil, api serves
// every region.
func NewWithAPI(region string, api EC2API, clientFor func(region string) EC2API) *Driver {
	if clientFor == nil {
		clientFor = func(string) EC2API { return api }
	}
	return newDriver(region, api, clientFor)
}

func newDriver(region string, api EC2API, clientFor func(string) EC2API) *Driver {
	d := &Driver{
		region:    region,
		ec2:       api,
		clientFor: clientFor,
		timing:    defaultTiming,
		offerings: newOfferingsCache(),
		sg:        &securityGroupCache{},
		siblings:  &siblings{drivers: map[string]*Driver{}},
	}
	d.siblings.drivers[region] = d
	return d
}

func loadSDKConfig(ctx context.Context, cfg Config) (awssdk.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	if cfg.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(cfg.Profile))
	}
	switch {
	case cfg.AccessKey != "" && cfg.SecretKey != "":
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken)))
	case cfg.AccessKey != "" || cfg.SecretKey != "":
		return awssdk.Config{}, errors.New("aws: access key and secret key must be set together")
	}
	switch cfg.RetryMode {
	case "":
	case string(awssdk.RetryModeStandard), string(awssdk.RetryModeAdaptive):
		opts = append(opts, awsconfig.WithRetryMode(awssdk.RetryMode(cfg.RetryMode)))
	default:
		return awssdk.Config{}, fmt.Errorf("aws: retry mode %q is not one of %q, %q", cfg.RetryMode, awssdk.RetryModeStandard, awssdk.RetryModeAdaptive)
	}
	if cfg.MaxAttempts < 0 {
		return awssdk.Config{}, fmt.Errorf("aws: max attempts must not be negative, got %d", cfg.MaxAttempts)
	}
	if cfg.MaxAttempts > 0 {
		opts = append(opts, awsconfig.WithRetryMaxAttempts(cfg.MaxAttempts))
	}
	opts = append(opts, awsconfig.WithAPIOptions(apiOptions))

	sdkCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return awssdk.Config{}, fmt.Errorf("aws: loading configuration: %w", err)
	}
	if sdkCfg.Region == "" {
		return awssdk.Config{}, errors.New("aws: no region: set the region in the provider configuration, AWS_REGION, or the shared config profile")
	}
	return sdkCfg, nil
}

// Cloud names the vendor.
func (d *Driver) Cloud() cloud.Name { return cloud.AWS }

// Region is the region the driver works in.
func (d *Driver) Region() string { return d.region }

// ForRegion returns the driver for another region, sharing this one's
// credentials, settings and offerings cache; the same region always gives
// the same driver. EC2 is regional: a host, an Elastic IP or a security
// group lives in exactly one region, and each driver only sees its own.
func (d *Driver) ForRegion(region string) *Driver {
	if region == "" || region == d.region {
		return d
	}
	d.siblings.mu.Lock()
	defer d.siblings.mu.Unlock()
	if s, ok := d.siblings.drivers[region]; ok {
		return s
	}
	var elb ELBv2API
	if d.elbv2For != nil {
		elb = d.elbv2For(region)
	}
	var rdsAPI RDSAPI
	if d.rdsFor != nil {
		rdsAPI = d.rdsFor(region)
	}
	var secrets SecretsAPI
	if d.secretsFor != nil {
		secrets = d.secretsFor(region)
	}
	s := &Driver{
		region:     region,
		ec2:        d.clientFor(region),
		clientFor:  d.clientFor,
		sts:        d.sts,
		elbv2:      elb,
		elbv2For:   d.elbv2For,
		rds:        rdsAPI,
		rdsFor:     d.rdsFor,
		secrets:    secrets,
		secretsFor: d.secretsFor,
		timing:     d.timing,
		offerings:  d.offerings,
		sg:         &securityGroupCache{},
		siblings:   d.siblings,
	}
	d.siblings.drivers[region] = s
	return s
}

// AccountID returns the AWS account the credentials belong to
// (sts:GetCallerIdentity); the provider can call it to check credentials.
func (d *Driver) AccountID(ctx context.Context) (string, error) {
	if d.sts == nil {
		return "", errors.New("aws: this driver has no STS client")
	}
	out, err := d.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("checking AWS credentials: %w", mapError(err))
	}
	return awssdk.ToString(out.Account), nil
}

// checkRegion rejects a vendor-native region other than the driver's.
func (d *Driver) checkRegion(region string) error {
	if region == "" || region == d.region {
		return nil
	}
	return invalidError("InvalidRegion", fmt.Sprintf("this AWS driver works in region %s, not %s (use ForRegion)", d.region, region))
}

// securityGroupCache remembers the hosts' security group of one region.
type securityGroupCache struct {
	mu sync.Mutex
	id string
}
