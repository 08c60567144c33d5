package swarm

import (
	"reflect"
	"testing"

	"github.com/docker/docker/api/types/swarm"
)

func TestPublishedPorts(t *testing.T) {
	svc := func(name string, spec []swarm.PortConfig, endpoint []swarm.PortConfig) swarm.Service {
		s := swarm.Service{Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: name}}, Endpoint: swarm.Endpoint{Ports: endpoint}}
		if spec != nil {
			s.Spec.EndpointSpec = &swarm.EndpointSpec{Ports: spec}
		}
		return s
	}
	tests := []struct {
		name     string
		services []swarm.Service
		want     []PublishedPort
	}{
		{"none", nil, nil},
		{"unpublished target port only", []swarm.Service{svc("db", []swarm.PortConfig{{TargetPort: 5432}}, nil)}, nil},
		{"host mode and ingress, udp, duplicates once", []swarm.Service{
			svc("web", []swarm.PortConfig{{Protocol: "tcp", TargetPort: 8080, PublishedPort: 80, PublishMode: swarm.PortConfigPublishModeHost}}, nil),
			svc("api", []swarm.PortConfig{{TargetPort: 8080, PublishedPort: 80}, {Protocol: "udp", TargetPort: 53, PublishedPort: 53}}, nil),
		}, []PublishedPort{{"tcp", 80, "api"}, {"udp", 53, "api"}}},
		{"a port the swarm assigned", []swarm.Service{svc("x", []swarm.PortConfig{{TargetPort: 80}}, []swarm.PortConfig{{Protocol: "tcp", TargetPort: 80, PublishedPort: 30001}})},
			[]PublishedPort{{"tcp", 30001, "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := publishedPorts(tt.services); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
