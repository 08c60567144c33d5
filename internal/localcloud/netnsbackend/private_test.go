package netnsbackend_test

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
)

// TestRealPrivateNetwork: hosts of the same API and region reach each
// other's private address; a host of another API, or of another region,
// does not, but reaches the public one. The private address holds even
// when nothing else filters the host.
func TestRealPrivateNetwork(t *testing.T) {
	be, _, _ := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	hosts := map[int]localcloud.HostRequest{
		901: {ID: 901, Name: "do-a", API: "digitalocean", Region: "nyc3"},
		902: {ID: 902, Name: "do-b", API: "digitalocean", Region: "nyc3"},
		903: {ID: 903, Name: "aws-a", API: "aws", Region: "us-east-1"},
		904: {ID: 904, Name: "do-c", API: "digitalocean", Region: "ams3"},
	}
	addrs := map[int]localcloud.HostAddrs{}
	for id, req := range hosts {
		a, err := be.Provision(ctx, req)
		if err != nil {
			t.Fatalf("provisioning %d: %v", id, err)
		}
		addrs[id] = a
		t.Cleanup(func() { _ = be.Destroy(context.Background(), id) })
	}
	for id, a := range addrs {
		if a.PrivateIPv4.Addr() == a.PublicIPv4.Addr() || !a.PrivateIPv4.IsValid() {
			t.Fatalf("host %d: private %s, public %s: want distinct addresses", id, a.PrivateIPv4, a.PublicIPv4)
		}
	}
	if addrs[901].PrivateIPv4.Masked() != addrs[902].PrivateIPv4.Masked() ||
		addrs[901].PrivateIPv4.Masked() == addrs[903].PrivateIPv4.Masked() ||
		addrs[901].PrivateIPv4.Masked() == addrs[904].PrivateIPv4.Masked() {
		t.Fatalf("VPC prefixes: %v", addrs)
	}

	// A listener in host 902 on every address.
	var ln net.Listener
	if err := be.Manager().InHost("902", func() (err error) {
		ln, err = net.Listen("tcp4", "0.0.0.0:7946")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("ok"))
			_ = c.Close()
		}
	}()
	dial := func(from int, to netip.Addr) error {
		return be.Manager().InHost(strconv.Itoa(from), func() error {
			c, err := net.DialTimeout("tcp4", netip.AddrPortFrom(to, 7946).String(), 2*time.Second)
			if err != nil {
				return err
			}
			defer func() { _ = c.Close() }()
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			b := make([]byte, 2)
			_, err = c.Read(b)
			return err
		})
	}
	priv, pub := addrs[902].PrivateIPv4.Addr(), addrs[902].PublicIPv4.Addr()
	if err := dial(901, priv); err != nil {
		t.Errorf("same vendor and region, private address %s: %v", priv, err)
	}
	for _, from := range []int{901, 903, 904} {
		if err := dial(from, pub); err != nil {
			t.Errorf("host %d to public address %s: %v", from, pub, err)
		}
	}
	for _, from := range []int{903, 904} {
		if err := dial(from, priv); err == nil {
			t.Errorf("host %d (%s %s) reached private address %s of another VPC", from, hosts[from].API, hosts[from].Region, priv)
		}
	}

	// A host of another VPC that routes the private prefix on its link
	// itself still does not get in, even when 902's firewall admits
	// everyone on the port: the private network's rule comes first.
	if err := be.SetHostFirewall(ctx, 902, []localcloud.FirewallRule{
		{Protocol: "tcp", FromPort: 7946, ToPort: 7946, Sources: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}},
	}); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ip", "-n", "hdkt5-903", "route", "replace", addrs[902].PrivateIPv4.Masked().String(), "dev", "eth0").CombinedOutput(); err != nil {
		t.Fatalf("routing the private prefix in 903: %v: %s", err, out)
	}
	if err := dial(903, priv); err == nil {
		t.Errorf("host 903 routing %s on its link reached private address %s", addrs[902].PrivateIPv4.Masked(), priv)
	}
	if err := dial(901, priv); err != nil {
		t.Errorf("same VPC through the firewall, private address %s: %v", priv, err)
	}
	if err := dial(904, pub); err != nil {
		t.Errorf("host 904 to public address %s through the firewall: %v", pub, err)
	}
}
