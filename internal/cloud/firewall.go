package cloud

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Firewalls is what a vendor driver does with cloud firewalls: filters the
// vendor runs outside the hosts (DigitalOcean cloud firewalls, AWS security
// groups) that admit, from the network, only what their inbound rules
// allow. A firewall applies to every host carrying its target tag, hosts
// created later included. Drivers that have them implement it beside
// Driver.
type Firewalls interface {
	// EnsureFirewall creates the firewall spec.Name in spec.Region, or
	// brings the one of that name to spec: its inbound rules become
	// exactly spec.Inbound, and it applies to the hosts carrying
	// spec.TargetTag. Outbound traffic is left open. Calling it again with
	// the same spec changes nothing.
	EnsureFirewall(ctx context.Context, spec FirewallSpec) (*Firewall, error)
	// GetFirewall reads the firewall name in region; an error wrapping
	// ErrNotFound when there is none.
	GetFirewall(ctx context.Context, region, name string) (*Firewall, error)
	// DeleteFirewall deletes the firewall name in region, so that its
	// hosts no longer get its rules; one already gone is not an error.
	DeleteFirewall(ctx context.Context, region, name string) error
}

// FirewallSpec is a firewall as its owner wants it.
type FirewallSpec struct {
	// Name identifies the firewall in its region (letters, digits, '-'
	// and '.', at most 255 characters, as DigitalOcean allows).
	Name   string
	Region string // vendor-native
	// TargetTag is the host tag the firewall applies to.
	TargetTag string
	Inbound   []FirewallRule
}

// Firewall is a firewall as the vendor reports it.
type Firewall struct {
	ID        string // vendor id: DigitalOcean firewall id, AWS security group id
	Name      string
	Region    string
	TargetTag string
	Inbound   []FirewallRule
}

// Protocols of firewall rules.
const (
	ProtocolTCP  = "tcp"
	ProtocolUDP  = "udp"
	ProtocolICMP = "icmp"
)

// FirewallRule admits one protocol on a port range from some sources.
type FirewallRule struct {
	// Protocol is ProtocolTCP, ProtocolUDP or ProtocolICMP.
	Protocol string
	// Ports is the destination port range; the zero value is every port
	// (and the only value ICMP takes).
	Ports PortRange
	// CIDRs are the source ranges admitted, IPv4 or IPv6.
	CIDRs []netip.Prefix
	// FromTargets also admits the firewall's own hosts (those carrying
	// its target tag), wherever their addresses are in the vendor's
	// network.
	FromTargets bool
	// Description says what the rule is for (AWS keeps it; DigitalOcean
	// has no place for it).
	Description string
}

// PortRange is an inclusive range of ports; From 0 is every port.
type PortRange struct{ From, To int }

// Port is the range of one port.
func Port(p int) PortRange { return PortRange{From: p, To: p} }

// All reports whether r is every port.
func (r PortRange) All() bool { return r.From == 0 }

// String is the range as DigitalOcean spells it: "2377", "8000-8100",
// "all" (DigitalOcean also accepts "0", which it reports as "all").
func (r PortRange) String() string {
	switch {
	case r.All():
		return "all"
	case r.From == r.To:
		return strconv.Itoa(r.From)
	default:
		return fmt.Sprintf("%d-%d", r.From, r.To)
	}
}

// ParsePortRange reads "22", "8000-8100", "all" or "" (every port).
func ParsePortRange(s string) (PortRange, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "all" || s == "0" {
		return PortRange{}, nil
	}
	from, to, isRange := strings.Cut(s, "-")
	f, err := strconv.Atoi(from)
	if err != nil || f < 1 || f > 65535 {
		return PortRange{}, fmt.Errorf("port range %q: %q is not a port (1-65535)", s, from)
	}
	t := f
	if isRange {
		if t, err = strconv.Atoi(to); err != nil || t < f || t > 65535 {
			return PortRange{}, fmt.Errorf("port range %q: %q is not a port from %d to 65535", s, to, f)
		}
	}
	return PortRange{From: f, To: t}, nil
}

// AnyIPv4 and AnyIPv6 are the whole internet.
var (
	AnyIPv4 = netip.MustParsePrefix("0.0.0.0/0")
	AnyIPv6 = netip.MustParsePrefix("::/0")
)

// Anywhere is the whole internet, IPv4 and IPv6.
func Anywhere() []netip.Prefix { return []netip.Prefix{AnyIPv4, AnyIPv6} }
