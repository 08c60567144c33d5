package provider_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	swarmtypes "github.com/docker/docker/api/types/swarm"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/echoprovider"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/haddockhq/terraform-provider-haddock/acctest"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

const dbAddr = "haddock_database.test"

func dbConfig(name, size, extra string) string {
	return acctest.ProviderConfig() + fmt.Sprintf(`
resource "haddock_database" "test" {
  cloud           = "digitalocean"
  name            = %q
  region          = "eu-central"
  engine          = "postgres"
  size            = %q
  trusted_sources = ["203.0.113.0/24"]%s
}
`, name, size, extra)
}

// A database's life on the suite's localcloud (an address behind the
// in-memory backend, no server): created with the vendor's generated
// password nowhere in the state, resized and its firewall changed in
// place, its password rotated, imported, destroyed.
func TestAccDatabase_basic(t *testing.T) {
	name := "db-" + acctest.RandomName()[len(acctest.NamePrefix):]
	var before string
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             checkDatabasesGone,
		Steps: []resource.TestStep{
			{
				Config: dbConfig(name, "small", ""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(dbAddr, tfjsonpath.New("status"), knownvalue.StringExact("online")),
					statecheck.ExpectKnownValue(dbAddr, tfjsonpath.New("vendor_size"), knownvalue.StringExact("db-s-1vcpu-1gb")),
					statecheck.ExpectKnownValue(dbAddr, tfjsonpath.New("version"), knownvalue.StringExact("15")),
					statecheck.ExpectKnownValue(dbAddr, tfjsonpath.New("port"), knownvalue.Int64Exact(25060)),
					statecheck.ExpectKnownValue(dbAddr, tfjsonpath.New("user"), knownvalue.StringExact("doadmin")),
					statecheck.ExpectKnownValue(dbAddr, tfjsonpath.New("database"), knownvalue.StringExact("defaultdb")),
					statecheck.ExpectKnownValue(dbAddr, tfjsonpath.New("admin_password_wo"), knownvalue.Null()),
				},
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttrWith(dbAddr, "ca_certificate", func(v string) error {
						if !strings.Contains(v, "BEGIN CERTIFICATE") {
							return fmt.Errorf("ca_certificate = %q", v)
						}
						return nil
					}),
					checkNoPasswordInState(&before),
				),
			},
			{
				// Resize and a new firewall, in place; a new admin password.
				Config: dbConfig(name, "medium", `
  node_count                = 2
  admin_password_wo_version = 2`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(dbAddr, plancheck.ResourceActionUpdate)}},
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr(dbAddr, "vendor_size", "db-s-1vcpu-2gb"),
					resource.TestCheckResourceAttr(dbAddr, "node_count", "2"),
					func(s *terraform.State) error {
						var now string
						if err := checkNoPasswordInState(&now)(s); err != nil {
							return err
						}
						if now == before {
							return fmt.Errorf("admin_password_wo_version changed, the password did not")
						}
						return nil
					},
				),
			},
			{
				Config:           dbConfig(name, "medium", "\n  node_count = 2\n  admin_password_wo_version = 2"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				ResourceName:            dbAddr,
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"region", "size", "timeouts", "admin_password_wo_version", "final_snapshot"},
			},
		},
	})
}

// checkNoPasswordInState reads the admin password from the vendor and
// fails when any attribute of any resource in the state holds it; the
// password is returned through got.
func checkNoPasswordInState(got *string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		rs := s.RootModule().Resources[dbAddr]
		cr, err := suiteDatabases().Credentials(context.Background(), rs.Primary.Attributes["vendor_id"])
		if err != nil {
			return err
		}
		if cr.Password == "" {
			return fmt.Errorf("the vendor reports no password")
		}
		*got = cr.Password
		for addr, r := range s.RootModule().Resources {
			for k, v := range r.Primary.Attributes {
				if strings.Contains(v, cr.Password) {
					return fmt.Errorf("%s.%s holds the database's password", addr, k)
				}
			}
		}
		return nil
	}
}

// suiteDatabases is the suite's DigitalOcean driver's databases.
func suiteDatabases() cloud.Databases {
	dbs, _ := acctest.DigitalOcean().(cloud.Databases) // the DigitalOcean driver has them (a compile-time assertion in the driver)
	return dbs
}

