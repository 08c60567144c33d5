package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/stack"
)

// registryLoginModel is one entry of haddock_stack's registry_auth.
type registryLoginModel struct {
	Address       types.String `tfsdk:"address"`
	Username      types.String `tfsdk:"username"`
	Password      types.String `tfsdk:"password"`
	IdentityToken types.String `tfsdk:"identity_token"`
}

// registryLogins are registry_auth by registry address, as stack.Deploy
// takes them.
func (m *stackModel) registryLogins(ctx context.Context) (map[string]stack.RegistryCredential, diag.Diagnostics) {
	if m.RegistryAuth.IsNull() || m.RegistryAuth.IsUnknown() {
		return nil, nil
	}
	var logins []registryLoginModel
	if d := m.RegistryAuth.ElementsAs(ctx, &logins, false); d.HasError() {
		return nil, d
	}
	out := make(map[string]stack.RegistryCredential, len(logins))
	for _, l := range logins {
		out[l.Address.ValueString()] = stack.RegistryCredential{
			Username: l.Username.ValueString(), Password: l.Password.ValueString(), IdentityToken: l.IdentityToken.ValueString(),
		}
	}
	return out, nil
}

// ValidateConfig checks registry_auth at plan time: each login complete,
// each registry once, and sent only with with_registry_auth.
func (r *stackResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var with types.Bool
	var auth types.List
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("with_registry_auth"), &with)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("registry_auth"), &auth)...)
	if resp.Diagnostics.HasError() || auth.IsUnknown() {
		return
	}
	if auth.IsNull() || len(auth.Elements()) == 0 {
		if with.ValueBool() {
			resp.Diagnostics.AddAttributeWarning(path.Root("with_registry_auth"), "No registry logins to send",
				"with_registry_auth = true sends the logins of registry_auth, and there are none: private images will not be pulled. Add registry_auth { address, username, password }.")
		}
		return
	}
	if !with.IsUnknown() && !with.ValueBool() {
		resp.Diagnostics.AddAttributeError(path.Root("registry_auth"), "Registry logins not sent",
			"registry_auth is sent to the swarm only with with_registry_auth = true: set it, or remove registry_auth.")
	}
	var logins []registryLoginModel
	resp.Diagnostics.Append(auth.ElementsAs(ctx, &logins, false)...)
	seen := map[string]bool{}
	for i, l := range logins {
		at := path.Root("registry_auth").AtListIndex(i)
		if l.Address.IsUnknown() {
			continue
		}
		a := l.Address.ValueString()
		if seen[a] {
			resp.Diagnostics.AddAttributeError(at.AtName("address"), "Duplicate registry login", fmt.Sprintf("%q has more than one login: keep one.", a))
		}
		seen[a] = true
		known := func(v attr.Value) bool { return !v.IsNull() }
		pair := known(l.Username) && known(l.Password)
		if !pair && !known(l.IdentityToken) && !l.Username.IsUnknown() && !l.Password.IsUnknown() && !l.IdentityToken.IsUnknown() {
			resp.Diagnostics.AddAttributeError(at, "Incomplete registry login", fmt.Sprintf("The login for %q needs username and password, or identity_token.", a))
		}
	}
}
