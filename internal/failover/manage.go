package failover

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	dswarm "github.com/docker/docker/api/types/swarm"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

// What a caller without the Docker SDK (the provider) does with the agent,
// through a manager's engine (cluster.Cluster.Manager): deploy it, find
// which floating IP it keeps, remove it.

// ManageAPI is what Following and Remove need of a manager's Docker API,
// besides Deploy's (the Docker SDK's client satisfies it).
type ManageAPI interface {
	DeployAPI
	ServiceRemove(ctx context.Context, serviceID string) error
}

// api is the Docker API of a manager's engine.
func api(e cluster.Engine) (ManageAPI, error) {
	sc, ok := e.(*swarm.Client)
	if !ok || sc.DockerAPI() == nil {
		return nil, fmt.Errorf("the manager's engine is a %T, not a Docker API client", e)
	}
	return sc.DockerAPI(), nil
}

// DeployOn is Deploy through a manager's engine.
func DeployOn(ctx context.Context, e cluster.Engine, svc Service, cfg Config) (string, error) {
	a, err := api(e)
	if err != nil {
		return "", err
	}
	return Deploy(ctx, a, svc, cfg)
}

// FollowingOn is Following through a manager's engine.
func FollowingOn(ctx context.Context, e cluster.Engine) (string, bool, error) {
	a, err := api(e)
	if err != nil {
		return "", false, err
	}
	return Following(ctx, a)
}

// RemoveFrom is Remove through a manager's engine.
func RemoveFrom(ctx context.Context, e cluster.Engine, floatingIPID string, timeout time.Duration) error {
	a, err := api(e)
	if err != nil {
		return err
	}
	return Remove(ctx, a, floatingIPID, timeout)
}

// Kept is the floating IP an agent keeps and where it is (Cloud and Region
// are "" for an agent deployed before they were recorded).
type Kept struct {
	FloatingIPID string
	Cloud        cloud.Name
	Region       string
}

// KeepingOn says, through a manager's engine, whether the swarm runs the
// agent's service and what it keeps.
func KeepingOn(ctx context.Context, e cluster.Engine) (Kept, bool, error) {
	a, err := api(e)
	if err != nil {
		return Kept{}, false, err
	}
	return keeping(ctx, a)
}

func keeping(ctx context.Context, a DeployAPI) (Kept, bool, error) {
	s, _, err := a.ServiceInspectWithRaw(ctx, ServiceName, dswarm.ServiceInspectOptions{})
	if errdefs.IsNotFound(err) {
		return Kept{}, false, nil
	}
	if err != nil {
		return Kept{}, false, fmt.Errorf("reading the agent's service: %w", err)
	}
	l := s.Spec.Labels
	return Kept{FloatingIPID: l[LabelFloatingIP], Cloud: cloud.Name(l[LabelFloatingIPCloud]), Region: l[LabelFloatingIPRegion]}, true, nil
}

// Following says whether the swarm runs the agent's service and which
// floating IP it keeps ("" for a service deployed without the label).
func Following(ctx context.Context, a DeployAPI) (floatingIPID string, found bool, err error) {
	k, found, err := keeping(ctx, a)
	return k.FloatingIPID, found, err
}

// Remove removes the agent's service, when it keeps floatingIPID (or
// any floating IP when floatingIPID is ""), and then every secret of the
// agent, waiting up to timeout for the service's tasks to let go of them.
// An agent keeping another floating IP is left alone.
func Remove(ctx context.Context, a ManageAPI, floatingIPID string, timeout time.Duration) error {
	id, found, err := Following(ctx, a)
	if err != nil {
		return err
	}
	if found && floatingIPID != "" && id != "" && id != floatingIPID {
		return nil
	}
	if found {
		if err := a.ServiceRemove(ctx, ServiceName); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("removing the agent's service: %w", err)
		}
	}
	// A secret stays in use until the removed service's tasks are gone.
	return wait.Until(ctx, wait.Options{What: "the agent's secrets removed", Interval: 250 * time.Millisecond, MaxInterval: 2 * time.Second, Timeout: timeout},
		func(ctx context.Context) (bool, string, error) {
			secrets, err := a.SecretList(ctx, dswarm.SecretListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelAgent))})
			if err != nil {
				return false, "", wait.Retry(fmt.Errorf("listing the agent's secrets: %w", err))
			}
			var errs []error
			for _, s := range secrets {
				if err := a.SecretRemove(ctx, s.ID); err != nil && !errdefs.IsNotFound(err) {
					if !errdefs.IsConflict(err) && !errdefs.IsInvalidArgument(err) {
						return false, "", fmt.Errorf("removing the agent's secret %s: %w", s.Spec.Name, err)
					}
					errs = append(errs, err)
				}
			}
			if err := errors.Join(errs...); err != nil {
				return false, fmt.Sprintf("%d secrets still in use: %v", len(errs), err), nil
			}
			return true, "", nil
		})
}
