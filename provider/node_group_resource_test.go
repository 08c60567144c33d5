package provider

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

// savedState records what a resource saved.
type savedState struct{ got *nodeGroupModel }

func (s *savedState) Set(_ context.Context, v any) diag.Diagnostics {
	if m, ok := v.(*nodeGroupModel); ok {
		c := *m
		s.got = &c
	}
	return nil
}

// partialView is a group of five whose third host did not join.
func partialView() (*cluster.View, error) {
	v := &cluster.View{Group: "web"}
	for i, name := range []string{"web-1", "web-2", "web-3", "web-4", "web-5"} {
		m := cluster.Member{Group: "web", Name: name, HostID: "100" + name[4:], Cloud: cloud.DigitalOcean, Status: cloud.HostActive}
		if i != 2 {
			m.NodeID, m.Role, m.State = "node"+name[4:], swarm.RoleWorker, swarm.NodeStateReady
		}
		v.Members = append(v.Members, m)
	}
	return v, errors.Join(&cluster.HostError{Group: "web", Host: "web-3", Cloud: cloud.DigitalOcean, HostID: "1003", Op: "joining the swarm as a worker",
		Err: errors.New("manager unreachable"), Fix: "Run apply again"})
}

func groupPlan() *nodeGroupModel {
	return &nodeGroupModel{
		ClusterID: types.StringValue("swarm1"), Name: types.StringValue("web"), Count: types.Int64Value(5),
		Nodes: types.ListUnknown(types.ObjectType{AttrTypes: nodeAttrTypes}), Rollout: types.ListUnknown(types.ObjectType{AttrTypes: rolloutAttrTypes}),
	}
}

// A Create that failed part-way saves the group without an error, so that
// Terraform does not taint it (and destroy its hosts on the next apply):
// the next apply resumes.
func TestRecordApply_partialCreateResumes(t *testing.T) {
	view, err := partialView()
	var st savedState
	var diags diag.Diagnostics
	recordApply(t.Context(), groupPlan(), view, err, "creating", &st, &diags)
	if diags.HasError() {
		t.Fatalf("a partial create returned an error, so Terraform taints the group: %v", diags)
	}
	if st.got == nil || len(st.got.Nodes.Elements()) != 5 {
		t.Fatalf("the hosts that exist were not saved: %+v", st.got)
	}
	if len(diags) != 1 || diags[0].Severity() != diag.SeverityWarning {
		t.Fatalf("diagnostics %v", diags)
	}
	for _, want := range []string{"4 of 5 hosts", "web-3", "manager unreachable", "apply again"} {
		if !strings.Contains(diags[0].Detail(), want) {
			t.Errorf("warning does not say %q: %s", want, diags[0].Detail())
		}
	}
	// The next plan updates the group, which joins web-3.
	if !nodesNeedRepair(t.Context(), st.got.Nodes, st.got.Count) {
		t.Error("the saved group does not plan a repair")
	}
}

func TestRecordApply_failures(t *testing.T) {
	_, err := partialView()
	t.Run("create with nothing created", func(t *testing.T) {
		var st savedState
		var diags diag.Diagnostics
		recordApply(t.Context(), groupPlan(), &cluster.View{Group: "web"}, err, "creating", &st, &diags)
		if !diags.HasError() || st.got != nil {
			t.Errorf("saved %+v, diagnostics %v", st.got, diags)
		}
	})
	t.Run("update", func(t *testing.T) {
		view, err := partialView()
		var st savedState
		var diags diag.Diagnostics
		recordApply(t.Context(), groupPlan(), view, err, "updating", &st, &diags)
		if !diags.HasError() || st.got == nil {
			t.Errorf("saved %+v, diagnostics %v", st.got, diags)
		}
	})
}
