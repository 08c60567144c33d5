package awsrds

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

// The query protocol as RDS speaks it: parameters form-encoded (POST) or
// in the query string, lists as Name.<Item>.1, Name.<Item>.2 where <Item>
// is the list's item name (Tags.Tag.1.Key,
// VpcSecurityGroupIds.VpcSecurityGroupId.1; "member" for lists without
// one); answers <ActionResponse xmlns=...><ActionResult>...</ActionResult>
// <ResponseMetadata><RequestId/></ResponseMetadata></ActionResponse>, list
// items named likewise (<DBInstance>, <Tag>); errors <ErrorResponse>
// <Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>.

const (
	apiVersion = "2014-10-31"
	xmlNS      = "http://rds.amazonaws.com/doc/2014-10-31/"
)

// params are one request's parameters.
type params struct{ v url.Values }

func (p params) get(name string) string { return p.v.Get(name) }

func (p params) has(name string) bool { _, ok := p.v[name]; return ok }

// indexes are the positions N present as prefix.item.N or
// prefix.item.N.*, in numeric order.
func (p params) indexes(prefix, item string) []int {
	seen := map[int]bool{}
	for k := range p.v {
		rest, ok := strings.CutPrefix(k, prefix+"."+item+".")
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

// list is the string list prefix.item.1, prefix.item.2, ...
func (p params) list(prefix, item string) []string {
	var out []string
	for _, i := range p.indexes(prefix, item) {
		out = append(out, p.get(fmt.Sprintf("%s.%s.%d", prefix, item, i)))
	}
	return out
}

// integer reads an Integer parameter between lo and hi; absent is def.
func (p params) integer(name string, def, lo, hi int, msg string) (int, *apiError) {
	v := p.get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		if msg == "" {
			msg = fmt.Sprintf("Invalid value %s for %s: it must be between %d and %d.", v, name, lo, hi)
		}
		return 0, invalidValue("%s", msg)
	}
	return n, nil
}

// boolean reads a Boolean parameter; absent is false.
func (p params) boolean(name string) (bool, *apiError) {
	v := p.get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, invalidValue("Invalid value %s for %s: true or false.", v, name)
	}
	return b, nil
}

// required is a MissingParameter error for the first of names not given.
func (p params) required(names ...string) *apiError {
	for _, n := range names {
		if p.get(n) == "" {
			return errf(400, "MissingParameter", "The request must contain the parameter %s", n)
		}
	}
	return nil
}

// tag is an RDS tag.
type tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// tags reads Tags.Tag.N.Key / .Value and checks them as RDS does.
func (p params) tags() ([]tag, *apiError) {
	var out []tag
	for _, i := range p.indexes("Tags", "Tag") {
		e := fmt.Sprintf("Tags.Tag.%d", i)
		out = append(out, tag{Key: p.get(e + ".Key"), Value: p.get(e + ".Value")})
	}
	keys := map[string]bool{}
	for _, t := range out {
		switch {
		case t.Key == "" || len(t.Key) > 128 || len(t.Value) > 256:
			return nil, invalidValue("Tag keys are 1 to 128 characters, values at most 256")
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:") || strings.HasPrefix(strings.ToLower(t.Key), "rds:"):
			return nil, invalidValue("Tag keys starting with 'aws:' or 'rds:' are reserved")
		case keys[t.Key]:
			return nil, invalidValue("Tag key %s is given more than once", t.Key)
		}
		keys[t.Key] = true
	}
	if len(out) > 50 {
		return nil, errf(400, "TagQuotaPerResourceExceeded", "A resource takes at most 50 tags")
	}
	return out, nil
}

// page cuts items (in a stable order, keyed by key) after the marker's
// key, at most size; next is the marker of the next page.
func page[T any](items []T, key func(T) string, marker string, size int) (out []T, next string, err *apiError) {
	start := 0
	if marker != "" {
		b, derr := base64.RawURLEncoding.DecodeString(marker)
		if derr != nil {
			return nil, "", invalidValue("Invalid value %s for Marker", marker)
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

// apiError is an RDS error answer.
type apiError struct {
	status        int
	code, message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func invalidValue(format string, args ...any) *apiError {
	return errf(400, "InvalidParameterValue", format, args...)
}

func invalidCombination(format string, args ...any) *apiError {
	return errf(400, "InvalidParameterCombination", format, args...)
}

func notFound(id string) *apiError {
	return errf(404, "DBInstanceNotFound", "DBInstance %s not found.", id)
}

// writeError answers e in RDS's error shape.
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

// items writes <name><item>...</item>...</name>, f writing each item's
// content; an empty list writes <name/>.
func items[T any](x *xw, name, item string, list []T, f func(T)) {
	if len(list) == 0 {
		x.b.WriteString("<" + name + "/>")
		return
	}
	x.open(name)
	for _, it := range list {
		x.open(item)
		f(it)
		x.close(item)
	}
	x.close(name)
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
