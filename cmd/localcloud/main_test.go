package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netns"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServe(t *testing.T) {
	t.Setenv("LOCALCLOUD_TOKEN", "")
	t.Setenv("LOCALCLOUD_LISTEN", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "-boot-delay", "0s"}, &stdout, &stderr) }()

	urlRE := regexp.MustCompile(`export DIGITALOCEAN_API_URL=(\S+)`)
	var url string
	for deadline := time.Now().Add(5 * time.Second); url == ""; {
		if m := urlRE.FindStringSubmatch(stdout.String()); m != nil {
			url = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner: %q %q", stdout.String(), stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.Contains(stdout.String(), "export DIGITALOCEAN_TOKEN="+localcloud.DevToken) {
		t.Errorf("banner: %s", stdout.String())
	}
	req, _ := http.NewRequest("GET", url+"/v2/account", nil)
	req.Header.Set("Authorization", "Bearer "+localcloud.DevToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("status %d", res.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	logs := stderr.String()
	if !regexp.MustCompile(`GET /v2/account 200 \S+`).MatchString(logs) {
		t.Errorf("no request line in %q", logs)
	}
	if strings.Contains(logs, localcloud.DevToken) {
		t.Errorf("the token was logged: %q", logs)
	}
}

func TestServeFlags(t *testing.T) {
	var out, errOut syncBuffer
	for _, args := range [][]string{
		{"serve", "-listen", "0.0.0.0:0"},
		{"serve", "-aws-listen", "0.0.0.0:0"},
		{"serve", "-backend", "netns-someday"},
		{"serve", "-faults", "2"},
		{"serve", "extra"},
		{"serve", "-no-such-flag"},
		{"down", "extra"},
		{"frobnicate"},
	} {
		if err := run(t.Context(), args, &out, &errOut); exitCode(err) != 2 {
			t.Errorf("%v: %v, exit status %d, want 2", args, err, exitCode(err))
		}
	}
	if exitCode(nil) != 0 || exitCode(errors.New("x")) != 1 {
		t.Error("exit codes")
	}
}

// Without root, -backend netns fails with netns.Check's one line, exit
// status 1, before touching anything.
func TestServeNetnsWithoutRoot(t *testing.T) {
	const msg = "localcloud real hosts need root (run as root or use the in-memory backend)"
	old := checkRealHosts
	checkRealHosts = func(netns.Config) error { return errors.New(msg) }
	defer func() { checkRealHosts = old }()
	dir := filepath.Join(t.TempDir(), "state")
	for _, args := range [][]string{
		{"serve", "-backend", "netns", "-state-dir", dir, "-listen", "127.0.0.1:0"},
		{"down", "-state-dir", dir, "-bridge", "hdkt6"},
	} {
		if args[0] == "down" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, netnsStateFile), []byte("{}"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		var out, errOut syncBuffer
		err := run(t.Context(), args, &out, &errOut)
		if err == nil || err.Error() != msg || exitCode(err) != 1 {
			t.Errorf("%v: %v (exit %d)", args, err, exitCode(err))
		}
		if out.String() != "" || errOut.String() != "" {
			t.Errorf("%v printed %q %q", args, out.String(), errOut.String())
		}
	}
}

// serve -backend memory -state-dir keeps the API state across runs; down
// removes it.
func TestServeMemoryStateDir(t *testing.T) {
	t.Setenv("LOCALCLOUD_TOKEN", "")
	dir := filepath.Join(t.TempDir(), "state")
	args := []string{"serve", "-listen", "127.0.0.1:0", "-boot-delay", "0s", "-state-dir", dir, "-quiet"}
	srv := startServe(t, args)
	id := srv.createDroplet(t, "keep-me", "")
	srv.stop(t)
	srv = startServe(t, args)
	if got := srv.get(t, "/v2/droplets/"+strconv.Itoa(id)); !strings.Contains(got, `"keep-me"`) {
		t.Errorf("after a restart: %s", got)
	}
	var out, errOut syncBuffer
	if err := run(t.Context(), []string{"down", "-state-dir", dir}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("down while serving: %v", err)
	}
	if err := run(t.Context(), []string{"serve", "-backend", "netns", "-state-dir", dir}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "-backend memory") {
		t.Errorf("netns on a memory state directory: %v", err)
	}
	srv.stop(t)
	if err := run(t.Context(), []string{"down", "-state-dir", dir}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("state directory after down: %v", err)
	}
}

// serving is a `localcloud serve` running in the test.
type serving struct {
	url            string
	token          string // the API token: the generated one with real hosts
	cancel         context.CancelFunc
	done           chan error
	stdout, stderr *syncBuffer
}

func startServe(t *testing.T, args []string) *serving {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &serving{cancel: cancel, done: make(chan error, 1), stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	go func() { s.done <- run(ctx, args, s.stdout, s.stderr) }()
	t.Cleanup(func() { s.stop(t) })
	urlRE := regexp.MustCompile(`export DIGITALOCEAN_API_URL=(\S+)`)
	tokenRE := regexp.MustCompile(`the API token is in (\S+) `)
	s.token = localcloud.DevToken
	for deadline := time.Now().Add(2 * time.Minute); s.url == ""; {
		if m := urlRE.FindStringSubmatch(s.stdout.String()); m != nil {
			s.url = m[1]
			if m := tokenRE.FindStringSubmatch(s.stdout.String()); m != nil {
				tok, err := readToken(m[1])
				if err != nil {
					t.Fatal(err)
				}
				s.token = tok
			}
			break
		}
		select {
		case err := <-s.done:
			t.Fatalf("serve exited: %v\n%s\n%s", err, s.stdout.String(), s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner: %q %q", s.stdout.String(), s.stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return s
}

// stop is SIGINT: serve stops and returns.
func (s *serving) stop(t *testing.T) {
	t.Helper()
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("serve did not stop")
	}
}

func (s *serving) do(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func (s *serving) get(t *testing.T, path string) string {
	t.Helper()
	_, b := s.do(t, "GET", path, "")
	return b
}

// createDroplet creates a droplet and waits until it is active.
func (s *serving) createDroplet(t *testing.T, name, userData string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "region": "fra1", "size": "s-1vcpu-1gb", "image": "debian-12-x64", "user_data": userData})
	code, out := s.do(t, "POST", "/v2/droplets", string(body))
	if code != http.StatusAccepted {
		t.Fatalf("create: %d %s", code, out)
	}
	var created struct{ Droplet struct{ ID int } }
	_ = json.Unmarshal([]byte(out), &created)
	for deadline := time.Now().Add(2 * time.Minute); ; {
		if strings.Contains(s.get(t, "/v2/droplets/"+strconv.Itoa(created.Droplet.ID)), `"status":"active"`) {
			return created.Droplet.ID
		}
		if time.Now().After(deadline) {
			t.Fatalf("droplet %d not active", created.Droplet.ID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
