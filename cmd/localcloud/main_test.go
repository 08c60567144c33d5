package main

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
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
		{"serve", "-backend", "netns-someday"},
		{"serve", "extra"},
		{"frobnicate"},
	} {
		if err := run(t.Context(), args, &out, &errOut); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
