// Package contract checks HTTP traffic against DigitalOcean's OpenAPI spec:
// a Validator wraps a handler (localcloud's, typically), validates every
// request and response that passes through with kin-openapi, and records
// what does not conform. Tests fail on the recorded violations.
//
//	v, err := contract.New()
//	run, err := localcloud.Start(ctx, localcloud.Config{Middleware: v.Middleware})
//	... drive the API ...
//	if err := v.Check(); err != nil { t.Fatal(err) }
//
// StartLocalcloud does this for a test in one call. For a whole test
// binary, create the Validator in TestMain, run m.Run(), then fail the
// binary when Check returns an error (see acctest.Main). Paths under
// /_localcloud/ (localcloud's test controls) pass through unchecked.
//
// Besides the spec, every response is checked for DigitalOcean's
// conventions that the spec does not mark required: the ratelimit-limit,
// ratelimit-remaining and ratelimit-reset headers (integers), x-request-id
// (a UUID), and request_id in error bodies. A 2xx status must be one the
// operation documents (a default response does not cover success).
package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Kinds of violation.
const (
	KindRoute      = "route"      // no operation in the spec for the method and path
	KindRequest    = "request"    // the request does not conform
	KindResponse   = "response"   // the response does not conform
	KindConvention = "convention" // a DigitalOcean convention the spec leaves optional
)

// Violation is one thing that did not conform.
type Violation struct {
	Method string
	Path   string // with the query
	Status int    // the response status
	Kind   string
	Detail string
}

func (v Violation) String() string {
	return fmt.Sprintf("%s %s -> %d: %s: %s", v.Method, v.Path, v.Status, v.Kind, v.Detail)
}

// Validator validates traffic through it. It is safe for concurrent use.
type Validator struct {
	next    http.Handler
	router  routers.Router
	loadErr error

	mu         sync.Mutex
	violations []Violation
	checked    int
}

var (
	routerOnce sync.Once
	router     routers.Router
	routerErr  error
)

func sharedRouter() (routers.Router, error) {
	routerOnce.Do(func() {
		doc, _, err := Spec()
		if err != nil {
			routerErr = err
			return
		}
		router, routerErr = gorillamux.NewRouter(doc)
	})
	return router, routerErr
}

// New returns a Validator to use as middleware (Middleware). It fails when
// the spec cannot be found or loaded; the spec is loaded once per process.
func New() (*Validator, error) {
	r, err := sharedRouter()
	if err != nil {
		return nil, err
	}
	return &Validator{router: r}, nil
}

// Wrap returns a Validator serving h. When the spec cannot be loaded, the
// Validator passes traffic through and Check reports the load error.
func Wrap(h http.Handler) *Validator {
	r, err := sharedRouter()
	return &Validator{next: h, router: r, loadErr: err}
}

// Middleware wraps next with v; it fits localcloud.Config.Middleware.
func (v *Validator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { v.serve(next, w, r) })
}

// ServeHTTP serves the handler given to Wrap.
func (v *Validator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if v.next == nil {
		http.Error(w, "contract.Validator has no handler: use Wrap(h) or Middleware", http.StatusInternalServerError)
		return
	}
	v.serve(v.next, w, r)
}

// Violations returns what was recorded so far.
func (v *Validator) Violations() []Violation {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.violations)
}

// Checked is how many exchanges were validated.
func (v *Validator) Checked() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.checked
}

// Reset forgets the recorded violations.
func (v *Validator) Reset() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.violations = nil
}

// Check returns an error listing every violation (and a spec load failure),
// nil when there is none.
func (v *Validator) Check() error {
	vs := v.Violations()
	if v.loadErr == nil && len(vs) == 0 {
		return nil
	}
	var b strings.Builder
	if v.loadErr != nil {
		fmt.Fprintf(&b, "contract: the DigitalOcean spec could not be loaded: %v\n", v.loadErr)
	}
	if len(vs) > 0 {
		fmt.Fprintf(&b, "contract: %d violation(s) of the DigitalOcean API spec:\n", len(vs))
		for _, x := range vs {
			fmt.Fprintf(&b, "  %s\n", x)
		}
	}
	return errors.New(strings.TrimRight(b.String(), "\n"))
}

func (v *Validator) record(x Violation) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.violations = append(v.violations, x)
}

func (v *Validator) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	if v.router == nil || strings.HasPrefix(r.URL.Path, "/_localcloud/") {
		next.ServeHTTP(w, r)
		return
	}
	reqBody := ReadBody(r)

	// The response is held back until it has been validated, so a client
	// that saw it can count on Violations including it.
	rec := NewRecorder(w)
	next.ServeHTTP(rec, r)
	v.validate(r, reqBody, rec)
	rec.Flush(w)
}

