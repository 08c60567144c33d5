package localcloud

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// apiMux routes /v2. Patterns double as the request counter keys.
func (s *Server) apiMux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /v2/account", s.getAccount)

	m.HandleFunc("GET /v2/regions", s.listRegions)
	m.HandleFunc("GET /v2/sizes", s.listSizes)
	m.HandleFunc("GET /v2/images", s.listImages)
	m.HandleFunc("GET /v2/images/{id}", s.getImage)

	m.HandleFunc("GET /v2/account/keys", s.listKeys)
	m.HandleFunc("POST /v2/account/keys", s.createKey)
	m.HandleFunc("GET /v2/account/keys/{id}", s.getKey)
	m.HandleFunc("PUT /v2/account/keys/{id}", s.updateKey)
	m.HandleFunc("DELETE /v2/account/keys/{id}", s.deleteKey)

	m.HandleFunc("GET /v2/tags", s.listTags)
	m.HandleFunc("POST /v2/tags", s.createTag)
	m.HandleFunc("GET /v2/tags/{name}", s.getTag)
	m.HandleFunc("DELETE /v2/tags/{name}", s.deleteTag)
	m.HandleFunc("POST /v2/tags/{name}/resources", s.tagResources)
	m.HandleFunc("DELETE /v2/tags/{name}/resources", s.untagResources)

	m.HandleFunc("GET /v2/droplets", s.listDroplets)
	m.HandleFunc("POST /v2/droplets", s.createDroplets)
	m.HandleFunc("DELETE /v2/droplets", s.deleteDropletsByTag)
	m.HandleFunc("GET /v2/droplets/{id}", s.getDropletHandler)
	m.HandleFunc("DELETE /v2/droplets/{id}", s.deleteDroplet)
	m.HandleFunc("GET /v2/droplets/{id}/actions", s.listDropletActions)
	m.HandleFunc("POST /v2/droplets/{id}/actions", s.postDropletAction)
	m.HandleFunc("GET /v2/droplets/{id}/actions/{action_id}", s.getDropletAction)

	m.HandleFunc("GET /v2/actions", s.listActions)
	m.HandleFunc("GET /v2/actions/{id}", s.getAction)

	m.HandleFunc("GET /v2/reserved_ips", s.listRIPs)
	m.HandleFunc("POST /v2/reserved_ips", s.createRIP)
	m.HandleFunc("GET /v2/reserved_ips/{ip}", s.getRIP)
	m.HandleFunc("DELETE /v2/reserved_ips/{ip}", s.deleteRIP)
	m.HandleFunc("GET /v2/reserved_ips/{ip}/actions", s.listRIPActions)
	m.HandleFunc("POST /v2/reserved_ips/{ip}/actions", s.postRIPAction)
	m.HandleFunc("GET /v2/reserved_ips/{ip}/actions/{action_id}", s.getRIPAction)

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

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"account": map[string]any{
		"droplet_limit":     s.cfg.DropletLimit,
		"floating_ip_limit": s.cfg.ReservedIPLimit,
		"reserved_ip_limit": s.cfg.ReservedIPLimit,
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

func (s *Server) listRegions(w http.ResponseWriter, r *http.Request) {
	out := make([]regionJSON, 0, len(regions))
	for _, rg := range regions {
		out = append(out, renderRegion(rg))
	}
	writeList(w, r, "regions", out)
}

func (s *Server) listSizes(w http.ResponseWriter, r *http.Request) {
	out := make([]sizeJSON, 0, len(sizes))
	for _, sz := range sizes {
		out = append(out, renderSize(sz))
	}
	writeList(w, r, "sizes", out)
}

func (s *Server) listImages(w http.ResponseWriter, r *http.Request) {
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

func (s *Server) getImage(w http.ResponseWriter, r *http.Request) {
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
func (s *Server) keyByIDOrFingerprint(v string) *sshKey {
	if n, err := strconv.Atoi(v); err == nil {
		return s.st.keys[n]
	}
	for _, k := range s.st.keys {
		if k.fingerprint == v {
			return k
		}
	}
	return nil
}

func (s *Server) sortedKeys() []*sshKey {
	out := make([]*sshKey, 0, len(s.st.keys))
	for _, k := range s.st.keys {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b *sshKey) int { return a.id - b.id })
	return out
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	keys := s.sortedKeys()
	out := make([]sshKeyJSON, len(keys))
	for i, k := range keys {
		out[i] = renderKey(k)
	}
	s.mu.Unlock()
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

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) {
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
	s.mu.Lock()
	if s.keyByIDOrFingerprint(fp) != nil {
		s.mu.Unlock()
		ew(w).unprocessable("SSH Key is already in use on your account.")
		return
	}
	s.st.nextKey++
	k := &sshKey{id: s.st.nextKey, name: req.Name, publicKey: strings.TrimSpace(req.PublicKey), fingerprint: fp}
	s.st.keys[k.id] = k
	out := renderKey(k)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"ssh_key": out})
}

