package digitalocean

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const testToken = "unit-test-token"

type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// call sends one request to s in process.
func call(t *testing.T, s http.Handler, method, path string, body any) resp {
	t.Helper()
	return callToken(t, s, testToken, method, path, body)
}

func callToken(t *testing.T, s http.Handler, token, method, path string, body any) resp {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req := httptest.NewRequest(method, "http://lc.test"+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	out := resp{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &out.body); err != nil {
			t.Fatalf("%s %s: body is not a JSON object: %v: %s", method, path, err, rec.Body)
		}
	}
	return out
}

func newTestServer(t *testing.T, cfg testConfig) *Server {
	t.Helper()
	if cfg.Token == "" {
		cfg.Token = testToken
	}
	s := newServer(cfg)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func num(v any) int {
	f, _ := v.(float64)
	return int(f)
}

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func createDroplet(t *testing.T, s *Server, body map[string]any) map[string]any {
	t.Helper()
	base := map[string]any{"region": "nyc3", "size": "s-1vcpu-1gb", "image": "debian-12-x64"}
	for k, v := range body {
		base[k] = v
	}
	r := call(t, s, "POST", "/v2/droplets", base)
	if r.status != http.StatusAccepted {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	return r.body
}

// waitStatus polls a droplet until it has status want.
func waitStatus(t *testing.T, s *Server, id int, want string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := call(t, s, "GET", "/v2/droplets/"+strconv.Itoa(id), nil)
		d := obj(r.body["droplet"])
		if d["status"] == want {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("droplet %d: status %v, want %s", id, d["status"], want)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestTokenCheck(t *testing.T) {
	s := newTestServer(t, testConfig{})
	for _, tc := range []struct {
		name, header string
		want         int
	}{
		{"none", "", 401},
		{"wrong", "Bearer nope", 401},
		{"not bearer", "Basic " + testToken, 401},
		{"right", "Bearer " + testToken, 200},
		{"lower-case scheme", "bearer " + testToken, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/v2/account", "/_localcloud/requests"} {
				req := httptest.NewRequest("GET", path, nil)
				if tc.header != "" {
					req.Header.Set("Authorization", tc.header)
				}
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, req)
				if rec.Code != tc.want {
					t.Fatalf("%s: %d, want %d", path, rec.Code, tc.want)
				}
				if tc.want == 401 {
					var e apiError
					_ = json.Unmarshal(rec.Body.Bytes(), &e)
					if e.ID != "Unauthorized" || e.Message != "Unable to authenticate you" || e.RequestID != rec.Header().Get("X-Request-Id") {
						t.Errorf("body %s", rec.Body)
					}
				}
			}
		})
	}
	if got := s.Requests().Total; got != 2 {
		t.Errorf("counted %d requests, want 2 (unauthenticated ones do not count)", got)
	}
}

func TestDefaultToken(t *testing.T) {
	s := newServer(testConfig{})
	defer func() { _ = s.Close() }()
	if r := callToken(t, s, DevToken, "GET", "/v2/account", nil); r.status != 200 {
		t.Errorf("dev token: %d", r.status)
	}
}

func TestConventionHeaders(t *testing.T) {
	s := newTestServer(t, testConfig{})
	r1 := call(t, s, "GET", "/v2/regions", nil)
	r2 := call(t, s, "GET", "/v2/nothing-here", nil)
	for _, r := range []resp{r1, r2} {
		for _, h := range []string{"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} {
			if _, err := strconv.Atoi(r.header.Get(h)); err != nil {
				t.Errorf("%s = %q", h, r.header.Get(h))
			}
		}
		if len(r.header.Get("x-request-id")) != 36 {
			t.Errorf("x-request-id = %q", r.header.Get("x-request-id"))
		}
	}
	if r1.header.Get("x-request-id") == r2.header.Get("x-request-id") {
		t.Error("request ids repeat")
	}
	rem1, _ := strconv.Atoi(r1.header.Get("ratelimit-remaining"))
	rem2, _ := strconv.Atoi(r2.header.Get("ratelimit-remaining"))
	if rem2 != rem1-1 {
		t.Errorf("ratelimit-remaining %d then %d", rem1, rem2)
	}
	if r2.status != 404 || r2.body["id"] != "not_found" || r2.body["request_id"] != r2.header.Get("x-request-id") {
		t.Errorf("unknown path: %d %s", r2.status, r2.raw)
	}
	if r := call(t, s, "PATCH", "/v2/droplets", nil); r.status != 404 || r.body["id"] != "not_found" {
		t.Errorf("wrong method: %d %s", r.status, r.raw)
	}
}

func TestPaginationLinks(t *testing.T) {
	s := newTestServer(t, testConfig{})
	for i := 0; i < 5; i++ {
		createDroplet(t, s, map[string]any{"name": fmt.Sprintf("d%d", i), "tags": []string{"t"}})
	}
	type links struct{ first, prev, next, last string }
	cases := []struct {
		query string
		n     int
		want  links // page numbers, "" when absent
	}{
		{"", 5, links{}},
		{"?per_page=2", 2, links{"", "", "2", "3"}},
		{"?per_page=2&page=2", 2, links{"1", "1", "3", "3"}},
		{"?per_page=2&page=3", 1, links{"1", "2", "", ""}},
		{"?per_page=2&page=9", 0, links{"1", "3", "", ""}},
		{"?per_page=1000", 5, links{}},     // clamped to 200
		{"?per_page=0&page=0", 5, links{}}, // defaults
		{"?tag_name=t&per_page=4", 4, links{"", "", "2", "2"}},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			r := call(t, s, "GET", "/v2/droplets"+c.query, nil)
			if got := len(list(r.body["droplets"])); got != c.n {
				t.Errorf("%d droplets, want %d", got, c.n)
			}
			if total := num(obj(r.body["meta"])["total"]); total != 5 {
				t.Errorf("meta.total = %d", total)
			}
			pages := obj(obj(r.body["links"])["pages"])
			get := func(k string) string {
				v, _ := pages[k].(string)
				if v == "" {
					return ""
				}
				u, err := url.Parse(v)
				if err != nil || u.Scheme != "http" || u.Host != "lc.test" || u.Path != "/v2/droplets" {
					t.Errorf("%s link %q is not an absolute URL to the list", k, v)
				}
				if strings.Contains(c.query, "tag_name") && u.Query().Get("tag_name") != "t" {
					t.Errorf("%s link %q lost tag_name", k, v)
				}
				return u.Query().Get("page")
			}
			got := links{get("first"), get("prev"), get("next"), get("last")}
			if got != c.want {
				t.Errorf("pages %+v, want %+v (%s)", got, c.want, r.raw[strings.Index(r.raw, `"links"`):])
			}
			if c.want == (links{}) && pages != nil {
				t.Errorf("links.pages present on a single page: %v", pages)
			}
		})
	}
}

