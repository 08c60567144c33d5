// Command counter is Haddock's demo application: a hit counter that says
// which host and which task answered, so that a service spread over a
// swarm shows its replicas and the load balancing between them.
//
//	GET /         an HTML page: the hit count of the task that answered,
//	              its hostname, task slot and node (counts the hit)
//	GET /api      the same as JSON, for scripts (counts the hit)
//	GET /healthz  "ok" while serving, 503 once shutting down (not counted)
//
// The count lives in memory: every task (replica) has its own, and a
// restarted task starts again from zero.
//
// Settings come from the environment, so that a compose file or a swarm
// service sets them:
//
//	PORT       the TCP port to listen on (default 8080)
//	TASK_SLOT  the task's slot, shown as is (a service sets it with
//	           TASK_SLOT: "{{.Task.Slot}}")
//	NODE_NAME  the node the task runs on (NODE_NAME: "{{.Node.Hostname}}")
//
// On SIGTERM or SIGINT it stops accepting connections, lets requests in
// flight finish (up to 8 s, within Docker's default 10 s stop grace period)
// and exits 0.
//
// "counter -healthcheck" GETs http://127.0.0.1:$PORT/healthz and exits 0
// when it answers 200, 1 otherwise: an image built FROM scratch has no
// curl, so the binary is its own HEALTHCHECK.
//
// Build it into an image and push it to localcloud's registry without a
// Docker daemon:
//
//	HADDOCK_REGISTRY_PASSWORD=$(cat .localcloud/hosts/token) go run ./cmd/haddock-image build-push -pkg ./examples/apps/counter -tag 10.213.0.1:5000/counter:1
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

// shutdownTimeout is how long requests in flight get on SIGTERM.
const shutdownTimeout = 8 * time.Second

func main() {
	healthcheck := flag.Bool("healthcheck", false, "GET http://127.0.0.1:$PORT/healthz, exit 0 if it answers 200, else 1")
	flag.Parse()
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if *healthcheck {
		if err := check(net.JoinHostPort("127.0.0.1", port)); err != nil {
			fmt.Fprintln(os.Stderr, "counter: unhealthy:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger := log.New(os.Stderr, "counter: ", log.LstdFlags)
	if backend := os.Getenv("BACKEND"); backend != "" {
		p, err := newProxy(backend, logger)
		if err == nil {
			err = p.serve(ctx, ":"+port)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "counter:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, ":"+port, identify(), logger); err != nil {
		fmt.Fprintln(os.Stderr, "counter:", err)
		os.Exit(1)
	}
}

// identity is who answers: the task's hostname, slot and node.
type identity struct {
	Hostname string `json:"hostname"`
	TaskSlot string `json:"task_slot,omitempty"`
	Node     string `json:"node,omitempty"`
}

func identify() identity {
	h, err := os.Hostname()
	if err != nil {
		h = "unknown"
	}
	return identity{Hostname: h, TaskSlot: os.Getenv("TASK_SLOT"), Node: os.Getenv("NODE_NAME")}
}

// run serves on addr until ctx ends, then shuts down gracefully.
func run(ctx context.Context, addr string, id identity, logger *log.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return serve(ctx, ln, newApp(id), logger)
}

// serve serves app on ln until ctx ends, then stops accepting connections
// and waits up to shutdownTimeout for the requests in flight.
func serve(ctx context.Context, ln net.Listener, app *app, logger *log.Logger) error {
	id := app.id
	srv := &http.Server{Handler: app, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Printf("serving on %s (hostname %s, task slot %q, node %q)", ln.Addr(), id.Hostname, id.TaskSlot, id.Node)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	app.stopping.Store(true)
	logger.Printf("shutting down after %d hit(s)", app.hits.Load())
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// app is the counter's handler.
type app struct {
	id       identity
	started  time.Time
	hits     atomic.Int64
	stopping atomic.Bool
	mux      *http.ServeMux
}

// status is what /api answers and the page shows.
type status struct {
	identity
	Hits    int64     `json:"hits"`
	Started time.Time `json:"started"`
}

func newApp(id identity) *app {
	a := &app{id: id, started: time.Now().UTC()}
	a.mux = http.NewServeMux()
	a.mux.HandleFunc("GET /{$}", a.page)
	a.mux.HandleFunc("GET /api", a.api)
	a.mux.HandleFunc("GET /healthz", a.healthz)
	return a
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

func (a *app) hit() status {
	return status{identity: a.id, Hits: a.hits.Add(1), Started: a.started}
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Haddock counter</title>
<style>body{font-family:sans-serif;margin:3em auto;max-width:36em}td{padding:.2em 1em .2em 0}.n{font-size:4em;margin:.2em 0}</style>
</head>
<body>
<h1>Haddock counter</h1>
<p class="n">{{.Hits}}</p>
<p>hit(s) on this task since {{.Started.Format "2006-01-02 15:04:05 UTC"}}.</p>
<table>
<tr><td>hostname</td><td><code>{{.Hostname}}</code></td></tr>
<tr><td>task slot</td><td><code>{{if .TaskSlot}}{{.TaskSlot}}{{else}}(not set){{end}}</code></td></tr>
<tr><td>node</td><td><code>{{if .Node}}{{.Node}}{{else}}(not set){{end}}</code></td></tr>
</table>
<p><a href="/">Reload</a>: each replica counts its own hits. <a href="/api">JSON</a></p>
</body>
</html>
`))

func (a *app) page(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = pageTmpl.Execute(w, a.hit())
}

func (a *app) api(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(a.hit())
}

func (a *app) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if a.stopping.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "stopping\n")
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}

// check GETs /healthz on addr.
func check(addr string) error {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + addr + "/healthz")
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/healthz: %s", resp.Status)
	}
	return nil
}
