package stack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"

	"github.com/docker/cli/cli/compose/convert"
	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
)

// Labels Haddock sets beside the CLI's (com.docker.stack.namespace on every
// object, com.docker.stack.image on services).
const (
	// LabelSpecHash, on a service, is the hash of the spec Haddock
	// deployed (SpecHash): Observe compares it with the service's current
	// spec to tell a change made out of band.
	LabelSpecHash = "io.haddock.stack.spec-hash"
	// LabelKey, on a config or secret, is its key in the compose file.
	LabelKey = "io.haddock.stack.key"
	// LabelContentHash, on a config or secret, is the SHA-256 of its
	// content and drivers.
	LabelContentHash = "io.haddock.stack.content-hash"

	labelPrefix = "io.haddock.stack."
)

// LabelNamespace is the CLI's label naming a stack's objects.
const LabelNamespace = convert.LabelNamespace

// Service modes.
const (
	ModeReplicated    = "replicated"
	ModeGlobal        = "global"
	ModeReplicatedJob = "replicated-job"
	ModeGlobalJob     = "global-job"
)

// Project is a compose file loaded for a stack (Load): validated, with its
// referenced files read and its services converted to swarm specs. It is
// safe for concurrent use and never changes after Load.
type Project struct {
	// Name is the stack's name, the namespace of its objects.
	Name     string
	Services []Service
	// Networks are the networks the services use, the stack's own (created
	// by Deploy) and external ones.
	Networks []Network
	Configs  []Object
	Secrets  []Object
	// Warnings are options swarm ignores and variables that were not set.
	Warnings []Warning

	mu       sync.Mutex // the CLI's converter writes labels into cfg
	cfg      *composetypes.Config
	ns       convert.Namespace
	networks map[string]network.CreateOptions // by swarm name, the stack's own
	data     map[objectKey][]byte
	rendered map[string]*renderedService // by compose name, rendered offline
}

// Service is a service of a Project.
type Service struct {
	// Name is the service's key in the compose file; FullName the swarm
	// service's name, <stack>_<name>.
	Name     string
	FullName string
	Image    string
	// Mode is replicated, global, replicated-job or global-job.
	Mode string
	// Replicas is the desired number of tasks of a replicated service (the
	// completions of a replicated job); 0 for global modes.
	Replicas uint64
	Ports    []Port
	// Networks, Configs and Secrets are the swarm names of what the
	// service uses.
	Networks []string
	Configs  []string
	Secrets  []string
	// FailureAction is what swarm does when an update fails: pause (the
	// default), continue or rollback (deploy.update_config.failure_action).
	FailureAction string
	// SpecHash identifies the service's spec: it changes exactly when
	// Deploy would change the service. It is set as LabelSpecHash.
	SpecHash string
}

// Port is a published port.
type Port struct {
	Published uint32
	Target    uint32
	// Protocol is tcp, udp or sctp.
	Protocol string
	// Mode is ingress (the routing mesh) or host (on the node running the
	// task).
	Mode string
}

func (p Port) String() string {
	return fmt.Sprintf("%d:%d/%s (%s)", p.Published, p.Target, p.Protocol, p.Mode)
}

// Network is a network a Project's services use.
type Network struct {
	// Key is the network's key in the compose file ("default" for the
	// implicit one).
	Key string
	// Name is the swarm network's name: <stack>_<key> unless the file
	// names it.
	Name     string
	External bool
	// Driver, Attachable, Internal and Options are what Deploy creates
	// the network with (before DeployOptions.OverlayDriverOptions).
	Driver     string
	Attachable bool
	Internal   bool
	Options    map[string]string
}

// Object is a config or a secret of a Project.
//
// Swarm configs and secrets are immutable, and the CLI fails when a file's
// content changed for an existing name. Haddock names them by content
// instead: <stack>_<key>-<first 10 hex digits of Hash>, so changed content
// is a new object, services move to it with a rolling update, and Deploy
// removes versions no service (nor a service's previous spec, kept for
// rollback) refers to any more. An object the file names explicitly (name:)
// keeps that name, as with the CLI: changing its content is an error.
type Object struct {
	// Key is the object's key in the compose file.
	Key string
	// Name is the swarm object's name.
	Name     string
	External bool
	// Explicit is set when the file names the object (name:).
	Explicit bool
	// Hash is the SHA-256 of the content and drivers, hex; empty for an
	// external object.
	Hash string
	// Size is the content's length.
	Size int
	// Labels are the labels the object is created with.
	Labels         map[string]string
	Driver         string
	DriverOptions  map[string]string
	TemplateDriver string
}

type objectKind string

const (
	kindConfig objectKind = "config"
	kindSecret objectKind = "secret"
)

type objectKey struct {
	kind objectKind
	key  string
}

// renderedService is a service converted by the CLI's converter.
type renderedService struct {
	spec swarm.ServiceSpec
	hash string
}

