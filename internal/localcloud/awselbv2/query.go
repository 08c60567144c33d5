package awselbv2

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The query protocol as ELBv2 speaks it: parameters form-encoded (POST) or
// in the query string, lists as Name.member.1, Name.member.2, structures
// in a list as Name.member.1.Field; answers
// <ActionResponse xmlns=...><ActionResult>...</ActionResult>
// <ResponseMetadata><RequestId/></ResponseMetadata></ActionResponse>, list
// items <member>; errors <ErrorResponse><Error><Type/><Code/><Message/>
// </Error><RequestId/></ErrorResponse>.

const (
	apiVersion = "2015-12-01"
	xmlNS      = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"
)

// params are one request's parameters.
type params struct{ v url.Values }

func (p params) get(name string) string { return p.v.Get(name) }

func (p params) has(name string) bool { _, ok := p.v[name]; return ok }

// indexes are the positions N present as prefix.member.N or
// prefix.member.N.*, in numeric order.
func (p params) indexes(prefix string) []int {
	seen := map[int]bool{}
	for k := range p.v {
		rest, ok := strings.CutPrefix(k, prefix+".member.")
		if !ok {
			continue
		}
		n, _, _ := strings.Cut(rest, ".")
		if i, err := strconv.Atoi(n); err == nil && i > 0 {
			seen[i] = true
		}
	}
	out := make([]int, 0, len(seen))
	for i := range seen {
		out = append(out, i)
	}
	slices.Sort(out)
	return out
}

// list is the string list prefix.member.1, prefix.member.2, ...
func (p params) list(prefix string) []string {
	var out []string
	for _, i := range p.indexes(prefix) {
		out = append(out, p.get(fmt.Sprintf("%s.member.%d", prefix, i)))
	}
	return out
}

// each calls f with the prefix of every element of the structure list
// prefix ("Tags.member.1", ...).
func (p params) each(prefix string, f func(elem string)) {
	for _, i := range p.indexes(prefix) {
		f(fmt.Sprintf("%s.member.%d", prefix, i))
	}
}

// integer reads an Integer parameter between lo and hi; absent is def.
func (p params) integer(name string, def, lo, hi int) (int, *apiError) {
	v := p.get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, validation("Value '%s' at '%s' failed to satisfy constraint: Member must be an integer between %d and %d", v, name, lo, hi)
	}
	return n, nil
}

// boolean reads a Boolean parameter; absent is def.
func (p params) boolean(name string, def bool) (bool, *apiError) {
	v := p.get(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, validation("Value '%s' at '%s' failed to satisfy constraint: Member must be true or false", v, name)
	}
	return b, nil
}

