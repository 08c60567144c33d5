package provider_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/acctest"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

// Terraform is killed with SIGKILL (with the provider: its process group)
// at four points of a real cluster's life — while hosts are being created
// (a cluster's manager and a haddock_host), while workers join the swarm,
// while a stack deploys, and while a node group drains a worker it scales
// in — and every time the next apply converges by itself: what the killed
// apply made but never saved is adopted (a node group's hosts, found by
// their tags; the stack, deployed again) or deleted (a manager or host
// whose TLS material died with the killed process: cloud.UnsavedTag), and
// the cloud ends with exactly the configuration's hosts, none of them
// still marked unsaved; the plan after is empty and destroy leaves nothing.
func TestAccCrash_killedApplies(t *testing.T) {
	rc := acctest.RealHosts(t)
	img := rc.PushCounter(t, "crash")
	cli := acctest.NewCLI(t)
	config := func(workers int) string {
		return rc.ProviderConfig + fmt.Sprintf(`
resource "haddock_swarm_cluster" "crash" {
  name = "crash"
  managers = {
    count  = 1
    cloud  = "digitalocean"
    region = "eu-central"
    size   = "small"
    image  = "debian-12"
  }
}

resource "haddock_node_group" "web" {
  cluster_id          = haddock_swarm_cluster.crash.id
  cluster_credentials = haddock_swarm_cluster.crash.credentials
  name                = "web"
  node_count          = %[1]d
  cloud               = "digitalocean"
  region              = "eu-central"
  size                = "small"
  image               = "debian-12"
}

resource "haddock_stack" "web" {
  cluster_id          = haddock_swarm_cluster.crash.id
  cluster_credentials = haddock_swarm_cluster.crash.client_credentials
  name                = "web"
  env                 = { IMAGE = %[2]q }
  compose             = %[3]q
  depends_on          = [haddock_node_group.web]
}

resource "haddock_host" "solo" {
  cloud  = "digitalocean"
  name   = "crash-solo"
  region = "eu-central"
  size   = "small"
  image  = "debian-12"
}
`, workers, img, strings.ReplaceAll(lbCompose, "${", "$${"))
	}
	hosts := func() []cloud.Host {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		hs, err := rc.Driver.ListHosts(ctx, cloud.ManagedTag)
		if err != nil {
			t.Fatalf("listing localcloud's hosts: %v", err)
		}
		return hs
	}
	exists := func(names ...string) func() bool {
		return func() bool {
			have := map[string]bool{}
			for _, h := range hosts() {
				have[h.Name] = true
			}
			for _, n := range names {
				if !have[n] {
					return false
				}
			}
			return true
		}
	}
	describe := func() string {
		var s []string
		for _, h := range hosts() {
			mark := ""
			if cloud.Unsaved(h) {
				mark = " (unsaved)"
			}
			s = append(s, fmt.Sprintf("%s %s %s%s", h.Name, h.ID, h.Status, mark))
		}
		sort.Strings(s)
		return strings.Join(s, ", ")
	}
	kills, removedSeen, scanned := 0, 0, 0
	// Every command's output — the plan as Terraform prints it for humans,
	// the provider's INFO logs — is scanned for secrets.
	scan := func(what string, r acctest.Result) {
		t.Helper()
		scanned += len(r.Output)
		if secretRE.MatchString(r.Output) {
			t.Errorf("%s: the output of terraform shows a secret (a token, an AWS secret, a private key or a swarm join token)", what)
		}
	}
	crash := func(what string, workers int, kill acctest.KillWhen) {
		t.Helper()
		r := cli.Apply(t, config(workers), kill)
		scan(what, r)
		if !r.Killed {
			t.Fatalf("%s: the apply was not killed (it ended after %s: %v); the kill point was missed:\n%s", what, r.Took.Round(time.Second), r.Err, tailLines(r.Output, 60))
		}
		kills++
		if strings.Contains(r.Output, "deleting a host an interrupted apply left") || strings.Contains(r.Output, "deleting the managers of an interrupted earlier create") {
			removedSeen++
		}
		msg := fmt.Sprintf("crash: killed %s after %s; the cloud then held: %s", what, r.Took.Round(time.Second), describe())
		t.Log(msg)
		fmt.Println(msg)
	}
	converge := func(what string, workers int) {
		t.Helper()
		r := cli.Apply(t, config(workers), acctest.KillWhen{})
		scan(what, r)
		if r.Err != nil {
			t.Fatalf("%s: the apply after the kill failed: %v\n%s", what, r.Err, tailLines(r.Output, 120))
		}
		if strings.Contains(r.Output, "Removed what an interrupted apply left") || strings.Contains(r.Output, "deleting a host an interrupted apply left") {
			removedSeen++
		}
		var mgr, web, solo, unsaved []string
		for _, h := range hosts() {
			switch {
			case h.Status == cloud.HostDeleting:
				continue
			case strings.HasPrefix(h.Name, "crash-manager-"):
				mgr = append(mgr, h.Name)
			case strings.HasPrefix(h.Name, "web-"):
				web = append(web, h.Name)
			case h.Name == "crash-solo":
				solo = append(solo, h.Name)
			default:
				t.Errorf("%s: a host the configuration does not have: %s", what, h.Name)
			}
			if cloud.Unsaved(h) {
				unsaved = append(unsaved, h.Name)
			}
		}
		if len(mgr) != 1 || len(web) != workers || len(solo) != 1 || len(unsaved) != 0 {
			t.Fatalf("%s: after the apply the cloud holds managers %v, workers %v (want %d), solo hosts %v, still marked unsaved %v: %s",
				what, mgr, web, workers, solo, unsaved, describe())
		}
		p := cli.Run(t, acctest.KillWhen{}, "plan", "-detailed-exitcode", "-input=false", "-no-color")
		scan(what+": plan", p)
		if p.Err != nil {
			t.Fatalf("%s: the plan after the apply is not empty (%v):\n%s", what, p.Err, tailLines(p.Output, 80))
		}
		msg := fmt.Sprintf("crash: after %s the next apply converged in %s: 1 manager, %d workers, 1 host, none unsaved, empty plan", what, r.Took.Round(time.Second), workers)
		t.Log(msg)
		fmt.Println(msg)
	}

	// 1. While hosts are created: a manager and the solo host exist, the
	// swarm is not initialised yet.
	crash("during host creation", 2, acctest.KillWhen{Cond: exists("crash-manager-1", "crash-solo")})
	// 2. While the workers join (the cluster is saved by then).
	crash("during the workers' swarm join", 2, acctest.KillWhen{Marker: "joining the swarm"})
	// 3. While the stack deploys.
	crash("during the stack deploy", 2, acctest.KillWhen{Marker: "stack service"})
	converge("three kills", 2)
	// 4. While the node group drains the worker it scales in.
	crash("during a drain (2 → 1 workers)", 1, acctest.KillWhen{Marker: "draining"})
	converge("the drain's kill", 1)

	d := cli.Run(t, acctest.KillWhen{}, "destroy", "-auto-approve", "-input=false", "-no-color")
	scan("destroy", d)
	if d.Err != nil {
		t.Fatalf("destroy: %v\n%s", d.Err, tailLines(d.Output, 80))
	}
	if err := rc.WaitHostsGone(90 * time.Second); err != nil {
		t.Fatal(err)
	}
	if hs := hosts(); len(hs) != 0 {
		t.Fatalf("after destroy localcloud holds hosts: %s", describe())
	}
	if n, err := rc.Firewalls(); err != nil || n != 0 {
		t.Fatalf("after destroy localcloud holds %d firewalls (%v)", n, err)
	}
	msg := fmt.Sprintf("crash: %d SIGKILLs of terraform apply, each followed by an apply that converged; hosts of killed applies deleted with a warning in %d apply(s); orphans after destroy: 0 hosts, 0 firewalls; %d bytes of terraform's human-readable output (plans, INFO logs) held no secret", kills, removedSeen, scanned)
	t.Log(msg)
	fmt.Println(msg)
	if removedSeen == 0 {
		t.Error("no apply reported removing what a killed apply left: the kill during host creation tested nothing")
	}
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// localcloud itself — the cloud's API — is killed with SIGKILL while an
// apply creates a cluster's node group, and started again 3 s later on its
// persisted state (the hosts' daemons kept running, as a cloud's machines
// outlive its API servers). The apply rides through the outage on its
// retries or fails; either way the next apply converges with exactly the
// configuration's hosts, and destroy leaves nothing.
func TestAccCrash_localcloudKilled(t *testing.T) {
	lc := acctest.StartLocalCloudProcess(t)
	cli := acctest.NewCLI(t)
	config := lc.ProviderConfig + `
resource "haddock_swarm_cluster" "lck" {
  name = "lck"
  managers = {
    count  = 1
    cloud  = "digitalocean"
    region = "eu-central"
    size   = "small"
    image  = "debian-12"
  }
}

resource "haddock_node_group" "web" {
  cluster_id          = haddock_swarm_cluster.lck.id
  cluster_credentials = haddock_swarm_cluster.lck.credentials
  name                = "web"
  node_count          = 2
  cloud               = "digitalocean"
  region              = "eu-central"
  size                = "small"
  image               = "debian-12"
}
`
	hosts := func() []cloud.Host {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hs, err := lc.Driver.ListHosts(ctx, cloud.ManagedTag)
		if err != nil {
			return nil // localcloud is down
		}
		return hs
	}
	var restarted time.Duration
	killed := false
	r := cli.Apply(t, config, acctest.KillWhen{Cond: func() bool {
		if killed {
			return false
		}
		for _, h := range hosts() {
			if strings.HasPrefix(h.Name, "web-") {
				killed = true
				t0 := time.Now()
				lc.Kill(t)
				t.Log("crash: localcloud killed (SIGKILL) while the node group's hosts were being created")
				time.Sleep(3 * time.Second)
				lc.Start(t)
				restarted = time.Since(t0)
				return false
			}
		}
		return false
	}})
	if !killed {
		t.Fatalf("localcloud was never killed: the node group's hosts never showed (apply: %v)\n%s", r.Err, tailLines(r.Output, 60))
	}
	first := "converged on its own"
	if r.Err != nil {
		first = "failed: " + firstErrorLine(r.Output)
	}
	msg := fmt.Sprintf("crash: localcloud killed mid-apply and back %s later; that apply %s", restarted.Round(time.Millisecond), first)
	t.Log(msg)
	fmt.Println(msg)
	r = cli.Apply(t, config, acctest.KillWhen{})
	if r.Err != nil {
		t.Fatalf("the apply after localcloud's restart failed: %v\n%s", r.Err, tailLines(r.Output, 120))
	}
	var mgr, web, other []string
	for _, h := range hosts() {
		switch {
		case h.Status == cloud.HostDeleting:
		case strings.HasPrefix(h.Name, "lck-manager-"):
			mgr = append(mgr, h.Name)
		case strings.HasPrefix(h.Name, "web-"):
			web = append(web, h.Name)
		default:
			other = append(other, h.Name)
		}
	}
	if len(mgr) != 1 || len(web) != 2 || len(other) != 0 {
		t.Fatalf("after the apply: managers %v, workers %v, others %v; want 1 manager and 2 workers", mgr, web, other)
	}
	if p := cli.Run(t, acctest.KillWhen{}, "plan", "-detailed-exitcode", "-input=false", "-no-color"); p.Err != nil {
		t.Fatalf("the plan after the apply is not empty (%v):\n%s", p.Err, tailLines(p.Output, 80))
	}
	if d := cli.Run(t, acctest.KillWhen{}, "destroy", "-auto-approve", "-input=false", "-no-color"); d.Err != nil {
		t.Fatalf("destroy: %v\n%s", d.Err, tailLines(d.Output, 80))
	}
	if hs := hosts(); len(hs) != 0 {
		t.Fatalf("after destroy localcloud holds %d hosts", len(hs))
	}
	msg = "crash: after localcloud's SIGKILL and restart the next apply converged (1 manager, 2 workers, empty plan); destroy left 0 hosts"
	t.Log(msg)
	fmt.Println(msg)
}

func firstErrorLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "Error:") {
			return strings.TrimSpace(l)
		}
	}
	return "(no error line)"
}
