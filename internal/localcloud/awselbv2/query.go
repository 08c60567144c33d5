package awselbv2

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awsquery"
)

// The query protocol as ELBv2 speaks it: parameters form-encoded (POST) or
// in the query string, lists as Name.member.1, Name.member.2, structures
// in a list as Name.member.1.Field; answers
// <ActionResponse xmlns=...><ActionResult>...</ActionResult>
// <ResponseMetadata><RequestId/></ResponseMetadata></ActionResponse>, list
// items <member>; errors <ErrorResponse><Error><Type/><Code/><Message/>
// </Error><RequestId/></ErrorResponse>.

var dialect = awsquery.Dialect{
	Version: "2015-12-01", XMLNS: "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/",
	ParseError: "ValidationError",
}

// params are one request's parameters.
type params struct{ v url.Values }

func (p params) get(name string) string { return p.v.Get(name) }

func (p params) has(name string) bool { _, ok := p.v[name]; return ok }

// list is the string list prefix.member.1, prefix.member.2, ...
func (p params) list(prefix string) []string { return awsquery.List(p.v, prefix+".member") }

// each calls f with the prefix of every element of the structure list
// prefix ("Tags.member.1", ...).
func (p params) each(prefix string, f func(elem string)) { awsquery.Each(p.v, prefix+".member", f) }

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
			return missing(n)
		}
	}
	return nil
}

// missing is the ValidationError for parameter name not given; for a list
// (name.member.N) that has no member, whatever a parameter name itself
// holds.
func missing(name string) *apiError {
	return validation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", lowerFirst(name))
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
	return awsquery.Page(items, key, marker, size, func() *apiError { return validation("Invalid value '%s' for Marker", marker) })
}

// apiError is an ELBv2 error answer.
type apiError = awsquery.Error

func errf(status int, code, format string, args ...any) *apiError {
	return awsquery.Errf(status, code, format, args...)
}

func validation(format string, args ...any) *apiError {
	return errf(400, "ValidationError", format, args...)
}

// xw writes an XML answer.
type xw = awsquery.XML

// members writes <name><member>...</member>...</name>, f writing each
// member's content; an empty list writes <name/>.
func members[T any](x *xw, name string, items []T, f func(T)) {
	awsquery.Items(x, name, "member", items, f)
}

// strs writes a list of strings.
func strs(x *xw, name string, items []string) {
	members(x, name, items, func(s string) { x.Text(s) })
}
