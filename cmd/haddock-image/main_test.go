package main

import (
	"bytes"
	"io"
	"log"
	"net/http/httptest"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"push"},
		{"build-push"},
		{"build-push", "-pkg", "./x"},
		{"build-push", "-pkg", "./x", "-tag", "r:5000/x"},
		{"build-push", "-pkg", "./x", "-tag", "r:5000/x@sha256:00"},
		{"build-push", "-pkg", "./x", "-tag", "r:5000/x:1", "extra"},
		{"build-push", "-pkg", ".", "-tag", "r:5000/x:1"},
		{"build-push", "-pkg", "./x", "-tag", "r:5000/x:1", "-label", "novalue"},
	} {
		var out, errOut bytes.Buffer
		if err := run(t.Context(), args, &out, &errOut); exitCode(err) != 2 {
			t.Errorf("%q: %v, exit status %d, want 2", args, err, exitCode(err))
		}
	}
}

func TestBuildPush(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	tag := strings.TrimPrefix(srv.URL, "http://") + "/demo/counter:1"
	var out, errOut bytes.Buffer
	err := run(t.Context(), []string{"build-push", "-C", "../..", "-pkg", "./examples/apps/counter", "-tag", tag,
		"-port", "8080", "-healthcheck", "/counter -healthcheck", "-label", "app=counter"}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	t.Log(strings.TrimSpace(errOut.String()))
	ref := strings.TrimSpace(out.String())
	if !strings.Contains(ref, "/demo/counter@sha256:") {
		t.Fatalf("stdout %q, want the reference by digest", ref)
	}
	r, err := name.ParseReference(tag)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := img.Digest(); !strings.HasSuffix(ref, d.String()) {
		t.Errorf("tag has %s, printed %s", d, ref)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if !reflect.DeepEqual(c.Entrypoint, []string{"/counter"}) || c.User != "65534:65534" || c.Labels["app"] != "counter" ||
		!reflect.DeepEqual(c.ExposedPorts, map[string]struct{}{"8080/tcp": {}}) ||
		c.Healthcheck == nil || !reflect.DeepEqual(c.Healthcheck.Test, []string{"CMD", "/counter", "-healthcheck"}) {
		t.Errorf("config: %+v", c)
	}
}
