// Package awsmodel checks EC2 query-protocol traffic against AWS's own
// service model (botocore's ec2/2016-11-15/service-2.json, the model the
// SDKs are generated from): a Validator wraps localcloud's handler,
// validates every EC2 request and response that passes through, and
// records what does not conform. Tests fail on the recorded violations.
//
//	v, err := awsmodel.New()
//	run, err := localcloud.Start(ctx, localcloud.Config{Middleware: v.Middleware, ...})
//	... drive the EC2 API ...
//	if err := v.Check(); err != nil { t.Fatal(err) }
//
// Requests: Action must be an operation of the model and Version its API
// version; every other parameter must serialize a member of the
// operation's input shape as the ec2 protocol does (a member's queryName,
// else its locationName capitalized, else its name; lists flattened as
// Name.1, Name.2 — Filter.1.Name, Filter.1.Value.1,
// TagSpecification.1.Tag.1.Key), with a value of the member's type
// (integer, boolean, timestamp, enum values), and the required members of
// every structure given must be there.
//
// Responses: a 2xx answer must be XML whose root is <ActionResponse> in
// the model's namespace, holding requestId and members of the output shape
// by their locationName (list items by the list member's locationName),
// each at most once, with text of the member's type; an error answer must
// be EC2's <Response><Errors><Error><Code/><Message/></Error></Errors>
// <RequestID/></Response> with a code. Paths under /_localcloud/ and /v2/
// pass through unchecked.
package awsmodel

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/contract"
)

// Kinds of violation.
const (
	KindRequest  = "request"
	KindResponse = "response"
)

// Violation is one thing that did not conform.
type Violation struct {
	Action string
	Status int
	Kind   string
	Detail string
}

func (v Violation) String() string {
	return fmt.Sprintf("%s -> %d: %s: %s", v.Action, v.Status, v.Kind, v.Detail)
}

// Validator validates EC2 traffic through it. It is safe for concurrent use.
type Validator struct {
	m *Model

	mu         sync.Mutex
	violations []Violation
	checked    int
	actions    map[string]int
}

// New returns a Validator over EC2's model (loaded once per process).
func New() (*Validator, error) {
	m, err := EC2()
	if err != nil {
		return nil, err
	}
	return NewFor(m), nil
}

// NewFor returns a Validator over m.
func NewFor(m *Model) *Validator { return &Validator{m: m, actions: map[string]int{}} }

// Middleware wraps next with v; it fits localcloud.Config.Middleware.
func (v *Validator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/_localcloud/") || strings.HasPrefix(r.URL.Path, "/v2/") {
			next.ServeHTTP(w, r)
			return
		}
		body := contract.ReadBody(r)
		rec := contract.NewRecorder(w)
		next.ServeHTTP(rec, r)
		q := r.URL.Query()
		if form, err := url.ParseQuery(string(body)); err == nil && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			for k, vs := range form {
				q[k] = append(q[k], vs...)
			}
		}
		v.Validate(q, rec.Status(), rec.Body())
		rec.Flush(w)
	})
}

// Checked is how many exchanges were validated.
func (v *Validator) Checked() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.checked
}

// Actions counts the validated exchanges by action.
func (v *Validator) Actions() map[string]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]int, len(v.actions))
	for k, n := range v.actions {
		out[k] = n
	}
	return out
}

// Violations returns what was recorded so far.
func (v *Validator) Violations() []Violation {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.violations)
}

// Reset forgets the recorded violations.
func (v *Validator) Reset() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.violations = nil
}

// Check returns an error listing every violation, nil when there is none.
func (v *Validator) Check() error {
	vs := v.Violations()
	if len(vs) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "awsmodel: %d violation(s) of AWS's %s service model:\n", len(vs), v.service())
	for _, x := range vs {
		fmt.Fprintf(&b, "  %s\n", x)
	}
	return errors.New(strings.TrimRight(b.String(), "\n"))
}

