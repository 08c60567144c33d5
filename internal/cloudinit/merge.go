package cloudinit

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"path"
	"sort"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// dependsOn are the top-level keys Haddock fills with lists; a user value of
// another kind cannot be merged.
var dependsOn = map[string]bool{"write_files": true, "runcmd": true, "packages": true}

// jinjaMergeType makes cloud-init append the lists of a cloud-config jinja
// part to Haddock's instead of replacing them, and keep Haddock's scalars.
const jinjaMergeType = "list(append)+dict(no_replace,recurse_list)+str()"

const cloudConfigHeader = "#cloud-config\n"

// outPart is one part of a multipart document Render writes.
type outPart struct {
	header textproto.MIMEHeader
	body   []byte
}

// combine merges userData into ours (Haddock's top-level mapping) and
// returns the final user data.
func combine(ours *yaml.Node, userData string) (string, error) {
	var extra []outPart
	if strings.TrimSpace(userData) != "" {
		parts, err := explode([]byte(userData))
		if err != nil {
			return "", fmt.Errorf("user_data: %w", err)
		}
		for i, p := range parts {
			where := "user_data"
			if p.header != nil {
				where = fmt.Sprintf("user_data MIME part %d", i+1)
			}
			switch p.ctype {
			case typeCloudConfig:
				user, err := parseCloudConfig(p.body)
				if err != nil {
					return "", fmt.Errorf("%s: cloud-config: %w", where, err)
				}
				if err := checkUserCloudConfig(user); err != nil {
					return "", fmt.Errorf("%s: %w", where, err)
				}
				if err := mergeMapping(ours, user, true); err != nil {
					return "", fmt.Errorf("%s: %w", where, err)
				}
			case "":
				if p.header == nil {
					return "", errors.New("user_data is not a format cloud-init understands: start it with " +
						"#cloud-config, #! (a script), #include, #cloud-boothook or \"## template: jinja\", " +
						"or give a MIME multipart document")
				}
				// cloud-init ignores it; keep it anyway, never drop user data.
				extra = append(extra, outPart{header: p.header, body: p.raw})
			default:
				extra = append(extra, userPart(p))
			}
		}
	}
	doc, err := encodeCloudConfig(ours)
	if err != nil {
		return "", err
	}
	if len(extra) == 0 {
		return doc, nil
	}
	parts := append([]outPart{textPart(typeCloudConfig, "haddock-cloud-config.yaml", []byte(doc))}, extra...)
	return writeMultipart(parts)
}

// userPart turns a user payload into an output part: MIME parts keep their
// headers and encoded body; a plain payload gets headers for its type.
func userPart(p part) outPart {
	var out outPart
	if p.header != nil {
		out = outPart{header: cloneHeader(p.header), body: p.raw}
	} else {
		out = textPart(p.ctype, "user-data", p.body)
	}
	if p.ctype == typeJinja && out.header.Get("Merge-Type") == "" {
		out.header.Set("Merge-Type", jinjaMergeType)
	}
	return out
}

func textPart(ctype, filename string, body []byte) outPart {
	h := textproto.MIMEHeader{}
	h.Set("MIME-Version", "1.0")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
	switch {
	case !utf8.Valid(body):
		h.Set("Content-Type", ctype)
		h.Set("Content-Transfer-Encoding", "base64")
		body = base64Lines(body)
	case isASCII(body):
		h.Set("Content-Type", mime.FormatMediaType(ctype, map[string]string{"charset": "us-ascii"}))
		h.Set("Content-Transfer-Encoding", "7bit")
	default:
		h.Set("Content-Type", mime.FormatMediaType(ctype, map[string]string{"charset": "utf-8"}))
		h.Set("Content-Transfer-Encoding", "8bit")
	}
	return outPart{header: h, body: body}
}

// writeMultipart writes a multipart/mixed document. The boundary is derived
// from the content, so the same parts always give the same bytes.
func writeMultipart(parts []outPart) (string, error) {
	sum := sha256.New()
	for _, p := range parts {
		keys := make([]string, 0, len(p.header))
		for k := range p.header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sum.Write(fmt.Appendf(nil, "%s: %q\n", k, p.header[k]))
		}
		sum.Write(fmt.Appendf(nil, "%d\n", len(p.body)))
		sum.Write(p.body)
	}
	boundary := "==haddock-" + hex.EncodeToString(sum.Sum(nil))[:32] + "=="
	for _, p := range parts {
		if bytes.Contains(p.body, []byte(boundary)) {
			return "", errors.New("user_data contains Haddock's MIME boundary")
		}
	}

	var buf bytes.Buffer
	buf.WriteString("Content-Type: " + mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": boundary}) + "\r\n")
	buf.WriteString("MIME-Version: 1.0\r\n\r\n")
	w := multipart.NewWriter(&buf)
	if err := w.SetBoundary(boundary); err != nil {
		return "", fmt.Errorf("writing MIME user data: %w", err)
	}
	for _, p := range parts {
		pw, err := w.CreatePart(p.header)
		if err != nil {
			return "", fmt.Errorf("writing MIME user data: %w", err)
		}
		if _, err := pw.Write(p.body); err != nil {
			return "", fmt.Errorf("writing MIME user data: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("writing MIME user data: %w", err)
	}
	return buf.String(), nil
}

// parseCloudConfig decodes one cloud-config document and returns its
// top-level mapping (empty for an empty document), with the #cloud-config
// header comment removed.
func parseCloudConfig(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}, nil
		}
		return nil, err
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, err
		}
		return nil, errors.New("more than one YAML document")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}, nil
	}
	root := doc.Content[0]
	switch {
	case root.Kind == yaml.MappingNode:
	case isNull(root):
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}, nil
	default:
		return nil, errors.New("the top level is not a mapping")
	}
	doc.HeadComment = stripHeader(doc.HeadComment)
	root.HeadComment = stripHeader(root.HeadComment)
	if len(root.Content) > 0 {
		root.Content[0].HeadComment = stripHeader(root.Content[0].HeadComment)
	}
	return root, nil
}

