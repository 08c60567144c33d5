package failover

import (
	"context"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/haddockhq/terraform-provider-haddock/internal/image"
)

// ImagePath is the agent binary's path in its image.
const ImagePath = "/haddock-agent"

// BuildImage compiles cmd/haddock-agent of the module at moduleDir into a
// static binary and puts it in a one-layer image FROM scratch (package
// internal/image), running as root: the engine's socket is root's.
func BuildImage(ctx context.Context, moduleDir string) (v1.Image, error) {
	bin, err := image.BuildGo(ctx, image.GoBuild{Package: "./cmd/haddock-agent", Dir: moduleDir})
	if err != nil {
		return nil, err
	}
	return image.FromBinary(bin, image.Options{
		Path:   ImagePath,
		User:   "0",
		Labels: map[string]string{"org.opencontainers.image.title": "haddock-agent"},
	})
}

// PushImage builds the agent's image (BuildImage) and pushes it to ref
// (registry/repository:tag), returning it by digest; insecure allows plain
// HTTP to any registry (see image.Push).
func PushImage(ctx context.Context, moduleDir, ref string, insecure bool, opts ...image.PushOption) (string, error) {
	img, err := BuildImage(ctx, moduleDir)
	if err != nil {
		return "", err
	}
	return image.Push(ctx, img, ref, insecure, opts...)
}