// validate checks one exchange.
func (v *Validator) validate(r *http.Request, reqBody []byte, rec *Recorder) {
	v.mu.Lock()
	v.checked++
	v.mu.Unlock()
	status := rec.status
	where := Violation{Method: r.Method, Path: r.URL.RequestURI(), Status: status}
	fail := func(kind, format string, args ...any) {
		x := where
		x.Kind, x.Detail = kind, fmt.Sprintf(format, args...)
		v.record(x)
	}
	v.checkConventions(rec, fail)

	// The router matches on the URL; requests a server received carry only
	// the path, so give it a host-less absolute form.
	rr := r.Clone(context.Background())
	rr.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, pathParams, err := v.router.FindRoute(rr)
	if err != nil {
		fail(KindRoute, "no such operation in the spec: %v", err)
		return
	}
	ctx := context.Background()
	opts := &openapi3filter.Options{
		MultiError:              true,
		IncludeResponseStatus:   true,
		AuthenticationFunc:      bearerPresent,
		SchemaValidationOptions: formatOptions,
	}
	in := &openapi3filter.RequestValidationInput{Request: rr, PathParams: pathParams, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		fail(KindRequest, "%s", flatten(err))
	}

	if status >= 200 && status < 300 && route.Operation.Responses.Status(status) == nil {
		documented := []string{}
		for code := range route.Operation.Responses.Map() {
			documented = append(documented, code)
		}
		slices.Sort(documented)
		fail(KindResponse, "status %d is not documented for %s %s (documented: %s)", status, route.Method, route.Path, strings.Join(documented, ", "))
	}
	// Validate against the request as sent: ValidateRequest may have set
	// defaults into rr's body.
	in.Request = r.Clone(context.Background())
	in.Request.Body = io.NopCloser(bytes.NewReader(reqBody))
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 rec.Header(),
		Body:                   io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		Options:                opts,
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		fail(KindResponse, "%s", flatten(err))
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (v *Validator) checkConventions(rec *Recorder, fail func(kind, format string, args ...any)) {
	h := rec.Header()
	for _, name := range []string{"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} {
		val := h.Get(name)
		if val == "" {
			fail(KindConvention, "header %s is missing", name)
		} else if _, err := strconv.ParseInt(val, 10, 64); err != nil {
			fail(KindConvention, "header %s=%q is not an integer", name, val)
		}
	}
	rid := h.Get("x-request-id")
	if !uuidRE.MatchString(rid) {
		fail(KindConvention, "header x-request-id=%q is not a UUID", rid)
	}
	if rec.status >= 400 {
		var body struct {
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal(rec.body.Bytes(), &body); err != nil || body.RequestID == "" {
			fail(KindConvention, "error body has no request_id")
		} else if body.RequestID != rid {
			fail(KindConvention, "error body request_id %q differs from x-request-id %q", body.RequestID, rid)
		}
	}
}

// bearerPresent satisfies the spec's bearer_auth requirement when the
// request carries a bearer token; whether it is the right one is the
// server's business (and a 401 is a conforming answer).
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecurityScheme == nil || in.SecurityScheme.Type != "http" || !strings.EqualFold(in.SecurityScheme.Scheme, "bearer") {
		return fmt.Errorf("unsupported security scheme %q", in.SecuritySchemeName)
	}
	scheme, tok, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return errors.New("no bearer token in the Authorization header")
	}
	return nil
}

// formatOptions check the string formats the spec uses but kin-openapi
// leaves unchecked by default.
var formatOptions = []openapi3.SchemaValidationOption{
	openapi3.EnableFormatValidation(),
	openapi3.WithStringFormatValidators(map[string]openapi3.StringFormatValidator{
		"ipv4": openapi3.NewIPValidator(true),
		"ipv6": openapi3.NewIPValidator(false),
		"uuid": openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC4122),
		"uri": openapi3.NewCallbackValidator(func(s string) error {
			u, err := url.Parse(s)
			if err != nil || u.Scheme == "" || u.Host == "" {
				return fmt.Errorf("%q is not an absolute URI", s)
			}
			return nil
		}),
		"date-time": openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringDateTime),
		"date":      openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringDate),
		"byte":      openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringByte),
	}),
}

// flatten turns kin-openapi's nested, multi-line errors into one line per
// problem, without the schema dumps.
func flatten(err error) string {
	var parts []string
	var walk func(error)
	walk = func(e error) {
		var me openapi3.MultiError
		if errors.As(e, &me) {
			for _, x := range me {
				walk(x)
			}
			return
		}
		var se *openapi3.SchemaError
		if errors.As(e, &se) {
			p := "/" + strings.Join(se.JSONPointer(), "/")
			parts = append(parts, fmt.Sprintf("%s: %s", p, se.Reason))
			return
		}
		var re *openapi3filter.RequestError
		if errors.As(e, &re) && re.Err != nil {
			prefix := re.Reason
			if re.Parameter != nil {
				prefix = fmt.Sprintf("parameter %q in %s", re.Parameter.Name, re.Parameter.In)
			} else if re.RequestBody != nil {
				prefix = "request body"
			}
			n := len(parts)
			walk(re.Err)
			for i := n; i < len(parts); i++ {
				parts[i] = prefix + ": " + parts[i]
			}
			return
		}
		var rse *openapi3filter.ResponseError
		if errors.As(e, &rse) && rse.Err != nil {
			n := len(parts)
			walk(rse.Err)
			for i := n; i < len(parts); i++ {
				parts[i] = "response " + rse.Reason + ": " + parts[i]
			}
			return
		}
		parts = append(parts, firstLine(e.Error()))
	}
	walk(err)
	return strings.Join(parts, "; ")
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// ReadBody reads r's body and leaves it readable again.
func ReadBody(r *http.Request) []byte {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		_ = r.Body.Close()
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body
}

// Recorder buffers a response until it has been validated. Its header map
// is the real writer's.
type Recorder struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

// NewRecorder buffers a response to w (headers go to w's at once).
func NewRecorder(w http.ResponseWriter) *Recorder {
	return &Recorder{header: w.Header(), status: http.StatusOK}
}

// Header implements http.ResponseWriter.
func (r *Recorder) Header() http.Header { return r.header }

// WriteHeader implements http.ResponseWriter.
func (r *Recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
}

// Write implements http.ResponseWriter.
func (r *Recorder) Write(p []byte) (int, error) {
	r.wroteHeader = true
	return r.body.Write(p)
}

// Status is the status written (200 when none was).
func (r *Recorder) Status() int { return r.status }

// Body is what was written.
func (r *Recorder) Body() []byte { return r.body.Bytes() }

// Flush writes the buffered response to w.
func (r *Recorder) Flush(w http.ResponseWriter) {
	w.WriteHeader(r.status)
	_, _ = w.Write(r.body.Bytes())
}
