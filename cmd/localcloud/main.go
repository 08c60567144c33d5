// Command localcloud serves the DigitalOcean v2 API subset Haddock uses on
// a loopback port (droplets, reserved IPs, load balancers, databases), and
// the EC2 and ELBv2 API subsets on others, so the provider can be tried
// offline.
//
//	localcloud serve [-listen 127.0.0.1:9080] [-token T] [-boot-delay 2s]
//	                 [-aws-listen 127.0.0.1:9081] [-elbv2-listen 127.0.0.1:9082] [-rds-listen 127.0.0.1:9083]
//	                 [-aws-access-key K] [-aws-secret-key S]
//	                 [-backend memory|netns] [-state-dir DIR]
//	                 [-subnet 10.213.0.0/24] [-reserved-prefix 10.213.128.0/25]
//	                 [-bridge hdk0] [-netns-prefix hdk-]
//	                 [-faults 0.1 -fault-seed N] [-rate-limit N]
//	localcloud down [-state-dir DIR]
//
// -listen and -token default to $LOCALCLOUD_LISTEN and $LOCALCLOUD_TOKEN,
// then to 127.0.0.1:9080 and the fixed development token
// "localcloud-dev-token" (the listener is loopback only). It logs one line
// per request (method, path, status, duration; never the token).
//
// -aws-listen, -aws-access-key and -aws-secret-key default to
// $LOCALCLOUD_AWS_LISTEN, $LOCALCLOUD_AWS_ACCESS_KEY and
// $LOCALCLOUD_AWS_SECRET_KEY, then to 127.0.0.1:9081 and the development
// credentials "localcloud" / "localcloud-dev-secret": the EC2 API (package
// internal/localcloud/aws) on its own loopback listener, requests checked
// by their Signature Version 4 signature with those credentials, on the
// same hosts and addresses as the DigitalOcean API (also under /aws/ on
// -listen). -aws-listen none serves DigitalOcean's API only.
//
// With -backend memory (the default) droplets are bookkeeping only and
// nothing is saved unless -state-dir is given. With -backend netns (root,
// docker.io) every droplet is a real host: a network namespace on the
// bridge with its own dockerd, configured from the droplet's user data
// (see package netnsbackend); the API state and the hosts live in
// -state-dir, default /var/lib/haddock-localcloud. serve logs one line per
// host provisioned (droplet id, hostname, address, time to ready). On
// SIGINT or SIGTERM it stops the API and the hosts' dockerds but keeps the
// state, so the next serve on the same directory brings the same droplets
// back; a second signal during shutdown kills at once. down removes every
// host, the bridge, its iptables rules and the state. serve records its
// network settings in the state directory: later serves and down use them
// unless flags say otherwise.
//
// With -backend netns serve also runs an image registry for the hosts
// (Debian's docker-registry, package internal/localcloud/registry) on the
// bridge's gateway address, port 5000: 10.213.0.1:5000 with the default
// subnet, plain HTTP, images in -state-dir/registry. Every host's dockerd
// trusts it, so a host pulls 10.213.0.1:5000/NAME:TAG, and push there from
// the machine (haddock-image build-push). Without docker-registry installed
// serve says so in one line and runs without it; -registry=false turns it
// off. It stops with serve, keeping its images; down removes it.
//
// Exit status: 0, 1 when something failed (for example netns without
// root: one line saying so), 2 for a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	lcaws "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/aws"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awselbv2"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awsrds"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/digitalocean"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netns"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netnsbackend"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/registry"
)

const usage = `usage: localcloud <command> [flags]

commands:
  serve   serve the DigitalOcean and EC2 APIs on loopback ports until interrupted
  down    remove every real host, the bridge, its rules and the state

run "localcloud <command> -h" for the command's flags
`

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		_, _ = fmt.Fprintln(os.Stderr, "localcloud:", strings.TrimPrefix(err.Error(), "localcloud: "))
	}
	os.Exit(exitCode(err))
}

