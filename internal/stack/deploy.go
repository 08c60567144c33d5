package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/docker/cli/cli/compose/convert"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/versions"
)

// ResolveImage is when the managers resolve an image tag to a digest
// (docker stack deploy --resolve-image).
type ResolveImage string

const (
	// ResolveAlways pins every created or updated service to the digest
	// its tag has in the registry now. The default.
	ResolveAlways ResolveImage = "always"
	// ResolveChanged resolves only images that changed in the file.
	ResolveChanged ResolveImage = "changed"
	// ResolveNever leaves images as written: nodes use what they have, or
	// pull the tag.
	ResolveNever ResolveImage = "never"
)

// RegistryCredential is a login to a registry.
type RegistryCredential struct {
	Username string
	Password string
	// IdentityToken replaces Username and Password for registries that
	// issue tokens.
	IdentityToken string
}

// DeployOptions configure Deploy.
type DeployOptions struct {
	// Prune removes the stack's services that are no longer in the file
	// (docker stack deploy --prune), and its networks, configs and secrets
	// that nothing uses any more.
	Prune bool
	// WithRegistryAuth sends the login of each image's registry, from
	// RegistryAuth, to the swarm agents so they can pull private images
	// (--with-registry-auth).
	WithRegistryAuth bool
	// RegistryAuth holds logins by registry host ("docker.io" for Docker
	// Hub, "registry.example.com:5000"). Secret.
	RegistryAuth map[string]RegistryCredential
	// ResolveImage defaults to ResolveAlways, as with the CLI.
	ResolveImage ResolveImage
	// OverlayDriverOptions are added to the driver options of the overlay
	// networks the stack creates, where the file does not set them: for
	// example {"encrypted": ""} when the cluster encrypts its overlay
	// traffic (IPsec between nodes).
	OverlayDriverOptions map[string]string
}

// Actions taken by Deploy.
const (
	ActionCreated   = "created"
	ActionUpdated   = "updated"
	ActionUnchanged = "unchanged"
	ActionRemoved   = "removed"
)

// DeployResult says what Deploy did.
type DeployResult struct {
	Services []ServiceChange
	// Created and Removed list the networks, configs and secrets created
	// and removed, as "network <name>", "config <name>", "secret <name>".
	Created []string
	Removed []string
	// Warnings are the engine's warnings (an image that could not be
	// resolved), and objects that could not be changed or removed yet.
	Warnings []string
}

// ServiceChange is what Deploy did to one service.
type ServiceChange struct {
	Name     string // in the compose file
	FullName string
	ID       string
	// Action is created, updated, unchanged or removed (pruned).
	Action   string
	SpecHash string
}

// Deploy creates or updates the stack's networks, configs, secrets and
// services on a swarm manager, with `docker stack deploy` semantics:
// services are created, or updated in place from their current version
// (a rolling update as their update_config says); networks are created if
// missing and never changed; external networks must exist.
//
// Unlike the CLI, a service whose current spec already is the file's is not
// updated at all (its previous spec, used for rollback, stays), configs and
// secrets are content-addressed (see Object), and Prune also removes the
// stack's networks, configs and secrets the file no longer uses (those
// still in use stay, with a warning). Deploy does not wait for the services
// to converge: see WaitConverged. On error, the result says what was done
// before it.
func Deploy(ctx context.Context, e Engine, p *Project, opts DeployOptions) (*DeployResult, error) {
	d := &deployer{e: e, p: p, opts: opts, res: &DeployResult{}}
	if err := d.run(ctx); err != nil {
		return d.res, fmt.Errorf("deploying stack %s: %w", p.Name, err)
	}
	return d.res, nil
}

type deployer struct {
	e    Engine
	p    *Project
	opts DeployOptions
	res  *DeployResult
}

