package provider

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
)

// memPrivate is a resource's private state in memory.
type memPrivate map[string][]byte

func (m memPrivate) GetKey(_ context.Context, k string) ([]byte, diag.Diagnostics) { return m[k], nil }

func (m memPrivate) SetKey(_ context.Context, k string, v []byte) diag.Diagnostics {
	if len(v) == 0 {
		delete(m, k)
	} else {
		m[k] = v
	}
	return nil
}

func TestFormerPlaces(t *testing.T) {
	do := formerPlace{"digitalocean", "fra1"}
	aws := formerPlace{"aws", "eu-central-1"}
	awsWest := formerPlace{"aws", "us-west-2"}
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		recorded  []formerPlace
		to, state formerPlace
		want      []formerPlace
	}{
		{name: "no change", to: do, state: do},
		{name: "vendor change", to: aws, state: do, want: []formerPlace{do}},
		{name: "region change", to: awsWest, state: aws, want: []formerPlace{aws}},
		{name: "resumed, state already at the target", recorded: []formerPlace{do}, to: aws, state: aws, want: []formerPlace{do}},
		{name: "moved back before finishing", recorded: []formerPlace{do}, to: do, state: aws, want: []formerPlace{aws}},
		{name: "recorded twice", recorded: []formerPlace{do, do}, to: aws, state: do, want: []formerPlace{do}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := memPrivate{}
			saveMovingFrom(ctx, p, tc.recorded, nil, new(diag.Diagnostics))
			if got := formerPlaces(ctx, p, tc.to, tc.state); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// The record is kept while a former place still holds one of the group's
// hosts, and cleared once none does.
func TestSaveMovingFrom(t *testing.T) {
	ctx := context.Background()
	do := formerPlace{"digitalocean", "fra1"}
	p := memPrivate{}
	half := &cluster.View{Members: []cluster.Member{
		{HostID: "1", Cloud: cloud.DigitalOcean, Region: "fra1"},
		{HostID: "i-1", Cloud: cloud.AWS, Region: "eu-central-1"},
	}}
	saveMovingFrom(ctx, p, []formerPlace{do}, half, new(diag.Diagnostics))
	if got := movingFrom(ctx, p); !slices.Equal(got, []formerPlace{do}) {
		t.Fatalf("half moved: recorded %v", got)
	}
	done := &cluster.View{Members: []cluster.Member{{HostID: "i-1", Cloud: cloud.AWS, Region: "eu-central-1"}, {HostID: "i-2", Cloud: cloud.AWS, Region: "eu-central-1"}}}
	saveMovingFrom(ctx, p, []formerPlace{do}, done, new(diag.Diagnostics))
	if got := movingFrom(ctx, p); len(got) != 0 || len(p) != 0 {
		t.Errorf("moved: recorded %v", got)
	}
}

func TestMigrationPlanDiagnostics(t *testing.T) {
	at := path.Root("managers").AtName("cloud")
	var diags diag.Diagnostics
	migrationPlanDiagnostics("The managers", "digitalocean", "aws", "private", false, at, &diags)
	if !diags.HasError() || !strings.Contains(diags.Errors()[0].Detail(), `advertise_address = "public"`) {
		t.Errorf("private addresses: %v", diags)
	}
	diags = nil
	migrationPlanDiagnostics("The managers", "digitalocean", "aws", "public", false, at, &diags)
	if diags.HasError() || diags.WarningsCount() != 1 || !strings.Contains(diags.Warnings()[0].Detail(), "Floating IPs of digitalocean") {
		t.Errorf("public addresses: %v", diags)
	}
	diags = nil
	migrationPlanDiagnostics("The managers", "aws", "aws", "private", true, at, &diags)
	if len(diags) != 0 {
		t.Errorf("no migration: %v", diags)
	}
	diags = nil
	migrationPlanDiagnostics("Node group web", "digitalocean", "aws", "", true, path.Root("cloud"), &diags)
	if !diags.HasError() || !strings.Contains(diags.Errors()[0].Detail(), "firewall { enabled = true }") {
		t.Errorf("firewall off: %v", diags)
	}
}

func TestSpanPlanDiagnostics(t *testing.T) {
	do, east, west := formerPlace{"digitalocean", "fra1"}, formerPlace{"aws", "us-east-1"}, formerPlace{"aws", "eu-west-1"}
	for _, tc := range []struct {
		name       string
		places     []formerPlace
		noFirewall bool
		want       string // in the error; "" for none
	}{
		{"AWS regions apart, firewall off", []formerPlace{west, east}, true, "aws eu-west-1 and aws us-east-1"},
		{"AWS beside DigitalOcean, firewall off", []formerPlace{east, do, east}, true, "aws us-east-1 and digitalocean fra1"},
		{"AWS regions apart, firewall kept", []formerPlace{west, east}, false, ""},
		{"one AWS place", []formerPlace{east, east}, true, ""},
		{"DigitalOcean regions apart", []formerPlace{do, {"digitalocean", "nyc3"}}, true, ""},
		{"a region not known yet", []formerPlace{east, {"aws", ""}}, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var diags diag.Diagnostics
			spanPlanDiagnostics("Node group web", tc.places, tc.noFirewall, path.Root("region"), &diags)
			switch {
			case tc.want == "" && diags.HasError():
				t.Errorf("refused: %v", diags)
			case tc.want != "" && (!diags.HasError() || !strings.Contains(diags.Errors()[0].Detail(), tc.want) ||
				!strings.Contains(diags.Errors()[0].Detail(), "firewall { enabled = true }")):
				t.Errorf("want an error naming %q and the firewall, got %v", tc.want, diags)
			}
		})
	}
}

func TestAdvertiseChanges(t *testing.T) {
	st := cluster.State{UID: "0123456789abcdef", Credentials: cluster.Credentials{ClientKeyPEM: "k"}}
	private := types.StringValue(encodeCredentials(st, "digitalocean", "fra1", "private"))
	public := types.StringValue(encodeCredentials(st, "digitalocean", "fra1", "public"))
	for _, tc := range []struct {
		name        string
		plan, state types.String
		want        bool
	}{
		{"unchanged private", private, private, false},
		{"unchanged public", public, public, false},
		{"to public", public, private, true},
		{"to private", private, public, true},
		{"not known yet", types.StringUnknown(), private, true},
	} {
		if got := advertiseChanges(tc.plan, tc.state); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if strings.Contains(private.ValueString(), "advertise") {
		t.Errorf("private credentials carry the default: %s", private.ValueString())
	}
}
