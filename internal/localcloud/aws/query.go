package aws

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awsquery"
)

// The EC2 query protocol: parameters form-encoded (POST) or in the query
// string, lists flattened as Name.1, Name.2, structures as Name.1.Member;
// answers are XML in the 2016-11-15 namespace, errors
// <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>.

var dialect = awsquery.Dialect{
	Version: "2016-11-15", XMLNS: "http://ec2.amazonaws.com/doc/2016-11-15/",
	EC2: true, ParseError: "InvalidParameterValue",
}

// params are one request's parameters.
type params struct{ v url.Values }

func (p params) get(name string) string { return p.v.Get(name) }

func (p params) has(name string) bool { _, ok := p.v[name]; return ok }

// required is MissingParameter for the first of names not given.
func (p params) required(names ...string) *apiError {
	for _, n := range names {
		if p.get(n) == "" {
			return missing(n)
		}
	}
	return nil
}

// indexes are the list positions N present as prefix.N or prefix.N.*, in
// numeric order.
func (p params) indexes(prefix string) []int { return awsquery.Indexes(p.v, prefix) }

// list is the flattened list prefix.1, prefix.2, ...
func (p params) list(prefix string) []string { return awsquery.List(p.v, prefix) }

// each calls f with the prefix of every element of the structure list
// prefix ("Filter.1", "Filter.2", ...).
func (p params) each(prefix string, f func(elem string)) { awsquery.Each(p.v, prefix, f) }

// boolean reads a Boolean parameter; absent is false.
func (p params) boolean(name string) (bool, *apiError) {
	v := p.get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, invalidValue(v, name)
	}
	return b, nil
}

// integer reads an Integer parameter; absent is def.
func (p params) integer(name string, def int) (int, *apiError) {
	v := p.get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, invalidValue(v, name)
	}
	return n, nil
}

// tag is an EC2 tag.
type tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// tagList reads prefix.N.Key / prefix.N.Value.
func (p params) tagList(prefix string) []tag {
	var out []tag
	p.each(prefix, func(e string) { out = append(out, tag{Key: p.get(e + ".Key"), Value: p.get(e + ".Value")}) })
	return out
}