// Summary says how many exchanges were checked, for a test's output.
func (v *Validator) Summary() string {
	acts := v.Actions()
	names := make([]string, 0, len(acts))
	for k := range acts {
		names = append(names, k)
	}
	sort.Strings(names)
	return fmt.Sprintf("awsmodel: %d %s requests and responses (%d actions: %s) checked against AWS's %s service model, %d violation(s)",
		v.Checked(), v.service(), len(names), strings.Join(names, " "), v.service(), len(v.Violations()))
}

// Validate checks one exchange: the request's parameters, the response's
// status and body.
func (v *Validator) Validate(params url.Values, status int, body []byte) {
	action := params.Get("Action")
	var found []Violation
	fail := func(kind, format string, args ...any) {
		found = append(found, Violation{Action: action, Status: status, Kind: kind, Detail: fmt.Sprintf(format, args...)})
	}
	op, ok := v.m.Operations[action]
	switch {
	case !ok:
		fail(KindRequest, "no operation %q in the model", action)
	default:
		if ver := params.Get("Version"); ver != v.m.Metadata.APIVersion {
			fail(KindRequest, "Version %q, want %s", ver, v.m.Metadata.APIVersion)
		}
		v.checkRequest(op, params, fail)
	}
	switch {
	case status >= 200 && status < 300 && v.query():
		if ok {
			v.checkQueryResponse(action, op, body, fail)
		}
	case status >= 200 && status < 300:
		if ok {
			v.checkResponse(action, op, body, fail)
		}
	case v.query():
		checkQueryError(status, body, fail)
	default:
		checkError(status, body, fail)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.checked++
	v.actions[action]++
	v.violations = append(v.violations, found...)
}

// node is a parameter tree: Filter.1.Name=x is Filter -> 1 -> Name = x.
type node struct {
	val  *string
	kids map[string]*node
}

func (v *Validator) checkRequest(op Operation, params url.Values, fail func(kind, format string, args ...any)) {
	root := &node{kids: map[string]*node{}}
	for k, vals := range params {
		if k == "Action" || k == "Version" {
			continue
		}
		if len(vals) != 1 {
			fail(KindRequest, "parameter %s given %d times", k, len(vals))
		}
		n := root
		for _, seg := range strings.Split(k, ".") {
			if n.kids == nil {
				n.kids = map[string]*node{}
			}
			if n.kids[seg] == nil {
				n.kids[seg] = &node{}
			}
			n = n.kids[seg]
		}
		val := vals[0]
		n.val = &val
	}
	if op.Input == nil {
		for k := range root.kids {
			fail(KindRequest, "parameter %s: the operation takes no input", k)
		}
		return
	}
	v.checkParam("", root, op.Input.Shape, fail)
}

// queryName is how the ec2 protocol names a member in a request.
func queryName(name string, ref *ShapeRef) string {
	switch {
	case ref.QueryName != "":
		return ref.QueryName
	case ref.LocationName != "":
		return strings.ToUpper(ref.LocationName[:1]) + ref.LocationName[1:]
	}
	return name
}

func (v *Validator) checkParam(path string, n *node, shapeName string, fail func(kind, format string, args ...any)) {
	sh := v.m.Shapes[shapeName]
	if sh == nil {
		fail(KindRequest, "%s: shape %s is not in the model", path, shapeName)
		return
	}
	join := func(seg string) string {
		if path == "" {
			return seg
		}
		return path + "." + seg
	}
	switch sh.Type {
	case "structure":
		if n.val != nil {
			fail(KindRequest, "%s: a value %q where structure %s belongs", path, *n.val, shapeName)
			return
		}
		byQuery := map[string]string{}
		for name, ref := range sh.Members {
			byQuery[v.paramName(name, ref)] = name
		}
		for seg, kid := range n.kids {
			name, ok := byQuery[seg]
			if !ok {
				fail(KindRequest, "%s: %s has no member serialized as %q", join(seg), shapeName, seg)
				continue
			}
			v.checkParam(join(seg), kid, sh.Members[name].Shape, fail)
		}
		for _, req := range sh.Required {
			if ref := sh.Members[req]; ref != nil && n.kids[v.paramName(req, ref)] == nil {
				fail(KindRequest, "%s: required member %s of %s is missing", join(v.paramName(req, ref)), req, shapeName)
			}
		}
	case "list":
		if n.val != nil && *n.val == "" && len(n.kids) == 0 {
			return // an empty list
		}
		if n.val != nil {
			fail(KindRequest, "%s: a value %q where list %s belongs (lists are Name.1, Name.2, ...)", path, *n.val, shapeName)
			return
		}
		if v.query() && !sh.Flattened {
			if n, path = v.queryListItems(path, n, sh, fail); n == nil {
				return
			}
		}
		for seg, kid := range n.kids {
			i, err := strconv.Atoi(seg)
			if err != nil || i < 1 || i > len(n.kids) {
				fail(KindRequest, "%s: list %s index %q (want 1..%d)", join(seg), shapeName, seg, len(n.kids))
				continue
			}
			v.checkParam(join(seg), kid, sh.Member.Shape, fail)
		}
	case "map":
		fail(KindRequest, "%s: map %s parameters are not checked by this validator", path, shapeName)
	default:
		if len(n.kids) > 0 || n.val == nil {
			fail(KindRequest, "%s: %s is a %s, not a structure or list", path, shapeName, sh.Type)
			return
		}
		if msg := checkScalar(sh, *n.val); msg != "" {
			fail(KindRequest, "%s=%q: %s", path, *n.val, msg)
		}
	}
}

// checkScalar checks a scalar's text; "" when it conforms.
func checkScalar(sh *Shape, s string) string {
	switch sh.Type {
	case "integer", "long":
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return "not an integer"
		}
		if sh.Min != nil && float64(n) < *sh.Min || sh.Max != nil && float64(n) > *sh.Max {
			return "out of the shape's range"
		}
	case "double", "float":
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return "not a number"
		}
	case "boolean":
		if s != "true" && s != "false" {
			return "not true or false"
		}
	case "timestamp":
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			return "not an ISO 8601 timestamp"
		}
	case "blob":
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			return "not base64"
		}
	case "string":
		if len(sh.Enum) > 0 && !slices.Contains(sh.Enum, s) {
			return fmt.Sprintf("not one of the enum's %d values", len(sh.Enum))
		}
		if sh.Min != nil && float64(len([]rune(s))) < *sh.Min || sh.Max != nil && float64(len([]rune(s))) > *sh.Max {
			return "length out of the shape's range"
		}
	}
	return ""
}

