package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
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
}

func newProxy(backend string, logger *log.Logger) (*proxy, error) {
	host, port, err := net.SplitHostPort(backend)
	if err != nil {
		return nil, fmt.Errorf("BACKEND %q: want host:port, e.g. tasks.web:8080", backend)
	}
	return &proxy{host: host, port: port, logger: logger}, nil
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		_, _ = fmt.Fprintln(w, "ok")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, p.host)
	if err != nil || len(addrs) == 0 {
		http.Error(w, fmt.Sprintf("no backend task for %s: %v", p.host, err), http.StatusBadGateway)
		return
	}
	sort.Strings(addrs)
	// Take the next task that accepts a connection: a task being replaced,
	// or one the overlay cannot reach, is skipped rather than failing the
	// request.
	start := int(p.next.Add(1) - 1)
	target := ""
	for i := range addrs {
		a := net.JoinHostPort(addrs[(start+i)%len(addrs)], p.port)
		c, err := (&net.Dialer{Timeout: 700 * time.Millisecond}).DialContext(ctx, "tcp", a)
		if err != nil {
			p.logger.Printf("skipping backend %s: %v", a, err)
			continue
		}
		_ = c.Close()
		target = a
		break
	}
	if target == "" {
		http.Error(w, fmt.Sprintf("no task of %s accepts connections", p.host), http.StatusBadGateway)
		return
	}
	u := &url.URL{Scheme: "http", Host: target}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
		p.logger.Printf("backend %s: %v", u.Host, err)
		http.Error(w, "backend "+u.Host+" failed", http.StatusBadGateway)
	}
	rp.ServeHTTP(w, r)
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