// tagSpecs reads TagSpecification.N for resource type rt; other resource
// types than allowed are an error.
func (p params) tagSpecs(allowed ...string) (map[string][]tag, *apiError) {
	out := map[string][]tag{}
	var bad *apiError
	p.each("TagSpecification", func(e string) {
		rt := p.get(e + ".ResourceType")
		if !slices.Contains(allowed, rt) {
			if bad == nil {
				bad = errf(400, "InvalidParameterValue", "'%s' is not a valid taggable resource type for this operation.", rt)
			}
			return
		}
		out[rt] = append(out[rt], p.tagList(e+".Tag")...)
	})
	if bad != nil {
		return nil, bad
	}
	for _, tags := range out {
		if err := checkTags(tags); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// checkTags checks tags as EC2 does.
func checkTags(tags []tag) *apiError {
	if len(tags) > 50 {
		return errf(400, "TagLimitExceeded", "The maximum number of Tags for a resource has been reached.")
	}
	for _, t := range tags {
		switch {
		case t.Key == "":
			return errf(400, "InvalidParameterValue", "Tag key must not be empty.")
		case len(t.Key) > 128 || len(t.Value) > 256:
			return errf(400, "InvalidParameterValue", "Tag keys are at most 128 characters, values at most 256.")
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
			return errf(400, "InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use")
		}
	}
	return nil
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

// deleteTags removes tags by key, and by value when one is given
// (Tag.N.Value present).
func deleteTags(have []tag, del []tag, valueGiven []bool) []tag {
	return slices.DeleteFunc(have, func(h tag) bool {
		for i, d := range del {
			if d.Key == h.Key && (!valueGiven[i] || d.Value == h.Value) {
				return true
			}
		}
		return false
	})
}

// filter is one Filter.N.
type filter struct {
	name   string
	values []string
}

// filters reads Filter.N.Name / Filter.N.Value.M and checks the names:
// known lists them, and tag:<key> is allowed when tags is set.
func (p params) filters(known []string, tags bool) ([]filter, *apiError) {
	var out []filter
	var bad *apiError
	p.each("Filter", func(e string) {
		f := filter{name: p.get(e + ".Name"), values: p.list(e + ".Value")}
		ok := slices.Contains(known, f.name) || (tags && (f.name == "tag-key" || f.name == "tag-value" || strings.HasPrefix(f.name, "tag:")))
		if !ok && bad == nil {
			bad = errf(400, "InvalidParameterValue", "The filter '%s' is invalid", f.name)
		}
		out = append(out, f)
	})
	return out, bad
}

// matchFilters reports whether every filter matches: field gives a
// resource's values for a filter name (any may match a filter's values,
// which may hold * and ? wildcards); tag filters are answered from tags.
func matchFilters(fs []filter, tags []tag, field func(name string) []string) bool {
	for _, f := range fs {
		var have []string
		switch {
		case f.name == "tag-key":
			for _, t := range tags {
				have = append(have, t.Key)
			}
		case f.name == "tag-value":
			for _, t := range tags {
				have = append(have, t.Value)
			}
		case strings.HasPrefix(f.name, "tag:"):
			for _, t := range tags {
				if t.Key == strings.TrimPrefix(f.name, "tag:") {
					have = append(have, t.Value)
				}
			}
		default:
			have = field(f.name)
		}
		if !anyMatch(f.values, have) {
			return false
		}
	}
	return true
}

func anyMatch(patterns, have []string) bool {
	for _, p := range patterns {
		for _, h := range have {
			if glob(p, h) {
				return true
			}
		}
	}
	return false
}

// glob matches s against an EC2 filter value: * any run, ? one character.
func glob(pattern, s string) bool {
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == s
	}
	var b strings.Builder
	b.WriteString("^")
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	ok, _ := regexp.MatchString(b.String(), s)
	return ok
}

// page cuts items (in a stable order, keyed by key) after the token's key,
// at most maxResults (0: all); next is the token of the next page.
func page[T any](items []T, key func(T) string, token string, maxResults int) (out []T, next string, err *apiError) {
	return awsquery.Page(items, key, token, maxResults, func() *apiError {
		return errf(400, "InvalidParameterValue", "Invalid value '%s' for NextToken", token)
	})
}

// maxResults reads MaxResults, between lo and hi; 0 when absent.
func (p params) maxResults(lo, hi int) (int, *apiError) {
	n, err := p.integer("MaxResults", 0)
	if err != nil {
		return 0, err
	}
	if p.has("MaxResults") && (n < lo || n > hi) {
		return 0, errf(400, "InvalidParameterValue", "Value ( %d ) for parameter maxResults is invalid. Expecting a value between %d and %d.", n, lo, hi)
	}
	return n, nil
}

// apiError is an EC2 error answer.
type apiError = awsquery.Error

func errf(status int, code, format string, args ...any) *apiError {
	return awsquery.Errf(status, code, format, args...)
}

func invalidValue(v, name string) *apiError {
	return errf(400, "InvalidParameterValue", "Invalid value '%s' for %s", v, name)
}

func missing(name string) *apiError {
	return errf(400, "MissingParameter", "The request must contain the parameter %s", name)
}

// xw writes an XML answer.
type xw = awsquery.XML

// set writes <name><item>...</item>...</name> with f writing each item's
// content; an empty list writes <name/>.
func set[T any](x *xw, name string, items []T, f func(T)) { awsquery.Items(x, name, "item", items, f) }

// tagSet writes a tagSet.
func tagSet(x *xw, tags []tag) {
	set(x, "tagSet", tags, func(t tag) { x.Leaf("key", t.Key); x.Leaf("value", t.Value) })
}
