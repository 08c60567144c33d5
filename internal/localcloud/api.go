package localcloud

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// API is one vendor's API served by the core under a path prefix (the
// DigitalOcean API of package localcloud/digitalocean under /v2/; an AWS
// API can sit beside it under its own). The API keeps its vendor's
// bookkeeping and wire shapes; hosts and addresses are the core's
// (Server.AddHost, Server.AllocateAddress...), so every API sees the same
// machines.
//
// New calls Mount once, before anything is loaded or served. Then, for a
// request under Prefix, the core checks the token and either calls Refuse
// (authentication failed, or an injected fault matched) or counts the
// request under Route and calls ServeHTTP.
type API interface {
	http.Handler
	// Name names the API: the API of the hosts and addresses it creates,
	// and its key in the state file ("digitalocean").
	Name() string
	// Prefix is the path prefix the API serves, with a trailing slash
	// ("/v2/").
	Prefix() string
	// Mount attaches the API to s, which it keeps to reach the hosts.
	Mount(s *Server)
	// Route names r's route for the request counters, the same for every
	// id ("GET /v2/droplets/{id}").
	Route(r *http.Request) string
	// Refuse answers a request the core refuses, in the vendor's error
	// shape: status is 401 (authentication failed) or an injected fault's
	// status; the core has set Retry-After when the fault has one.
	Refuse(w http.ResponseWriter, r *http.Request, status int)
	// HostProvisioned is called, with the lock held, when Provision of one
	// of the API's hosts returned (err nil: the host has its addresses), and
	// on Open for a host that was still being provisioned when localcloud
	// stopped (err ErrInterrupted). A host whose Provision failed is gone
	// from the hosts when it is called.
	HostProvisioned(h *Host, err error, now time.Time)
	// SaveState returns the API's own records, JSON-encodable, to save
	// beside the hosts. Called with the lock held.
	SaveState() any
	// LoadState restores what SaveState returned (raw is null when the
	// state file has nothing for the API), after the hosts and addresses
	// were restored and before they are settled. Called with the lock held.
	LoadState(raw json.RawMessage) error
}

// mount attaches a and routes its prefix to it.
func (s *Server) mount(a API) {
	for _, b := range s.apis {
		if b.Name() == a.Name() || strings.HasPrefix(a.Prefix(), b.Prefix()) || strings.HasPrefix(b.Prefix(), a.Prefix()) {
			panic("localcloud: API " + a.Name() + " at " + a.Prefix() + " clashes with API " + b.Name() + " at " + b.Prefix())
		}
	}
	if !strings.HasPrefix(a.Prefix(), "/") || !strings.HasSuffix(a.Prefix(), "/") || strings.HasPrefix(a.Prefix(), "/_localcloud/") {
		panic("localcloud: API " + a.Name() + " has prefix " + a.Prefix() + ": want /<path>/, not under /_localcloud/")
	}
	a.Mount(s)
	s.apis = append(s.apis, a)
}

// Authenticator is optionally implemented by an API whose clients
// authenticate the vendor's way (AWS: Signature Version 4) instead of with
// the core's bearer token: the core calls Authenticate in place of its
// token check, before counting the request. Authenticate may read r.Body;
// it must leave it readable again for the API.
type Authenticator interface {
	Authenticate(r *http.Request) bool
}

// ReadOnlyReporter is optionally implemented by an API whose requests do
// not show by their method whether they change anything (EC2's are all
// POST): the core saves the state after every request that is not a GET
// or HEAD, unless ReadOnly reports it changed nothing.
type ReadOnlyReporter interface {
	ReadOnly(r *http.Request) bool
}

// apiFor is the API serving path, nil when none does.
func (s *Server) apiFor(path string) API {
	for _, a := range s.apis {
		if strings.HasPrefix(path, a.Prefix()) {
			return a
		}
	}
	return nil
}

// apiNamed is the API called name, nil when none is.
func (s *Server) apiNamed(name string) API {
	for _, a := range s.apis {
		if a.Name() == name {
			return a
		}
	}
	return nil
}
