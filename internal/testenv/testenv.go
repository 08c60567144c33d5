// Package testenv holds the gates tests share: a test that needs something
// this machine lacks fails when CI asks for it (CI, or the variable naming
// the need, is set) and skips with the reason otherwise. A skipped test is
// not a passing one, so CI never skips. It imports nothing of the project:
// each gate's check lives with what it checks (real hosts:
// localcloudtest.RequireRealHosts).
package testenv

import (
	"os"
	"testing"
)

// Required reports whether the environment demands tests that need env
// (for example HADDOCK_REQUIRE_REAL_HOSTS) to run rather than skip.
func Required(env string) bool {
	return os.Getenv("CI") != "" || os.Getenv(env) == "1"
}

// Need fails or skips tb when err (what is missing) is not nil.
func Need(tb testing.TB, env string, err error) {
	tb.Helper()
	if err == nil {
		return
	}
	if Required(env) {
		tb.Fatalf("required (CI or %s=1 is set) but unavailable: %v", env, err)
	}
	tb.Skipf("unavailable: %v (set %s=1 to make this a failure)", err, env)
}
