package mototest

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// recordingTB records how StartMoto gives up.
type recordingTB struct {
	testing.TB
	skipped, failed string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Skipf(format string, a ...any) {
	r.skipped = fmt.Sprintf(format, a...)
	runtime.Goexit()
}
func (r *recordingTB) Fatalf(format string, a ...any) {
	r.failed = fmt.Sprintf(format, a...)
	runtime.Goexit()
}

func startWithout(t *testing.T) *recordingTB {
	r := &recordingTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		StartMoto(r)
	}()
	<-done
	return r
}

func TestMissingMotoSkipsOrFails(t *testing.T) {
	t.Setenv("HADDOCK_MOTO_SERVER", filepath.Join(t.TempDir(), "no-moto_server"))
	t.Setenv("CI", "")
	t.Setenv("HADDOCK_REQUIRE_MOTO", "")
	if r := startWithout(t); !strings.Contains(r.skipped, "moto_server not found") || r.failed != "" {
		t.Errorf("without CI: skipped %q, failed %q; want a skip", r.skipped, r.failed)
	}
	t.Setenv("HADDOCK_REQUIRE_MOTO", "1")
	if r := startWithout(t); !strings.Contains(r.failed, "moto is required") || r.skipped != "" {
		t.Errorf("with HADDOCK_REQUIRE_MOTO=1: skipped %q, failed %q; want a failure", r.skipped, r.failed)
	}
	t.Setenv("HADDOCK_REQUIRE_MOTO", "")
	t.Setenv("CI", "true")
	if r := startWithout(t); !strings.Contains(r.failed, "moto is required") {
		t.Errorf("with CI: failed %q; want a failure", r.failed)
	}
}

func TestStartMotoAndReset(t *testing.T) {
	endpoint := StartMoto(t)
	if !strings.HasPrefix(endpoint, "http://127.0.0.1:") {
		t.Fatalf("endpoint = %s", endpoint)
	}
	resp, err := http.Get(endpoint + "/moto-api/data.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if err := resp.Body.Close(); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || len(b) == 0 {
		t.Fatalf("moto answered %s", resp.Status)
	}
	Reset(t, endpoint)
}
