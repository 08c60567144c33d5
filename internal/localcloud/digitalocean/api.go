package digitalocean

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Name is the API's name: the API of the hosts and addresses it creates
// and its key in the state file.
const Name = "digitalocean"

// Config configures the DigitalOcean API. The zero value is usable.
type Config struct {
	// ActionDelay is how long droplet and reserved IP actions stay
	// "in-progress"; default 0 (the POST answers in-progress, the next GET
	// completed).
	ActionDelay time.Duration
	// DropletLimit is the account's droplet limit; default 100.
	DropletLimit int
	// ReservedIPLimit is the account's reserved IP limit; default 20.
	ReservedIPLimit int
}

// API is DigitalOcean's v2 API as a localcloud.API: list it in
// localcloud.Config.APIs.
type API struct {
	cfg  Config
	s    *localcloud.Server
	mux  *http.ServeMux
	st   state      // guarded by s.Lock
	rate rateWindow // guarded by s.Lock
	// fw pushes the droplets' firewall rules (effectiveRules).
	fw *localcloud.FirewallPusher
}

var _ localcloud.API = (*API)(nil)

// New returns the DigitalOcean API for cfg, to mount on one Server.
func New(cfg Config) *API {
	if cfg.DropletLimit == 0 {
		cfg.DropletLimit = 100
	}
	if cfg.ReservedIPLimit == 0 {
		cfg.ReservedIPLimit = 20
	}
	a := &API{cfg: cfg}
	a.st.init()
	a.mux = a.routes()
	return a
}

// Name implements localcloud.API.
func (a *API) Name() string { return Name }

// Prefix implements localcloud.API: the API is served under /v2/.
func (a *API) Prefix() string { return "/v2/" }

// Mount implements localcloud.API.
func (a *API) Mount(s *localcloud.Server) {
	if a.s != nil {
		panic("digitalocean: API mounted twice")
	}
	a.s = s
	a.fw = localcloud.NewFirewallPusher(s, localcloud.FirewallPushConfig{Rules: a.effectiveRules, LogPrefix: "localcloud: "})
}

// ServeHTTP implements localcloud.API.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.rateHeaders(w)
	a.mux.ServeHTTP(w, r)
}

// Route implements localcloud.API: the route pattern, or the method and
// path when none matches.
func (a *API) Route(r *http.Request) string {
	_, pattern := a.mux.Handler(r)
	if pattern == "" || pattern == "/v2/" {
		return r.Method + " " + r.URL.Path
	}
	return pattern
}

// Refuse implements localcloud.API, as DigitalOcean answers: 401
// Unauthorized, and for injected faults 429 with ratelimit-remaining 0 and
// ratelimit-reset at Retry-After, 500, 503 or the status's own words.
func (a *API) Refuse(w http.ResponseWriter, r *http.Request, status int) {
	a.rateHeaders(w)
	h := w.Header()
	e := ew(w)
	switch status {
	case http.StatusUnauthorized:
		e.error(status, "Unauthorized", "Unable to authenticate you")
	case http.StatusTooManyRequests:
		retry, _ := strconv.Atoi(h.Get("Retry-After"))
		h.Set("Ratelimit-Remaining", "0")
		h.Set("Ratelimit-Reset", strconv.FormatInt(a.s.Now().Add(time.Duration(retry)*time.Second).Unix(), 10))
		e.error(status, "too_many_requests", "API rate limit exceeded.")
	case http.StatusInternalServerError:
		e.error(status, "server_error", "Server Error")
	case http.StatusServiceUnavailable:
		e.error(status, "service_unavailable", "Service Unavailable")
	default:
		e.error(status, strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "_")), "Injected fault: "+http.StatusText(status))
	}
}

// rateHeaders sets DigitalOcean's rate-limit headers, counting r.
func (a *API) rateHeaders(w http.ResponseWriter) {
	now := a.s.Now()
	a.s.Lock()
	limit, remaining, reset := a.rate.take(now)
	a.s.Unlock()
	h := w.Header()
	h.Set("Ratelimit-Limit", strconv.Itoa(limit))
	h.Set("Ratelimit-Remaining", strconv.Itoa(remaining))
	h.Set("Ratelimit-Reset", strconv.FormatInt(reset, 10))
}

// rateWindow mimics DigitalOcean's hourly rate-limit headers. It counts but
// does not enforce: use a fault to get a 429.
type rateWindow struct {
	start time.Time
	n     int
}

const rateLimit = 5000

func (rw *rateWindow) take(now time.Time) (limit, remaining int, reset int64) {
	if rw.start.IsZero() || now.Sub(rw.start) >= time.Hour {
		rw.start, rw.n = now, 0
	}
	rw.n++
	return rateLimit, max(0, rateLimit-rw.n), rw.start.Add(time.Hour).Unix()
}