func stripHeader(comment string) string {
	if comment == "" {
		return ""
	}
	lines := strings.Split(comment, "\n")
	kept := lines[:0]
	for _, l := range lines {
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(l)), "#cloud-config") {
			continue
		}
		kept = append(kept, l)
	}
	return strings.TrimLeft(strings.Join(kept, "\n"), "\n")
}

// checkUserCloudConfig rejects user cloud-config Render cannot merge
// faithfully: duplicate top-level keys and write_files for Haddock's paths.
func checkUserCloudConfig(m *yaml.Node) error {
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if k.Kind != yaml.ScalarNode {
			continue
		}
		if seen[k.Value] {
			return fmt.Errorf("cloud-config key %q appears more than once", k.Value)
		}
		seen[k.Value] = true
		if k.Value != "write_files" {
			continue
		}
		files := deref(m.Content[i+1])
		if isNull(files) {
			continue
		}
		if files.Kind != yaml.SequenceNode {
			return fmt.Errorf("cloud-config write_files must be a list of files (line %d)", files.Line)
		}
		for n, f := range files.Content {
			f = deref(f)
			if f.Kind != yaml.MappingNode {
				return fmt.Errorf("cloud-config write_files entry %d (line %d) must be a mapping with a path", n+1, f.Line)
			}
			hasPath := false
			for j := 0; j+1 < len(f.Content); j += 2 {
				if f.Content[j].Value != "path" {
					continue
				}
				v := deref(f.Content[j+1])
				if v.Kind != yaml.ScalarNode || isNull(v) || v.Value == "" {
					return fmt.Errorf("cloud-config write_files entry %d (line %d): path must be a file path", n+1, v.Line)
				}
				hasPath = true
				// cloud-init writes a relative path from /.
				p := path.Clean("/" + v.Value)
				for _, mp := range managedPaths {
					if p == mp {
						return fmt.Errorf("write_files may not write %s: Haddock manages it (set daemon.json options through the daemon settings instead)", mp)
					}
				}
			}
			if !hasPath {
				return fmt.Errorf("cloud-config write_files entry %d (line %d) has no path", n+1, f.Line)
			}
		}
	}
	return nil
}

// mergeMapping merges src into dst: lists are concatenated (dst first),
// mappings merged recursively, keys only in src added, and on other
// conflicts src wins — except, at the top level, for ProtectedKeys.
func mergeMapping(dst, src *yaml.Node, top bool) error {
	for i := 0; i+1 < len(src.Content); i += 2 {
		k, v := src.Content[i], src.Content[i+1]
		j := -1
		if k.Kind == yaml.ScalarNode {
			j = findKey(dst, k.Value)
		}
		if j < 0 {
			dst.Content = append(dst.Content, k, v)
			continue
		}
		if top && isProtected(k.Value) {
			continue
		}
		d, rv := dst.Content[j+1], deref(v)
		switch {
		case d.Kind == yaml.SequenceNode && rv.Kind == yaml.SequenceNode:
			d.Content = append(d.Content, rv.Content...)
		case d.Kind == yaml.MappingNode && rv.Kind == yaml.MappingNode:
			if err := mergeMapping(d, rv, false); err != nil {
				return err
			}
		case d.Kind == yaml.SequenceNode && isNull(rv):
			// "runcmd:" with nothing under it adds nothing.
		case top && dependsOn[k.Value]:
			return fmt.Errorf("cloud-config key %q must be a list", k.Value)
		default:
			dst.Content[j+1] = v
		}
	}
	return nil
}

func encodeCloudConfig(root *yaml.Node) (string, error) {
	var buf bytes.Buffer
	buf.WriteString(cloudConfigHeader)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}); err != nil {
		return "", fmt.Errorf("encoding cloud-config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("encoding cloud-config: %w", err)
	}
	// Check the result reads back: a dropped anchor would leave a dangling
	// alias.
	var check any
	if err := yaml.Unmarshal(buf.Bytes(), &check); err != nil {
		return "", fmt.Errorf("merged cloud-config is invalid: %w", err)
	}
	return buf.String(), nil
}

func findKey(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Kind == yaml.ScalarNode && m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

func isProtected(key string) bool {
	for _, k := range ProtectedKeys {
		if k == key {
			return true
		}
	}
	return false
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func cloneHeader(h textproto.MIMEHeader) textproto.MIMEHeader {
	out := make(textproto.MIMEHeader, len(h))
	for k, v := range h {
		out[k] = append([]string(nil), v...)
	}
	return out
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

func base64Lines(b []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(b)
	var out bytes.Buffer
	for len(enc) > 76 {
		out.WriteString(enc[:76])
		out.WriteString("\r\n")
		enc = enc[76:]
	}
	out.WriteString(enc)
	return out.Bytes()
}
