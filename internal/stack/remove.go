package stack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"

	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

// Remove removes a whole stack, as `docker stack rm` does and then some: its
// services, then, once their tasks are gone (so no container is still
// attached), its networks, configs and secrets. It waits until they are all
// gone or ctx ends; tasks on nodes that are down, which cannot report, are
// not waited for. Removing a stack that does not exist succeeds.
func Remove(ctx context.Context, e Engine, namespace string) error {
	if err := ValidateName(namespace); err != nil {
		return err
	}
	if err := remove(ctx, e, namespace); err != nil {
		return fmt.Errorf("removing stack %s: %w", namespace, err)
	}
	return nil
}

func remove(ctx context.Context, e Engine, namespace string) error {
	f := stackFilter(namespace)
	services, err := e.ServiceList(ctx, swarm.ServiceListOptions{Filters: f})
	if err != nil {
		return fmt.Errorf("listing services: %w", err)
	}
	for _, s := range services {
		if err := e.ServiceRemove(ctx, s.ID); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("removing service %s: %w", s.Spec.Name, err)
		}
	}
	err = wait.Until(ctx, polling("the tasks to go"), func(ctx context.Context) (bool, string, error) {
		tasks, err := e.TaskList(ctx, swarm.TaskListOptions{Filters: f})
		if err != nil {
			return false, "", err
		}
		if len(tasks) == 0 {
			return true, "", nil
		}
		nodes, err := e.NodeList(ctx, swarm.NodeListOptions{})
		if err != nil {
			return false, "", err
		}
		up := map[string]bool{}
		for _, n := range nodes {
			up[n.ID] = n.Status.State == swarm.NodeStateReady
		}
		left, last := 0, ""
		for _, t := range tasks {
			if t.NodeID == "" || up[t.NodeID] {
				left++
				last = fmt.Sprintf("task %s (%s) %s", t.ID, t.NodeID, t.Status.State)
			}
		}
		return left == 0, last, nil
	})
	var te *wait.TimeoutError
	if errors.As(err, &te) {
		return err
	}
	if err != nil {
		return fmt.Errorf("waiting for the tasks to go: %w", err)
	}

	nets, err := e.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return fmt.Errorf("listing networks: %w", err)
	}
	for _, n := range nets {
		if err := removeRetrying(ctx, func() error { return e.NetworkRemove(ctx, n.ID) }, endpointsLeft); err != nil {
			return fmt.Errorf("removing network %s: %w", n.Name, err)
		}
	}
	configs, err := e.ConfigList(ctx, swarm.ConfigListOptions{Filters: f})
	if err != nil {
		return fmt.Errorf("listing configs: %w", err)
	}
	for _, c := range configs {
		if err := removeRetrying(ctx, func() error { return e.ConfigRemove(ctx, c.ID) }, nil); err != nil {
			return fmt.Errorf("removing config %s: %w", c.Spec.Name, err)
		}
	}
	secrets, err := e.SecretList(ctx, swarm.SecretListOptions{Filters: f})
	if err != nil {
		return fmt.Errorf("listing secrets: %w", err)
	}
	for _, s := range secrets {
		if err := removeRetrying(ctx, func() error { return e.SecretRemove(ctx, s.ID) }, nil); err != nil {
			return fmt.Errorf("removing secret %s: %w", s.Spec.Name, err)
		}
	}
	return nil
}

// removeRetrying removes an object, retrying while retry says the error is
// temporary (a network whose endpoints, of containers being torn down, are
// still there). Not found is success. A config, secret or network in use by
// a service of another stack is an error at once.
func removeRetrying(ctx context.Context, rm func() error, retry func(error) bool) error {
	return wait.Until(ctx, polling("the removal"), func(context.Context) (bool, string, error) {
		err := rm()
		switch {
		case err == nil || cerrdefs.IsNotFound(err):
			return true, "", nil
		case retry != nil && retry(err):
			return false, "still in use", wait.Retry(err)
		}
		return false, "", err
	})
}

func endpointsLeft(err error) bool {
	return strings.Contains(strings.ToLower(err.Error()), "active endpoints")
}

// Poll intervals of Remove's waits: they back off from pollMin to pollMax.
// Tests shorten them.
var (
	pollMin = 250 * time.Millisecond
	pollMax = 2 * time.Second
)

func polling(what string) wait.Options {
	return wait.Options{What: what, Interval: pollMin, MaxInterval: pollMax}
}