// element is a parsed XML element.
type element struct {
	name, ns, text string
	kids           []*element
}

func parseXML(body []byte) (*element, error) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	var stack []*element
	var root *element
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			el := &element{name: t.Name.Local, ns: t.Name.Space}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, el)
			} else if root == nil {
				root = el
			} else {
				return nil, errors.New("more than one root element")
			}
			stack = append(stack, el)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(t)
			}
		}
	}
	if root == nil {
		return nil, errors.New("no root element")
	}
	return root, nil
}

func (v *Validator) checkResponse(action string, op Operation, body []byte, fail func(kind, format string, args ...any)) {
	root, err := parseXML(body)
	if err != nil {
		fail(KindResponse, "body is not XML: %v", err)
		return
	}
	if root.name != action+"Response" {
		fail(KindResponse, "root element <%s>, want <%sResponse>", root.name, action)
	}
	if ns := strings.TrimSuffix(root.ns, "/"); ns != strings.TrimSuffix(v.m.Metadata.XMLNamespace, "/") {
		fail(KindResponse, "namespace %q, want %s", root.ns, v.m.Metadata.XMLNamespace)
	}
	var members map[string]*ShapeRef
	shapeName := "(none)"
	if op.Output != nil {
		shapeName = op.Output.Shape
		members = v.m.Shapes[shapeName].Members
	}
	seen := map[string]bool{}
	for _, kid := range root.kids {
		if kid.name == "requestId" {
			if seen[kid.name] {
				fail(KindResponse, "requestId twice")
			}
			seen[kid.name] = true
			continue
		}
		v.checkMember(action+"Response", kid, shapeName, members, seen, fail)
	}
	if !seen["requestId"] {
		fail(KindResponse, "no requestId")
	}
}

