package failover

import (
	"bytes"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud/aws"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud/aws/mototest"
	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
)

// The agent's AWS path against moto, an independent EC2 emulator: the
// driver the agent builds from its configuration (NewCloud, as
// cmd/haddock-agent does) finds the managers' instances by their tags,
// keeps an Elastic IP on a Ready manager, and moves it off a manager whose
// node goes down. Fails without moto_server when CI is set (mototest).
func TestAgentMovesAnElasticIPOnMoto(t *testing.T) {
	ctx := t.Context()
	endpoint := mototest.StartMoto(t)
	setup, err := aws.New(ctx, aws.Config{Region: mototest.Region, AccessKey: mototest.AccessKey, SecretKey: mototest.SecretKey,
		Endpoints: aws.Endpoints{EC2: endpoint, STS: endpoint}})
	if err != nil {
		t.Fatal(err)
	}
	var specs []cloud.HostSpec
	for _, i := range []string{"1", "2", "3"} {
		specs = append(specs, cloud.HostSpec{Name: "m" + i, Region: mototest.Region, Size: "t3.small", Image: "debian-12-amd64-*",
			Tags: cluster.HostTags(testUID, cluster.ManagersGroup, "manager", "u"+i, nil)})
	}
	hosts, err := setup.CreateHosts(ctx, specs)
	if err != nil {
		t.Fatalf("creating the managers' instances: %v", err)
	}
	eip, err := setup.CreateFloatingIP(ctx, mototest.Region, hosts[1].ID)
	if err != nil {
		t.Fatalf("allocating the Elastic IP on %s: %v", hosts[1].ID, err)
	}

	cfg := Config{Cloud: cloud.AWS, Region: mototest.Region, AccessKey: mototest.AccessKey, SecretKey: mototest.SecretKey,
		APIEndpoint: endpoint, FloatingIPID: eip.ID, ClusterUID: testUID,
		PollInterval: Duration(time.Second), CloudRefresh: Duration(30 * time.Second)}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cl, err := NewCloud(ctx, cfg)
	if err != nil {
		t.Fatalf("NewCloud: %v", err)
	}
	docker := &fakeDocker{self: "n1", nodes: []swarm.Node{node("1", leader), node("2"), node("3")}}
	var log bytes.Buffer
	a := NewAgent(cfg, docker, cl, NewLogger(&log))

	if d := a.Round(ctx); d.Action != Keep {
		t.Fatalf("with every manager Ready the agent decided %+v (log: %s)", d, log.String())
	}
	docker.nodes = []swarm.Node{node("1", leader), node("2", down), node("3")}
	d := a.Round(ctx)
	if d.Action != Move || d.To != hosts[2].ID {
		t.Fatalf("with the holder's node down the agent decided %+v, want a move to %s (log: %s)", d, hosts[2].ID, log.String())
	}
	got, err := setup.GetFloatingIP(ctx, eip.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.HostID != hosts[2].ID {
		t.Fatalf("EC2 says the Elastic IP %s is on %q, want %s", eip.Address, got.HostID, hosts[2].ID)
	}
	if d := a.Round(ctx); d.Action != Keep {
		t.Errorf("after the move the agent decided %+v", d)
	}
	t.Logf("moved Elastic IP %s (%s) from %s to %s through EC2's API on moto", eip.Address, eip.ID, hosts[1].ID, got.HostID)
}
