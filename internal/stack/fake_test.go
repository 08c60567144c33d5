package stack

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"
)

// fakeEngine is an in-memory swarm manager. It stores service specs the way
// the engine does (network names turned into IDs, defaults filled in), so
// tests see what the canonical spec hash has to cope with.
type fakeEngine struct {
	mu       sync.Mutex
	next     int
	worker   bool
	version  string
	services map[string]*swarm.Service
	tasks    []swarm.Task
	stale    map[string]bool // tasks not of their service's current spec
	nodes    []swarm.Node
	networks map[string]*network.Summary // by ID
	secrets  map[string]*swarm.Secret
	configs  map[string]*swarm.Config
	calls    []string
	// updateConflicts makes the next n ServiceUpdate calls fail with
	// "update out of sequence".
	updateConflicts int
	// onTaskList, when set, runs before every TaskList.
	onTaskList func(f *fakeEngine)
	// removeBusy makes NetworkRemove fail with active endpoints this many
	// times.
	removeBusy int
}

var _ Engine = (*fakeEngine)(nil)

func newFakeEngine() *fakeEngine {
	f := &fakeEngine{
		version:  "1.47",
		services: map[string]*swarm.Service{},
		stale:    map[string]bool{},
		networks: map[string]*network.Summary{},
		secrets:  map[string]*swarm.Secret{},
		configs:  map[string]*swarm.Config{},
	}
	for _, n := range []struct{ name, driver, scope string }{
		{"ingress", "overlay", "swarm"}, {"bridge", "bridge", "local"}, {"host", "host", "local"},
	} {
		id := f.id()
		f.networks[id] = &network.Summary{ID: id, Name: n.name, Driver: n.driver, Scope: n.scope}
	}
	return f
}

func (f *fakeEngine) id() string {
	f.next++
	return fmt.Sprintf("id%04d", f.next)
}

