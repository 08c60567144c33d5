package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/distribution/reference"
	"github.com/docker/cli/cli/compose/convert"
	interp "github.com/docker/cli/cli/compose/interpolation"
	"github.com/docker/cli/cli/compose/loader"
	"github.com/docker/cli/cli/compose/template"
	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/docker/cli/opts"
	"github.com/docker/cli/pkg/kvfile"
	"gopkg.in/yaml.v3"
)

// Limits on what Load reads.
const (
	// MaxComposeSize bounds the compose file.
	MaxComposeSize = 4 << 20
	// MaxConfigSize and MaxSecretSize are swarm's limits on a config's and
	// a secret's content.
	MaxConfigSize = 1000 * 1024
	MaxSecretSize = 500 * 1024
	// maxEnvFileSize bounds an env_file.
	maxEnvFileSize = 1 << 20
)

// LoadOptions configure LoadWithOptions.
type LoadOptions struct {
	// Env is what ${VAR} in the file and bare names in environment: and
	// env_file resolve to. The process environment is never consulted.
	Env map[string]string
	// Files holds the content of files the compose file refers to (the
	// file: of configs and secrets, env_file), by the path as written in
	// the file, cleaned ("./nginx.conf" and "nginx.conf" are the same).
	// It is looked at before WorkingDir.
	Files map[string][]byte
	// WorkingDir, when set, is where relative paths of referenced files
	// are read from disk. When empty, nothing is read from disk: every
	// referenced file must be in Files.
	WorkingDir string
}

// Load is LoadWithOptions with only an environment for interpolation: the
// files a compose file refers to cannot be read.
func Load(name string, composeYAML []byte, env map[string]string) (*Project, error) {
	return LoadWithOptions(name, composeYAML, LoadOptions{Env: env})
}

// LoadWithOptions reads a compose file for the stack name, as `docker stack
// deploy` does: parsed, interpolated with opts.Env, validated against the
// compose schema and converted to swarm specs by the docker CLI's own
// loader and converter, and further checked for what a swarm cannot do
// (a service without an image, network_mode, relative bind mounts).
// Referenced files (configs, secrets, env_file) are read now, so Deploy
// needs nothing but the engine.
//
// A problem with the file is a *LoadError, with the line when it is known;
// an invalid stack name is an error wrapping ErrInvalidName. Options that
// swarm ignores are reported in Project.Warnings. Load never panics.
func LoadWithOptions(name string, composeYAML []byte, opts LoadOptions) (p *Project, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, &LoadError{Msg: fmt.Sprintf("the compose file could not be loaded (internal error: %v)", r)}
		}
	}()
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	if len(composeYAML) > MaxComposeSize {
		return nil, &LoadError{Msg: fmt.Sprintf("the compose file is %d bytes, more than the %d allowed", len(composeYAML), MaxComposeSize)}
	}
	l := &loading{name: name, ns: convert.NewNamespace(name), opts: opts, missing: map[string]bool{}}
	if le := l.load(composeYAML); le != nil {
		return nil, le
	}
	return l.project()
}

// ErrInvalidName is wrapped by errors for an invalid stack name.
var ErrInvalidName = errors.New("invalid stack name")

var (
	// dnsNameRe is swarm's rule for service names, and so for stack names.
	dnsNameRe = regexp.MustCompile(`^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$`)
	// objectNameRe is swarm's rule for config and secret names.
	objectNameRe = regexp.MustCompile(`^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$`)
)

// Swarm's limits on names.
const (
	maxServiceName = 63
	maxObjectName  = 64
	maxStackName   = 40
)

// ValidateName checks a stack name: letters, digits, '-' and '_' (not at
// either end), at most 40 characters, so that the names of its services
// (<stack>_<service>) are valid swarm service names.
func ValidateName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty", ErrInvalidName)
	}
	if len(name) > maxStackName || !dnsNameRe.MatchString(name) {
		return fmt.Errorf("%w %q: use at most %d letters, digits, '-' and '_', starting and ending with a letter or digit", ErrInvalidName, name, maxStackName)
	}
	return nil
}