func TestBatchCreate(t *testing.T) {
	s := newTestServer(t, testConfig{})
	r := call(t, s, "POST", "/v2/droplets", map[string]any{
		"names": []string{"a", "b", "c"}, "region": "fra1", "size": "s-2vcpu-4gb", "image": "ubuntu-24-04-x64", "tags": []string{"haddock", "Swarm"},
	})
	if r.status != 202 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	ds := list(r.body["droplets"])
	acts := list(obj(r.body["links"])["actions"])
	if len(ds) != 3 || len(acts) != 3 || r.body["droplet"] != nil {
		t.Fatalf("got %d droplets, %d actions: %s", len(ds), len(acts), r.raw)
	}
	ids := map[int]bool{}
	for i, d := range ds {
		d := obj(d)
		ids[num(d["id"])] = true
		if d["name"] != []string{"a", "b", "c"}[i] || d["status"] != "new" || len(list(d["tags"])) != 2 {
			t.Errorf("droplet %d: %v", i, d)
		}
		a := obj(acts[i])
		if a["rel"] != "create" || !strings.HasPrefix(str(a["href"]), "http://lc.test/v2/actions/") {
			t.Errorf("action link %v", a)
		}
	}
	if len(ids) != 3 {
		t.Errorf("ids repeat: %v", ids)
	}
	// the tags were created
	for _, tag := range []string{"haddock", "Swarm"} {
		if r := call(t, s, "GET", "/v2/tags/"+tag, nil); r.status != 200 || num(obj(obj(r.body["tag"])["resources"])["count"]) != 3 {
			t.Errorf("tag %s: %d %s", tag, r.status, r.raw)
		}
	}

	for _, c := range []struct {
		name string
		body map[string]any
	}{
		{"eleven names", map[string]any{"names": []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"}}},
		{"no names", map[string]any{"names": []string{}}},
		{"name and names", map[string]any{"name": "x", "names": []string{"y"}}},
		{"bad name in batch", map[string]any{"names": []string{"ok", "-bad"}}},
		{"missing name", map[string]any{}},
		{"empty name", map[string]any{"name": ""}},
		{"hostname with space", map[string]any{"name": "a b"}},
		{"unknown region", map[string]any{"name": "x", "region": "mars1"}},
		{"region unavailable", map[string]any{"name": "x", "region": UnavailableRegion}},
		{"size not in region", map[string]any{"name": "x", "region": RestrictedSizeRegion, "size": RestrictedSize}},
		{"unknown size", map[string]any{"name": "x", "size": "huge"}},
		{"missing size", map[string]any{"name": "x", "size": ""}},
		{"unknown image", map[string]any{"name": "x", "image": "plan9"}},
		{"missing image", map[string]any{"name": "x", "image": nil}},
		{"unknown ssh key", map[string]any{"name": "x", "ssh_keys": []any{42}}},
		{"bad tag", map[string]any{"name": "x", "tags": []string{"no spaces"}}},
		{"user_data too big", map[string]any{"name": "x", "user_data": strings.Repeat("x", 64<<10+1)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := map[string]any{"region": "nyc3", "size": "s-1vcpu-1gb", "image": "debian-12-x64"}
			for k, v := range c.body {
				body[k] = v
			}
			r := call(t, s, "POST", "/v2/droplets", body)
			if r.status != 422 || r.body["id"] != "unprocessable_entity" || r.body["message"] == "" {
				t.Errorf("%d %s", r.status, r.raw)
			}
		})
	}
	if r := call(t, s, "GET", "/v2/droplets", nil); num(obj(r.body["meta"])["total"]) != 3 {
		t.Errorf("failed creates left droplets: %s", r.raw)
	}
	if r := call(t, s, "POST", "/v2/droplets", "not an object"); r.status != 400 {
		t.Errorf("bad JSON: %d", r.status)
	}
}

func TestRegionChoice(t *testing.T) {
	s := newTestServer(t, testConfig{})
	for _, c := range []struct{ region, size, want string }{
		{"", "s-1vcpu-1gb", "nyc3"},
		{"sfo", "s-1vcpu-1gb", "sfo3"},
		{"nyc", "s-1vcpu-1gb", "nyc3"}, // nyc1 is unavailable
		{"", RestrictedSize, "nyc3"},
		{"sgp", RestrictedSize, ""},
	} {
		body := map[string]any{"name": "x", "region": c.region, "size": c.size, "image": "debian-12-x64"}
		r := call(t, s, "POST", "/v2/droplets", body)
		got := obj(obj(r.body["droplet"])["region"])["slug"]
		if c.want == "" {
			if r.status != 422 {
				t.Errorf("%q/%s: %d, want 422", c.region, c.size, r.status)
			}
			continue
		}
		if got != c.want {
			t.Errorf("%q/%s: region %v, want %s", c.region, c.size, got, c.want)
		}
	}
}

func TestCatalog(t *testing.T) {
	s := newTestServer(t, testConfig{})
	regs := list(call(t, s, "GET", "/v2/regions", nil).body["regions"])
	if len(regs) != 10 {
		t.Fatalf("%d regions", len(regs))
	}
	for _, r := range regs {
		r := obj(r)
		if r["slug"] == UnavailableRegion && (r["available"] != false || len(list(r["sizes"])) != 0) {
			t.Errorf("%s: %v", UnavailableRegion, r)
		}
		if r["slug"] == RestrictedSizeRegion {
			for _, sz := range list(r["sizes"]) {
				if sz == RestrictedSize {
					t.Errorf("%s lists %s", RestrictedSizeRegion, RestrictedSize)
				}
			}
		}
	}
	szs := list(call(t, s, "GET", "/v2/sizes", nil).body["sizes"])
	if len(szs) != 9 {
		t.Fatalf("%d sizes", len(szs))
	}
	for _, c := range []struct {
		q string
		n int
	}{{"", 3}, {"?type=distribution", 3}, {"?type=application", 0}, {"?private=true", 0}, {"?tag_name=x", 0}} {
		if got := len(list(call(t, s, "GET", "/v2/images"+c.q, nil).body["images"])); got != c.n {
			t.Errorf("images%s: %d, want %d", c.q, got, c.n)
		}
	}
	if r := call(t, s, "GET", "/v2/images/ubuntu-22-04-x64", nil); r.status != 200 {
		t.Errorf("image by slug: %d", r.status)
	}
	if r := call(t, s, "GET", "/v2/images/170000012", nil); obj(r.body["image"])["slug"] != "debian-12-x64" {
		t.Errorf("image by id: %s", r.raw)
	}
	if r := call(t, s, "GET", "/v2/images/nope", nil); r.status != 404 {
		t.Errorf("unknown image: %d", r.status)
	}
}

func TestTagFilter(t *testing.T) {
	s := newTestServer(t, testConfig{})
	createDroplet(t, s, map[string]any{"name": "a", "tags": []string{"web", "PROD"}})
	createDroplet(t, s, map[string]any{"name": "b", "tags": []string{"web"}})
	createDroplet(t, s, map[string]any{"name": "c", "tags": []string{"prod"}}) // same tag as PROD
	createDroplet(t, s, map[string]any{"name": "d"})
	names := func(q string) string {
		r := call(t, s, "GET", "/v2/droplets"+q, nil)
		var out []string
		for _, d := range list(r.body["droplets"]) {
			out = append(out, str(obj(d)["name"]))
		}
		return strings.Join(out, ",")
	}
	for q, want := range map[string]string{
		"":               "a,b,c,d",
		"?tag_name=web":  "a,b",
		"?tag_name=PROD": "a,c",
		"?tag_name=none": "",
		"?name=B":        "b",
		"?type=gpus":     "",
	} {
		if got := names(q); got != want {
			t.Errorf("%s: %q, want %q", q, got, want)
		}
	}
	if r := call(t, s, "GET", "/v2/droplets?tag_name=web&name=a", nil); r.status != 422 {
		t.Errorf("tag_name with name: %d", r.status)
	}
	// Tag names keep the capitalization they were first created with, and
	// URLs must use it.
	if r := call(t, s, "GET", "/v2/tags/PROD", nil); r.status != 200 {
		t.Errorf("GET /v2/tags/PROD: %d", r.status)
	}
	if r := call(t, s, "GET", "/v2/tags/prod", nil); r.status != 404 {
		t.Errorf("GET /v2/tags/prod: %d", r.status)
	}
	if r := call(t, s, "GET", "/v2/tags", nil); len(list(r.body["tags"])) != 2 {
		t.Errorf("tags: %s", r.raw)
	}

	// tag and untag through /v2/tags/{name}/resources
	d := num(obj(list(call(t, s, "GET", "/v2/droplets?name=d", nil).body["droplets"])[0])["id"])
	res := map[string]any{"resources": []map[string]string{{"resource_id": strconv.Itoa(d), "resource_type": "droplet"}}}
	if r := call(t, s, "POST", "/v2/tags/web/resources", res); r.status != 204 {
		t.Fatalf("tag: %d %s", r.status, r.raw)
	}
	if got := names("?tag_name=web"); got != "a,b,d" {
		t.Errorf("after tagging: %q", got)
	}
	if r := call(t, s, "DELETE", "/v2/tags/web/resources", res); r.status != 204 {
		t.Fatalf("untag: %d %s", r.status, r.raw)
	}
	if got := names("?tag_name=web"); got != "a,b" {
		t.Errorf("after untagging: %q", got)
	}
	if r := call(t, s, "POST", "/v2/tags/nope/resources", res); r.status != 404 {
		t.Errorf("unknown tag: %d", r.status)
	}
	bad := map[string]any{"resources": []map[string]string{{"resource_id": "1", "resource_type": "droplet"}}}
	if r := call(t, s, "POST", "/v2/tags/web/resources", bad); r.status != 404 {
		t.Errorf("unknown droplet: %d", r.status)
	}
	vol := map[string]any{"resources": []map[string]string{{"resource_id": "1", "resource_type": "volume"}}}
	if r := call(t, s, "POST", "/v2/tags/web/resources", vol); r.status != 422 {
		t.Errorf("volume: %d", r.status)
	}
	if r := call(t, s, "POST", "/v2/tags", map[string]any{"name": "no spaces"}); r.status != 400 || r.body["root_causes"] == nil {
		t.Errorf("bad tag name: %d %s", r.status, r.raw)
	}

	// deleting a tag untags; deleting by tag deletes
	if r := call(t, s, "DELETE", "/v2/tags/PROD", nil); r.status != 204 {
		t.Errorf("delete tag: %d", r.status)
	}
	if got := names("?tag_name=PROD"); got != "" {
		t.Errorf("after deleting the tag: %q", got)
	}
	if r := call(t, s, "DELETE", "/v2/droplets?tag_name=web", nil); r.status != 204 || r.header.Get("Content-Type") == "" {
		t.Errorf("delete by tag: %d %v", r.status, r.header)
	}
	if got := names(""); got != "c,d" {
		t.Errorf("after deleting by tag: %q", got)
	}
	if r := call(t, s, "DELETE", "/v2/droplets?tag_name=nope", nil); r.status != 404 {
		t.Errorf("delete by unknown tag: %d", r.status)
	}
	if r := call(t, s, "DELETE", "/v2/droplets", nil); r.status != 422 {
		t.Errorf("delete without tag_name: %d", r.status)
	}
}

// clock is a settable clock for Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// waitProvisioned waits until the backend call for droplet id returned.
func waitProvisioned(t *testing.T, s *Server, id int) {
	t.Helper()
	s.Lock()
	d := s.Host(id, s.Now())
	s.Unlock()
	if d == nil {
		return // a failed Provision already removed it
	}
	select {
	case <-d.Provisioning():
	case <-time.After(5 * time.Second):
		t.Fatal("provisioning did not finish")
	}
}

func TestBootDelay(t *testing.T) {
	clk := &clock{t: time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)}
	s := newTestServer(t, testConfig{BootDelay: 30 * time.Second, Now: clk.Now})
	d := obj(createDroplet(t, s, map[string]any{"name": "slow"})["droplet"])
	id := num(d["id"])
	waitProvisioned(t, s, id)
	get := func() map[string]any {
		return obj(call(t, s, "GET", "/v2/droplets/"+strconv.Itoa(id), nil).body["droplet"])
	}
	createAction := func() map[string]any {
		return obj(list(call(t, s, "GET", "/v2/droplets/"+strconv.Itoa(id)+"/actions", nil).body["actions"])[0])
	}

	clk.Advance(29 * time.Second)
	if d := get(); d["status"] != "new" || len(list(obj(d["networks"])["v4"])) != 0 {
		t.Errorf("at 29s: %v, networks %v", d["status"], d["networks"])
	}
	if a := createAction(); a["status"] != "in-progress" || a["completed_at"] != nil {
		t.Errorf("create action at 29s: %v", a)
	}
	if r := call(t, s, "POST", "/v2/droplets/"+strconv.Itoa(id)+"/actions", map[string]any{"type": "reboot"}); r.status != 422 {
		t.Errorf("action on a new droplet: %d", r.status)
	}
	clk.Advance(time.Second)
	d = get()
	if d["status"] != "active" {
		t.Fatalf("at 30s: %v", d["status"])
	}
	v4 := list(obj(d["networks"])["v4"])
	if len(v4) != 2 || obj(v4[0])["type"] != "private" || obj(v4[1])["type"] != "public" || obj(v4[1])["gateway"] == "" {
		t.Errorf("networks: %v", v4)
	}
	if a := createAction(); a["status"] != "completed" || a["completed_at"] != "2030-01-01T12:00:30Z" {
		t.Errorf("create action at 30s: %v", a)
	}
}

func TestActions(t *testing.T) {
	clk := &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newTestServer(t, testConfig{ActionDelay: 10 * time.Second, Now: clk.Now})
	id := num(obj(createDroplet(t, s, map[string]any{"name": "a"})["droplet"])["id"])
	waitProvisioned(t, s, id)
	path := "/v2/droplets/" + strconv.Itoa(id)
	for _, c := range []struct{ typ, status string }{
		{"power_off", "off"}, {"power_on", "active"}, {"shutdown", "off"}, {"reboot", "active"}, {"power_cycle", "active"},
	} {
		r := call(t, s, "POST", path+"/actions", map[string]any{"type": c.typ})
		a := obj(r.body["action"])
		if r.status != 201 || a["status"] != "in-progress" || a["type"] != c.typ || a["resource_type"] != "droplet" {
			t.Fatalf("%s: %d %s", c.typ, r.status, r.raw)
		}
		if got := obj(call(t, s, "GET", path, nil).body["droplet"])["status"]; got != c.status {
			t.Errorf("after %s: %v, want %s", c.typ, got, c.status)
		}
		aid := strconv.Itoa(num(a["id"]))
		if got := obj(call(t, s, "GET", path+"/actions/"+aid, nil).body["action"])["status"]; got != "in-progress" {
			t.Errorf("%s at once: %v", c.typ, got)
		}
		clk.Advance(10 * time.Second)
		if got := obj(call(t, s, "GET", "/v2/actions/"+aid, nil).body["action"])["status"]; got != "completed" {
			t.Errorf("%s after the delay: %v", c.typ, got)
		}
	}
	if r := call(t, s, "POST", path+"/actions", map[string]any{"type": "rename", "name": "b.example"}); r.status != 201 {
		t.Errorf("rename: %d", r.status)
	}
	if got := obj(call(t, s, "GET", path, nil).body["droplet"])["name"]; got != "b.example" {
		t.Errorf("renamed to %v", got)
	}
	for _, body := range []map[string]any{{"type": "rename", "name": "bad name"}, {"type": "snapshot"}, {}} {
		if r := call(t, s, "POST", path+"/actions", body); r.status != 422 {
			t.Errorf("%v: %d", body, r.status)
		}
	}
	if r := call(t, s, "GET", path+"/actions", nil); num(obj(r.body["meta"])["total"]) != 7 {
		t.Errorf("actions: %s", r.raw)
	}
	if r := call(t, s, "GET", "/v2/droplets/1/actions", nil); r.status != 404 {
		t.Errorf("actions of an unknown droplet: %d", r.status)
	}
	if r := call(t, s, "POST", "/v2/droplets/1/actions", map[string]any{"type": "reboot"}); r.status != 404 {
		t.Errorf("action on an unknown droplet: %d", r.status)
	}
	other := num(obj(createDroplet(t, s, map[string]any{"name": "other"})["droplet"])["id"])
	first := num(obj(list(call(t, s, "GET", path+"/actions", nil).body["actions"])[0])["id"])
	if r := call(t, s, "GET", fmt.Sprintf("/v2/droplets/%d/actions/%d", other, first), nil); r.status != 404 {
		t.Errorf("another droplet's action: %d", r.status)
	}
}

func TestDeleteDelay(t *testing.T) {
	clk := &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newTestServer(t, testConfig{DeleteDelay: 5 * time.Second, Now: clk.Now})
	id := strconv.Itoa(num(obj(createDroplet(t, s, map[string]any{"name": "a"})["droplet"])["id"]))
	if r := call(t, s, "DELETE", "/v2/droplets/"+id, nil); r.status != 204 {
		t.Fatalf("delete: %d", r.status)
	}
	if r := call(t, s, "GET", "/v2/droplets/"+id, nil); r.status != 200 {
		t.Errorf("right after delete: %d", r.status)
	}
	clk.Advance(5 * time.Second)
	if r := call(t, s, "GET", "/v2/droplets/"+id, nil); r.status != 404 {
		t.Errorf("after the delay: %d", r.status)
	}
	if r := call(t, s, "DELETE", "/v2/droplets/"+id, nil); r.status != 404 {
		t.Errorf("delete again: %d", r.status)
	}
}

func TestFaultsHTTP(t *testing.T) {
	clk := &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newTestServer(t, testConfig{Now: clk.Now})
	r := call(t, s, "POST", "/_localcloud/faults", map[string]any{"method": "GET", "path_prefix": "/v2/droplets", "status": 429, "count": 2, "retry_after_seconds": 7})
	if r.status != 201 {
		t.Fatalf("inject: %d %s", r.status, r.raw)
	}
	if r := call(t, s, "GET", "/v2/sizes", nil); r.status != 200 {
		t.Errorf("other path: %d", r.status)
	}
	if r := call(t, s, "POST", "/v2/droplets", map[string]any{"name": "x", "region": "nyc3", "size": "s-1vcpu-1gb", "image": "debian-12-x64"}); r.status != 202 {
		t.Errorf("other method: %d", r.status)
	}
	for i := 0; i < 2; i++ {
		r := call(t, s, "GET", "/v2/droplets?page=1", nil)
		if r.status != 429 || r.header.Get("Retry-After") != "7" || r.header.Get("ratelimit-remaining") != "0" ||
			r.header.Get("ratelimit-reset") != strconv.FormatInt(clk.Now().Unix()+7, 10) || r.body["id"] != "too_many_requests" {
			t.Errorf("faulted request %d: %d %v %s", i, r.status, r.header, r.raw)
		}
	}
	if r := call(t, s, "GET", "/v2/droplets", nil); r.status != 200 {
		t.Errorf("after the count: %d", r.status)
	}

	call(t, s, "POST", "/_localcloud/faults", map[string]any{"status": 500, "count": 3})
	call(t, s, "POST", "/_localcloud/faults", map[string]any{"status": 503})
	if r := call(t, s, "GET", "/_localcloud/faults", nil); len(list(r.body["faults"])) != 2 {
		t.Errorf("pending: %s", r.raw)
	}
	if r := call(t, s, "GET", "/v2/account", nil); r.status != 500 || r.body["id"] != "server_error" {
		t.Errorf("500: %d %s", r.status, r.raw)
	}
	if r := call(t, s, "DELETE", "/_localcloud/faults", nil); r.status != 204 {
		t.Errorf("clear: %d", r.status)
	}
	if r := call(t, s, "GET", "/v2/account", nil); r.status != 200 {
		t.Errorf("after clearing: %d", r.status)
	}
	for _, bad := range []any{map[string]any{"status": 200}, map[string]any{"status": 500, "count": -1}} {
		if r := call(t, s, "POST", "/_localcloud/faults", bad); r.status != 422 {
			t.Errorf("%v: %d", bad, r.status)
		}
	}
	if r := call(t, s, "POST", "/_localcloud/faults", map[string]any{"status": 500, "bogus": 1}); r.status != 400 {
		t.Errorf("unknown field: %d", r.status)
	}
}

func TestFaultsGo(t *testing.T) {
	s := newTestServer(t, testConfig{})
	if err := s.InjectFault(Fault{Status: 503}); err != nil {
		t.Fatal(err)
	}
	r := call(t, s, "GET", "/v2/regions", nil)
	if r.status != 503 || r.header.Get("Retry-After") != "1" {
		t.Errorf("503: %d %v", r.status, r.header)
	}
	if len(s.Faults()) != 0 {
		t.Errorf("fault not consumed: %v", s.Faults())
	}
	if err := s.InjectFault(Fault{Status: 302}); err == nil {
		t.Error("302 accepted")
	}
	_ = s.InjectFault(Fault{Status: 500, Count: 5})
	s.ClearFaults()
	if r := call(t, s, "GET", "/v2/regions", nil); r.status != 200 {
		t.Errorf("after ClearFaults: %d", r.status)
	}
	// control paths are never faulted
	_ = s.InjectFault(Fault{Status: 500})
	if r := call(t, s, "GET", "/_localcloud/requests", nil); r.status != 200 {
		t.Errorf("control path faulted: %d", r.status)
	}
}

func TestCounters(t *testing.T) {
	s := newTestServer(t, testConfig{})
	a := num(obj(createDroplet(t, s, map[string]any{"name": "a"})["droplet"])["id"])
	b := num(obj(createDroplet(t, s, map[string]any{"name": "b"})["droplet"])["id"])
	for _, id := range []int{a, b, a} {
		call(t, s, "GET", "/v2/droplets/"+strconv.Itoa(id), nil)
	}
	call(t, s, "GET", "/v2/droplets?tag_name=x", nil)
	call(t, s, "GET", "/v2/tags/x", nil)
	call(t, s, "GET", "/v2/reserved_ips/192.0.2.1/actions/5", nil)
	call(t, s, "GET", "/v2/bogus", nil)
	_ = s.InjectFault(Fault{Status: 500})
	call(t, s, "GET", "/v2/droplets/"+strconv.Itoa(b), nil)

	want := map[string]int{
		"POST /v2/droplets":                             2,
		"GET /v2/droplets/{id}":                         4,
		"GET /v2/droplets":                              1,
		"GET /v2/tags/{name}":                           1,
		"GET /v2/bogus":                                 1,
		"GET /v2/reserved_ips/{ip}/actions/{action_id}": 1,
	}
	got := s.Requests()
	if got.Total != 10 {
		t.Errorf("total %d, want 10", got.Total)
	}
	for k, n := range want {
		if got.Requests[k] != n {
			t.Errorf("%s: %d, want %d (all: %v)", k, got.Requests[k], n, got.Requests)
		}
	}
	if len(got.Requests) != len(want) {
		t.Errorf("keys %v", got.Requests)
	}

	r := call(t, s, "GET", "/_localcloud/requests", nil)
	if num(r.body["total"]) != 10 || num(obj(r.body["requests"])["GET /v2/droplets/{id}"]) != 4 {
		t.Errorf("HTTP counters: %s", r.raw)
	}
	if r := call(t, s, "DELETE", "/_localcloud/requests", nil); r.status != 204 {
		t.Errorf("reset: %d", r.status)
	}
	if got := s.Requests(); got.Total != 0 || len(got.Requests) != 0 {
		t.Errorf("after reset: %+v", got)
	}
	s.ResetRequests()
}

func TestSSHKeys(t *testing.T) {
	s := newTestServer(t, testConfig{})
	// ssh-ed25519 key with a zero public key: valid wire format.
	blob := append([]byte{0, 0, 0, 11}, "ssh-ed25519"...)
	blob = append(blob, 0, 0, 0, 32)
	blob = append(blob, make([]byte, 32)...)
	pub := "ssh-ed25519 " + b64(blob) + " test"
	r := call(t, s, "POST", "/v2/account/keys", map[string]any{"name": "k", "public_key": pub})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	k := obj(r.body["ssh_key"])
	fp := str(k["fingerprint"])
	if len(fp) != 47 || strings.Count(fp, ":") != 15 {
		t.Errorf("fingerprint %q", fp)
	}
	for _, p := range []string{strconv.Itoa(num(k["id"])), fp} {
		if r := call(t, s, "GET", "/v2/account/keys/"+p, nil); r.status != 200 {
			t.Errorf("get %s: %d", p, r.status)
		}
	}
	if r := call(t, s, "POST", "/v2/account/keys", map[string]any{"name": "k2", "public_key": pub}); r.status != 422 {
		t.Errorf("duplicate: %d", r.status)
	}
	for _, bad := range []string{"", "ssh-ed25519", "ssh-rsa " + b64(blob)} {
		if r := call(t, s, "POST", "/v2/account/keys", map[string]any{"name": "x", "public_key": bad}); r.status != 422 {
			t.Errorf("%q: %d", bad, r.status)
		}
	}
	// a droplet can name the key by id or fingerprint
	d := createDroplet(t, s, map[string]any{"name": "k", "ssh_keys": []any{num(k["id"]), fp}})
	if d == nil {
		t.Fatal("no droplet")
	}
	if r := call(t, s, "DELETE", "/v2/account/keys/"+fp, nil); r.status != 204 {
		t.Errorf("delete: %d", r.status)
	}
	if r := call(t, s, "GET", "/v2/account/keys/"+fp, nil); r.status != 404 {
		t.Errorf("after delete: %d", r.status)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// recordingBackend wraps MemoryBackend, records calls and can block or fail
// Provision.
type recordingBackend struct {
	*MemoryBackend
	mu      sync.Mutex
	calls   []string
	gate    chan struct{} // Provision waits on it when not nil
	failFor string        // Provision fails for droplets of this name
	reqs    []HostRequest
}

func (b *recordingBackend) log(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, fmt.Sprintf(format, args...))
}

func (b *recordingBackend) Calls() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string{}, b.calls...)
}

