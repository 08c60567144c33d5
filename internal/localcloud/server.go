package localcloud

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// DevToken is the token localcloud accepts when none is configured. It
// guards a loopback-only listener and is not a secret.
const DevToken = "localcloud-dev-token"

// Config configures a Server. The zero value is usable, but serves no
// vendor API: list the APIs to serve in APIs.
type Config struct {
	// Addr is the listen address for Start; default "127.0.0.1:0". Only
	// loopback addresses are accepted.
	Addr string
	// Token is the bearer token every request must carry; default DevToken.
	Token string
	// APIs are the vendor APIs to serve, each under its own path prefix
	// (the DigitalOcean API of package localcloud/digitalocean under /v2/).
	APIs []API
	// APIAddrs serves APIs on listeners of their own as well, by API name:
	// Start listens on each address (loopback only; port 0 picks one) and
	// hands every request there to that API, whatever its path (the AWS
	// API at / as an EC2 endpoint is). Requests there are authenticated,
	// counted, faulted (a fault's path prefix sees the API's Prefix
	// prepended to the path) and wrapped by Middleware as on Addr; the
	// /_localcloud/ controls stay on Addr.
	APIAddrs map[string]string
	// BootDelay is how long a host stays pending after it was created (and
	// at least until the backend has provisioned it).
	BootDelay time.Duration
	// DeleteDelay is how long a deleted host stays visible; default 0.
	DeleteDelay time.Duration
	// Backend stands behind hosts and addresses; default a MemoryBackend.
	Backend HostBackend
	// Middleware, when set, wraps the whole handler (after localcloud's own
	// request id, authentication, faults and counters, so it sees exactly
	// what a client sees). A contract validator plugs in here.
	Middleware func(http.Handler) http.Handler
	// Now is the clock; default time.Now. Tests can move time forward to
	// cross the boot delay without sleeping.
	Now func() time.Time
	// FaultRate is the fraction of API requests that meet a random fault
	// (see FaultError500 and the other kinds), drawn reproducibly from
	// FaultSeed; 0, the default, injects none. Admin paths never do.
	FaultRate float64
	FaultSeed uint64
	// RateLimit is how many API requests a minute are answered, as a
	// vendor's rate limit (DigitalOcean: 250); beyond it a request gets 429
	// with Retry-After until the oldest of the minute's requests ages out.
	// 0, the default, limits nothing. Admin paths are never limited.
	RateLimit int
	// Logf, when set, receives backend errors that no request can report
	// (a failed Destroy, say).
	Logf func(format string, args ...any)
	// StateDir, when set, is where the state (hosts, addresses and every
	// API's own records) is saved as JSON after every change, and loaded
	// from by the next Open or Start, so the same hosts come back. Empty
	// (the default) keeps everything in memory. Only Open and Start honour
	// it; New panics when it is set.
	StateDir string
}

// Server is localcloud's core: hosts, addresses, persistence, faults and
// request counters, with the vendor APIs of Config.APIs mounted on it. It
// is an http.Handler; use Start to serve it on a loopback port.
type Server struct {
	cfg     Config
	backend HostBackend
	now     func() time.Time
	handler http.Handler
	apis    []API
	admin   *http.ServeMux

	ctx    context.Context // canceled by Close; bounds backend calls
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// opMu serializes the backend calls request handlers make (address
	// moves, power) with host deletion, so an address is never assigned to
	// a host being destroyed (see Serialize). Taken before mu, never while
	// holding it.
	opMu sync.Mutex

	// Persistence (Open with a StateDir). saveMu orders saves; taken
	// before mu.
	stateDir  string
	lock      *StateLock
	saveMu    sync.Mutex
	closeOnce sync.Once

	mu     sync.Mutex
	st     state
	fault  faults
	random randomFaults
	limit  rateLimit
	reqs   counters
}

// New returns a Server for cfg, state in memory only. Use Open (or Start)
// for a Config with a StateDir.
func New(cfg Config) *Server {
	if cfg.StateDir != "" {
		panic("localcloud: Config.StateDir needs Open or Start, not New")
	}
	if cfg.Token == "" {
		cfg.Token = DevToken
	}
	if cfg.Backend == nil {
		cfg.Backend = NewMemoryBackend()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, backend: cfg.Backend, now: cfg.Now, ctx: ctx, cancel: cancel}
	s.st.init()
	s.reqs.m = map[string]int{}
	s.admin = s.adminMux()
	_ = s.random.set(min(max(cfg.FaultRate, 0), 1), cfg.FaultSeed)
	for _, a := range cfg.APIs {
		s.mount(a)
	}
	var h http.Handler = http.HandlerFunc(s.serve)
	if cfg.Middleware != nil {
		h = cfg.Middleware(h)
	}
	s.handler = h
	return s
}

