// Package testimage builds container images for tests without a Docker
// daemon and without pulling anything: FROM scratch, one layer holding a
// static Go binary built from source, as a `docker save` archive that any
// engine can `docker load` (the Engine API's ImageLoad).
package testimage

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// HTTPServer answers every HTTP request on :8080 with the container's
// hostname and $NAME, so a test can tell which host and task answered.
const HTTPServer = `package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	host, _ := os.Hostname()
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintf(w, "%s %s\n", os.Getenv("NAME"), host) })
	panic(http.ListenAndServe(":8080", nil))
}
`

// Sleeper waits for SIGTERM or SIGINT and exits.
const Sleeper = `package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}
`

// GoTool finds the go command: on PATH, else where Go installs it.
func GoTool() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/local/go/bin/go"); err == nil {
		return "/usr/local/go/bin/go", nil
	}
	return "", fmt.Errorf("no go toolchain to build test images: put go on PATH")
}

// Build compiles a single-file Go program statically and returns a docker
// save archive of an image tagged tag whose entrypoint is that program.
func Build(t testing.TB, tag, goSource string) []byte {
	t.Helper()
	archive, err := build(t.TempDir(), tag, goSource)
	if err != nil {
		t.Fatalf("building test image %s: %v", tag, err)
	}
	return archive
}

func build(dir, tag, goSource string) ([]byte, error) {
	goBin, err := GoTool()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(goSource), 0o644); err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "app")
	cmd := exec.Command(goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "main.go")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOWORK=off", "GOFLAGS=", "GO111MODULE=off", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %v\n%s", err, out)
	}
	binData, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	return Archive(tag, "app", binData)
}

// Archive returns a docker save archive of an image tagged tag with one
// layer holding data as /name, the image's entrypoint.
func Archive(tag, name string, data []byte) ([]byte, error) {
	layer, err := tarFiles([]file{{name: name, data: data, mode: 0o755}})
	if err != nil {
		return nil, err
	}
	diffID := sha256.Sum256(layer)
	diffHex := hex.EncodeToString(diffID[:])
	config, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"created":      "1970-01-01T00:00:00Z",
		"config":       map[string]any{"Entrypoint": []string{"/" + name}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + diffHex}},
	})
	if err != nil {
		return nil, err
	}
	configSum := sha256.Sum256(config)
	configName := hex.EncodeToString(configSum[:]) + ".json"
	manifest, err := json.Marshal([]map[string]any{{
		"Config": configName, "RepoTags": []string{tag}, "Layers": []string{diffHex + "/layer.tar"},
	}})
	if err != nil {
		return nil, err
	}
	return tarFiles([]file{
		{name: configName, data: config, mode: 0o644},
		{name: diffHex + "/layer.tar", data: layer, mode: 0o644},
		{name: "manifest.json", data: manifest, mode: 0o644},
	})
}

type file struct {
	name string
	data []byte
	mode int64
}

func tarFiles(files []file) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
