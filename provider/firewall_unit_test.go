package provider

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

func TestParseCIDR(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: "203.0.113.0/24", want: "203.0.113.0/24"},
		{in: " 198.51.100.7 ", want: "198.51.100.7/32"},
		{in: "2001:db8::/32", want: "2001:db8::/32"},
		{in: "2001:db8::1", want: "2001:db8::1/128"},
		{in: "0.0.0.0/0", want: "0.0.0.0/0"},
		{in: "10.0.0.1/8", err: "host bits set: did you mean 10.0.0.0/8"},
		{in: "example.com", err: "neither a CIDR"},
		{in: "10.0.0.0/33", err: "neither a CIDR"},
	}
	for _, tt := range tests {
		got, err := parseCIDR(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("%q: %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func testFirewallObject(t *testing.T, enabled bool, docker []string, rules ...map[string]attr.Value) types.Object {
	t.Helper()
	var dl []attr.Value
	for _, d := range docker {
		dl = append(dl, types.StringValue(d))
	}
	var rl []attr.Value
	for _, r := range rules {
		rl = append(rl, types.ObjectValueMust(firewallRuleAttrTypes, r))
	}
	return types.ObjectValueMust(firewallAttrTypes, map[string]attr.Value{
		"enabled":                  types.BoolValue(enabled),
		"docker_api_allowed_cidrs": types.ListValueMust(types.StringType, dl),
		"ssh_allowed_cidrs":        types.ListValueMust(types.StringType, nil),
		"inbound_rules":            types.ListValueMust(types.ObjectType{AttrTypes: firewallRuleAttrTypes}, rl),
	})
}

// The policy survives the trip through the cluster's credentials that
// node groups and stacks read it from.
func TestFirewallPolicyThroughCredentials(t *testing.T) {
	ctx := context.Background()
	var diags diag.Diagnostics
	o := testFirewallObject(t, true, []string{"203.0.113.0/24", "198.51.100.7"}, map[string]attr.Value{
		"protocol": types.StringValue("tcp"), "ports": types.StringValue("8000-8100"),
		"sources": types.ListValueMust(types.StringType, []attr.Value{types.StringValue("10.0.0.0/8")}),
	})
	p := firewallPolicy(ctx, o, &diags)
	if diags.HasError() {
		t.Fatal(diags)
	}
	b, err := json.Marshal(encodeFirewall(p))
	if err != nil {
		t.Fatal(err)
	}
	var back credFirewall
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if got := back.policy(); !reflect.DeepEqual(got, p) {
		t.Errorf("through the credentials:\n%+v\nwant\n%+v", got, p)
	}
	if off := firewallPolicy(ctx, testFirewallObject(t, false, nil), &diags); off == nil || !off.Off {
		t.Errorf("disabled: %+v", off)
	}
	if none := firewallPolicy(ctx, types.ObjectNull(firewallAttrTypes), &diags); none != nil {
		t.Errorf("null (a state from before firewalls): %+v, want nil", none)
	}
	var nilFw *credFirewall
	if nilFw.policy() != nil {
		t.Error("credentials without a firewall gave a policy")
	}
}

func TestFirewallDiagnostics(t *testing.T) {
	at := path.Root("firewall")
	tests := []struct {
		name    string
		o       types.Object
		cloud   string
		warning string
	}{
		{"the default: anywhere", defaultFirewall(), "digitalocean", "Docker API open to the whole internet"},
		{"narrowed", testFirewallObject(t, true, []string{"203.0.113.0/24"}), "digitalocean", ""},
		{"narrowed on AWS", testFirewallObject(t, true, []string{"203.0.113.0/24"}), "aws", "Docker API not narrowed on AWS"},
		{"disabled", testFirewallObject(t, false, []string{"0.0.0.0/0"}), "digitalocean", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var diags diag.Diagnostics
			firewallDiagnostics(context.Background(), tt.o, tt.cloud, at, &diags)
			got := ""
			for _, d := range diags {
				got += d.Summary()
			}
			if got != tt.warning || diags.HasError() {
				t.Errorf("diagnostics %q, want %q", got, tt.warning)
			}
		})
	}
}