// ServeHTTP serves the API, Config.Middleware included.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Handler returns the handler ServeHTTP serves, Config.Middleware included.
func (s *Server) Handler() http.Handler { return s.handler }

// Close cancels backend calls in flight and waits for their goroutines.
// With a StateDir it then saves the state a last time and unlocks the
// directory. Hosts a backend runs are not stopped: that is the backend's
// business (the netns backend's Stop).
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.cancel()
		s.wg.Wait()
		s.persist()
		s.saveMu.Lock()
		defer s.saveMu.Unlock()
		s.stateDir = ""
		err = s.lock.Release()
	})
	return err
}

// serve is the base handler: a request id, authentication, then the admin
// endpoints or the API whose prefix the path starts with; an API's requests
// are counted and may meet an injected fault first.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Request-Id", NewUUID())
	api := s.apiFor(r.URL.Path)
	if api != nil {
		s.serveAPI(api, r.URL.Path, w, r)
		return
	}
	if !s.authorized(r) {
		writeError(w, http.StatusUnauthorized, "Unauthorized", "Unable to authenticate you")
		return
	}
	if strings.HasPrefix(r.URL.Path, "/_localcloud/") {
		s.admin.ServeHTTP(w, r)
		return
	}
	writeError(w, http.StatusNotFound, "not_found", "The resource you were accessing could not be found.")
}

// serveAPI serves a request for api: authentication (the API's own when it
// is an Authenticator), the counters, a fault whose path prefix path
// starts with, then the API.
func (s *Server) serveAPI(api API, path string, w http.ResponseWriter, r *http.Request) {
	ok := false
	if a, own := api.(Authenticator); own {
		ok = a.Authenticate(r)
	} else {
		ok = s.authorized(r)
	}
	if !ok {
		api.Refuse(w, r, http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	s.reqs.add(api.Route(r))
	f, faulted := s.fault.match(r.Method, path)
	random := ""
	if !faulted {
		random = s.random.draw()
	}
	if !faulted && random == "" {
		if wait, over := s.limit.admit(s.cfg.RateLimit, s.now()); over {
			f, faulted = Fault{Status: http.StatusTooManyRequests, RetryAfterSeconds: wait}, true
		}
	}
	s.mu.Unlock()
	if faulted {
		serveFault(w, r, api, f)
		return
	}
	if random != "" {
		if serveRandomFault(w, r, api, random) && r.Method != http.MethodGet && r.Method != http.MethodHead {
			s.persist()
		}
		return
	}
	api.ServeHTTP(w, r)
	if ro, ok := api.(ReadOnlyReporter); ok && ro.ReadOnly(r) {
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.persist()
	}
}

// APIHandler is the handler of API name's own listener (Config.APIAddrs):
// every request goes to that API, Config.Middleware included. It panics
// when no such API is mounted.
func (s *Server) APIHandler(name string) http.Handler {
	api := s.apiNamed(name)
	if api == nil {
		panic("localcloud: no API " + name + " is mounted")
	}
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", NewUUID())
		s.serveAPI(api, api.Prefix()+strings.TrimPrefix(r.URL.Path, "/"), w, r)
	})
	if s.cfg.Middleware != nil {
		h = s.cfg.Middleware(h)
	}
	return h
}

func (s *Server) authorized(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.cfg.Token)) == 1
}

// Now is the server's clock (Config.Now).
func (s *Server) Now() time.Time { return s.now() }

// Logf reports what no request can (Config.Logf).
func (s *Server) Logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf(format, args...)
	}
}

// Lock takes the lock that guards the hosts, the addresses and every API's
// own records, so an API changes its records and the hosts together.
// Methods documented "call with the lock held" need it; backend calls are
// never made while holding it.
func (s *Server) Lock() { s.mu.Lock() }

// Unlock releases Lock.
func (s *Server) Unlock() { s.mu.Unlock() }

// Serialize takes the operation lock and returns its release: a handler
// that checks the state, then acts through the backend (moves an address,
// powers a host), holds it throughout, so what it checked still holds when
// the backend acts; DestroyHosts takes it too. Take it before Lock.
func (s *Server) Serialize() (release func()) {
	s.opMu.Lock()
	return s.opMu.Unlock
}

