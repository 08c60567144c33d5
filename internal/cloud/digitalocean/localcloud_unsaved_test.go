package digitalocean_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	dodriver "github.com/haddockhq/terraform-provider-haddock/internal/cloud/digitalocean"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	lcdo "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/digitalocean"
)

// TestLocalcloudUnsavedMarks drives localcloud's DigitalOcean API (memory
// backend) with the driver: reserved IPs and load balancers created marked
// sit in the project haddock-unsaved (made on first use) with a deadline an
// hour from when they got there, in list and get alike; saved, they move to
// the default project and lose the mark; a create whose own deadline is
// past the horizon is made unmarked; a reserved IP created for a droplet
// ends assigned to it.
func TestLocalcloudUnsavedMarks(t *testing.T) {
	api := lcdo.New(lcdo.Config{})
	d := startLocalcloud(t, api, nil)
	ctx := t.Context()
	soon := time.Now().Add(10 * time.Minute)

	// Reserved IPs.
	ip, err := d.CreateUnsavedFloatingIP(ctx, "fra1", "", soon)
	if err != nil {
		t.Fatal(err)
	}
	if until := ip.UnsavedUntil; until.Before(time.Now().Add(dodriver.UnsavedHorizon - time.Minute)) {
		t.Fatalf("created: unsaved until %v, want about an hour on", until)
	}
	checkIP := func(what string, marked bool) {
		t.Helper()
		got, err := d.GetFloatingIP(ctx, ip.ID)
		if err != nil {
			t.Fatal(err)
		}
		all, err := d.ListFloatingIPs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var listed *cloud.FloatingIP
		for i := range all {
			if all[i].ID == ip.ID {
				listed = &all[i]
			}
		}
		if listed == nil {
			t.Fatalf("%s: %s not listed", what, ip.ID)
		}
		for _, f := range []*cloud.FloatingIP{got, listed} {
			if f.UnsavedUntil.IsZero() == marked {
				t.Fatalf("%s: %s unsaved until %v, want marked %v", what, ip.ID, f.UnsavedUntil, marked)
			}
		}
	}
	checkIP("created", true)
	if err := api.Age("do:floatingip:"+ip.ID, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	got, err := d.GetFloatingIP(ctx, ip.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.UnsavedUntil.Before(time.Now()) {
		t.Fatalf("aged two hours: unsaved until %v, want past", got.UnsavedUntil)
	}
	if err := d.MarkFloatingIPSaved(ctx, ip.ID); err != nil {
		t.Fatal(err)
	}
	checkIP("saved", false)
	if err := d.MarkFloatingIPSaved(ctx, ip.ID); err != nil {
		t.Fatalf("saving twice: %v", err)
	}

	late, err := d.CreateUnsavedFloatingIP(ctx, "fra1", "", time.Now().Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !late.UnsavedUntil.IsZero() {
		t.Fatalf("a create with a deadline past the horizon: marked until %v, want unmarked", late.UnsavedUntil)
	}

	hosts, err := d.CreateHosts(ctx, []cloud.HostSpec{{Name: "unsaved-holder", Region: "fra1", Size: "s-1vcpu-1gb", Image: "debian-12-x64"}})
	if err != nil {
		t.Fatal(err)
	}
	held, err := d.CreateUnsavedFloatingIP(ctx, "fra1", hosts[0].ID, soon)
	if err != nil {
		t.Fatal(err)
	}
	if held.HostID != hosts[0].ID || held.UnsavedUntil.IsZero() {
		t.Fatalf("created for droplet %s: %+v, want assigned and marked", hosts[0].ID, held)
	}

	// Load balancers.
	spec := cloud.LoadBalancerSpec{Name: "unsaved-lb", Region: "fra1", Type: cloud.LoadBalancerHTTP,
		ForwardingRules: []cloud.ForwardingRule{{EntryProtocol: "http", EntryPort: 80, TargetProtocol: "http", TargetPort: 8080}},
		HealthCheck:     cloud.HealthCheck{Protocol: "http", Port: 80, Path: "/", Interval: 10 * time.Second, Timeout: 5 * time.Second, HealthyThreshold: 3, UnhealthyThreshold: 5}}
	lb, err := d.CreateUnsavedLoadBalancer(ctx, spec, soon)
	if err != nil {
		t.Fatal(err)
	}
	if lb.UnsavedUntil.IsZero() {
		t.Fatal("load balancer created unmarked")
	}
	if err := api.Age("do:loadbalancer:"+lb.ID, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	lbs, err := d.ListLoadBalancers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lbs {
		if l.ID == lb.ID && !l.UnsavedUntil.Before(time.Now()) {
			t.Fatalf("aged two hours: load balancer unsaved until %v, want past", l.UnsavedUntil)
		}
	}
	if err := d.MarkLoadBalancerSaved(ctx, lb.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := d.GetLoadBalancer(ctx, lb.ID); err != nil || !got.UnsavedUntil.IsZero() {
		t.Fatalf("saved load balancer: %+v, %v; want unmarked", got, err)
	}
	plain, err := d.CreateLoadBalancer(ctx, cloud.LoadBalancerSpec{Name: "plain-lb", Region: spec.Region, Type: spec.Type, ForwardingRules: spec.ForwardingRules, HealthCheck: spec.HealthCheck})
	if err != nil {
		t.Fatal(err)
	}
	if !plain.UnsavedUntil.IsZero() {
		t.Fatalf("a plain create is marked until %v", plain.UnsavedUntil)
	}
}

// TestLocalcloudUnsavedIPFoundAgain: a marked reserved IP create that
// DigitalOcean carried out but answered 500 (the HTTP client never repeats
// a create) is found again in the unsaved project: one address, not two.
func TestLocalcloudUnsavedIPFoundAgain(t *testing.T) {
	var failed atomic.Bool
	doneThen500 := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path == "/v2/reserved_ips" && failed.CompareAndSwap(false, true) {
				next.ServeHTTP(httptest.NewRecorder(), r)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte(`{"id":"server_error","message":"Server Error"}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	d := startLocalcloud(t, lcdo.New(lcdo.Config{}), doneThen500)
	ip, err := d.CreateUnsavedFloatingIP(t.Context(), "fra1", "", time.Now().Add(time.Minute))
	if err != nil {
		t.Fatalf("create behind a 500 it acted on: %v", err)
	}
	all, err := d.ListFloatingIPs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !failed.Load() || len(all) != 1 || all[0].ID != ip.ID || all[0].UnsavedUntil.IsZero() {
		t.Fatalf("failed once %v; addresses %+v, want only %s, marked", failed.Load(), all, ip.ID)
	}
}

// startLocalcloud serves api (memory backend, requests through middleware
// when not nil) and returns a driver of it with short waits.
func startLocalcloud(t *testing.T, api *lcdo.API, middleware func(http.Handler) http.Handler) *dodriver.Driver {
	t.Helper()
	run, err := localcloud.Start(context.Background(), localcloud.Config{
		Backend: localcloud.NewMemoryBackend(), APIs: []localcloud.API{api}, Logf: t.Logf, Middleware: middleware,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = run.Close() })
	d, err := dodriver.New(dodriver.Config{Token: localcloud.DevToken, APIEndpoint: run.URL, PollInterval: 50 * time.Millisecond,
		RetryWaitMin: 10 * time.Millisecond, RetryWaitMax: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return d
}