func (b *recordingBackend) Provision(ctx context.Context, req HostRequest) (HostAddrs, error) {
	b.mu.Lock()
	b.reqs = append(b.reqs, req)
	b.mu.Unlock()
	if b.gate != nil {
		select {
		case <-b.gate:
		case <-ctx.Done():
			return HostAddrs{}, ctx.Err()
		}
	}
	b.log("provision %s", req.Name)
	if req.Name == b.failFor {
		return HostAddrs{}, errors.New("no capacity")
	}
	return b.MemoryBackend.Provision(ctx, req)
}

func (b *recordingBackend) Destroy(ctx context.Context, id int) error {
	b.log("destroy %d", id)
	return b.MemoryBackend.Destroy(ctx, id)
}

func (b *recordingBackend) AssignIP(ctx context.Context, ip netip.Addr, id int) error {
	b.log("assign %s %d", ip, id)
	return b.MemoryBackend.AssignIP(ctx, ip, id)
}

func (b *recordingBackend) UnassignIP(ctx context.Context, ip netip.Addr) error {
	b.log("unassign %s", ip)
	return b.MemoryBackend.UnassignIP(ctx, ip)
}

func (b *recordingBackend) Power(_ context.Context, id int, action string) error {
	b.log("power %d %s", id, action)
	return nil
}

