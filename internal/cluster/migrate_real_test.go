package cluster

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud/aws"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	lcaws "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/aws"
	lcdo "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/digitalocean"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/localcloudtest"
	"github.com/haddockhq/terraform-provider-haddock/internal/testload"
)

// BenchmarkRealMigration moves the demo's cluster (3 managers, 2 workers,
// the counter stack) from DigitalOcean to AWS, both served by one
// localcloud on real hosts: the workers, then the managers. It prints the
// wall time of each, the API requests per vendor, and a client load on the
// managers' addresses as listed (a request that fails is retried once on
// another manager): raw and retried failures.
//
//	go test -run '^$' -bench BenchmarkRealMigration -benchtime 1x ./internal/cluster/
func BenchmarkRealMigration(b *testing.B) {
	localcloudtest.RequireRealHosts(b)
	o := rollOptions
	o.APIs = []localcloud.API{lcdo.New(lcdo.Config{}), lcaws.New(lcaws.Config{})}
	o.APIAddrs = map[string]string{lcaws.Name: "127.0.0.1:0"}
	managers := rollManagers
	managers.Settings.Advertise = AddressPublic
	// The cluster's firewall, as the provider keeps it: without it the AWS
	// hosts' security group admits Swarm's ports from its members only,
	// and the engine refuses to span vendors.
	fw := &FirewallPolicy{DockerAPI: cloud.Anywhere()}
	managers.Firewall = fw
	workers := rollWorkers
	workers.Firewall = fw
	e := startRollWith(b, o, managers, workers)
	ctx := b.Context()
	awsDrv, err := aws.New(ctx, aws.Config{Region: "eu-central-1", AccessKey: lcaws.DevAccessKey, SecretKey: lcaws.DevSecretKey,
		Endpoints: aws.Endpoints{EC2: e.lc.Running.APIURLs[lcaws.Name]}})
	if err != nil {
		b.Fatal(err)
	}
	off, err := awsDrv.Offerings(ctx)
	if err != nil {
		b.Fatal(err)
	}
	debian, err := cloud.ResolveImage(cloud.AWS, "debian-12", off)
	if err != nil {
		b.Fatal(err)
	}
	onAWS := func(hs HostsSpec) HostsSpec {
		hs.Region, hs.Size, hs.Image = "eu-central-1", "t3.small", debian
		return hs
	}
	front := testload.Follow(func(ctx context.Context) ([]string, error) {
		var urls []string
		for _, d := range []cloud.Driver{e.drv, awsDrv} {
			hs, err := d.ListHosts(ctx, GroupTag(e.c.UID(), ManagersGroup))
			if err != nil {
				return nil, err
			}
			for _, h := range hs {
				if h.Status == cloud.HostActive && h.PublicIPv4 != "" {
					urls = append(urls, "http://"+h.PublicIPv4+"/api")
				}
			}
		}
		return urls, nil
	}, 0)
	defer front.Stop()
	for b.Loop() {
		load := &testload.Load{Targets: front.URLs, RetryOther: true}
		load.Start()
		e.lc.Running.Server.ResetRequests()
		t0 := time.Now()
		g, err := e.c.NodeGroup(awsDrv, rollWorkers.Name)
		if err != nil {
			b.Fatal(err)
		}
		g.MovingFrom(e.drv)
		moving := workers
		moving.HostsSpec = onAWS(moving.HostsSpec)
		if _, err := g.Apply(ctx, moving); err != nil {
			load.Stop()
			b.Fatalf("moving the workers: %v", err)
		}
		tWorkers := time.Since(t0)
		c, err := Open(awsDrv, e.c.State(), e.opts)
		if err != nil {
			b.Fatal(err)
		}
		c.MovingFrom(e.drv)
		moved := managers
		moved.Managers = onAWS(moved.Managers)
		t1 := time.Now()
		if _, err := c.Apply(ctx, moved); err != nil {
			load.Stop()
			b.Fatalf("moving the managers: %v", err)
		}
		tManagers := time.Since(t1)
		res := load.Stop()
		perVendor := map[string]int{}
		for route, n := range e.lc.Running.Server.Requests().Requests {
			if strings.HasPrefix(route, "ec2:") {
				perVendor["aws"] += n
			} else {
				perVendor["digitalocean"] += n
			}
		}
		fmt.Printf("migrating 3 managers and 2 workers from digitalocean to aws: workers %s, managers %s, %s in all; API requests: digitalocean %d, aws %d; load %s\n",
			tWorkers.Round(time.Second), tManagers.Round(time.Second), (tWorkers + tManagers).Round(time.Second), perVendor["digitalocean"], perVendor["aws"], res)
		b.ReportMetric((tWorkers + tManagers).Seconds(), "s/migration")
		b.ReportMetric(float64(res.Failed), "failed-requests")
		b.ReportMetric(float64(res.FirstFailed), "first-attempts-failed")
		if res.Failed != 0 {
			b.Errorf("%d requests failed after a retry:\n%s", res.Failed, strings.Join(res.Failures, "\n"))
		}
		// Clean-up deletes the hosts through the cluster's own handles:
		// the DigitalOcean ones now see none, the AWS ones all of them.
		e.c, e.g = c, g
	}
}
