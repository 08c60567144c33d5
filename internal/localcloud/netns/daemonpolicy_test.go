package netns

import (
	"strings"
	"testing"
)

func TestCheckDaemonJSON(t *testing.T) {
	for _, tc := range []struct {
		name, in, err string
	}{
		{"empty", ``, ""},
		{"haddock's own", `{"hosts":["unix:///var/run/docker.sock","tcp://0.0.0.0:2376"],"tls":true,"tlsverify":true,"tlscacert":"/etc/docker/ca.pem","tlscert":"/etc/docker/server-cert.pem","tlskey":"/etc/docker/server-key.pem","labels":["a=b"],"insecure-registries":["10.213.0.1:5000"],"registry-mirrors":["http://10.213.0.1:5000"]}`, ""},
		{"plain tcp listener", `{"hosts":["tcp://0.0.0.0:2375"]}`, `hosts entry "tcp://0.0.0.0:2375" listens without TLS`},
		{"tls without verification", `{"hosts":["tcp://0.0.0.0:2376"],"tls":true}`, "without TLS client verification"},
		{"a runtime", `{"runtimes":{"evil":{"path":"/bin/sh"}}}`, `do not accept "runtimes"`},
		{"authorization plugins and metrics", `{"authorization-plugins":["x"],"metrics-addr":"0.0.0.0:9323"}`, `do not accept "authorization-plugins", "metrics-addr"`},
		{"not JSON", `{`, "daemon.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckDaemonJSON([]byte(tc.in))
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