func TestBackendSeam(t *testing.T) {
	be := &recordingBackend{MemoryBackend: NewMemoryBackend(), gate: make(chan struct{}), failFor: "doomed"}
	s := newTestServer(t, testConfig{Backend: be})
	d := obj(createDroplet(t, s, map[string]any{"name": "slow", "user_data": "#!/bin/sh\necho hi\n", "tags": []string{"x"}, "ipv6": true})["droplet"])
	id := num(d["id"])
	time.Sleep(20 * time.Millisecond)
	if got := obj(call(t, s, "GET", "/v2/droplets/"+strconv.Itoa(id), nil).body["droplet"])["status"]; got != "new" {
		t.Errorf("while provisioning: %v", got)
	}
	close(be.gate)
	active := waitStatus(t, s, id, "active")
	if v6 := list(obj(active["networks"])["v6"]); len(v6) != 1 {
		t.Errorf("ipv6 networks: %v", v6)
	}
	be.mu.Lock()
	req := be.reqs[0]
	be.mu.Unlock()
	if req.UserData != "#!/bin/sh\necho hi\n" || req.ID != id || req.Region != "nyc3" || req.MemoryMB != 1024 || !req.IPv6 || len(req.Tags) != 1 {
		t.Errorf("HostRequest = %+v", req)
	}

	// a failed Provision: action errored, droplet gone
	doomed := createDroplet(t, s, map[string]any{"name": "doomed"})
	did := num(obj(doomed["droplet"])["id"])
	aid := num(obj(list(obj(doomed["links"])["actions"])[0])["id"])
	waitProvisioned(t, s, did)
	if r := call(t, s, "GET", "/v2/droplets/"+strconv.Itoa(did), nil); r.status != 404 {
		t.Errorf("failed droplet: %d", r.status)
	}
	if got := obj(call(t, s, "GET", "/v2/actions/"+strconv.Itoa(aid), nil).body["action"])["status"]; got != "errored" {
		t.Errorf("failed create action: %v", got)
	}

	// power goes through the PowerController, in the background: the
	// droplet is off when it returned
	call(t, s, "POST", "/v2/droplets/"+strconv.Itoa(id)+"/actions", map[string]any{"type": "power_off"})
	waitStatus(t, s, id, "off")

	// reserved IP: allocate, assign, and unassign before destroy
	r := call(t, s, "POST", "/v2/reserved_ips", map[string]any{"droplet_id": id})
	if r.status != 202 {
		t.Fatalf("reserved ip: %d %s", r.status, r.raw)
	}
	ipStr := str(obj(r.body["reserved_ip"])["ip"])
	ip := netip.MustParseAddr(ipStr)
	if host, ok := be.Assignment(ip); !ok || host != id {
		t.Errorf("backend assignment: %d %v", host, ok)
	}
	if r := call(t, s, "DELETE", "/v2/droplets/"+strconv.Itoa(id), nil); r.status != 204 {
		t.Fatalf("delete: %d", r.status)
	}
	deadline := time.Now().Add(5 * time.Second)
	want := []string{
		"provision slow", "provision doomed", fmt.Sprintf("power %d power_off", id),
		fmt.Sprintf("assign %s %d", ip, id), "unassign " + ipStr, fmt.Sprintf("destroy %d", id),
	}
	for len(be.Calls()) < len(want) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := strings.Join(be.Calls(), "; "); got != strings.Join(want, "; ") {
		t.Errorf("backend calls:\n got %s\nwant %s", got, strings.Join(want, "; "))
	}
	if got := obj(call(t, s, "GET", "/v2/reserved_ips/"+ipStr, nil).body["reserved_ip"])["droplet"]; got != nil {
		t.Errorf("reserved IP still assigned to %v", got)
	}
}

