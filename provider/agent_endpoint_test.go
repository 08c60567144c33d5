package provider

import (
	"net"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

func TestAgentEndpoint(t *testing.T) {
	// An address of this machine that is not loopback, when it has one:
	// plain http to it never leaves the machine.
	var own string
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
				own = n.IP.String()
				break
			}
		}
	}
	at := path.Root("digitalocean").AtName("agent_api_endpoint")
	cases := []struct {
		name, value, env string
		insecure         bool
		want, err        string
	}{
		{name: "unset: the provider's", want: "http://127.0.0.1:9080"},
		{name: "from the environment", env: "https://agent.example", want: "https://agent.example"},
		{name: "attribute over environment", value: "https://a.example", env: "https://b.example", want: "https://a.example"},
		{name: "https anywhere", value: "https://api.example:8443", want: "https://api.example:8443"},
		{name: "plain http remote refused", value: "http://192.0.2.10:9080", err: "Unencrypted failover agent endpoint"},
		{name: "plain http remote with insecure_http", value: "http://192.0.2.10:9080", insecure: true, want: "http://192.0.2.10:9080"},
		{name: "not a URL", value: "ftp://x", err: "Invalid failover agent endpoint"},
	}
	if own != "" {
		cases = append(cases, struct {
			name, value, env string
			insecure         bool
			want, err        string
		}{name: "plain http to this machine", value: "http://" + own + ":9080", want: "http://" + own + ":9080"})
	} else {
		t.Log("no non-loopback address on this machine: the on-machine case is not exercised")
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvAgentDigitalOceanURL, tc.env)
			v := types.StringNull()
			if tc.value != "" {
				v = types.StringValue(tc.value)
			}
			var diags diag.Diagnostics
			got, ok := agentEndpoint(v, EnvAgentDigitalOceanURL, "http://127.0.0.1:9080", at, tc.insecure, &diags)
			if tc.err != "" {
				if ok || !diags.HasError() || !strings.Contains(diags.Errors()[0].Summary(), tc.err) {
					t.Fatalf("want error %q, got %q ok=%v diags=%v", tc.err, got, ok, diags)
				}
				return
			}
			if !ok || diags.HasError() || got != tc.want {
				t.Fatalf("got %q ok=%v diags=%v, want %q", got, ok, diags, tc.want)
			}
		})
	}
}