func checkDatabasesGone(*terraform.State) error {
	all, err := suiteDatabases().ListDatabases(context.Background())
	if err != nil {
		return err
	}
	for _, db := range all {
		if strings.HasPrefix(db.Spec.Name, "db-") {
			return fmt.Errorf("database %s (%s) is still there", db.Spec.Name, db.ID)
		}
	}
	return nil
}

// The ephemeral resource hands the credentials to what needs them during
// a run (here the echo provider, which keeps them: only to look at).
func TestAccDatabase_ephemeralCredentials(t *testing.T) {
	name := "db-" + acctest.RandomName()[len(acctest.NamePrefix):]
	factories := map[string]func() (tfprotov6.ProviderServer, error){"echo": echoprovider.NewProviderServer()}
	for k, v := range acctest.ProviderFactories {
		factories[k] = v
	}
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		ProtoV6ProviderFactories: factories,
		Steps: []resource.TestStep{{
			// The database first: the ephemeral resource opens at plan
			// time, once its id is known.
			Config: dbConfig(name, "small", ""),
		}, {
			Config: dbConfig(name, "small", "") + `
ephemeral "haddock_database_credentials" "test" {
  database_id = haddock_database.test.id
}

provider "echo" {
  data = ephemeral.haddock_database_credentials.test
}

resource "echo" "creds" {}
`,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("echo.creds", tfjsonpath.New("data").AtMapKey("user"), knownvalue.StringExact("doadmin")),
				statecheck.ExpectKnownValue("echo.creds", tfjsonpath.New("data").AtMapKey("port"), knownvalue.Int64Exact(25060)),
				statecheck.ExpectKnownValue("echo.creds", tfjsonpath.New("data").AtMapKey("password"), knownvalue.StringRegexp(regexpMust(`^AVNS_`))),
				statecheck.ExpectKnownValue("echo.creds", tfjsonpath.New("data").AtMapKey("uri"), knownvalue.StringRegexp(regexpMust(`^postgresql://doadmin:.+@.+:25060/defaultdb\?sslmode=require$`))),
			},
		}},
	})
}

func TestAccDatabase_badInput(t *testing.T) {
	tests := []struct {
		name, config string
		err          []string
	}{
		{name: "unknown engine", config: `
resource "haddock_database" "test" {
  cloud  = "digitalocean"
  name   = "orders"
  region = "eu-central"
  engine = "oracle"
  size   = "small"
}`, err: []string{"engine", `value must be one of: ["postgres" "mysql"]`}},
		{name: "unknown version", config: `
resource "haddock_database" "test" {
  cloud   = "digitalocean"
  name    = "orders"
  region  = "eu-central"
  engine  = "postgres"
  version = "9"
  size    = "small"
}`, err: []string{"Unknown version", `version = "9"`, "postgres 9 is not offered: use one of 13, 14, 15, 16, 17"}},
		{name: "unknown size", config: `
resource "haddock_database" "test" {
  cloud  = "digitalocean"
  name   = "orders"
  region = "eu-central"
  engine = "postgres"
  size   = "huge"
}`, err: []string{"Invalid size", `size = "huge"`, `size "huge" is neither a portable class (large, medium, small, xlarge) nor a digitalocean database size`}},
		{name: "bad trusted source", config: `
resource "haddock_database" "test" {
  cloud           = "digitalocean"
  name            = "orders"
  region          = "eu-central"
  engine          = "postgres"
  size            = "small"
  trusted_sources = ["web-servers"]
}`, err: []string{"Invalid trusted source", "trusted_sources", `"web-servers" is not a trusted source`, "host_tag"}},
		{name: "unknown trusted host", config: `
resource "haddock_database" "test" {
  cloud           = "digitalocean"
  name            = "orders"
  region          = "eu-central"
  engine          = "postgres"
  size            = "small"
  trusted_sources = ["digitalocean/99999999"]
}`, err: []string{"Unknown host", "trusted_sources", "Host digitalocean/99999999 does not exist on digitalocean"}},
		{name: "trusted host of another cloud", config: `
resource "haddock_database" "test" {
  cloud           = "digitalocean"
  name            = "orders"
  region          = "eu-central"
  engine          = "postgres"
  size            = "small"
  trusted_sources = ["aws/i-0abc123"]
}`, err: []string{"Host on another cloud", "trusted_sources", "aws/i-0abc123 is a aws host, but the database is on digitalocean"}},
		{name: "password on DigitalOcean", config: `
resource "haddock_database" "test" {
  cloud             = "digitalocean"
  name              = "orders"
  region            = "eu-central"
  engine            = "postgres"
  size              = "small"
  admin_password_wo = "correct-horse-battery"
}`, err: []string{"DigitalOcean generates database passwords", "admin_password_wo", "remove admin_password_wo"}},
		{name: "standbys on the smallest size", config: `
resource "haddock_database" "test" {
  cloud      = "digitalocean"
  name       = "orders"
  region     = "eu-central"
  engine     = "postgres"
  size       = "small"
  node_count = 2
}`, err: []string{"Standby nodes need a larger size", "node_count"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resource.ParallelTest(t, resource.TestCase{
				PreCheck:                 func() { acctest.PreCheck(t) },
				TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
				ProtoV6ProviderFactories: acctest.ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      acctest.ProviderConfig() + tt.config,
					PlanOnly:    true,
					ExpectError: acctest.ErrorMatching(tt.err...),
				}},
			})
		})
	}
}

