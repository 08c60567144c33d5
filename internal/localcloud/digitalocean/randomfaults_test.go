package digitalocean

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
)

// Random faults: every kind is served, a seed gives the same sequence, a
// "done then 500" create really made the droplet, and admin paths never
// meet a fault.
func TestRandomFaults(t *testing.T) {
	run := func(seed uint64) ([]int, *Server) {
		s := newTestServer(t, testConfig{})
		if err := s.SetRandomFaults(1, seed); err != nil {
			t.Fatal(err)
		}
		var codes []int
		for i := range 40 {
			body := map[string]any{"name": "f" + string(rune('a'+i%26)), "region": "fra1", "size": "s-1vcpu-1gb", "image": "debian-12-x64"}
			codes = append(codes, call(t, s, "POST", "/v2/droplets", body).status)
		}
		return codes, s
	}
	a, s := run(7)
	b, _ := run(7)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("the same seed gave %v and %v", a, b)
	}
	stats := s.RandomFaultStats()
	if stats.Total != 40 || stats.Rate != 1 || stats.Seed != 7 {
		t.Errorf("stats %+v, want 40 faults at rate 1, seed 7", stats)
	}
	for _, k := range []string{localcloud.FaultError500, localcloud.FaultError502, localcloud.FaultError503, localcloud.FaultThrottle, localcloud.FaultDrop, localcloud.FaultDoneThen500} {
		if stats.Injected[k] == 0 {
			t.Errorf("no %s fault in 40 draws: %v", k, stats.Injected)
		}
	}
	// Only "slow" and "done then 500" act: as many droplets as those.
	if err := s.SetRandomFaults(0, 0); err != nil {
		t.Fatal(err)
	}
	r := call(t, s, "GET", "/v2/droplets?per_page=200", nil)
	if got, want := len(list(r.body["droplets"])), stats.Injected[localcloud.FaultSlow]+stats.Injected[localcloud.FaultDoneThen500]; got != want {
		t.Errorf("%d droplets exist after %v, want %d (slow + done-then-500)", got, stats.Injected, want)
	}
	// Admin paths never meet a fault; the settings are served there.
	if err := s.SetRandomFaults(1, 1); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		req := httptest.NewRequest("GET", "http://lc.test/_localcloud/faults/random", nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"rate":1`) {
			t.Fatalf("admin path: %d %s", rec.Code, rec.Body)
		}
	}
	if err := s.SetRandomFaults(1.5, 0); err == nil {
		t.Error("a rate above 1 was accepted")
	}
}
