package digitalocean

import (
	"context"
	"net/http"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
)

// The core's names the tests use.
type (
	Server        = localcloud.Server
	Fault         = localcloud.Fault
	HostRequest   = localcloud.HostRequest
	HostAddrs     = localcloud.HostAddrs
	MemoryBackend = localcloud.MemoryBackend
)

var (
	NewMemoryBackend = localcloud.NewMemoryBackend
	LockStateDir     = localcloud.LockStateDir
	RemoveState      = localcloud.RemoveState
)

const (
	DevToken  = localcloud.DevToken
	StateFile = localcloud.StateFile
	LockFile  = localcloud.LockFile
)

// testConfig is the core's configuration and the API's in one.
type testConfig struct {
	Addr, Token                         string
	BootDelay, DeleteDelay, ActionDelay time.Duration
	DropletLimit, ReservedIPLimit       int
	Backend                             localcloud.HostBackend
	Middleware                          func(http.Handler) http.Handler
	Now                                 func() time.Time
	Logf                                func(format string, args ...any)
	StateDir                            string
}

// core is c as a core configuration serving a new DigitalOcean API.
func (c testConfig) core() localcloud.Config {
	return localcloud.Config{
		Addr: c.Addr, Token: c.Token, BootDelay: c.BootDelay, DeleteDelay: c.DeleteDelay, Backend: c.Backend,
		Middleware: c.Middleware, Now: c.Now, Logf: c.Logf, StateDir: c.StateDir,
		APIs: []localcloud.API{New(Config{ActionDelay: c.ActionDelay, DropletLimit: c.DropletLimit, ReservedIPLimit: c.ReservedIPLimit})},
	}
}

func newServer(c testConfig) *Server { return localcloud.New(c.core()) }

func start(ctx context.Context, c testConfig) (*localcloud.Running, error) {
	return localcloud.Start(ctx, c.core())
}

func open(ctx context.Context, c testConfig) (*Server, error) { return localcloud.Open(ctx, c.core()) }