// A real PostgreSQL behind a node group's host tag: the group's hosts
// connect (over TLS, the server verified against ca_certificate) and
// write and read a row, a host outside the group is refused, a host the
// group gains is let in, and a resize keeps the data. terraform show
// -json and the state file hold no password.
func TestAccDatabase_realPostgresForNodeGroup(t *testing.T) {
	if _, err := exec.LookPath("psql"); err != nil {
		t.Fatalf("psql not found: apt-get install -y postgresql-15 (%v)", err)
	}
	rc := acctest.RealHosts(t)
	img := rc.PushApp(t, "dbcheck", "db")
	var password string
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             func(*terraform.State) error { return rc.WaitHostsGone(90 * time.Second) },
		Steps: []resource.TestStep{
			{
				Config: realDBConfig(rc, 1, "small"),
				Check: resource.ComposeTestCheckFunc(
					func(s *terraform.State) error {
						cr, err := realDBCredentials(rc, s)
						if err != nil {
							return err
						}
						password = cr.Password
						out, err := psqlFrom(rc, s, hostOf(s, "haddock_node_group.app", 0), "CREATE TABLE hits (n int); INSERT INTO hits VALUES (42); SELECT n FROM hits;")
						if err != nil || out != "42" {
							return fmt.Errorf("from the group's host: %q, %v", out, err)
						}
						if out, err := psqlFrom(rc, s, attr(s, "haddock_host.outsider", "vendor_id"), "SELECT 1"); err == nil || !strings.Contains(out, "no pg_hba.conf entry") {
							return fmt.Errorf("from a host outside the group: %q, %v (want refused)", out, err)
						}
						return nil
					},
					checkStateFileHasNo(&password),
				),
			},
			{
				// The group grows and the database is resized: the new
				// host is let in and the data is there.
				Config: realDBConfig(rc, 2, "medium"),
				Check: func(s *terraform.State) error {
					for i := range 2 {
						out, err := psqlFrom(rc, s, hostOf(s, "haddock_node_group.app", i), "SELECT n FROM hits")
						if err != nil || out != "42" {
							return fmt.Errorf("from the group's host %d after the resize: %q, %v", i, out, err)
						}
					}
					return nil
				},
			},
			{
				// The stack gets the connection as a swarm secret through
				// the ephemeral resource and files_wo, and its service on
				// each of the group's hosts writes and reads rows with it;
				// no state holds it.
				Config: realDBConfig(rc, 2, "medium") + fmt.Sprintf(`
ephemeral "haddock_database_credentials" "orders" {
  database_id = haddock_database.orders.id
}

resource "haddock_stack" "app" {
  cluster_id          = haddock_swarm_cluster.db.id
  cluster_credentials = haddock_swarm_cluster.db.credentials
  name                = "app"
  env                 = { IMAGE = %[1]q }
  compose             = %[2]q
  files_wo            = { db_url = ephemeral.haddock_database_credentials.orders.uri }
  files_wo_version    = 1
}
`, img, strings.ReplaceAll(dbStackCompose, "${", "$${")),
				Check: resource.ComposeTestCheckFunc(
					checkStateFileHasNo(&password),
					func(s *terraform.State) error {
						d, err := acctest.HostDocker(s, "haddock_swarm_cluster.db")
						if err != nil {
							return err
						}
						if _, err := acctest.WaitRunning(context.Background(), d, "app_web", 2, 2*time.Minute); err != nil {
							return err
						}
						cli, err := d.Client(d.Endpoint, d.ServerName)
						if err != nil {
							return err
						}
						defer func() { _ = cli.Close() }()
						svc, _, err := cli.ServiceInspectWithRaw(context.Background(), "app_web", swarmtypes.ServiceInspectOptions{})
						if err != nil {
							return err
						}
						for _, sec := range svc.Spec.TaskTemplate.ContainerSpec.Secrets {
							if sec.File != nil && sec.File.Name == "db_url" {
								return nil
							}
						}
						return fmt.Errorf("service app_web has no db_url secret: %+v", svc.Spec.TaskTemplate.ContainerSpec.Secrets)
					},
					checkServiceWritesRows("haddock_node_group.app", 2),
				),
			},
		},
	})
}