func (d *deployer) run(ctx context.Context) error {
	if d.opts.ResolveImage == "" {
		d.opts.ResolveImage = ResolveAlways
	}
	switch d.opts.ResolveImage {
	case ResolveAlways, ResolveChanged, ResolveNever:
	default:
		return fmt.Errorf("invalid ResolveImage %q: want always, changed or never", d.opts.ResolveImage)
	}
	if err := checkManager(ctx, d.e); err != nil {
		return err
	}
	existing, err := d.e.ServiceList(ctx, swarm.ServiceListOptions{Filters: stackFilter(d.p.Name)})
	if err != nil {
		return fmt.Errorf("listing services: %w", err)
	}
	if d.opts.Prune {
		if err := d.pruneServices(ctx, existing); err != nil {
			return err
		}
	}
	if err := d.networks(ctx); err != nil {
		return err
	}
	if err := d.objects(ctx, kindSecret); err != nil {
		return err
	}
	if err := d.objects(ctx, kindConfig); err != nil {
		return err
	}
	if err := d.services(ctx, existing); err != nil {
		return err
	}
	return d.collect(ctx)
}

// checkManager fails unless the engine is a swarm manager speaking a recent
// enough API (the network API does not say when a global-scope network
// cannot be created on a worker).
func checkManager(ctx context.Context, e Engine) error {
	info, err := e.Info(ctx)
	if err != nil {
		return err
	}
	if !info.Swarm.ControlAvailable {
		return errors.New("the engine is not a swarm manager: stacks are deployed through a manager")
	}
	if v := e.ClientVersion(); v != "" && versions.LessThan(v, minAPIVersion) {
		return fmt.Errorf("the engine speaks Docker API %s; stacks need %s or later", v, minAPIVersion)
	}
	return nil
}

func stackFilter(namespace string) filters.Args {
	return filters.NewArgs(filters.Arg("label", LabelNamespace+"="+namespace))
}

func (d *deployer) pruneServices(ctx context.Context, existing []swarm.Service) error {
	for _, s := range existing {
		name := d.p.ns.Descope(s.Spec.Name)
		if _, ok := d.p.rendered[name]; ok {
			continue
		}
		if err := d.e.ServiceRemove(ctx, s.ID); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("removing service %s: %w", s.Spec.Name, err)
		}
		d.res.Services = append(d.res.Services, ServiceChange{Name: name, FullName: s.Spec.Name, ID: s.ID, Action: ActionRemoved})
	}
	return nil
}

// networks checks the external networks and creates the stack's own.
func (d *deployer) networks(ctx context.Context) error {
	for _, n := range d.p.Networks {
		if !n.External || !container.NetworkMode(n.Name).IsUserDefined() {
			continue
		}
		nw, err := d.e.NetworkInspect(ctx, n.Name, network.InspectOptions{})
		switch {
		case cerrdefs.IsNotFound(err):
			return fmt.Errorf("network %q is declared as external, but could not be found; create a swarm-scoped network first", n.Name)
		case err != nil:
			return fmt.Errorf("inspecting external network %s: %w", n.Name, err)
		case nw.Scope != "swarm":
			return fmt.Errorf("network %q is declared as external, but its scope is %q, not \"swarm\"", n.Name, nw.Scope)
		}
	}
	existing, err := d.e.NetworkList(ctx, network.ListOptions{Filters: stackFilter(d.p.Name)})
	if err != nil {
		return fmt.Errorf("listing networks: %w", err)
	}
	have := map[string]network.Summary{}
	for _, n := range existing {
		have[n.Name] = n
	}
	for _, name := range sortedKeys(d.p.networks) {
		want := d.createOptions(name)
		if cur, ok := have[name]; ok {
			if diff := networkDiff(cur, want); diff != "" {
				d.res.Warnings = append(d.res.Warnings, fmt.Sprintf("network %s exists with other settings (%s); networks cannot change in place: remove the stack to recreate it", name, diff))
			}
			continue
		}
		if _, err := d.e.NetworkCreate(ctx, name, want); err != nil {
			if cerrdefs.IsConflict(err) || strings.Contains(err.Error(), "already exists") {
				continue // created concurrently
			}
			return fmt.Errorf("creating network %s: %w", name, err)
		}
		d.res.Created = append(d.res.Created, "network "+name)
	}
	return nil
}