// Running is a Server listening on a loopback port.
type Running struct {
	// URL is the base URL, e.g. http://127.0.0.1:40123 (no trailing slash):
	// what a client's endpoint (DIGITALOCEAN_API_URL, godo's base URL)
	// should be.
	URL    string
	Addr   net.Addr
	Server *Server
	// APIURLs are the base URLs of the APIs' own listeners
	// (Config.APIAddrs), by API name: what a client's endpoint should be
	// (an EC2 endpoint, say).
	APIURLs map[string]string

	main  *listener
	extra []*listener
	once  sync.Once
	err   error

	// Connections accepted but without a request yet: Shutdown would wait
	// up to 5 s for them (net/http treats them as active), so Close drops
	// them instead.
	connMu  sync.Mutex
	fresh   map[net.Conn]bool
	closing bool
}

func (r *Running) connState(c net.Conn, st http.ConnState) {
	r.connMu.Lock()
	defer r.connMu.Unlock()
	if st != http.StateNew {
		delete(r.fresh, c)
		return
	}
	if r.closing {
		_ = c.Close()
		return
	}
	r.fresh[c] = true
}

func (r *Running) dropFresh() {
	r.connMu.Lock()
	defer r.connMu.Unlock()
	r.closing = true
	for c := range r.fresh {
		_ = c.Close()
	}
	clear(r.fresh)
}

// Start serves a new Server (see Open: with cfg.StateDir it loads the saved
// state and restores the backend's hosts first) on cfg.Addr, and each API
// of cfg.APIAddrs on its own address, until ctx is done or Close is called.
func Start(ctx context.Context, cfg Config) (*Running, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	var lns []net.Listener
	closeAll := func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}
	names := slices.Sorted(maps.Keys(cfg.APIAddrs))
	for _, addr := range append([]string{cfg.Addr}, mapValues(cfg.APIAddrs, names)...) {
		if err := checkLoopback(addr); err != nil {
			closeAll()
			return nil, err
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("localcloud: listen: %w", err)
		}
		lns = append(lns, ln)
	}
	s, err := Open(ctx, cfg)
	if err != nil {
		closeAll()
		return nil, err
	}
	for _, name := range names {
		if s.apiNamed(name) == nil {
			closeAll()
			_ = s.Close()
			return nil, fmt.Errorf("localcloud: Config.APIAddrs names API %q, which is not in Config.APIs", name)
		}
	}
	run := Serve(ctx, lns[0], s)
	run.APIURLs = map[string]string{}
	for i, name := range names {
		run.APIURLs[name] = "http://" + lns[i+1].Addr().String()
		run.extra = append(run.extra, run.serve(lns[i+1], s.APIHandler(name)))
	}
	return run, nil
}

func mapValues(m map[string]string, keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

// Serve serves s on ln until ctx is done or Close is called.
func Serve(ctx context.Context, ln net.Listener, s *Server) *Running {
	run := &Running{
		URL:    "http://" + ln.Addr().String(),
		Addr:   ln.Addr(),
		Server: s,
		fresh:  map[net.Conn]bool{},
	}
	run.main = run.serve(ln, s)
	go func() {
		select {
		case <-ctx.Done():
			_ = run.Close()
		case <-s.ctx.Done():
		}
	}()
	return run
}

// listener is one http.Server of a Running and its Serve's result.
type listener struct {
	http *http.Server
	done chan error
}

func (r *Running) serve(ln net.Listener, h http.Handler) *listener {
	l := &listener{http: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ConnState: r.connState}, done: make(chan error, 1)}
	go func() {
		err := l.http.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		l.done <- err
	}()
	return l
}

// shutdown stops l, waiting until ctx ends for requests in flight.
func (l *listener) shutdown(ctx context.Context) error {
	err := l.http.Shutdown(ctx)
	if err != nil {
		_ = l.http.Close()
	}
	if serveErr := <-l.done; err == nil {
		err = serveErr
	}
	return err
}

// Close stops the listeners, waits up to five seconds for requests in
// flight, then closes the Server.
func (r *Running) Close() error {
	r.once.Do(func() {
		r.dropFresh()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := r.main.shutdown(ctx)
		for _, l := range r.extra {
			if xerr := l.shutdown(ctx); err == nil {
				err = xerr
			}
		}
		_ = r.Server.Close()
		r.err = err
	})
	return r.err
}

func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("localcloud: listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("localcloud: listen address %q is not loopback; localcloud listens on loopback only", addr)
	}
	return nil
}

// NewUUID is a random (version 4) UUID: request ids, and the ids vendor
// APIs give their records.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