// project builds the Project from a successful load.
func (l *loading) project() (*Project, error) {
	p := &Project{Name: l.name, cfg: l.cfg, ns: l.ns, data: map[objectKey][]byte{}, Warnings: l.warnings}
	var le *LoadError
	if p.Secrets, le = l.objects(p, kindSecret); le != nil {
		return nil, le
	}
	if p.Configs, le = l.objects(p, kindConfig); le != nil {
		return nil, le
	}
	p.buildNetworks()
	rendered, le := l.render()
	if le != nil {
		return nil, le
	}
	p.rendered = rendered
	for _, svc := range l.cfg.Services {
		r := rendered[svc.Name]
		if r == nil {
			continue
		}
		p.Services = append(p.Services, serviceOf(svc.Name, r))
	}
	sort.Slice(p.Services, func(i, j int) bool { return p.Services[i].Name < p.Services[j].Name })
	return p, nil
}

// objects reads the configs or secrets of the file and names them.
func (l *loading) objects(p *Project, kind objectKind) ([]Object, *LoadError) {
	type fileObj = composetypes.FileObjectConfig
	all := map[string]fileObj{}
	limit := MaxSecretSize
	if kind == kindSecret {
		for k, v := range l.cfg.Secrets {
			all[k] = fileObj(v)
		}
	} else {
		limit = MaxConfigSize
		for k, v := range l.cfg.Configs {
			all[k] = fileObj(v)
		}
	}
	section := string(kind) + "s"
	var out []Object
	for _, key := range sortedKeys(all) {
		fo := all[key]
		base := section + "." + key
		o := Object{Key: key, Name: fo.Name, External: fo.External.External, Driver: fo.Driver,
			DriverOptions: maps.Clone(fo.DriverOpts), TemplateDriver: fo.TemplateDriver}
		if o.External {
			out = append(out, o)
			continue
		}
		var data []byte
		if fo.Driver == "" {
			n, _ := l.doc.find(query{path: []string{section, key, "file"}})
			if n == nil {
				n, _ = l.doc.find(query{path: []string{section, key}})
			}
			var le *LoadError
			if data, le = l.readFile(fo.File, limit, string(kind)+" "+key, n); le != nil {
				le.Path = base + ".file"
				return nil, le
			}
		}
		o.Size = len(data)
		o.Hash = contentHash(kind, data, fo)
		o.Explicit = fo.Name != ""
		if !o.Explicit {
			o.Name = contentName(l.ns, key, o.Hash)
		}
		if len(o.Name) > maxObjectName || !objectNameRe.MatchString(o.Name) {
			return nil, l.doc.at(base, fmt.Sprintf("the %s's swarm name %q is not valid: at most %d letters, digits, '-', '_' and '.', starting and ending with a letter or digit (Haddock appends a content hash to <stack>_<key>)", kind, o.Name, maxObjectName))
		}
		o.Labels = convert.AddStackLabel(l.ns, maps.Clone(fo.Labels))
		o.Labels[LabelKey] = key
		o.Labels[LabelContentHash] = o.Hash
		p.data[objectKey{kind, key}] = data
		// The converter refers to the object by this name.
		fo.Name = o.Name
		if kind == kindSecret {
			l.cfg.Secrets[key] = composetypes.SecretConfig(fo)
		} else {
			l.cfg.Configs[key] = composetypes.ConfigObjConfig(fo)
		}
		out = append(out, o)
	}
	return out, nil
}

// contentHash hashes what makes a config or secret: its content, and the
// drivers that produce or template it.
func contentHash(kind objectKind, data []byte, fo composetypes.FileObjectConfig) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\x00%d\x00", kind, len(data))
	b.Write(data)
	fmt.Fprintf(&b, "\x00driver=%s\x00template=%s", fo.Driver, fo.TemplateDriver)
	for _, k := range sortedKeys(fo.DriverOpts) {
		fmt.Fprintf(&b, "\x00%s=%s", k, fo.DriverOpts[k])
	}
	sum := sha256.Sum256(b.Bytes())
	return hex.EncodeToString(sum[:])
}

// contentName is a content-addressed object's name.
func contentName(ns convert.Namespace, key, hash string) string {
	return ns.Scope(key) + "-" + hash[:10]
}

// buildNetworks converts the networks the services use, with the CLI's
// converter.
func (p *Project) buildNetworks() {
	used := map[string]struct{}{}
	for _, svc := range p.cfg.Services {
		if len(svc.Networks) == 0 {
			used["default"] = struct{}{}
			continue
		}
		for n := range svc.Networks {
			used[n] = struct{}{}
		}
	}
	created, _ := convert.Networks(p.ns, p.cfg.Networks, used)
	p.networks = created
	for _, key := range sortedKeys(used) {
		nc := p.cfg.Networks[key]
		if nc.External.External {
			p.Networks = append(p.Networks, Network{Key: key, Name: nc.Name, External: true})
			continue
		}
		name := p.ns.Scope(key)
		if nc.Name != "" {
			name = nc.Name
		}
		o := created[name]
		driver := o.Driver
		if driver == "" {
			driver = defaultNetworkDriver
		}
		p.Networks = append(p.Networks, Network{Key: key, Name: name, Driver: driver, Attachable: o.Attachable,
			Internal: o.Internal, Options: maps.Clone(o.Options)})
	}
}