// createOptions returns what a stack network is created with: the CLI's
// conversion, the overlay driver by default, and the overlay options asked
// for.
func (d *deployer) createOptions(name string) network.CreateOptions {
	o := d.p.networks[name]
	o.Labels = maps.Clone(o.Labels)
	o.Options = maps.Clone(o.Options)
	if o.Driver == "" {
		o.Driver = defaultNetworkDriver
	}
	if o.Driver == defaultNetworkDriver && len(d.opts.OverlayDriverOptions) > 0 {
		if o.Options == nil {
			o.Options = map[string]string{}
		}
		for k, v := range d.opts.OverlayDriverOptions {
			if _, set := o.Options[k]; !set {
				o.Options[k] = v
			}
		}
	}
	return o
}

// networkDiff says how an existing network differs from what would be
// created, or "".
func networkDiff(cur network.Summary, want network.CreateOptions) string {
	var diffs []string
	if cur.Driver != want.Driver {
		diffs = append(diffs, fmt.Sprintf("driver %s, not %s", cur.Driver, want.Driver))
	}
	if cur.Attachable != want.Attachable {
		diffs = append(diffs, fmt.Sprintf("attachable %t", cur.Attachable))
	}
	if cur.Internal != want.Internal {
		diffs = append(diffs, fmt.Sprintf("internal %t", cur.Internal))
	}
	for _, k := range sortedKeys(want.Options) {
		if v, ok := cur.Options[k]; !ok || v != want.Options[k] {
			diffs = append(diffs, fmt.Sprintf("option %s not %q", k, want.Options[k]))
		}
	}
	return strings.Join(diffs, ", ")
}

// objects creates the stack's configs or secrets that do not exist yet.
func (d *deployer) objects(ctx context.Context, kind objectKind) error {
	list := d.p.Secrets
	if kind == kindConfig {
		list = d.p.Configs
	}
	for _, o := range list {
		if o.External {
			if _, err := d.find(ctx, kind, o.Name); err != nil {
				if errors.Is(err, errNoObject) {
					return fmt.Errorf("%s %q is declared as external, but could not be found", kind, o.Name)
				}
				return err
			}
			continue
		}
		if err := d.ensureObject(ctx, kind, o); err != nil {
			return err
		}
	}
	return nil
}

var errNoObject = errors.New("no such object")

// swarmObject is what Deploy needs of a config or a secret.
type swarmObject struct {
	ID      string
	Version swarm.Version
	Labels  map[string]string
	Data    []byte // configs only
}

// find returns the config or secret with exactly that name.
func (d *deployer) find(ctx context.Context, kind objectKind, name string) (*swarmObject, error) {
	f := filters.NewArgs(filters.Arg("name", name))
	if kind == kindSecret {
		list, err := d.e.SecretList(ctx, swarm.SecretListOptions{Filters: f})
		if err != nil {
			return nil, fmt.Errorf("listing secrets: %w", err)
		}
		for _, s := range list {
			if s.Spec.Name == name {
				return &swarmObject{ID: s.ID, Version: s.Version, Labels: s.Spec.Labels}, nil
			}
		}
		return nil, errNoObject
	}
	list, err := d.e.ConfigList(ctx, swarm.ConfigListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("listing configs: %w", err)
	}
	for _, c := range list {
		if c.Spec.Name == name {
			return &swarmObject{ID: c.ID, Version: c.Version, Labels: c.Spec.Labels, Data: c.Spec.Data}, nil
		}
	}
	return nil, errNoObject
}

