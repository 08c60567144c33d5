package swarm

import (
	"testing"

	"github.com/docker/docker/api/types/swarm"
)

func TestNodeMatches(t *testing.T) {
	n := swarm.Node{ID: "n1", Spec: swarm.NodeSpec{Role: swarm.NodeRoleManager, Annotations: swarm.Annotations{Labels: map[string]string{"zone": "a"}}},
		Description: swarm.NodeDescription{Hostname: "web-1", Platform: swarm.Platform{OS: "linux", Architecture: "x86_64"},
			Engine: swarm.EngineDescription{Labels: map[string]string{"haddock.group": "manager"}}}}
	tests := []struct {
		constraints []string
		want        bool
	}{
		{nil, true},
		{[]string{"node.role == manager"}, true},
		{[]string{"node.role==worker"}, false},
		{[]string{"node.role != worker", "node.labels.zone == a"}, true},
		{[]string{"node.labels.zone == b"}, false},
		{[]string{"node.labels.missing == x"}, false},
		{[]string{"node.labels.missing != x"}, true},
		{[]string{"engine.labels.haddock.group == manager"}, true},
		{[]string{"node.hostname == web-1", "node.platform.os == linux"}, true},
		{[]string{"node.id == n2"}, false},
		{[]string{"gibberish"}, true},
	}
	for _, tt := range tests {
		if got := NodeMatches(n, tt.constraints); got != tt.want {
			t.Errorf("NodeMatches(%q) = %v, want %v", tt.constraints, got, tt.want)
		}
	}
}
