package main

import (
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
