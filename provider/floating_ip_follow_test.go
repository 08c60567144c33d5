package provider_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/haddockhq/terraform-provider-haddock/acctest"
	"github.com/haddockhq/terraform-provider-haddock/internal/testload"
	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

const (
	followCluster = "haddock_swarm_cluster.fo"
	followIP      = "haddock_floating_ip.fo"
	// failoverTarget is the issue's: requests through the IP answer again
	// within 15 s of the holding manager's abrupt failure.
	failoverTarget = 15 * time.Second
)

// A floating IP following a 3-manager cluster (heartbeat_period 2s) with
// the counter stack behind it, under a steady load: the holding manager
// fails abruptly and the failover agent the provider deployed moves the IP
// to another Ready manager, requests answering again within 15 s and
// without Terraform running. Powered on again, the failed manager rejoins
// and a later plan is empty: the agent's move is not drift. Then the
// heartbeat changes in place, and no longer following removes the agent's
// service and secret.
func TestAccFloatingIP_followsCluster(t *testing.T) {
	rc := acctest.RealHosts(t)
	var counter, agent string
	var wg sync.WaitGroup
	wg.Go(func() { counter = rc.PushCounter(t, "follow") })
	wg.Go(func() { agent = rc.PushAgent(t, "follow") })
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	// The agent runs on the managers: it gets the API's address on the
	// hosts' bridge (agent_api_endpoint), as `localcloud serve` prints it.
	apiURL := rc.ServeAPIOnBridge(t)
	compose, err := os.ReadFile(filepath.Join("..", "examples", "local", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := func(heartbeat string, follow bool, poll ...string) string {
		return followConfig(rc, apiURL, agent, counter, compose, heartbeat, follow, poll...)
	}
	var failed string
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             func(*terraform.State) error { return rc.WaitHostsGone(90 * time.Second) },
		Steps: []resource.TestStep{
			{
				Config: cfg("2s", true),
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr(followCluster, "heartbeat_period", "2s"),
					resource.TestCheckResourceAttrSet(followIP, "agent_service_id"),
					resource.TestCheckResourceAttr(followIP, "agent_image", agent),
					checkOnManager(followIP, followCluster),
					func(s *terraform.State) error {
						if got := swarmHeartbeat(t, s); got != 2*time.Second {
							return fmt.Errorf("the swarm's heartbeat period is %s, want 2s", got)
						}
						return nil
					},
					func(s *terraform.State) error {
						d, err := acctest.HostDocker(s, followCluster)
						if err != nil {
							return err
						}
						if _, err := acctest.WaitRunning(context.Background(), d, "haddock-agent", 3, 2*time.Minute); err != nil {
							return err
						}
						failed, err = failHolder(t, rc, s)
						return err
					},
				),
			},
			{
				// The IP moved and the failed manager is back: nothing to do.
				Config:   cfg("2s", true),
				PlanOnly: true,
			},
			{
				// The heartbeat changes in place; a new poll interval
				// deploys the agent again.
				Config: cfg("3s", true, "500ms"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(followCluster, plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction(followIP, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr(followCluster, "heartbeat_period", "3s"),
					resource.TestCheckResourceAttr(followIP, "agent_poll_interval", "500ms"),
					func(s *terraform.State) error {
						d, err := acctest.HostDocker(s, followCluster)
						if err != nil {
							return err
						}
						_, err = acctest.WaitRunning(context.Background(), d, "haddock-agent", 3, 2*time.Minute)
						return err
					},
					func(s *terraform.State) error {
						if got := swarmHeartbeat(t, s); got != 3*time.Second {
							return fmt.Errorf("the swarm's heartbeat period is %s after the update, want 3s", got)
						}
						return nil
					},
				),
			},
			{
				// No longer following: the agent and its secret go, the
				// address stays (unassigned).
				Config: cfg("3s", false),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(followIP, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckNoResourceAttr(followIP, "host_id"),
					resource.TestCheckNoResourceAttr(followIP, "agent_service_id"),
					resource.TestCheckNoResourceAttr(followIP, "agent_image"),
					func(s *terraform.State) error {
						d, err := acctest.HostDocker(s, followCluster)
						if err != nil {
							return err
						}
						return acctest.AgentGone(context.Background(), d)
					},
				),
			},
		},
	})
	t.Logf("failed and powered on again: %s", failed)
}

func followConfig(rc *acctest.RealCloud, apiURL, agent, counter string, compose []byte, heartbeat string, follow bool, poll ...string) string {
	holder := ""
	if follow {
		holder = `
  cluster_id          = haddock_swarm_cluster.fo.id
  cluster_credentials = haddock_swarm_cluster.fo.client_credentials`
	}
	if len(poll) > 0 {
		holder += fmt.Sprintf("\n  agent_poll_interval = %q", poll[0])
	}
	return rc.ProviderConfigAgent(apiURL, fmt.Sprintf("\n  failover_agent_image = %q", agent)) + fmt.Sprintf(`
resource "haddock_swarm_cluster" "fo" {
  name             = "fo"
  heartbeat_period = %[1]q
  managers = {
    count  = 3
    cloud  = "digitalocean"
    region = "eu-central"
    size   = "small"
    image  = "debian-12"
  }
}

resource "haddock_stack" "counter" {
  cluster_id          = haddock_swarm_cluster.fo.id
  cluster_credentials = haddock_swarm_cluster.fo.credentials
  name                = "counter"
  env                 = { IMAGE = %[2]q }
  compose             = %[3]q
}

resource "haddock_floating_ip" "fo" {
  cloud  = "digitalocean"
  region = "eu-central"%[4]s
  depends_on = [haddock_stack.counter]
}
`, heartbeat, counter, strings.ReplaceAll(string(compose), "${", "$${"), holder)
}

// checkOnManager checks that the address is on one of the cluster's
// managers, as host_id says.
func checkOnManager(ipAddr, clusterAddr string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		host := attr(s, ipAddr, "host_id")
		for k, v := range s.RootModule().Resources[clusterAddr].Primary.Attributes {
			if strings.HasPrefix(k, "nodes.") && strings.HasSuffix(k, ".host_id") && v == host && host != "" {
				return nil
			}
		}
		return fmt.Errorf("%s: host_id %q is not a manager of %s", ipAddr, host, clusterAddr)
	}
}

