package digitalocean

import (
	"encoding/json"
	"fmt"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	"net/http"
	"net/url"
	"strconv"
)

const contentTypeJSON = "application/json; charset=utf-8"

func writeJSON(w http.ResponseWriter, status int, v any) {
	if err := localcloud.WriteJSON(w, status, v); err != nil {
		ew(w).error(http.StatusInternalServerError, "server_error", "encoding response: "+err.Error())
	}
}

// noContent answers 204. DigitalOcean sets a content type on some 204s
// (droplet deletes) and not on others.
func noContent(w http.ResponseWriter, withContentType bool) {
	if withContentType {
		w.Header().Set("Content-Type", contentTypeJSON)
	}
	w.WriteHeader(http.StatusNoContent)
}

type apiError struct {
	ID        string `json:"id"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`
}

// errWriter writes DigitalOcean's error bodies, with the request id the
// core gave the request.
type errWriter struct {
	http.ResponseWriter
	rid string
}

func ew(w http.ResponseWriter) *errWriter {
	return &errWriter{ResponseWriter: w, rid: w.Header().Get("X-Request-Id")}
}

func (w *errWriter) error(status int, id, msg string) {
	writeJSON(w.ResponseWriter, status, apiError{ID: id, Message: msg, RequestID: w.rid})
}

func (w *errWriter) notFound() {
	w.error(http.StatusNotFound, "not_found", "The resource you were accessing could not be found.")
}

func (w *errWriter) unprocessable(format string, args ...any) {
	w.error(http.StatusUnprocessableEntity, "unprocessable_entity", fmt.Sprintf(format, args...))
}

func (w *errWriter) badRequest(format string, args ...any) {
	w.error(http.StatusBadRequest, "bad_request", fmt.Sprintf(format, args...))
}

// decodeBody decodes a JSON request body into v, answering 400 when it is
// not JSON of the right shape.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	if err := dec.Decode(v); err != nil {
		ew(w).badRequest("The request body could not be parsed: %v", err)
		return false
	}
	return true
}

// baseURL is the scheme and host clients reached us on, for absolute links.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// Pagination, as DigitalOcean does it: page (from 1) and per_page (default
// 20, at most 200); links.pages with first/prev when not on the first page
// and next/last when not on the last, as absolute URLs keeping the other
// query parameters; meta.total.

const (
	defaultPerPage = 20
	maxPerPage     = 200
)

type pageLinks struct {
	First string `json:"first,omitempty"`
	Prev  string `json:"prev,omitempty"`
	Next  string `json:"next,omitempty"`
	Last  string `json:"last,omitempty"`
}

type links struct {
	Pages *pageLinks `json:"pages,omitempty"`
}

type meta struct {
	Total int `json:"total"`
}

// paginate returns the [lo, hi) window of n items for r's page, and the
// links to put beside it.
func paginate(r *http.Request, n int) (lo, hi int, l links) {
	q := r.URL.Query()
	page := atoiDefault(q.Get("page"), 1)
	if page < 1 {
		page = 1
	}
	perPage := atoiDefault(q.Get("per_page"), defaultPerPage)
	if perPage < 1 {
		perPage = defaultPerPage
	}
	if perPage > maxPerPage {
		perPage = maxPerPage
	}
	last := (n + perPage - 1) / perPage
	if last < 1 {
		last = 1
	}
	lo = min((page-1)*perPage, n)
	hi = min(lo+perPage, n)

	link := func(p int) string {
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
		if r.TLS != nil {
			u.Scheme = "https"
		}
		qq := url.Values{}
		for k, v := range q {
			qq[k] = v
		}
		qq.Set("page", strconv.Itoa(p))
		u.RawQuery = qq.Encode()
		return u.String()
	}
	var pl pageLinks
	if page > 1 {
		pl.First = link(1)
		pl.Prev = link(min(page-1, last))
	}
	if page < last {
		pl.Next = link(page + 1)
		pl.Last = link(last)
	}
	if pl != (pageLinks{}) {
		l.Pages = &pl
	}
	return lo, hi, l
}

func atoiDefault(s string, def int) int {
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}

// list writes a paginated list response: {key: items[page], links, meta}.
func writeList[T any](w http.ResponseWriter, r *http.Request, key string, items []T) {
	lo, hi, l := paginate(r, len(items))
	page := items[lo:hi]
	if page == nil {
		page = []T{}
	}
	writeJSON(w, http.StatusOK, map[string]any{key: page, "links": l, "meta": meta{Total: len(items)}})
}
