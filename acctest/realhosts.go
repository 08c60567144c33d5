package acctest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud/aws"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud/digitalocean"
	"github.com/haddockhq/terraform-provider-haddock/internal/image"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	lcaws "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/aws"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awselbv2"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awsrds"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/contract/awsmodel"
	lcdo "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/digitalocean"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/localcloudtest"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netns"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netnsbackend"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/registry"
	"github.com/haddockhq/terraform-provider-haddock/internal/testenv"
)

// RealCloud is a localcloud of the test's own whose droplets are real
// hosts: network namespaces each running dockerd (netnsbackend). Every
// request and response is contract-checked like the shared localcloud's.
type RealCloud struct {
	URL string
	// Registry is localcloud's image registry as hosts and the machine
	// reach it ("10.214.N.1:5000").
	Registry       string
	ProviderConfig string
	Driver         cloud.Driver
	// AWSDriver and AWSURL are localcloud's EC2 API on the same hosts
	// (RealOptions.AWS), region AWSRegion; nil and "" without it.
	AWSDriver      cloud.Driver
	AWSURL         string
	bridge, prefix string
	stateDir       string
	run            *localcloud.Running
	backend        *netnsbackend.Backend
}

// realSeq numbers real clouds so each gets its own bridge and subnets:
// bridge hdka<N>, hosts 10.214.N.0/24, reserved 10.215.N.0/28 (the other
// packages' test networks are all in 10.213/16).
var realSeq atomic.Int32

// RealHosts starts a RealCloud for t and removes everything it made when t
// ends, then checks nothing of it is left. Without root or docker.io the
// test fails when CI (or HADDOCK_REQUIRE_REAL_HOSTS=1) asks for real hosts.
func RealHosts(t testing.TB) *RealCloud { return RealHostsWith(t, RealOptions{}) }

// RealOptions change a RealCloud.
type RealOptions struct {
	// PrivateRegistry makes pulls from the registry need its credentials
	// (registry.PushUser and Token), as a private registry does.
	PrivateRegistry bool
	// AWS serves localcloud's EC2 API too, on the same real hosts and
	// network, every exchange checked against AWS's EC2 service model;
	// the provider configuration then has an aws block for it.
	AWS bool
}

// AWSRegion is the region of RealCloud's EC2 API in ProviderConfig.
const AWSRegion = "eu-central-1"