// loading is the state of one Load.
type loading struct {
	name string
	ns   convert.Namespace
	opts LoadOptions

	doc  *doc
	cfg  *composetypes.Config
	dict map[string]any
	// envFiles are the services' env_file entries, taken out of the file
	// before the CLI's loader sees it (it would read them from disk).
	envFiles map[string][]envFileRef
	// missing records variables interpolation did not find.
	missing  map[string]bool
	warnings []Warning
}

type envFileRef struct {
	path string
	node *yaml.Node
}

func (l *loading) lookupVar(k string) (string, bool) {
	v, ok := l.opts.Env[k]
	if !ok {
		l.missing[k] = true
	}
	return v, ok
}

func (l *loading) lookupEnv(k string) (string, bool) {
	v, ok := l.opts.Env[k]
	return v, ok
}

func (l *loading) load(src []byte) *LoadError {
	d, le := parseDoc(src)
	if le != nil {
		return le
	}
	l.doc = d
	dict, err := loader.ParseYAML(src)
	if err != nil {
		return l.locate(err)
	}
	l.dict = dict
	if le := l.takeEnvFiles(); le != nil {
		return le
	}
	cfg, err := loader.Load(l.details(dict), l.loaderOptions)
	if err != nil {
		return l.locate(err)
	}
	l.cfg = cfg
	if le := l.check(); le != nil {
		return le
	}
	if le := l.applyEnvFiles(); le != nil {
		return le
	}
	l.warn()
	return nil
}

func (l *loading) details(dict map[string]any) composetypes.ConfigDetails {
	return composetypes.ConfigDetails{
		// Relative paths stay relative (bind mounts are refused below;
		// files are resolved by Load itself).
		WorkingDir:  ".",
		ConfigFiles: []composetypes.ConfigFile{{Filename: "compose.yaml", Config: dict}},
		Environment: maps.Clone(l.opts.Env),
	}
}

func (l *loading) loaderOptions(o *loader.Options) {
	o.Interpolate = &interp.Options{
		Substitute:      o.Interpolate.Substitute,
		LookupValue:     l.lookupVar,
		TypeCastMapping: o.Interpolate.TypeCastMapping,
	}
}

// services returns the services mapping of the raw file, if it is one.
func services(dict map[string]any) map[string]any {
	s, _ := dict["services"].(map[string]any)
	return s
}

// takeEnvFiles removes env_file from every service, keeping the paths:
// the CLI's loader would read them from disk relative to the process.
func (l *loading) takeEnvFiles() *LoadError {
	l.envFiles = map[string][]envFileRef{}
	for _, svc := range sortedKeys(services(l.dict)) {
		sd, ok := services(l.dict)[svc].(map[string]any)
		if !ok {
			continue
		}
		raw, ok := sd["env_file"]
		if !ok {
			continue
		}
		delete(sd, "env_file")
		base := []string{"services", svc, "env_file"}
		var paths []string
		var nodes []*yaml.Node
		switch v := raw.(type) {
		case string:
			paths = []string{v}
			n, _ := l.doc.find(query{path: base})
			nodes = []*yaml.Node{n}
		case []any:
			for i, it := range v {
				s, ok := it.(string)
				if !ok {
					return l.doc.at(strings.Join(base, ".")+"."+strconv.Itoa(i), "must be a string")
				}
				paths = append(paths, s)
				n, _ := l.doc.find(query{path: append(slices.Clone(base), strconv.Itoa(i))})
				nodes = append(nodes, n)
			}
		default:
			return l.doc.at(strings.Join(base, "."), "must be a string or a list of strings")
		}
		for i, p := range paths {
			sp, err := template.Substitute(p, l.lookupVar)
			if err != nil {
				return l.doc.at(strings.Join(base, "."), fmt.Sprintf("invalid interpolation in %q: %v", p, err))
			}
			l.envFiles[svc] = append(l.envFiles[svc], envFileRef{path: sp, node: nodes[i]})
		}
	}
	return nil
}

