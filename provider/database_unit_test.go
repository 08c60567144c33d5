package provider

import (
	"testing"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

func TestResolveDatabaseSize(t *testing.T) {
	for _, tt := range []struct {
		c       cloud.Name
		in, out string
		ok      bool
	}{
		{cloud.DigitalOcean, "small", "db-s-1vcpu-1gb", true},
		{cloud.AWS, "small", "db.t4g.micro", true},
		{cloud.AWS, "xlarge", "db.t4g.large", true},
		{cloud.DigitalOcean, "db-s-2vcpu-4gb", "db-s-2vcpu-4gb", true},
		{cloud.AWS, "db.r6g.large", "db.r6g.large", true},
		{cloud.AWS, "db-s-1vcpu-1gb", "", false}, // another vendor's size
		{cloud.DigitalOcean, "huge", "", false},
	} {
		got, err := resolveDatabaseSize(tt.c, tt.in)
		if (err == nil) != tt.ok || got != tt.out {
			t.Errorf("%s %q: %q, %v; want %q (ok %v)", tt.c, tt.in, got, err, tt.out, tt.ok)
		}
	}
}

func TestParseTrustedSource(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want cloud.TrustedSource
		ok   bool
	}{
		{"203.0.113.0/24", cloud.TrustedSource{Kind: cloud.TrustedCIDR, Value: "203.0.113.0/24"}, true},
		{"203.0.113.7/24", cloud.TrustedSource{Kind: cloud.TrustedCIDR, Value: "203.0.113.0/24"}, true},
		{"198.51.100.7", cloud.TrustedSource{Kind: cloud.TrustedCIDR, Value: "198.51.100.7"}, true},
		{"haddock-group:3x2kqz:web", cloud.TrustedSource{Kind: cloud.TrustedTag, Value: "haddock-group:3x2kqz:web"}, true},
		{"haddock-cluster:3x2kqz", cloud.TrustedSource{Kind: cloud.TrustedTag, Value: "haddock-cluster:3x2kqz"}, true},
		{"digitalocean/3164444", cloud.TrustedSource{Kind: cloud.TrustedHost, Value: "3164444"}, true},
		{"aws/i-0abc123", cloud.TrustedSource{Kind: cloud.TrustedHost, Value: "i-0abc123"}, true},
		{"web-servers", cloud.TrustedSource{}, false},
		{"10.0.0.0/33", cloud.TrustedSource{}, false},
	} {
		got, err := parseTrustedSource(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("%q: %+v, %v; want %+v (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestDatabaseNameAndPassword(t *testing.T) {
	for name, ok := range map[string]bool{"orders": true, "orders-eu-1": true, "or": false, "Orders": false, "orders-": false, "orders--eu": false, "1orders": false} {
		if databaseNameRE.MatchString(name) != ok {
			t.Errorf("name %q: valid %v, want %v", name, !ok, ok)
		}
	}
	for pw, ok := range map[string]bool{"correct-horse-42": true, "short": false, "has space 1234": false, "has/slash1234": false, "has@at12345": false, `has"quote123`: false, "has'quote123": false} {
		if dbPasswordRE.MatchString(pw) != ok {
			t.Errorf("password %q: valid %v, want %v", pw, !ok, ok)
		}
	}
}