func (f *fakeEngine) call(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

// callsLike returns the recorded calls starting with prefix.
func (f *fakeEngine) callsLike(prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeEngine) ClientVersion() string { return f.version }

func (f *fakeEngine) Info(context.Context) (system.Info, error) {
	var in system.Info
	in.Swarm.ControlAvailable = !f.worker
	in.Swarm.LocalNodeState = swarm.LocalNodeStateActive
	return in, nil
}

func labelsMatch(args filters.Args, labels map[string]string) bool {
	for _, l := range args.Get("label") {
		k, v, hasV := strings.Cut(l, "=")
		cur, ok := labels[k]
		if !ok || (hasV && cur != v) {
			return false
		}
	}
	return true
}

func namesMatch(args filters.Args, name string) bool {
	names := args.Get("name")
	return len(names) == 0 || has(names, name)
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// store normalizes a spec as the engine does.
func (f *fakeEngine) store(spec swarm.ServiceSpec) swarm.ServiceSpec {
	s := deepCopySpec(spec)
	s.TaskTemplate.Runtime = swarm.RuntimeContainer
	if c := s.TaskTemplate.ContainerSpec; c != nil {
		c.Isolation = "default"
	}
	for i, n := range s.TaskTemplate.Networks {
		for _, nw := range f.networks {
			if nw.Name == n.Target {
				s.TaskTemplate.Networks[i].Target = nw.ID
			}
		}
	}
	if s.EndpointSpec == nil {
		s.EndpointSpec = &swarm.EndpointSpec{}
	}
	if s.EndpointSpec.Mode == "" {
		s.EndpointSpec.Mode = swarm.ResolutionModeVIP
	}
	if r := s.TaskTemplate.RestartPolicy; r != nil && r.Condition == "" {
		r.Condition = swarm.RestartPolicyConditionAny
	}
	for i := range s.EndpointSpec.Ports {
		if s.EndpointSpec.Ports[i].Protocol == "" {
			s.EndpointSpec.Ports[i].Protocol = swarm.PortConfigProtocolTCP
		}
	}
	for _, u := range []*swarm.UpdateConfig{s.UpdateConfig, s.RollbackConfig} {
		if u != nil && u.FailureAction == "" {
			u.FailureAction = swarm.UpdateFailureActionPause
		}
		if u != nil && u.Order == "" {
			u.Order = swarm.UpdateOrderStopFirst
		}
	}
	return s
}

func (f *fakeEngine) ServiceList(_ context.Context, o swarm.ServiceListOptions) ([]swarm.Service, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []swarm.Service
	for _, s := range f.services {
		if !labelsMatch(o.Filters, s.Spec.Labels) {
			continue
		}
		c := *s
		if o.Status {
			c.ServiceStatus = &swarm.ServiceStatus{}
			for _, t := range f.tasks {
				if t.ServiceID == s.ID && t.DesiredState == swarm.TaskStateRunning {
					c.ServiceStatus.DesiredTasks++
					if t.Status.State == swarm.TaskStateRunning {
						c.ServiceStatus.RunningTasks++
					}
				}
			}
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.Name < out[j].Spec.Name })
	return out, nil
}

func (f *fakeEngine) find(idOrName string) *swarm.Service {
	for _, s := range f.services {
		if s.ID == idOrName || s.Spec.Name == idOrName {
			return s
		}
	}
	return nil
}

func (f *fakeEngine) ServiceInspectWithRaw(_ context.Context, id string, _ swarm.ServiceInspectOptions) (swarm.Service, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.find(id)
	if s == nil {
		return swarm.Service{}, nil, cerrdefs.ErrNotFound.WithMessage("service " + id + " not found")
	}
	return *s, nil, nil
}

func (f *fakeEngine) ServiceCreate(_ context.Context, spec swarm.ServiceSpec, o swarm.ServiceCreateOptions) (swarm.ServiceCreateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("ServiceCreate %s query=%t auth=%t", spec.Name, o.QueryRegistry, o.EncodedRegistryAuth != "")
	if f.find(spec.Name) != nil {
		return swarm.ServiceCreateResponse{}, cerrdefs.ErrConflict.WithMessage("name conflicts with an existing object")
	}
	if err := f.checkRefs(spec); err != nil {
		return swarm.ServiceCreateResponse{}, err
	}
	s := &swarm.Service{ID: f.id(), Spec: f.store(spec)}
	s.Version.Index = uint64(f.next)
	f.services[s.ID] = s
	return swarm.ServiceCreateResponse{ID: s.ID}, nil
}

func (f *fakeEngine) checkRefs(spec swarm.ServiceSpec) error {
	c := spec.TaskTemplate.ContainerSpec
	for _, r := range c.Secrets {
		if s := f.secrets[r.SecretID]; s == nil || s.Spec.Name != r.SecretName {
			return fmt.Errorf("secret %s (%s) not found", r.SecretName, r.SecretID)
		}
	}
	for _, r := range c.Configs {
		if s := f.configs[r.ConfigID]; s == nil || s.Spec.Name != r.ConfigName {
			return fmt.Errorf("config %s (%s) not found", r.ConfigName, r.ConfigID)
		}
	}
	return nil
}

func (f *fakeEngine) ServiceUpdate(_ context.Context, id string, v swarm.Version, spec swarm.ServiceSpec, o swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("ServiceUpdate %s version=%d query=%t image=%s", spec.Name, v.Index, o.QueryRegistry, spec.TaskTemplate.ContainerSpec.Image)
	s := f.find(id)
	if s == nil {
		return swarm.ServiceUpdateResponse{}, cerrdefs.ErrNotFound.WithMessage("service " + id + " not found")
	}
	if f.updateConflicts > 0 {
		f.updateConflicts--
		s.Version.Index++ // someone else updated it
		return swarm.ServiceUpdateResponse{}, fmt.Errorf("rpc error: code = Unknown desc = update out of sequence")
	}
	if v.Index != s.Version.Index {
		return swarm.ServiceUpdateResponse{}, fmt.Errorf("rpc error: code = Unknown desc = update out of sequence")
	}
	if err := f.checkRefs(spec); err != nil {
		return swarm.ServiceUpdateResponse{}, err
	}
	prev := s.Spec
	s.PreviousSpec = &prev
	s.Spec = f.store(spec)
	s.Version.Index++
	s.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStateUpdating, Message: "update in progress"}
	return swarm.ServiceUpdateResponse{}, nil
}

func (f *fakeEngine) ServiceRemove(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.find(id)
	if s == nil {
		return cerrdefs.ErrNotFound.WithMessage("service " + id + " not found")
	}
	f.call("ServiceRemove %s", s.Spec.Name)
	delete(f.services, s.ID)
	for i := range f.tasks {
		if f.tasks[i].ServiceID == s.ID {
			f.tasks[i].DesiredState = swarm.TaskStateRemove
		}
	}
	return nil
}

func (f *fakeEngine) TaskList(_ context.Context, o swarm.TaskListOptions) ([]swarm.Task, error) {
	if f.onTaskList != nil {
		f.onTaskList(f)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []swarm.Task
	for _, t := range f.tasks {
		if svc := o.Filters.Get("service"); len(svc) > 0 && !has(svc, t.ServiceID) {
			continue
		}
		if o.Filters.Contains("_up-to-date") && f.stale[t.ID] {
			continue
		}
		if !labelsMatch(o.Filters, t.Labels) {
			continue
		}
		out = append(out, t)
	}
	return out, nil
}

// addTask adds a task of a service, with its labels.
func (f *fakeEngine) addTask(service string, slot int, node string, desired, state swarm.TaskState, errMsg string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.find(service)
	t := swarm.Task{ID: f.id(), ServiceID: s.ID, Slot: slot, NodeID: node, DesiredState: desired}
	t.Labels = maps.Clone(s.Spec.Labels)
	t.Status.State, t.Status.Err, t.Status.Timestamp = state, errMsg, time.Now().Add(time.Duration(f.next)*time.Millisecond)
	f.tasks = append(f.tasks, t)
	return t.ID
}

func (f *fakeEngine) NodeList(context.Context, swarm.NodeListOptions) ([]swarm.Node, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]swarm.Node(nil), f.nodes...), nil
}

