package digitalocean

import (
	"net/http"
	"testing"
)

// TestProjects: load balancers and reserved IPs land in the project their
// create names (the default one without), a project that does not exist
// refuses the create, a deleted resource leaves its project, and an empty
// project can be deleted.
func TestProjects(t *testing.T) {
	s := newTestServer(t, testConfig{})
	r := call(t, s, "POST", "/v2/projects", map[string]any{"name": "haddock-unsaved", "purpose": "Operational / Developer tooling", "environment": "Production"})
	if r.status != http.StatusCreated {
		t.Fatalf("project: %d %s", r.status, r.raw)
	}
	project := str(obj(r.body["project"])["id"])
	lb := func(projectID string) resp {
		return call(t, s, "POST", "/v2/load_balancers", map[string]any{
			"name": "lb", "region": "nyc3", "droplet_ids": []int{}, "project_id": projectID,
			"forwarding_rules": []any{map[string]any{"entry_protocol": "http", "entry_port": 80, "target_protocol": "http", "target_port": 8080}},
		})
	}
	resources := func(id string) []any {
		return list(call(t, s, "GET", "/v2/projects/"+id+"/resources", nil).body["resources"])
	}

	for _, tt := range []struct {
		name, project string
		lbStatus      int
		in            string // the project it lands in
	}{
		{"named project", project, http.StatusAccepted, project},
		{"no project", "", http.StatusAccepted, projectUUID},
		{"unknown project", "0f0f0f0f-0000-4000-8000-000000000000", http.StatusUnprocessableEntity, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := lb(tt.project)
			if r.status != tt.lbStatus {
				t.Fatalf("load balancer: %d %s", r.status, r.raw)
			}
			ip := call(t, s, "POST", "/v2/reserved_ips", map[string]any{"region": "nyc3", "project_id": tt.project})
			if ip.status != map[bool]int{true: http.StatusAccepted, false: http.StatusUnprocessableEntity}[tt.in != ""] {
				t.Fatalf("reserved IP: %d %s", ip.status, ip.raw)
			}
			if tt.in == "" {
				return
			}
			id := str(obj(r.body["load_balancer"])["id"])
			addr := str(obj(ip.body["reserved_ip"])["ip"])
			if got := str(obj(call(t, s, "GET", "/v2/load_balancers/"+id, nil).body["load_balancer"])["project_id"]); got != tt.in {
				t.Errorf("load balancer in %q, want %q", got, tt.in)
			}
			if got := str(obj(call(t, s, "GET", "/v2/reserved_ips/"+addr, nil).body["reserved_ip"])["project_id"]); got != tt.in {
				t.Errorf("reserved IP in %q, want %q", got, tt.in)
			}
			call(t, s, "DELETE", "/v2/load_balancers/"+id, nil)
			call(t, s, "DELETE", "/v2/reserved_ips/"+addr, nil)
			if n := len(resources(tt.in)); n != 0 {
				t.Errorf("%d resources left in the project after the deletes", n)
			}
		})
	}
	if r := call(t, s, "DELETE", "/v2/projects/"+project, nil); r.status != http.StatusNoContent {
		t.Errorf("deleting the empty project: %d %s", r.status, r.raw)
	}
	if r := call(t, s, "DELETE", "/v2/projects/default", nil); r.status != http.StatusPreconditionFailed {
		t.Errorf("deleting the default project: %d %s", r.status, r.raw)
	}
}