// required is a ValidationError for the first of names not given.
func (p params) required(names ...string) *apiError {
	for _, n := range names {
		if p.get(n) == "" {
			return validation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", lowerFirst(n))
		}
	}
	return nil
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// tag is an ELBv2 tag.
type tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// tags reads Tags.member.N.Key / .Value and checks them as ELBv2 does.
func (p params) tags() ([]tag, *apiError) {
	var out []tag
	p.each("Tags", func(e string) { out = append(out, tag{Key: p.get(e + ".Key"), Value: p.get(e + ".Value")}) })
	keys := map[string]bool{}
	for _, t := range out {
		switch {
		case t.Key == "" || len(t.Key) > 128 || len(t.Value) > 256:
			return nil, validation("Tag keys are 1 to 128 characters, values at most 256")
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
			return nil, validation("Tag keys starting with 'aws:' are reserved for internal use")
		case keys[t.Key]:
			return nil, errf(400, "DuplicateTagKeys", "Tag key '%s' was specified more than once", t.Key)
		}
		keys[t.Key] = true
	}
	return out, nil
}

// setTags adds or replaces tags by key.
func setTags(have []tag, add []tag) []tag {
	for _, t := range add {
		if i := slices.IndexFunc(have, func(h tag) bool { return h.Key == t.Key }); i >= 0 {
			have[i].Value = t.Value
		} else {
			have = append(have, t)
		}
	}
	return have
}

// page cuts items (in a stable order, keyed by key) after the marker's
// key, at most size (0: all); next is the marker of the next page.
func page[T any](items []T, key func(T) string, marker string, size int) (out []T, next string, err *apiError) {
	start := 0
	if marker != "" {
		b, derr := base64.RawURLEncoding.DecodeString(marker)
		if derr != nil {
			return nil, "", validation("Invalid value '%s' for Marker", marker)
		}
		after := string(b)
		start = len(items)
		for i, it := range items {
			if key(it) > after {
				start = i
				break
			}
		}
	}
	items = items[start:]
	if size > 0 && len(items) > size {
		return items[:size], base64.RawURLEncoding.EncodeToString([]byte(key(items[size-1]))), nil
	}
	return items, "", nil
}

// apiError is an ELBv2 error answer.
type apiError struct {
	status        int
	code, message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func validation(format string, args ...any) *apiError {
	return errf(400, "ValidationError", format, args...)
}

// writeError answers e in ELBv2's error shape.
func writeError(w http.ResponseWriter, e *apiError) {
	typ := "Sender"
	if e.status >= 500 {
		typ = "Receiver"
	}
	var b strings.Builder
	b.WriteString(xml.Header)
	b.WriteString("<ErrorResponse xmlns=\"" + xmlNS + "\"><Error><Type>" + typ + "</Type><Code>")
	escape(&b, e.code)
	b.WriteString("</Code><Message>")
	escape(&b, e.message)
	b.WriteString("</Message></Error><RequestId>")
	escape(&b, w.Header().Get("X-Request-Id"))
	b.WriteString("</RequestId></ErrorResponse>")
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.status)
	_, _ = w.Write([]byte(b.String()))
}

func escape(b *strings.Builder, s string) { _ = xml.EscapeText(b, []byte(s)) }

// xw writes an XML answer.
type xw struct{ b strings.Builder }

func (x *xw) open(name string)  { x.b.WriteString("<" + name + ">") }
func (x *xw) close(name string) { x.b.WriteString("</" + name + ">") }

// leaf writes <name>v</name>.
func (x *xw) leaf(name, v string) {
	x.open(name)
	escape(&x.b, v)
	x.close(name)
}

// opt writes leaf unless v is empty.
func (x *xw) opt(name, v string) {
	if v != "" {
		x.leaf(name, v)
	}
}

func (x *xw) boolean(name string, v bool) { x.leaf(name, strconv.FormatBool(v)) }
func (x *xw) integer(name string, v int)  { x.leaf(name, strconv.Itoa(v)) }
func (x *xw) time(name string, t time.Time) {
	x.leaf(name, t.UTC().Format("2006-01-02T15:04:05.000Z"))
}

// members writes <name><member>...</member>...</name>, f writing each
// member's content; an empty list writes <name/>.
func members[T any](x *xw, name string, items []T, f func(T)) {
	if len(items) == 0 {
		x.b.WriteString("<" + name + "/>")
		return
	}
	x.open(name)
	for _, it := range items {
		x.open("member")
		f(it)
		x.close("member")
	}
	x.close(name)
}

// strs writes a list of strings.
func (x *xw) strs(name string, items []string) {
	members(x, name, items, func(s string) { escape(&x.b, s) })
}

// writeResult answers 200 with <ActionResponse> holding <ActionResult>
// (what body wrote) and the request id.
func writeResult(w http.ResponseWriter, action string, body func(x *xw)) {
	x := &xw{}
	x.b.WriteString(xml.Header)
	x.b.WriteString("<" + action + "Response xmlns=\"" + xmlNS + "\">")
	x.open(action + "Result")
	if body != nil {
		body(x)
	}
	x.close(action + "Result")
	x.open("ResponseMetadata")
	x.leaf("RequestId", w.Header().Get("X-Request-Id"))
	x.close("ResponseMetadata")
	x.close(action + "Response")
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(x.b.String()))
}
