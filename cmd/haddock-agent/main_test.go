package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckPrintsTheConfigurationRedacted(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cfg.json")
	if err := os.WriteFile(p, []byte(`{"cloud":"digitalocean","token":"dop_v1_secret","floating_ip_id":"203.0.113.7","cluster_uid":"clusteruid1"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"-check", "-config", p}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); strings.Contains(s, "dop_v1_secret") || !strings.Contains(s, "token=<redacted>") || !strings.Contains(s, "poll_interval=1s") {
		t.Errorf("-check printed %q", s)
	}
}

func TestUsageAndConfigErrors(t *testing.T) {
	var out, errOut bytes.Buffer
	var ue usageError
	if err := run(t.Context(), []string{"extra"}, &out, &errOut); !errors.As(err, &ue) {
		t.Errorf("an argument: %v", err)
	}
	if err := run(t.Context(), []string{"-h"}, &out, &errOut); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
	p := filepath.Join(t.TempDir(), "cfg.json")
	_ = os.WriteFile(p, []byte(`{"cloud":"digitalocean","token":"dop_v1_secret"}`), 0o600)
	err := run(t.Context(), []string{"-config", p}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "floating_ip_id is required") || strings.Contains(err.Error(), "dop_v1_secret") {
		t.Errorf("invalid configuration: %v", err)
	}
	if err := run(t.Context(), []string{"-config", filepath.Join(t.TempDir(), "none")}, &out, &errOut); err == nil {
		t.Error("a missing configuration file was accepted")
	}
}