// routes routes /v2. Patterns double as the request counter keys.
func (a *API) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /v2/account", a.getAccount)

	m.HandleFunc("GET /v2/regions", a.listRegions)
	m.HandleFunc("GET /v2/sizes", a.listSizes)
	m.HandleFunc("GET /v2/images", a.listImages)
	m.HandleFunc("GET /v2/images/{id}", a.getImage)

	m.HandleFunc("GET /v2/account/keys", a.listKeys)
	m.HandleFunc("POST /v2/account/keys", a.createKey)
	m.HandleFunc("GET /v2/account/keys/{id}", a.getKey)
	m.HandleFunc("PUT /v2/account/keys/{id}", a.updateKey)
	m.HandleFunc("DELETE /v2/account/keys/{id}", a.deleteKey)

	m.HandleFunc("GET /v2/tags", a.listTags)
	m.HandleFunc("POST /v2/tags", a.createTag)
	m.HandleFunc("GET /v2/tags/{name}", a.getTag)
	m.HandleFunc("DELETE /v2/tags/{name}", a.deleteTag)
	m.HandleFunc("POST /v2/tags/{name}/resources", a.tagResources)
	m.HandleFunc("DELETE /v2/tags/{name}/resources", a.untagResources)

	m.HandleFunc("GET /v2/droplets", a.listDroplets)
	m.HandleFunc("POST /v2/droplets", a.createDroplets)
	m.HandleFunc("DELETE /v2/droplets", a.deleteDropletsByTag)
	m.HandleFunc("GET /v2/droplets/{id}", a.getDropletHandler)
	m.HandleFunc("DELETE /v2/droplets/{id}", a.deleteDroplet)
	m.HandleFunc("GET /v2/droplets/{id}/actions", a.listDropletActions)
	m.HandleFunc("POST /v2/droplets/{id}/actions", a.postDropletAction)
	m.HandleFunc("GET /v2/droplets/{id}/actions/{action_id}", a.getDropletAction)

	m.HandleFunc("GET /v2/actions", a.listActions)
	m.HandleFunc("GET /v2/actions/{id}", a.getAction)

	m.HandleFunc("GET /v2/reserved_ips", a.listRIPs)
	m.HandleFunc("POST /v2/reserved_ips", a.createRIP)
	m.HandleFunc("GET /v2/reserved_ips/{ip}", a.getRIP)
	m.HandleFunc("DELETE /v2/reserved_ips/{ip}", a.deleteRIP)
	m.HandleFunc("GET /v2/reserved_ips/{ip}/actions", a.listRIPActions)
	m.HandleFunc("POST /v2/reserved_ips/{ip}/actions", a.postRIPAction)
	m.HandleFunc("GET /v2/reserved_ips/{ip}/actions/{action_id}", a.getRIPAction)

	a.lbRoutes(m)
	a.dbRoutes(m)
	a.firewallRoutes(m)
	a.projectRoutes(m)

	// Anything else under /v2, including a known path with the wrong
	// method, is a JSON 404 as on DigitalOcean.
	m.HandleFunc("/v2/", func(w http.ResponseWriter, r *http.Request) { ew(w).notFound() })
	return m
}

// pathID parses a numeric path value; ok is false when it is not a positive
// integer (the caller answers 404).
func pathID(r *http.Request, name string) (int, bool) {
	n, err := strconv.Atoi(r.PathValue(name))
	return n, err == nil && n > 0
}

// account

func (a *API) getAccount(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"account": map[string]any{
		"droplet_limit":     a.cfg.DropletLimit,
		"floating_ip_limit": a.cfg.ReservedIPLimit,
		"reserved_ip_limit": a.cfg.ReservedIPLimit,
		"volume_limit":      0,
		"email":             "dev@localcloud.invalid",
		"name":              "localcloud",
		"uuid":              "6c0c1c1c9b1e4f0c8c1a0c1c1c1c1c1c1c1c1c1c",
		"email_verified":    true,
		"status":            "active",
		"status_message":    "",
		"team":              map[string]any{"uuid": "0c1c1c1c6f1a4b7e9a0c1c0ca1c1c0de00000000", "name": "localcloud"},
	}})
}

// catalog

func (a *API) listRegions(w http.ResponseWriter, r *http.Request) {
	out := make([]regionJSON, 0, len(regions))
	for _, rg := range regions {
		out = append(out, renderRegion(rg))
	}
	writeList(w, r, "regions", out)
}

func (a *API) listSizes(w http.ResponseWriter, r *http.Request) {
	out := make([]sizeJSON, 0, len(sizes))
	for _, sz := range sizes {
		out = append(out, renderSize(sz))
	}
	writeList(w, r, "sizes", out)
}