// usageError is a command line mistake: exit status 2.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func exitCode(err error) int {
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp), errors.As(err, &ue):
		return 2
	}
	return 1
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		_, _ = fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "down":
		return down(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		_, _ = fmt.Fprint(stdout, usage)
		return nil
	default:
		_, _ = fmt.Fprint(stderr, usage)
		return usagef("unknown command %q", args[0])
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
	token := fs.String("token", "", "bearer `token` clients must send; it shows in ps, prefer -token-file or $LOCALCLOUD_TOKEN (default: with -backend netns a random token kept in <state-dir>/"+tokenFileName+", else "+localcloud.DevToken+")")
	tokenFile := fs.String("token-file", "", "read the bearer token from this `file`")
	awsListen := fs.String("aws-listen", envOr("LOCALCLOUD_AWS_LISTEN", lcaws.DefaultAddr), "loopback `address` of the EC2 API, or none ($LOCALCLOUD_AWS_LISTEN)")
	rdsListen := fs.String("rds-listen", envOr("LOCALCLOUD_RDS_LISTEN", awsrds.DefaultAddr), "loopback `address` of the RDS (database) API, or none ($LOCALCLOUD_RDS_LISTEN); Secrets Manager on the next port")
	elbListen := fs.String("elbv2-listen", envOr("LOCALCLOUD_ELBV2_LISTEN", awselbv2.DefaultAddr), "loopback `address` of the ELBv2 (load balancer) API, or none ($LOCALCLOUD_ELBV2_LISTEN)")
	awsKey := fs.String("aws-access-key", envOr("LOCALCLOUD_AWS_ACCESS_KEY", lcaws.DevAccessKey), "the EC2 API's access `key` ($LOCALCLOUD_AWS_ACCESS_KEY)")
	awsSecret := fs.String("aws-secret-key", "", "the EC2 API's secret `key` ($LOCALCLOUD_AWS_SECRET_KEY, default "+lcaws.DevSecretKey+")")
	bootDelay := fs.Duration("boot-delay", 2*time.Second, "how long new droplets stay \"new\" at least (default 0 with -backend netns, whose hosts take their own time)")
	deleteDelay := fs.Duration("delete-delay", 0, "how long deleted droplets stay visible")
	actionDelay := fs.Duration("action-delay", 0, "how long actions stay \"in-progress\"")
	backend := fs.String("backend", "memory", "what stands behind droplets: memory (bookkeeping only) or netns (real hosts; root)")
	stateDir := fs.String("state-dir", "", "`directory` for the API state and the hosts (default "+defaultStateDir+" with -backend netns, none with memory)")
	nf := netnsFlags(fs)
	withRegistry := fs.Bool("registry", true, "with -backend netns: run an image registry for the hosts on the bridge's gateway, port 5000 (needs docker-registry)")
	hostsAPI := fs.Bool("hosts-api", true, "with -backend netns: serve the APIs on the bridge's gateway too (same ports), where programs on the hosts reach them (Haddock's failover agent)")
	faultRate := fs.Float64("faults", 0, "the `fraction` of API requests (0 to 1) that meet a random fault: 5xx, 429, a slow answer, a dropped connection, a create done then answered 500 (see internal/localcloud)")
	rateLimit := fs.Int("rate-limit", 0, "answer at most `N` API requests a minute, 429 with Retry-After beyond, as a vendor's rate limit does (DigitalOcean: 250); 0: no limit")
	faultSeed := fs.Uint64("fault-seed", 1, "the `seed` random faults are drawn from: the same seed, the same faults")
	quiet := fs.Bool("quiet", false, "do not log requests")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("serve takes no arguments, got %q", fs.Args())
	}
	if *faultRate < 0 || *faultRate > 1 {
		return usagef("-faults %v: want a fraction from 0 to 1", *faultRate)
	}
	set := setFlags(fs)
	if *backend != "memory" && *backend != "netns" {
		return usagef("unknown backend %q (known: memory, netns)", *backend)
	}
	if *backend == "netns" {
		if *stateDir == "" {
			*stateDir = defaultStateDir
		}
		if !set["boot-delay"] {
			*bootDelay = 0
		}
	}
	if *stateDir != "" {
		abs, err := filepath.Abs(*stateDir)
		if err != nil {
			return err
		}
		*stateDir = abs
	}
	if err := checkLoopbackFlag("-listen", *listen); err != nil {
		return err
	}
	if *awsListen != "none" {
		if err := checkLoopbackFlag("-aws-listen", *awsListen); err != nil {
			return err
		}
	}
	secretHint := lcaws.DevSecretKey
	switch {
	case *awsSecret != "":
		secretHint = "<the -aws-secret-key value>"
	case os.Getenv("LOCALCLOUD_AWS_SECRET_KEY") != "":
		*awsSecret = os.Getenv("LOCALCLOUD_AWS_SECRET_KEY")
		secretHint = `"$LOCALCLOUD_AWS_SECRET_KEY"`
	default:
		*awsSecret = lcaws.DevSecretKey
	}

	logger := log.New(stderr, "localcloud: ", log.LstdFlags)
	// Messages from the library say "localcloud: " themselves.
	logf := func(format string, args ...any) { logger.Printf(strings.TrimPrefix(format, "localcloud: "), args...) }
	var be localcloud.HostBackend = localcloud.NewMemoryBackend()
	var hosts *netnsbackend.Backend
	rec := record{Backend: *backend}
	if *stateDir != "" {
		prev, ok, err := readRecord(*stateDir)
		if err != nil {
			return err
		}
		if ok && prev.Backend != *backend {
			return fmt.Errorf("state directory %s holds -backend %s state: serve it with -backend %s, or remove it first (localcloud down -state-dir %s)",
				*stateDir, prev.Backend, prev.Backend, *stateDir)
		}
		if ok {
			nf.adopt(prev, set)
		}
	}
	if *backend == "netns" {
		ncfg, err := nf.config(*stateDir, stderr)
		if err != nil {
			return err
		}
		if err := checkRealHosts(ncfg); err != nil {
			return err
		}
		if hosts, err = netnsbackend.New(ncfg, logf); err != nil {
			return err
		}
		be = hosts
		rec.Netns = nf.record()
	}
	tokenHint, generated, err := resolveToken(token, *tokenFile, *backend == "netns", *stateDir)
	if err != nil {
		return err
	}
	if generated != "" && *awsSecret == lcaws.DevSecretKey && !set["aws-secret-key"] && os.Getenv("LOCALCLOUD_AWS_SECRET_KEY") == "" {
		// Real hosts: the EC2 API creates them too, so its secret is no
		// public default either.
		*awsSecret, secretHint = *token, tokenHint
	}

	ec2API := lcaws.New(lcaws.Config{AccessKey: *awsKey, SecretKey: *awsSecret})
	rdsAPI := awsrds.New(awsrds.Config{AccessKey: *awsKey, SecretKey: *awsSecret})
	cfg := localcloud.Config{
		Addr:        *listen,
		Token:       *token,
		BootDelay:   *bootDelay,
		DeleteDelay: *deleteDelay,
		APIs: []localcloud.API{
			digitalocean.New(digitalocean.Config{ActionDelay: *actionDelay}),
			ec2API,
			awselbv2.New(awselbv2.Config{AccessKey: *awsKey, SecretKey: *awsSecret, Instances: ec2API}),
			rdsAPI, rdsAPI.Secrets(),
		},
		Backend:   be,
		Logf:      logf,
		StateDir:  *stateDir,
		FaultRate: *faultRate,
		FaultSeed: *faultSeed,
		RateLimit: *rateLimit,
	}
	cfg.APIAddrs = map[string]string{}
	if *awsListen != "none" {
		cfg.APIAddrs[lcaws.Name] = *awsListen
		if *elbListen != "none" {
			cfg.APIAddrs[awselbv2.Name] = *elbListen
		}
		if *rdsListen != "none" {
			cfg.APIAddrs[awsrds.Name] = *rdsListen
			cfg.APIAddrs[awsrds.SecretsName] = nextPort(*rdsListen)
		}
	}
	if !*quiet {
		cfg.Middleware = logRequests(logger)
	}

	sigCtx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	started := time.Now()
	srv, err := localcloud.Start(sigCtx, cfg)
	if err != nil {
		// Open fails before it restores anything (the state directory is
		// locked by another localcloud, say): there is nothing to stop.
		return err
	}
	if *stateDir != "" {
		if err := writeRecord(*stateDir, rec); err != nil {
			logger.Printf("recording settings: %v", err)
		}
	}
	// The registry answers before the banner says localcloud is ready. A
	// signal while it starts is a shutdown, not a failure.
	var reg *registry.Registry
	var regLine string
	if hosts != nil && *withRegistry {
		if reg, regLine, err = startRegistry(sigCtx, hosts, *stateDir, *token); err != nil && sigCtx.Err() == nil {
			_ = srv.Close()
			stopHosts(hosts, logger)
			return err
		}
	}
	var hostsAPIs []*netnsbackend.HostsListener
	if hosts != nil && *hostsAPI {
		if hostsAPIs, err = serveForHosts(sigCtx, hosts, srv); err != nil && sigCtx.Err() == nil {
			_ = srv.Close()
			stopHosts(hosts, logger)
			stopRegistry(reg, logger)
			return err
		}
	}
	desc := "backend " + *backend
	if hosts != nil {
		n := len(hosts.Manager().List())
		desc += fmt.Sprintf(", %d host(s) restored in %s, state in %s, hosts on bridge %s %s, reserved IPs %s",
			n, time.Since(started).Round(time.Millisecond), *stateDir, rec.Netns.Bridge, rec.Netns.Subnet, rec.Netns.ReservedPrefix)
	} else if *stateDir != "" {
		desc += ", state in " + *stateDir
	}
	_, _ = fmt.Fprintf(stdout, "localcloud: serving the DigitalOcean API on %s (%s, boot delay %s)\n", srv.URL, desc, *bootDelay)
	_, _ = fmt.Fprintf(stdout, "export DIGITALOCEAN_API_URL=%s\n", srv.URL)
	if *faultRate > 0 {
		_, _ = fmt.Fprintf(stdout, "localcloud: %.0f%% of API requests meet a random fault (seed %d); GET /_localcloud/faults/random counts them\n", *faultRate*100, *faultSeed)
	}
	if generated != "" {
		_, _ = fmt.Fprintf(stdout, "localcloud: the API token is in %s (mode 0600, kept across restarts; remove it with localcloud down)\n", generated)
	}
	_, _ = fmt.Fprintf(stdout, "export DIGITALOCEAN_TOKEN=%s\n", tokenHint)
	if u := srv.APIURLs[lcaws.Name]; u != "" {
		_, _ = fmt.Fprintf(stdout, "localcloud: serving the EC2 API on %s (regions %s)\n", u, awsRegions())
		_, _ = fmt.Fprintf(stdout, "export AWS_ENDPOINT_URL_EC2=%s\n", u)
		if e := srv.APIURLs[awselbv2.Name]; e != "" {
			_, _ = fmt.Fprintf(stdout, "localcloud: serving the ELBv2 API on %s (load balancers: HAProxy with -backend netns)\n", e)
			_, _ = fmt.Fprintf(stdout, "export AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2=%s\n", e)
		}
		if d := srv.APIURLs[awsrds.Name]; d != "" {
			_, _ = fmt.Fprintf(stdout, "localcloud: serving the RDS API on %s and Secrets Manager on %s (databases: PostgreSQL with -backend netns)\n", d, srv.APIURLs[awsrds.SecretsName])
			_, _ = fmt.Fprintf(stdout, "export AWS_ENDPOINT_URL_RDS=%s AWS_ENDPOINT_URL_SECRETS_MANAGER=%s\n", d, srv.APIURLs[awsrds.SecretsName])
		}
		_, _ = fmt.Fprintf(stdout, "export AWS_ACCESS_KEY_ID=%s\n", *awsKey)
		_, _ = fmt.Fprintf(stdout, "export AWS_SECRET_ACCESS_KEY=%s\n", secretHint)
		_, _ = fmt.Fprintf(stdout, "export AWS_REGION=%[1]s AWS_DEFAULT_REGION=%[1]s\n", lcaws.Regions[0].Name)
	}
	if regLine != "" {
		_, _ = fmt.Fprintln(stdout, regLine)
	}
	for i, l := range hostsAPIs {
		api, env := "DigitalOcean API", "HADDOCK_AGENT_DIGITALOCEAN_API_URL"
		if i > 0 {
			api, env = "EC2 API", "HADDOCK_AGENT_AWS_ENDPOINT_URL_EC2"
		}
		_, _ = fmt.Fprintf(stdout, "localcloud: the hosts reach the %s at %s (for the provider's failover agent: export %s=%s)\n", api, l.URL, env, l.URL)
	}

	<-sigCtx.Done()
	stop() // a second signal kills at once
	logger.Printf("shutting down")
	for _, l := range hostsAPIs {
		_ = l.Close()
	}
	err = srv.Close()
	if hosts != nil {
		stopHosts(hosts, logger)
	}
	stopRegistry(reg, logger)
	return err
}