const defaultNetworkDriver = "overlay"

// renderServices converts a project's services with the CLI's converter,
// resolving config and secret names with r. Each spec gets LabelSpecHash.
func renderServices(ctx context.Context, ns convert.Namespace, cfg *composetypes.Config, r resolver) (map[string]*renderedService, error) {
	specs, err := convert.Services(ctx, ns, cfg, r)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*renderedService, len(specs))
	for name, spec := range specs {
		// The converter shares label maps with the compose config.
		spec.Labels = maps.Clone(spec.Labels)
		if c := spec.TaskTemplate.ContainerSpec; c != nil {
			c.Labels = maps.Clone(c.Labels)
		}
		if m := spec.Mode.Replicated; m != nil && m.Replicas == nil {
			one := uint64(1) // the engine's default, made explicit
			m.Replicas = &one
		}
		h := specHash(spec, nil)
		spec.Labels[LabelSpecHash] = h
		out[name] = &renderedService{spec: spec, hash: h}
	}
	return out, nil
}

// render converts the project's services for deployment, resolving config
// and secret names with r.
func (p *Project) render(ctx context.Context, r resolver) (map[string]*renderedService, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return renderServices(ctx, p.ns, p.cfg, r)
}

func serviceOf(name string, r *renderedService) Service {
	s := r.spec
	out := Service{Name: name, FullName: s.Name, SpecHash: r.hash, FailureAction: swarm.UpdateFailureActionPause}
	if c := s.TaskTemplate.ContainerSpec; c != nil {
		out.Image = c.Image
		for _, ref := range c.Configs {
			out.Configs = appendUnique(out.Configs, ref.ConfigName)
		}
		for _, ref := range c.Secrets {
			out.Secrets = appendUnique(out.Secrets, ref.SecretName)
		}
	}
	out.Mode, out.Replicas = modeOf(s.Mode)
	out.Ports = portsOf(s.EndpointSpec)
	for _, n := range s.TaskTemplate.Networks {
		out.Networks = append(out.Networks, n.Target)
	}
	if u := s.UpdateConfig; u != nil && u.FailureAction != "" {
		out.FailureAction = u.FailureAction
	}
	sort.Strings(out.Configs)
	sort.Strings(out.Secrets)
	return out
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

func modeOf(m swarm.ServiceMode) (string, uint64) {
	switch {
	case m.Replicated != nil:
		if m.Replicated.Replicas == nil {
			return ModeReplicated, 1
		}
		return ModeReplicated, *m.Replicated.Replicas
	case m.Global != nil:
		return ModeGlobal, 0
	case m.ReplicatedJob != nil:
		if m.ReplicatedJob.TotalCompletions == nil {
			return ModeReplicatedJob, 1
		}
		return ModeReplicatedJob, *m.ReplicatedJob.TotalCompletions
	case m.GlobalJob != nil:
		return ModeGlobalJob, 0
	}
	return "", 0
}

func portsOf(e *swarm.EndpointSpec) []Port {
	if e == nil {
		return nil
	}
	return portList(e.Ports)
}

func portList(ps []swarm.PortConfig) []Port {
	var out []Port
	for _, p := range ps {
		mode := string(p.PublishMode)
		if mode == "" {
			mode = string(swarm.PortConfigPublishModeIngress)
		}
		proto := string(p.Protocol)
		if proto == "" {
			proto = string(swarm.PortConfigProtocolTCP)
		}
		out = append(out, Port{Published: p.PublishedPort, Target: p.TargetPort, Protocol: proto, Mode: mode})
	}
	return out
}

// Service returns the project's service with that compose name.
func (p *Project) Service(name string) (Service, bool) {
	for _, s := range p.Services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// ServiceSpec returns the swarm spec Deploy sends for a service, as
// rendered at Load (config and secret IDs are filled in at Deploy). For
// tests and plan output.
func (p *Project) ServiceSpec(name string) (swarm.ServiceSpec, bool) {
	r, ok := p.rendered[name]
	if !ok {
		return swarm.ServiceSpec{}, false
	}
	return deepCopySpec(r.spec), true
}

// Scope returns the swarm name of a stack object: <stack>_<name>.
func (p *Project) Scope(name string) string { return p.ns.Scope(name) }

// withoutHaddockLabels returns labels without Haddock's own.
func withoutHaddockLabels(in map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range in {
		if !strings.HasPrefix(k, labelPrefix) {
			out[k] = v
		}
	}
	return out
}
