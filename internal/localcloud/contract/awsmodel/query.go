package awsmodel

// The query protocol (ELBv2, and the other services whose model says
// "protocol": "query"), beside EC2's: a Validator over such a model
// (NewFor(m), or NewELBv2) checks
//
//   - requests: members by their locationName, else their name (not
//     capitalized, no queryName); lists as Name.member.1, Name.member.2
//     (a list member's locationName in place of "member"; a flattened list
//     as Name.1), maps as Name.entry.1.key / Name.entry.1.value;
//   - responses: <ActionResponse> in the model's namespace holding
//     <ActionResult> (the operation's resultWrapper) with the output's
//     members, list items <member>, and
//     <ResponseMetadata><RequestId/></ResponseMetadata>;
//   - errors: <ErrorResponse><Error><Type/><Code/><Message/></Error>
//     <RequestId/></ErrorResponse>, Type Sender or Receiver.
//
// OnlyService keeps two validators apart when one localcloud serves both
// (Config.Middleware wraps every API's listener).

import (
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/contract"
)

// ELBv2ModelEnv names the environment variable that points at ELBv2's
// service-2.json.gz (or service-2.json).
const ELBv2ModelEnv = "HADDOCK_AWS_ELBV2_MODEL"

var elbv2ModelRel = filepath.Join("specs", "aws-botocore", "elbv2", "2015-12-01", "service-2.json.gz")

// FindELBv2Model returns the path of ELBv2's service model:
// $HADDOCK_AWS_ELBV2_MODEL, or
// shared/specs/aws-botocore/elbv2/2015-12-01/service-2.json.gz found walking
// up from the working directory (see contract.FindShared).
func FindELBv2Model() (string, error) {
	p, err := contract.FindShared(ELBv2ModelEnv, elbv2ModelRel)
	if err != nil {
		return "", fmt.Errorf("ELBv2 service model not found: %w", err)
	}
	return p, nil
}

var (
	elbv2Once  sync.Once
	elbv2Model *Model
	elbv2Err   error
)

// ELBv2 loads ELBv2's model once per process.
func ELBv2() (*Model, error) {
	elbv2Once.Do(func() {
		p, err := FindELBv2Model()
		if err == nil {
			elbv2Model, err = LoadModel(p)
		}
		elbv2Err = err
	})
	return elbv2Model, elbv2Err
}

// NewELBv2 returns a Validator over ELBv2's model (loaded once per
// process).
func NewELBv2() (*Validator, error) {
	m, err := ELBv2()
	if err != nil {
		return nil, err
	}
	return NewFor(m), nil
}

// OnlyService wraps next with v's Middleware for the requests signed for
// service (the SigV4 credential scope's service, "ec2" or
// "elasticloadbalancing"); the others go to next unchecked. With one
// Validator per service on one localcloud:
//
//	Middleware: func(h http.Handler) http.Handler {
//		return ec2V.OnlyService("ec2", elbV.OnlyService("elasticloadbalancing", h))
//	}
func (v *Validator) OnlyService(service string, next http.Handler) http.Handler {
	checked := v.Middleware(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if signedService(r.Header.Get("Authorization")) == service {
			checked.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// signedService is the service of a SigV4 Authorization header's
// credential scope, "" when there is none.
func signedService(auth string) string {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	f := strings.Split(strings.TrimSpace(cred), "/")
	if len(f) != 5 {
		return ""
	}
	return f[3]
}

// query reports whether v's model speaks the query protocol.
func (v *Validator) query() bool { return v.m.Metadata.Protocol == "query" }

// service names v's model's service for messages.
func (v *Validator) service() string {
	if v.m.Metadata.Protocol == "ec2" || v.m.Metadata.ServiceAbbreviation == "" {
		return "EC2"
	}
	return v.m.Metadata.ServiceAbbreviation
}

// paramName is how a member is named in a request of v's protocol.
func (v *Validator) paramName(name string, ref *ShapeRef) string {
	if !v.query() {
		return queryName(name, ref)
	}
	if ref.LocationName != "" {
		return ref.LocationName
	}
	return name
}

// queryListItems steps from a non-flattened query list's node to its
// items' node (Name.member); nil when it has none or other children.
func (v *Validator) queryListItems(path string, n *node, sh *Shape, fail func(kind, format string, args ...any)) (*node, string) {
	item := "member"
	if sh.Member != nil && sh.Member.LocationName != "" {
		item = sh.Member.LocationName
	}
	for seg := range n.kids {
		if seg != item {
			fail(KindRequest, "%s.%s: list items are %s.%s.N", path, seg, path, item)
		}
	}
	kid := n.kids[item]
	if kid == nil {
		return nil, path
	}
	if kid.val != nil {
		fail(KindRequest, "%s.%s: a value %q where the list's items belong", path, item, *kid.val)
		return nil, path
	}
	return kid, path + "." + item
}

// checkQueryResponse checks a query-protocol success body.
func (v *Validator) checkQueryResponse(action string, op Operation, body []byte, fail func(kind, format string, args ...any)) {
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
	wrapper := ""
	if op.Output != nil {
		wrapper = op.Output.ResultWrapper
	}
	seen := map[string]bool{}
	for _, kid := range root.kids {
		path := action + "Response/" + kid.name
		if seen[kid.name] {
			fail(KindResponse, "%s: given twice", path)
		}
		seen[kid.name] = true
		switch {
		case kid.name == "ResponseMetadata":
			if len(kid.kids) != 1 || kid.kids[0].name != "RequestId" || strings.TrimSpace(kid.kids[0].text) == "" {
				fail(KindResponse, "%s: want one non-empty <RequestId>", path)
			}
		case wrapper != "" && kid.name == wrapper:
			v.checkElement(path, kid, op.Output.Shape, fail)
		default:
			fail(KindResponse, "%s: want <%s> and <ResponseMetadata> only", path, cmpOr(wrapper, "(no result)"))
		}
	}
	if !seen["ResponseMetadata"] {
		fail(KindResponse, "no ResponseMetadata")
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// checkQueryError checks the query protocol's error body.
func checkQueryError(status int, body []byte, fail func(kind, format string, args ...any)) {
	if status < 400 || status > 599 {
		fail(KindResponse, "status %d is neither success nor an error", status)
		return
	}
	root, err := parseXML(body)
	if err != nil {
		fail(KindResponse, "error body is not XML: %v", err)
		return
	}
	var names []string
	for _, k := range root.kids {
		names = append(names, k.name)
	}
	if root.name != "ErrorResponse" || !slices.Equal(names, []string{"Error", "RequestId"}) {
		fail(KindResponse, "error body <%s> holding %v, want <ErrorResponse> holding Error, RequestId", root.name, names)
		return
	}
	e := root.kids[0]
	fields := map[string]string{}
	for _, k := range e.kids {
		if _, dup := fields[k.name]; dup || !slices.Contains([]string{"Type", "Code", "Message"}, k.name) {
			fail(KindResponse, "error element <%s> (want Type, Code, Message, each once)", k.name)
		}
		fields[k.name] = strings.TrimSpace(k.text)
	}
	if fields["Code"] == "" {
		fail(KindResponse, "error without a code")
	}
	if t, ok := fields["Type"]; ok && t != "Sender" && t != "Receiver" {
		fail(KindResponse, "error Type %q, want Sender or Receiver", t)
	}
	if strings.TrimSpace(root.kids[1].text) == "" {
		fail(KindResponse, "error without a RequestId")
	}
}
