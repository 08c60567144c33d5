package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sort"
	"sync/atomic"
	"time"
)

// proxy is the counter's front: with BACKEND=tasks.web:8080 it sends each
// request to the next task of the backend service, found by the swarm's
// DNS (tasks.<service> lists every task's address on the overlay network).
// It stands in for the routing mesh, which needs IPVS, where the mesh is
// not available: publish the front in host mode on a few nodes and put a
// floating IP in front of one of them.
type proxy struct {
	host, port string
	next       atomic.Uint64
	logger     *log.Logger
	lookup     func(ctx context.Context, host string) ([]string, error) // the swarm's DNS
}

func newProxy(backend string, logger *log.Logger) (*proxy, error) {
	host, port, err := net.SplitHostPort(backend)
	if err != nil {
		return nil, fmt.Errorf("BACKEND %q: want host:port, e.g. tasks.web:8080", backend)
	}
	return &proxy{host: host, port: port, logger: logger, lookup: net.DefaultResolver.LookupHost}, nil
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		_, _ = fmt.Fprintln(w, "ok")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	addrs, err := p.lookup(ctx, p.host)
	if err != nil || len(addrs) == 0 {
		http.Error(w, fmt.Sprintf("no backend task for %s: %v", p.host, err), http.StatusBadGateway)
		return
	}
	sort.Strings(addrs)
	// Start at the next task; a task being replaced (its listener closing,
	// its address gone from the overlay) fails the attempt, and a request
	// that can be repeated — GET or HEAD, nothing sent back yet — goes to
	// the next task rather than failing: what a load balancer's retry does.
	start := int(p.next.Add(1) - 1)
	attempts := 1
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		attempts = len(addrs)
	}
	var last error
	for i := range attempts {
		target := net.JoinHostPort(addrs[(start+i)%len(addrs)], p.port)
		resp, err := p.roundTrip(r, target)
		if err != nil {
			p.logger.Printf("backend %s: %v", target, err)
			last = err
			continue
		}
		defer func() { _ = resp.Body.Close() }()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		return
	}
	http.Error(w, fmt.Sprintf("no task of %s answered: %v", p.host, last), http.StatusBadGateway)
}

// transport dials backends quickly: a task that is gone should cost little
// before the next is tried.
var transport = &http.Transport{
	DialContext:           (&net.Dialer{Timeout: 700 * time.Millisecond}).DialContext,
	ResponseHeaderTimeout: 5 * time.Second,
	DisableKeepAlives:     true,
}

// roundTrip sends r to one backend and returns its answer (headers read).
func (p *proxy) roundTrip(r *http.Request, target string) (*http.Response, error) {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = "http", target
	out.Host = r.Host
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		out.Body = http.NoBody
	}
	return transport.RoundTrip(out)
}

// serve serves the proxy on addr until ctx ends, then shuts down.
func (p *proxy) serve(ctx context.Context, addr string) error {
	srv := &http.Server{Addr: addr, Handler: p, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	p.logger.Printf("front on %s, sending requests to the tasks of %s:%s in turn", addr, p.host, p.port)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	return srv.Shutdown(sctx)
}
