package netnsbackend

import (
	"context"
	"log"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netns"
)

// The real-host tests' own network, apart from netns's tests (hdkt1..4,
// 10.213.201-204.0/24), the swarm tests (hdksw0) and a running localcloud
// (hdk0, 10.213.0.0/24). The state directory is fixed and short: a run
// removes what an interrupted earlier run left there, and unix socket
// paths below it must stay short.
const (
	testBridge   = "hdkt5"
	testNSPrefix = "hdkt5-"
	testStateDir = "/tmp/hdklc5"
)

var (
	testSubnet   = netip.MustParsePrefix("10.213.205.0/24")
	testReserved = netip.MustParsePrefix("10.213.225.0/28")
)

// testLock is held while the tests run (two runs at once would share the
// bridge); a package variable, so that no finalizer drops the lock.
var testLock *os.File

func TestMain(m *testing.M) {
	if netns.Check(netns.Config{}) == nil {
		var err error
		if testLock, err = os.OpenFile(filepath.Join(os.TempDir(), "haddock-netnsbackend-test.lock"), os.O_RDWR|os.O_CREATE, 0o600); err == nil {
			if err := unix.Flock(int(testLock.Fd()), unix.LOCK_EX); err != nil {
				log.Printf("locking %s: %v", testLock.Name(), err)
			}
		}
		if err := sweep(); err != nil {
			log.Printf("removing what an earlier test run left: %v", err)
		}
	}
	os.Exit(m.Run())
}

func testNetnsConfig(logger *slog.Logger) netns.Config {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return netns.Config{
		StateDir:       testStateDir,
		Bridge:         testBridge,
		NetnsPrefix:    testNSPrefix,
		Subnet:         testSubnet,
		ReservedPrefix: testReserved,
		StopTimeout:    10 * time.Second,
		Logger:         logger,
	}
}

// sweep removes every host, the bridge, the rules and the state of the
// test configuration, with the real clean-up code.
func sweep() error {
	if _, err := os.Stat(testStateDir); os.IsNotExist(err) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	m, err := netns.New(testNetnsConfig(nil))
	if err != nil {
		return err
	}
	if err := m.Down(ctx); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(testStateDir, "localcloud-serve.json")); err != nil && !os.IsNotExist(err) {
		return err
	}
	return localcloud.RemoveState(testStateDir)
}

// requireRealHosts skips the test when the machine cannot run real hosts
// (not root, no docker.io), or fails it when CI is set or
// HADDOCK_REQUIRE_REAL_HOSTS=1.
func requireRealHosts(tb testing.TB) {
	tb.Helper()
	err := netns.Check(netns.Config{})
	if err == nil {
		return
	}
	if os.Getenv("CI") != "" || os.Getenv("HADDOCK_REQUIRE_REAL_HOSTS") == "1" {
		tb.Fatalf("real hosts required (CI or HADDOCK_REQUIRE_REAL_HOSTS=1): %v", err)
	}
	tb.Skipf("real hosts unavailable: %v", err)
}

type testLogWriter struct{ tb testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
