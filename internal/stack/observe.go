package stack

import (
	"context"
	"fmt"
	"maps"
	"sort"

	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
)

// StackState is what a swarm runs of a stack: its objects as the managers
// see them now.
type StackState struct {
	Namespace string
	Services  []ServiceState
	Networks  []NetworkState
	Configs   []ObjectState
	Secrets   []ObjectState
}

// ServiceState is a service of a stack as it is now.
type ServiceState struct {
	// Name is the service's name in the stack (without the stack's
	// prefix); FullName the swarm service's.
	Name     string
	FullName string
	ID       string
	// Version is the service's version index; it changes with every update.
	Version uint64
	// Image is the image the spec names, with the digest the managers
	// pinned when they resolved it; ImageDigest is that digest ("" when
	// the image was not resolved).
	Image       string
	ImageDigest string
	// Mode is replicated, global, replicated-job or global-job.
	Mode string
	// DesiredReplicas is the spec's replicas (replicated modes);
	// DesiredTasks and RunningTasks are the managers' counts of tasks that
	// should run and do.
	DesiredReplicas uint64
	DesiredTasks    uint64
	RunningTasks    uint64
	// Ports are the published ports: those the managers assigned, or the
	// spec's.
	Ports []Port
	// UpdateState is the last update's state (updating, paused,
	// completed, rollback_started, rollback_paused, rollback_completed),
	// "" when the service was never updated; UpdateMessage explains it.
	UpdateState   string
	UpdateMessage string
	// AppliedHash is the spec hash Haddock deployed (LabelSpecHash), ""
	// for a service Haddock did not deploy; CurrentHash the hash of the
	// service's spec now. They differ when the service was changed out of
	// band (Drifted).
	AppliedHash string
	CurrentHash string
	Drifted     bool
}

// NetworkState is a network of a stack.
type NetworkState struct {
	Name       string
	ID         string
	Driver     string
	Scope      string
	Attachable bool
	Internal   bool
	Options    map[string]string
}

// ObjectState is a config or secret of a stack.
type ObjectState struct {
	Name string
	ID   string
	// Key is its key in the compose file, and Hash its content hash, for
	// objects Haddock created ("" otherwise).
	Key    string
	Hash   string
	Labels map[string]string
}

// Observe reads the stack namespace's services, networks, configs and
// secrets through a manager. A namespace with nothing in it gives an empty
// state, not an error.
func Observe(ctx context.Context, e Engine, namespace string) (*StackState, error) {
	if err := ValidateName(namespace); err != nil {
		return nil, err
	}
	st := &StackState{Namespace: namespace}
	f := stackFilter(namespace)
	services, err := e.ServiceList(ctx, swarm.ServiceListOptions{Filters: f, Status: true})
	if err != nil {
		return nil, fmt.Errorf("observing stack %s: listing services: %w", namespace, err)
	}
	var names map[string]string
	if len(services) > 0 {
		if names, err = networkNames(ctx, e); err != nil {
			return nil, fmt.Errorf("observing stack %s: %w", namespace, err)
		}
	}
	prefix := namespace + "_"
	for _, s := range services {
		ss := ServiceState{FullName: s.Spec.Name, Name: s.Spec.Name, ID: s.ID, Version: s.Version.Index}
		if len(ss.Name) > len(prefix) && ss.Name[:len(prefix)] == prefix {
			ss.Name = ss.Name[len(prefix):]
		}
		if c := s.Spec.TaskTemplate.ContainerSpec; c != nil {
			ss.Image = c.Image
			ss.ImageDigest = imageDigest(c.Image)
		}
		ss.Mode, ss.DesiredReplicas = modeOf(s.Spec.Mode)
		if s.ServiceStatus != nil {
			ss.DesiredTasks, ss.RunningTasks = s.ServiceStatus.DesiredTasks, s.ServiceStatus.RunningTasks
		}
		if len(s.Endpoint.Ports) > 0 {
			ss.Ports = portList(s.Endpoint.Ports)
		} else {
			ss.Ports = portsOf(s.Spec.EndpointSpec)
		}
		if u := s.UpdateStatus; u != nil {
			ss.UpdateState, ss.UpdateMessage = string(u.State), u.Message
		}
		ss.AppliedHash = s.Spec.Labels[LabelSpecHash]
		ss.CurrentHash = specHash(s.Spec, names)
		ss.Drifted = ss.AppliedHash != "" && ss.AppliedHash != ss.CurrentHash
		st.Services = append(st.Services, ss)
	}
	sort.Slice(st.Services, func(i, j int) bool { return st.Services[i].Name < st.Services[j].Name })

	nets, err := e.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("observing stack %s: listing networks: %w", namespace, err)
	}
	for _, n := range nets {
		st.Networks = append(st.Networks, NetworkState{Name: n.Name, ID: n.ID, Driver: n.Driver, Scope: n.Scope,
			Attachable: n.Attachable, Internal: n.Internal, Options: maps.Clone(n.Options)})
	}
	sort.Slice(st.Networks, func(i, j int) bool { return st.Networks[i].Name < st.Networks[j].Name })

	configs, err := e.ConfigList(ctx, swarm.ConfigListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("observing stack %s: listing configs: %w", namespace, err)
	}
	for _, c := range configs {
		st.Configs = append(st.Configs, objectState(c.ID, c.Spec.Annotations))
	}
	sort.Slice(st.Configs, func(i, j int) bool { return st.Configs[i].Name < st.Configs[j].Name })

	secrets, err := e.SecretList(ctx, swarm.SecretListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("observing stack %s: listing secrets: %w", namespace, err)
	}
	for _, s := range secrets {
		st.Secrets = append(st.Secrets, objectState(s.ID, s.Spec.Annotations))
	}
	sort.Slice(st.Secrets, func(i, j int) bool { return st.Secrets[i].Name < st.Secrets[j].Name })
	return st, nil
}