// dbStackCompose hands the database's connection to a service as a swarm
// secret (/run/secrets/db_url), on the group the database trusts: dbcheck
// (examples/apps/dbcheck) writes a row per request and reads them back.
const dbStackCompose = `
services:
  web:
    image: ${IMAGE}
    environment:
      NODE_NAME: "{{.Node.Hostname}}"
    secrets: [db_url]
    ports:
      - { target: 8080, published: 8080, mode: host }
    deploy:
      mode: global
      placement:
        constraints: ["engine.labels.haddock.group == app"]
secrets:
  db_url:
    file: db_url
`

func realDBConfig(rc *acctest.RealCloud, workers int, size string) string {
	return rc.ProviderConfig + fmt.Sprintf(`
resource "haddock_swarm_cluster" "db" {
  name = "dbt"
  managers = {
    count  = 1
    cloud  = "digitalocean"
    region = "eu-central"
    size   = "small"
    image  = "debian-12"
  }
}

resource "haddock_node_group" "app" {
  cluster_id          = haddock_swarm_cluster.db.id
  cluster_credentials = haddock_swarm_cluster.db.credentials
  name                = "app"
  node_count          = %d
  cloud               = "digitalocean"
  region              = "eu-central"
  size                = "small"
  image               = "debian-12"
}

resource "haddock_host" "outsider" {
  cloud  = "digitalocean"
  name   = "outsider"
  region = "eu-central"
  size   = "small"
  image  = "debian-12"
}

resource "haddock_database" "orders" {
  cloud           = "digitalocean"
  name            = "orders"
  region          = "eu-central"
  engine          = "postgres"
  size            = %q
  trusted_sources = [haddock_node_group.app.host_tag]
}
`, workers, size)
}

func hostOf(s *terraform.State, addr string, i int) string {
	return strings.TrimPrefix(attr(s, addr, fmt.Sprintf("nodes.%d.host_id", i)), "digitalocean/")
}

func realDBCredentials(rc *acctest.RealCloud, s *terraform.State) (*cloud.DatabaseCredentials, error) {
	dbs, ok := rc.Driver.(cloud.Databases)
	if !ok {
		return nil, fmt.Errorf("the driver has no databases")
	}
	return dbs.Credentials(context.Background(), attr(s, "haddock_database.orders", "vendor_id"))
}

// psqlFrom runs sql as the admin from inside host hostID, verifying the
// server against the database's ca_certificate.
func psqlFrom(rc *acctest.RealCloud, s *terraform.State, hostID, sql string) (string, error) {
	cr, err := realDBCredentials(rc, s)
	if err != nil {
		return "", err
	}
	netns, err := rc.HostNetns(hostID)
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "haddock-db-ca-")
	if err != nil {
		return "", err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, []byte(attr(s, "haddock_database.orders", "ca_certificate")), 0o600); err != nil {
		return "", err
	}
	dsn := fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=verify-full sslrootcert=%s connect_timeout=5", cr.Host, cr.Port, cr.User, cr.Database, ca)
	cmd := exec.Command("nsenter", "--net="+netns, "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", dsn, "-c", sql)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+cr.Password)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// checkServiceWritesRows asks the dbcheck service on each of the group's n
