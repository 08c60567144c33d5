package netns

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestNeighbourLimits(t *testing.T) {
	for _, c := range []struct{ n, t1, t2, t3 int }{
		{0, 128, 512, 1024},
		{16, 128, 512, 1024},
		{17, 256, 1024, 2048},
		{52, 2048, 8192, 16384},
		{253, 32768, 131072, 262144},
	} {
		got := neighbourLimits(c.n)
		if got["gc_thresh1"] != c.t1 || got["gc_thresh2"] != c.t2 || got["gc_thresh3"] != c.t3 {
			t.Errorf("neighbourLimits(%d) = %v, want %d/%d/%d", c.n, got, c.t1, c.t2, c.t3)
		}
	}
}

// TestNeighbourLimitsRaisedAndRestored: the limits below what the hosts
// need are raised and recorded in the state, and Down's restore puts back
// those that still hold what the manager set.
func TestNeighbourLimitsRaisedAndRestored(t *testing.T) {
	dir, write, read := fakeNeighDir(t)
	cfg := Config{StateDir: t.TempDir()}.withDefaults()
	m := &Manager{cfg: cfg, st: newState(cfg), neighDir: dir}

	if err := m.ensureNeighbourLimits(10); err != nil {
		t.Fatal(err)
	}
	if read("gc_thresh3") != 1024 || len(m.st.Created.NeighbourLimits) != 0 {
		t.Fatalf("10 hosts: limits changed: %d, state %v", read("gc_thresh3"), m.st.Created.NeighbourLimits)
	}

	if err := m.ensureNeighbourLimits(52); err != nil {
		t.Fatal(err)
	}
	if a, b, c := read("gc_thresh1"), read("gc_thresh2"), read("gc_thresh3"); a != 2048 || b != 8192 || c != 16384 {
		t.Fatalf("52 hosts: limits %d/%d/%d, want 2048/8192/16384", a, b, c)
	}
	// Recorded in the state file, so that `localcloud down` after a crash
	// puts them back too.
	raw, err := os.ReadFile(filepath.Join(cfg.StateDir, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	var saved state
	if err := json.Unmarshal(raw, &saved); err != nil {
		t.Fatal(err)
	}
	if l := saved.Created.NeighbourLimits["gc_thresh3"]; l.Former != 1024 || l.Set != 16384 {
		t.Fatalf("state records gc_thresh3 %+v, want former 1024, set 16384: %s", l, raw)
	}

	// More hosts raise them further; the former value stays the first.
	if err := m.ensureNeighbourLimits(100); err != nil {
		t.Fatal(err)
	}
	if read("gc_thresh3") != 65536 || m.st.Created.NeighbourLimits["gc_thresh3"].Former != 1024 {
		t.Fatalf("100 hosts: gc_thresh3 %d, state %+v", read("gc_thresh3"), m.st.Created.NeighbourLimits)
	}

	// Someone else changes one meanwhile: theirs stays.
	write("gc_thresh2", 20000)
	if err := m.restoreNeighbourLimits(); err != nil {
		t.Fatal(err)
	}
	if a, b, c := read("gc_thresh1"), read("gc_thresh2"), read("gc_thresh3"); a != 128 || b != 20000 || c != 1024 {
		t.Fatalf("after restore: limits %d/%d/%d, want 128/20000/1024", a, b, c)
	}
	if len(m.st.Created.NeighbourLimits) != 0 {
		t.Fatalf("state still records %v", m.st.Created.NeighbourLimits)
	}
}

// TestNeighbourLimitsRefused: a limit that cannot be raised fails the
// host's set-up with a message saying what to do.
func TestNeighbourLimitsRefused(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]int{"gc_thresh1": 128, "gc_thresh2": 512} {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(strconv.Itoa(v)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A number (0 to 2000) that reads but refuses writes, as /proc/sys
	// does in a container without the right.
	if err := os.Symlink("/proc/self/oom_score", filepath.Join(dir, "gc_thresh3")); err != nil {
		t.Fatal(err)
	}
	cfg := Config{StateDir: t.TempDir()}.withDefaults()
	m := &Manager{cfg: cfg, st: newState(cfg), neighDir: dir}
	err := m.ensureNeighbourLimits(52)
	if err == nil {
		t.Fatal("no error")
	}
	t.Log(err)
	if !strings.Contains(err.Error(), "52 hosts need the kernel's neighbour table limit net.ipv4.neigh.default.gc_thresh3 at 16384 or more") ||
		!strings.Contains(err.Error(), "sysctl -w net.ipv4.neigh.default.gc_thresh3=16384") {
		t.Fatalf("error %q does not say what to do", err)
	}
}

// TestNeighbourLimitsForStateHosts: what Provision and Restore call raises
// the limits for the hosts of the state, and what Down calls puts them back.
func TestNeighbourLimitsForStateHosts(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]int{"gc_thresh1": 128, "gc_thresh2": 512, "gc_thresh3": 1024} {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(strconv.Itoa(v)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{StateDir: t.TempDir()}.withDefaults()
	m := &Manager{cfg: cfg, st: newState(cfg), neighDir: dir}
	for i := range 52 {
		id := strconv.Itoa(i)
		m.st.Hosts[id] = &hostState{ID: id}
	}
	if err := m.raiseNeighbourLimits(); err != nil {
		t.Fatal(err)
	}
	if v, err := readSysctlInt(filepath.Join(dir, "gc_thresh3")); err != nil || v != 16384 {
		t.Fatalf("52 hosts in the state: gc_thresh3 %d (%v), want 16384", v, err)
	}
	if err := m.putBackNeighbourLimits(); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]int{"gc_thresh1": 128, "gc_thresh2": 512, "gc_thresh3": 1024} {
		if v, err := readSysctlInt(filepath.Join(dir, k)); err != nil || v != want {
			t.Errorf("after putting back: %s %d (%v), want %d", k, v, err, want)
		}
	}
}

// TestRealNeighbourLimits: Provision raises the limits as hosts come,
// Restore raises them again after a reboot put them back, and Down puts
// them back. The limits are files in a temporary directory, not the
// machine's, which other runs share.
func TestRealNeighbourLimits(t *testing.T) {
	requireRealHosts(t)
	dir, write, read := fakeNeighDir(t)
	cfg := testConfig(t, 3)
	m := newTestManager(t, cfg)
	m.neighDir = dir
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	// 17 hosts need more than the default 1024 (4·17² = 1156). Appliances:
	// the network is what counts, and they boot no dockerd.
	specs := make([]HostSpec, 17)
	for i := range specs {
		specs[i] = HostSpec{ID: fmt.Sprintf("n%d", i), Appliance: true}
	}
	provisionAll(t, ctx, m, specs)
	if a, b, c := read("gc_thresh1"), read("gc_thresh2"), read("gc_thresh3"); a != 256 || b != 1024 || c != 2048 {
		t.Fatalf("17 hosts: limits %d/%d/%d, want 256/1024/2048", a, b, c)
	}

	// A reboot: the kernel's defaults again, the hosts to restore.
	write("gc_thresh1", 128)
	write("gc_thresh2", 512)
	write("gc_thresh3", 1024)
	if err := m.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	if c := read("gc_thresh3"); c != 2048 {
		t.Fatalf("after Restore: gc_thresh3 %d, want 2048", c)
	}

	if err := m.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if a, b, c := read("gc_thresh1"), read("gc_thresh2"), read("gc_thresh3"); a != 128 || b != 512 || c != 1024 {
		t.Fatalf("after Down: limits %d/%d/%d, want 128/512/1024", a, b, c)
	}
}

// fakeNeighDir is a directory of neighbour table limits at the kernel's
// defaults (128, 512, 1024), with a writer and a reader of them.
func fakeNeighDir(t *testing.T) (dir string, write func(string, int), read func(string) int) {
	t.Helper()
	dir = t.TempDir()
	write = func(k string, v int) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, k), []byte(strconv.Itoa(v)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	read = func(k string) int {
		t.Helper()
		v, err := readSysctlInt(filepath.Join(dir, k))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	write("gc_thresh1", 128)
	write("gc_thresh2", 512)
	write("gc_thresh3", 1024)
	return dir, write, read
}
