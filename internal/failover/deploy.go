package failover

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
)

const (
	// ServiceName is the agent's swarm service.
	ServiceName = "haddock-agent"
	// SecretTarget is the file name of the configuration in the container:
	// /run/secrets/haddock-agent, the binary's default -config.
	SecretTarget = "haddock-agent"
	// SecretPrefix + a hash of the content names the configuration's swarm
	// secret (secrets are immutable: a new configuration is a new secret).
	SecretPrefix = "haddock-agent-"
	// LabelAgent is on the secrets and the service Deploy makes.
	LabelAgent = "haddock.agent"
	// LabelFloatingIP on the service names the floating IP the agent
	// keeps (Config.FloatingIPID).
	LabelFloatingIP = "haddock.floating-ip"
	// LabelFloatingIPCloud and LabelFloatingIPRegion on the service say
	// where that floating IP is, so that an agent left keeping one that no
	// longer exists (its cluster moved to another vendor) can be told from
	// one that does.
	LabelFloatingIPCloud  = "haddock.floating-ip-cloud"
	LabelFloatingIPRegion = "haddock.floating-ip-region"
	// DockerSocket is where the engine's socket is bind-mounted.
	DockerSocket = "/var/run/docker.sock"
)

// DeployAPI is what Deploy needs of a manager's Docker API (the Docker
// SDK's client satisfies it).
type DeployAPI interface {
	SecretList(ctx context.Context, options swarm.SecretListOptions) ([]swarm.Secret, error)
	SecretCreate(ctx context.Context, secret swarm.SecretSpec) (swarm.SecretCreateResponse, error)
	SecretRemove(ctx context.Context, id string) error
	ServiceInspectWithRaw(ctx context.Context, serviceID string, opts swarm.ServiceInspectOptions) (swarm.Service, []byte, error)
	ServiceCreate(ctx context.Context, service swarm.ServiceSpec, options swarm.ServiceCreateOptions) (swarm.ServiceCreateResponse, error)
	ServiceUpdate(ctx context.Context, serviceID string, version swarm.Version, service swarm.ServiceSpec, options swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error)
}

// Service says what the agent's service runs.
type Service struct {
	// Image is the agent's image (BuildImage, PushImage).
	Image string
	// Socket is the bind-mount source of the local engine's socket;
	// default DockerSocket. Swarm expands service templates in it
	// ("/run/hosts/{{.Node.Hostname}}/docker.sock"), for machines where
	// each node's engine has its own path (localcloud's hosts).
	Socket string
}

// ServiceSpec is the agent's service: global on the managers, the local
// engine's socket bind-mounted at /var/run/docker.sock, the configuration
// secret (secretID, secretName) at /run/secrets/haddock-agent readable by
// root only, restarted whatever its exit.
func ServiceSpec(svc Service, secretID, secretName, clusterUID string) swarm.ServiceSpec {
	delay := time.Second
	grace := 2 * time.Second
	sock := cmp.Or(svc.Socket, DockerSocket)
	return swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: ServiceName, Labels: map[string]string{LabelAgent: "service", "haddock.cluster": clusterUID}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{
				Image:  svc.Image,
				User:   "0", // the engine's socket is root's
				Mounts: []mount.Mount{{Type: mount.TypeBind, Source: sock, Target: DockerSocket}},
				Secrets: []*swarm.SecretReference{{
					SecretID: secretID, SecretName: secretName,
					File: &swarm.SecretReferenceFileTarget{Name: SecretTarget, UID: "0", GID: "0", Mode: 0o400},
				}},
				StopGracePeriod: &grace,
			},
			Placement:     &swarm.Placement{Constraints: []string{"node.role == manager"}},
			RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny, Delay: &delay},
			Resources:     &swarm.ResourceRequirements{Limits: &swarm.Limit{MemoryBytes: 64 << 20}},
		},
		Mode: swarm.ServiceMode{Global: &swarm.GlobalService{}},
	}
}

// SecretName is the name of the swarm secret Deploy makes for cfg: a new
// configuration is a new name.
func SecretName(cfg Config) (string, error) {
	_, name, err := secret(cfg)
	return name, err
}

func secret(cfg Config) (data []byte, name string, err error) {
	data, err = json.Marshal(cfg)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(data)
	return data, SecretPrefix + hex.EncodeToString(sum[:])[:12], nil
}

// Deploy creates or updates the agent's service (svc) with cfg as its secret,
// through a manager's Docker API, and removes the agent's secrets no
// longer used. It returns the service id. This is all a caller (the
// provider) has to do: the agent finds everything else itself.
func Deploy(ctx context.Context, api DeployAPI, svc Service, cfg Config) (string, error) {
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	data, name, err := secret(cfg)
	if err != nil {
		return "", err
	}
	secrets, err := api.SecretList(ctx, swarm.SecretListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelAgent))})
	if err != nil {
		return "", fmt.Errorf("listing the agent's secrets: %w", err)
	}
	var secretID string
	for _, s := range secrets {
		if s.Spec.Name == name {
			secretID = s.ID
		}
	}
	if secretID == "" {
		r, err := api.SecretCreate(ctx, swarm.SecretSpec{
			Annotations: swarm.Annotations{Name: name, Labels: map[string]string{LabelAgent: "config"}},
			Data:        data,
		})
		if err != nil {
			return "", fmt.Errorf("creating the agent's secret: %w", err)
		}
		secretID = r.ID
	}
	spec := ServiceSpec(svc, secretID, name, cfg.ClusterUID)
	spec.Labels[LabelFloatingIP] = cfg.FloatingIPID
	spec.Labels[LabelFloatingIPCloud] = string(cfg.Cloud)
	spec.Labels[LabelFloatingIPRegion] = cfg.Region
	cur, _, err := api.ServiceInspectWithRaw(ctx, ServiceName, swarm.ServiceInspectOptions{})
	var id string
	switch {
	case errdefs.IsNotFound(err):
		r, err := api.ServiceCreate(ctx, spec, swarm.ServiceCreateOptions{})
		if err != nil {
			return "", fmt.Errorf("creating the agent's service: %w", err)
		}
		id = r.ID
	case err != nil:
		return "", fmt.Errorf("reading the agent's service: %w", err)
	default:
		if _, err := api.ServiceUpdate(ctx, cur.ID, cur.Version, spec, swarm.ServiceUpdateOptions{}); err != nil {
			return "", fmt.Errorf("updating the agent's service: %w", err)
		}
		id = cur.ID
	}
	// Older configurations: a secret a task still uses is refused by the
	// swarm and removed on a later Deploy.
	var errs []error
	for _, s := range secrets {
		if s.ID != secretID {
			if err := api.SecretRemove(ctx, s.ID); err != nil && !errdefs.IsConflict(err) && !errdefs.IsInvalidArgument(err) {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return id, fmt.Errorf("removing the agent's old secrets: %w", err)
	}
	return id, nil
}
