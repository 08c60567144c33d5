// Package archtest checks the layering: provider/ imports no vendor SDK and
// no Docker SDK; the engine (cluster, swarm, stack, hostboot, wait) imports
// neither provider/ nor the plugin framework nor a vendor SDK; drivers and
// localcloud import neither provider/ nor the plugin framework; localcloud,
// tests included, imports no driver. .golangci.yml's depguard rules say the
// same for the direct imports.
package archtest

import (
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/haddockhq/terraform-provider-haddock"

// scope is what a rule looks at.
type scope int

const (
	// direct: the packages' own imports, not their tests'.
	direct scope = iota
	// transitive: every package the packages link, not their tests'.
	transitive
	// withTests: every package the packages or their tests link.
	withTests
)

// edges returns "importer imports imported" for every import in scope of
// the packages matching pattern.
func edges(t *testing.T, pattern string, s scope) map[string][]string {
	t.Helper()
	args := []string{"list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}"}
	switch s {
	case transitive:
		args = append(args, "-deps")
	case withTests:
		args = append(args, "-deps", "-test")
	}
	out, err := exec.Command("go", append(args, pattern)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", pattern, err, out)
	}
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		pkg, deps := f[0], f[1:]
		// A test variant reads "pkg [pkg.test]".
		if len(deps) > 0 && strings.HasPrefix(deps[0], "[") {
			pkg += " " + deps[0]
			deps = deps[1:]
		}
		imports[pkg] = append(imports[pkg], deps...)
	}
	return imports
}

func matches(pkg string, prefixes []string) bool {
	pkg, _, _ = strings.Cut(pkg, " ")
	for _, b := range prefixes {
		if pkg == b || strings.HasPrefix(pkg, b+"/") {
			return true
		}
	}
	return false
}

var (
	vendorSDKs = []string{"github.com/digitalocean/godo", "github.com/aws/aws-sdk-go-v2"}
	dockerSDKs = []string{"github.com/docker", "github.com/moby"}
	terraform  = []string{
		module + "/provider",
		"github.com/hashicorp/terraform-plugin-framework",
		"github.com/hashicorp/terraform-plugin-framework-timeouts",
		"github.com/hashicorp/terraform-plugin-framework-validators",
		"github.com/hashicorp/terraform-plugin-go",
	}
	drivers = []string{module + "/internal/cloud/digitalocean", module + "/internal/cloud/aws"}
)

func TestLayering(t *testing.T) {
	engine := []string{"cluster", "swarm", "stack", "hostboot", "wait"}
	type rule struct {
		pattern string
		scope   scope
		banned  [][]string
		why     string
	}
	rules := []rule{
		// The binary links the drivers and the Docker SDK (through
		// internal/swarm), so only provider's own imports count here.
		{pattern: module + "/provider/...", scope: direct, banned: [][]string{vendorSDKs, dockerSDKs},
			why: "provider/ reaches vendors only through internal/cloud and engines only through internal/swarm"},
		{pattern: module + "/internal/cloud/...", scope: transitive, banned: [][]string{terraform},
			why: "drivers never import the Terraform surface"},
		{pattern: module + "/internal/localcloud/...", scope: transitive, banned: [][]string{terraform},
			why: "localcloud never imports the Terraform surface"},
		{pattern: module + "/internal/localcloud/...", scope: withTests, banned: [][]string{drivers},
			why: "localcloud and its tests never import a cloud driver: the drivers test against localcloud, not the other way round"},
	}
	for _, p := range engine {
		rules = append(rules, rule{pattern: module + "/internal/" + p + "/...", scope: transitive, banned: [][]string{terraform, vendorSDKs},
			why: "the engine is vendor-neutral and knows nothing of Terraform (tflog is allowed)"})
	}
	for _, r := range rules {
		name := strings.TrimPrefix(r.pattern, module+"/")
		if r.scope == withTests {
			name += " with tests"
		}
		t.Run(name, func(t *testing.T) {
			var banned []string
			for _, b := range r.banned {
				banned = append(banned, b...)
			}
			var bad []string
			for pkg, deps := range edges(t, r.pattern, r.scope) {
				if matches(pkg, banned) {
					continue // inside a banned module: report only the way in
				}
				for _, d := range deps {
					if matches(d, banned) {
						bad = append(bad, pkg+" imports "+d)
					}
				}
			}
			sort.Strings(bad)
			for _, b := range bad {
				t.Errorf("%s: %s", b, r.why)
			}
		})
	}
}
