package netnsbackend_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/localcloudtest"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netnsbackend"
	"github.com/haddockhq/terraform-provider-haddock/internal/testimage"
)

// Ports of the test's listeners on fw-a: TCP greeters on fwPort and
// fwRange..fwRange+2, a UDP echo on fwUDP, and a container's published
// port fwPublished.
const (
	fwPort      = 7001
	fwRange     = 7010
	fwUDP       = 7002
	fwPublished = 7020
)

// TestRealFirewall puts a cloud firewall on a real host: what arrives on
// fw-a from the network is dropped unless a rule admits its source
// (fw-b, fw-c, the machine), on the host's address, a reserved IP, a port
// Docker publishes and link-local IPv6 alike, while fw-a's own
// connections get their replies; the filter survives a power cycle and a
// localcloud restart, and goes with nil rules.
func TestRealFirewall(t *testing.T) {
	be, run, c := start(t)
	ctx := t.Context()

	names := []string{"fw-a", "fw-b", "fw-c"}
	ids, addrs := map[string]int{}, map[string]string{}
	for _, name := range names {
		d, _, err := c.Droplets.Create(ctx, &godo.DropletCreateRequest{Name: name, Region: "fra1", Size: "s-1vcpu-1gb", Image: godo.DropletCreateImage{Slug: "debian-12-x64"}})
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = d.ID
	}
	for _, name := range names {
		addrs[name], _ = waitActive(ctx, t, c, ids[name]).PublicIPv4()
	}
	a := ids["fw-a"]
	inHost := func(name string, fn func() error) error {
		if name == "machine" {
			return fn()
		}
		return be.Manager().InHost(netnsbackend.HostID(ids[name]), fn)
	}

	// Listeners in fw-a's namespace: a TCP greeting per port, a UDP echo.
	for _, port := range []int{fwPort, fwRange, fwRange + 1, fwRange + 2} {
		var ln net.Listener
		if err := inHost("fw-a", func() error {
			var err error
			ln, err = net.Listen("tcp", ":"+strconv.Itoa(port))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ln.Close() })
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				_, _ = fmt.Fprintf(conn, "fw-a %d\n", port)
				_ = conn.Close()
			}
		}()
	}
	var pc net.PacketConn
	if err := inHost("fw-a", func() error {
		var err error
		pc, err = net.ListenPacket("udp", ":"+strconv.Itoa(fwUDP))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(buf[:n], from)
		}
	}()
	// A container publishing fwPublished, as a stack's service does.
	runPublished(t, ctx, be, a)

	// exchange connects from a host (or the machine) to addr, sends send
	// and reads what comes back.
	exchange := func(from, network, addr, send string) (string, error) {
		var conn net.Conn
		if err := inHost(from, func() error {
			var err error
			conn, err = net.DialTimeout(network, addr, time.Second)
			return err
		}); err != nil {
			return "", err
		}
		defer func() { _ = conn.Close() }()
		_ = conn.SetDeadline(time.Now().Add(time.Second))
		if send != "" {
			if _, err := io.WriteString(conn, send); err != nil {
				return "", err
			}
		}
		if network == "udp" {
			buf := make([]byte, 512)
			n, err := conn.Read(buf)
			return string(buf[:n]), err
		}
		b, err := io.ReadAll(conn)
		return string(b), err
	}
	type probe struct {
		network, addr, send, want string
	}
	tcp := func(addr string, port int) probe {
		return probe{"tcp", net.JoinHostPort(addr, strconv.Itoa(port)), "", fmt.Sprintf("fw-a %d\n", port)}
	}
	udp := func(addr string) probe {
		return probe{"udp", net.JoinHostPort(addr, strconv.Itoa(fwUDP)), "ping", "ping"}
	}
	web := func(addr string) probe {
		return probe{"tcp", net.JoinHostPort(addr, strconv.Itoa(fwPublished)), "GET / HTTP/1.0\r\n\r\n", "fw-web"}
	}
	expect := func(when, from string, p probe, admitted bool) {
		t.Helper()
		got, err := exchange(from, p.network, p.addr, p.send)
		if err == nil && !strings.Contains(got, p.want) {
			err = fmt.Errorf("answered %q, want %q", got, p.want)
		}
		var ne net.Error
		timedOut := errors.As(err, &ne) && ne.Timeout()
		switch {
		case admitted && err != nil:
			t.Errorf("%s: %s to %s/%s: %v, want admitted", when, from, p.addr, p.network, err)
		case !admitted && err == nil:
			t.Errorf("%s: %s to %s/%s answered, want dropped", when, from, p.addr, p.network)
		case !admitted && !timedOut:
			t.Errorf("%s: %s to %s/%s: %v, want a timeout (dropped, not refused)", when, from, p.addr, p.network, err)
		case admitted:
			t.Logf("%s: %s to %s/%s allowed", when, from, p.addr, p.network)
		default:
			t.Logf("%s: %s to %s/%s dropped (%v)", when, from, p.addr, p.network, err)
		}
	}
	ping := func(when, from, to string, admitted bool) {
		t.Helper()
		err := inHost(from, func() error { return localcloudtest.Ping(to) })
		switch {
		case admitted && err != nil:
			t.Errorf("%s: ping %s from %s: %v, want a reply", when, to, from, err)
		case !admitted && err == nil:
			t.Errorf("%s: ping %s from %s answered, want dropped", when, to, from)
		default:
			t.Logf("%s: ping %s from %s: %v", when, to, from, map[bool]string{true: "reply", false: "no reply"}[admitted])
		}
	}
	aAddr := addrs["fw-a"]
	b32 := netip.MustParsePrefix(addrs["fw-b"] + "/32")
	c32 := netip.MustParsePrefix(addrs["fw-c"] + "/32")

	// Without a firewall everyone gets in; fw-b reaches fw-a over
	// link-local IPv6 too, which the filter must close as well.
	for _, from := range []string{"fw-b", "fw-c", "machine"} {
		expect("no firewall", from, tcp(aAddr, fwPort), true)
	}
	expect("no firewall", "fw-c", web(aAddr), true)
	ll := linkLocal(t, be, a, ids["fw-b"])
	expect("no firewall", "fw-b", tcp(ll, fwPort), true)

	rules := []localcloud.FirewallRule{
		{Protocol: "tcp", FromPort: fwPort, ToPort: fwPort, Sources: []netip.Prefix{b32}},
		{Protocol: "tcp", FromPort: fwRange, ToPort: fwRange + 1, Sources: []netip.Prefix{b32, c32}},
		{Protocol: "udp", FromPort: fwUDP, ToPort: fwUDP, Sources: []netip.Prefix{c32}},
		{Protocol: "tcp", FromPort: fwPublished, ToPort: fwPublished, Sources: []netip.Prefix{b32}},
		{Protocol: "icmp", Sources: []netip.Prefix{b32}},
	}
	if err := be.SetHostFirewall(ctx, a, rules); err != nil {
		t.Fatal(err)
	}
	const on = "firewall"
	expect(on, "fw-b", tcp(aAddr, fwPort), true)
	expect(on, "fw-c", tcp(aAddr, fwPort), false)
	expect(on, "machine", tcp(aAddr, fwPort), false)
	expect(on, "fw-c", tcp(aAddr, fwRange+1), true)
	expect(on, "fw-b", tcp(aAddr, fwRange), true)
	expect(on, "fw-c", tcp(aAddr, fwRange+2), false) // past the range
	expect(on, "fw-c", udp(aAddr), true)
	expect(on, "fw-b", udp(aAddr), false)
	expect(on, "fw-b", web(aAddr), true)
	expect(on, "fw-c", web(aAddr), false)
	expect(on, "machine", web(aAddr), false)
	expect(on, "fw-b", tcp(ll, fwPort), false) // no IPv6 source is admitted
	ping(on, "fw-b", aAddr, true)
	ping(on, "fw-c", aAddr, false)

	// fw-a's own connections get their replies: to the gateway (where
	// localcloud's API and registry listen for hosts) and to fw-c, which
	// the filter does not admit.
	gw := be.Manager().Gateway()
	if got, err := echoFrom(t, be, a, gw); err != nil {
		t.Errorf("%s: fw-a to the gateway %s: %v", on, gw, err)
	} else {
		t.Logf("%s: fw-a to the gateway %s and back: %q", on, gw, got)
	}
	ping(on, "fw-a", addrs["fw-c"], true)

	// A reserved IP on fw-a is filtered as its own address.
	rip, _, err := c.ReservedIPs.Create(ctx, &godo.ReservedIPCreateRequest{Region: "fra1"})
	if err != nil {
		t.Fatal(err)
	}
	act, _, err := c.ReservedIPActions.Assign(ctx, rip.IP, a)
	if err != nil {
		t.Fatal(err)
	}
	if act = waitAction(ctx, t, c, act.ID); act.Status != "completed" {
		t.Fatalf("assigning %s: %s", rip.IP, act.Status)
	}
	expect(on+", reserved IP", "fw-b", tcp(rip.IP, fwPort), true)
	expect(on+", reserved IP", "fw-c", tcp(rip.IP, fwPort), false)
	expect(on+", reserved IP", "machine", tcp(rip.IP, fwPort), false)

	// nil rules: no filter, no chain left.
	if err := be.SetHostFirewall(ctx, a, nil); err != nil {
		t.Fatal(err)
	}
	expect("removed", "fw-c", tcp(aAddr, fwPort), true)
	expect("removed", "machine", tcp(aAddr, fwPort), true)
	expect("removed", "fw-b", tcp(ll, fwPort), true)
	if s := mangle(t, be, a); strings.Contains(s, "LOCALCLOUD-FW") {
		t.Errorf("removed: the chain is still there:\n%s", s)
	}

	// Now through the API's /v2/firewalls, whose rules are the ones a
	// restarted localcloud hands the backend again: the filter survives a
	// power cycle through the API and a localcloud restart.
	if _, _, err := c.Firewalls.Create(ctx, &godo.FirewallRequest{
		Name:          "fw-a-only-b",
		DropletIDs:    []int{a},
		Tags:          []string{}, // godo sends null, which the spec refuses
		InboundRules:  []godo.InboundRule{{Protocol: "tcp", PortRange: strconv.Itoa(fwPort), Sources: &godo.Sources{DropletIDs: []int{ids["fw-b"]}}}},
		OutboundRules: []godo.OutboundRule{{Protocol: "tcp", PortRange: "all", Destinations: &godo.Destinations{Addresses: []string{"0.0.0.0/0"}}}},
	}); err != nil {
		t.Fatal(err)
	}
	for _, action := range []func(context.Context, int) (*godo.Action, *godo.Response, error){c.DropletActions.PowerOff, c.DropletActions.PowerOn} {
		act, _, err := action(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if act = waitAction(ctx, t, c, act.ID); act.Status != "completed" {
			t.Fatalf("%s: %s", act.Type, act.Status)
		}
	}
	expect("after power off and on", "fw-b", tcp(aAddr, fwPort), true)
	expect("after power off and on", "fw-c", tcp(aAddr, fwPort), false)
	expect("after power off and on", "machine", tcp(aAddr, fwPort), false)

	if err := run.Close(); err != nil {
		t.Fatal(err)
	}
	if err := be.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	// The namespace keeps its rules across a restart; gone, as after a
	// crash that took them, the state must bring them back.
	h, err := be.Manager().Get(netnsbackend.HostID(a))
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"-F", "-X"} {
		if out, err := exec.CommandContext(ctx, "nsenter", "--net="+h.NetnsPath, "--", "iptables", "-w", "-t", "mangle", op).CombinedOutput(); err != nil {
			t.Fatalf("iptables %s: %v: %s", op, err, out)
		}
	}
	be, _, _ = start(t)
	expect("after a restart", "fw-b", tcp(aAddr, fwPort), true)
	expect("after a restart", "fw-c", tcp(aAddr, fwPort), false)
	expect("after a restart", "fw-b", tcp(rip.IP, fwPort), true)
	expect("after a restart", "fw-c", tcp(rip.IP, fwPort), false)
}

