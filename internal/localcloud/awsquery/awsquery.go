// Package awsquery is what localcloud's AWS query APIs (EC2, ELBv2, RDS)
// share: reading a request's form parameters, checking its action and
// version, answering in XML, errors in the API's shape, and paging lists.
// Each API keeps its own parameter checks, messages and list encodings.
//
// Two dialects: EC2's (answers <ActionResponse> with a requestId, errors
// <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/>
// </Response>) and the one ELBv2 and RDS speak (answers
// <ActionResponse><ActionResult/><ResponseMetadata><RequestId/>
// </ResponseMetadata></ActionResponse>, errors <ErrorResponse><Error>
// <Type/><Code/><Message/></Error><RequestId/></ErrorResponse>).
package awsquery

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awsauth"
)

// Dialect is how one API speaks the query protocol.
type Dialect struct {
	// Version is the API version ("2015-12-01"); XMLNS its answers'
	// namespace.
	Version, XMLNS string
	// EC2 selects EC2's answers, errors and request checks.
	EC2 bool
	// ParseError is the code of the error answering a form that cannot be
	// parsed.
	ParseError string
}

// Error is an error answer.
type Error struct {
	Status        int
	Code, Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errf is an error answer with status, code and a formatted message.
func Errf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Parse reads r's parameters and action and checks them (method, action
// known to has, version); otherwise it answers the error and returns
// false. It sets X-Amzn-Requestid to the request id, as AWS does.
func (d Dialect) Parse(w http.ResponseWriter, r *http.Request, has func(action string) bool) (form url.Values, action string, ok bool) {
	w.Header().Set("X-Amzn-Requestid", w.Header().Get("X-Request-Id"))
	if err := r.ParseForm(); err != nil {
		d.WriteError(w, Errf(400, d.ParseError, "The request could not be parsed: %v", err))
		return nil, "", false
	}
	action = r.Form.Get("Action")
	if e := d.check(r.Method, action, r.Form, has(action)); e != nil {
		d.WriteError(w, e)
		return nil, "", false
	}
	return r.Form, action, true
}

// check is the error for a request that is not a known action of this
// version, as the API words it; nil when it is.
func (d Dialect) check(method, action string, form url.Values, known bool) *Error {
	version := form.Get("Version")
	if d.EC2 {
		switch {
		case method != http.MethodPost && method != http.MethodGet:
			return Errf(400, "InvalidAction", "The action %s is not valid for this web service.", method)
		case action == "":
			return Errf(400, "MissingAction", "The request must contain the parameter Action")
		case !known:
			return Errf(400, "InvalidAction", "The action %s is not valid for this web service.", action)
		case version == "":
			return Errf(400, "MissingParameter", "The request must contain the parameter %s", "Version")
		case form.Get("DryRun") == "true":
			return Errf(412, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
		}
		return nil
	}
	switch {
	case method != http.MethodPost && method != http.MethodGet:
		return Errf(400, "InvalidAction", "Could not find operation %s for version %s", method, d.Version)
	case action == "":
		return Errf(400, "MissingAction", "Missing Action")
	case !known, version != d.Version:
		return Errf(400, "InvalidAction", "Could not find operation %s for version %s", action, version)
	}
	return nil
}

// Refusal is the error answering a request the core refuses with status
// (localcloud.API.Refuse): bad credentials (401) or an injected fault.
func (d Dialect) Refusal(status int) *Error {
	switch {
	case d.EC2 && status == http.StatusUnauthorized:
		return Errf(status, "AuthFailure", "AWS was not able to validate the provided access credentials")
	case d.EC2 && status == http.StatusTooManyRequests:
		return Errf(status, "RequestLimitExceeded", "Request limit exceeded.")
	case d.EC2 && status == http.StatusInternalServerError:
		return Errf(status, "InternalError", "An internal error has occurred")
	case d.EC2 && status == http.StatusServiceUnavailable:
		return Errf(status, "Unavailable", "The service is unavailable. Please try again shortly.")
	case d.EC2:
	case status == http.StatusUnauthorized:
		return Errf(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
	case status == http.StatusTooManyRequests:
		return Errf(400, "Throttling", "Rate exceeded")
	case status == http.StatusInternalServerError:
		return Errf(status, "InternalFailure", "The request processing has failed because of an unknown error, exception or failure.")
	case status == http.StatusServiceUnavailable:
		return Errf(status, "ServiceUnavailable", "The request has failed due to a temporary failure of the server.")
	}
	return Errf(status, strings.ReplaceAll(http.StatusText(status), " ", ""), "Injected fault: %s", http.StatusText(status))
}

// WriteError answers e in the dialect's error shape.
func (d Dialect) WriteError(w http.ResponseWriter, e *Error) {
	rid := w.Header().Get("X-Request-Id")
	x := &XML{}
	x.b.WriteString(xml.Header)
	contentType := "text/xml"
	if d.EC2 {
		x.Raw("<Response><Errors><Error>")
		x.Leaf("Code", e.Code)
		x.Leaf("Message", e.Message)
		x.Raw("</Error></Errors>")
		x.Leaf("RequestID", rid)
		x.Close("Response")
		contentType = "text/xml;charset=UTF-8"
	} else {
		typ := "Sender"
		if e.Status >= 500 {
			typ = "Receiver"
		}
		x.Raw("<ErrorResponse xmlns=\"" + d.XMLNS + "\"><Error><Type>" + typ + "</Type>")
		x.Leaf("Code", e.Code)
		x.Leaf("Message", e.Message)
		x.Close("Error")
		x.Leaf("RequestId", rid)
		x.Close("ErrorResponse")
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(e.Status)
	_, _ = w.Write([]byte(x.b.String()))
}

// WriteResult answers 200 with <ActionResponse>: EC2's holds requestId
// then what body wrote, the others' <ActionResult> (what body wrote) then
// <ResponseMetadata><RequestId/></ResponseMetadata>.
func (d Dialect) WriteResult(w http.ResponseWriter, action string, body func(x *XML)) {
	rid := w.Header().Get("X-Request-Id")
	x := &XML{}
	x.b.WriteString(xml.Header)
	x.Raw("<" + action + "Response xmlns=\"" + d.XMLNS + "\">")
	contentType := "text/xml"
	if d.EC2 {
		x.Leaf("requestId", rid)
		if body != nil {
			body(x)
		}
		contentType = "text/xml;charset=UTF-8"
	} else {
		x.Open(action + "Result")
		if body != nil {
			body(x)
		}
		x.Close(action + "Result")
		x.Open("ResponseMetadata")
		x.Leaf("RequestId", rid)
		x.Close("ResponseMetadata")
	}
	x.Close(action + "Response")
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(x.b.String()))
}

// Reply answers one request of action (Dialect.Parse).
type Reply struct {
	d      Dialect
	w      http.ResponseWriter
	action string
}

// Reply is what answers action on w.
func (d Dialect) Reply(w http.ResponseWriter, action string) Reply {
	return Reply{d: d, w: w, action: action}
}

// OK answers the action's result, what body writes (WriteResult).
func (c *Reply) OK(body func(x *XML)) { c.d.WriteResult(c.w, c.action, body) }

// Fail answers e.
func (c *Reply) Fail(e *Error) { c.d.WriteError(c.w, e) }

// Valid answers the first of errs that is not nil and reports false, or
// reports true when all are nil.
func (c *Reply) Valid(errs ...*Error) bool {
	for _, e := range errs {
		if e != nil {
			c.Fail(e)
			return false
		}
	}
	return true
}

// Actions lists the actions handlers serves, sorted.
func Actions[H any](handlers map[string]H) []string { return slices.Sorted(maps.Keys(handlers)) }

// Indexes are the list positions N present in form as prefix.N or
// prefix.N.*, in numeric order. prefix holds the API's list infix
// ("Filter", "Tags.member", "Tags.Tag").
func Indexes(form url.Values, prefix string) []int {
	seen := map[int]bool{}
	for k := range form {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok {
			continue
		}
		n, _, _ := strings.Cut(rest, ".")
		if i, err := strconv.Atoi(n); err == nil && i > 0 {
			seen[i] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// List is the string list prefix.1, prefix.2, ... in form.
func List(form url.Values, prefix string) []string {
	var out []string
	for _, i := range Indexes(form, prefix) {
		out = append(out, form.Get(fmt.Sprintf("%s.%d", prefix, i)))
	}
	return out
}

// Each calls f with the prefix of every element of the structure list
// prefix in form ("Filter.1", "Filter.2", ...).
func Each(form url.Values, prefix string, f func(elem string)) {
	for _, i := range Indexes(form, prefix) {
		f(fmt.Sprintf("%s.%d", prefix, i))
	}
}

// Authenticate reports whether r carries a valid SigV4 signature for
// service by the key (awsauth.Verify), for a region served serves; if
// not, it logs why with logf, as API name.
func Authenticate(logf func(format string, args ...any), name string, r *http.Request, service, accessKey, secretKey string, now time.Time, served func(region string) bool) bool {
	region, err := awsauth.Verify(r, service, accessKey, secretKey, now)
	if err == nil && !served(region) {
		err = fmt.Errorf("region %q is not served", region)
	}
	if err != nil {
		logf("localcloud: %s: refusing %s %s: %v", name, r.Method, r.URL.Path, err)
	}
	return err == nil
}

// Route is r's action, its form parsed (localcloud.API.Route).
func Route(r *http.Request) string {
	_ = r.ParseForm()
	return r.Form.Get("Action")
}

// ReadOnly reports whether r, its form parsed (Route), is a Describe*
// action, which changes nothing (localcloud.ReadOnlyReporter).
func ReadOnly(r *http.Request) bool {
	return strings.HasPrefix(r.Form.Get("Action"), "Describe")
}

// Page cuts items (in a stable order, keyed by key) after the marker's
// key, at most size (0: all); next is the marker of the next page. A
// marker Page did not make is the error invalid returns.
func Page[T any](items []T, key func(T) string, marker string, size int, invalid func() *Error) (out []T, next string, err *Error) {
	start := 0
	if marker != "" {
		b, derr := base64.RawURLEncoding.DecodeString(marker)
		if derr != nil {
			return nil, "", invalid()
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

// XML writes an answer.
type XML struct{ b strings.Builder }

// Raw writes s as it is.
func (x *XML) Raw(s string) { x.b.WriteString(s) }

// Text writes s escaped.
func (x *XML) Text(s string) { _ = xml.EscapeText(&x.b, []byte(s)) }

// Open writes <name>.
func (x *XML) Open(name string) { x.b.WriteString("<" + name + ">") }

// Close writes </name>.
func (x *XML) Close(name string) { x.b.WriteString("</" + name + ">") }

// Leaf writes <name>v</name>.
func (x *XML) Leaf(name, v string) {
	x.Open(name)
	x.Text(v)
	x.Close(name)
}

// Opt writes Leaf unless v is empty.
func (x *XML) Opt(name, v string) {
	if v != "" {
		x.Leaf(name, v)
	}
}

// Bool writes a boolean leaf.
func (x *XML) Bool(name string, v bool) { x.Leaf(name, strconv.FormatBool(v)) }

// Int writes an integer leaf.
func (x *XML) Int(name string, v int) { x.Leaf(name, strconv.Itoa(v)) }

// Time writes a timestamp leaf, UTC to the millisecond.
func (x *XML) Time(name string, t time.Time) {
	x.Leaf(name, t.UTC().Format("2006-01-02T15:04:05.000Z"))
}

// Items writes <name><item>...</item>...</name>, f writing each item's
// content; an empty list writes <name/>.
func Items[T any](x *XML, name, item string, list []T, f func(T)) {
	if len(list) == 0 {
		x.Raw("<" + name + "/>")
		return
	}
	x.Open(name)
	for _, it := range list {
		x.Open(item)
		f(it)
		x.Close(item)
	}
	x.Close(name)
}
