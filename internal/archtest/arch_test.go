// Package archtest checks the layering rules of DEVELOPERS.md: provider/
// never imports a vendor SDK; drivers and localcloud never import provider/
// or the plugin framework.
package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/haddockhq/terraform-provider-haddock"

// deps lists what the packages import: directly, or with all transitive
// dependencies.
func deps(t *testing.T, pattern string, transitive bool) []string {
	t.Helper()
	args := []string{"list", "-f", "{{join .Imports \"\\n\"}}", pattern}
	if transitive {
		args = []string{"list", "-deps", "-f", "{{.ImportPath}}", pattern}
	}
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", pattern, err, out)
	}
	return strings.Fields(string(out))
}

func TestLayering(t *testing.T) {
	tests := []struct {
		pattern    string
		transitive bool
		banned     []string
	}{
		// The binary links the drivers, so only direct imports count here.
		{pattern: module + "/provider/...", banned: []string{"github.com/digitalocean/godo", "github.com/aws/aws-sdk-go-v2"}},
		{pattern: module + "/internal/cloud/...", transitive: true, banned: []string{module + "/provider", "github.com/hashicorp/terraform-plugin-framework"}},
		{pattern: module + "/internal/localcloud/...", transitive: true, banned: []string{module + "/provider", "github.com/hashicorp/terraform-plugin-framework"}},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			for _, d := range deps(t, tt.pattern, tt.transitive) {
				for _, b := range tt.banned {
					if d == b || strings.HasPrefix(d, b+"/") {
						t.Errorf("%s depends on %s", tt.pattern, d)
					}
				}
			}
		})
	}
}
