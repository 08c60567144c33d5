package netnsbackend_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digitalocean/godo"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netnsbackend"
)

// A load balancer is a real HAProxy with its own address: it spreads
// requests over its droplets, follows droplets added and removed without
// failing a request of a steady load, stops sending to a droplet whose
// health check fails, and is gone with its namespace when deleted.
func TestRealLoadBalancer(t *testing.T) {
	b, run, c := start(t)
	ctx := t.Context()

	var ids []int
	for i := range 2 {
		d, _, err := c.Droplets.Create(ctx, &godo.DropletCreateRequest{Name: fmt.Sprintf("web-%d", i), Region: "nyc3", Size: "s-1vcpu-1gb", Image: godo.DropletCreateImage{Slug: "debian-12-x64"}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	servers := map[int]*http.Server{}
	for i, id := range ids {
		waitActive(ctx, t, c, id)
		var ln net.Listener
		if err := b.Manager().InHost(netnsbackend.HostID(id), func() error {
			var err error
			ln, err = net.Listen("tcp", ":8080")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("web-%d", i)
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, name) }), ReadHeaderTimeout: 5 * time.Second}
		servers[id] = srv
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
	}

	lb, _, err := c.LoadBalancers.Create(ctx, &godo.LoadBalancerRequest{
		Name: "web", Region: "nyc3",
		ForwardingRules: []godo.ForwardingRule{{EntryProtocol: "http", EntryPort: 80, TargetProtocol: "http", TargetPort: 8080}},
		HealthCheck:     &godo.HealthCheck{Protocol: "http", Port: 8080, Path: "/", CheckIntervalSeconds: 3, ResponseTimeoutSeconds: 3, HealthyThreshold: 2, UnhealthyThreshold: 2},
		DropletIDs:      ids,
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for lb.Status != "active" {
		if time.Now().After(deadline) {
			t.Fatalf("load balancer still %s", lb.Status)
		}
		time.Sleep(100 * time.Millisecond)
		if lb, _, err = c.LoadBalancers.Get(ctx, lb.ID); err != nil {
			t.Fatal(err)
		}
	}
	url := "http://" + lb.IP + "/"
	t.Logf("load balancer %s at %s", lb.ID, lb.IP)

	// A steady load: every request counted, new connections each time.
	var ok, failed atomic.Int64
	var mu sync.Mutex
	seen := map[string]int{}
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(url)
				if err == nil {
					body, _ := io.ReadAll(resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						ok.Add(1)
						mu.Lock()
						seen[string(body)]++
						mu.Unlock()
						continue
					}
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	snapshot := func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]int{}
		for k, v := range seen {
			out[k] = v
			delete(seen, k)
		}
		return out
	}
	time.Sleep(2 * time.Second)
	if s := snapshot(); s["web-0"] == 0 || s["web-1"] == 0 {
		t.Errorf("both droplets should serve: %v", s)
	}
	if _, err := c.LoadBalancers.RemoveDroplets(ctx, lb.ID, ids[0]); err != nil {
		t.Fatal(err)
	}
	// A request in flight when HAProxy reloaded is finished by the old
	// process, on the old backend: not counted.
	time.Sleep(300 * time.Millisecond)
	snapshot()
	time.Sleep(2 * time.Second)
	if s := snapshot(); s["web-0"] != 0 || s["web-1"] == 0 {
		t.Errorf("after removing web-0, only web-1 should serve: %v", s)
	}
	if _, err := c.LoadBalancers.AddDroplets(ctx, lb.ID, ids[0]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if s := snapshot(); s["web-0"] == 0 {
		t.Errorf("web-0 added back should serve: %v", s)
	}
	// web-1 stops listening: refused connections are retried on web-0,
	// then the health check takes web-1 out.
	_ = servers[ids[1]].Close()
	time.Sleep(8 * time.Second)
	snapshot()
	time.Sleep(2 * time.Second)
	if s := snapshot(); s["web-1"] != 0 || s["web-0"] == 0 {
		t.Errorf("with web-1 down, only web-0 should serve: %v", s)
	}
	close(stop)
	wg.Wait()
	t.Logf("load through the load balancer: %d requests, %d failed", ok.Load()+failed.Load(), failed.Load())
	if failed.Load() != 0 {
		t.Errorf("%d requests failed (first: %v)", failed.Load(), firstErr.Load())
	}

	// localcloud stops (HAProxy dies with Stop) and serves again on the
	// same state: the load balancer answers again at its address.
	if err := run.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	_, _, c = start(t)
	deadline = time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the load balancer does not answer after localcloud restarted: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	if _, err := c.LoadBalancers.Delete(ctx, lb.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/run/netns/" + testReal.NetnsPrefix + "lb-" + strings.ReplaceAll(lb.ID, "-", "")[:12]); !os.IsNotExist(err) {
		t.Errorf("the load balancer's namespace is still there (%v)", err)
	}
	if _, err := client.Get(url); err == nil {
		t.Errorf("the deleted load balancer still answers")
	}
}
