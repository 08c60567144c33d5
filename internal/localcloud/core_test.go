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