func (d *deployer) ensureObject(ctx context.Context, kind objectKind, o Object) error {
	data := d.p.data[objectKey{kind, o.Key}]
	cur, err := d.find(ctx, kind, o.Name)
	if err != nil && !errors.Is(err, errNoObject) {
		return err
	}
	if cur == nil {
		if err := d.create(ctx, kind, o, data); err != nil {
			if cerrdefs.IsConflict(err) || strings.Contains(err.Error(), "already exists") {
				return nil // created concurrently
			}
			return fmt.Errorf("creating %s %s: %w", kind, o.Name, err)
		}
		d.res.Created = append(d.res.Created, string(kind)+" "+o.Name)
		return nil
	}
	changed := false
	switch {
	case kind == kindConfig && cur.Data != nil:
		changed = !bytes.Equal(cur.Data, data)
	case cur.Labels[LabelContentHash] != "":
		changed = cur.Labels[LabelContentHash] != o.Hash
	}
	if changed {
		return fmt.Errorf("%s %s exists with other content, and swarm %ss cannot change: give it a new name in the file, or remove name: to let Haddock name it by its content", kind, o.Name, kind)
	}
	if maps.Equal(cur.Labels, o.Labels) {
		return nil
	}
	// Only labels may change. Data is left out (a secret's cannot be read
	// back); the engine keeps the content.
	if kind == kindSecret {
		spec := swarm.SecretSpec{Annotations: swarm.Annotations{Name: o.Name, Labels: o.Labels}}
		if o.Explicit && cur.Labels[LabelContentHash] == "" {
			// Not made by Haddock: let the engine compare the content,
			// as the CLI does.
			spec.Data = data
		}
		err = d.e.SecretUpdate(ctx, cur.ID, cur.Version, spec)
	} else {
		err = d.e.ConfigUpdate(ctx, cur.ID, cur.Version, swarm.ConfigSpec{Annotations: swarm.Annotations{Name: o.Name, Labels: o.Labels}})
	}
	if err != nil {
		if strings.Contains(err.Error(), "only updates to Labels are allowed") {
			return fmt.Errorf("%s %s exists with other content, and swarm %ss cannot change: give it a new name in the file, or remove name: to let Haddock name it by its content", kind, o.Name, kind)
		}
		return fmt.Errorf("updating labels of %s %s: %w", kind, o.Name, err)
	}
	return nil
}

func (d *deployer) create(ctx context.Context, kind objectKind, o Object, data []byte) error {
	ann := swarm.Annotations{Name: o.Name, Labels: maps.Clone(o.Labels)}
	var tmpl *swarm.Driver
	if o.TemplateDriver != "" {
		tmpl = &swarm.Driver{Name: o.TemplateDriver}
	}
	if kind == kindSecret {
		spec := swarm.SecretSpec{Annotations: ann, Data: data, Templating: tmpl}
		if o.Driver != "" {
			spec.Driver = &swarm.Driver{Name: o.Driver, Options: maps.Clone(o.DriverOptions)}
			spec.Data = nil
		}
		_, err := d.e.SecretCreate(ctx, spec)
		return err
	}
	_, err := d.e.ConfigCreate(ctx, swarm.ConfigSpec{Annotations: ann, Data: data, Templating: tmpl})
	return err
}

// maxUpdateAttempts bounds retries of a service update that races with
// another.
const maxUpdateAttempts = 5

func (d *deployer) services(ctx context.Context, existing []swarm.Service) error {
	rendered, err := d.p.render(ctx, engineResolver(d.e))
	if err != nil {
		return err
	}
	netNames, err := networkNames(ctx, d.e)
	if err != nil {
		return err
	}
	have := map[string]swarm.Service{}
	for _, s := range existing {
		have[s.Spec.Name] = s
	}
	for _, name := range sortedKeys(rendered) {
		r := rendered[name]
		change := ServiceChange{Name: name, FullName: r.spec.Name, SpecHash: r.hash}
		cur, ok := have[r.spec.Name]
		if !ok {
			id, err := d.createService(ctx, r.spec)
			if err != nil {
				return err
			}
			change.ID, change.Action = id, ActionCreated
			d.res.Services = append(d.res.Services, change)
			continue
		}
		change.ID = cur.ID
		if cur.Spec.Labels[LabelSpecHash] == r.hash && specHash(cur.Spec, netNames) == r.hash {
			change.Action = ActionUnchanged
			d.res.Services = append(d.res.Services, change)
			continue
		}
		if err := d.updateService(ctx, cur, r.spec); err != nil {
			return err
		}
		change.Action = ActionUpdated
		d.res.Services = append(d.res.Services, change)
	}
	return nil
}

