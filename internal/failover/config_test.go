package failover

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/swarm"
)

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`{"cloud":"digitalocean","token":"dop_v1_x","floating_ip_id":"203.0.113.7","cluster_uid":"clusteruid1"}`))
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(c.PollInterval) != time.Second || time.Duration(c.CloudRefresh) != 30*time.Second {
		t.Errorf("defaults: %s", c)
	}
	c, err = ParseConfig([]byte(`{"cloud":"aws","region":"eu-central-1","access_key":"AKIAX","secret_key":"sk","floating_ip_id":"eipalloc-1","cluster_uid":"clusteruid1","poll_interval":0.5,"cloud_refresh":"1m"}`))
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(c.PollInterval) != 500*time.Millisecond || time.Duration(c.CloudRefresh) != time.Minute {
		t.Errorf("durations: %s", c)
	}
	for _, tc := range []struct{ doc, want string }{
		{`{"cloud":"gcp","floating_ip_id":"x","cluster_uid":"clusteruid1"}`, `cloud "gcp"`},
		{`{"cloud":"digitalocean","floating_ip_id":"x","cluster_uid":"clusteruid1"}`, "token is required"},
		{`{"cloud":"aws","access_key":"a","floating_ip_id":"x","cluster_uid":"clusteruid1"}`, "region is required"},
		{`{"cloud":"aws","region":"r","access_key":"a","floating_ip_id":"x","cluster_uid":"clusteruid1"}`, "go together"},
		{`{"cloud":"digitalocean","token":"t","cluster_uid":"clusteruid1"}`, "floating_ip_id is required"},
		{`{"cloud":"digitalocean","token":"t","floating_ip_id":"x","cluster_uid":"NO"}`, "cluster uid"},
		{`{"cloud":"digitalocean","token":"t","floating_ip_id":"x","cluster_uid":"clusteruid1","poll_interval":"10ms"}`, "at least 100ms"},
		{`{"cloud":"digitalocean","token":"t","floating_ip_id":"x","cluster_uid":"clusteruid1","poll_intervall":"1s"}`, "unknown field"},
		{`{"cloud":"digitalocean","token":"t","floating_ip_id":"x","cluster_uid":"clusteruid1","poll_interval":"soon"}`, "invalid duration"},
	} {
		_, err := ParseConfig([]byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.doc, err, tc.want)
		}
	}
}

func TestConfigRedacts(t *testing.T) {
	c := testConfig()
	aws := Config{Cloud: "aws", Region: "r", AccessKey: "AKIA-SECRET", SecretKey: "SK-SECRET", SessionToken: "ST-SECRET", FloatingIPID: "e", ClusterUID: testUID}
	for _, s := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, &c), aws.String(), fmt.Sprintf("%#v", aws)} {
		for _, secret := range []string{"secret-token-value", "AKIA-SECRET", "SK-SECRET", "ST-SECRET"} {
			if strings.Contains(s, secret) {
				t.Errorf("%q shows a credential", s)
			}
		}
		if !strings.Contains(s, "<redacted>") {
			t.Errorf("%q does not say what it redacted", s)
		}
	}
	// The secret's JSON holds it, of course, and reads back the same.
	b, _ := json.Marshal(c)
	back, err := ParseConfig(b)
	if err != nil || back != c {
		t.Errorf("round trip: %v, %v", back, err)
	}
}

// fakeDeployAPI is a swarm's secrets and services, in memory.
type fakeDeployAPI struct {
	secrets  map[string]swarm.Secret // by id
	inUse    map[string]bool
	service  *swarm.Service
	n        int
	removals []string
}

func (f *fakeDeployAPI) SecretList(context.Context, swarm.SecretListOptions) ([]swarm.Secret, error) {
	var out []swarm.Secret
	for _, s := range f.secrets {
		out = append(out, s)
	}
	return out, nil
}

func (f *fakeDeployAPI) SecretCreate(_ context.Context, spec swarm.SecretSpec) (swarm.SecretCreateResponse, error) {
	f.n++
	id := fmt.Sprintf("s%d", f.n)
	f.secrets[id] = swarm.Secret{ID: id, Spec: spec}
	return swarm.SecretCreateResponse{ID: id}, nil
}

