package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
)

func TestResolveToken(t *testing.T) {
	t.Setenv("LOCALCLOUD_TOKEN", "")
	dir := filepath.Join(t.TempDir(), "state")

	// Real hosts and nothing given: a random token in a 0600 file, the
	// same one on the next start.
	var tok string
	hint, file, err := resolveToken(&tok, "", true, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != 64 || tok == localcloud.DevToken || file != filepath.Join(dir, tokenFileName) || !strings.Contains(hint, file) || strings.Contains(hint, tok) {
		t.Fatalf("token %q, hint %q, file %q", tok, hint, file)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	var again string
	if _, _, err := resolveToken(&again, "", true, dir); err != nil || again != tok {
		t.Fatalf("second start: %q %v, want the same token", again, err)
	}

	// A token file others can read is refused.
	loose := filepath.Join(t.TempDir(), "loose")
	if err := os.WriteFile(loose, []byte("abc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var x string
	if _, _, err := resolveToken(&x, loose, true, dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a 0644 token file: %v", err)
	}
	if err := os.Chmod(loose, 0o600); err != nil {
		t.Fatal(err)
	}
	if hint, _, err := resolveToken(&x, loose, true, dir); err != nil || x != "abc" || strings.Contains(hint, "abc") {
		t.Fatalf("-token-file: %q %q %v", x, hint, err)
	}

	// The environment, then the flag, win over the file.
	t.Setenv("LOCALCLOUD_TOKEN", "from-env")
	var e string
	if _, gen, err := resolveToken(&e, "", true, dir); err != nil || e != "from-env" || gen != "" {
		t.Fatalf("environment: %q %q %v", e, gen, err)
	}
	f := "from-flag"
	if _, _, err := resolveToken(&f, "", true, dir); err != nil || f != "from-flag" {
		t.Fatalf("flag: %q %v", f, err)
	}

	// Without real hosts the public dev token stays the default.
	t.Setenv("LOCALCLOUD_TOKEN", "")
	var m string
	if _, gen, err := resolveToken(&m, "", false, ""); err != nil || m != localcloud.DevToken || gen != "" {
		t.Fatalf("memory backend: %q %q %v", m, gen, err)
	}
}