// applyEnvFiles reads the env files and merges them under each service's
// environment, as the CLI's loader does.
func (l *loading) applyEnvFiles() *LoadError {
	for i := range l.cfg.Services {
		svc := &l.cfg.Services[i]
		refs := l.envFiles[svc.Name]
		if len(refs) == 0 {
			continue
		}
		var vars []string
		for _, r := range refs {
			data, le := l.readFile(r.path, maxEnvFileSize, "env_file", r.node)
			if le != nil {
				le.Path = "services." + svc.Name + ".env_file"
				return le
			}
			kv, err := kvfile.ParseFromReader(bytes.NewReader(data), l.lookupEnv)
			if err != nil {
				le := nodeError(r.node, fmt.Sprintf("env_file %s: %s", r.path, envFileProblem(err)))
				le.Path = "services." + svc.Name + ".env_file"
				return le
			}
			vars = append(vars, kv...)
		}
		env := map[string]*string{}
		updateEnvironment(env, opts.ConvertKVStringsToMapWithNil(vars), l.lookupEnv)
		updateEnvironment(env, svc.Environment, l.lookupEnv)
		svc.Environment = env
	}
	return nil
}

// updateEnvironment is the CLI loader's: a variable without a value takes
// the environment's.
func updateEnvironment(environment map[string]*string, vars map[string]*string, lookupEnv func(string) (string, bool)) {
	for k, v := range vars {
		if iv, ok := lookupEnv(k); (v == nil || *v == "") && ok {
			environment[k] = &iv
		} else {
			environment[k] = v
		}
	}
}

func nodeError(n *yaml.Node, msg string) *LoadError {
	le := &LoadError{Msg: msg}
	if n != nil {
		le.Line, le.Column = n.Line, n.Column
	}
	return le
}

// readFile reads a file the compose file refers to: from opts.Files, else
// from opts.WorkingDir when set.
func (l *loading) readFile(path string, limit int, what string, n *yaml.Node) ([]byte, *LoadError) {
	if path == "" {
		return nil, nodeError(n, what+": empty file path")
	}
	tooBig := func(size int64) *LoadError {
		return nodeError(n, fmt.Sprintf("%s: file %s is %d bytes, more than the %d allowed", what, path, size, limit))
	}
	clean := filepath.Clean(path)
	if data, ok := l.opts.Files[clean]; ok {
		if len(data) > limit {
			return nil, tooBig(int64(len(data)))
		}
		return data, nil
	}
	for _, k := range sortedKeys(l.opts.Files) {
		if filepath.Clean(k) == clean {
			if data := l.opts.Files[k]; len(data) <= limit {
				return data, nil
			}
			return nil, tooBig(int64(len(l.opts.Files[k])))
		}
	}
	if l.opts.WorkingDir == "" {
		return nil, nodeError(n, fmt.Sprintf("%s: file %s was not provided (and there is no working directory to read it from)", what, path))
	}
	full := clean
	if !filepath.IsAbs(full) {
		full = filepath.Join(l.opts.WorkingDir, clean)
	}
	fi, err := os.Stat(full)
	if err != nil {
		return nil, nodeError(n, fmt.Sprintf("%s: %v", what, err))
	}
	if !fi.Mode().IsRegular() {
		return nil, nodeError(n, fmt.Sprintf("%s: file %s is not a regular file", what, path))
	}
	if fi.Size() > int64(limit) {
		return nil, tooBig(fi.Size())
	}
	data, err := os.ReadFile(full)
	if err != nil {
		return nil, nodeError(n, fmt.Sprintf("%s: %v", what, err))
	}
	if len(data) > limit {
		return nil, tooBig(int64(len(data)))
	}
	return data, nil
}

