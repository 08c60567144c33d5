package provider

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
)

// planRollout reads the state's nodes: a host whose vendor values or spec
// hash differ from the desired spec is listed with what differs, the
// leader last; the others are not.
func TestPlanRollout(t *testing.T) {
	ctx := context.Background()
	want := cluster.HostsSpec{Region: "fra1", Size: "s-2vcpu-4gb", Image: "debian-12-x64", UserData: "#cloud-config\n"}
	old := want
	old.Size = "s-1vcpu-2gb"
	node := func(name, size string, leader bool, spec string) attr.Value {
		return types.ObjectValueMust(nodeAttrTypes, map[string]attr.Value{
			"host_id": types.StringValue("digitalocean/" + name), "name": types.StringValue(name),
			"ipv4_address": types.StringValue(""), "ipv4_private": types.StringValue(""),
			"node_id": types.StringValue("n-" + name), "role": types.StringValue("manager"), "leader": types.BoolValue(leader),
			"state": types.StringValue("ready"), "availability": types.StringValue("active"),
			"region": types.StringValue("fra1"), "size": types.StringValue(size), "image": types.StringValue("debian-12-x64"),
			"spec": types.StringValue(spec),
		})
	}
	list := func(v ...attr.Value) types.List {
		return types.ListValueMust(types.ObjectType{AttrTypes: nodeAttrTypes}, v)
	}
	userDataChanged := want
	userDataChanged.UserData = "#cloud-config\npackages: [htop]\n"
	tests := []struct {
		name    string
		nodes   types.List
		want    []string
		changes string
	}{
		{"up to date", list(node("m-1", "s-2vcpu-4gb", true, cluster.SpecHash(want))), nil, ""},
		{"size changed, leader last", list(node("m-1", "s-1vcpu-2gb", true, cluster.SpecHash(old)), node("m-2", "s-1vcpu-2gb", false, cluster.SpecHash(old))),
			[]string{"m-2", "m-1"}, "size s-1vcpu-2gb → s-2vcpu-4gb"},
		{"user data changed", list(node("m-1", "s-2vcpu-4gb", false, cluster.SpecHash(userDataChanged))), []string{"m-1"}, "ssh_keys or user_data"},
		{"a host created before spec tags, same values", list(node("m-1", "s-2vcpu-4gb", false, "")), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, n := planRollout(ctx, tt.nodes, want)
			if n != len(tt.want) || len(l.Elements()) != n {
				t.Fatalf("planRollout = %d hosts (%v), want %v", n, l, tt.want)
			}
			for i, e := range l.Elements() {
				var r struct {
					Name    string   `tfsdk:"name"`
					HostID  string   `tfsdk:"host_id"`
					Changes []string `tfsdk:"changes"`
				}
				if d := e.(types.Object).As(ctx, &r, basetypes.ObjectAsOptions{}); d.HasError() { //nolint:forcetypeassert // a list of objects
					t.Fatal(d)
				}
				if r.Name != tt.want[i] {
					t.Errorf("host %d = %s, want %s", i, r.Name, tt.want[i])
				}
				if len(r.Changes) != 1 || r.Changes[0] != tt.changes {
					t.Errorf("changes of %s = %v, want [%s]", tt.want[i], r.Changes, tt.changes)
				}
			}
		})
	}
}
