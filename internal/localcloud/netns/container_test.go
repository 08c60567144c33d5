package netns

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// containerServer is a static program answering HTTP on :8080 with $NAME.
const containerServer = `package main

import (
	"io"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, os.Getenv("NAME")) })
	panic(http.ListenAndServe(":8080", nil))
}
`

// testImage builds containerServer into a one-file image tarball. It skips
// the test without a Go toolchain.
func testImage(t *testing.T) []byte {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go toolchain to build the test image")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(containerServer), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module srv\n\ngo 1.21\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goTool, "build", "-trimpath", "-ldflags=-s -w", "-o", "srv", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building test image: %v: %s", err, out)
	}
	bin, err := os.ReadFile(filepath.Join(dir, "srv"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "srv", Mode: 0o755, Size: int64(len(bin))}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(bin); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func dockerAPI(ctx context.Context, h Host, method, path, ctype string, body io.Reader) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://docker"+path, body)
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	c := dockerClient(h.DockerSocket)
	c.Timeout = time.Minute
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return b, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

// runContainer imports the image and runs it as "web" with port 8080
// published and restart policy restart ("" for none).
func runContainer(t *testing.T, ctx context.Context, h Host, image []byte, restart string) {
	t.Helper()
	if _, err := dockerAPI(ctx, h, http.MethodPost, "/images/create?fromSrc=-&repo=lc-test&tag=1", "application/x-tar", bytes.NewReader(image)); err != nil {
		t.Fatal(err)
	}
	spec := `{"Image":"lc-test:1","Cmd":["/srv"],"Env":["NAME=` + h.ID + `"],"ExposedPorts":{"8080/tcp":{}},
"HostConfig":{"PortBindings":{"8080/tcp":[{"HostPort":"8080"}]},"RestartPolicy":{"Name":"` + restart + `"}}}`
	out, err := dockerAPI(ctx, h, http.MethodPost, "/containers/create?name=web", "application/json", strings.NewReader(spec))
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ ID string }
	if err := json.Unmarshal(out, &created); err != nil {
		t.Fatal(err)
	}
	if _, err := dockerAPI(ctx, h, http.MethodPost, "/containers/"+created.ID+"/start", "", nil); err != nil {
		t.Fatal(err)
	}
}

// TestContainers runs a container with a published port on two hosts, then
// destroys one gracefully and the other after its dockerd and containerd
// crashed (leaving the shim and the container running).
func TestContainers(t *testing.T) {
	requireRealHosts(t)
	image := testImage(t)
	ctx := context.Background()
	cfg := testConfig(t, 4)
	before := countLeftovers(t, cfg)
	m := newTestManager(t, cfg)
	hosts := provisionAll(t, ctx, m, []HostSpec{{ID: "p"}, {ID: "q"}})
	for _, id := range []string{"p", "q"} {
		runContainer(t, ctx, hosts[id], image, "")
	}
	var got string
	var err error
	for _, id := range []string{"p", "q"} {
		url := "http://" + hosts[id].IPv4.String() + ":8080/"
		for range 50 { // the server needs a moment to listen
			if got, err = get(ctx, m, "", url); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil || got != id {
			t.Errorf("container on %s: GET %s = %q, %v", id, url, got, err)
		}
		expectGet(t, m, map[string]string{"p": "q", "q": "p"}[id], url, id)
	}

	// Crash q: dockerd and containerd die, the shim and container live on.
	qs, _ := m.lookup("q")
	pids := m.hostProcesses(qs)
	if len(pids) < 4 {
		t.Errorf("q's processes %v: want dockerd, containerd, shim, container", pids)
	}
	for _, p := range pids {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p))
		if c := strings.TrimSpace(string(comm)); c == "dockerd" || c == "containerd" {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	}
	ps, _ := m.lookup("p")
	cgroups := append(m.cgroupDirs(ps), m.cgroupDirs(qs)...)
	if len(cgroups) == 0 {
		t.Error("no container cgroups found under the hosts' cgroup parents")
	}
	for _, id := range []string{"p", "q"} {
		if err := m.Destroy(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, hs := range []*hostState{ps, qs} {
		if p := m.hostProcesses(hs); len(p) > 0 {
			t.Errorf("host %s left processes %v", hs.ID, p)
		}
	}
	for _, d := range cgroups {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("cgroup %s left", d)
		}
	}
	if err := m.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if after := countLeftovers(t, cfg); after != before {
		t.Errorf("leftovers after Down: %+v, before: %+v", after, before)
	}
}
