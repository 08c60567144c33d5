package localcloud

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
)

// Fault makes the next Count API requests matching Method and PathPrefix
// fail with Status, before they reach the API (nothing changes state). The
// API answers in its vendor's error shape (API.Refuse).
type Fault struct {
	// Method matches the request method; "" matches any.
	Method string `json:"method,omitempty"`
	// PathPrefix matches the start of the request path, e.g. "/v2/droplets";
	// "" matches any API path.
	PathPrefix string `json:"path_prefix,omitempty"`
	// Status is the HTTP status to answer with: 429, 500, 503 or any other
	// 4xx/5xx.
	Status int `json:"status"`
	// Count is how many requests fail; default 1.
	Count int `json:"count,omitempty"`
	// RetryAfterSeconds sets Retry-After (and, with 429, ratelimit-reset to
	// now plus that); default 1 for 429 and 503.
	RetryAfterSeconds int `json:"retry_after_seconds,omitempty"`
}

func (f *Fault) normalize() error {
	if f.Status < 400 || f.Status > 599 {
		return fmt.Errorf("status must be a 4xx or 5xx code, got %d", f.Status)
	}
	if f.Count < 0 || f.RetryAfterSeconds < 0 {
		return fmt.Errorf("count and retry_after_seconds must not be negative")
	}
	if f.Count == 0 {
		f.Count = 1
	}
	if f.RetryAfterSeconds == 0 && (f.Status == http.StatusTooManyRequests || f.Status == http.StatusServiceUnavailable) {
		f.RetryAfterSeconds = 1
	}
	f.Method = strings.ToUpper(f.Method)
	return nil
}

type faults struct{ list []Fault }

// match consumes one count of the first fault matching a request's method
// and path.
func (fs *faults) match(method, path string) (Fault, bool) {
	for i := range fs.list {
		f := &fs.list[i]
		if (f.Method == "" || f.Method == method) && strings.HasPrefix(path, f.PathPrefix) {
			got := *f
			f.Count--
			if f.Count == 0 {
				fs.list = append(fs.list[:i], fs.list[i+1:]...)
			}
			return got, true
		}
	}
	return Fault{}, false
}

// InjectFault queues f; faults are matched in the order they were added.
func (s *Server) InjectFault(f Fault) error {
	if err := f.normalize(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault.list = append(s.fault.list, f)
	return nil
}

// ClearFaults drops every pending fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault.list = nil
}

// Faults returns the pending faults, with the counts left.
func (s *Server) Faults() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Fault{}, s.fault.list...)
}

// serveFault answers r with fault f through api's error shape.
func serveFault(w http.ResponseWriter, r *http.Request, api API, f Fault) {
	if f.RetryAfterSeconds > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfterSeconds))
	}
	api.Refuse(w, r, f.Status)
}

// RequestCounts counts API requests by route (API.Route), e.g.
// "GET /v2/droplets/{id}".
type RequestCounts struct {
	Total    int            `json:"total"`
	Requests map[string]int `json:"requests"`
}

type counters struct {
	m     map[string]int
	total int
}

func (c *counters) add(key string) {
	c.m[key]++
	c.total++
}

// Requests returns how many API requests were served since the start or
// the last ResetRequests, keyed by route (API.Route), e.g.
// "GET /v2/droplets/{id}". Requests answered with an injected fault count;
// requests that failed authentication do not.
func (s *Server) Requests() RequestCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return RequestCounts{Total: s.reqs.total, Requests: maps.Clone(s.reqs.m)}
}

// ResetRequests zeroes the request counters.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = counters{m: map[string]int{}}
}

// adminMux serves /_localcloud/*: test controls, not part of any vendor's
// API.
func (s *Server) adminMux() *http.ServeMux {
	m := http.NewServeMux()
	s.randomFaultsHandlers(m)
	m.HandleFunc("GET /_localcloud/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"faults": s.Faults()})
	})
	m.HandleFunc("POST /_localcloud/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "invalid fault: "+err.Error())
			return
		}
		if err := s.InjectFault(f); err != nil {
			writeError(w, http.StatusUnprocessableEntity, "unprocessable_entity", err.Error())
			return
		}
		_ = f.normalize()
		writeJSON(w, http.StatusCreated, map[string]any{"fault": f})
	})
	m.HandleFunc("DELETE /_localcloud/faults", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("GET /_localcloud/requests", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Requests())
	})
	m.HandleFunc("DELETE /_localcloud/requests", func(w http.ResponseWriter, r *http.Request) {
		s.ResetRequests()
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("GET /_localcloud/hosts", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"hosts": s.HostReports()})
	})
	m.HandleFunc("POST /_localcloud/hosts/{id}/fail", hostControlHandler(s.FailHost))
	m.HandleFunc("POST /_localcloud/hosts/{id}/partition", hostControlHandler(s.PartitionHost))
	m.HandleFunc("POST /_localcloud/hosts/{id}/heal", hostControlHandler(s.HealHost))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "The resource you were accessing could not be found.")
	})
	return m
}

// WriteJSON answers status with v as JSON (HTML characters not escaped).
// It writes nothing and returns the error when v cannot be encoded.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) { _ = WriteJSON(w, status, v) }

// writeError answers status with localcloud's own error body, for the
// admin endpoints and paths no API serves: {"id","message","request_id"}.
func writeError(w http.ResponseWriter, status int, id, msg string) {
	writeJSON(w, status, struct {
		ID        string `json:"id"`
		Message   string `json:"message"`
		RequestID string `json:"request_id,omitempty"`
	}{id, msg, w.Header().Get("X-Request-Id")})
}
