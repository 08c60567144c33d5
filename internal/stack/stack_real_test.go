package stack

// A stack on a real swarm: three localcloud hosts (network namespaces, each
// with its own dockerd, TLS on 2376), a swarm of one manager and two
// workers made with internal/swarm, test images loaded on every host, and
// the stack driven through the manager's engine over mutual TLS.
//
// These hosts have no IPVS: the routing mesh and VIP load balancing do not
// work, so the services publish in host mode and resolve each other with
// endpoint_mode: dnsrr.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/localcloudtest"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	dswarm "github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netns"
	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
	hswarm "github.com/haddockhq/terraform-provider-haddock/internal/swarm"
	"github.com/haddockhq/terraform-provider-haddock/internal/testenv"
	"github.com/haddockhq/terraform-provider-haddock/internal/testimage"
	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

// proxySource serves GET / with the content of the files in $FILES and
// what $UPSTREAM answers, so a test sees configs, secrets and the overlay
// network at work.
const proxySource = `package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	host, _ := os.Hostname()
	c := &http.Client{Timeout: 3 * time.Second}
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "%s %s\n", os.Getenv("NAME"), host)
		for _, f := range strings.Fields(os.Getenv("FILES")) {
			b, err := os.ReadFile(f)
			fmt.Fprintf(w, "%s=%q %v\n", f, b, err)
		}
		if u := os.Getenv("UPSTREAM"); u != "" {
			resp, err := c.Get(u)
			if err != nil {
				fmt.Fprintf(w, "upstream error: %v\n", err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			fmt.Fprintf(w, "upstream: %s", b)
		}
	})
	panic(http.ListenAndServe(":8080", nil))
}
`

// crashSource exits at once with status 3.
const crashSource = `package main

import "os"

func main() { os.Exit(3) }
`

