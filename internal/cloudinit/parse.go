package cloudinit

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Document is what Parse reads back from user data: the subset of
// cloud-config the local cloud applies to start dockerd the way cloud-init
// would on a real host.
//
// Supported: write_files (path, content, encoding, permissions, owner,
// append, defer) and hostname. Everything else — runcmd, bootcmd, packages,
// users, scripts and other parts — is ignored; in particular runcmd is NOT
// executed locally. write_files "source" (fetching a URL) is not supported.
type Document struct {
	// Hostname is the top-level "hostname" key, "" when absent.
	Hostname string
	// Files are the write_files entries, in order, with content decoded.
	Files []File
}

// File is one write_files entry.
type File struct {
	Path string
	// Content is decoded (b64, base64, gz, gzip, gz+base64, ...).
	Content []byte
	// Permissions defaults to 0644, as in cloud-init.
	Permissions fs.FileMode
	// Owner is "user:group", default "root:root".
	Owner string
	// Append adds Content to the file instead of replacing it.
	Append bool
	// Defer writes the file in cloud-init's final stage.
	Defer bool
}

// File returns the file at path as the write_files entries leave it:
// entries apply in order, a later entry replaces an earlier one unless it
// has append set. ok is false when no entry writes path.
func (d *Document) File(path string) (f File, ok bool) {
	for _, e := range d.Files {
		if e.Path != path {
			continue
		}
		if ok && e.Append {
			f.Content = append(append([]byte(nil), f.Content...), e.Content...)
			continue
		}
		f, ok = e, true
		f.Content = append([]byte(nil), e.Content...)
	}
	return f, ok
}

// Parse reads user data — a #cloud-config document, or a MIME multipart
// document (possibly gzip-compressed, possibly nested) — and returns its
// hostname and write_files. Parts that are not cloud-config are skipped.
// When several cloud-config parts are present they combine with
// cloud-init's default merge: a later part's top-level key replaces an
// earlier one's (merge_how and Merge-Type are not interpreted).
func Parse(userData string) (*Document, error) {
	doc := &Document{}
	if strings.TrimSpace(userData) == "" {
		return doc, nil
	}
	parts, err := explode([]byte(userData))
	if err != nil {
		return nil, fmt.Errorf("parsing user data: %w", err)
	}
	for i, p := range parts {
		if p.ctype != typeCloudConfig {
			continue
		}
		m, err := parseCloudConfig(p.body)
		if err != nil {
			return nil, fmt.Errorf("parsing user data: part %d: cloud-config: %w", i+1, err)
		}
		if err := doc.apply(m); err != nil {
			return nil, fmt.Errorf("parsing user data: part %d: %w", i+1, err)
		}
	}
	return doc, nil
}

// apply reads one cloud-config mapping into d. Keys repeat the way PyYAML
// reads them: the last one wins.
func (d *Document) apply(m *yaml.Node) error {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], deref(m.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			continue
		}
		switch k.Value {
		case "hostname":
			if isNull(v) {
				d.Hostname = ""
				continue
			}
			if v.Kind != yaml.ScalarNode {
				return errors.New("hostname is not a scalar")
			}
			d.Hostname = v.Value
		case "write_files":
			files, err := parseWriteFiles(v)
			if err != nil {
				return fmt.Errorf("write_files: %w", err)
			}
			d.Files = files
		}
	}
	return nil
}

func parseWriteFiles(v *yaml.Node) ([]File, error) {
	if isNull(v) {
		return nil, nil
	}
	if v.Kind != yaml.SequenceNode {
		return nil, errors.New("is not a list")
	}
	var files []File
	for i, item := range v.Content {
		item = deref(item)
		if item.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("entry %d is not a mapping", i+1)
		}
		f, skip, err := parseFile(item)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		if !skip {
			files = append(files, f)
		}
	}
	return files, nil
}

// parseFile reads one write_files entry; skip is true for an entry without
// a path, which cloud-init skips too.
func parseFile(m *yaml.Node) (f File, skip bool, err error) {
	f = File{Permissions: 0o644, Owner: "root:root"}
	var content *yaml.Node
	var encoding string
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], deref(m.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			continue
		}
		switch k.Value {
		case "path":
			if v.Kind != yaml.ScalarNode || isNull(v) {
				return f, false, errors.New("path is not a string")
			}
			f.Path = v.Value
		case "content":
			content = v
		case "encoding":
			if v.Kind == yaml.ScalarNode && !isNull(v) {
				encoding = v.Value
			}
		case "permissions":
			f.Permissions = decodePerms(v, f.Permissions)
		case "owner":
			if v.Kind == yaml.ScalarNode && !isNull(v) {
				f.Owner = v.Value
			}
		case "append":
			f.Append = truthy(v)
		case "defer":
			f.Defer = truthy(v)
		}
	}
	if f.Path == "" {
		return f, true, nil
	}
	raw, err := contentBytes(content)
	if err != nil {
		return f, false, fmt.Errorf("%s: %w", f.Path, err)
	}
	if f.Content, err = extract(raw, encoding); err != nil {
		return f, false, fmt.Errorf("%s: %w", f.Path, err)
	}
	return f, false, nil
}

