package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"path/filepath"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netnsbackend"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/registry"
)

// registryDir is the registry's directory in the state directory.
func registryDir(stateDir string) string { return filepath.Join(stateDir, registry.DirName) }

// startRegistry starts the hosts' registry and returns the line that says
// where it is. Without docker-registry the line says so and the registry
// is nil: the hosts work without it.
func startRegistry(ctx context.Context, hosts *netnsbackend.Backend, stateDir, token string) (*registry.Registry, string, error) {
	addr := hosts.RegistryAddr()
	reg, err := hosts.StartRegistry(ctx, registryDir(stateDir), registry.Credentials{Username: registry.PushUser, Password: token}, false)
	if errors.Is(err, registry.ErrNotInstalled) {
		return nil, fmt.Sprintf("localcloud: no image registry for the hosts: %v (hosts work without it)", err), nil
	}
	if err != nil {
		return nil, "", err
	}
	return reg, fmt.Sprintf("localcloud: image registry on %s (plain HTTP, hosts trust it and pull anonymously; pushes need user %s and the API token): images are %s/NAME:TAG, e.g. HADDOCK_REGISTRY_PASSWORD=<token> haddock-image build-push -pkg ./examples/apps/counter -tag %s/counter:1",
		addr, registry.PushUser, addr, addr), nil
}

// stopRegistry stops the registry and keeps its images.
func stopRegistry(reg *registry.Registry, logger *log.Logger) {
	if reg == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := reg.Stop(ctx); err != nil {
		logger.Printf("stopping the registry: %v", err)
		return
	}
	logger.Printf("stopped the registry; its images are kept for the next serve")
}
