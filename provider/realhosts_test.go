package provider_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/haddockhq/terraform-provider-haddock/acctest"
)

// Three real hosts (network namespaces running dockerd, behind localcloud's
// DigitalOcean API): each runs a container from a FROM-scratch image through
// its own docker attribute over mutual TLS and serves HTTP; a floating IP
// reaches the host it is assigned to, then the host it moves to, and the
// engine verifies through it by its certificate's name. After destroy
// nothing of the hosts is left on the machine.
func TestAccRealHosts_dockerAndFloatingIP(t *testing.T) {
	rc := acctest.RealHosts(t)
	name := acctest.RandomName()
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			// Deleting a droplet answers before its host is torn down (as on
			// DigitalOcean); give the teardown a moment, then count.
			return rc.WaitHostsGone(30 * time.Second)
		},
		Steps: []resource.TestStep{
			{
				Config: realHostsConfig(rc, name, 0),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("haddock_host.node[0]", tfjsonpath.New("docker").AtMapKey("endpoint"), knownvalue.StringRegexp(regexpMust(`^tcp://10\.214\.\d+\.\d+:2376$`))),
					statecheck.ExpectSensitiveValue("haddock_host.node[0]", tfjsonpath.New("docker").AtMapKey("key_pem")),
				},
				Check: resource.ComposeTestCheckFunc(
					checkContainersAnswer(t, name, 3),
					checkFloatingIPReaches(name, 0),
					checkEngineThroughFloatingIP(0, 1),
				),
			},
			{
				// Move the address: it now reaches the second host.
				Config: realHostsConfig(rc, name, 1),
				Check: resource.ComposeTestCheckFunc(
					checkFloatingIPReaches(name, 1),
					checkEngineThroughFloatingIP(1, 0),
				),
			},
		},
	})
}

func realHostsConfig(rc *acctest.RealCloud, name string, holder int) string {
	return rc.ProviderConfig + fmt.Sprintf(`
resource "haddock_host" "node" {
  count  = 3
  cloud  = "digitalocean"
  name   = "%[1]s-${count.index}"
  region = "eu-central"
  size   = "small"
  image  = "debian-12"
}

resource "haddock_floating_ip" "test" {
  cloud   = "digitalocean"
  region  = "eu-central"
  host_id = haddock_host.node[%[2]d].id
}
`, name, holder)
}

func hostName(prefix string, i int) string { return fmt.Sprintf("%s-%d", prefix, i) }

// checkContainersAnswer runs an HTTP server container on each host through
// the host's docker attribute and requests it on the host's address.
func checkContainersAnswer(t *testing.T, prefix string, n int) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		for i := range n {
			addr := fmt.Sprintf("haddock_host.node.%d", i)
			d, err := acctest.HostDocker(s, addr)
			if err != nil {
				return err
			}
			cli, err := d.Client(d.Endpoint, d.ServerName)
			if err != nil {
				return err
			}
			err = acctest.RunHTTPServer(context.Background(), t, cli, hostName(prefix, i))
			_ = cli.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", addr, err)
			}
			ip := s.RootModule().Resources[addr].Primary.Attributes["ipv4_address"]
			body, err := acctest.HTTPGet("http://" + ip + ":8080/")
			if err != nil {
				return fmt.Errorf("%s: %w", addr, err)
			}
			if !strings.HasPrefix(body, hostName(prefix, i)+" ") {
				return fmt.Errorf("%s answered %q, want its own name %q", addr, body, hostName(prefix, i))
			}
		}
		return nil
	}
}

// checkFloatingIPReaches requests the floating IP and expects host i.
func checkFloatingIPReaches(prefix string, i int) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		ip := s.RootModule().Resources["haddock_floating_ip.test"].Primary.Attributes["ip_address"]
		body, err := acctest.HTTPGet("http://" + ip + ":8080/")
		if err != nil {
			return fmt.Errorf("floating IP %s: %w", ip, err)
		}
		if !strings.HasPrefix(body, hostName(prefix, i)+" ") {
			return fmt.Errorf("floating IP %s reached %q, want host %q", ip, body, hostName(prefix, i))
		}
		return nil
	}
}

// checkEngineThroughFloatingIP dials the engine through the floating IP:
// verified as the holder's name it answers; expecting another host's name
// the TLS handshake is refused.
func checkEngineThroughFloatingIP(holder, other int) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		ip := s.RootModule().Resources["haddock_floating_ip.test"].Primary.Attributes["ip_address"]
		d, err := acctest.HostDocker(s, fmt.Sprintf("haddock_host.node.%d", holder))
		if err != nil {
			return err
		}
		o, err := acctest.HostDocker(s, fmt.Sprintf("haddock_host.node.%d", other))
		if err != nil {
			return err
		}
		ctx := context.Background()
		cli, err := d.Client("tcp://"+ip+":2376", d.ServerName)
		if err != nil {
			return err
		}
		defer func() { _ = cli.Close() }()
		if _, err := cli.Ping(ctx); err != nil {
			return fmt.Errorf("engine through floating IP %s, verified as %s: %w", ip, d.ServerName, err)
		}
		wrong, err := d.Client("tcp://"+ip+":2376", o.ServerName)
		if err != nil {
			return err
		}
		defer func() { _ = wrong.Close() }()
		if _, err := wrong.Ping(ctx); err == nil {
			return fmt.Errorf("engine through floating IP %s verified as another host's name %s: the identity check is not working", ip, o.ServerName)
		}
		return nil
	}
}

func regexpMust(s string) *regexp.Regexp { return regexp.MustCompile(s) }
