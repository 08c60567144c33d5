package main

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	return w
}

func TestHandlers(t *testing.T) {
	a := newApp(identity{Hostname: "c0ffee", TaskSlot: "2", Node: "web-1"})

	w := get(t, a, "/")
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	for _, want := range []string{`<p class="n">1</p>`, "<code>c0ffee</code>", "<code>2</code>", "<code>web-1</code>"} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("page lacks %q:\n%s", want, w.Body.String())
		}
	}

	// Neither health checks nor unknown paths count.
	for _, p := range []string{"/healthz", "/favicon.ico", "/healthz"} {
		get(t, a, p)
	}
	if w := get(t, a, "/favicon.ico"); w.Code != http.StatusNotFound {
		t.Errorf("GET /favicon.ico: %d", w.Code)
	}

	w = get(t, a, "/api")
	var st status
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api: %v %s %s", err, w.Header().Get("Content-Type"), w.Body)
	}
	if st.Hits != 2 || st.Hostname != "c0ffee" || st.TaskSlot != "2" || st.Node != "web-1" || st.Started.IsZero() {
		t.Errorf("GET /api: %+v", st)
	}

	if w := get(t, a, "/healthz"); w.Code != http.StatusOK || w.Body.String() != "ok\n" {
		t.Errorf("GET /healthz: %d %q", w.Code, w.Body)
	}
	a.stopping.Store(true)
	if w := get(t, a, "/healthz"); w.Code != http.StatusServiceUnavailable {
		t.Errorf("GET /healthz while stopping: %d", w.Code)
	}

	// Without a slot or node the page says so, and the JSON leaves them out.
	b := newApp(identity{Hostname: "h"})
	if w := get(t, b, "/"); strings.Count(w.Body.String(), "(not set)") != 2 {
		t.Errorf("page without slot and node:\n%s", w.Body)
	}
	if w := get(t, b, "/api"); strings.Contains(w.Body.String(), "task_slot") || strings.Contains(w.Body.String(), `"node"`) {
		t.Errorf("JSON without slot and node: %s", w.Body)
	}
}

// A request in flight when the signal comes is answered before serve
// returns; new connections are refused meanwhile.
func TestGracefulShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	a := newApp(identity{Hostname: "h"})
	inFlight, release := make(chan struct{}), make(chan struct{})
	a.mux.HandleFunc("GET /slow", func(w http.ResponseWriter, _ *http.Request) {
		close(inFlight)
		<-release
		_, _ = io.WriteString(w, "done")
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, a, log.New(io.Discard, "", 0)) }()
	if err := check(addr); err != nil {
		t.Fatal(err)
	}

	type result struct {
		body string
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			slow <- result{err: err}
			return
		}
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		slow <- result{string(b), err}
	}()
	<-inFlight
	cancel()
	select {
	case err := <-done:
		t.Fatalf("serve returned with a request in flight: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		_ = c.Close()
		t.Error("new connection accepted while shutting down")
	}
	if w := get(t, a, "/healthz"); w.Code != http.StatusServiceUnavailable {
		t.Errorf("GET /healthz while shutting down: %d", w.Code)
	}
	close(release)
	if r := <-slow; r.err != nil || r.body != "done" {
		t.Errorf("request in flight: %q %v", r.body, r.err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not return after the last request")
	}
}
