package stack

// Line numbers for load errors. The docker CLI's loader reports problems by
// path ("services.web.ports.0 Does not match format 'ports'") or by Go
// field ("error decoding 'Deploy.Resources.Limits.memory'"); the file is
// parsed a second time into yaml.v3 nodes, which carry lines, and the path
// is looked up there.

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// LoadError is a problem with a compose file. Line and Column are 1-based
// positions in the file; 0 when the problem has no single place (the loader
// did not say where). Path is the dotted path of the offending entry
// ("services.web.deploy.replicas"), when known.
type LoadError struct {
	Line   int
	Column int
	Path   string
	Msg    string
}

func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString("compose file")
	if e.Line > 0 {
		fmt.Fprintf(&b, " line %d", e.Line)
	}
	b.WriteString(": ")
	if e.Path != "" && !strings.HasPrefix(e.Msg, e.Path) {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Warning is something in a compose file that is ignored when deploying to
// a swarm (as `docker stack deploy` ignores it) or probably a mistake.
type Warning struct {
	Line int
	Path string
	Msg  string
}

func (w Warning) String() string {
	if w.Line > 0 {
		return fmt.Sprintf("line %d: %s", w.Line, w.Msg)
	}
	return w.Msg
}

// doc is the compose file as yaml.v3 nodes.
type doc struct {
	root *yaml.Node // the top-level mapping, or nil
}

var yamlLineRe = regexp.MustCompile(`line (\d+)`)

// parseDoc parses src into nodes; its errors carry yaml's line.
func parseDoc(src []byte) (*doc, *LoadError) {
	var n yaml.Node
	if err := yaml.Unmarshal(src, &n); err != nil {
		return nil, yamlError(err)
	}
	d := &doc{}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		d.root = deref(n.Content[0], 0)
	}
	if d.root == nil || d.root.Kind != yaml.MappingNode {
		line := 1
		if d.root != nil {
			line = d.root.Line
		}
		return nil, &LoadError{Line: line, Msg: "the top level must be a mapping (services:, networks:, ...)"}
	}
	return d, nil
}

func yamlError(err error) *LoadError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	le := &LoadError{Msg: msg}
	msg = strings.TrimSpace(strings.TrimPrefix(msg, "unmarshal errors:\n"))
	le.Msg = msg
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		le.Line, _ = strconv.Atoi(m[1])
		le.Msg = strings.Replace(msg, m[0]+": ", "", 1)
	}
	return le
}

// maxDepth bounds the walk through merge keys and aliases.
const maxDepth = 64

// deref follows aliases.
func deref(n *yaml.Node, depth int) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && depth < maxDepth {
		n = n.Alias
		depth++
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

// entry returns the key and value nodes of name in a mapping, looking
// through merge keys (<<). With fuzzy, keys compare case-insensitively and
// without underscores, to match Go field names ("UpdateConfig" is
// update_config).
func entry(m *yaml.Node, name string, fuzzy bool, depth int) (key, val *yaml.Node) {
	m = deref(m, depth)
	if m == nil || m.Kind != yaml.MappingNode || depth > maxDepth {
		return nil, nil
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if k.Kind != yaml.ScalarNode {
			continue
		}
		if k.Tag == "!!merge" || (k.Value == "<<" && k.Style == 0 && k.Tag != "!!str") {
			merges = append(merges, m.Content[i+1])
			continue
		}
		if k.Value == name || (fuzzy && normKey(k.Value) == normKey(name)) {
			return k, m.Content[i+1]
		}
	}
	for _, mv := range merges {
		mv = deref(mv, depth+1)
		if mv == nil {
			continue
		}
		srcs := []*yaml.Node{mv}
		if mv.Kind == yaml.SequenceNode {
			srcs = mv.Content
		}
		for _, s := range srcs {
			if k, v := entry(s, name, fuzzy, depth+1); k != nil {
				return k, v
			}
		}
	}
	return nil, nil
}

func normKey(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "")) }

// keys returns a mapping's entries in document order, merge keys expanded
// after the mapping's own.
func keys(m *yaml.Node) (ks, vs []*yaml.Node) {
	m = deref(m, 0)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	seen := map[string]bool{}
	var walk func(m *yaml.Node, depth int)
	walk = func(m *yaml.Node, depth int) {
		m = deref(m, depth)
		if m == nil || m.Kind != yaml.MappingNode || depth > maxDepth {
			return
		}
		var merges []*yaml.Node
		for i := 0; i+1 < len(m.Content); i += 2 {
			k := m.Content[i]
			if k.Tag == "!!merge" {
				merges = append(merges, m.Content[i+1])
				continue
			}
			if seen[k.Value] {
				continue
			}
			seen[k.Value] = true
			ks, vs = append(ks, k), append(vs, m.Content[i+1])
		}
		for _, mv := range merges {
			mv = deref(mv, depth+1)
			if mv != nil && mv.Kind == yaml.SequenceNode {
				for _, s := range mv.Content {
					walk(s, depth+1)
				}
			} else {
				walk(mv, depth+1)
			}
		}
	}
	walk(m, 0)
	return ks, vs
}

