package stack

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docker/cli/cli/compose/convert"
	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
)

func ptr[T any](v T) *T { return &v }

func mustLoad(t *testing.T, src string, opts LoadOptions) *Project {
	t.Helper()
	p, err := LoadWithOptions("st", []byte(src), opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return p
}

func spec(t *testing.T, p *Project, name string) swarm.ServiceSpec {
	t.Helper()
	s, ok := p.ServiceSpec(name)
	if !ok {
		t.Fatalf("no service %s", name)
	}
	return s
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// TestRender converts representative compose files to service specs with
// the CLI's converter and checks what swarm gets.
func TestRender(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		opts  LoadOptions
		check func(t *testing.T, p *Project)
	}{
		{
			name: "defaults",
			yaml: `
services:
  web:
    image: nginx:1.25
`,
			check: func(t *testing.T, p *Project) {
				s := spec(t, p, "web")
				eq(t, "name", s.Name, "st_web")
				eq(t, "replicas", *s.Mode.Replicated.Replicas, uint64(1))
				eq(t, "image", s.TaskTemplate.ContainerSpec.Image, "nginx:1.25")
				eq(t, "labels", s.Labels, map[string]string{
					convert.LabelNamespace: "st", LabelImage: "nginx:1.25", LabelSpecHash: p.Services[0].SpecHash,
				})
				eq(t, "container labels", s.TaskTemplate.ContainerSpec.Labels, map[string]string{convert.LabelNamespace: "st"})
				eq(t, "networks", s.TaskTemplate.Networks, []swarm.NetworkAttachmentConfig{{Target: "st_default", Aliases: []string{"web"}}})
				eq(t, "project networks", p.Networks, []Network{{Key: "default", Name: "st_default", Driver: "overlay"}})
				eq(t, "service", p.Services[0].Mode+" "+p.Services[0].FullName+" "+p.Services[0].FailureAction, "replicated st_web pause")
			},
		},
		{
			name: "placement",
			yaml: `
services:
  web:
    image: nginx
    deploy:
      replicas: 4
      placement:
        constraints: [node.role == worker, node.labels.zone == eu]
        preferences:
          - spread: node.labels.rack
        max_replicas_per_node: 2
`,
			check: func(t *testing.T, p *Project) {
				pl := spec(t, p, "web").TaskTemplate.Placement
				eq(t, "constraints", pl.Constraints, []string{"node.role == worker", "node.labels.zone == eu"})
				eq(t, "preferences", pl.Preferences, []swarm.PlacementPreference{{Spread: &swarm.SpreadOver{SpreadDescriptor: "node.labels.rack"}}})
				eq(t, "max replicas", pl.MaxReplicas, uint64(2))
				eq(t, "replicas", p.Services[0].Replicas, uint64(4))
			},
		},
		{
			name: "resources",
			yaml: `
services:
  web:
    image: nginx
    deploy:
      resources:
        limits: {cpus: '0.5', memory: 256M, pids: 100}
        reservations: {cpus: '0.25', memory: 64M}
`,
			check: func(t *testing.T, p *Project) {
				r := spec(t, p, "web").TaskTemplate.Resources
				eq(t, "limits", *r.Limits, swarm.Limit{NanoCPUs: 500_000_000, MemoryBytes: 256 << 20, Pids: 100})
				eq(t, "reservations", *r.Reservations, swarm.Resources{NanoCPUs: 250_000_000, MemoryBytes: 64 << 20})
			},
		},
		{
			name: "update and rollback config, restart policy",
			yaml: `
services:
  web:
    image: nginx
    deploy:
      update_config:
        parallelism: 2
        delay: 10s
        failure_action: rollback
        monitor: 30s
        max_failure_ratio: 0.1
        order: start-first
      rollback_config:
        parallelism: 0
        order: stop-first
      restart_policy:
        condition: on-failure
        delay: 5s
        max_attempts: 3
        window: 2m
`,
			check: func(t *testing.T, p *Project) {
				s := spec(t, p, "web")
				eq(t, "update config", *s.UpdateConfig, swarm.UpdateConfig{Parallelism: 2, Delay: 10 * time.Second,
					FailureAction: "rollback", Monitor: 30 * time.Second, MaxFailureRatio: 0.1, Order: "start-first"})
				eq(t, "rollback config", *s.RollbackConfig, swarm.UpdateConfig{Order: "stop-first"})
				eq(t, "restart policy", *s.TaskTemplate.RestartPolicy, swarm.RestartPolicy{Condition: "on-failure",
					Delay: ptr(5 * time.Second), MaxAttempts: ptr(uint64(3)), Window: ptr(2 * time.Minute)})
				eq(t, "failure action", p.Services[0].FailureAction, "rollback")
			},
		},
		{
			name: "healthcheck",
			yaml: `
services:
  web:
    image: nginx
    healthcheck:
      test: ["CMD", "/app", "-health"]
      interval: 10s
      timeout: 3s
      retries: 3
      start_period: 5s
  off:
    image: nginx
    healthcheck:
      disable: true
`,
			check: func(t *testing.T, p *Project) {
				h := spec(t, p, "web").TaskTemplate.ContainerSpec.Healthcheck
				eq(t, "test", h.Test, []string{"CMD", "/app", "-health"})
				eq(t, "timings", []time.Duration{h.Interval, h.Timeout, h.StartPeriod}, []time.Duration{10 * time.Second, 3 * time.Second, 5 * time.Second})
				eq(t, "retries", h.Retries, 3)
				eq(t, "disabled", spec(t, p, "off").TaskTemplate.ContainerSpec.Healthcheck.Test, []string{"NONE"})
			},
		},
		{
			name: "ports",
			yaml: `
services:
  web:
    image: nginx
    ports:
      - target: 80
        published: 8080
        protocol: tcp
        mode: host
      - "5353:53/udp"
`,
			check: func(t *testing.T, p *Project) {
				// The converter sorts them by published port.
				eq(t, "ports", spec(t, p, "web").EndpointSpec.Ports, []swarm.PortConfig{
					{Protocol: "udp", TargetPort: 53, PublishedPort: 5353, PublishMode: "ingress"},
					{Protocol: "tcp", TargetPort: 80, PublishedPort: 8080, PublishMode: "host"},
				})
				eq(t, "summary", p.Services[0].Ports, []Port{{5353, 53, "udp", "ingress"}, {8080, 80, "tcp", "host"}})
			},
		},
		{
			name: "configs and secrets",
			yaml: `
services:
  web:
    image: nginx
    configs:
      - source: site
        target: /etc/nginx/conf.d/site.conf
        uid: "101"
        gid: "101"
        mode: 0440
    secrets:
      - token
      - source: tls
        target: server.key
        mode: 0400
configs:
  site:
    file: ./site.conf
    labels: {tier: web}
secrets:
  token:
    file: token.txt
  tls:
    file: /abs/tls.key
`,
			opts: LoadOptions{Files: map[string][]byte{"site.conf": []byte("server {}"), "./token.txt": []byte("t0k3n"), "/abs/tls.key": []byte("KEY")}},
			check: func(t *testing.T, p *Project) {
				c := spec(t, p, "web").TaskTemplate.ContainerSpec
				site, token, tls := p.Configs[0], p.Secrets[1], p.Secrets[0]
				eq(t, "config names", []string{site.Key, site.Name[:len("st_site-")]}, []string{"site", "st_site-"})
				eq(t, "secret keys", []string{tls.Key, token.Key}, []string{"tls", "token"})
				if len(site.Name) != len("st_site-")+10 || !strings.HasPrefix(token.Name, "st_token-") {
					t.Errorf("names %s %s, want <stack>_<key>-<hash>", site.Name, token.Name)
				}
				eq(t, "config labels", site.Labels, map[string]string{convert.LabelNamespace: "st", "tier": "web", LabelKey: "site", LabelContentHash: site.Hash})
				eq(t, "configs", c.Configs, []*swarm.ConfigReference{{ConfigName: site.Name,
					File: &swarm.ConfigReferenceFileTarget{Name: "/etc/nginx/conf.d/site.conf", UID: "101", GID: "101", Mode: 0o440}}})
				eq(t, "secrets", c.Secrets, []*swarm.SecretReference{
					{SecretName: tls.Name, File: &swarm.SecretReferenceFileTarget{Name: "server.key", UID: "0", GID: "0", Mode: 0o400}},
					{SecretName: token.Name, File: &swarm.SecretReferenceFileTarget{Name: "token", UID: "0", GID: "0", Mode: 0o444}},
				})
				eq(t, "summary", [][]string{p.Services[0].Configs, p.Services[0].Secrets}, [][]string{{site.Name}, {tls.Name, token.Name}})
			},
		},
		{
			name: "overlay networks",
			yaml: `
services:
  web:
    image: nginx
    networks:
      front:
      back:
        aliases: [www]
  db:
    image: postgres
    networks: [back, outside]
networks:
  front:
    driver: overlay
    attachable: true
  back:
    driver_opts:
      encrypted: ""
    labels: {tier: back}
  outside:
    external: true
    name: shared-net
`,
			check: func(t *testing.T, p *Project) {
				eq(t, "web networks", spec(t, p, "web").TaskTemplate.Networks, []swarm.NetworkAttachmentConfig{
					{Target: "st_back", Aliases: []string{"www", "web"}},
					{Target: "st_front", Aliases: []string{"web"}},
				})
				eq(t, "db networks", spec(t, p, "db").TaskTemplate.Networks, []swarm.NetworkAttachmentConfig{
					{Target: "shared-net", Aliases: []string{"db"}},
					{Target: "st_back", Aliases: []string{"db"}},
				})
				eq(t, "project networks", p.Networks, []Network{
					{Key: "back", Name: "st_back", Driver: "overlay", Options: map[string]string{"encrypted": ""}},
					{Key: "front", Name: "st_front", Driver: "overlay", Attachable: true},
					{Key: "outside", Name: "shared-net", External: true},
				})
				eq(t, "back labels", p.networks["st_back"].Labels, map[string]string{"tier": "back", convert.LabelNamespace: "st"})
			},
		},
		{
			name: "global, dnsrr, env_file, labels, volumes",
			yaml: `
services:
  agent:
    image: agent:1
    env_file: [agent.env]
    environment:
      B: from-environment
      C:
    labels: {role: agent}
    volumes:
      - data:/data
      - /var/run/docker.sock:/var/run/docker.sock:ro
    deploy:
      mode: global
      endpoint_mode: dnsrr
      labels: {team: ops}
volumes:
  data:
`,
			opts: LoadOptions{Env: map[string]string{"C": "from-env", "D": "d-from-env"}, Files: map[string][]byte{
				"agent.env": []byte("# comment\nA=from-file\nB=from-file\nD\n"),
			}},
			check: func(t *testing.T, p *Project) {
				s := spec(t, p, "agent")
				if s.Mode.Global == nil || s.Mode.Replicated != nil {
					t.Errorf("mode = %+v", s.Mode)
				}
				eq(t, "endpoint mode", s.EndpointSpec.Mode, swarm.ResolutionModeDNSRR)
				eq(t, "env", s.TaskTemplate.ContainerSpec.Env, []string{"A=from-file", "B=from-environment", "C=from-env", "D=d-from-env"})
				eq(t, "service labels", s.Labels[`team`], "ops")
				eq(t, "container labels", s.TaskTemplate.ContainerSpec.Labels, map[string]string{"role": "agent", convert.LabelNamespace: "st"})
				eq(t, "mounts", s.TaskTemplate.ContainerSpec.Mounts, []mount.Mount{
					{Type: "volume", Source: "st_data", Target: "/data", VolumeOptions: &mount.VolumeOptions{Labels: map[string]string{convert.LabelNamespace: "st"}}},
					{Type: "bind", Source: "/var/run/docker.sock", Target: "/var/run/docker.sock", ReadOnly: true},
				})
				eq(t, "summary", []any{p.Services[0].Mode, p.Services[0].Replicas}, []any{"global", uint64(0)})
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustLoad(t, tt.yaml, tt.opts)
			tt.check(t, p)
			// The hash set as a label is the hash of the rendered spec.
			for _, s := range p.Services {
				sp := spec(t, p, s.Name)
				if got := specHash(sp, nil); got != s.SpecHash || sp.Labels[LabelSpecHash] != s.SpecHash {
					t.Errorf("%s: hash %s, label %s, SpecHash %s", s.Name, got, sp.Labels[LabelSpecHash], s.SpecHash)
				}
			}
		})
	}
}

// TestObjectsLikeTheCLI checks that configs and secrets carry the CLI's
// names (as a prefix) and labels, content read as the CLI reads it.
func TestObjectsLikeTheCLI(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.conf"), []byte("x=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := mustLoad(t, `
services:
  app:
    image: app
    configs: [app]
configs:
  app:
    file: ./app.conf
    labels: {a: b}
`, LoadOptions{WorkingDir: dir})
	cli, err := convert.Configs(convert.NewNamespace("st"), map[string]composetypes.ConfigObjConfig{
		"app": {File: filepath.Join(dir, "app.conf"), Labels: map[string]string{"a": "b"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	o := p.Configs[0]
	if !strings.HasPrefix(o.Name, cli[0].Name+"-") {
		t.Errorf("name %s, the CLI's %s", o.Name, cli[0].Name)
	}
	for k, v := range cli[0].Labels {
		if o.Labels[k] != v {
			t.Errorf("label %s = %q, the CLI's %q", k, o.Labels[k], v)
		}
	}
	if string(p.data[objectKey{kindConfig, "app"}]) != string(cli[0].Data) || o.Size != 4 {
		t.Errorf("content %q, the CLI's %q", p.data[objectKey{kindConfig, "app"}], cli[0].Data)
	}

	// New content, new name; same content, same name.
	p2 := mustLoad(t, "services: {app: {image: app, configs: [app]}}\nconfigs: {app: {file: app.conf}}\n",
		LoadOptions{Files: map[string][]byte{"app.conf": []byte("x=2\n")}})
	p3 := mustLoad(t, "services: {app: {image: app, configs: [app]}}\nconfigs: {app: {file: app.conf, labels: {a: b}}}\n",
		LoadOptions{Files: map[string][]byte{"app.conf": []byte("x=1\n")}})
	if p2.Configs[0].Name == o.Name || p3.Configs[0].Name != o.Name {
		t.Errorf("names %s, %s, %s", o.Name, p2.Configs[0].Name, p3.Configs[0].Name)
	}
	if p2.Services[0].SpecHash == p.Services[0].SpecHash || p3.Services[0].SpecHash != p.Services[0].SpecHash {
		t.Error("the service's hash does not follow the config's content")
	}

	// An explicit name is kept.
	p4 := mustLoad(t, "services: {app: {image: app, configs: [app]}}\nconfigs: {app: {file: app.conf, name: app-v7}}\n",
		LoadOptions{Files: map[string][]byte{"app.conf": []byte("x")}})
	if o := p4.Configs[0]; o.Name != "app-v7" || !o.Explicit {
		t.Errorf("explicit: %+v", o)
	}
}

// TestSpecHashStable: the hash does not depend on map order, IDs, or what
// the engine fills in.
func TestSpecHashStable(t *testing.T) {
	p := mustLoad(t, `
services:
  web:
    image: nginx
    secrets: [a, b]
    networks: [x, y]
secrets:
  a: {file: a}
  b: {file: b}
networks:
  x:
  y:
`, LoadOptions{Files: map[string][]byte{"a": []byte("1"), "b": []byte("2")}})
	want := p.Services[0].SpecHash
	for range 20 {
		p2 := mustLoad(t, "services:\n  web:\n    image: nginx\n    secrets: [a, b]\n    networks: [x, y]\nsecrets:\n  a: {file: a}\n  b: {file: b}\nnetworks:\n  x:\n  y:\n",
			LoadOptions{Files: map[string][]byte{"a": []byte("1"), "b": []byte("2")}})
		if p2.Services[0].SpecHash != want {
			t.Fatal("the hash changes from one load to the next")
		}
	}
	s := spec(t, p, "web")
	f := newFakeEngine()
	for _, n := range []string{"st_x", "st_y"} {
		id := f.id()
		f.networks[id] = &network.Summary{ID: id, Name: n}
	}
	stored := f.store(s)
	stored.TaskTemplate.ContainerSpec.Secrets[0].SecretID = "abc"
	stored.TaskTemplate.ContainerSpec.Image += "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	stored.TaskTemplate.ForceUpdate = 3
	stored.TaskTemplate.ContainerSpec.Secrets[0], stored.TaskTemplate.ContainerSpec.Secrets[1] = stored.TaskTemplate.ContainerSpec.Secrets[1], stored.TaskTemplate.ContainerSpec.Secrets[0]
	names := map[string]string{}
	for id, n := range f.networks {
		names[id] = n.Name
	}
	if got := specHash(stored, names); got != want {
		t.Errorf("hash of the stored spec %s, want %s:\n%s\n%s", got, want, canonicalJSON(stored, names), canonicalJSON(s, nil))
	}
	stored.TaskTemplate.ContainerSpec.Env = []string{"X=1"}
	if specHash(stored, names) == want {
		t.Error("a changed environment does not change the hash")
	}
}
