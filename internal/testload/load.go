// Package testload is a bounded client load for tests that claim "zero
// failed requests": a fixed request rate against one URL, every result
// counted, stopped by the test or by its own limits.
package testload

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Load is a bounded client load against one URL: a fixed request rate,
// every request's result counted, for tests that claim "zero failed
// requests". It stops by itself after Max requests or MaxDuration, or
// when Stop is called.
type Load struct {
	URL         string
	Rate        time.Duration // pause between request starts; default 50ms (20 requests/s)
	Timeout     time.Duration // per request; default 2s
	Max         int           // requests at most; default 20000
	MaxDuration time.Duration // default 30m
	// Targets, when set, are the URLs requests are spread over (round
	// robin), read before each request: the addresses a client knows as
	// they change. URL is then unused.
	Targets func() []string
	// RetryOther retries a failed request once against the next of
	// Targets, as a client with several addresses does. Failed then
	// counts the requests that failed after it; FirstFailed counts the
	// first attempts that failed.
	RetryOther bool

	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	next    int // round robin over Targets
	started time.Time
	results LoadResult
}

// LoadResult counts what a Load saw.
type LoadResult struct {
	Requests int
	OK       int
	Failed   int
	// FirstFailed counts first attempts that failed (Load.RetryOther);
	// Retried those retried against another target.
	FirstFailed int
	Retried     int
	// Answered counts the OK answers per answering backend (the body's
	// "hostname" when the URL answers JSON, else "").
	Answered map[string]int
	// Slowest is the longest successful request.
	Slowest  time.Duration
	Duration time.Duration
	// Failures are the first failures, "<time> <error>".
	Failures []string
}

func (r LoadResult) String() string {
	rate := 0.0
	if r.Duration > 0 {
		rate = float64(r.Requests) / r.Duration.Seconds()
	}
	out := fmt.Sprintf("%d requests in %s (%.1f/s): %d ok, %d failed, slowest ok %s, %d backends answered",
		r.Requests, r.Duration.Round(time.Millisecond), rate, r.OK, r.Failed, r.Slowest.Round(time.Millisecond), len(r.Answered))
	if r.FirstFailed > 0 || r.Retried > 0 {
		out += fmt.Sprintf("; %d first attempts failed, %d of them retried against another address", r.FirstFailed, r.Retried)
	}
	return out
}

// StartLoad starts the load; Stop ends it and returns the counts.
func StartLoad(url string) *Load {
	l := &Load{URL: url}
	l.Start()
	return l
}

// Start runs the load in the background.
func (l *Load) Start() {
	if l.Rate <= 0 {
		l.Rate = 50 * time.Millisecond
	}
	if l.Timeout <= 0 {
		l.Timeout = 2 * time.Second
	}
	if l.Max <= 0 {
		l.Max = 20000
	}
	if l.MaxDuration <= 0 {
		l.MaxDuration = 30 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.MaxDuration)
	l.cancel = cancel
	l.done = make(chan struct{})
	l.results.Answered = map[string]int{}
	go l.run(ctx)
}

func (l *Load) run(ctx context.Context) {
	defer close(l.done)
	// A fresh connection per request, as independent clients would make:
	// a kept-alive connection would hide a host that stopped accepting.
	client := &http.Client{Timeout: l.Timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	l.mu.Lock()
	l.started = start
	l.mu.Unlock()
	tick := time.NewTicker(l.Rate)
	defer tick.Stop()
	var wg sync.WaitGroup
	for i := 0; i < l.Max; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.one(client)
		}()
		select {
		case <-ctx.Done():
			i = l.Max
		case <-tick.C:
		}
	}
	wg.Wait()
	l.mu.Lock()
	l.results.Duration = time.Since(start)
	l.mu.Unlock()
}

func (l *Load) one(client *http.Client) {
	t0 := time.Now()
	url, other := l.URL, ""
	if l.Targets != nil {
		ts := l.Targets()
		l.mu.Lock()
		n := l.next
		l.next++
		l.mu.Unlock()
		if len(ts) > 0 {
			url = ts[n%len(ts)]
			if len(ts) > 1 {
				other = ts[(n+1)%len(ts)]
			}
		}
	}
	body, err := get(client, url)
	first := err
	if err != nil && l.RetryOther && other != "" {
		body, err = get(client, other)
	}
	d := time.Since(t0)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.results.Requests++
	if first != nil && l.RetryOther {
		l.results.FirstFailed++
		if other != "" {
			l.results.Retried++
		}
		if err == nil && len(l.results.Failures) < 20 {
			l.results.Failures = append(l.results.Failures, t0.Format("15:04:05.000")+" (retried, then ok) "+first.Error())
		}
	}
	if err != nil {
		l.results.Failed++
		if len(l.results.Failures) < 20 {
			l.results.Failures = append(l.results.Failures, t0.Format("15:04:05.000")+" "+err.Error())
		}
		return
	}
	l.results.OK++
	l.results.Slowest = max(l.results.Slowest, d)
	l.results.Answered[hostnameOf(body)]++
}

// get is one GET: the body of a 200 answer, or why not.
func get(client *http.Client, url string) ([]byte, error) {
	if url == "" {
		return nil, fmt.Errorf("no target to send the request to")
	}
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return body, err
}

// Stop ends the load, waits for the requests in flight and returns the
// counts.
func (l *Load) Stop() LoadResult {
	l.cancel()
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.results
	r.Answered = map[string]int{}
	for k, v := range l.results.Answered {
		r.Answered[k] = v
	}
	r.Failures = append([]string(nil), l.results.Failures...)
	return r
}

// Snapshot returns the counts so far.
func (l *Load) Snapshot() LoadResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.results
	r.Answered = maps.Clone(l.results.Answered)
	r.Failures = slices.Clone(l.results.Failures)
	if !l.started.IsZero() {
		r.Duration = time.Since(l.started)
	}
	return r
}

// hostnameOf reads "hostname" from a counter /api answer.
func hostnameOf(body []byte) string {
	s := string(body)
	i := strings.Index(s, `"hostname":"`)
	if i < 0 {
		return ""
	}
	s = s[i+len(`"hostname":"`):]
	if j := strings.IndexByte(s, '"'); j >= 0 {
		return s[:j]
	}
	return ""
}

// Backends lists the answering backends, sorted.
func (r LoadResult) Backends() []string {
	out := make([]string, 0, len(r.Answered))
	for k := range r.Answered {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