// xmlName is how a member is named in a response.
func xmlName(name string, ref *ShapeRef) string {
	if ref.LocationName != "" {
		return ref.LocationName
	}
	return name
}

// checkMember checks el as a member of a structure whose members are
// members (seen: the names met so far).
func (v *Validator) checkMember(path string, el *element, shapeName string, members map[string]*ShapeRef, seen map[string]bool, fail func(kind, format string, args ...any)) {
	p := path + "/" + el.name
	for name, ref := range members {
		if xmlName(name, ref) != el.name {
			continue
		}
		if seen[el.name] {
			fail(KindResponse, "%s: member given twice", p)
		}
		seen[el.name] = true
		v.checkElement(p, el, ref.Shape, fail)
		return
	}
	fail(KindResponse, "%s: %s has no member with locationName %q", p, shapeName, el.name)
}

func (v *Validator) checkElement(path string, el *element, shapeName string, fail func(kind, format string, args ...any)) {
	sh := v.m.Shapes[shapeName]
	if sh == nil {
		fail(KindResponse, "%s: shape %s is not in the model", path, shapeName)
		return
	}
	switch sh.Type {
	case "structure":
		if strings.TrimSpace(el.text) != "" {
			fail(KindResponse, "%s: text %q in structure %s", path, strings.TrimSpace(el.text), shapeName)
		}
		seen := map[string]bool{}
		for _, kid := range el.kids {
			v.checkMember(path, kid, shapeName, sh.Members, seen, fail)
		}
	case "list":
		want := "member"
		if sh.Member.LocationName != "" {
			want = sh.Member.LocationName
		}
		for _, kid := range el.kids {
			if kid.name != want {
				fail(KindResponse, "%s/%s: list %s items are <%s>", path, kid.name, shapeName, want)
				continue
			}
			v.checkElement(path+"/"+want, kid, sh.Member.Shape, fail)
		}
	case "map":
		fail(KindResponse, "%s: map %s responses are not checked by this validator", path, shapeName)
	default:
		if len(el.kids) > 0 {
			fail(KindResponse, "%s: elements in %s %s", path, sh.Type, shapeName)
			return
		}
		if msg := checkScalar(sh, el.text); msg != "" {
			fail(KindResponse, "%s=%q: %s", path, el.text, msg)
		}
	}
}

// checkError checks EC2's error body.
func checkError(status int, body []byte, fail func(kind, format string, args ...any)) {
	if status < 400 || status > 599 {
		fail(KindResponse, "status %d is neither success nor an error", status)
		return
	}
	root, err := parseXML(body)
	if err != nil {
		fail(KindResponse, "error body is not XML: %v", err)
		return
	}
	names := func(e *element) []string {
		var out []string
		for _, k := range e.kids {
			out = append(out, k.name)
		}
		return out
	}
	if root.name != "Response" || !slices.Equal(names(root), []string{"Errors", "RequestID"}) {
		fail(KindResponse, "error body <%s> holding %v, want <Response> holding Errors, RequestID", root.name, names(root))
		return
	}
	errs := root.kids[0]
	if len(errs.kids) == 0 {
		fail(KindResponse, "error body without an <Error>")
	}
	for _, e := range errs.kids {
		if e.name != "Error" || !slices.Equal(names(e), []string{"Code", "Message"}) {
			fail(KindResponse, "error <%s> holding %v, want <Error> holding Code, Message", e.name, names(e))
			continue
		}
		if strings.TrimSpace(e.kids[0].text) == "" {
			fail(KindResponse, "error without a code")
		}
	}
	if strings.TrimSpace(root.kids[1].text) == "" {
		fail(KindResponse, "error without a RequestID")
	}
}