// stopHosts stops the hosts' dockerds and keeps their state.
func stopHosts(be *netnsbackend.Backend, logger *log.Logger) {
	n := len(be.Manager().List())
	if n == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	if err := be.Stop(ctx); err != nil {
		logger.Printf("stopping hosts: %v", err)
		return
	}
	logger.Printf("stopped %d host(s) in %s; their state is kept for the next serve", n, time.Since(start).Round(time.Millisecond))
}

func down(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("localcloud down", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stateDir := fs.String("state-dir", defaultStateDir, "the `directory` serve used")
	nf := netnsFlags(fs)
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("down takes no arguments, got %q", fs.Args())
	}
	dir, err := filepath.Abs(*stateDir)
	if err != nil {
		return err
	}
	rec, ok, err := readRecord(dir)
	if err != nil {
		return err
	}
	if ok {
		nf.adopt(rec, setFlags(fs))
	}
	realHosts := rec.Backend == "netns" || exists(filepath.Join(dir, netnsStateFile))
	hasRegistry := exists(registryDir(dir))
	if !ok && !realHosts && !hasRegistry && !exists(filepath.Join(dir, localcloud.StateFile)) {
		_, _ = fmt.Fprintf(stdout, "localcloud: nothing to remove in %s\n", dir)
		return nil
	}
	var ncfg netns.Config
	if realHosts {
		if ncfg, err = nf.config(dir, stderr); err != nil {
			return err
		}
		if err := checkRealHosts(ncfg); err != nil {
			return err
		}
	}
	lock, err := localcloud.LockStateDir(dir)
	if err != nil {
		return err
	}
	defer func() { _ = lock.Release() }()
	if hasRegistry {
		if err := registry.Remove(ctx, registryDir(dir)); err != nil {
			return err
		}
		_, _ = fmt.Fprintf(stdout, "localcloud: removed the image registry and its images (%s)\n", registryDir(dir))
	}
	if realHosts {
		m, err := netns.New(ncfg)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		n := len(m.List())
		if err := m.Down(ctx); err != nil {
			return err
		}
		_, _ = fmt.Fprintf(stdout, "localcloud: removed %d host(s), bridge %s and its rules\n", n, ncfg.Bridge)
	}
	for _, f := range []string{recordFile, tokenFileName} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, iofs.ErrNotExist) {
			return err
		}
	}
	if err := localcloud.RemoveState(dir); err != nil {
		return err
	}
	_, _ = fmt.Fprintf(stdout, "localcloud: removed the state in %s\n", dir)
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// setFlags reports the flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

func checkLoopbackFlag(flag, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("%s %q: %v", flag, addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return usagef("%s %q is not loopback; localcloud listens on loopback only", flag, addr)
	}
	return nil
}

func awsRegions() string {
	names := make([]string, len(lcaws.Regions))
	for i, r := range lcaws.Regions {
		names[i] = r.Name
	}
	return strings.Join(names, " ")
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

// nextPort is addr with its port plus one (Secrets Manager beside RDS);
// addr as it is when it has no numeric port (":0" stays ":0").
func nextPort(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n == 0 {
		return addr
	}
	return net.JoinHostPort(host, strconv.Itoa(n+1))
}