// check refuses what a swarm cannot deploy, or deploys differently than the
// file says.
func (l *loading) check() *LoadError {
	for _, svc := range l.cfg.Services {
		base := "services." + svc.Name
		full := l.ns.Scope(svc.Name)
		if len(full) > maxServiceName || !dnsNameRe.MatchString(full) {
			return l.doc.at(base, fmt.Sprintf("the service's swarm name %q is not valid: service names are at most %d letters, digits, '-' and '_' (no dots), starting and ending with a letter or digit", full, maxServiceName))
		}
		if svc.Image == "" {
			if _, has := l.rawService(svc.Name)["build"]; has {
				return l.doc.at(base+".build", "build: is not supported by swarm stacks, which run images: build and push the image, then set image:")
			}
			return l.doc.at(base, "no image: a swarm service runs an image; set image:")
		}
		if _, err := reference.ParseNormalizedNamed(svc.Image); err != nil {
			return l.doc.at(base+".image", l.redact(fmt.Sprintf("invalid image reference %q: %v", svc.Image, err)))
		}
		if svc.NetworkMode != "" {
			return l.doc.at(base+".network_mode", "network_mode is not supported by swarm services (docker stack deploy ignores it); "+
				"to use the host's network, attach the service to the external network named host: "+
				"networks: {hostnet: {external: true, name: host}}")
		}
		for i, v := range svc.Volumes {
			if v.Type == "bind" && !filepath.IsAbs(v.Source) {
				return l.doc.at(base+".volumes."+strconv.Itoa(i), fmt.Sprintf("bind mount source %q is relative: swarm tasks run on other hosts; use an absolute path on the nodes, or a named volume", v.Source))
			}
		}
	}
	return nil
}

func (l *loading) rawService(name string) map[string]any {
	m, _ := services(l.dict)[name].(map[string]any)
	return m
}

// unsupportedHints say what to do instead of options swarm ignores.
var unsupportedHints = map[string]string{
	"build":          "the image is not built; build and push it",
	"restart":        "use deploy.restart_policy",
	"privileged":     "swarm services cannot be privileged",
	"devices":        "swarm services cannot map devices",
	"network_mode":   "",
	"security_opt":   "",
	"cgroup_parent":  "",
	"container_name": "",
}

// warn records what swarm ignores, and variables that were not set.
func (l *loading) warn() {
	svcKeys, svcVals := keys(l.nodeAt("services"))
	for i, k := range svcKeys {
		pk, _ := keys(svcVals[i])
		for _, prop := range pk {
			base := "services." + k.Value + "." + prop.Value
			if slices.Contains(composetypes.UnsupportedProperties, prop.Value) {
				msg := base + " is ignored: swarm does not support it (docker stack deploy ignores it)"
				if h := unsupportedHints[prop.Value]; h != "" {
					msg += "; " + h
				}
				l.warnings = append(l.warnings, Warning{Line: prop.Line, Path: base, Msg: msg})
			}
			if d, ok := composetypes.DeprecatedProperties[prop.Value]; ok {
				l.warnings = append(l.warnings, Warning{Line: prop.Line, Path: base, Msg: base + " is ignored: " + d})
			}
		}
	}
	for _, v := range sortedKeys(l.missing) {
		re := regexp.MustCompile(`\$(?:` + regexp.QuoteMeta(v) + `(?:[^A-Za-z0-9_]|$)|\{` + regexp.QuoteMeta(v) + `(?:\}|:?\?))`)
		n := l.doc.firstScalar(func(n *yaml.Node) bool { return re.MatchString(strings.ReplaceAll(n.Value, "$$", "")) })
		if n == nil {
			continue // only used with a default
		}
		l.warnings = append(l.warnings, Warning{Line: n.Line, Msg: fmt.Sprintf("variable %s is not set: it is replaced by an empty string", v)})
	}
	sort.SliceStable(l.warnings, func(i, j int) bool { return l.warnings[i].Line < l.warnings[j].Line })
}

