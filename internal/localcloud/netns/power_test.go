package netns

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

// powerTestConfig is the power tests' own network, apart from testConfig's
// (hdkt1-4), the other packages' (hdkt5-9, hdksw0, hdka*) and a running
// localcloud (hdk0).
func powerTestConfig(tb testing.TB) Config {
	cfg := testConfig(tb, 1)
	cfg.Bridge, cfg.NetnsPrefix = "hdkpw0", "hdkpw-"
	cfg.Subnet = netip.MustParsePrefix("10.213.240.0/24")
	cfg.ReservedPrefix = netip.MustParsePrefix("10.213.241.0/28")
	return cfg
}

// eventually waits until check passes.
func eventually(tb testing.TB, what string, check func(ctx context.Context) error) {
	tb.Helper()
	err := wait.Until(context.Background(), wait.Options{What: what, Interval: 100 * time.Millisecond, Timeout: time.Minute},
		func(ctx context.Context) (bool, string, error) {
			if err := check(ctx); err != nil {
				return false, "", wait.Retry(err)
			}
			return true, "", nil
		})
	if err != nil {
		tb.Fatal(err)
	}
}

// containerRunning tells whether the host's container "web" runs.
func containerRunning(ctx context.Context, h Host) (bool, error) {
	b, err := dockerAPI(ctx, h, http.MethodGet, "/containers/web/json", "", nil)
	if err != nil {
		return false, err
	}
	var c struct{ State struct{ Running bool } }
	err = json.Unmarshal(b, &c)
	return c.State.Running, err
}