func (f *fakeDeployAPI) SecretRemove(_ context.Context, id string) error {
	if f.inUse[id] {
		return errdefs.ErrInvalidArgument.WithMessage("secret is in use")
	}
	f.removals = append(f.removals, id)
	delete(f.secrets, id)
	return nil
}

func (f *fakeDeployAPI) ServiceInspectWithRaw(_ context.Context, name string, _ swarm.ServiceInspectOptions) (swarm.Service, []byte, error) {
	if f.service == nil || f.service.Spec.Name != name {
		return swarm.Service{}, nil, errdefs.ErrNotFound.WithMessage("no such service")
	}
	return *f.service, nil, nil
}

func (f *fakeDeployAPI) ServiceCreate(_ context.Context, spec swarm.ServiceSpec, _ swarm.ServiceCreateOptions) (swarm.ServiceCreateResponse, error) {
	f.service = &swarm.Service{ID: "svc1", Spec: spec}
	f.service.Version.Index = 1
	return swarm.ServiceCreateResponse{ID: "svc1"}, nil
}

func (f *fakeDeployAPI) ServiceUpdate(_ context.Context, id string, v swarm.Version, spec swarm.ServiceSpec, _ swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error) {
	if id != f.service.ID || v != f.service.Version {
		return swarm.ServiceUpdateResponse{}, fmt.Errorf("update out of sequence")
	}
	f.service.Spec = spec
	f.service.Version.Index++
	return swarm.ServiceUpdateResponse{}, nil
}

func TestDeploy(t *testing.T) {
	api := &fakeDeployAPI{secrets: map[string]swarm.Secret{}, inUse: map[string]bool{}}
	ctx := t.Context()
	cfg := testConfig()
	id, err := Deploy(ctx, api, Service{Image: "registry.example/haddock-agent:1"}, cfg)
	if err != nil || id != "svc1" {
		t.Fatalf("Deploy = %q, %v", id, err)
	}
	spec := api.service.Spec
	cs := spec.TaskTemplate.ContainerSpec
	if spec.Mode.Global == nil || spec.TaskTemplate.Placement.Constraints[0] != "node.role == manager" ||
		cs.Mounts[0].Source != DockerSocket || cs.Secrets[0].File.Name != SecretTarget || cs.Secrets[0].SecretID != "s1" {
		t.Errorf("service spec: %+v", spec)
	}
	var got Config
	if err := json.Unmarshal(api.secrets["s1"].Spec.Data, &got); err != nil || got != cfg {
		t.Errorf("secret holds %+v (%v)", got, err)
	}
	// The same configuration again: nothing new.
	if _, err := Deploy(ctx, api, Service{Image: "registry.example/haddock-agent:1"}, cfg); err != nil || len(api.secrets) != 1 || api.service.Version.Index != 2 {
		t.Errorf("redeploy: %v, %d secrets, version %d", err, len(api.secrets), api.service.Version.Index)
	}
	// A new configuration: a new secret, the old one removed once unused.
	api.inUse["s1"] = true
	cfg.PollInterval = Duration(2 * time.Second)
	if _, err := Deploy(ctx, api, Service{Image: "registry.example/haddock-agent:1"}, cfg); err != nil {
		t.Fatal(err)
	}
	if cs := api.service.Spec.TaskTemplate.ContainerSpec; cs.Secrets[0].SecretID != "s2" || len(api.secrets) != 2 {
		t.Errorf("after a new configuration: secret %s, %d secrets", cs.Secrets[0].SecretID, len(api.secrets))
	}
	api.inUse["s1"] = false
	if _, err := Deploy(ctx, api, Service{Image: "registry.example/haddock-agent:1"}, cfg); err != nil || len(api.removals) != 1 || api.removals[0] != "s1" {
		t.Errorf("old secret not removed: %v, removals %v", err, api.removals)
	}
	if _, err := Deploy(ctx, api, Service{Image: "x"}, Config{}); err == nil {
		t.Error("Deploy accepted an invalid configuration")
	}
}
