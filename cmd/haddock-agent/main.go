// Command haddock-agent keeps a cluster's floating IP on a Ready manager.
// It runs as the swarm service failover.ServiceSpec describes (global on
// the managers, the engine's socket bind-mounted, its configuration a swarm
// secret); only the instance on the Raft leader acts. See package
// internal/failover for the policy, the configuration and the timing.
//
//	haddock-agent [-config /run/secrets/haddock-agent] [-docker-host unix:///var/run/docker.sock]
//	haddock-agent -check [-config FILE]   validate the configuration, print it redacted, exit
//
// It logs JSON lines to stderr, one per decision and per error (a state
// that lasts logs once), never a credential. Exit status: 0 on SIGTERM or
// SIGINT, 1 when it cannot start, 2 for a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/docker/docker/client"
	// Root certificates for a FROM-scratch image, which has none: used
	// only when the system offers none.
	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/haddockhq/terraform-provider-haddock/internal/failover"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	default:
		_, _ = fmt.Fprintln(os.Stderr, "haddock-agent:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ error }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("haddock-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "/run/secrets/"+failover.SecretTarget, "the configuration `file` (JSON; the swarm secret)")
	dockerHost := fs.String("docker-host", "unix://"+failover.DockerSocket, "the local engine's `address`")
	check := fs.Bool("check", false, "validate the configuration, print it with credentials redacted, and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("no arguments expected, got %q", fs.Args())}
	}
	cfg, err := failover.LoadConfig(*configPath)
	if err != nil {
		return err
	}
	if *check {
		_, _ = fmt.Fprintln(stdout, cfg)
		return nil
	}
	docker, err := client.NewClientWithOpts(client.WithHost(*dockerHost), client.WithAPIVersionNegotiation())
	if err != nil {
		return fmt.Errorf("the local engine: %w", err)
	}
	defer func() { _ = docker.Close() }()
	cl, err := failover.NewCloud(ctx, cfg)
	if err != nil {
		return err
	}
	err = failover.NewAgent(cfg, docker, cl, failover.NewLogger(stderr)).Run(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