func (f *fakeEngine) NetworkList(_ context.Context, o network.ListOptions) ([]network.Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []network.Summary
	for _, n := range f.networks {
		if labelsMatch(o.Filters, n.Labels) {
			out = append(out, *n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *fakeEngine) network(idOrName string) *network.Summary {
	for _, n := range f.networks {
		if n.ID == idOrName || n.Name == idOrName {
			return n
		}
	}
	return nil
}

func (f *fakeEngine) NetworkInspect(_ context.Context, id string, _ network.InspectOptions) (network.Inspect, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.network(id)
	if n == nil {
		return network.Inspect{}, cerrdefs.ErrNotFound.WithMessage("network " + id + " not found")
	}
	return *n, nil
}

func (f *fakeEngine) NetworkCreate(_ context.Context, name string, o network.CreateOptions) (network.CreateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("NetworkCreate %s driver=%s options=%v attachable=%t", name, o.Driver, o.Options, o.Attachable)
	if f.network(name) != nil {
		return network.CreateResponse{}, cerrdefs.ErrConflict.WithMessage("network with name " + name + " already exists")
	}
	id := f.id()
	f.networks[id] = &network.Summary{ID: id, Name: name, Driver: o.Driver, Scope: "swarm", Options: o.Options,
		Labels: o.Labels, Attachable: o.Attachable, Internal: o.Internal}
	return network.CreateResponse{ID: id}, nil
}

func (f *fakeEngine) NetworkRemove(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.network(id)
	if n == nil {
		return cerrdefs.ErrNotFound.WithMessage("network " + id + " not found")
	}
	if f.removeBusy > 0 {
		f.removeBusy--
		return fmt.Errorf("error while removing network: network %s id %s has active endpoints", n.Name, n.ID)
	}
	f.call("NetworkRemove %s", n.Name)
	delete(f.networks, n.ID)
	return nil
}

func (f *fakeEngine) SecretList(_ context.Context, o swarm.SecretListOptions) ([]swarm.Secret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []swarm.Secret
	for _, s := range f.secrets {
		if namesMatch(o.Filters, s.Spec.Name) && labelsMatch(o.Filters, s.Spec.Labels) {
			c := *s
			c.Spec.Data = nil // never returned
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeEngine) SecretCreate(_ context.Context, spec swarm.SecretSpec) (swarm.SecretCreateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("SecretCreate %s", spec.Name)
	for _, s := range f.secrets {
		if s.Spec.Name == spec.Name {
			return swarm.SecretCreateResponse{}, cerrdefs.ErrConflict.WithMessage("secret " + spec.Name + " already exists")
		}
	}
	id := f.id()
	f.secrets[id] = &swarm.Secret{ID: id, Spec: spec}
	return swarm.SecretCreateResponse{ID: id}, nil
}

func (f *fakeEngine) SecretUpdate(_ context.Context, id string, _ swarm.Version, spec swarm.SecretSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("SecretUpdate %s", spec.Name)
	s := f.secrets[id]
	if s == nil {
		return cerrdefs.ErrNotFound
	}
	if spec.Data != nil && !bytes.Equal(spec.Data, s.Spec.Data) {
		return fmt.Errorf("rpc error: code = InvalidArgument desc = only updates to Labels are allowed")
	}
	s.Spec.Labels = spec.Labels
	return nil
}

func (f *fakeEngine) SecretRemove(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.secrets[id]
	if s == nil {
		return cerrdefs.ErrNotFound
	}
	for _, svc := range f.services {
		for _, r := range svc.Spec.TaskTemplate.ContainerSpec.Secrets {
			if r.SecretID == id {
				return fmt.Errorf("rpc error: code = InvalidArgument desc = secret '%s' is in use by the following service: %s", s.Spec.Name, svc.Spec.Name)
			}
		}
	}
	f.call("SecretRemove %s", s.Spec.Name)
	delete(f.secrets, id)
	return nil
}

func (f *fakeEngine) ConfigList(_ context.Context, o swarm.ConfigListOptions) ([]swarm.Config, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []swarm.Config
	for _, c := range f.configs {
		if namesMatch(o.Filters, c.Spec.Name) && labelsMatch(o.Filters, c.Spec.Labels) {
			out = append(out, *c)
		}
	}
	return out, nil
}

func (f *fakeEngine) ConfigCreate(_ context.Context, spec swarm.ConfigSpec) (swarm.ConfigCreateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("ConfigCreate %s", spec.Name)
	for _, c := range f.configs {
		if c.Spec.Name == spec.Name {
			return swarm.ConfigCreateResponse{}, cerrdefs.ErrConflict.WithMessage("config " + spec.Name + " already exists")
		}
	}
	id := f.id()
	f.configs[id] = &swarm.Config{ID: id, Spec: spec}
	return swarm.ConfigCreateResponse{ID: id}, nil
}

func (f *fakeEngine) ConfigUpdate(_ context.Context, id string, _ swarm.Version, spec swarm.ConfigSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("ConfigUpdate %s", spec.Name)
	c := f.configs[id]
	if c == nil {
		return cerrdefs.ErrNotFound
	}
	if spec.Data != nil && !bytes.Equal(spec.Data, c.Spec.Data) {
		return fmt.Errorf("rpc error: code = InvalidArgument desc = only updates to Labels are allowed")
	}
	c.Spec.Labels = spec.Labels
	return nil
}

func (f *fakeEngine) ConfigRemove(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.configs[id]
	if c == nil {
		return cerrdefs.ErrNotFound
	}
	for _, svc := range f.services {
		for _, r := range svc.Spec.TaskTemplate.ContainerSpec.Configs {
			if r.ConfigID == id {
				return fmt.Errorf("rpc error: code = InvalidArgument desc = config '%s' is in use by the following service: %s", c.Spec.Name, svc.Spec.Name)
			}
		}
	}
	f.call("ConfigRemove %s", c.Spec.Name)
	delete(f.configs, id)
	return nil
}