// RealHostsWith is RealHosts with options.
func RealHostsWith(t testing.TB, o RealOptions) *RealCloud {
	t.Helper()
	PreCheck(t)
	localcloudtest.RequireRealHosts(t)
	// HADDOCK_ACC_SEQ_OFFSET shifts the numbers so two test processes on one
	// machine (e.g. two checkouts) do not take the same bridge.
	off, _ := strconv.Atoi(os.Getenv("HADDOCK_ACC_SEQ_OFFSET"))
	n := realSeq.Add(1) + int32(off)
	if n > 250 || off < 0 {
		t.Fatalf("acctest: real cloud number %d out of range (HADDOCK_ACC_SEQ_OFFSET=%q, at most 250 in all)", n, os.Getenv("HADDOCK_ACC_SEQ_OFFSET"))
	}
	rc := &RealCloud{bridge: fmt.Sprintf("hdka%d", n), prefix: fmt.Sprintf("hdka%d-", n)}
	var err error
	// Not t.TempDir(): its long path would overflow the 108-byte limit of
	// the unix sockets the hosts' daemons keep under the state directory.
	rc.stateDir, err = os.MkdirTemp("", "haddock-acc-realhosts-") //nolint:usetesting // see above
	if err != nil {
		t.Fatal(err)
	}
	cfg := netns.Config{
		StateDir:       rc.stateDir,
		Bridge:         rc.bridge,
		NetnsPrefix:    rc.prefix,
		Subnet:         netip.MustParsePrefix(fmt.Sprintf("10.214.%d.0/24", n)),
		ReservedPrefix: netip.MustParsePrefix(fmt.Sprintf("10.215.%d.0/28", n)),
	}
	backend, err := netnsbackend.New(cfg, func(f string, a ...any) { t.Logf("localcloud: "+f, a...) })
	if err != nil {
		t.Fatalf("acctest: real hosts: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	lcfg := localcloud.Config{
		Token:      Token,
		Backend:    backend,
		StateDir:   rc.stateDir,
		Middleware: suite.validator.Middleware,
		Logf:       t.Logf,
		APIs:       []localcloud.API{lcdo.New(lcdo.Config{})},
	}
	if o.AWS {
		awsv, err := awsmodel.New()
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		elbv, err := awsmodel.NewELBv2()
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		rdsv, err := awsmodel.NewRDS()
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		t.Cleanup(func() { awsv.Report(t); elbv.Report(t); rdsv.Report(t) })
		ec2API, rdsAPI := lcaws.New(lcaws.Config{}), awsrds.New(awsrds.Config{})
		lcfg.APIs = append(lcfg.APIs, ec2API, awselbv2.New(awselbv2.Config{Instances: ec2API}), rdsAPI, rdsAPI.Secrets())
		lcfg.APIAddrs = map[string]string{lcaws.Name: "127.0.0.1:0", awselbv2.Name: "127.0.0.1:0", awsrds.Name: "127.0.0.1:0", awsrds.SecretsName: "127.0.0.1:0"}
		lcfg.Middleware = contractMiddleware(suite.validator, awsv, elbv, rdsv)
	}
	run, err := localcloud.Start(ctx, lcfg)
	if err != nil {
		cancel()
		_ = backend.Down(context.Background())
		t.Fatalf("acctest: starting localcloud with real hosts: %v", err)
	}
	reg, err := backend.StartRegistry(ctx, filepath.Join(rc.stateDir, "registry"), registry.Credentials{Username: registry.PushUser, Password: Token}, o.PrivateRegistry)
	testenv.Need(t, "HADDOCK_REQUIRE_REAL_HOSTS", err)
	rc.Registry = reg.Addr().String()
	t.Cleanup(func() {
		_ = reg.Stop(context.Background())
		_ = run.Close()
		cancel()
		dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer dcancel()
		if err := backend.Down(dctx); err != nil {
			t.Errorf("acctest: tearing down real hosts: %v", err)
		}
		if left := rc.Leftovers(); !left.None() {
			t.Errorf("acctest: real cloud left things behind after down: %s", left)
		}
		_ = os.RemoveAll(rc.stateDir)
	})
	rc.URL, rc.run, rc.backend = run.URL, run, backend
	rc.Driver, err = digitalocean.New(digitalocean.Config{Token: Token, APIEndpoint: run.URL, PollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	awsBlock := ""
	if o.AWS {
		rc.AWSURL = run.APIURLs[lcaws.Name]
		rc.AWSDriver, err = aws.New(context.Background(), aws.Config{
			Region: AWSRegion, AccessKey: lcaws.DevAccessKey, SecretKey: lcaws.DevSecretKey,
			Endpoints: aws.Endpoints{EC2: rc.AWSURL, ELBv2: run.APIURLs[awselbv2.Name], RDS: run.APIURLs[awsrds.Name], SecretsManager: run.APIURLs[awsrds.SecretsName]},
		})
		if err != nil {
			t.Fatal(err)
		}
		awsBlock = fmt.Sprintf(`
  aws {
    region        = %[1]q
    access_key    = %[2]q
    secret_key    = %[3]q
    endpoints     = { ec2 = %[4]q, elbv2 = %[5]q, rds = %[6]q, secretsmanager = %[7]q }
  }`, AWSRegion, lcaws.DevAccessKey, lcaws.DevSecretKey, rc.AWSURL, run.APIURLs[awselbv2.Name], run.APIURLs[awsrds.Name], run.APIURLs[awsrds.SecretsName])
	}
	rc.ProviderConfig = fmt.Sprintf(`
provider "haddock" {
  digitalocean {
    api_endpoint  = %[1]q
    token         = %[2]q
    poll_interval = 0.2
  }%[3]s
}
`, run.URL, Token, awsBlock)
	return rc
}

// Leftovers counts what the real cloud has on the machine.
type Leftovers struct {
	Namespaces, Dockerds, Mounts, Rules, Links int
}

// None reports whether nothing is left.
func (l Leftovers) None() bool { return l == Leftovers{} }

func (l Leftovers) String() string {
	return fmt.Sprintf("%d namespaces, %d dockerd processes, %d mounts, %d iptables rules, %d links",
		l.Namespaces, l.Dockerds, l.Mounts, l.Rules, l.Links)
}

// HostLeftovers counts what hosts leave (namespaces, daemons, mounts); the
// bridge and its rules stay until the cloud is torn down.
func (rc *RealCloud) HostLeftovers() Leftovers {
	l := rc.Leftovers()
	l.Rules, l.Links = 0, 0
	return l
}

// WaitHostsGone waits until no host of the cloud is left on the machine.
func (rc *RealCloud) WaitHostsGone(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		left := rc.HostLeftovers()
		if left.None() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s after destroying every host, %s later", left, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Leftovers counts namespaces, dockerd processes, mounts, iptables rules
// and links that belong to this real cloud.
func (rc *RealCloud) Leftovers() Leftovers {
	var l Leftovers
	if out, err := exec.Command("ip", "netns", "list").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, rc.prefix) {
				l.Namespaces++
			}
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), "dockerd") && strings.Contains(string(b), rc.stateDir) {
			l.Dockerds++
		}
	}
	if f, err := os.Open("/proc/self/mountinfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if strings.Contains(s.Text(), rc.stateDir) {
				l.Mounts++
			}
		}
		_ = f.Close()
	}
	if out, err := exec.Command("iptables-save").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "localcloud") && strings.Contains(line, rc.bridge) {
				l.Rules++
			}
		}
	}
	if out, err := exec.Command("ip", "-o", "link").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, rc.bridge) {
				l.Links++
			}
		}
	}
	return l
}