type realHost struct {
	netns.Host
	c     *hswarm.Client // Haddock's client, mTLS on 2376
	local *client.Client // the SDK on the host's unix socket, for set-up and out-of-band changes
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// realSwarm provisions three hosts and makes a swarm: s1 manager, s2 and s3
// workers. It returns the hosts by ID and the manager's Engine over mTLS.
func realSwarm(t *testing.T, ctx context.Context) (map[string]*realHost, Engine) {
	t.Helper()
	localcloudtest.RequireRealHosts(t)
	if _, err := testimage.GoTool(); err != nil {
		testenv.Need(t, "HADDOCK_REQUIRE_REAL_HOSTS", err)
	}
	cfg := netns.Config{
		StateDir:       t.TempDir(),
		Bridge:         "hdkt8",
		NetnsPrefix:    "hdkt8-",
		Subnet:         netip.MustParsePrefix("10.213.208.0/24"),
		ReservedPrefix: netip.MustParsePrefix("10.213.228.0/28"),
		StopTimeout:    10 * time.Second,
		// Swarm tries to pull a task's image before using a local one;
		// these hosts have no registry to reach.
		DockerdEnv: []string{"DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1"},
		Logger:     slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	m, err := netns.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := m.Down(dctx); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	ca, err := pki.NewCA("haddock-stack-test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	prov, err := ca.IssueClient("haddock-provider", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"s1", "s2", "s3"}
	hosts := map[string]*realHost{}
	for id, h := range localcloudtest.ProvisionTLSHosts(t, ctx, m, ca, ids) {
		hosts[id] = &realHost{Host: h}
	}
	for _, id := range ids {
		h := hosts[id]
		c, err := hswarm.Connect(ctx, hswarm.Endpoint{
			Host:      "tcp://" + h.IPv4.String() + ":2376",
			CACertPEM: ca.CertPEM(), CertPEM: prov.CertPEM, KeyPEM: prov.KeyPEM,
			Identity: pki.HostIdentity(id),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if err := c.WaitReady(ctx, 200*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		local, err := client.NewClientWithOpts(client.WithHost("unix://"+h.DockerSocket), client.WithAPIVersionNegotiation())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = local.Close() })
		h.c, h.local = c, local
	}
	s1 := hosts["s1"]
	if _, err := s1.c.Init(ctx, hswarm.InitOptions{AdvertiseAddr: s1.IPv4.String(), DefaultAddrPool: []string{"10.248.0.0/16"}, SubnetSize: 24}); err != nil {
		t.Fatal(err)
	}
	worker, _, err := s1.c.JoinTokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"s2", "s3"} {
		h := hosts[id]
		if err := h.c.Join(ctx, hswarm.JoinOptions{RemoteAddrs: []string{s1.IPv4.String() + ":2377"}, Token: worker, AdvertiseAddr: h.IPv4.String()}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s1.c.WaitNodesReady(ctx, ids); err != nil {
		t.Fatal(err)
	}
	e, err := EngineOf(s1.c)
	if err != nil {
		t.Fatal(err)
	}
	return hosts, e
}

// loadImages builds the test images and loads them on every host.
func loadImages(t *testing.T, ctx context.Context, hosts map[string]*realHost) {
	t.Helper()
	v2 := strings.Replace(testimage.HTTPServer, `"%s %s\n"`, `"v2 %s %s\n"`, 1)
	var archives [][]byte
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, img := range []struct{ tag, src string }{
		{"haddock-test-http:1", testimage.HTTPServer},
		{"haddock-test-http:2", v2},
		{"haddock-test-proxy:1", proxySource},
		{"haddock-test-crash:1", crashSource},
	} {
		wg.Go(func() {
			a := testimage.Build(t, img.tag, img.src)
			mu.Lock()
			archives = append(archives, a)
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, h := range hosts {
		for _, a := range archives {
			resp, err := h.local.ImageLoad(ctx, bytes.NewReader(a), client.ImageLoadWithQuiet(true))
			if err != nil {
				t.Fatalf("loading an image on %s: %v", h.ID, err)
			}
			out, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if bytes.Contains(out, []byte(`"error`)) {
				t.Fatalf("loading an image on %s: %s", h.ID, out)
			}
		}
	}
}

const realCompose = `
services:
  a:
    image: haddock-test-http:${A_TAG}
    environment:
      NAME: a
    networks: [back]
    stop_grace_period: 2s
    deploy:
      replicas: ${A_REPLICAS:-2}
      endpoint_mode: dnsrr
      update_config:
        parallelism: 1
        delay: 0s
        monitor: 2s
        failure_action: rollback
        order: stop-first
      rollback_config:
        parallelism: 0
        monitor: 1s
      restart_policy:
        condition: any
        delay: 1s
  b:
    image: haddock-test-proxy:1
    environment:
      NAME: b
      UPSTREAM: http://a:8080/
      FILES: /motd /run/secrets/token
    networks: [back]
    stop_grace_period: 2s
    ports:
      - target: 8080
        published: 18080
        protocol: tcp
        mode: host
    configs:
      - source: motd
        target: /motd
    secrets: [token]
    deploy:
      mode: global
      endpoint_mode: dnsrr
      placement:
        constraints: [node.role == worker]
      update_config:
        monitor: 1s
networks:
  back:
    driver: overlay
    attachable: true
configs:
  motd:
    file: ./motd.txt
secrets:
  token:
    file: ./token.txt
`

// richCompose uses most service options the converter knows, to check
// that the engine's copy of the spec hashes as the rendered one does.
const richCompose = `
services:
  rich:
    image: haddock-test-http:1
    entrypoint: ["/app"]
    command: ["--ignored"]
    environment: {A: "1"}
    labels: {l: v}
    hostname: rich
    user: "1000"
    working_dir: /
    stop_grace_period: 5s
    stop_signal: SIGTERM
    read_only: true
    init: true
    dns: [10.0.0.53]
    dns_search: [example.com]
    extra_hosts: ["db:10.0.0.5"]
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    sysctls: {net.core.somaxconn: "1024"}
    ulimits: {nofile: {soft: 1024, hard: 2048}}
    tmpfs: [/tmp]
    volumes:
      - data:/data
      - type: tmpfs
        target: /cache
        tmpfs: {size: 1000000}
    logging: {driver: json-file, options: {max-size: 1m}}
    healthcheck: {test: ["CMD", "/app"], interval: 30s, timeout: 5s, retries: 3, start_period: 1s}
    ports: [{target: 8080, published: 18081, mode: host}]
    deploy:
      endpoint_mode: dnsrr
      labels: {d: e}
      resources:
        limits: {cpus: "0.5", memory: 64M, pids: 100}
        reservations: {cpus: "0.1", memory: 16M}
      restart_policy: {condition: on-failure, delay: 2s, max_attempts: 3, window: 10s}
      placement:
        constraints: [node.role==worker]
        preferences: [{spread: node.labels.zone}]
        max_replicas_per_node: 1
      update_config: {parallelism: 2, delay: 1s, order: start-first, max_failure_ratio: 0.5}
      rollback_config: {parallelism: 1}
  plain:
    image: haddock-test-http:1
    deploy:
      restart_policy: {delay: 1s}
      update_config: {delay: 1s}
      resources:
        limits: {memory: 32M}
volumes:
  data:
    driver_opts: {type: tmpfs, device: tmpfs}
`

func TestRealStack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var timings []string
	timed := func(what string, start time.Time) {
		d := time.Since(start).Round(time.Millisecond)
		timings = append(timings, fmt.Sprintf("%s %s", what, d))
		t.Logf("%s took %s", what, d)
	}
	defer func() { t.Logf("timings: %s", strings.Join(timings, ", ")) }()

	start := time.Now()
	hosts, e := realSwarm(t, ctx)
	timed("3 hosts and a swarm", start)
	start = time.Now()
	loadImages(t, ctx, hosts)
	timed("building and loading 4 images", start)
	s1 := hosts["s1"]

	load := func(env map[string]string, motd string) *Project {
		t.Helper()
		p, err := LoadWithOptions("st", []byte(realCompose), LoadOptions{Env: env, Files: map[string][]byte{
			"motd.txt": []byte(motd), "token.txt": []byte("s3cr3t"),
		}})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	deploy := func(what string, p *Project) *DeployResult {
		t.Helper()
		start := time.Now()
		res, err := Deploy(ctx, e, p, DeployOptions{Prune: true, ResolveImage: ResolveNever})
		if err != nil {
			t.Fatal(err)
		}
		timed("Deploy ("+what+")", start)
		for _, w := range res.Warnings {
			t.Logf("deploy warning: %s", w)
		}
		start = time.Now()
		progress := WithProgress(func(ps []ServiceProblem) {
			for _, p := range ps {
				t.Logf("  %s: %s", time.Since(start).Round(time.Millisecond), p)
			}
		})
		if err := WaitConverged(ctx, e, p, 3*time.Minute, WithStablePeriod(time.Second), progress); err != nil {
			t.Fatalf("WaitConverged (%s): %v", what, err)
		}
		timed("WaitConverged ("+what+")", start)
		return res
	}
	observe := func() *StackState {
		t.Helper()
		st, err := Observe(ctx, e, "st")
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	actions := func(res *DeployResult) map[string]string {
		out := map[string]string{}
		for _, s := range res.Services {
			out[s.Name] = s.Action
		}
		return out
	}

	// First deploy.
	p1 := load(map[string]string{"A_TAG": "1"}, "hello v1")
	res := deploy("create", p1)
	if a := actions(res); a["a"] != ActionCreated || a["b"] != ActionCreated {
		t.Errorf("first deploy: %v", a)
	}
	t.Logf("created: %v", res.Created)
	st := observe()
	if len(st.Services) != 2 || len(st.Configs) != 1 || len(st.Secrets) != 1 {
		t.Fatalf("state after the first deploy: %+v", st)
	}
	if !hasNetwork(st, "st_back") {
		t.Errorf("no st_back network: %+v", st.Networks)
	}
	a, _ := st.Service("a")
	b, _ := st.Service("b")
	if a.Mode != ModeReplicated || a.DesiredReplicas != 2 || a.RunningTasks != 2 || a.Image != "haddock-test-http:1" {
		t.Errorf("service a: %+v", a)
	}
	if b.Mode != ModeGlobal || b.RunningTasks != 2 || len(b.Ports) != 1 || b.Ports[0] != (Port{Published: 18080, Target: 8080, Protocol: "tcp", Mode: "host"}) {
		t.Errorf("service b: %+v", b)
	}
	for _, s := range st.Services {
		if s.Drifted || s.AppliedHash == "" {
			t.Errorf("service %s right after deploy: drifted %t (applied %s, current %s)", s.Name, s.Drifted, s.AppliedHash, s.CurrentHash)
			dumpSpec(t, ctx, s1, s.FullName, p1)
		}
	}
	if d := Diff(p1, st); len(d) != 0 {
		t.Errorf("Diff right after deploy: %v", d)
	}
	body := httpGet(t, ctx, hosts["s2"].IPv4.String()+":18080", "upstream: a ")
	for _, want := range []string{"b ", `/motd="hello v1"`, `/run/secrets/token="s3cr3t"`, "upstream: a "} {
		if !strings.Contains(body, want) {
			t.Errorf("b answered %q, without %q", body, want)
		}
	}
	httpGet(t, ctx, hosts["s3"].IPv4.String()+":18080", "upstream: a ")

	// The same file again changes nothing.
	start = time.Now()
	res, err := Deploy(ctx, e, p1, DeployOptions{Prune: true, ResolveImage: ResolveNever})
	if err != nil {
		t.Fatal(err)
	}
	timed("Deploy (no change)", start)
	if a := actions(res); a["a"] != ActionUnchanged || a["b"] != ActionUnchanged || len(res.Created) != 0 {
		t.Errorf("redeploying the same file: %v, created %v", a, res.Created)
	}

	// A new image tag for a (rolling update) and new content for the
	// config (a new config, b rolls to it).
	p2 := load(map[string]string{"A_TAG": "2"}, "hello v2")
	res = deploy("new image and config", p2)
	if a := actions(res); a["a"] != ActionUpdated || a["b"] != ActionUpdated {
		t.Errorf("update: %v", a)
	}
	st = observe()
	a, _ = st.Service("a")
	if a.Image != "haddock-test-http:2" || a.RunningTasks != 2 || a.UpdateState != "completed" {
		t.Errorf("a after the update: %+v", a)
	}
	if len(st.Configs) != 2 {
		// The previous version stays while b's previous spec uses it.
		t.Errorf("configs after the rotation: %+v", st.Configs)
	}
	body = httpGet(t, ctx, hosts["s2"].IPv4.String()+":18080", `"hello v2"`)
	if !strings.Contains(body, "upstream: v2 a ") {
		t.Errorf("b answered %q after the update", body)
	}
	if d := Diff(p2, st); len(d) != 0 {
		t.Errorf("Diff after the update: %v", d)
	}

	// More replicas.
	p3 := load(map[string]string{"A_TAG": "2", "A_REPLICAS": "3"}, "hello v2")
	res = deploy("3 replicas", p3)
	if a := actions(res); a["a"] != ActionUpdated || a["b"] != ActionUnchanged {
		t.Errorf("scaling: %v", a)
	}
	if a, _ := observe().Service("a"); a.RunningTasks != 3 || a.DesiredReplicas != 3 {
		t.Errorf("a after scaling: %+v", a)
	}

	// Out of band: a removed, b changed by hand.
	if err := s1.local.ServiceRemove(ctx, "st_a"); err != nil {
		t.Fatal(err)
	}
	bs, _, err := s1.local.ServiceInspectWithRaw(ctx, "st_b", dswarm.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bs.Spec.TaskTemplate.ContainerSpec.Env = append(bs.Spec.TaskTemplate.ContainerSpec.Env, "EXTRA=1")
	if _, err := s1.local.ServiceUpdate(ctx, bs.ID, bs.Version, bs.Spec, dswarm.ServiceUpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Let that update finish, as it would long before anyone looks.
	if err := wait.Until(ctx, polling("the update of st_b"), func(ctx context.Context) (bool, string, error) {
		s, _, err := s1.local.ServiceInspectWithRaw(ctx, bs.ID, dswarm.ServiceInspectOptions{})
		return err == nil && s.UpdateStatus != nil && s.UpdateStatus.State == dswarm.UpdateStateCompleted, "", err
	}); err != nil {
		t.Fatal(err)
	}
	st = observe()
	if _, ok := st.Service("a"); ok {
		t.Error("a still observed after its removal")
	}
	if b, _ := st.Service("b"); !b.Drifted {
		t.Errorf("b changed out of band is not drifted: %+v", b)
	}
	d := Diff(p3, st)
	t.Logf("drift: %v", d)
	if len(d) != 2 || d[0] != (Change{Kind: "service", Name: "st_a", Action: ChangeCreate}) || d[1] != (Change{Kind: "service", Name: "st_b", Action: ChangeUpdate, Reason: "drift"}) {
		t.Errorf("Diff after the out-of-band changes = %v", d)
	}
	res = deploy("repair", p3)
	if a := actions(res); a["a"] != ActionCreated || a["b"] != ActionUpdated {
		t.Errorf("repair: %v", a)
	}
	if d := Diff(p3, observe()); len(d) != 0 {
		t.Errorf("Diff after the repair: %v", d)
	}

	// A failed update rolls back (failure_action: rollback).
	badYAML := strings.Replace(realCompose, "image: haddock-test-http:${A_TAG}", "image: haddock-test-crash:1", 1)
	bad, err := LoadWithOptions("st", []byte(badYAML), LoadOptions{Env: map[string]string{"A_REPLICAS": "3"}, Files: map[string][]byte{
		"motd.txt": []byte("hello v2"), "token.txt": []byte("s3cr3t"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if _, err := Deploy(ctx, e, bad, DeployOptions{Prune: true, ResolveImage: ResolveNever}); err != nil {
		t.Fatal(err)
	}
	err = WaitConverged(ctx, e, bad, 3*time.Minute, WithStablePeriod(time.Second))
	timed("Deploy and WaitConverged of a failing update", start)
	var ce *ConvergeError
	if !errors.As(err, &ce) || !ce.RolledBack() {
		t.Fatalf("WaitConverged of a failing update = %v, want a rollback", err)
	}
	t.Logf("failed update: %v", err)
	if p := ce.Problems[0]; p.FullName != "st_a" || p.TaskID == "" || !strings.Contains(p.TaskErr, "exit (3)") {
		t.Errorf("problem = %+v", p)
	}
	if a, _ := observe().Service("a"); a.Image != "haddock-test-http:2" || a.UpdateState != "rollback_completed" {
		t.Errorf("a after the rollback: %+v", a)
	}

	// The engine's copy of a spec using most options hashes as the
	// rendered one: no drift right after Deploy.
	rich, err := Load("rich", []byte(richCompose), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Deploy(ctx, e, rich, DeployOptions{ResolveImage: ResolveNever}); err != nil {
		t.Fatal(err)
	}
	for _, s := range observe2(t, ctx, e, "rich").Services {
		if s.Drifted {
			t.Errorf("rich service %s drifted right after Deploy", s.Name)
			dumpSpec(t, ctx, s1, s.FullName, rich)
		}
	}
	if d := Diff(rich, observe2(t, ctx, e, "rich")); len(d) != 0 {
		t.Errorf("Diff of the rich stack: %v", d)
	}
	if err := Remove(ctx, e, "rich"); err != nil {
		t.Fatal(err)
	}

	// Remove leaves nothing of the stack.
	start = time.Now()
	if err := Remove(ctx, e, "st"); err != nil {
		t.Fatal(err)
	}
	timed("Remove", start)
	if st := observe(); !st.Empty() {
		t.Errorf("after Remove: %+v", st)
	}
	f := filters.NewArgs(filters.Arg("label", LabelNamespace+"=st"))
	for _, h := range hosts {
		if ts, err := s1.local.TaskList(ctx, dswarm.TaskListOptions{Filters: f}); err != nil || len(ts) != 0 {
			t.Errorf("tasks after Remove: %d, %v", len(ts), err)
		}
		if ns, err := h.local.NetworkList(ctx, network.ListOptions{Filters: f}); err != nil || len(ns) != 0 {
			t.Errorf("networks on %s after Remove: %v, %v", h.ID, ns, err)
		}
	}
	if err := Remove(ctx, e, "st"); err != nil {
		t.Errorf("second Remove: %v", err)
	}
}

func observe2(t *testing.T, ctx context.Context, e Engine, ns string) *StackState {
	t.Helper()
	st, err := Observe(ctx, e, ns)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func hasNetwork(st *StackState, name string) bool {
	for _, n := range st.Networks {
		if n.Name == name {
			return true
		}
	}
	return false
}

// httpGet polls addr until it answers with a body containing want.
func httpGet(t *testing.T, ctx context.Context, addr, want string) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	var body string
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
		resp, err := c.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			body = string(b)
			if strings.Contains(body, want) {
				return body
			}
		} else {
			body = err.Error()
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("GET http://%s/: %q, without %q", addr, body, want)
	return ""
}

// dumpSpec logs a service's spec as rendered and as the engine stores it,
// to see what the canonical form misses.
func dumpSpec(t *testing.T, ctx context.Context, h *realHost, name string, p *Project) {
	t.Helper()
	svc, _, err := h.local.ServiceInspectWithRaw(ctx, name, dswarm.ServiceInspectOptions{})
	if err != nil {
		t.Log(err)
		return
	}
	names := map[string]string{}
	nets, _ := h.local.NetworkList(ctx, network.ListOptions{})
	for _, n := range nets {
		names[n.ID] = n.Name
	}
	t.Logf("engine's %s:\n%s", name, canonicalJSON(svc.Spec, names))
	rendered, _ := p.ServiceSpec(strings.TrimPrefix(name, p.Name+"_"))
	t.Logf("rendered %s:\n%s", name, canonicalJSON(rendered, nil))
}
