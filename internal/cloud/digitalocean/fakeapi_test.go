package digitalocean

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/godo"
)

// fakeAPI is the part of DigitalOcean's API the driver's unit tests need,
// in memory: droplets (create, multi-create, list by name or tag, get),
// droplet actions (power_off, power_on, resize — refused unless the
// droplet is off, as DigitalOcean does), actions, and reserved IPs. Actions
// complete on their first read. Hooks let a test break an answer after the
// server has acted.
type fakeAPI struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	droplets  []*godo.Droplet
	actions   map[int]*godo.Action
	ips       map[string]*godo.ReservedIP
	nextID    int
	requests  []string // "METHOD path", in order
	actionLog []string // droplet action types, in order

	// beforeCreate and afterCreate, when set, may answer a droplet create
	// before or after the droplets are made; they return false to go on.
	beforeCreate, afterCreate func(w http.ResponseWriter) bool
	// assignReservedIPs, when false, leaves a reserved IP created for a
	// droplet unassigned forever.
	assignReservedIPs bool
	// actionStatus, when set, is the status of an action when read.
	actionStatus func(*godo.Action) string
	// failIPCreates answers that many reserved IP creates 500 after
	// making the address ("done then 500").
	failIPCreates int
	// refuseIPCreates answers that many reserved IP creates 503 without
	// making anything.
	refuseIPCreates int
}

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{t: t, actions: map[int]*godo.Action{}, ips: map[string]*godo.ReservedIP{}, nextID: 100, assignReservedIPs: true}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/droplets", f.createDroplets)
	mux.HandleFunc("GET /v2/droplets", f.listDroplets)
	mux.HandleFunc("GET /v2/droplets/{id}", f.getDroplet)
	mux.HandleFunc("POST /v2/droplets/{id}/actions", f.dropletAction)
	mux.HandleFunc("GET /v2/actions/{id}", f.getAction)
	mux.HandleFunc("POST /v2/reserved_ips", f.createReservedIP)
	mux.HandleFunc("GET /v2/reserved_ips/{ip}", f.getReservedIP)
	mux.HandleFunc("GET /v2/reserved_ips", f.listReservedIPs)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, r.Method+" "+r.URL.Path)
		f.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// driver is a driver on the fake with fast retries and polls.
func (f *fakeAPI) driver() *Driver {
	f.t.Helper()
	d, err := New(Config{Token: "t", APIEndpoint: f.srv.URL, RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond, PollInterval: time.Millisecond})
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

// addDroplet adds a droplet as if created at created.
func (f *fakeAPI) addDroplet(name, size, status string, tags []string, created time.Time) *godo.Droplet {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.newDroplet(name, "nyc3", size, status, tags, created)
}

func (f *fakeAPI) newDroplet(name, region, size, status string, tags []string, created time.Time) *godo.Droplet {
	f.nextID++
	dr := &godo.Droplet{
		ID: f.nextID, Name: name, SizeSlug: size, Status: status, Tags: tags,
		Region: &godo.Region{Slug: region}, Image: &godo.Image{Slug: "debian-12-x64"},
		Created: created.UTC().Format(time.RFC3339),
	}
	f.droplets = append(f.droplets, dr)
	return dr
}

// calls counts the requests "METHOD path" received.
func (f *fakeAPI) calls(req string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if r == req {
			n++
		}
	}
	return n
}

// takeActions returns the droplet action types received since the last
// call, in order.
func (f *fakeAPI) takeActions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.actionLog
	f.actionLog = nil
	return out
}

func (f *fakeAPI) setActionStatus(fn func(*godo.Action) string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.actionStatus = fn
}

func (f *fakeAPI) named(name string) []godo.Droplet {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []godo.Droplet
	for _, dr := range f.droplets {
		if dr.Name == name {
			out = append(out, *dr)
		}
	}
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"id": "error", "message": msg})
}

func notFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "The resource you were accessing could not be found.")
}