// PushCounter builds the demo app (examples/apps/counter) into an image
// without a Docker daemon and pushes it to the cloud's registry as
// counter:<tag>, returning the reference hosts pull.
func (rc *RealCloud) PushCounter(t testing.TB, tag string) string {
	t.Helper()
	return rc.PushApp(t, "counter", tag)
}

// PushApp builds examples/apps/<app> into an image the same way and
// pushes it as <app>:<tag>.
func (rc *RealCloud) PushApp(t testing.TB, app, tag string) string {
	t.Helper()
	ctx := context.Background()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := image.BuildGo(ctx, image.GoBuild{Package: "./examples/apps/" + app, Dir: root})
	if err != nil {
		t.Fatalf("building the %s app: %v", app, err)
	}
	img, err := image.FromBinary(bin, image.Options{Path: "/" + app, ExposedPorts: []string{"8080/tcp"}})
	if err != nil {
		t.Fatal(err)
	}
	ref := rc.Registry + "/" + app + ":" + tag
	if _, err := image.Push(ctx, img, ref, true, rc.PushAuth()); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return ref
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// StateDir is where the real cloud keeps its hosts.
func (rc *RealCloud) StateDir() string { return rc.stateDir }

// PushAuth is what pushing to the cloud's registry needs: localcloud's
// credentials (registry.PushUser, the API token).
func (rc *RealCloud) PushAuth() image.PushOption {
	return image.WithBasicAuth(registry.PushUser, Token)
}

// HostNetns is the network namespace file of a real host, by its vendor
// id: what `nsenter --net=` takes to act from inside the host.
func (rc *RealCloud) HostNetns(vendorID string) (string, error) {
	n, err := strconv.Atoi(vendorID)
	if err != nil {
		return "", fmt.Errorf("host %q: not a droplet id", vendorID)
	}
	h, err := rc.backend.Manager().Get(netnsbackend.HostID(n))
	if err != nil {
		return "", err
	}
	return h.NetnsPath, nil
}

// Gateway is the machine's address as the hosts see it: where Terraform's
// connections to them come from.
func (rc *RealCloud) Gateway() string {
	h, _, _ := strings.Cut(rc.Registry, ":")
	return h
}

// Firewalls counts the cloud firewalls localcloud's DigitalOcean API holds.
func (rc *RealCloud) Firewalls() (int, error) {
	ids, err := rc.firewallIDs()
	return len(ids), err
}

// DeleteFirewalls deletes every cloud firewall, as someone might by hand.
func (rc *RealCloud) DeleteFirewalls() error {
	ids, err := rc.firewallIDs()
	if err != nil {
		return err
	}
	for _, id := range ids {
		resp, err := rc.api(http.MethodDelete, "/v2/firewalls/"+id)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			return fmt.Errorf("DELETE /v2/firewalls/%s: %s", id, resp.Status)
		}
	}
	return nil
}

func (rc *RealCloud) firewallIDs() ([]string, error) {
	resp, err := rc.api(http.MethodGet, "/v2/firewalls?per_page=200")
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	var out struct {
		Firewalls []struct {
			ID string `json:"id"`
		} `json:"firewalls"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("GET /v2/firewalls: %s: %w", resp.Status, err)
	}
	ids := make([]string, len(out.Firewalls))
	for i, f := range out.Firewalls {
		ids[i] = f.ID
	}
	return ids, nil
}

// api sends a request without a body to localcloud's DigitalOcean API.
func (rc *RealCloud) api(method, path string) (*http.Response, error) {
	req, err := http.NewRequest(method, strings.TrimSuffix(rc.URL, "/")+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+Token)
	return http.DefaultClient.Do(req)
}

// Dial reports whether a TCP connection from inside host hostID (vendor
// id) to addr:port is accepted within 3 s; a port a firewall drops times
// out.
func (rc *RealCloud) Dial(hostID, addr string, port int) error {
	netns, err := rc.HostNetns(hostID)
	if err != nil {
		return err
	}
	out, err := exec.Command("nsenter", "--net="+netns, "timeout", "3", "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/%s/%d", addr, port)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("from host %s to %s:%d: %v %s", hostID, addr, port, err, strings.TrimSpace(string(out)))
	}
	return nil
}