func (l *loading) nodeAt(path ...string) *yaml.Node {
	if l.doc == nil || l.doc.root == nil {
		return nil
	}
	n := l.doc.root
	for _, p := range path {
		_, n = entry(n, p, false, 0)
		if n == nil {
			return nil
		}
	}
	return deref(n, 0)
}

// Error messages of the CLI's loader, by kind.
var (
	interpFormatRe = regexp.MustCompile(`^invalid interpolation format for (.+?): "(.*)"; you may need to escape`)
	interpErrRe    = regexp.MustCompile(`^error while interpolating (\S+?): (.*)$`)
	versionRe      = regexp.MustCompile(`^unsupported Compose file version`)
	sectionRe      = regexp.MustCompile(`^(network|volume|secret|config) ([^ :]+): (.*)$`)
	decodeRe       = regexp.MustCompile(`error decoding '([^']*)': (.*)`)
	additionalRe   = regexp.MustCompile(`^Additional property (.+) is not allowed$`)
	serviceErrRe   = regexp.MustCompile(`^service ([^ :]+): (.*)$`)
	undefinedRe    = regexp.MustCompile(`^undefined (network|secret|config|volume) "(.*)"$`)
	nonStringKeyRe = regexp.MustCompile(`^non-string key (?:at top level|in (\S+)): (.*)$`)
	indexRe        = regexp.MustCompile(`\[(\d+)\]`)
)

// locate turns an error of the CLI's loader or converter into a LoadError
// with the line of the entry at fault.
func (l *loading) locate(err error) *LoadError {
	msg := err.Error()
	if strings.HasPrefix(msg, "yaml: ") {
		return yamlError(err)
	}
	var fpe *loader.ForbiddenPropertiesError
	if errors.As(err, &fpe) {
		svcKeys, svcVals := keys(l.nodeAt("services"))
		for i, k := range svcKeys {
			pk, _ := keys(svcVals[i])
			for _, prop := range pk {
				if d, ok := fpe.Properties[prop.Value]; ok {
					p := "services." + k.Value + "." + prop.Value
					return &LoadError{Line: prop.Line, Column: prop.Column, Path: p, Msg: p + " is not supported: " + d}
				}
			}
		}
		return &LoadError{Msg: "the compose file uses unsupported options: " + strings.Join(sortedKeys(fpe.Properties), ", ")}
	}
	if reflect.TypeOf(err).String() == "schema.validationError" {
		path, desc, _ := strings.Cut(msg, " ")
		if m := additionalRe.FindStringSubmatch(desc); m != nil {
			p := joinPath(path, m[1])
			le := l.doc.at(p, fmt.Sprintf("%s: unknown option %q (not in the compose file schema)", p, m[1]))
			le.Path = p
			return le
		}
		if path == "(root)" {
			path = ""
		}
		return l.doc.at(path, desc)
	}
	if m := interpFormatRe.FindStringSubmatch(msg); m != nil {
		tmpl, uerr := strconv.Unquote(`"` + m[2] + `"`)
		if uerr != nil {
			tmpl = m[2]
		}
		if strings.HasPrefix(tmpl, "required variable ") {
			// ${VAR:?message} with VAR unset.
			return l.doc.atQuery(query{path: splitPath(m[1])}, strings.ReplaceAll(m[1], ".[]", ""), tmpl)
		}
		return l.doc.atQuery(query{path: splitPath(m[1]), accept: contains(tmpl)}, strings.ReplaceAll(m[1], ".[]", ""),
			fmt.Sprintf("invalid interpolation format %q; escape a literal $ as $$", tmpl))
	}
	if m := interpErrRe.FindStringSubmatch(msg); m != nil {
		return l.doc.atQuery(query{path: splitPath(m[1])}, strings.ReplaceAll(m[1], ".[]", ""), m[2])
	}
	if versionRe.MatchString(msg) {
		return l.doc.at("version", msg+" (stacks take compose file versions 3.x)")
	}
	if m := nonStringKeyRe.FindStringSubmatch(msg); m != nil {
		return l.doc.at(m[1], "keys must be strings, not "+m[2])
	}
	if msg == "top-level object must be a mapping" {
		// yaml decoded the top level into a map with non-string keys.
		le := &LoadError{Line: 1, Msg: "keys must be strings"}
		if n := firstNonStringKey(l.doc.root); n != nil {
			le.Line, le.Column, le.Msg = n.Line, n.Column, fmt.Sprintf("keys must be strings, not %s", n.Value)
		}
		return le
	}
	if m := sectionRe.FindStringSubmatch(msg); m != nil {
		return l.doc.at(m[1]+"s."+m[2], m[3])
	}
	if m := decodeRe.FindStringSubmatch(msg); m != nil {
		return l.locateDecode(m[1], m[2])
	}
	if m := serviceErrRe.FindStringSubmatch(msg); m != nil {
		return l.locateService(m[1], m[2])
	}
	if m := undefinedRe.FindStringSubmatch(msg); m != nil {
		return l.locateUndefined("", m[1], m[2])
	}
	return &LoadError{Msg: msg}
}

