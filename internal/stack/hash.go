package stack

// Spec hashes. A service's hash is taken over a canonical form of its spec
// that is the same whether the spec was rendered from the compose file or
// read back from the engine: IDs, Haddock's labels, what the engine fills in
// (runtime, isolation, endpoint mode, platforms, an image's pinned digest)
// and the difference between absent and empty values are left out. So the
// hash Deploy stores in LabelSpecHash can be compared with the hash of the
// service as it is now, to tell a change made out of band.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/swarm"
)

// specHash returns the hash of a service spec's canonical form.
// networkNames maps network IDs to names (the engine stores attachments by
// ID, the converter renders them by name); nil for a rendered spec.
func specHash(spec swarm.ServiceSpec, networkNames map[string]string) string {
	sum := sha256.Sum256([]byte(canonicalJSON(spec, networkNames)))
	return hex.EncodeToString(sum[:])
}

// canonicalJSON is the canonical form of a spec as JSON, keys sorted.
func canonicalJSON(spec swarm.ServiceSpec, networkNames map[string]string) string {
	b, err := json.Marshal(canonicalSpec(spec, networkNames))
	if err != nil {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return ""
	}
	b, err = json.Marshal(prune(v))
	if err != nil {
		return ""
	}
	return string(b)
}

func deepCopySpec(in swarm.ServiceSpec) swarm.ServiceSpec {
	var out swarm.ServiceSpec
	b, err := json.Marshal(in)
	if err == nil {
		err = json.Unmarshal(b, &out)
	}
	if err != nil {
		return in
	}
	return out
}

func canonicalSpec(in swarm.ServiceSpec, networkNames map[string]string) swarm.ServiceSpec {
	s := deepCopySpec(in)
	s.Labels = withoutHaddockLabels(s.Labels)
	t := &s.TaskTemplate
	t.ForceUpdate = 0
	if t.Runtime == swarm.RuntimeContainer {
		t.Runtime = ""
	}
	if t.Placement != nil {
		t.Placement.Platforms = nil
	}
	if c := t.ContainerSpec; c != nil {
		c.Image = stripDigest(c.Image)
		if c.Isolation == "default" {
			c.Isolation = ""
		}
		for _, r := range c.Secrets {
			if r != nil {
				r.SecretID = ""
			}
		}
		sort.SliceStable(c.Secrets, func(i, j int) bool { return refKey(c.Secrets[i]) < refKey(c.Secrets[j]) })
		for _, r := range c.Configs {
			if r != nil {
				r.ConfigID = ""
			}
		}
		sort.SliceStable(c.Configs, func(i, j int) bool { return configKey(c.Configs[i]) < configKey(c.Configs[j]) })
	}
	//nolint:staticcheck // the deprecated field is folded into TaskTemplate.
	if len(t.Networks) == 0 && len(s.Networks) > 0 {
		t.Networks = s.Networks
	}
	s.Networks = nil //nolint:staticcheck // see above
	for i := range t.Networks {
		if name, ok := networkNames[t.Networks[i].Target]; ok {
			t.Networks[i].Target = name
		}
	}
	sort.SliceStable(t.Networks, func(i, j int) bool { return t.Networks[i].Target < t.Networks[j].Target })
	if e := s.EndpointSpec; e != nil {
		if e.Mode == swarm.ResolutionModeVIP {
			e.Mode = ""
		}
		for i := range e.Ports {
			if e.Ports[i].Protocol == "" {
				e.Ports[i].Protocol = swarm.PortConfigProtocolTCP
			}
			if e.Ports[i].PublishMode == "" {
				e.Ports[i].PublishMode = swarm.PortConfigPublishModeIngress
			}
		}
	}
	if r := t.RestartPolicy; r != nil && r.Condition == "" {
		r.Condition = swarm.RestartPolicyConditionAny
	}
	if m := s.Mode.Replicated; m != nil && m.Replicas == nil {
		one := uint64(1)
		m.Replicas = &one
	}
	// The engine stores its defaults for what an update config leaves out.
	for _, u := range []*swarm.UpdateConfig{s.UpdateConfig, s.RollbackConfig} {
		if u == nil {
			continue
		}
		if u.FailureAction == swarm.UpdateFailureActionPause {
			u.FailureAction = ""
		}
		if u.Order == swarm.UpdateOrderStopFirst {
			u.Order = ""
		}
	}
	return s
}

func refKey(r *swarm.SecretReference) string {
	if r == nil {
		return ""
	}
	k := r.SecretName + "\x00"
	if r.File != nil {
		k += r.File.Name
	}
	return k
}

func configKey(r *swarm.ConfigReference) string {
	if r == nil {
		return ""
	}
	k := r.ConfigName + "\x00"
	if r.File != nil {
		k += r.File.Name
	}
	if r.Runtime != nil {
		k += "\x00runtime"
	}
	return k
}

// stripDigest removes a pinned digest ("nginx:1.25@sha256:...") that the
// engine adds when it resolves an image.
func stripDigest(image string) string {
	if i := strings.Index(image, "@"); i > 0 {
		return image[:i]
	}
	return image
}

// imageDigest returns the digest of an image reference, or "".
func imageDigest(image string) string {
	if i := strings.Index(image, "@"); i > 0 {
		return image[i+1:]
	}
	return ""
}

// prune removes zero values (null, false, 0, "", empty lists and objects)
// from decoded JSON, so absent and empty are the same.
func prune(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := prune(e)
			if isZero(p) {
				delete(x, k)
			} else {
				x[k] = p
			}
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = prune(e)
		}
		return x
	}
	return v
}

func isZero(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case string:
		return x == ""
	case json.Number:
		f, err := x.Float64()
		return err == nil && f == 0
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}
