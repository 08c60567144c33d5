package contract

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/oasdiff/yaml"
)

// SpecEnv names the environment variable that points at the spec's root
// file (DigitalOcean-public.v2.yaml) or at the directory holding it.
const SpecEnv = "HADDOCK_DO_SPEC"

const specRoot = "DigitalOcean-public.v2.yaml"

// specRel is where the spec lives below a shared/ directory.
var specRel = filepath.Join("specs", "digitalocean-openapi", "specification")

// SpecPaths are the path prefixes of the spec loaded: the resource families
// localcloud serves. Loading only these takes 0.3-0.7 s (2-3.5 s under
// -race) on a 2-core machine, instead of 3.5 s for every /v2 path (about
// 30 s under -race); a request to a path outside them is reported as a
// violation ("no such operation").
// Extend the list when localcloud grows.
var SpecPaths = []string{
	"/v2/account",
	"/v2/actions",
	"/v2/databases",
	"/v2/droplets",
	"/v2/firewalls",
	"/v2/images",
	"/v2/load_balancers",
	"/v2/projects",
	"/v2/regions",
	"/v2/reserved_ips",
	"/v2/sizes",
	"/v2/tags",
}

// FindSpec returns the path of the spec's root file: $HADDOCK_DO_SPEC, or
// shared/specs/digitalocean-openapi/specification found by walking up from
// the working directory, either beside a directory on the way
// (<repo>/../shared, as in CI) or inside it (<repo>/shared).
func FindSpec() (string, error) {
	p, err := FindShared(SpecEnv, filepath.Join(specRel, specRoot))
	if err != nil {
		return "", fmt.Errorf("DigitalOcean OpenAPI spec not found: %w", err)
	}
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		p = filepath.Join(p, specRoot)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", SpecEnv, os.Getenv(SpecEnv), err)
		}
	}
	return p, nil
}

// FindShared returns the path of rel below a shared/ directory: $env when
// set (it must exist), or shared/rel found by walking up from the working
// directory, either beside a directory on the way (<repo>/../shared, as in
// CI) or inside it (<repo>/shared).
func FindShared(env, rel string) (string, error) {
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", env, p, err)
		}
		return p, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; {
		p := filepath.Join(dir, "shared", rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", fmt.Errorf("set %s or put it at shared/%s beside or inside a parent of %s", env, filepath.ToSlash(rel), wd)
}

var (
	specOnce sync.Once
	specDoc  *openapi3.T
	specTook time.Duration
	specErr  error
)

// Spec loads the spec once per process and returns it with the time the
// load took.
func Spec() (*openapi3.T, time.Duration, error) {
	specOnce.Do(func() {
		start := time.Now()
		p, err := FindSpec()
		if err == nil {
			specDoc, err = LoadSpec(p, SpecPaths)
		}
		specTook, specErr = time.Since(start), err
	})
	return specDoc, specTook, specErr
}

// LoadSpec loads the multi-file DigitalOcean spec at root, keeping the
// paths starting with one of prefixes (all paths when there are none).
//
// The published spec has quirks kin-openapi cannot take as they are; each
// is worked around here, and none loosens what a response is checked
// against except where said:
//
//  1. Every operation is a $ref to a file (paths./v2/droplets.get.$ref),
//     which OpenAPI 3.0 allows only for path items: kin-openapi silently
//     ignores such a $ref and the operation ends up empty, validating
//     nothing. The operation files are inlined, their relative $refs (and
//     discriminator mapping values, which are refs too) rebased from the
//     operation file's directory onto the root's.
//  2. tags[].description is a $ref object where a string belongs: it fails
//     unmarshaling. Tag descriptions are documentation; they are dropped.
//  3. x-codeSamples of the operations are dropped (documentation; they
//     point at many example files).
//  4. servers names https://api.digitalocean.com, so kin-openapi's router
//     would match only that host; servers is emptied so requests to
//     localcloud's loopback address route.
//  5. Droplet.next_backup_window is allOf[$ref to a nullable object,
//     {description}]: the allOf wrapper is not nullable, so kin-openapi
//     rejects null, the value DigitalOcean returns for droplets without
//     backups. The wrapper is made nullable, as the referenced schema says.
//  6. The load balancer models put a $ref where a properties map belongs
//     (properties: {$ref: attributes.yml#/load_balancer_droplet_ids}),
//     which fails to load: every file the loader reads has such a $ref
//     replaced by the properties it names (inlinePropertyRefs). The example
//     validation of several operations is not run (examples are never used
//     here; Validate runs without them).
func LoadSpec(root string, prefixes []string) (*openapi3.T, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	top, err := readYAML(root)
	if err != nil {
		return nil, err
	}
	if tags, ok := top["tags"].([]any); ok { // quirk 2
		for _, t := range tags {
			if tm, ok := t.(map[string]any); ok {
				if _, isRef := tm["description"].(map[string]any); isRef {
					delete(tm, "description")
				}
			}
		}
	}
	delete(top, "servers") // quirk 4
	paths, _ := top["paths"].(map[string]any)
	for p, item := range paths {
		if !hasAnyPrefix(p, prefixes) {
			delete(paths, p)
			continue
		}
		ops, ok := item.(map[string]any)
		if !ok {
			continue
		}
		for method, op := range ops { // quirk 1
			om, ok := op.(map[string]any)
			ref, isRef := om["$ref"].(string)
			if !ok || !isRef || len(om) != 1 || strings.HasPrefix(ref, "#") {
				continue
			}
			sub, err := readYAML(filepath.Join(filepath.Dir(root), filepath.FromSlash(ref)))
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", strings.ToUpper(method), p, err)
			}
			delete(sub, "x-codeSamples")                                                                                              // quirk 3
			if err := inlinePropertyRefs(sub, filepath.Dir(filepath.Join(filepath.Dir(root), filepath.FromSlash(ref)))); err != nil { // quirk 6
				return nil, fmt.Errorf("%s %s: %w", strings.ToUpper(method), p, err)
			}
			rebase(sub, path.Dir(ref), ref)
			ops[method] = sub
		}
	}
	data, err := json.Marshal(top)
	if err != nil {
		return nil, err
	}
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = true
	loader.ReadFromURIFunc = openapi3.URIMapCache(readInlined) // quirk 6
	doc, err := loader.LoadFromDataWithPath(data, &url.URL{Path: filepath.ToSlash(root)})
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", root, err)
	}
	patchNullable(doc)
	if err := doc.Validate(loader.Context, openapi3.DisableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("validating %s: %w", root, err)
	}
	return doc, nil
}

