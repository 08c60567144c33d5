package netnsbackend

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"reflect"
	"testing"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netns"
)

func TestWithRegistry(t *testing.T) {
	addr := netip.MustParseAddrPort("10.213.0.1:5000")
	for _, tt := range []struct {
		name, in string
		want     map[string]any
	}{
		{"none", "", map[string]any{
			"insecure-registries": []any{"10.213.0.1:5000"},
			"registry-mirrors":    []any{"http://10.213.0.1:5000"},
		}},
		{"haddock's", `{"hosts": ["tcp://0.0.0.0:2376"], "tlsverify": true, "max-concurrent-downloads": 12}`, map[string]any{
			"hosts": []any{"tcp://0.0.0.0:2376"}, "tlsverify": true, "max-concurrent-downloads": json.Number("12"),
			"insecure-registries": []any{"10.213.0.1:5000"},
			"registry-mirrors":    []any{"http://10.213.0.1:5000"},
		}},
		{"the user's own first, no duplicates", `{"insecure-registries": ["r.example:5000", "10.213.0.1:5000"], "registry-mirrors": ["https://m.example"]}`, map[string]any{
			"insecure-registries": []any{"r.example:5000", "10.213.0.1:5000"},
			"registry-mirrors":    []any{"https://m.example", "http://10.213.0.1:5000"},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := withRegistry([]byte(tt.in), addr)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			dec := json.NewDecoder(bytes.NewReader(out))
			dec.UseNumber()
			if err := dec.Decode(&got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %s", out)
			}
		})
	}
	for _, bad := range []string{`{`, `[]`, `{"insecure-registries": "10.213.0.1:5000"}`} {
		if _, err := withRegistry([]byte(bad), addr); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestRegistryAddr(t *testing.T) {
	for subnet, want := range map[string]string{"": "10.213.0.1:5000", "10.213.209.0/24": "10.213.209.1:5000"} {
		cfg := netns.Config{StateDir: t.TempDir()}
		if subnet != "" {
			cfg.Subnet = netip.MustParsePrefix(subnet)
		}
		// New checks the machine; the address only needs the subnet.
		b := &Backend{subnet: cfg.Subnet}
		if !cfg.Subnet.IsValid() {
			b.subnet = netns.DefaultSubnet
		}
		if got := b.RegistryAddr().String(); got != want {
			t.Errorf("subnet %q: registry %s, want %s", subnet, got, want)
		}
	}
}