func objectState(id string, a swarm.Annotations) ObjectState {
	return ObjectState{Name: a.Name, ID: id, Key: a.Labels[LabelKey], Hash: a.Labels[LabelContentHash], Labels: maps.Clone(a.Labels)}
}

// Empty reports whether nothing of the stack exists.
func (s *StackState) Empty() bool {
	return len(s.Services) == 0 && len(s.Networks) == 0 && len(s.Configs) == 0 && len(s.Secrets) == 0
}

// Service returns the state of the service with that name in the stack.
func (s *StackState) Service(name string) (ServiceState, bool) {
	for _, ss := range s.Services {
		if ss.Name == name {
			return ss, true
		}
	}
	return ServiceState{}, false
}

// Change kinds Diff reports.
const (
	// ChangeCreate: in the file, not in the swarm.
	ChangeCreate = "create"
	// ChangeUpdate: in both, the file's spec differs from what was
	// deployed (Reason "file"), or the service was changed out of band
	// (Reason "drift").
	ChangeUpdate = "update"
	// ChangeRemove: in the swarm, not in the file (Deploy with Prune
	// removes it).
	ChangeRemove = "remove"
)

// Change is a difference between a Project and a StackState: what Deploy
// would do.
type Change struct {
	// Kind is "service", "network", "config" or "secret".
	Kind   string
	Name   string // the swarm name
	Action string // create, update, remove
	// Reason explains an update: "file" or "drift".
	Reason string
}

func (c Change) String() string {
	s := c.Action + " " + c.Kind + " " + c.Name
	if c.Reason != "" {
		s += " (" + c.Reason + ")"
	}
	return s
}

// Diff returns what Deploy(p) would change in a stack in state st: services
// missing, changed in the file, changed or rolled back out of band, or no
// longer in the file (removed by Deploy with Prune); networks, configs and
// secrets missing. An empty result means the stack is as the file says, so
// the resource can plan a repair from it.
func Diff(p *Project, st *StackState) []Change {
	var out []Change
	have := map[string]ServiceState{}
	for _, s := range st.Services {
		have[s.FullName] = s
	}
	for _, s := range p.Services {
		cur, ok := have[s.FullName]
		switch {
		case !ok:
			out = append(out, Change{Kind: "service", Name: s.FullName, Action: ChangeCreate})
		case cur.Drifted:
			out = append(out, Change{Kind: "service", Name: s.FullName, Action: ChangeUpdate, Reason: "drift"})
		case cur.AppliedHash != s.SpecHash || cur.CurrentHash != s.SpecHash:
			out = append(out, Change{Kind: "service", Name: s.FullName, Action: ChangeUpdate, Reason: "file"})
		}
		delete(have, s.FullName)
	}
	for _, name := range sortedKeys(have) {
		out = append(out, Change{Kind: "service", Name: name, Action: ChangeRemove})
	}

	nets := map[string]bool{}
	for _, n := range st.Networks {
		nets[n.Name] = true
	}
	for _, n := range p.Networks {
		if !n.External && !nets[n.Name] {
			out = append(out, Change{Kind: "network", Name: n.Name, Action: ChangeCreate})
		}
	}
	out = append(out, objectChanges("config", p.Configs, st.Configs)...)
	out = append(out, objectChanges("secret", p.Secrets, st.Secrets)...)
	return out
}

// objectChanges returns the objects to create. Objects the file no longer
// uses are not reported: Deploy collects them when nothing refers to them
// (a superseded version stays while a service's previous spec, kept for
// rollback, refers to it), so they are no difference to plan for.
func objectChanges(kind string, want []Object, have []ObjectState) []Change {
	var out []Change
	cur := map[string]bool{}
	for _, o := range have {
		cur[o.Name] = true
	}
	for _, o := range want {
		if !o.External && !cur[o.Name] {
			out = append(out, Change{Kind: kind, Name: o.Name, Action: ChangeCreate})
		}
	}
	return out
}
