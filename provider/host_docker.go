package provider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloudinit"
	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

// Validity of the TLS material Haddock issues for a host's Docker Engine.
const (
	hostCAValidity   = 10 * 365 * 24 * time.Hour
	hostCertValidity = 5 * 365 * 24 * time.Hour
	dockerPort       = "2376"
)

// privateCAKey is where a host's CA (certificate and key) is kept: in the
// resource's private state, never shown in plans or outputs.
const privateCAKey = "docker_ca"

var dockerAttrTypes = map[string]attr.Type{
	"endpoint":    types.StringType,
	"server_name": types.StringType,
	"ca_pem":      types.StringType,
	"cert_pem":    types.StringType,
	"key_pem":     types.StringType,
}

// hostTLS is the material for one host: its own CA, the engine's server
// certificate naming the host's identity, and the provider's client
// certificate.
type hostTLS struct {
	identity         string
	ca               *pki.CA
	server, client   *pki.KeyPair
	caCert, caKeyPEM []byte
}

func newHostTLS(name string) (*hostTLS, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	identity := pki.HostIdentity(hex.EncodeToString(b))
	ca, err := pki.NewCA("haddock host CA "+name, hostCAValidity)
	if err != nil {
		return nil, fmt.Errorf("creating the host's CA: %w", err)
	}
	server, err := ca.IssueServer(identity, nil, nil, hostCertValidity)
	if err != nil {
		return nil, fmt.Errorf("issuing the engine's server certificate: %w", err)
	}
	client, err := ca.IssueClient("haddock", hostCertValidity)
	if err != nil {
		return nil, fmt.Errorf("issuing the client certificate: %w", err)
	}
	return &hostTLS{identity: identity, ca: ca, server: server, client: client, caCert: ca.CertPEM(), caKeyPEM: ca.KeyPEM()}, nil
}

// userData renders the cloud-init document the host boots with: Docker
// Engine on 2376 with tlsverify, the TLS material, the user's own user data
// merged in.
func (t *hostTLS) userData(hostname, user string) (string, error) {
	return cloudinit.Render(cloudinit.Params{
		Hostname:      hostname,
		CACertPEM:     t.caCert,
		ServerCertPEM: t.server.CertPEM,
		ServerKeyPEM:  t.server.KeyPEM,
		UserData:      user,
	})
}

func (t *hostTLS) privateState() []byte {
	b, _ := json.Marshal(map[string]string{"cert": string(t.caCert), "key": string(t.caKeyPEM)})
	return b
}

func (t *hostTLS) dockerValue(address string) types.Object {
	return dockerObject(dockerEndpoint(address), t.identity, string(t.caCert), string(t.client.CertPEM), string(t.client.KeyPEM))
}

func dockerEndpoint(address string) string {
	if address == "" {
		return ""
	}
	return "tcp://" + net.JoinHostPort(address, dockerPort)
}

func dockerObject(endpoint, serverName, ca, cert, key string) types.Object {
	v, _ := types.ObjectValue(dockerAttrTypes, map[string]attr.Value{
		"endpoint":    types.StringValue(endpoint),
		"server_name": types.StringValue(serverName),
		"ca_pem":      types.StringValue(ca),
		"cert_pem":    types.StringValue(cert),
		"key_pem":     types.StringValue(key),
	})
	return v
}

type dockerModel struct {
	Endpoint   types.String `tfsdk:"endpoint"`
	ServerName types.String `tfsdk:"server_name"`
	CAPEM      types.String `tfsdk:"ca_pem"`
	CertPEM    types.String `tfsdk:"cert_pem"`
	KeyPEM     types.String `tfsdk:"key_pem"`
}

// withEndpoint returns the docker object with the endpoint moved to address
// (a host whose address changed still verifies: the certificate names the
// host, not the address).
func withEndpoint(ctx context.Context, obj types.Object, address string, diags *diag.Diagnostics) types.Object {
	if obj.IsNull() || obj.IsUnknown() {
		return obj
	}
	var d dockerModel
	diags.Append(obj.As(ctx, &d, basetypesObjectAsOptions())...)
	return dockerObject(dockerEndpoint(address), d.ServerName.ValueString(), d.CAPEM.ValueString(), d.CertPEM.ValueString(), d.KeyPEM.ValueString())
}

// waitDocker waits until the engine answers over mTLS, verified by the CA
// and the host's identity.
func waitDocker(ctx context.Context, obj types.Object, poll time.Duration) error {
	var d dockerModel
	if diags := obj.As(ctx, &d, basetypesObjectAsOptions()); diags.HasError() {
		return fmt.Errorf("reading the docker attribute: %v", diags)
	}
	c, err := swarm.Connect(ctx, swarm.Endpoint{
		Host:      d.Endpoint.ValueString(),
		CACertPEM: []byte(d.CAPEM.ValueString()),
		CertPEM:   []byte(d.CertPEM.ValueString()),
		KeyPEM:    []byte(d.KeyPEM.ValueString()),
		Identity:  d.ServerName.ValueString(),
	})
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	return c.WaitReady(ctx, poll)
}

// validationTLS is throwaway material to check users' user data at plan
// time with the very renderer Create uses.
var validationTLS = sync.OnceValues(func() (*hostTLS, error) { return newHostTLS("validation") })

func validateUserData(user string) error {
	t, err := validationTLS()
	if err != nil {
		return err
	}
	_, err = t.userData("validation", user)
	return err
}

// userDataValidator checks user_data with the renderer Create uses, so a
// document that cannot be merged fails at plan time.
type userDataValidator struct{}

func (userDataValidator) Description(context.Context) string {
	return "must be user data cloud-init accepts: a #cloud-config YAML document, a script, or a multipart document"
}

func (v userDataValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (userDataValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := validateUserData(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid user data", err.Error())
	}
}

func basetypesObjectAsOptions() basetypes.ObjectAsOptions { return basetypes.ObjectAsOptions{} }
