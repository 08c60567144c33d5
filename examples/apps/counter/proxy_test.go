package main

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The front sends requests to the backend's addresses in turn.
func TestProxyRoundRobin(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "backend "+r.URL.Path)
	}))
	defer backend.Close()
	_, port, _ := strings.Cut(strings.TrimPrefix(backend.URL, "http://"), ":")
	p, err := newProxy("127.0.0.1:"+port, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(p)
	defer front.Close()
	for range 3 {
		resp, err := http.Get(front.URL + "/x")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if string(b) != "backend /x" {
			t.Fatalf("front answered %q", b)
		}
	}
	if _, err := newProxy("no-port", log.New(io.Discard, "", 0)); err == nil {
		t.Fatal("a BACKEND without a port was accepted")
	}
}

// A backend that fails a GET (its task is going away) costs the client
// nothing: the front tries the next one.
func TestProxyRetriesTheNextBackend(t *testing.T) {
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "good")
	}))
	defer good.Close()
	_, port, _ := strings.Cut(strings.TrimPrefix(good.URL, "http://"), ":")
	p, err := newProxy("tasks.web:"+port, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	// Two tasks, one gone (nothing listens on 127.0.0.2): every other
	// request starts at the dead one.
	p.lookup = func(context.Context, string) ([]string, error) { return []string{"127.0.0.1", "127.0.0.2"}, nil }
	front := httptest.NewServer(p)
	defer front.Close()
	for i := range 6 {
		resp, err := http.Get(front.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(b) != "good" {
			t.Fatalf("request %d: %s %q", i, resp.Status, b)
		}
	}
}
