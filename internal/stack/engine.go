package stack

import (
	"context"
	"errors"

	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/client"

	hswarm "github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

// Engine is the part of a swarm manager's Docker Engine API a stack needs.
// *client.Client satisfies it; EngineOf returns the one behind a Haddock
// swarm client (mutual TLS). Tests substitute an in-memory engine.
type Engine interface {
	ClientVersion() string
	Info(ctx context.Context) (system.Info, error)

	ServiceList(ctx context.Context, options swarm.ServiceListOptions) ([]swarm.Service, error)
	ServiceInspectWithRaw(ctx context.Context, serviceID string, options swarm.ServiceInspectOptions) (swarm.Service, []byte, error)
	ServiceCreate(ctx context.Context, service swarm.ServiceSpec, options swarm.ServiceCreateOptions) (swarm.ServiceCreateResponse, error)
	ServiceUpdate(ctx context.Context, serviceID string, version swarm.Version, service swarm.ServiceSpec, options swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error)
	ServiceRemove(ctx context.Context, serviceID string) error
	TaskList(ctx context.Context, options swarm.TaskListOptions) ([]swarm.Task, error)
	NodeList(ctx context.Context, options swarm.NodeListOptions) ([]swarm.Node, error)

	NetworkList(ctx context.Context, options network.ListOptions) ([]network.Summary, error)
	NetworkInspect(ctx context.Context, network string, options network.InspectOptions) (network.Inspect, error)
	NetworkCreate(ctx context.Context, name string, options network.CreateOptions) (network.CreateResponse, error)
	NetworkRemove(ctx context.Context, network string) error

	SecretList(ctx context.Context, options swarm.SecretListOptions) ([]swarm.Secret, error)
	SecretCreate(ctx context.Context, secret swarm.SecretSpec) (swarm.SecretCreateResponse, error)
	SecretUpdate(ctx context.Context, id string, version swarm.Version, secret swarm.SecretSpec) error
	SecretRemove(ctx context.Context, id string) error

	ConfigList(ctx context.Context, options swarm.ConfigListOptions) ([]swarm.Config, error)
	ConfigCreate(ctx context.Context, config swarm.ConfigSpec) (swarm.ConfigCreateResponse, error)
	ConfigUpdate(ctx context.Context, id string, version swarm.Version, config swarm.ConfigSpec) error
	ConfigRemove(ctx context.Context, id string) error
}

var _ Engine = (*client.Client)(nil)

// EngineOf returns the Engine of a Haddock swarm client: the Docker SDK
// client behind it, over the same mutual TLS connection. The client must be
// a manager's for Deploy, WaitConverged, Observe and Remove to work.
func EngineOf(c *hswarm.Client) (Engine, error) {
	if c == nil {
		return nil, errors.New("stack: no docker client")
	}
	api := c.DockerAPI()
	if api == nil {
		return nil, errors.New("stack: the docker client has no Docker API behind it")
	}
	return api, nil
}

// renderAPIVersion is the API version convert.Services is told the engine
// speaks. It only decides where network attachments go (TaskTemplate from
// 1.29), and a fixed value keeps rendered specs, and so their hashes,
// independent of the engine. Deploy refuses engines older than
// minAPIVersion.
const (
	renderAPIVersion = "1.41"
	minAPIVersion    = "1.41"
)

// resolver is the client.APIClient the CLI's convert.Services is given. It
// only uses ClientVersion, SecretList and ConfigList (to turn secret and
// config names into IDs); the embedded nil interface makes any other call
// panic, which the conversion tests would show.
type resolver struct {
	client.APIClient
	secrets func(ctx context.Context, opts swarm.SecretListOptions) ([]swarm.Secret, error)
	configs func(ctx context.Context, opts swarm.ConfigListOptions) ([]swarm.Config, error)
}

func (resolver) ClientVersion() string { return renderAPIVersion }

func (r resolver) SecretList(ctx context.Context, opts swarm.SecretListOptions) ([]swarm.Secret, error) {
	return r.secrets(ctx, opts)
}

func (r resolver) ConfigList(ctx context.Context, opts swarm.ConfigListOptions) ([]swarm.Config, error) {
	return r.configs(ctx, opts)
}

// engineResolver resolves names through the engine: the objects must exist.
func engineResolver(e Engine) resolver {
	return resolver{secrets: e.SecretList, configs: e.ConfigList}
}

// offlineResolver resolves any name to an object with an empty ID: for
// rendering at Load, when nothing exists yet. IDs are not part of the spec
// hash, so the hash is the same as at Deploy.
func offlineResolver() resolver {
	return resolver{
		secrets: func(_ context.Context, opts swarm.SecretListOptions) ([]swarm.Secret, error) {
			var out []swarm.Secret
			for _, n := range opts.Filters.Get("name") {
				out = append(out, swarm.Secret{Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: n}}})
			}
			return out, nil
		},
		configs: func(_ context.Context, opts swarm.ConfigListOptions) ([]swarm.Config, error) {
			var out []swarm.Config
			for _, n := range opts.Filters.Get("name") {
				out = append(out, swarm.Config{Spec: swarm.ConfigSpec{Annotations: swarm.Annotations{Name: n}}})
			}
			return out, nil
		},
	}
}