func TestDeleteWhileProvisioning(t *testing.T) {
	be := &recordingBackend{MemoryBackend: NewMemoryBackend(), gate: make(chan struct{})}
	s := newTestServer(t, testConfig{Backend: be})
	id := num(obj(createDroplet(t, s, map[string]any{"name": "a"})["droplet"])["id"])
	if r := call(t, s, "DELETE", "/v2/droplets/"+strconv.Itoa(id), nil); r.status != 204 {
		t.Fatalf("delete: %d", r.status)
	}
	time.Sleep(10 * time.Millisecond)
	if c := be.Calls(); len(c) != 0 {
		t.Fatalf("backend called before Provision returned: %v", c)
	}
	close(be.gate)
	deadline := time.Now().Add(5 * time.Second)
	for len(be.Calls()) < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := strings.Join(be.Calls(), "; "); got != fmt.Sprintf("provision a; destroy %d", id) {
		t.Errorf("calls: %s", got)
	}
}

func TestReservedIPs(t *testing.T) {
	s := newTestServer(t, testConfig{ReservedIPLimit: 3})
	a := num(obj(createDroplet(t, s, map[string]any{"name": "a"})["droplet"])["id"])
	b := num(obj(createDroplet(t, s, map[string]any{"name": "b"})["droplet"])["id"])
	far := num(obj(createDroplet(t, s, map[string]any{"name": "far", "region": "lon1"})["droplet"])["id"])
	for _, id := range []int{a, b, far} {
		waitStatus(t, s, id, "active")
	}
	r := call(t, s, "POST", "/v2/reserved_ips", map[string]any{"region": "nyc3"})
	if r.status != 202 || obj(r.body["reserved_ip"])["droplet"] != nil {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	ip := str(obj(r.body["reserved_ip"])["ip"])
	act := func(body map[string]any) resp { return call(t, s, "POST", "/v2/reserved_ips/"+ip+"/actions", body) }
	publics := func(id int) []string {
		var out []string
		for _, n := range list(obj(obj(call(t, s, "GET", "/v2/droplets/"+strconv.Itoa(id), nil).body["droplet"])["networks"])["v4"]) {
			if obj(n)["type"] == "public" {
				out = append(out, str(obj(n)["ip_address"]))
			}
		}
		return out
	}

	if r := act(map[string]any{"type": "assign", "droplet_id": a}); r.status != 201 || obj(r.body["action"])["type"] != "assign_ip" {
		t.Fatalf("assign: %d %s", r.status, r.raw)
	}
	if p := publics(a); len(p) != 2 || p[1] != ip {
		t.Errorf("droplet a publics %v", p)
	}
	// move it: assign to b while on a
	if r := act(map[string]any{"type": "assign", "droplet_id": b}); r.status != 201 {
		t.Fatalf("reassign: %d %s", r.status, r.raw)
	}
	if len(publics(a)) != 1 || len(publics(b)) != 2 {
		t.Errorf("after moving: a %v, b %v", publics(a), publics(b))
	}
	for _, c := range []struct {
		body map[string]any
		want int
	}{
		{map[string]any{"type": "assign", "droplet_id": far}, 422}, // other region
		{map[string]any{"type": "assign", "droplet_id": 1}, 422},   // no such droplet
		{map[string]any{"type": "assign"}, 422},
		{map[string]any{"type": "teleport"}, 422},
	} {
		if r := act(c.body); r.status != c.want {
			t.Errorf("%v: %d, want %d", c.body, r.status, c.want)
		}
	}
	if r := act(map[string]any{"type": "unassign"}); r.status != 201 {
		t.Errorf("unassign: %d", r.status)
	}
	if r := act(map[string]any{"type": "unassign"}); r.status != 422 {
		t.Errorf("unassign again: %d", r.status)
	}
	if r := call(t, s, "GET", "/v2/reserved_ips/"+ip+"/actions", nil); num(obj(r.body["meta"])["total"]) != 3 {
		t.Errorf("actions: %s", r.raw)
	}
	// limit, bad requests
	call(t, s, "POST", "/v2/reserved_ips", map[string]any{"droplet_id": far})
	call(t, s, "POST", "/v2/reserved_ips", map[string]any{"region": "fra1"})
	for _, body := range []map[string]any{{"region": "ams3"}, {}, {"region": "atlantis"}} {
		if r := call(t, s, "POST", "/v2/reserved_ips", body); r.status != 422 {
			t.Errorf("%v: %d", body, r.status)
		}
	}
	if r := call(t, s, "DELETE", "/v2/reserved_ips/"+ip, nil); r.status != 204 {
		t.Errorf("delete: %d", r.status)
	}
	for _, p := range []string{"/v2/reserved_ips/" + ip, "/v2/reserved_ips/not-an-ip", "/v2/reserved_ips/" + ip + "/actions"} {
		if r := call(t, s, "GET", p, nil); r.status != 404 {
			t.Errorf("%s: %d", p, r.status)
		}
	}
	if r := call(t, s, "GET", "/v2/reserved_ips", nil); num(obj(r.body["meta"])["total"]) != 2 {
		t.Errorf("list: %s", r.raw)
	}
}

func TestNewDropletCannotTakeReservedIP(t *testing.T) {
	be := &recordingBackend{MemoryBackend: NewMemoryBackend(), gate: make(chan struct{})}
	s := newTestServer(t, testConfig{Backend: be})
	id := num(obj(createDroplet(t, s, map[string]any{"name": "a"})["droplet"])["id"])
	if r := call(t, s, "POST", "/v2/reserved_ips", map[string]any{"droplet_id": id}); r.status != 422 {
		t.Errorf("reserved IP for a new droplet: %d %s", r.status, r.raw)
	}
	close(be.gate)
}

func TestDropletLimit(t *testing.T) {
	s := newTestServer(t, testConfig{DropletLimit: 3})
	call(t, s, "POST", "/v2/droplets", map[string]any{"names": []string{"a", "b"}, "region": "nyc3", "size": "s-1vcpu-1gb", "image": "debian-12-x64"})
	r := call(t, s, "POST", "/v2/droplets", map[string]any{"names": []string{"c", "d"}, "region": "nyc3", "size": "s-1vcpu-1gb", "image": "debian-12-x64"})
	if r.status != 422 {
		t.Errorf("over the limit: %d", r.status)
	}
	if r := call(t, s, "GET", "/v2/account", nil); num(obj(r.body["account"])["droplet_limit"]) != 3 {
		t.Errorf("account: %s", r.raw)
	}
}

func TestParallelCreates(t *testing.T) {
	run, err := start(t.Context(), testConfig{Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = run.Close() }()
	const n = 12
	var wg sync.WaitGroup
	ids := make([]int, n)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, _ := json.Marshal(map[string]any{"name": fmt.Sprintf("p%d", i), "region": "sfo3", "size": "s-1vcpu-1gb", "image": "debian-12-x64", "tags": []string{"par"}})
			req, _ := http.NewRequest("POST", run.URL+"/v2/droplets", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+testToken)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer func() { _ = res.Body.Close() }()
			var out struct{ Droplet struct{ ID int } }
			if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != 202 {
				errs <- fmt.Errorf("create %d: %d %v", i, res.StatusCode, err)
				return
			}
			ids[i] = out.Droplet.ID
			// list, as drivers do, concurrently with the other creates
			req, _ = http.NewRequest("GET", run.URL+"/v2/droplets?tag_name=par", nil)
			req.Header.Set("Authorization", "Bearer "+testToken)
			res, err = http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			_ = res.Body.Close()
			if res.StatusCode != 200 {
				errs <- fmt.Errorf("list: %d", res.StatusCode)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	seen := map[int]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("duplicate id %d", id)
		}
		seen[id] = true
		waitStatus(t, run.Server, id, "active")
	}
	if got := run.Server.Requests().Requests["POST /v2/droplets"]; got != n {
		t.Errorf("counted %d creates", got)
	}
}

func TestStartLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:80", ":0", "nohost"} {
		if _, err := start(t.Context(), testConfig{Addr: addr}); err == nil {
			t.Errorf("Start(%q) succeeded", addr)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	run, err := start(ctx, testConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(run.URL, "http://127.0.0.1:") {
		t.Errorf("URL %s", run.URL)
	}
	cancel() // closes the server
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := http.Get(run.URL + "/v2/account")
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("still serving after the context ended")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := run.Close(); err != nil {
		t.Errorf("Close after cancel: %v", err)
	}
}

func TestMiddlewareHook(t *testing.T) {
	var seen []int
	var mu sync.Mutex
	s := newTestServer(t, testConfig{Middleware: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			mu.Lock()
			seen = append(seen, rec.Code)
			mu.Unlock()
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
		})
	}})
	call(t, s, "GET", "/v2/account", nil)
	callToken(t, s, "bad", "GET", "/v2/account", nil)
	if fmt.Sprint(seen) != "[200 401]" {
		t.Errorf("middleware saw %v", seen)
	}
	if s.Handler() == nil {
		t.Error("Handler() = nil")
	}
}

