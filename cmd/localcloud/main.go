// Command localcloud serves the DigitalOcean v2 API subset Haddock uses on
// a loopback port, so the provider can be tried offline.
//
//	localcloud serve [-listen 127.0.0.1:9080] [-token T] [-boot-delay 2s]
//
// -listen and -token default to $LOCALCLOUD_LISTEN and $LOCALCLOUD_TOKEN,
// then to 127.0.0.1:9080 and the fixed development token
// "localcloud-dev-token" (the listener is loopback only). It logs one line
// per request (method, path, status, duration; never the token) and stops
// cleanly on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
)

const usage = `usage: localcloud <command> [flags]

commands:
  serve   serve the DigitalOcean API on a loopback port until interrupted

run "localcloud <command> -h" for the command's flags
`

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "localcloud:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("localcloud serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", envOr("LOCALCLOUD_LISTEN", "127.0.0.1:9080"), "loopback `address` to listen on ($LOCALCLOUD_LISTEN)")
	token := fs.String("token", "", "bearer `token` clients must send ($LOCALCLOUD_TOKEN, default "+localcloud.DevToken+")")
	bootDelay := fs.Duration("boot-delay", 2*time.Second, "how long new droplets stay \"new\"")
	deleteDelay := fs.Duration("delete-delay", 0, "how long deleted droplets stay visible")
	actionDelay := fs.Duration("action-delay", 0, "how long actions stay \"in-progress\"")
	backend := fs.String("backend", "memory", "what stands behind droplets: memory")
	quiet := fs.Bool("quiet", false, "do not log requests")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve takes no arguments, got %q", fs.Args())
	}

	// Where the token came from decides how the banner shows it: the dev
	// token is no secret, others are not echoed.
	tokenHint := localcloud.DevToken
	switch {
	case *token != "":
		tokenHint = "<the -token value>"
	case os.Getenv("LOCALCLOUD_TOKEN") != "":
		*token = os.Getenv("LOCALCLOUD_TOKEN")
		tokenHint = `"$LOCALCLOUD_TOKEN"`
	default:
		*token = localcloud.DevToken
	}

	be, err := newBackend(*backend)
	if err != nil {
		return err
	}
	logger := log.New(stderr, "localcloud: ", log.LstdFlags)
	cfg := localcloud.Config{
		Addr:        *listen,
		Token:       *token,
		BootDelay:   *bootDelay,
		DeleteDelay: *deleteDelay,
		ActionDelay: *actionDelay,
		Backend:     be,
		Logf:        logger.Printf,
	}
	if !*quiet {
		cfg.Middleware = logRequests(logger)
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv, err := localcloud.Start(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "localcloud: serving the DigitalOcean API on %s (backend %s, boot delay %s)\n", srv.URL, *backend, *bootDelay)
	fmt.Fprintf(stdout, "export DIGITALOCEAN_API_URL=%s\n", srv.URL)
	fmt.Fprintf(stdout, "export DIGITALOCEAN_TOKEN=%s\n", tokenHint)

	<-ctx.Done()
	logger.Printf("shutting down")
	return srv.Close()
}

// newBackend returns the HostBackend called name. Only "memory" exists so
// far.
func newBackend(name string) (localcloud.HostBackend, error) {
	switch name {
	case "memory":
		return localcloud.NewMemoryBackend(), nil
	}
	return nil, fmt.Errorf("unknown backend %q (known: memory)", name)
}

// logRequests logs one line per request: method, path and query, status,
// duration. Headers, and so the token, are never logged.
func logRequests(l *log.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			next.ServeHTTP(sw, r)
			l.Printf("%s %s %d %s", r.Method, r.URL.RequestURI(), sw.status, time.Since(start).Round(time.Microsecond))
		})
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