// firstNonStringKey returns the first key of a mapping that yaml does not
// decode as a string.
func firstNonStringKey(m *yaml.Node) *yaml.Node {
	for i := 0; m != nil && i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind != yaml.ScalarNode || (k.Tag != "!!str" && k.Tag != "!!merge") {
			return k
		}
	}
	return nil
}

func joinPath(a, b string) string {
	if a == "" || a == "(root)" {
		return b
	}
	return a + "." + b
}

// locateDecode places a decoding error of the CLI's loader, which names a
// Go field ("Deploy.Resources.Limits.memory") but not the service: each
// service is loaded alone until one fails the same way.
func (l *loading) locateDecode(field, cause string) *LoadError {
	fieldPath := strings.Split(indexRe.ReplaceAllString(field, ".$1"), ".")
	for _, svc := range sortedKeys(services(l.dict)) {
		one := map[string]any{"services": map[string]any{svc: services(l.dict)[svc]}}
		for _, k := range []string{"version", "networks", "volumes", "secrets", "configs"} {
			if v, ok := l.dict[k]; ok {
				one[k] = v
			}
		}
		if _, err := loader.Load(l.details(one), l.loaderOptions); err != nil && strings.Contains(err.Error(), "'"+field+"'") {
			q := query{path: append([]string{"services", svc}, fieldPath...), fuzzy: true}
			n, _ := l.doc.find(q)
			p := "services." + svc
			if n != nil {
				p = "services." + svc + "." + strings.ToLower(strings.Join(fieldPath, "."))
			}
			return l.withNode(n, p, cause)
		}
	}
	for _, sec := range []string{"networks", "volumes", "secrets", "configs"} {
		if n, full := l.doc.find(query{path: append([]string{sec, "*"}, fieldPath...), fuzzy: true}); full {
			return l.withNode(n, sec, cause)
		}
	}
	return &LoadError{Msg: field + ": " + cause}
}

func (l *loading) withNode(n *yaml.Node, path, msg string) *LoadError {
	le := &LoadError{Path: path, Msg: msg}
	if n != nil {
		le.Line, le.Column = n.Line, n.Column
	}
	return le
}

