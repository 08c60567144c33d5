package netnsbackend_test

import (
	"net/netip"
	"testing"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/localcloudtest"
)

// The real-host tests' own network, apart from netns's tests (hdkt1..4,
// 10.213.201-204.0/24), the swarm tests (hdksw0) and a running localcloud
// (hdk0, 10.213.0.0/24). The state directory is fixed and short: a run
// removes what an interrupted earlier run left there, and unix socket
// paths below it must stay short.
var testReal = localcloudtest.Options{
	Bridge:         "hdkt5",
	NetnsPrefix:    "hdkt5-",
	Subnet:         netip.MustParsePrefix("10.213.205.0/24"),
	ReservedPrefix: netip.MustParsePrefix("10.213.225.0/28"),
	StateDir:       "/tmp/hdklc5",
	Token:          "netnsbackend-test-token",
	Lock:           "haddock-netnsbackend-test.lock",
	// localcloud behind the contract validator, keeping its state in the
	// state directory.
	Contract: true,
	Persist:  true,
}

func TestMain(m *testing.M) { localcloudtest.Main(m, testReal) }

// sweep removes every host, the bridge, the rules and the state of the
// test configuration, with the real clean-up code.
func sweep() error { return localcloudtest.Sweep(testReal) }