// checkingBackend refuses user data containing "refuse me", as real
// hosts refuse a daemon.json they may not run.
type checkingBackend struct{ *MemoryBackend }

func (checkingBackend) CheckHostRequest(req HostRequest) error {
	if strings.Contains(req.UserData, "refuse me") {
		return errors.New("daemon.json: not on this machine")
	}
	return nil
}

func TestCreateDropletRefusedUserData(t *testing.T) {
	s := newTestServer(t, testConfig{Backend: checkingBackend{NewMemoryBackend()}})
	r := call(t, s, "POST", "/v2/droplets", map[string]any{"name": "a", "region": "fra1", "size": "s-1vcpu-1gb", "image": "debian-12-x64", "user_data": "refuse me"})
	if r.status != 422 || r.body["id"] != "unprocessable_entity" || !strings.Contains(str(r.body["message"]), "user_data refused: daemon.json: not on this machine") {
		t.Fatalf("create = %d %v", r.status, r.body)
	}
	if r := call(t, s, "GET", "/v2/droplets", nil); len(list(r.body["droplets"])) != 0 {
		t.Fatalf("a refused create left droplets: %v", r.body)
	}
	if r := call(t, s, "POST", "/v2/droplets", map[string]any{"name": "b", "region": "fra1", "size": "s-1vcpu-1gb", "image": "debian-12-x64", "user_data": "#!/bin/sh\n"}); r.status != 202 {
		t.Fatalf("an accepted create = %d %v", r.status, r.body)
	}
}
