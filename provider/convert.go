package provider

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
)

// Conversions between Terraform values and Go values, the `<cloud>/<vendor
// id>` ids, and the diagnostics of orchestration errors, shared by the
// resources.

func stringList(ctx context.Context, l types.List, diags *diag.Diagnostics) []string {
	if l.IsNull() || l.IsUnknown() {
		return nil
	}
	var out []string
	diags.Append(l.ElementsAs(ctx, &out, false)...)
	return out
}

func stringSet(ctx context.Context, s types.Set, diags *diag.Diagnostics) []string {
	if s.IsNull() || s.IsUnknown() {
		return nil
	}
	var out []string
	diags.Append(s.ElementsAs(ctx, &out, false)...)
	sort.Strings(out)
	return out
}

// diffStrings returns what to add to have to get want, and what to remove.
func diffStrings(have, want []string) (add, remove []string) {
	for _, w := range want {
		if !slices.Contains(have, w) {
			add = append(add, w)
		}
	}
	for _, h := range have {
		if !slices.Contains(want, h) {
			remove = append(remove, h)
		}
	}
	return add, remove
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// backtickList renders values for a MarkdownDescription: `a`, `b`.
func backtickList(v []string) string {
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = "`" + s + "`"
	}
	return strings.Join(q, ", ")
}

func cloudNames() []string {
	out := make([]string, len(cloud.Names))
	for i, n := range cloud.Names {
		out[i] = string(n)
	}
	return out
}

// portableNames are the names of portable values (cloud.PortableSizes,
// PortableRegions, PortableImages).
func portableNames[T any](items []T, name func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = name(it)
	}
	return out
}

// cloudID is the id of a vendor object: `<cloud>/<vendor id>`.
func cloudID(c cloud.Name, vendorID string) string { return string(c) + "/" + vendorID }

// parseCloudID reads <cloud>/<vendor id>, or <cloud>/<region>/<vendor id>
// for vendors whose ids are per region (AWS; without a region the
// provider's default region is searched).
func parseCloudID(id string) (c, region, vid string, err error) {
	parts := strings.Split(id, "/")
	bad := fmt.Errorf("%q is not a host id: use <cloud>/<vendor id> with cloud one of %s, for example digitalocean/3164444 or aws/i-0abc123 (aws/us-west-2/i-0abc123 for another region than the provider's)", id, strings.Join(cloudNames(), ", "))
	for _, p := range parts {
		if p == "" {
			return "", "", "", bad
		}
	}
	switch {
	case len(parts) == 2 && cloud.ValidCloud(parts[0]):
		return parts[0], "", parts[1], nil
	case len(parts) == 3 && parts[0] == string(cloud.AWS):
		return parts[0], parts[1], parts[2], nil
	}
	return "", "", "", bad
}

// viewProblems turns what is wrong with a group into one warning.
func viewProblems(what string, v *cluster.View, diags *diag.Diagnostics) {
	if p := v.Problems(); len(p) > 0 {
		diags.AddWarning(what+" needs repair", strings.Join(p, "\n")+"\n\nThe next apply repairs it.")
	}
}

// addClusterError reports an orchestration error, one line per host.
func addClusterError(diags *diag.Diagnostics, summary string, err error) {
	detail := err.Error()
	if hes := cluster.HostErrors(err); len(hes) > 0 {
		var b strings.Builder
		for _, he := range hes {
			fmt.Fprintf(&b, "- %s\n", he.Error())
		}
		detail = b.String()
	}
	diags.AddError(summary, detail)
}