// hosts to write a row and read the rows back, twice: each answer counts
// its own rows, and the second one more.
func checkServiceWritesRows(groupAddr string, n int) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		for i := range n {
			ip := attr(s, groupAddr, fmt.Sprintf("nodes.%d.ipv4_address", i))
			var last int64
			for try := range 2 {
				body, err := acctest.HTTPGet("http://" + ip + ":8080/api")
				if err != nil {
					return fmt.Errorf("the service on %s: %w", ip, err)
				}
				var got struct{ Rows, Mine int64 }
				if err := json.Unmarshal([]byte(body), &got); err != nil {
					return fmt.Errorf("the service on %s answered %q: %w", ip, body, err)
				}
				if got.Mine < 1 || (try == 1 && got.Mine <= last) {
					return fmt.Errorf("the service on %s wrote no row: %s", ip, body)
				}
				last = got.Mine
			}
		}
		return nil
	}
}

// checkStateFileHasNo fails when terraform show -json of the state holds
// the secret *want.
func checkStateFileHasNo(want *string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		if *want == "" {
			return fmt.Errorf("no password to look for")
		}
		raw, err := json.Marshal(s)
		if err != nil {
			return err
		}
		if strings.Contains(string(raw), *want) {
			return fmt.Errorf("the state holds the database's password")
		}
		return nil
	}
}

// The same resources on AWS, against moto (API only: no database or load
// balancer runs, moto reports them available at once): a database with a
// write-only password that neither the state nor the plan holds, resized
// and its firewall changed in place, destroyed without a final snapshot;
// an Application Load Balancer with its target group, updated, imported.
func TestAccAWS_databaseAndLoadBalancerOnMoto(t *testing.T) {
	v := acctest.AWSVendor(t)
	const password = "moto-Secret-Pass-42"
	cfg := func(size string, storage int, cidr string) string {
		return v.ProviderConfig + fmt.Sprintf(`
resource "haddock_database" "aws" {
  cloud                     = "aws"
  name                      = "orders-moto"
  region                    = "us-east"
  engine                    = "postgres"
  size                      = %q
  storage_gib               = %d
  trusted_sources           = [%q]
  admin_password_wo         = %q
  admin_password_wo_version = 1
  final_snapshot            = false
}

resource "haddock_load_balancer" "aws" {
  cloud  = "aws"
  name   = "web-moto"
  region = "us-east"
  forwarding_rules = [{ entry_protocol = "http", entry_port = 80, target_protocol = "http", target_port = 8080 }]
  health_check = { port = 8080, path = "/healthz" }
}
`, size, storage, cidr, password)
	}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			dbs, _ := v.Driver.(cloud.Databases)
			all, err := dbs.ListDatabases(context.Background())
			if err != nil || len(all) != 0 {
				return fmt.Errorf("after destroy: %d databases on moto (%v)", len(all), err)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config:           cfg("small", 20, "10.0.0.0/16"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectUnknownValue("haddock_database.aws", tfjsonpath.New("host"))}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("haddock_database.aws", tfjsonpath.New("vendor_size"), knownvalue.StringExact("db.t4g.micro")),
					statecheck.ExpectKnownValue("haddock_database.aws", tfjsonpath.New("admin_password_wo"), knownvalue.Null()),
					statecheck.ExpectKnownValue("haddock_database.aws", tfjsonpath.New("status"), knownvalue.StringExact("online")),
					statecheck.ExpectKnownValue("haddock_load_balancer.aws", tfjsonpath.New("status"), knownvalue.StringExact("active")),
					statecheck.ExpectKnownValue("haddock_load_balancer.aws", tfjsonpath.New("id"), knownvalue.StringRegexp(regexpMust(`^aws/arn:aws:elasticloadbalancing:`))),
				},
				Check: func(s *terraform.State) error {
					p := password
					return checkStateFileHasNo(&p)(s)
				},
			},
			{
				Config:           cfg("medium", 40, "10.1.0.0/16"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("haddock_database.aws", plancheck.ResourceActionUpdate)}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("haddock_database.aws", tfjsonpath.New("vendor_size"), knownvalue.StringExact("db.t4g.small")),
					statecheck.ExpectKnownValue("haddock_database.aws", tfjsonpath.New("storage_gib"), knownvalue.Int64Exact(40)),
					statecheck.ExpectKnownValue("haddock_database.aws", tfjsonpath.New("trusted_sources"), knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("10.1.0.0/16")})),
				},
			},
			{
				Config:           cfg("medium", 40, "10.1.0.0/16"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				ResourceName:            "haddock_load_balancer.aws",
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"region", "timeouts", "targets", "status"},
			},
		},
	})
}