// locateService places an error of the CLI's converter ("service web: ...").
func (l *loading) locateService(svc, msg string) *LoadError {
	base := "services." + svc
	if m := undefinedRe.FindStringSubmatch(msg); m != nil {
		return l.locateUndefined(svc, m[1], m[2])
	}
	switch {
	case strings.HasPrefix(msg, "Unknown mode"):
		return l.doc.at(base+".deploy.mode", msg+" (use replicated, global, replicated-job or global-job)")
	case strings.HasPrefix(msg, "replicas can only be used"):
		return l.doc.at(base+".deploy.replicas", msg)
	case strings.HasPrefix(msg, "duplicate secret target"):
		return l.doc.at(base+".secrets", msg)
	case strings.HasPrefix(msg, "duplicate config target"):
		return l.doc.at(base+".configs", msg)
	}
	return l.doc.at(base, msg)
}

// locateUndefined places a reference to an undefined network, secret,
// config or volume; svc is empty when the converter did not say which
// service has it.
func (l *loading) locateUndefined(svc, kind, name string) *LoadError {
	msg := fmt.Sprintf("undefined %s %q: declare it in the top-level %ss: section", kind, name, kind)
	svcs := []string{svc}
	if svc == "" {
		svcs = sortedKeys(services(l.dict))
	}
	for _, s := range svcs {
		base := []string{"services", s, kind + "s"}
		var q query
		switch kind {
		case "network":
			// networks: [a, b] or networks: {a: {...}}
			if n, ok := l.doc.find(query{path: append(slices.Clone(base), name)}); ok {
				return l.withNode(n, strings.Join(base, ".")+"."+name, msg)
			}
			q = query{path: append(slices.Clone(base), "[]"), accept: scalarIs(name)}
		case "volume":
			q = query{path: append(slices.Clone(base), "[]"), accept: func(n *yaml.Node) bool {
				return scalarIs(name, "source")(n) || (n.Kind == yaml.ScalarNode && strings.HasPrefix(n.Value, name+":"))
			}}
		default:
			q = query{path: append(slices.Clone(base), "[]"), accept: scalarIs(name, "source")}
		}
		if n, ok := l.doc.find(q); ok {
			return l.withNode(n, strings.Join(base, "."), msg)
		}
	}
	if svc != "" {
		return l.doc.at("services."+svc, msg)
	}
	return &LoadError{Msg: msg}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// render converts the services with the CLI's converter.
func (l *loading) render() (map[string]*renderedService, *LoadError) {
	specs, err := renderServices(context.Background(), l.ns, l.cfg, offlineResolver())
	if err != nil {
		return nil, l.locate(err)
	}
	return specs, nil
}

// redact replaces in msg the values of env (sensitive, as the provider's
// env is) with ${NAME}: an interpolated value quoted in an error would
// otherwise show in the plan's output. Values shorter than 4 characters
// stay: replacing "1" everywhere would garble the message and hides
// nothing.
func (l *loading) redact(msg string) string {
	keys := make([]string, 0, len(l.opts.Env))
	for k := range l.opts.Env {
		keys = append(keys, k)
	}
	// Longest values first, so a value containing another goes whole.
	sort.Slice(keys, func(i, j int) bool { return len(l.opts.Env[keys[i]]) > len(l.opts.Env[keys[j]]) })
	for _, k := range keys {
		if v := l.opts.Env[k]; len(v) >= 4 {
			msg = strings.ReplaceAll(msg, v, "${"+k+"}")
		}
	}
	return msg
}

// envFileProblem says what is wrong with an env file without quoting it:
// docker/cli's kvfile errors quote the line, and env files hold secrets.
func envFileProblem(err error) string {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "invalid utf8 bytes at line "):
		n, _, _ := strings.Cut(strings.TrimPrefix(msg, "invalid utf8 bytes at line "), ":")
		return "line " + n + " is not valid UTF-8"
	case strings.HasPrefix(msg, "no variable name on line"):
		return "a line has no variable name before '=' (lines are not shown: env files hold secrets)"
	case strings.Contains(msg, "contains whitespaces"):
		return "a variable name contains white space, or a line is not KEY=value (lines are not shown: env files hold secrets)"
	}
	return "not a file of KEY=value lines"
}
