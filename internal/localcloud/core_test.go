package localcloud

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// fakeAPI is the smallest API: it answers its own shape, and saves a
// counter beside the hosts.
type fakeAPI struct {
	s     *Server
	saved int
}

func (f *fakeAPI) Name() string                 { return "fake" }
func (f *fakeAPI) Prefix() string               { return "/fake/" }
func (f *fakeAPI) Mount(s *Server)              { f.s = s }
func (f *fakeAPI) Route(r *http.Request) string { return r.Method + " /fake/{x}" }
func (f *fakeAPI) Refuse(w http.ResponseWriter, _ *http.Request, status int) {
	w.WriteHeader(status)
	_, _ = w.Write([]byte("refused"))
}
func (f *fakeAPI) HostProvisioned(*Host, error, time.Time) {}
func (f *fakeAPI) SaveState() any                          { return f.saved }
func (f *fakeAPI) LoadState(raw json.RawMessage) error {
	if raw == nil {
		return nil
	}
	return json.Unmarshal(raw, &f.saved)
}
func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.s.Lock()
	f.saved++
	f.s.Unlock()
	w.WriteHeader(http.StatusTeapot)
}

func serve(s http.Handler, token, method, path string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

// The core routes an API's prefix to it, counts its requests by route,
// has it refuse what it refuses, and saves its records beside the hosts.
func TestAPISeam(t *testing.T) {
	dir := t.TempDir()
	api := &fakeAPI{}
	s, err := Open(t.Context(), Config{Token: "t", StateDir: dir, APIs: []API{api}})
	if err != nil {
		t.Fatal(err)
	}
	if rec := serve(s, "t", "POST", "/fake/1"); rec.Code != http.StatusTeapot || len(rec.Header().Get("X-Request-Id")) != 36 {
		t.Errorf("API request: %d %v", rec.Code, rec.Header())
	}
	if rec := serve(s, "nope", "GET", "/fake/1"); rec.Code != 401 || rec.Body.String() != "refused" {
		t.Errorf("unauthenticated: %d %s", rec.Code, rec.Body)
	}
	_ = s.InjectFault(Fault{Status: 503})
	if rec := serve(s, "t", "GET", "/fake/2"); rec.Code != 503 || rec.Body.String() != "refused" || rec.Header().Get("Retry-After") != "1" {
		t.Errorf("fault: %d %s %v", rec.Code, rec.Body, rec.Header())
	}
	if rec := serve(s, "t", "GET", "/v2/account"); rec.Code != 404 {
		t.Errorf("no API there: %d", rec.Code)
	}
	if got := s.Requests(); got.Total != 2 || got.Requests["POST /fake/{x}"] != 1 || got.Requests["GET /fake/{x}"] != 1 {
		t.Errorf("counters: %+v", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	again := &fakeAPI{}
	s2, err := Open(t.Context(), Config{Token: "t", StateDir: dir, APIs: []API{again}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s2.Close() }()
	if again.saved != 1 {
		t.Errorf("API state after a restart: %d, want 1", again.saved)
	}
}

func TestMountClash(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("two APIs on one prefix mounted")
		}
	}()
	New(Config{APIs: []API{&fakeAPI{}, &fakeAPI{}}})
}

// signedAPI authenticates with its own header, not the bearer token.
type signedAPI struct{ fakeAPI }

func (a *signedAPI) Authenticate(r *http.Request) bool { return r.Header.Get("X-Signed") == "yes" }

// An API on a listener of its own (Config.APIAddrs) gets every path there,
// authenticated its own way (Authenticator), counted and faulted as under
// its prefix; the main listener keeps serving it under its prefix.
func TestAPIListener(t *testing.T) {
	api := &signedAPI{}
	run, err := Start(t.Context(), Config{Token: "t", APIs: []API{api}, APIAddrs: map[string]string{"fake": "127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = run.Close() }()
	own := run.APIURLs["fake"]
	if own == "" || own == run.URL {
		t.Fatalf("APIURLs = %v", run.APIURLs)
	}
	do := func(url string, signed bool) int {
		req, _ := http.NewRequest("POST", url, nil)
		if signed {
			req.Header.Set("X-Signed", "yes")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if got := do(own+"/", true); got != http.StatusTeapot {
		t.Errorf("signed request at / of the API's listener: %d", got)
	}
	if got := do(own+"/", false); got != http.StatusUnauthorized {
		t.Errorf("unsigned request: %d, want 401 (the bearer token does not count)", got)
	}
	if got := do(run.URL+"/fake/x", true); got != http.StatusTeapot {
		t.Errorf("signed request under the prefix on the main listener: %d", got)
	}
	_ = run.Server.InjectFault(Fault{PathPrefix: "/fake/", Status: 500})
	if got := do(own+"/", true); got != 500 {
		t.Errorf("a /fake/ fault on the API's listener: %d, want 500", got)
	}
	if got := run.Server.Requests().Total; got != 3 {
		t.Errorf("counted %d requests, want 3", got)
	}
	if _, err := Start(t.Context(), Config{APIAddrs: map[string]string{"nope": "127.0.0.1:0"}}); err == nil {
		t.Error("APIAddrs naming no API: no error")
	}
	if _, err := Start(t.Context(), Config{APIs: []API{&fakeAPI{}}, APIAddrs: map[string]string{"fake": "0.0.0.0:0"}}); err == nil {
		t.Error("a non-loopback API address: no error")
	}
}