// swarmHeartbeat reads the swarm's Dispatcher.HeartbeatPeriod through the
// cluster's leader.
func swarmHeartbeat(t *testing.T, s *terraform.State) time.Duration {
	t.Helper()
	d, err := acctest.HostDocker(s, followCluster)
	if err != nil {
		t.Fatal(err)
	}
	p, err := acctest.HeartbeatPeriod(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// failHolder fails the manager holding the IP abruptly under a steady load
// (20 requests/s through the IP), waits until requests answer again (two
// answers after the first failure: the failed holder answers nothing),
// checks the IP is on another Ready manager, prints the figures, powers
// the failed host on again and waits until its node is a Ready, reachable
// manager again.
func failHolder(t *testing.T, rc *acctest.RealCloud, s *terraform.State) (string, error) {
	ctx := context.Background()
	url := "http://" + attr(s, followIP, "ip_address") + "/api"
	if _, err := acctest.HTTPGet(url); err != nil {
		return "", fmt.Errorf("the app does not answer through the floating IP: %w", err)
	}
	vendorIP := attr(s, followIP, "vendor_id")
	from := strings.TrimPrefix(attr(s, followIP, "host_id"), "digitalocean/")
	fromID, err := strconv.Atoi(from)
	if err != nil {
		return "", err
	}
	h, err := rc.Driver.GetHost(ctx, from)
	if err != nil {
		return "", err
	}
	name := h.Name
	d, err := acctest.HostDocker(s, followCluster)
	if err != nil {
		return "", err
	}

	// 20 requests/s, each given 1 s: a request to the failed holder
	// counts as failed at most 1 s after it started.
	load := &testload.Load{URL: url, Timeout: time.Second}
	load.Start()
	time.Sleep(3 * time.Second) // steady first
	before := load.Snapshot()
	failedAt := time.Now()
	rc.FailHost(t, fromID)
	// The load's counters, every 50 ms: the first failure, then the first
	// answers after it (answers only come once the IP is on a live
	// manager: the failed one answers nothing).
	var firstFail, lastFail, firstGood time.Time
	failures, oks := before.Failed, 0
	werr := wait.Until(ctx, wait.Options{What: "requests through the IP answering again", Interval: 50 * time.Millisecond, Timeout: time.Minute},
		func(context.Context) (bool, string, error) {
			r := load.Snapshot()
			now := time.Now()
			if r.Failed > failures {
				if firstFail.IsZero() {
					firstFail, oks = now, r.OK
				}
				failures, lastFail = r.Failed, now
			}
			if !firstFail.IsZero() && r.OK >= oks+2 && firstGood.IsZero() {
				firstGood = now
			}
			return !firstGood.IsZero(), fmt.Sprintf("%d failed, %d ok", r.Failed, r.OK), nil
		})
	// Steady again for 3 s: requests still in flight, or sent to tasks
	// on the failed node, may fail after the first answers.
	steady := time.Now().Add(3 * time.Second)
	_ = wait.Until(ctx, wait.Options{What: "3 s of load after the recovery", Interval: 50 * time.Millisecond, Timeout: 10 * time.Second},
		func(context.Context) (bool, string, error) {
			if r := load.Snapshot(); r.Failed > failures {
				failures, lastFail = r.Failed, time.Now()
			}
			return time.Now().After(steady), "", nil
		})
	res := load.Stop()
	if werr != nil {
		return name, fmt.Errorf("after %s failed: %w (%s)", name, werr, res)
	}
	if firstFail.IsZero() {
		return name, fmt.Errorf("no request failed after %s failed: the test did not test a failover (%s)", name, res)
	}
	recovery := firstGood.Sub(failedAt)
	to, err := rc.FloatingIPHolder(ctx, vendorIP)
	if err != nil {
		return name, err
	}
	md, err := rc.ManagerDocker(ctx, d, to)
	if err != nil {
		return name, err
	}
	nodes, err := acctest.NodeStatus(ctx, md)
	if err != nil {
		return name, err
	}
	th, err := rc.Driver.GetHost(ctx, to)
	if err != nil {
		return name, err
	}
	msg := fmt.Sprintf("failover through terraform-deployed agent (heartbeat 2s): %s → %s; first good answer %s after the failure; failures seen from %s to %s after it (%d failed, each counted when it ended, 1 s timeout); load: %s",
		name, th.Name, recovery.Round(10*time.Millisecond), firstFail.Sub(failedAt).Round(10*time.Millisecond), lastFail.Sub(failedAt).Round(10*time.Millisecond), res.Failed-before.Failed, res)
	fmt.Println(msg)
	t.Log(msg)
	if to == from || !strings.HasPrefix(nodes[th.Name], "ready manager") {
		return name, fmt.Errorf("after %s failed the IP is on %s (%s)", name, th.Name, nodes[th.Name])
	}
	if recovery > failoverTarget {
		return name, fmt.Errorf("requests answered again %s after %s failed, over the %s target", recovery, name, failoverTarget)
	}

	// Powered on again, the failed manager rejoins.
	rc.PowerOn(t, fromID)
	err = wait.Until(ctx, wait.Options{What: name + "'s node a Ready, reachable manager again", Interval: time.Second, Timeout: 3 * time.Minute},
		func(ctx context.Context) (bool, string, error) {
			nodes, err := acctest.NodeStatus(ctx, md)
			if err != nil {
				return false, "", wait.Retry(err)
			}
			return nodes[name] == "ready manager reachable", nodes[name], nil
		})
	return name, err
}
