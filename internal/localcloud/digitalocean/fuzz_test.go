package digitalocean

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzRequestBodies sends arbitrary bodies and queries to the endpoints
// that read them: localcloud never panics and never answers 5xx to bad
// input (a client error says what is wrong, as DigitalOcean's JSON error),
// and the API keeps working afterwards.
func FuzzRequestBodies(f *testing.F) {
	f.Add(uint8(0), []byte(`{"name":"a","region":"fra1","size":"s-1vcpu-1gb","image":"debian-12-x64","tags":["x"]}`), "")
	f.Add(uint8(0), []byte(`{"names":["a","b"],"region":"fra1","size":"s-1vcpu-1gb","image":"debian-12-x64","user_data":"#cloud-config\n"}`), "")
	f.Add(uint8(1), []byte(`{"type":"power_off"}`), "")
	f.Add(uint8(1), []byte(`{"type":"resize","size":"s-2vcpu-4gb"}`), "")
	f.Add(uint8(2), []byte(`{"region":"fra1"}`), "")
	f.Add(uint8(3), []byte(`{"type":"assign","droplet_id":1}`), "")
	f.Add(uint8(4), []byte(`{"name":"t"}`), "")
	f.Add(uint8(5), []byte(nil), "per_page=200&page=2&tag_name=x")
	f.Add(uint8(5), []byte(nil), "per_page=-1&page=99999999999999999999")
	f.Add(uint8(6), []byte(`{"resources":[{"resource_id":"1","resource_type":"droplet"}]}`), "")
	f.Add(uint8(0), []byte(`{"name":`), "")
	f.Add(uint8(0), []byte(`[]`), "")

	s := newServer(testConfig{Token: testToken})
	f.Cleanup(func() { _ = s.Close() })
	send := func(method, path string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "http://lc.test"+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec
	}
	// A droplet and a reserved IP for the paths that name one.
	rec := send(http.MethodPost, "/v2/droplets", []byte(`{"name":"fz","region":"fra1","size":"s-1vcpu-1gb","image":"debian-12-x64"}`))
	var created struct{ Droplet struct{ ID int } }
	if rec.Code != http.StatusAccepted || json.Unmarshal(rec.Body.Bytes(), &created) != nil {
		f.Fatalf("creating the fixture droplet: %d %s", rec.Code, rec.Body)
	}
	rec = send(http.MethodPost, "/v2/reserved_ips", []byte(`{"region":"fra1"}`))
	var rip struct {
		ReservedIP struct{ IP string } `json:"reserved_ip"`
	}
	if rec.Code >= 300 || json.Unmarshal(rec.Body.Bytes(), &rip) != nil {
		f.Fatalf("creating the fixture reserved IP: %d %s", rec.Code, rec.Body)
	}

	f.Fuzz(func(t *testing.T, which uint8, body []byte, query string) {
		endpoints := []struct{ method, path string }{
			{http.MethodPost, "/v2/droplets"},
			{http.MethodPost, fmt.Sprintf("/v2/droplets/%d/actions", created.Droplet.ID)},
			{http.MethodPost, "/v2/reserved_ips"},
			{http.MethodPost, "/v2/reserved_ips/" + rip.ReservedIP.IP + "/actions"},
			{http.MethodPost, "/v2/tags"},
			{http.MethodGet, "/v2/droplets"},
			{http.MethodPost, "/v2/tags/fz/resources"},
		}
		e := endpoints[int(which)%len(endpoints)]
		path := e.path
		if query != "" {
			path += "?" + query
		}
		req := httptest.NewRequest(e.method, "http://lc.test/", bytes.NewReader(body))
		req.URL.RawQuery = query
		req.URL.Path = e.path
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s with %q: %d %s", e.method, path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var e struct{ ID, Message string }
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.ID == "" || e.Message == "" {
				t.Fatalf("%s %s: a %d without DigitalOcean's error body: %s", req.Method, path, rec.Code, rec.Body)
			}
		}
		if rec := send(http.MethodGet, "/v2/droplets?per_page=1", nil); rec.Code != http.StatusOK {
			t.Fatalf("after %s %s with %q the droplet list answers %d %s", e.method, path, body, rec.Code, rec.Body)
		}
	})
}
