package stack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
)

const unitCompose = `
services:
  web:
    image: nginx:${TAG:-1}
    networks: [front, back]
    configs:
      - source: site
        target: /etc/site.conf
    secrets: [token]
    ports:
      - {target: 80, published: 8080, mode: host}
  db:
    image: postgres:16
    networks: [back]
networks:
  front:
    driver_opts:
      com.docker.network.driver.mtu: "1400"
  back:
    attachable: true
  unused:
    external: true
configs:
  site:
    file: site.conf
secrets:
  token:
    file: token
`

func unitProject(t *testing.T, env map[string]string, site string) *Project {
	t.Helper()
	return mustLoadNamed(t, "st", unitCompose, LoadOptions{Env: env, Files: map[string][]byte{
		"site.conf": []byte(site), "token": []byte("t0k3n"),
	}})
}

func mustLoadNamed(t *testing.T, name, src string, opts LoadOptions) *Project {
	t.Helper()
	p, err := LoadWithOptions(name, []byte(src), opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var never = DeployOptions{ResolveImage: ResolveNever, Prune: true}

func deployOK(t *testing.T, f *fakeEngine, p *Project, opts DeployOptions) *DeployResult {
	t.Helper()
	res, err := Deploy(context.Background(), f, p, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func actionsOf(res *DeployResult) string {
	var out []string
	for _, s := range res.Services {
		out = append(out, s.Name+":"+s.Action)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func observeOK(t *testing.T, f *fakeEngine, ns string) *StackState {
	t.Helper()
	st, err := Observe(context.Background(), f, ns)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestDeployCreates(t *testing.T) {
	f := newFakeEngine()
	p := unitProject(t, nil, "site v1")
	opts := never
	opts.OverlayDriverOptions = map[string]string{"encrypted": "", "com.docker.network.driver.mtu": "9000"}
	res := deployOK(t, f, p, opts)
	eq(t, "actions", actionsOf(res), "db:created web:created")
	site, token := p.Configs[0], p.Secrets[0]
	eq(t, "created", res.Created, []string{"network st_back", "network st_front", "secret " + token.Name, "config " + site.Name})
	eq(t, "network calls", f.callsLike("NetworkCreate"), []string{
		"NetworkCreate st_back driver=overlay options=map[com.docker.network.driver.mtu:9000 encrypted:] attachable=true",
		// The file's option wins over the cluster's.
		"NetworkCreate st_front driver=overlay options=map[com.docker.network.driver.mtu:1400 encrypted:] attachable=false",
	})
	eq(t, "services", f.callsLike("ServiceCreate"), []string{"ServiceCreate st_db query=false auth=false", "ServiceCreate st_web query=false auth=false"})

	web := f.find("st_web")
	c := web.Spec.TaskTemplate.ContainerSpec
	if c.Configs[0].ConfigID == "" || f.configs[c.Configs[0].ConfigID].Spec.Name != site.Name || c.Secrets[0].SecretID == "" {
		t.Errorf("references: %+v %+v", c.Configs[0], c.Secrets[0])
	}
	if string(f.configs[c.Configs[0].ConfigID].Spec.Data) != "site v1" || string(f.secrets[c.Secrets[0].SecretID].Spec.Data) != "t0k3n" {
		t.Error("config or secret content")
	}
	eq(t, "labels", web.Spec.Labels[LabelSpecHash], p.Services[1].SpecHash)

	st := observeOK(t, f, "st")
	for _, s := range st.Services {
		if s.Drifted {
			t.Errorf("%s drifted right after Deploy:\n%s\n%s", s.Name, canonicalJSON(f.find(s.FullName).Spec, nil), canonicalJSON(spec(t, p, s.Name), nil))
		}
	}
	eq(t, "diff", Diff(p, st), []Change(nil))
	w, _ := st.Service("web")
	eq(t, "ports", w.Ports, []Port{{8080, 80, "tcp", "host"}})
	eq(t, "objects", []string{st.Configs[0].Key, st.Configs[0].Hash, st.Secrets[0].Key}, []string{"site", site.Hash, "token"})

	// The same file again: nothing changes, not even a no-op update.
	f.calls = nil
	res = deployOK(t, f, p, never)
	eq(t, "actions", actionsOf(res), "db:unchanged web:unchanged")
	if len(f.callsLike("Service")) != 0 || len(f.callsLike("Network")) != 0 || len(res.Created) != 0 {
		t.Errorf("calls on an unchanged redeploy: %v", f.calls)
	}
}

func TestDeployUpdates(t *testing.T) {
	f := newFakeEngine()
	deployOK(t, f, unitProject(t, nil, "v1"), never)
	version := f.find("st_web").Version.Index

	// A new tag: web is updated from its current version, db is not.
	p2 := unitProject(t, map[string]string{"TAG": "2"}, "v1")
	res := deployOK(t, f, p2, never)
	eq(t, "actions", actionsOf(res), "db:unchanged web:updated")
	eq(t, "update", f.callsLike("ServiceUpdate"), []string{fmt.Sprintf("ServiceUpdate st_web version=%d query=false image=nginx:2", version)})
	if f.find("st_web").PreviousSpec.TaskTemplate.ContainerSpec.Image != "nginx:1" {
		t.Error("no previous spec")
	}

	// A lost race is retried on the new version.
	f.updateConflicts = 2
	f.calls = nil
	deployOK(t, f, unitProject(t, map[string]string{"TAG": "3"}, "v1"), never)
	if n := len(f.callsLike("ServiceUpdate st_web")); n != 3 {
		t.Errorf("%d updates, want 3: %v", n, f.calls)
	}

	// ResolveImage: always (the default) asks the registry, changed only
	// for a new image; an unchanged image keeps the digest it was pinned to.
	f.calls = nil
	web := f.find("st_web")
	web.Spec.TaskTemplate.ContainerSpec.Image = "nginx:3@sha256:" + strings.Repeat("a", 64)
	version = web.Version.Index
	p4 := unitProject(t, map[string]string{"TAG": "3"}, "v2")
	deployOK(t, f, p4, DeployOptions{ResolveImage: ResolveChanged})
	eq(t, "changed", f.callsLike("ServiceUpdate st_web")[0], fmt.Sprintf("ServiceUpdate st_web version=%d query=false image=nginx:3@sha256:%s", version, strings.Repeat("a", 64)))
	f.calls = nil
	deployOK(t, f, unitProject(t, map[string]string{"TAG": "4"}, "v2"), DeployOptions{})
	if u := f.callsLike("ServiceUpdate st_web"); len(u) != 1 || !strings.Contains(u[0], "query=true image=nginx:4") {
		t.Errorf("updates with ResolveAlways: %v", u)
	}
}

func TestDeployRotatesConfigs(t *testing.T) {
	f := newFakeEngine()
	var names []string
	for i, content := range []string{"v1", "v2", "v3"} {
		p := unitProject(t, nil, content)
		res := deployOK(t, f, p, DeployOptions{ResolveImage: ResolveNever})
		names = append(names, p.Configs[0].Name)
		if i > 0 {
			eq(t, "actions", actionsOf(res), "db:unchanged web:updated")
		}
		if i == 2 {
			// v1 is used by no spec any more, v2 by web's previous spec.
			eq(t, "removed", res.Removed, []string{"config " + names[0]})
		}
	}
	st := observeOK(t, f, "st")
	var have []string
	for _, c := range st.Configs {
		have = append(have, c.Name)
	}
	slices.Sort(have)
	want := []string{names[1], names[2]}
	slices.Sort(want)
	eq(t, "configs", have, want)
	if len(slices.Compact(names)) != 3 {
		t.Errorf("names %v", names)
	}
}

func TestDeployExplicitNames(t *testing.T) {
	src := `
services:
  web:
    image: nginx
    configs: [c]
    secrets: [s]
configs:
  c: {file: c, name: site-conf}
secrets:
  s: {file: s, name: site-secret}
`
	load := func(c, s string) *Project {
		return mustLoadNamed(t, "st", src, LoadOptions{Files: map[string][]byte{"c": []byte(c), "s": []byte(s)}})
	}
	f := newFakeEngine()
	// A secret made elsewhere by the CLI: same content is fine.
	if _, err := f.SecretCreate(context.Background(), swarm.SecretSpec{Annotations: swarm.Annotations{Name: "site-secret"}, Data: []byte("s1")}); err != nil {
		t.Fatal(err)
	}
	deployOK(t, f, load("c1", "s1"), never)
	if u := f.callsLike("SecretUpdate"); len(u) != 1 {
		t.Errorf("secret label updates: %v", u)
	}
	for _, tc := range []struct{ c, s, kind string }{{"c2", "s1", "config site-conf"}, {"c1", "s2", "secret site-secret"}} {
		_, err := Deploy(context.Background(), f, load(tc.c, tc.s), never)
		if err == nil || !strings.Contains(err.Error(), tc.kind+" exists with other content") {
			t.Errorf("changed %s = %v", tc.kind, err)
		}
	}
}

func TestDeployPrune(t *testing.T) {
	f := newFakeEngine()
	deployOK(t, f, unitProject(t, nil, "v1"), never)
	small := mustLoadNamed(t, "st", "services:\n  web:\n    image: nginx:1\n    networks: [front]\nnetworks:\n  front:\n", LoadOptions{})

	st := observeOK(t, f, "st")
	eq(t, "diff", Diff(small, st), []Change{
		{Kind: "service", Name: "st_web", Action: ChangeUpdate, Reason: "file"},
		{Kind: "service", Name: "st_db", Action: ChangeRemove},
	})

	res := deployOK(t, f, small, DeployOptions{ResolveImage: ResolveNever})
	eq(t, "without prune", actionsOf(res), "web:updated")
	if f.find("st_db") == nil {
		t.Error("db removed without Prune")
	}
	res = deployOK(t, f, small, never)
	eq(t, "with prune", actionsOf(res), "db:removed web:unchanged")
	// The config and secret stay while web's previous spec, kept for a
	// rollback, uses them.
	eq(t, "removed", res.Removed, []string{"network st_back"})
	st = observeOK(t, f, "st")
	eq(t, "diff", Diff(small, st), []Change(nil))
	if len(st.Configs) != 1 || len(st.Secrets) != 1 {
		t.Errorf("configs %v, secrets %v", st.Configs, st.Secrets)
	}
	web := f.find("st_web")
	web.PreviousSpec = nil
	res = deployOK(t, f, small, never)
	slices.Sort(res.Removed)
	eq(t, "removed", res.Removed, []string{"config " + unitProject(t, nil, "v1").Configs[0].Name, "secret " + unitProject(t, nil, "v1").Secrets[0].Name})
}

func TestDeployChecks(t *testing.T) {
	p := unitProject(t, nil, "v1")
	f := newFakeEngine()
	f.worker = true
	if _, err := Deploy(context.Background(), f, p, never); err == nil || !strings.Contains(err.Error(), "not a swarm manager") {
		t.Errorf("on a worker: %v", err)
	}
	f = newFakeEngine()
	f.version = "1.40"
	if _, err := Deploy(context.Background(), f, p, never); err == nil || !strings.Contains(err.Error(), "Docker API 1.40") {
		t.Errorf("old API: %v", err)
	}
	if _, err := Deploy(context.Background(), newFakeEngine(), p, DeployOptions{ResolveImage: "sometimes"}); err == nil {
		t.Error("invalid ResolveImage accepted")
	}

	ext := mustLoadNamed(t, "st", "services:\n  web:\n    image: nginx\n    networks: [n]\nnetworks:\n  n:\n    external: true\n    name: shared\n", LoadOptions{})
	f = newFakeEngine()
	if _, err := Deploy(context.Background(), f, ext, never); err == nil || !strings.Contains(err.Error(), `network "shared" is declared as external, but could not be found`) {
		t.Errorf("missing external network: %v", err)
	}
	if _, err := f.NetworkCreate(context.Background(), "shared", network.CreateOptions{Driver: "overlay"}); err != nil {
		t.Fatal(err)
	}
	f.network("shared").Scope = "local"
	if _, err := Deploy(context.Background(), f, ext, never); err == nil || !strings.Contains(err.Error(), `its scope is "local"`) {
		t.Errorf("local external network: %v", err)
	}
	f.network("shared").Scope = "swarm"
	deployOK(t, f, ext, never)
	if f.find("st_web").Spec.TaskTemplate.Networks[0].Target != f.network("shared").ID {
		t.Error("not attached to the external network")
	}
	// host is an external network that is not user-defined: not inspected.
	host := mustLoadNamed(t, "st", "services:\n  web:\n    image: nginx\n    networks: [h]\nnetworks:\n  h:\n    external: true\n    name: host\n", LoadOptions{})
	deployOK(t, newFakeEngine(), host, never)

	ext2 := mustLoadNamed(t, "st", "services:\n  web:\n    image: nginx\n    secrets: [s]\nsecrets:\n  s:\n    external: true\n    name: shared-secret\n", LoadOptions{})
	if _, err := Deploy(context.Background(), newFakeEngine(), ext2, never); err == nil || !strings.Contains(err.Error(), `secret "shared-secret" is declared as external`) {
		t.Errorf("missing external secret: %v", err)
	}
}

func TestDeployRegistryAuth(t *testing.T) {
	p := mustLoadNamed(t, "st", "services:\n  a: {image: nginx}\n  b: {image: registry.example.com:5000/app:1}\n  c: {image: ghcr.io/x/y}\n", LoadOptions{})
	f := newFakeEngine()
	deployOK(t, f, p, DeployOptions{ResolveImage: ResolveNever, WithRegistryAuth: true, RegistryAuth: map[string]RegistryCredential{
		"index.docker.io":           {Username: "u", Password: "p"},
		"registry.example.com:5000": {IdentityToken: "tok"},
		"unrelated.example.com":     {Username: "x"},
	}})
	eq(t, "creates", f.callsLike("ServiceCreate"), []string{
		"ServiceCreate st_a query=false auth=true", "ServiceCreate st_b query=false auth=true", "ServiceCreate st_c query=false auth=false",
	})
}

// TestDrift: a service changed or removed out of band is seen by Observe
// and Diff, and Deploy repairs it.
func TestDrift(t *testing.T) {
	f := newFakeEngine()
	p := unitProject(t, nil, "v1")
	deployOK(t, f, p, never)

	web := f.find("st_web")
	web.Spec.TaskTemplate.ContainerSpec.Env = append(web.Spec.TaskTemplate.ContainerSpec.Env, "DEBUG=1")
	web.Version.Index++
	delete(f.services, f.find("st_db").ID)
	st := observeOK(t, f, "st")
	if w, _ := st.Service("web"); !w.Drifted || w.AppliedHash != p.Services[1].SpecHash {
		t.Errorf("web: %+v", w)
	}
	eq(t, "diff", Diff(p, st), []Change{
		{Kind: "service", Name: "st_db", Action: ChangeCreate},
		{Kind: "service", Name: "st_web", Action: ChangeUpdate, Reason: "drift"},
	})
	res := deployOK(t, f, p, never)
	eq(t, "repair", actionsOf(res), "db:created web:updated")
	eq(t, "diff after the repair", Diff(p, observeOK(t, f, "st")), []Change(nil))

	// A missing network shows too (and web, attached to it by ID, changed).
	for id, n := range f.networks {
		if n.Name == "st_front" {
			delete(f.networks, id)
		}
	}
	eq(t, "diff", Diff(p, observeOK(t, f, "st")), []Change{
		{Kind: "service", Name: "st_web", Action: ChangeUpdate, Reason: "drift"},
		{Kind: "network", Name: "st_front", Action: ChangeCreate},
	})
}

func TestObserveEmpty(t *testing.T) {
	st := observeOK(t, newFakeEngine(), "nothing")
	if !st.Empty() {
		t.Errorf("%+v", st)
	}
	if _, err := Observe(context.Background(), newFakeEngine(), "bad name"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Observe(bad name) = %v", err)
	}
}