// runPublished runs testimage's HTTP server on host id's dockerd, its
// port 8080 published on fwPublished, and waits until the machine gets an
// answer there.
func runPublished(t *testing.T, ctx context.Context, be *netnsbackend.Backend, id int) {
	t.Helper()
	h, err := be.Manager().Get(netnsbackend.HostID(id))
	if err != nil {
		t.Fatal(err)
	}
	engine := &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", h.DockerSocket)
		},
	}}
	post := func(path, ctype string, body []byte) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://docker"+path, bytes.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := engine.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			t.Fatalf("POST %s: %s %s", path, resp.Status, b)
		}
	}
	post("/images/load", "application/x-tar", testimage.Build(t, "lc-fw:1", testimage.HTTPServer))
	post("/containers/create?name=web", "application/json", []byte(`{"Image":"lc-fw:1","Env":["NAME=fw-web"],
"ExposedPorts":{"8080/tcp":{}},"HostConfig":{"PortBindings":{"8080/tcp":[{"HostPort":"`+strconv.Itoa(fwPublished)+`"}]}}}`))
	post("/containers/web/start", "", nil)
	url := "http://" + net.JoinHostPort(h.IPv4.String(), strconv.Itoa(fwPublished)) + "/"
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := (&http.Client{Timeout: time.Second}).Get(url)
		if err == nil {
			_ = resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the published port %s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// linkLocal is host id's link-local IPv6 address on eth0, zoned as host
// from dials it (the zone is from's eth0).
func linkLocal(t *testing.T, be *netnsbackend.Backend, id, from int) string {
	t.Helper()
	var ll netip.Addr
	var zone int
	if err := be.Manager().InHost(netnsbackend.HostID(id), func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		as, err := ifi.Addrs()
		if err != nil {
			return err
		}
		for _, a := range as {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().IsLinkLocalUnicast() {
				ll = p.Addr()
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := be.Manager().InHost(netnsbackend.HostID(from), func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err == nil {
			zone = ifi.Index
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !ll.IsValid() {
		t.Fatalf("host %d has no link-local IPv6 address", id)
	}
	return ll.WithZone(strconv.Itoa(zone)).String()
}

// echoFrom connects from host id to a listener of the test on addr,
// which echoes what it reads: the replies cross the host's filter.
func echoFrom(t *testing.T, be *netnsbackend.Backend, id int, addr netip.Addr) (string, error) {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(addr.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer func() { _ = conn.Close() }()
		_, _ = io.Copy(conn, io.LimitReader(conn, 5))
	}()
	var conn net.Conn
	if err := be.Manager().InHost(netnsbackend.HostID(id), func() error {
		var err error
		conn, err = net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		return err
	}); err != nil {
		return "", err
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(conn, "hello"); err != nil {
		return "", err
	}
	b, err := io.ReadAll(conn)
	return string(b), err
}

// mangle is host id's IPv4 mangle table, as iptables -S prints it.
func mangle(t *testing.T, be *netnsbackend.Backend, id int) string {
	t.Helper()
	h, err := be.Manager().Get(netnsbackend.HostID(id))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), "nsenter", "--net="+h.NetnsPath, "--", "iptables", "-w", "-t", "mangle", "-S").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables -S in host %d: %v: %s", id, err, out)
	}
	return string(out)
}