func (a *API) listImages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	out := []imageJSON{}
	// Every catalog image is a public distribution image: none is an
	// application, private (user) or tagged image.
	if q.Get("type") != "application" && q.Get("private") != "true" && q.Get("tag_name") == "" {
		for _, im := range images {
			out = append(out, renderImage(im))
		}
	}
	writeList(w, r, "images", out)
}

func (a *API) getImage(w http.ResponseWriter, r *http.Request) {
	im, ok := findImage(r.PathValue("id"))
	if !ok {
		ew(w).notFound()
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"image": renderImage(im)})
}

// SSH keys

func renderKey(k *sshKey) sshKeyJSON {
	return sshKeyJSON{ID: k.id, Fingerprint: k.fingerprint, PublicKey: k.publicKey, Name: k.name}
}

// keyByIDOrFingerprint finds a key. Call with s.mu held.
func (a *API) keyByIDOrFingerprint(v string) *sshKey {
	if n, err := strconv.Atoi(v); err == nil {
		return a.st.keys[n]
	}
	for _, k := range a.st.keys {
		if k.fingerprint == v {
			return k
		}
	}
	return nil
}

func (a *API) sortedKeys() []*sshKey {
	out := make([]*sshKey, 0, len(a.st.keys))
	for _, k := range a.st.keys {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b *sshKey) int { return a.id - b.id })
	return out
}

func (a *API) listKeys(w http.ResponseWriter, r *http.Request) {
	a.s.Lock()
	keys := a.sortedKeys()
	out := make([]sshKeyJSON, len(keys))
	for i, k := range keys {
		out[i] = renderKey(k)
	}
	a.s.Unlock()
	writeList(w, r, "ssh_keys", out)
}

// fingerprint is the MD5 fingerprint DigitalOcean shows, from an
// authorized_keys line ("type base64 [comment]").
func fingerprint(publicKey string) (string, error) {
	f := strings.Fields(publicKey)
	if len(f) < 2 {
		return "", fmt.Errorf("key should be of the form 'type key [comment]'")
	}
	blob, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil {
		return "", fmt.Errorf("key is not valid base64")
	}
	if len(blob) < 4 {
		return "", fmt.Errorf("key is too short")
	}
	n := binary.BigEndian.Uint32(blob)
	if int(n) > len(blob)-4 || string(blob[4:4+n]) != f[0] {
		return "", fmt.Errorf("key type %q does not match the key", f[0])
	}
	sum := md5.Sum(blob)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02x", b)
	}
	return strings.Join(parts, ":"), nil
}