// AWS on localcloud's RDS and Secrets Manager APIs: a database whose
// password AWS manages (read through the driver from Secrets Manager, and
// found nowhere in the state), resized in place, destroyed without a final
// snapshot. In memory: no server runs (see the real-host test for that).
func TestAccAWS_databaseOnLocalcloud(t *testing.T) {
	v := acctest.AWSLocalcloudVendor(t)
	dbs, _ := v.Driver.(cloud.Databases)
	cfg := func(size string) string {
		return v.ProviderConfig + fmt.Sprintf(`
resource "haddock_database" "aws" {
  cloud           = "aws"
  name            = "orders-lc"
  region          = "us-east"
  engine          = "postgres"
  size            = %q
  trusted_sources = ["10.0.0.0/16"]
  final_snapshot  = false
}
`, size)
	}
	var password string
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			all, err := dbs.ListDatabases(context.Background())
			if err != nil || len(all) != 0 {
				return fmt.Errorf("after destroy: %d databases (%v)", len(all), err)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: cfg("small"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("haddock_database.aws", tfjsonpath.New("status"), knownvalue.StringExact("online")),
					statecheck.ExpectKnownValue("haddock_database.aws", tfjsonpath.New("port"), knownvalue.Int64Exact(25060)),
				},
				Check: resource.ComposeTestCheckFunc(
					func(s *terraform.State) error {
						cr, err := dbs.Credentials(context.Background(), attr(s, "haddock_database.aws", "vendor_id"))
						if err != nil {
							return err
						}
						if cr.Password == "" {
							return fmt.Errorf("no managed password came from Secrets Manager")
						}
						password = cr.Password
						return nil
					},
					checkStateFileHasNo(&password),
				),
			},
			{
				Config:            cfg("medium"),
				ConfigPlanChecks:  resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("haddock_database.aws", plancheck.ResourceActionUpdate)}},
				ConfigStateChecks: []statecheck.StateCheck{statecheck.ExpectKnownValue("haddock_database.aws", tfjsonpath.New("vendor_size"), knownvalue.StringExact("db.t4g.small"))},
			},
		},
	})
}

// AWS on localcloud over real hosts: the RDS API runs a real PostgreSQL
// (the same backend as DigitalOcean's databases); the managed password
// from Secrets Manager connects over TLS, a row written survives a resize.
func TestAccAWS_databaseOnRealPostgres(t *testing.T) {
	if _, err := exec.LookPath("psql"); err != nil {
		t.Fatalf("psql not found: apt-get install -y postgresql-15 (%v)", err)
	}
	rc := acctest.RealHostsWith(t, acctest.RealOptions{AWS: true})
	dbs, _ := rc.AWSDriver.(cloud.Databases)
	cfg := func(size string) string {
		return rc.ProviderConfig + fmt.Sprintf(`
resource "haddock_database" "aws" {
  cloud          = "aws"
  name           = "orders-real"
  region         = "eu-central"
  engine         = "postgres"
  size           = %q
  final_snapshot = false
}
`, size)
	}
	psql := func(s *terraform.State, sql string) (string, error) {
		cr, err := dbs.Credentials(context.Background(), attr(s, "haddock_database.aws", "vendor_id"))
		if err != nil {
			return "", err
		}
		dsn := fmt.Sprintf("host=%s port=%d user=%s dbname=postgres sslmode=require connect_timeout=5", cr.Host, cr.Port, cr.User)
		cmd := exec.Command("psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", dsn, "-c", sql)
		cmd.Env = append(os.Environ(), "PGPASSWORD="+cr.Password)
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: cfg("small"),
				Check: func(s *terraform.State) error {
					if out, err := psql(s, "CREATE TABLE hits (n int); INSERT INTO hits VALUES (7); SELECT n FROM hits;"); err != nil || out != "7" {
						return fmt.Errorf("with the managed password: %q, %v", out, err)
					}
					return nil
				},
			},
			{
				Config: cfg("medium"),
				Check: func(s *terraform.State) error {
					if out, err := psql(s, "SELECT n FROM hits"); err != nil || out != "7" {
						return fmt.Errorf("after the resize: %q, %v", out, err)
					}
					return nil
				},
			},
		},
	})
}