// query is a lookup of a path in the document.
type query struct {
	path []string
	// fuzzy matches keys as Go field names (see entry).
	fuzzy bool
	// accept, when set, must accept the node the path leads to (a value
	// node) for the path to match; otherwise the next candidate is tried
	// where the path has wildcards ("*" or "[]").
	accept func(*yaml.Node) bool
}

// find returns the node whose line best shows where path is: the key of
// the last mapping entry or the last sequence item on the path, or, when
// the path does not match entirely, the deepest node that does.
func (d *doc) find(q query) (n *yaml.Node, full bool) {
	if d == nil || d.root == nil {
		return nil, false
	}
	n, full = walk(d.root, q, q.path, 0)
	if n == nil && full {
		n = d.root
	}
	return n, full
}

func walk(n *yaml.Node, q query, path []string, depth int) (*yaml.Node, bool) {
	n = deref(n, depth)
	if n == nil || depth > maxDepth {
		return nil, false
	}
	if len(path) == 0 {
		if q.accept != nil && !q.accept(n) {
			return nil, false
		}
		return nil, true
	}
	var best *yaml.Node
	try := func(k, v *yaml.Node, rest []string) (*yaml.Node, bool) {
		sub, full := walk(v, q, rest, depth+1)
		if sub == nil && (full || len(rest) > 0 || q.accept == nil) {
			sub = k
		}
		if full {
			return sub, true
		}
		if best == nil {
			best = sub
		}
		return nil, false
	}
	switch n.Kind {
	case yaml.MappingNode:
		if path[0] == "*" {
			ks, vs := keys(n)
			for i := range ks {
				if sub, ok := try(ks[i], vs[i], path[1:]); ok {
					return sub, true
				}
			}
			break
		}
		// Keys may contain dots: try the longest join first.
		for j := len(path); j >= 1; j-- {
			k, v := entry(n, strings.Join(path[:j], "."), q.fuzzy, depth)
			if k == nil {
				continue
			}
			if sub, ok := try(k, v, path[j:]); ok {
				return sub, true
			}
		}
	case yaml.SequenceNode:
		if path[0] == "[]" || path[0] == "*" {
			for _, it := range n.Content {
				if sub, ok := try(it, it, path[1:]); ok {
					return sub, true
				}
			}
			break
		}
		i, err := strconv.Atoi(path[0])
		if err == nil && i >= 0 && i < len(n.Content) {
			if sub, ok := try(n.Content[i], n.Content[i], path[1:]); ok {
				return sub, true
			}
		}
	}
	return best, false
}

// at returns a LoadError for msg at path (dotted, see splitPath).
func (d *doc) at(path string, msg string) *LoadError {
	return d.atQuery(query{path: splitPath(path)}, path, msg)
}

func (d *doc) atQuery(q query, path, msg string) *LoadError {
	le := &LoadError{Path: path, Msg: msg}
	if n, _ := d.find(q); n != nil {
		le.Line, le.Column = n.Line, n.Column
	}
	return le
}

func splitPath(p string) []string {
	if p == "" || p == "(root)" {
		return nil
	}
	return strings.Split(p, ".")
}

// scalarIs accepts a scalar equal to s, or a mapping whose entry key
// (source, or target for an item in long syntax) is s.
func scalarIs(s string, mapKeys ...string) func(*yaml.Node) bool {
	return func(n *yaml.Node) bool {
		switch n.Kind {
		case yaml.ScalarNode:
			return n.Value == s
		case yaml.MappingNode:
			for _, k := range mapKeys {
				if _, v := entry(n, k, false, 0); v != nil && v.Kind == yaml.ScalarNode && v.Value == s {
					return true
				}
			}
		}
		return false
	}
}

// contains accepts a node with a scalar containing s anywhere below it.
func contains(s string) func(*yaml.Node) bool {
	var has func(n *yaml.Node, depth int) bool
	has = func(n *yaml.Node, depth int) bool {
		n = deref(n, depth)
		if n == nil || depth > maxDepth {
			return false
		}
		if n.Kind == yaml.ScalarNode {
			return strings.Contains(n.Value, s)
		}
		for _, c := range n.Content {
			if has(c, depth+1) {
				return true
			}
		}
		return false
	}
	return func(n *yaml.Node) bool { return has(n, 0) }
}

// firstScalar returns the first scalar node (in document order) for which
// match is true, or nil.
func (d *doc) firstScalar(match func(*yaml.Node) bool) *yaml.Node {
	var found *yaml.Node
	var visit func(n *yaml.Node, depth int)
	visit = func(n *yaml.Node, depth int) {
		if n == nil || found != nil || depth > maxDepth || n.Kind == yaml.AliasNode {
			return
		}
		if n.Kind == yaml.ScalarNode && match(n) {
			found = n
			return
		}
		for _, c := range n.Content {
			visit(c, depth+1)
		}
	}
	if d != nil {
		visit(d.root, 0)
	}
	return found
}