func (s *Server) getKey(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	k := s.keyByIDOrFingerprint(r.PathValue("id"))
	var out sshKeyJSON
	if k != nil {
		out = renderKey(k)
	}
	s.mu.Unlock()
	if k == nil {
		ew(w).notFound()
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ssh_key": out})
}

func (s *Server) updateKey(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	s.mu.Lock()
	k := s.keyByIDOrFingerprint(r.PathValue("id"))
	var out sshKeyJSON
	if k != nil {
		if req.Name != "" {
			k.name = req.Name
		}
		out = renderKey(k)
	}
	s.mu.Unlock()
	if k == nil {
		ew(w).notFound()
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ssh_key": out})
}

func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	k := s.keyByIDOrFingerprint(r.PathValue("id"))
	if k != nil {
		delete(s.st.keys, k.id)
	}
	s.mu.Unlock()
	if k == nil {
		ew(w).notFound()
		return
	}
	noContent(w, false)
}

// tags

var tagNameRE = regexp.MustCompile(`^[a-zA-Z0-9_\-:]+$`)

func validTagName(n string) bool { return len(n) <= 255 && tagNameRE.MatchString(n) }

func (s *Server) sortedTags() []*tag {
	out := make([]*tag, 0, len(s.st.tags))
	for _, t := range s.st.tags {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *tag) int { return strings.Compare(strings.ToLower(a.name), strings.ToLower(b.name)) })
	return out
}

func (s *Server) listTags(w http.ResponseWriter, r *http.Request) {
	now, base := s.now(), baseURL(r)
	s.mu.Lock()
	ts := s.sortedTags()
	out := make([]tagJSON, len(ts))
	for i, t := range ts {
		out[i] = s.renderTag(t, base, now)
	}
	s.mu.Unlock()
	writeList(w, r, "tags", out)
}

func (s *Server) createTag(w http.ResponseWriter, r *http.Request) {
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
	now := s.now()
	s.mu.Lock()
	out := s.renderTag(s.ensureTag(req.Name), baseURL(r), now)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"tag": out})
}

func (s *Server) getTag(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	s.mu.Lock()
	t := s.exactTag(r.PathValue("name"))
	var out tagJSON
	if t != nil {
		out = s.renderTag(t, baseURL(r), now)
	}
	s.mu.Unlock()
	if t == nil {
		ew(w).notFound()
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tag": out})
}

func (s *Server) deleteTag(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	t := s.exactTag(r.PathValue("name"))
	if t != nil {
		delete(s.st.tags, strings.ToLower(t.name))
		for _, d := range s.st.droplets {
			d.removeTag(t.name)
		}
	}
	s.mu.Unlock()
	if t == nil {
		ew(w).notFound()
		return
	}
	noContent(w, false)
}

type tagResourcesReq struct {
	Resources []struct {
		ResourceID   string `json:"resource_id"`
		ResourceType string `json:"resource_type"`
	} `json:"resources"`
}

func (s *Server) tagResources(w http.ResponseWriter, r *http.Request)   { s.retag(w, r, true) }
func (s *Server) untagResources(w http.ResponseWriter, r *http.Request) { s.retag(w, r, false) }

func (s *Server) retag(w http.ResponseWriter, r *http.Request, add bool) {
	var req tagResourcesReq
	if !decodeBody(w, r, &req) {
		return
	}
	if len(req.Resources) == 0 {
		ew(w).unprocessable("resources must list at least one resource.")
		return
	}
	now := s.now()
	s.mu.Lock()
	status, msg := s.retagLocked(r.PathValue("name"), req, add, now)
	s.mu.Unlock()
	switch status {
	case http.StatusNotFound:
		ew(w).error(status, "not_found", msg)
	case http.StatusUnprocessableEntity:
		ew(w).unprocessable("%s", msg)
	default:
		noContent(w, false)
	}
}

func (s *Server) retagLocked(name string, req tagResourcesReq, add bool, now time.Time) (int, string) {
	t := s.exactTag(name)
	if t == nil {
		return http.StatusNotFound, "The resource you were accessing could not be found."
	}
	ds := make([]*droplet, 0, len(req.Resources))
	for _, res := range req.Resources {
		if res.ResourceType != "droplet" {
			return http.StatusUnprocessableEntity, fmt.Sprintf("localcloud can only tag droplets, not %q resources.", res.ResourceType)
		}
		id, err := strconv.Atoi(res.ResourceID)
		var d *droplet
		if err == nil {
			d = s.getDroplet(id, now)
		}
		if d == nil {
			return http.StatusNotFound, fmt.Sprintf("Droplet %s could not be found.", res.ResourceID)
		}
		ds = append(ds, d)
	}
	for _, d := range ds {
		if add {
			d.addTag(t.name)
			t.lastTagged = d.id
		} else {
			d.removeTag(t.name)
		}
	}
	return http.StatusNoContent, ""
}
