package netns

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testLock is held while the tests run; a package variable, so that no
// finalizer closes it and drops the lock.
var testLock *os.File

func TestMain(m *testing.M) {
	if Check(Config{}) == nil {
		// Two runs of these tests at once (go test ./... in two shells)
		// would share the test bridges and sweep each other's hosts: the
		// second waits for the first. The lock goes with the process.
		var err error
		if testLock, err = os.OpenFile(filepath.Join(os.TempDir(), "haddock-netns-test.lock"), os.O_RDWR|os.O_CREATE, 0o600); err == nil {
			if err := unix.Flock(int(testLock.Fd()), unix.LOCK_EX); err != nil {
				log.Printf("locking %s: %v", testLock.Name(), err)
			}
		}
		if err := sweepTestHosts(); err != nil {
			log.Printf("sweeping hosts of an earlier test run: %v", err)
		}
	}
	os.Exit(m.Run())
}

// testNetworks is how many test configurations (testConfig's n) exist.
const testNetworks = 4

// sweepTestHosts removes what an interrupted test run left: namespaces
// named hdkt-*, their processes and cgroups, and the hdkt<n> bridges with
// their rules and routes. It reuses the real clean-up code and touches only
// test-prefixed names.
func sweepTestHosts() error {
	dir, err := os.MkdirTemp("", "netns-sweep-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for n := 1; n <= testNetworks; n++ {
		m, err := New(Config{
			StateDir:       dir,
			Bridge:         fmt.Sprintf("hdkt%d", n),
			NetnsPrefix:    "hdkt-",
			Subnet:         netip.MustParsePrefix(fmt.Sprintf("10.213.%d.0/24", 200+n)),
			ReservedPrefix: netip.MustParsePrefix(fmt.Sprintf("10.213.%d.0/28", 220+n)),
			StopTimeout:    5 * time.Second,
		})
		if err != nil {
			return err
		}
		if n == 1 {
			entries, _ := os.ReadDir(netnsDir)
			for _, e := range entries {
				id, ok := strings.CutPrefix(e.Name(), "hdkt-")
				if !ok {
					continue
				}
				hs := &hostState{ID: id, CgroupParent: "/" + e.Name(), Veth: "hdkt-none"}
				m.st.Hosts[id] = hs
			}
		}
		if err := m.Down(ctx); err != nil {
			return err
		}
	}
	return nil
}
