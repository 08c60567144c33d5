package cluster

import (
	"errors"
	"maps"
	"testing"
)

// A node group whose creation failed part-way is completed by the next
// apply: the hosts that exist are kept and joined, none is created again.
// (haddock_node_group saves such a Create without an error, so that
// Terraform does not taint it and the next apply reaches this.)
func TestNodeGroupCreateResumes(t *testing.T) {
	h := newHarness(t)
	c := h.create(1)
	g, err := c.NodeGroup(h.drv, "web")
	if err != nil {
		t.Fatal(err)
	}
	h.sw.failJoin["web-3"] = errors.New("Error response from daemon: manager unreachable")
	v, err := g.Apply(t.Context(), groupSpec(5))
	if hes := HostErrors(err); len(hes) != 1 || hes[0].Host != "web-3" {
		t.Fatalf("first apply: %v", err)
	}
	if len(v.Hosts()) != 5 || v.Ready() != 4 {
		t.Fatalf("after the failed join: %d hosts, %d ready", len(v.Hosts()), v.Ready())
	}
	first := map[string]string{}
	for _, m := range v.Members {
		first[m.Name] = m.HostID
	}
	delete(h.sw.failJoin, "web-3")
	creates := h.drv.count("CreateHosts")
	v, err = g.Apply(t.Context(), groupSpec(5))
	if err != nil || v.Ready() != 5 {
		t.Fatalf("second apply: %v, %d ready", err, v.Ready())
	}
	after := map[string]string{}
	for _, m := range v.Members {
		after[m.Name] = m.HostID
	}
	if !maps.Equal(first, after) || h.drv.count("CreateHosts") != creates || len(h.rec.matching("delete")) != 0 {
		t.Errorf("hosts before %v, after %v; %d more creates; deletes %q", first, after, h.drv.count("CreateHosts")-creates, h.rec.matching("delete"))
	}
}