// patchNullable applies quirk 5.
func patchNullable(doc *openapi3.T) {
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, resp := range op.Responses.Map() {
				if resp.Value == nil {
					continue
				}
				for _, mt := range resp.Value.Content {
					walkSchemas(mt.Schema, map[*openapi3.Schema]bool{}, func(s *openapi3.Schema) {
						w := s.Properties["next_backup_window"]
						if w == nil || w.Value == nil {
							return
						}
						for _, part := range w.Value.AllOf {
							if part.Value != nil && part.Value.Nullable {
								w.Value.Nullable = true
							}
						}
					})
				}
			}
		}
	}
}

// walkSchemas calls f on every schema reachable from ref.
func walkSchemas(ref *openapi3.SchemaRef, seen map[*openapi3.Schema]bool, f func(*openapi3.Schema)) {
	if ref == nil || ref.Value == nil || seen[ref.Value] {
		return
	}
	s := ref.Value
	seen[s] = true
	f(s)
	for _, p := range s.Properties {
		walkSchemas(p, seen, f)
	}
	walkSchemas(s.Items, seen, f)
	for _, l := range [][]*openapi3.SchemaRef{s.AllOf, s.AnyOf, s.OneOf} {
		for _, p := range l {
			walkSchemas(p, seen, f)
		}
	}
	if s.AdditionalProperties.Schema != nil {
		walkSchemas(s.AdditionalProperties.Schema, seen, f)
	}
}

func hasAnyPrefix(s string, prefixes []string) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func readYAML(p string) (map[string]any, error) {
	raw, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if m == nil {
		return nil, errors.New(p + ": empty document")
	}
	return m, nil
}

// readInlined reads a spec file for the loader, with quirk 6 worked
// around. Only local files are read.
func readInlined(loader *openapi3.Loader, location *url.URL) ([]byte, error) {
	if location.Scheme != "" && location.Scheme != "file" {
		return nil, fmt.Errorf("%s: only local files are read", location)
	}
	p := filepath.FromSlash(location.Path)
	raw, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(p, ".yml") && !strings.HasSuffix(p, ".yaml") {
		return raw, nil
	}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	var v any
	if err := json.Unmarshal(js, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if err := inlinePropertyRefs(v, filepath.Dir(p)); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return json.Marshal(v)
}

// inlinePropertyRefs replaces properties: {$ref: "file#/key"} in v (a file
// in directory dir) with the map at key of that file.
func inlinePropertyRefs(v any, dir string) error {
	switch x := v.(type) {
	case map[string]any:
		if props, ok := x["properties"].(map[string]any); ok && len(props) == 1 {
			if ref, ok := props["$ref"].(string); ok && !strings.HasPrefix(ref, "#") {
				file, key, _ := strings.Cut(ref, "#/")
				doc, err := readYAML(filepath.Join(dir, filepath.FromSlash(file)))
				if err != nil {
					return err
				}
				m, ok := doc[key].(map[string]any)
				if !ok {
					return fmt.Errorf("properties $ref %s names no map", ref)
				}
				x["properties"] = m
			}
		}
		for _, e := range x {
			if err := inlinePropertyRefs(e, dir); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := inlinePropertyRefs(e, dir); err != nil {
				return err
			}
		}
	}
	return nil
}

// rebase rewrites the relative refs in v, an operation inlined from file
// self (relative to the root's directory, in directory dir), to be relative
// to the root's directory.
func rebase(v any, dir, self string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "$ref" {
				x[k] = rebaseRef(s, dir, self)
				continue
			}
			if d, ok := e.(map[string]any); ok && k == "discriminator" {
				if mp, ok := d["mapping"].(map[string]any); ok {
					for mk, mv := range mp {
						if s, ok := mv.(string); ok && strings.Contains(s, "/") {
							mp[mk] = rebaseRef(s, dir, self)
						}
					}
				}
			}
			rebase(e, dir, self)
		}
	case []any:
		for _, e := range x {
			rebase(e, dir, self)
		}
	}
}

func rebaseRef(ref, dir, self string) string {
	if strings.HasPrefix(ref, "#") {
		return self + ref
	}
	if strings.Contains(ref, "://") {
		return ref
	}
	file, frag, hasFrag := strings.Cut(ref, "#")
	out := path.Clean(path.Join(dir, file))
	if hasFrag {
		out += "#" + frag
	}
	return out
}