func (d *deployer) createService(ctx context.Context, spec swarm.ServiceSpec) (string, error) {
	auth, err := d.registryAuth(spec)
	if err != nil {
		return "", err
	}
	opts := swarm.ServiceCreateOptions{EncodedRegistryAuth: auth,
		QueryRegistry: d.opts.ResolveImage == ResolveAlways || d.opts.ResolveImage == ResolveChanged}
	resp, err := d.e.ServiceCreate(ctx, spec, opts)
	if err != nil {
		return "", fmt.Errorf("creating service %s: %w", spec.Name, err)
	}
	d.warn(spec.Name, resp.Warnings)
	return resp.ID, nil
}

// updateService updates a service from its current version, as docker
// stack deploy does: the image the managers resolved is kept when the file's
// did not change (unless resolving always), and ForceUpdate is kept so that
// tasks are not restarted for it.
func (d *deployer) updateService(ctx context.Context, cur swarm.Service, spec swarm.ServiceSpec) error {
	auth, err := d.registryAuth(spec)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		s := deepCopySpec(spec)
		opts := swarm.ServiceUpdateOptions{EncodedRegistryAuth: auth}
		image := s.TaskTemplate.ContainerSpec.Image
		sameImage := image == cur.Spec.Labels[LabelImage]
		switch {
		case d.opts.ResolveImage == ResolveAlways:
			opts.QueryRegistry = true
		case d.opts.ResolveImage == ResolveChanged && !sameImage:
			opts.QueryRegistry = true
		case sameImage && cur.Spec.TaskTemplate.ContainerSpec != nil:
			s.TaskTemplate.ContainerSpec.Image = cur.Spec.TaskTemplate.ContainerSpec.Image
		}
		s.TaskTemplate.ForceUpdate = cur.Spec.TaskTemplate.ForceUpdate
		resp, err := d.e.ServiceUpdate(ctx, cur.ID, cur.Version, s, opts)
		if err == nil {
			d.warn(s.Name, resp.Warnings)
			return nil
		}
		if !strings.Contains(err.Error(), "update out of sequence") || attempt == maxUpdateAttempts {
			return fmt.Errorf("updating service %s: %w", s.Name, err)
		}
		cur, _, err = d.e.ServiceInspectWithRaw(ctx, cur.ID, swarm.ServiceInspectOptions{})
		if err != nil {
			return fmt.Errorf("updating service %s: %w", s.Name, err)
		}
	}
}

// LabelImage is the CLI's label holding a service's image as written in the
// file.
const LabelImage = convert.LabelImage

func (d *deployer) warn(service string, ws []string) {
	for _, w := range ws {
		d.res.Warnings = append(d.res.Warnings, service+": "+w)
	}
}

// registryAuth returns the encoded login for the spec's image registry, or
// "" when none is to be sent.
func (d *deployer) registryAuth(spec swarm.ServiceSpec) (string, error) {
	if !d.opts.WithRegistryAuth || spec.TaskTemplate.ContainerSpec == nil {
		return "", nil
	}
	named, err := reference.ParseNormalizedNamed(spec.TaskTemplate.ContainerSpec.Image)
	if err != nil {
		return "", fmt.Errorf("service %s: %w", spec.Name, err)
	}
	host := reference.Domain(named)
	cred, ok := d.opts.RegistryAuth[host]
	if !ok && host == "docker.io" {
		for _, alias := range []string{"index.docker.io", "https://index.docker.io/v1/", "registry-1.docker.io"} {
			if cred, ok = d.opts.RegistryAuth[alias]; ok {
				break
			}
		}
	}
	if !ok {
		return "", nil
	}
	return registry.EncodeAuthConfig(registry.AuthConfig{
		Username: cred.Username, Password: cred.Password, IdentityToken: cred.IdentityToken, ServerAddress: host,
	})
}