// contentBytes returns a content node's bytes; YAML !!binary is decoded,
// as PyYAML does.
func contentBytes(n *yaml.Node) ([]byte, error) {
	if n == nil || isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.ScalarNode {
		return nil, errors.New("content is not a string")
	}
	if n.Tag == "!!binary" {
		b, err := decodeBase64(n.Value)
		if err != nil {
			return nil, fmt.Errorf("content: !!binary: %w", err)
		}
		return b, nil
	}
	return []byte(n.Value), nil
}

// extract decodes content per write_files "encoding", following cloud-init's
// canonicalize_extraction: unknown encodings are treated as plain text.
func extract(content []byte, encoding string) ([]byte, error) {
	var b64, gz bool
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "gz", "gzip":
		gz = true
	case "gz+base64", "gzip+base64", "gz+b64", "gzip+b64":
		b64, gz = true, true
	case "b64", "base64":
		b64 = true
	}
	if b64 {
		b, err := decodeBase64(string(content))
		if err != nil {
			return nil, fmt.Errorf("decoding base64 content: %w", err)
		}
		content = b
	}
	if gz {
		b, err := gunzipLimited(content)
		if err != nil {
			return nil, fmt.Errorf("decompressing content: %w", err)
		}
		content = b
	}
	return content, nil
}

func decodeBase64(s string) ([]byte, error) {
	clean := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
	b, err := base64.StdEncoding.DecodeString(clean)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// decodePerms mirrors cloud-init's decode_perms on a value PyYAML (YAML
// 1.1) would produce: an unquoted integer is taken as is (0644 and 0o644
// being octal), anything else is read as an octal string. Unreadable values
// keep the default, as cloud-init does.
func decodePerms(v *yaml.Node, def fs.FileMode) fs.FileMode {
	if v.Kind != yaml.ScalarNode || isNull(v) {
		return def
	}
	s := strings.ReplaceAll(strings.TrimSpace(v.Value), "_", "")
	var mode int64
	var err error
	if v.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 && v.Tag != "!!str" {
		mode, err = yaml11Int(s)
	} else {
		mode, err = strconv.ParseInt(strings.TrimPrefix(strings.ToLower(s), "0o"), 8, 64)
	}
	if err != nil || mode < 0 {
		return def
	}
	return unixMode(mode)
}

// yaml11Int reads an unquoted scalar the way PyYAML would resolve and
// cloud-init would then use it.
func yaml11Int(s string) (int64, error) {
	ls := strings.ToLower(s)
	sign := int64(1)
	if strings.HasPrefix(ls, "-") || strings.HasPrefix(ls, "+") {
		if ls[0] == '-' {
			sign = -1
		}
		ls = ls[1:]
	}
	switch {
	case strings.HasPrefix(ls, "0x"):
		n, err := strconv.ParseInt(ls[2:], 16, 64)
		return sign * n, err
	case strings.HasPrefix(ls, "0b"):
		n, err := strconv.ParseInt(ls[2:], 2, 64)
		return sign * n, err
	case strings.HasPrefix(ls, "0o"):
		// A string to PyYAML; cloud-init's int(s, 8) accepts the prefix.
		n, err := strconv.ParseInt(ls[2:], 8, 64)
		return sign * n, err
	case len(ls) > 1 && ls[0] == '0':
		n, err := strconv.ParseInt(ls, 8, 64)
		return sign * n, err
	}
	if n, err := strconv.ParseInt(ls, 10, 64); err == nil {
		return sign * n, nil
	}
	if f, err := strconv.ParseFloat(ls, 64); err == nil && f >= 0 && f < 1<<32 {
		return sign * int64(f), nil // a float is truncated
	}
	// Any other string: cloud-init tries it as octal.
	n, err := strconv.ParseInt(ls, 8, 64)
	return sign * n, err
}

// unixMode converts Unix permission bits to an fs.FileMode.
func unixMode(m int64) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// truthy mirrors cloud-init's util.is_true on a YAML scalar.
func truthy(v *yaml.Node) bool {
	if v.Kind != yaml.ScalarNode {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(v.Value)) {
	case "true", "1", "on", "yes", "y":
		return true
	}
	return false
}