func (a *API) createKey(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name      string `json:"name"`
		PublicKey string `json:"public_key"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if strings.TrimSpace(req.Name) == "" {
		ew(w).unprocessable("Name is required.")
		return
	}
	fp, err := fingerprint(req.PublicKey)
	if err != nil {
		ew(w).unprocessable("Key invalid: %v.", err)
		return
	}
	a.s.Lock()
	if a.keyByIDOrFingerprint(fp) != nil {
		a.s.Unlock()
		ew(w).unprocessable("SSH Key is already in use on your account.")
		return
	}
	a.st.nextKey++
	k := &sshKey{id: a.st.nextKey, name: req.Name, publicKey: strings.TrimSpace(req.PublicKey), fingerprint: fp}
	a.st.keys[k.id] = k
	out := renderKey(k)
	a.s.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"ssh_key": out})
}

func (a *API) getKey(w http.ResponseWriter, r *http.Request) {
	a.s.Lock()
	k := a.keyByIDOrFingerprint(r.PathValue("id"))
	var out sshKeyJSON
	if k != nil {
		out = renderKey(k)
	}
	a.s.Unlock()
	if k == nil {
		ew(w).notFound()
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ssh_key": out})
}

func (a *API) updateKey(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	a.s.Lock()
	k := a.keyByIDOrFingerprint(r.PathValue("id"))
	var out sshKeyJSON
	if k != nil {
		if req.Name != "" {
			k.name = req.Name
		}
		out = renderKey(k)
	}
	a.s.Unlock()
	if k == nil {
		ew(w).notFound()
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ssh_key": out})
}

func (a *API) deleteKey(w http.ResponseWriter, r *http.Request) {
	a.s.Lock()
	k := a.keyByIDOrFingerprint(r.PathValue("id"))
	if k != nil {
		delete(a.st.keys, k.id)
	}
	a.s.Unlock()
	if k == nil {
		ew(w).notFound()
		return
	}
	noContent(w, false)
}

// tags

var tagNameRE = regexp.MustCompile(`^[a-zA-Z0-9_\-:]+$`)

func validTagName(n string) bool { return len(n) <= 255 && tagNameRE.MatchString(n) }

func (a *API) sortedTags() []*tag {
	out := make([]*tag, 0, len(a.st.tags))
	for _, t := range a.st.tags {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *tag) int { return strings.Compare(strings.ToLower(a.name), strings.ToLower(b.name)) })
	return out
}

func (a *API) listTags(w http.ResponseWriter, r *http.Request) {
	now, base := a.s.Now(), baseURL(r)
	a.s.Lock()
	ts := a.sortedTags()
	out := make([]tagJSON, len(ts))
	for i, t := range ts {
		out[i] = a.renderTag(t, base, now)
	}
	a.s.Unlock()
	writeList(w, r, "tags", out)
}

func (a *API) createTag(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if !validTagName(req.Name) {
		// DigitalOcean answers an invalid tag name with a 400 in its
		// error_with_root_causes shape; id and message are added so godo
		// shows a message.
		msg := fmt.Sprintf("Error validating resource tag: \"tag-name %q contains invalid characters\"", req.Name)
		if req.Name == "" {
			msg = "Error validating resource tag: \"tag-name must not be empty\""
		}
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"error": msg, "messages": nil, "root_causes": []string{msg},
			"id": "bad_request", "message": msg, "request_id": ew(w).rid,
		})
		return
	}
	now := a.s.Now()
	a.s.Lock()
	out := a.renderTag(a.ensureTag(req.Name), baseURL(r), now)
	a.s.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"tag": out})
}

func (a *API) getTag(w http.ResponseWriter, r *http.Request) {
	now := a.s.Now()
	a.s.Lock()
	t := a.exactTag(r.PathValue("name"))
	var out tagJSON
	if t != nil {
		out = a.renderTag(t, baseURL(r), now)
	}
	a.s.Unlock()
	if t == nil {
		ew(w).notFound()
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tag": out})
}

func (a *API) deleteTag(w http.ResponseWriter, r *http.Request) {
	a.s.Lock()
	t := a.exactTag(r.PathValue("name"))
	if t != nil {
		delete(a.st.tags, strings.ToLower(t.name))
		for _, d := range a.liveDroplets(a.s.Now()) {
			d.RemoveTag(t.name)
		}
	}
	a.s.Unlock()
	if t == nil {
		ew(w).notFound()
		return
	}
	a.fw.SyncLater() // the droplets lost the tag
	noContent(w, false)
}

type tagResourcesReq struct {
	Resources []struct {
		ResourceID   string `json:"resource_id"`
		ResourceType string `json:"resource_type"`
	} `json:"resources"`
}

func (a *API) tagResources(w http.ResponseWriter, r *http.Request) {
	a.retag(w, r, true)
	a.dropletsChanged()
	a.fw.SyncLater()
}

func (a *API) untagResources(w http.ResponseWriter, r *http.Request) {
	a.retag(w, r, false)
	a.dropletsChanged()
	a.fw.SyncLater()
}

func (a *API) retag(w http.ResponseWriter, r *http.Request, add bool) {
	var req tagResourcesReq
	if !decodeBody(w, r, &req) {
		return
	}
	if len(req.Resources) == 0 {
		ew(w).unprocessable("resources must list at least one resource.")
		return
	}
	now := a.s.Now()
	a.s.Lock()
	status, msg := a.retagLocked(r.PathValue("name"), req, add, now)
	a.s.Unlock()
	switch status {
	case http.StatusNotFound:
		ew(w).error(status, "not_found", msg)
	case http.StatusUnprocessableEntity:
		ew(w).unprocessable("%s", msg)
	default:
		noContent(w, false)
	}
}

func (a *API) retagLocked(name string, req tagResourcesReq, add bool, now time.Time) (int, string) {
	t := a.exactTag(name)
	if t == nil {
		return http.StatusNotFound, "The resource you were accessing could not be found."
	}
	ds := make([]droplet, 0, len(req.Resources))
	for _, res := range req.Resources {
		if res.ResourceType != "droplet" {
			return http.StatusUnprocessableEntity, fmt.Sprintf("localcloud can only tag droplets, not %q resources.", res.ResourceType)
		}
		id, err := strconv.Atoi(res.ResourceID)
		var d droplet
		ok := false
		if err == nil {
			d, ok = a.getDroplet(id, now)
		}
		if !ok {
			return http.StatusNotFound, fmt.Sprintf("Droplet %s could not be found.", res.ResourceID)
		}
		ds = append(ds, d)
	}
	for _, d := range ds {
		if add {
			d.AddTag(t.name)
			t.lastTagged = d.ID
		} else {
			d.RemoveTag(t.name)
		}
	}
	return http.StatusNoContent, ""
}