// networkNames maps every network's ID to its name.
func networkNames(ctx context.Context, e Engine) (map[string]string, error) {
	list, err := e.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing networks: %w", err)
	}
	out := make(map[string]string, len(list))
	for _, n := range list {
		out[n.ID] = n.Name
	}
	return out, nil
}

// collect removes the stack's configs and secrets that neither the file
// nor any service (its spec, or the previous spec kept for rollback) uses:
// superseded content-addressed versions always, others with Prune; and,
// with Prune, the stack's networks the file no longer uses.
func (d *deployer) collect(ctx context.Context) error {
	all, err := d.e.ServiceList(ctx, swarm.ServiceListOptions{})
	if err != nil {
		return fmt.Errorf("listing services: %w", err)
	}
	used := map[string]bool{}
	for _, s := range all {
		for _, spec := range []*swarm.ServiceSpec{&s.Spec, s.PreviousSpec} {
			if spec == nil || spec.TaskTemplate.ContainerSpec == nil {
				continue
			}
			for _, r := range spec.TaskTemplate.ContainerSpec.Secrets {
				if r != nil {
					used["secret "+r.SecretID] = true
				}
			}
			for _, r := range spec.TaskTemplate.ContainerSpec.Configs {
				if r != nil {
					used["config "+r.ConfigID] = true
				}
			}
		}
	}
	want := map[string]bool{}
	for _, o := range d.p.Secrets {
		want["secret "+o.Name] = true
	}
	for _, o := range d.p.Configs {
		want["config "+o.Name] = true
	}
	type obj struct {
		kind         objectKind
		id, name     string
		haddockOwned bool
	}
	var candidates []obj
	secrets, err := d.e.SecretList(ctx, swarm.SecretListOptions{Filters: stackFilter(d.p.Name)})
	if err != nil {
		return fmt.Errorf("listing secrets: %w", err)
	}
	for _, s := range secrets {
		candidates = append(candidates, obj{kindSecret, s.ID, s.Spec.Name, s.Spec.Labels[LabelContentHash] != ""})
	}
	configs, err := d.e.ConfigList(ctx, swarm.ConfigListOptions{Filters: stackFilter(d.p.Name)})
	if err != nil {
		return fmt.Errorf("listing configs: %w", err)
	}
	for _, c := range configs {
		candidates = append(candidates, obj{kindConfig, c.ID, c.Spec.Name, c.Spec.Labels[LabelContentHash] != ""})
	}
	sort.Slice(candidates, func(i, j int) bool { return candidates[i].name < candidates[j].name })
	for _, c := range candidates {
		if want[string(c.kind)+" "+c.name] || used[string(c.kind)+" "+c.id] || (!c.haddockOwned && !d.opts.Prune) {
			continue
		}
		var err error
		if c.kind == kindSecret {
			err = d.e.SecretRemove(ctx, c.id)
		} else {
			err = d.e.ConfigRemove(ctx, c.id)
		}
		switch {
		case err == nil:
			d.res.Removed = append(d.res.Removed, string(c.kind)+" "+c.name)
		case cerrdefs.IsNotFound(err):
		default:
			d.res.Warnings = append(d.res.Warnings, fmt.Sprintf("%s %s is no longer used but could not be removed: %v", c.kind, c.name, err))
		}
	}
	if !d.opts.Prune {
		return nil
	}
	nets, err := d.e.NetworkList(ctx, network.ListOptions{Filters: stackFilter(d.p.Name)})
	if err != nil {
		return fmt.Errorf("listing networks: %w", err)
	}
	for _, n := range nets {
		if _, ok := d.p.networks[n.Name]; ok {
			continue
		}
		switch err := d.e.NetworkRemove(ctx, n.ID); {
		case err == nil:
			d.res.Removed = append(d.res.Removed, "network "+n.Name)
		case cerrdefs.IsNotFound(err):
		default:
			d.res.Warnings = append(d.res.Warnings, fmt.Sprintf("network %s is no longer used but could not be removed yet (tasks may still be attached): %v", n.Name, err))
		}
	}
	return nil
}
