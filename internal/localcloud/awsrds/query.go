package awsrds

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awsquery"
)

// The query protocol as RDS speaks it: parameters form-encoded (POST) or
// in the query string, lists as Name.<Item>.1, Name.<Item>.2 where <Item>
// is the list's item name (Tags.Tag.1.Key,
// VpcSecurityGroupIds.VpcSecurityGroupId.1; "member" for lists without
// one); answers <ActionResponse xmlns=...><ActionResult>...</ActionResult>
// <ResponseMetadata><RequestId/></ResponseMetadata></ActionResponse>, list
// items named likewise (<DBInstance>, <Tag>); errors <ErrorResponse>
// <Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>.

var dialect = awsquery.Dialect{
	Version: "2014-10-31", XMLNS: "http://rds.amazonaws.com/doc/2014-10-31/",
	ParseError: "InvalidParameterValue",
}

// params are one request's parameters.
type params struct{ v url.Values }

func (p params) get(name string) string { return p.v.Get(name) }

func (p params) has(name string) bool { _, ok := p.v[name]; return ok }

// list is the string list prefix.item.1, prefix.item.2, ...
func (p params) list(prefix, item string) []string { return awsquery.List(p.v, prefix+"."+item) }

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
	awsquery.Each(p.v, "Tags.Tag", func(e string) { out = append(out, tag{Key: p.get(e + ".Key"), Value: p.get(e + ".Value")}) })
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
	return awsquery.Page(items, key, marker, size, func() *apiError { return invalidValue("Invalid value %s for Marker", marker) })
}

// apiError is an RDS error answer.
type apiError = awsquery.Error

func errf(status int, code, format string, args ...any) *apiError {
	return awsquery.Errf(status, code, format, args...)
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

// xw writes an XML answer.
type xw = awsquery.XML

// items writes <name><item>...</item>...</name>, f writing each item's
// content; an empty list writes <name/>.
func items[T any](x *xw, name, item string, list []T, f func(T)) {
	awsquery.Items(x, name, item, list, f)
}
