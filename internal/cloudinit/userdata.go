package cloudinit

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"sort"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// Limits that keep hostile input (fuzzing, gzip bombs) bounded. They are far
// above what any cloud accepts as user data (16 KiB on AWS, 64 KiB on
// DigitalOcean).
const (
	maxDecoded = 16 << 20 // bytes after decompression or decoding
	maxDepth   = 8        // nested multipart levels
	maxParts   = 1000
)

const (
	typeCloudConfig = "text/cloud-config"
	typeJinja       = "text/jinja2"
)

// startsWith maps the first line of a user-data payload to its content type,
// as cloud-init's INCLUSION_TYPES_MAP does. The longest matching prefix
// wins, compared case-insensitively after leading white space.
var startsWith = map[string]string{
	"#include":              "text/x-include-url",
	"#include-once":         "text/x-include-once-url",
	"#!":                    "text/x-shellscript",
	"#cloud-config":         typeCloudConfig,
	"#part-handler":         "text/part-handler",
	"#cloud-boothook":       "text/cloud-boothook",
	"#cloud-config-archive": "text/cloud-config-archive",
	"#cloud-config-jsonp":   "text/cloud-config-jsonp",
	"## template: jinja":    typeJinja,
}

var startsWithKeys = func() []string {
	keys := make([]string, 0, len(startsWith))
	for k := range startsWith {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
	return keys
}()

// sniffTypes are the content types cloud-init replaces by sniffing.
var sniffTypes = map[string]bool{"": true, "text/plain": true, "text/x-not-multipart": true}

// gzipTypes are the content types cloud-init decompresses.
var gzipTypes = map[string]bool{
	"application/gzip": true, "application/gzip-compressed": true, "application/gzipped": true,
	"application/x-compress": true, "application/x-compressed": true, "application/x-gzip": true,
	"application/x-gzip-compressed": true,
}

// sniff returns the content type cloud-init gives payload, or "" when it
// would not recognise it.
func sniff(payload []byte) string {
	head := payload
	if len(head) > 4096 {
		head = head[:4096]
	}
	s := strings.ToLower(strings.TrimLeft(string(head), " \t\r\n"))
	for _, k := range startsWithKeys {
		if strings.HasPrefix(s, k) {
			return startsWith[k]
		}
	}
	return ""
}

// part is one payload of user data after MIME parsing.
type part struct {
	ctype  string               // effective type, sniffed when needed; "" if unknown
	header textproto.MIMEHeader // original MIME headers; nil when the input was not MIME
	raw    []byte               // body as transmitted
	body   []byte               // body decoded (transfer encoding, gzip)
}

type exploder struct {
	parts []part
	bytes int
}

// explode splits user data into parts the way cloud-init's
// UserDataProcessor does: gzip is decompressed, a document with
// "MIME-Version:" in its first 4 KiB is parsed as MIME (multipart parts
// flattened, nested multiparts walked), anything else is one part typed by
// its first line.
func explode(data []byte) ([]part, error) {
	var e exploder
	if err := e.top(data); err != nil {
		return nil, err
	}
	return e.parts, nil
}

func (e *exploder) top(data []byte) error {
	if isGzip(data) {
		d, err := e.gunzip(data)
		if err != nil {
			return fmt.Errorf("decompressing user data: %w", err)
		}
		data = d
	}
	head := data
	if len(head) > 4096 {
		head = head[:4096]
	}
	if !bytes.Contains(bytes.ToLower(head), []byte("mime-version:")) {
		return e.add(part{ctype: sniff(data), raw: data, body: data})
	}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("parsing MIME user data: %w", err)
	}
	raw, err := readLimited(msg.Body)
	if err != nil {
		return fmt.Errorf("parsing MIME user data: %w", err)
	}
	return e.mimePart(textproto.MIMEHeader(msg.Header), raw, 0)
}

func (e *exploder) mimePart(h textproto.MIMEHeader, raw []byte, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("MIME user data is nested more than %d levels deep", maxDepth)
	}
	// net/mail reads a top-level header leniently; a field name that is
	// not an RFC 5322 token would not survive being written back.
	for k, vs := range h {
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("MIME user data: header field name %q is malformed", k)
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("MIME user data: header %s has a control character", k)
			}
		}
	}
	ctype, params := mediaType(h.Get("Content-Type"))
	if strings.HasPrefix(ctype, "multipart/") {
		boundary := params["boundary"]
		if boundary == "" {
			return fmt.Errorf("MIME user data: %s without a boundary", ctype)
		}
		r := multipart.NewReader(bytes.NewReader(raw), boundary)
		for {
			p, err := r.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("parsing MIME user data: %w", err)
			}
			body, err := readLimited(p)
			if err != nil {
				return fmt.Errorf("parsing MIME user data: %w", err)
			}
			if err := e.mimePart(p.Header, body, depth+1); err != nil {
				return err
			}
		}
	}

	body, err := e.decodeTransfer(h.Get("Content-Transfer-Encoding"), raw)
	if err != nil {
		return fmt.Errorf("MIME part %s: %w", ctype, err)
	}
	if gzipTypes[ctype] {
		if body, err = e.gunzip(body); err != nil {
			return fmt.Errorf("MIME part %s: decompressing: %w", ctype, err)
		}
		ctype = ""
	}
	if sniffTypes[ctype] {
		ctype = sniff(body)
	}
	return e.add(part{ctype: ctype, header: h, raw: raw, body: body})
}

func (e *exploder) add(p part) error {
	if len(e.parts) >= maxParts {
		return fmt.Errorf("user data has more than %d parts", maxParts)
	}
	e.bytes += len(p.body)
	if e.bytes > maxDecoded {
		return fmt.Errorf("user data is larger than %d bytes once decoded", maxDecoded)
	}
	e.parts = append(e.parts, p)
	return nil
}

func (e *exploder) decodeTransfer(cte string, raw []byte) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		// Tolerate line breaks and stray white space, as Python's email does.
		clean := bytes.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, raw)
		out, err := base64.StdEncoding.DecodeString(string(clean))
		if err != nil {
			out, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(string(clean), "="))
		}
		if err != nil {
			return nil, fmt.Errorf("decoding base64: %w", err)
		}
		return out, nil
	case "quoted-printable":
		out, err := readLimited(quotedprintable.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return nil, fmt.Errorf("decoding quoted-printable: %w", err)
		}
		return out, nil
	default:
		return raw, nil
	}
}

func (e *exploder) gunzip(data []byte) ([]byte, error) {
	return gunzipLimited(data)
}

// gunzipLimited decompresses data, refusing output over maxDecoded bytes.
func gunzipLimited(data []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	out, err := readLimited(zr)
	if err != nil {
		return nil, err
	}
	if err := zr.Close(); err != nil {
		return nil, err
	}
	return out, nil
}

func readLimited(r io.Reader) ([]byte, error) {
	out, err := io.ReadAll(io.LimitReader(r, maxDecoded+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxDecoded {
		return nil, fmt.Errorf("content is larger than %d bytes", maxDecoded)
	}
	return out, nil
}

func isGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

// mediaType parses a Content-Type header leniently: the type lower-cased,
// "" when absent or unparseable (cloud-init then sniffs the payload).
func mediaType(v string) (string, map[string]string) {
	if strings.TrimSpace(v) == "" {
		return "", nil
	}
	t, params, err := mime.ParseMediaType(v)
	if err != nil {
		if i := strings.IndexByte(v, ';'); i >= 0 {
			v = v[:i]
		}
		return strings.ToLower(strings.TrimSpace(v)), nil
	}
	return t, params
}
