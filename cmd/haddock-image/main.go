// Command haddock-image builds a Go program into a container image and
// pushes it to a registry, without a Docker daemon: a development tool for
// localcloud's registry (package internal/localcloud/registry).
//
//	haddock-image build-push -pkg ./examples/apps/counter -tag 10.213.0.1:5000/counter:1
//	                         [-path /counter] [-port 8080]... [-env K=V]... [-label K=V]...
//	                         [-user 65534:65534] [-healthcheck "/counter -healthcheck"]
//	                         [-arch amd64] [-insecure]
//
// build-push compiles the package statically for linux (CGO_ENABLED=0,
// -trimpath, stripped; the go command must be on PATH), puts the binary in
// a one-layer image FROM scratch (package internal/image: OCI manifest,
// entrypoint the binary, user nobody, files and creation time at the Unix
// epoch, so the same source gives the same digest) and pushes it. A
// registry at a private (RFC 1918) or loopback address, as localcloud's
// is, is reached over plain HTTP; -insecure allows plain HTTP for any
// other. Credentials come from $HADDOCK_REGISTRY_PASSWORD (user
// $HADDOCK_REGISTRY_USERNAME, default "localcloud": localcloud's registry
// takes its API token), else from ~/.docker/config.json.
//
// It prints progress on stderr and the pushed image by digest on stdout.
// Exit status: 0, 1 when building or pushing failed, 2 for a usage error.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/image"
)

const usage = `usage: haddock-image build-push -pkg PACKAGE -tag REGISTRY/REPOSITORY:TAG [flags]

Builds a Go main package into a one-layer image FROM scratch and pushes it,
without a Docker daemon. With localcloud: -tag 10.213.0.1:5000/NAME:TAG.

run "haddock-image build-push -h" for the flags
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		_, _ = fmt.Fprintln(os.Stderr, "haddock-image:", err)
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
	case "build-push":
		return buildPush(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		_, _ = fmt.Fprint(stdout, usage)
		return nil
	default:
		_, _ = fmt.Fprint(stderr, usage)
		return usagef("unknown command %q", args[0])
	}
}

// listFlag is a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func buildPush(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("haddock-image build-push", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pkg := fs.String("pkg", "", "the Go main `package` to build, as go build takes it (./examples/apps/counter)")
	tag := fs.String("tag", "", "where to push: `registry/repository:tag` (10.213.0.1:5000/counter:1)")
	dir := fs.String("C", "", "run go build in this `directory` (default the current one)")
	binPath := fs.String("path", "", "the binary's `path` in the image (default /<last element of -pkg>)")
	user := fs.String("user", image.DefaultUser, "the `user` the image runs as (uid:gid; a scratch image has no /etc/passwd)")
	healthcheck := fs.String("healthcheck", "", "a HEALTHCHECK `command`, split on spaces (\"/counter -healthcheck\")")
	arch := fs.String("arch", "", "GOARCH to build for (default this machine's)")
	insecure := fs.Bool("insecure", false, "allow plain HTTP to any registry (it is allowed anyway for private and loopback addresses)")
	var ports, env, labels listFlag
	fs.Var(&ports, "port", "a `port` to expose, 8080 or 8080/tcp (repeatable)")
	fs.Var(&env, "env", "an environment variable `KEY=value` (repeatable)")
	fs.Var(&labels, "label", "a label `KEY=value` (repeatable)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("build-push takes no arguments, got %q", fs.Args())
	}
	if *pkg == "" || *tag == "" {
		return usagef("build-push needs -pkg and -tag")
	}
	if !strings.Contains(path.Base(*tag), ":") || strings.Contains(*tag, "@") {
		return usagef("-tag %q: want registry/repository:tag", *tag)
	}
	opts := image.Options{Path: *binPath, User: *user, Env: env, ExposedPorts: ports, Architecture: *arch}
	if opts.Path == "" {
		base := path.Base(filepath.ToSlash(strings.TrimRight(*pkg, "/")))
		if base == "." || base == "/" || base == "" {
			return usagef("-pkg %q: give -path too", *pkg)
		}
		opts.Path = "/" + base
	}
	if *healthcheck != "" {
		opts.Healthcheck = strings.Fields(*healthcheck)
	}
	if len(labels) > 0 {
		opts.Labels = map[string]string{}
		for _, l := range labels {
			k, v, ok := strings.Cut(l, "=")
			if !ok || k == "" {
				return usagef("-label %q: want KEY=value", l)
			}
			opts.Labels[k] = v
		}
	}

	t0 := time.Now()
	bin, err := image.BuildGo(ctx, image.GoBuild{Package: *pkg, Dir: *dir, Arch: *arch})
	if err != nil {
		return err
	}
	img, err := image.FromBinary(bin, opts)
	if err != nil {
		return usageError{err}
	}
	size, err := image.Size(img) // compresses the layer
	if err != nil {
		return err
	}
	_, _ = fmt.Fprintf(stderr, "haddock-image: built %s: binary %s, image %s, in %s\n",
		*pkg, mb(int64(len(bin))), mb(size), time.Since(t0).Round(time.Millisecond))
	t1 := time.Now()
	var pushOpts []image.PushOption
	if pw := os.Getenv(EnvRegistryPassword); pw != "" {
		// From the environment, not argv: a password in argv shows in ps.
		pushOpts = append(pushOpts, image.WithBasicAuth(cmp.Or(os.Getenv(EnvRegistryUsername), "localcloud"), pw))
	}
	ref, err := image.Push(ctx, img, *tag, *insecure, pushOpts...)
	if err != nil {
		return err
	}
	_, _ = fmt.Fprintf(stderr, "haddock-image: pushed %s in %s\n", *tag, time.Since(t1).Round(time.Millisecond))
	_, _ = fmt.Fprintln(stdout, ref)
	return nil
}

// Registry credentials for the push, from the environment; without them
// the Docker credentials of this machine (~/.docker/config.json) are used.
// localcloud's registry takes user "localcloud" and its API token.
const (
	EnvRegistryUsername = "HADDOCK_REGISTRY_USERNAME"
	EnvRegistryPassword = "HADDOCK_REGISTRY_PASSWORD"
)

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