// TestPower powers a real host off, cleanly and abruptly, and on again:
// off, its engine and address do not answer, nothing of it runs, its
// namespace and data-root stay; on, the same engine answers on its address
// over TLS, the restart=always container runs again and the data-root's
// files are there. A host that is off stays off when the manager restores
// after a restart.
func TestPower(t *testing.T) {
	requireRealHosts(t)
	image := testImage(t)
	ctx := context.Background()
	cfg := powerTestConfig(t)
	before := countLeftovers(t, cfg)
	m := newTestManager(t, cfg)
	tt := newTestTLS(t, "a", "b")
	hosts := provisionAll(t, ctx, m, []HostSpec{tt.spec("a"), tt.spec("b")})
	a := hosts["a"]
	runContainer(t, ctx, a, image, "always")
	web := "http://" + a.IPv4.String() + ":8080/"
	eventually(t, "the container on a to answer", func(ctx context.Context) error {
		_, err := get(ctx, m, "", web)
		return err
	})
	survivor := filepath.Join(a.Dir, dataSubdir, "survivor")
	if err := os.WriteFile(survivor, []byte("still here"), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name  string
		clean bool
	}{{"power_off", false}, {"shutdown", true}} {
		t.Run(c.name, func(t *testing.T) {
			t0 := time.Now()
			if err := m.PowerOff(ctx, "a", c.clean); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s took %s", c.name, time.Since(t0).Round(time.Millisecond))
			off, err := m.Get("a")
			if err != nil || !off.Off || off.PID != 0 {
				t.Errorf("a after %s: %+v %v", c.name, off, err)
			}
			as, _ := m.lookup("a")
			if p := m.hostProcesses(as); len(p) > 0 {
				t.Errorf("a's processes %v still run", p)
			}
			if err := tt.ping(ctx, a); err == nil {
				t.Error("a's engine answers on 2376 while off")
			}
			if _, err := get(ctx, m, "b", web); err == nil {
				t.Error("a's address answers b while off")
			}
			if !exists(a.NetnsPath) {
				t.Error("a's namespace went")
			}
			if b, err := os.ReadFile(survivor); err != nil || string(b) != "still here" {
				t.Errorf("a's data-root file: %q %v", b, err)
			}
			if err := tt.ping(ctx, hosts["b"]); err != nil {
				t.Errorf("b: %v", err)
			}
			if err := m.PowerOff(ctx, "a", c.clean); err != nil {
				t.Errorf("%s of a host that is off: %v", c.name, err)
			}

			t0 = time.Now()
			if err := m.PowerOn(ctx, "a"); err != nil {
				t.Fatal(err)
			}
			t.Logf("power_on took %s", time.Since(t0).Round(time.Millisecond))
			if on, _ := m.Get("a"); on.Off || on.PID == 0 {
				t.Errorf("a after power_on: %+v", on)
			}
			if err := tt.ping(ctx, a); err != nil {
				t.Errorf("a's engine after power_on: %v", err)
			}
			eventually(t, "the restart=always container to run again", func(ctx context.Context) error {
				running, err := containerRunning(ctx, a)
				if err != nil {
					return err
				}
				if !running {
					return errors.New("web is not running")
				}
				_, err = get(ctx, m, "b", web)
				return err
			})
			if b, err := os.ReadFile(survivor); err != nil || string(b) != "still here" {
				t.Errorf("a's data-root file after power_on: %q %v", b, err)
			}
			if err := m.PowerOn(ctx, "a"); err != nil {
				t.Errorf("power_on of a host that is on: %v", err)
			}
		})
	}

	// Off across a restart of localcloud: Restore leaves a off, b on.
	if err := m.PowerOff(ctx, "a", false); err != nil {
		t.Fatal(err)
	}
	if err := m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	m2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	if h, _ := m2.Get("a"); !h.Off || h.PID != 0 {
		t.Errorf("a after Restore: %+v", h)
	}
	if err := tt.ping(ctx, a); err == nil {
		t.Error("a's engine answers after Restore, off")
	}
	if err := tt.ping(ctx, hosts["b"]); err != nil {
		t.Errorf("b after Restore: %v", err)
	}
	if err := m2.PowerOn(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := tt.ping(ctx, a); err != nil {
		t.Errorf("a's engine after Restore and power_on: %v", err)
	}
	if err := m2.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if after := countLeftovers(t, cfg); after != before {
		t.Errorf("leftovers after Down: %+v, before: %+v", after, before)
	}
}

// partitionRuleCount counts the partition rules on cfg's bridge.
func partitionRuleCount(t *testing.T, cfg Config) int {
	t.Helper()
	n := 0
	for _, save := range []string{"iptables-save", "iptables-legacy-save", "iptables-nft-save"} {
		if p, err := lookTool("", save); err == nil {
			out, _ := exec.Command(p).Output()
			for _, line := range strings.Split(string(out), "\n") {
				if strings.Contains(line, "--comment "+partitionComment) && strings.Contains(line, "-i "+cfg.Bridge+" ") {
					n++
				}
			}
		}
	}
	return n
}

// TestPartition cuts a host off from the others and heals it: partitioned,
// neither its address nor its reserved IP answers the other hosts and it
// reaches none of them, while the machine still reaches it and the others
// still reach each other; the rules follow a reserved IP that moves; healed,
// everything answers again and no rule is left.
func TestPartition(t *testing.T) {
	requireRealHosts(t)
	ctx := context.Background()
	cfg := powerTestConfig(t)
	before := countLeftovers(t, cfg)
	m := newTestManager(t, cfg)
	hosts := provisionAll(t, ctx, m, []HostSpec{{ID: "p"}, {ID: "q"}, {ID: "r"}})
	for id := range hosts {
		serveHostname(t, m, id)
	}
	rip := cfg.ReservedPrefix.Addr().Next()
	if err := m.AssignIP(ctx, rip, "p"); err != nil {
		t.Fatal(err)
	}
	url := func(id string) string { return "http://" + hosts[id].IPv4.String() + ":8080/" }
	ripURL := "http://" + rip.String() + ":8080/"
	reaches := func(from, u string) bool {
		_, err := get(ctx, m, from, u)
		return err == nil
	}
	expectGet(t, m, "q", url("p"), "p")
	expectGet(t, m, "q", ripURL, "p")

	if err := m.Partition(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if h, _ := m.Get("p"); !h.Partitioned {
		t.Errorf("p not partitioned: %+v", h)
	}
	for _, c := range []struct {
		from, url string
		want      bool
	}{
		{"q", url("p"), false},
		{"q", ripURL, false},
		{"p", url("q"), false},
		{"r", url("p"), false},
		{"", url("p"), true},
		{"q", url("r"), true},
		{"r", url("q"), true},
	} {
		if got := reaches(c.from, c.url); got != c.want {
			t.Errorf("partitioned p: %q reaches %s: %v, want %v", c.from, c.url, got, c.want)
		}
	}
	if n := partitionRuleCount(t, cfg); n == 0 {
		t.Error("no partition rule on the bridge")
	}
	// The reserved IP moves to r: it answers q from r; p's rules let go of it.
	if err := m.AssignIP(ctx, rip, "r"); err != nil {
		t.Fatal(err)
	}
	expectGet(t, m, "q", ripURL, "r")

	if err := m.Heal(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	expectGet(t, m, "q", url("p"), "p")
	expectGet(t, m, "p", url("q"), "q")
	if n := partitionRuleCount(t, cfg); n != 0 {
		t.Errorf("%d partition rules left after Heal", n)
	}
	if err := m.Heal(ctx, "p"); err != nil {
		t.Errorf("healing a host not partitioned: %v", err)
	}

	// A partitioned host that is destroyed takes its rules with it.
	if err := m.Partition(ctx, "q"); err != nil {
		t.Fatal(err)
	}
	if err := m.Destroy(ctx, "q"); err != nil {
		t.Fatal(err)
	}
	if n := partitionRuleCount(t, cfg); n != 0 {
		t.Errorf("%d partition rules left after destroying a partitioned host", n)
	}
	if err := m.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if after := countLeftovers(t, cfg); after != before {
		t.Errorf("leftovers after Down: %+v, before: %+v", after, before)
	}
}
