package netnsbackend_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloudinit"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/localcloudtest"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netnsbackend"
	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
)

// tlsMaterial is a CA, a client pair and a server pair for identity.
type tlsMaterial struct {
	ca     *pki.CA
	client *pki.KeyPair
}

func newTLS(t testing.TB) tlsMaterial {
	m := localcloudtest.NewTLS(t)
	return tlsMaterial{ca: m.CA, client: m.Client}
}

// userData renders Haddock's user data for a host called name.
func (m tlsMaterial) userData(t testing.TB, name, extra string) string {
	t.Helper()
	return localcloudtest.TLS{CA: m.ca, Client: m.client}.UserData(t, name, extra)
}

func TestSpec(t *testing.T) {
	m := newTLS(t)
	ud := m.userData(t, "web-1", "#!/bin/sh\necho user script\n") // multipart
	if !strings.Contains(ud, "multipart") {
		t.Fatalf("expected multipart user data:\n%s", ud)
	}
	spec, err := netnsbackend.Spec(localcloud.HostRequest{ID: 410000001, Name: "droplet-name", UserData: ud})
	if err != nil {
		t.Fatal(err)
	}
	if spec.ID != "410000001" || spec.Hostname != "web-1" {
		t.Errorf("ID %q, hostname %q", spec.ID, spec.Hostname)
	}
	modes := map[string]uint32{}
	for _, f := range spec.Files {
		modes[f.Path] = uint32(f.Mode)
	}
	for path, mode := range map[string]uint32{
		cloudinit.CACertPath: 0o644, cloudinit.ServerCertPath: 0o644, cloudinit.ServerKeyPath: 0o600, cloudinit.DaemonConfigPath: 0o644,
	} {
		if got, ok := modes[path]; !ok || got != mode {
			t.Errorf("%s: mode %o present %v, want %o", path, got, ok, mode)
		}
	}
	if !bytes.Contains(spec.DaemonJSON, []byte(`"tcp://0.0.0.0:2376"`)) || !bytes.Contains(spec.DaemonJSON, []byte(`"tlsverify": true`)) {
		t.Errorf("daemon.json: %s", spec.DaemonJSON)
	}

	// No user data: the droplet's name, no files, a plain dockerd.
	spec, err = netnsbackend.Spec(localcloud.HostRequest{ID: 7, Name: "plain"})
	if err != nil || spec.Hostname != "plain" || len(spec.Files) != 0 || spec.DaemonJSON != nil {
		t.Errorf("no user data: %+v %v", spec, err)
	}

	// write_files apply in order: replace, append, relative paths.
	spec, err = netnsbackend.Spec(localcloud.HostRequest{ID: 8, Name: "n", UserData: `#cloud-config
write_files:
- path: /etc/motd
  content: one
- path: etc/motd
  content: " two"
  append: true
  permissions: '0600'
- path: /etc/issue
  content: a
- path: /etc/issue
  content: b
`})
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.Files) != 2 || string(spec.Files[0].Content) != "one two" || spec.Files[0].Mode != 0o600 || string(spec.Files[1].Content) != "b" {
		t.Errorf("files: %+v", spec.Files)
	}

	if _, err := netnsbackend.Spec(localcloud.HostRequest{ID: 9, Name: "n", UserData: "#cloud-config\nwrite_files: 3\n"}); err == nil {
		t.Error("invalid cloud-config: no error")
	}
	if h := netnsbackend.Hostname("", strings.Repeat("a", 40)+"."+strings.Repeat("b", 40)); h != strings.Repeat("a", 40) {
		t.Errorf("long name: %q", h)
	}
}

// A droplet's user data may not give its dockerd, root on this machine, a
// listener without TLS or another program to run: the create is refused.
func TestCheckHostRequest(t *testing.T) {
	daemon := func(json string) string {
		return "#cloud-config\nwrite_files:\n  - path: /etc/docker/daemon.json\n    content: '" + json + "'\n"
	}
	b := &netnsbackend.Backend{}
	for _, tc := range []struct{ name, userData, err string }{
		{"no user data", "", ""},
		{"a script", "#!/bin/sh\necho hi\n", ""},
		{"TLS listener", daemon(`{"hosts":["tcp://0.0.0.0:2376"],"tlsverify":true,"tlscacert":"/etc/docker/ca.pem"}`), ""},
		{"plain tcp listener", daemon(`{"hosts":["tcp://0.0.0.0:2375"]}`), "listens without TLS"},
		{"a runtime", daemon(`{"runtimes":{"x":{"path":"/bin/sh"}}}`), `do not accept "runtimes"`},
		{"unparseable", "#cloud-config\nwrite_files: [\n", "cloud-config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := b.CheckHostRequest(localcloud.HostRequest{UserData: tc.userData})
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want one containing %q", err, tc.err)
			}
		})
	}
}
