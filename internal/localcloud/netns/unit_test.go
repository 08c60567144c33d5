package netns

import (
	"encoding/json"
	"net/netip"
	"os"
	"strings"
	"testing"
)

func TestEffectiveDaemonConfig(t *testing.T) {
	in := []byte(`{
  "hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2376", "fd://"],
  "tls": true, "tlsverify": true,
  "tlscacert": "/etc/docker/ca.pem",
  "tlscert": "/etc/docker/server-cert.pem",
  "tlskey": "/srv/tls/key.pem",
  "log-opts": {"path": "/etc/docker/logs/x"},
  "data-root": "/var/lib/docker",
  "graph": "/old",
  "containerd": "/run/containerd/containerd.sock",
  "labels": ["/etc/not-a-path-we-own"]
}`)
	out, usedParent, err := effectiveDaemonConfig(in, daemonParams{
		dir:           "/s/hosts/a",
		files:         []string{"/srv/tls/key.pem"},
		storageDriver: "overlay2",
		overlayOK:     true,
		keyPath:       true,
		cgroupParent:  "/hdk-a",
		runSocket:     true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !usedParent {
		t.Error("cgroup-parent not set")
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"hosts":               []any{"unix:///s/hosts/a/docker.sock", "unix:///run/docker.sock", "tcp://0.0.0.0:2376"},
		"tls":                 true,
		"tlsverify":           true,
		"tlscacert":           "/s/hosts/a/root/etc/docker/ca.pem",
		"tlscert":             "/s/hosts/a/root/etc/docker/server-cert.pem",
		"tlskey":              "/s/hosts/a/root/srv/tls/key.pem",
		"log-opts":            map[string]any{"path": "/s/hosts/a/root/etc/docker/logs/x"},
		"data-root":           "/s/hosts/a/data",
		"exec-root":           "/s/hosts/a/run",
		"pidfile":             "/s/hosts/a/dockerd.pid",
		"storage-driver":      "overlay2",
		"deprecated-key-path": "/s/hosts/a/key.json",
		"cgroup-parent":       "/hdk-a",
		"labels":              []any{"/etc/not-a-path-we-own"},
	}
	wb, _ := json.Marshal(want)
	gb, _ := json.Marshal(got)
	if string(wb) != string(gb) {
		t.Errorf("effective daemon.json\n got %s\nwant %s", gb, wb)
	}
}

func TestEffectiveDaemonConfigChoices(t *testing.T) {
	p := daemonParams{dir: "/s/h", storageDriver: "vfs", cgroupParent: "/hdk-h"}
	for _, tc := range []struct {
		name, in  string
		key, want string
		parent    bool
	}{
		{"empty gets the probed driver", `{}`, "storage-driver", "vfs", true},
		{"overlay2 replaced where overlay fails", `{"storage-driver":"overlay2"}`, "storage-driver", "vfs", true},
		{"other driver kept", `{"storage-driver":"btrfs"}`, "storage-driver", "btrfs", true},
		{"own cgroup parent kept", `{"cgroup-parent":"/mine"}`, "cgroup-parent", "/mine", false},
		{"systemd cgroups get none", `{"exec-opts":["native.cgroupdriver=systemd"]}`, "cgroup-parent", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, parent, err := effectiveDaemonConfig([]byte(tc.in), p)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if s, _ := got[tc.key].(string); s != tc.want {
				t.Errorf("%s = %q, want %q", tc.key, s, tc.want)
			}
			if parent != tc.parent {
				t.Errorf("cgroup parent chosen = %v, want %v", parent, tc.parent)
			}
			if _, ok := got["deprecated-key-path"]; ok {
				t.Error("deprecated-key-path set for a recent dockerd")
			}
		})
	}
	for _, bad := range []string{`[]`, `{"hosts":"tcp://x"}`, `{"hosts":["ssh://x"]}`, `{`} {
		if _, _, err := effectiveDaemonConfig([]byte(bad), p); err == nil {
			t.Errorf("daemon.json %s accepted", bad)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{StateDir: "/s"}.withDefaults()
	if err := ok.validate(); err != nil {
		t.Fatalf("defaults rejected: %v", err)
	}
	if ok.Bridge != "hdk0" || ok.Subnet.String() != "10.213.0.0/24" || ok.ReservedPrefix.String() != "10.213.128.0/25" {
		t.Errorf("defaults = %s %s %s", ok.Bridge, ok.Subnet, ok.ReservedPrefix)
	}
	for name, c := range map[string]Config{
		"relative dir":    {StateDir: "s"},
		"long bridge":     {StateDir: "/s", Bridge: "a-very-long-bridge"},
		"overlap":         {StateDir: "/s", Subnet: netip.MustParsePrefix("10.1.0.0/16"), ReservedPrefix: netip.MustParsePrefix("10.1.2.0/24")},
		"ipv6":            {StateDir: "/s", Subnet: netip.MustParsePrefix("fd00::/64")},
		"subnet too tiny": {StateDir: "/s", Subnet: netip.MustParsePrefix("10.1.0.0/30")},
	} {
		if err := c.withDefaults().validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestCheckMissingDockerd(t *testing.T) {
	err := Check(Config{DockerdPath: "/nonexistent/dockerd"})
	if err == nil {
		t.Fatal("Check passed without dockerd")
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is more than one line: %q", err)
	}
	if os.Geteuid() == 0 && err.Error() != "dockerd not found: apt-get install -y docker.io" {
		t.Errorf("error = %q", err)
	}
	if os.Geteuid() != 0 && !strings.Contains(err.Error(), "need root") {
		t.Errorf("error = %q", err)
	}
}

func TestHostSpecNormalize(t *testing.T) {
	s := HostSpec{ID: "web-1"}
	if err := s.normalize(); err != nil || s.Hostname != "web-1" {
		t.Fatalf("normalize = %v, hostname %q", err, s.Hostname)
	}
	for _, bad := range []HostSpec{
		{ID: ""}, {ID: "-x"}, {ID: "a/b"}, {ID: strings.Repeat("a", 64)},
		{ID: "a", Hostname: "bad_name"},
		{ID: "a", Files: []File{{Path: "etc/x"}}},
		{ID: "a", Files: []File{{Path: "/etc/../x"}}},
	} {
		if err := bad.normalize(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestAddressing(t *testing.T) {
	m := &Manager{cfg: Config{Bridge: "hdk0", Subnet: netip.MustParsePrefix("10.213.0.0/30")}, st: &state{Hosts: map[string]*hostState{}}}
	if g := m.gateway(); g.String() != "10.213.0.1" {
		t.Errorf("gateway = %s", g)
	}
	ip, err := m.allocIP()
	if err != nil || ip.String() != "10.213.0.2" {
		t.Fatalf("allocIP = %s, %v", ip, err)
	}
	if v := m.vethName(ip); v != "hdk0v2" {
		t.Errorf("veth = %s", v)
	}
	m.st.Hosts["a"] = &hostState{IPv4: ip}
	if ip, err := m.allocIP(); err == nil {
		t.Errorf("allocIP in a full /30 = %s", ip)
	}
	m.cfg.Bridge = "fifteen-chars-x"
	if v := m.vethName(netip.MustParseAddr("10.213.0.200")); len(v) > 15 || !strings.HasSuffix(v, "v200") {
		t.Errorf("veth = %s", v)
	}
	if l := lastAddr(netip.MustParsePrefix("10.213.0.0/24")); l.String() != "10.213.0.255" {
		t.Errorf("lastAddr = %s", l)
	}
}

func TestOurRule(t *testing.T) {
	for line, want := range map[string]bool{
		"-A FORWARD -i hdk0 -o hdk0 -m comment --comment localcloud -j ACCEPT":                             true,
		"-A FORWARD -i hdk0 -m comment --comment localcloud -j REJECT --reject-with icmp-admin-prohibited": true,
		"-A FORWARD -i hdk1 -o hdk1 -m comment --comment localcloud -j ACCEPT":                             false,
		"-A FORWARD -i hdk0 -o hdk0 -j ACCEPT":                                                             false,
		"-A FORWARD -i hdk0 -m comment --comment localcloud-x -j ACCEPT":                                   false,
	} {
		if got := ourRule(strings.Fields(line), "hdk0"); got != want {
			t.Errorf("ourRule(%q) = %v", line, got)
		}
	}
	partition := strings.Fields("-A FORWARD -s 10.213.0.2/32 -i hdk0 -o hdk0 -m comment --comment localcloud-partition -j DROP")
	if ourRule(partition, "hdk0") || !ourRule(partition, "hdk0", partitionComment) || !ourRule(partition, "hdk0", ruleComment, partitionComment) {
		t.Error("partition rules are ours only when asked for by their tag")
	}
}

func TestPartitionRules(t *testing.T) {
	m := &Manager{cfg: Config{Bridge: "hdk0"}, st: &state{
		Hosts: map[string]*hostState{
			"a": {ID: "a", IPv4: netip.MustParseAddr("10.213.0.2"), Partitioned: true},
			"b": {ID: "b", IPv4: netip.MustParseAddr("10.213.0.3")},
		},
		Reserved: map[netip.Addr]string{netip.MustParseAddr("10.213.128.1"): "a", netip.MustParseAddr("10.213.128.2"): "b"},
	}}
	var got []string
	for _, r := range m.partitionRules() {
		got = append(got, strings.Join(r, " "))
	}
	tail := " -m comment --comment localcloud-partition -j DROP"
	want := []string{
		"-i hdk0 -o hdk0 -s 10.213.0.2/32" + tail, "-i hdk0 -o hdk0 -d 10.213.0.2/32" + tail,
		"-i hdk0 -o hdk0 -s 10.213.128.1/32" + tail, "-i hdk0 -o hdk0 -d 10.213.128.1/32" + tail,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("partition rules:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	if got := unescapeMountinfo(`/a\040b\134c`); got != `/a b\c` {
		t.Errorf("got %q", got)
	}
}