func (f *fakeAPI) createDroplets(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name   string   `json:"name"`
		Names  []string `json:"names"`
		Region string   `json:"region"`
		Size   string   `json:"size"`
		Tags   []string `json:"tags"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	names := req.Names
	if len(names) == 0 {
		names = []string{req.Name}
	}
	if f.beforeCreate != nil && f.beforeCreate(w) {
		return
	}
	f.mu.Lock()
	var made []godo.Droplet
	for _, n := range names {
		made = append(made, *f.newDroplet(n, req.Region, req.Size, "new", req.Tags, time.Now()))
	}
	hook := f.afterCreate
	f.mu.Unlock()
	if hook != nil && hook(w) {
		return
	}
	if len(req.Names) == 0 {
		writeJSON(w, http.StatusAccepted, map[string]any{"droplet": made[0]})
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"droplets": made})
}

func (f *fakeAPI) listDroplets(w http.ResponseWriter, r *http.Request) {
	name, tag := r.URL.Query().Get("name"), r.URL.Query().Get("tag_name")
	f.mu.Lock()
	out := []godo.Droplet{}
	for _, dr := range f.droplets {
		if (name == "" || dr.Name == name) && (tag == "" || slices.Contains(dr.Tags, tag)) {
			out = append(out, *dr)
		}
	}
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"droplets": out, "links": map[string]any{}, "meta": map[string]int{"total": len(out)}})
}

// droplet finds a droplet by the path's id, or answers 404; f.mu is held.
func (f *fakeAPI) droplet(w http.ResponseWriter, r *http.Request) *godo.Droplet {
	id, _ := strconv.Atoi(r.PathValue("id"))
	for _, dr := range f.droplets {
		if dr.ID == id {
			return dr
		}
	}
	notFound(w)
	return nil
}

func (f *fakeAPI) getDroplet(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	dr := f.droplet(w, r)
	if dr == nil {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"droplet": dr})
}

func (f *fakeAPI) dropletAction(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Type string `json:"type"`
		Size string `json:"size"`
		Disk *bool  `json:"disk"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	dr := f.droplet(w, r)
	if dr == nil {
		return
	}
	f.actionLog = append(f.actionLog, req.Type)
	switch req.Type {
	case "power_off":
		dr.Status = "off"
	case "power_on":
		dr.Status = "active"
	case "resize":
		if dr.Status != "off" {
			writeError(w, http.StatusUnprocessableEntity, "Droplet must be powered off to resize.")
			return
		}
		if req.Disk == nil || *req.Disk {
			f.t.Errorf("resize with disk %v, want false", req.Disk)
		}
		if req.Size == "s-nowhere" {
			writeError(w, http.StatusUnprocessableEntity, "Size is not available in this region.")
			return
		}
		dr.SizeSlug = req.Size
	default:
		writeError(w, http.StatusUnprocessableEntity, "unknown action "+req.Type)
		return
	}
	f.nextID++
	a := &godo.Action{ID: f.nextID, Status: actionInProgress, Type: req.Type, ResourceID: dr.ID, ResourceType: "droplet"}
	f.actions[a.ID] = a
	writeJSON(w, http.StatusCreated, map[string]any{"action": a})
}

func (f *fakeAPI) getAction(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.Atoi(r.PathValue("id"))
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.actions[id]
	if !ok {
		notFound(w)
		return
	}
	a.Status = actionCompleted
	if f.actionStatus != nil {
		a.Status = f.actionStatus(a)
	}
	writeJSON(w, http.StatusOK, map[string]any{"action": a})
}

func (f *fakeAPI) createReservedIP(w http.ResponseWriter, r *http.Request) {
	var req godo.ReservedIPCreateRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuseIPCreates > 0 {
		f.refuseIPCreates--
		writeError(w, http.StatusServiceUnavailable, "not now")
		return
	}
	ip := &godo.ReservedIP{IP: fmt.Sprintf("203.0.113.%d", len(f.ips)+1), Region: &godo.Region{Slug: "nyc3"}}
	f.ips[ip.IP] = ip
	if req.DropletID != 0 && f.assignReservedIPs {
		ip.Droplet = &godo.Droplet{ID: req.DropletID}
	}
	if f.failIPCreates > 0 {
		f.failIPCreates--
		writeError(w, http.StatusInternalServerError, "done, then failed")
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"reserved_ip": &godo.ReservedIP{IP: ip.IP, Region: ip.Region}})
}

func (f *fakeAPI) listReservedIPs(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []*godo.ReservedIP{}
	for _, ip := range f.ips {
		out = append(out, ip)
	}
	writeJSON(w, http.StatusOK, map[string]any{"reserved_ips": out, "links": map[string]any{}, "meta": map[string]any{"total": len(out)}})
}

func (f *fakeAPI) getReservedIP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ip, ok := f.ips[r.PathValue("ip")]
	if !ok {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"reserved_ip": ip})
}
