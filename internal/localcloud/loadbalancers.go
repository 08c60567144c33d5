package localcloud

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// LoadBalancerBackend is implemented by a HostBackend that runs load
// balancers (netnsbackend: a real HAProxy in a namespace of its own, with
// its own address; MemoryBackend: only the address). The vendor APIs keep
// the records (ids, statuses, rules as their vendor spells them) and ask
// the backend for the effect only.
type LoadBalancerBackend interface {
	// ApplyLoadBalancer creates load balancer id or changes it to cfg and
	// returns its address once it serves cfg. A change must not drop
	// established connections (HAProxy: a reload whose previous process
	// finishes its connections).
	ApplyLoadBalancer(ctx context.Context, id string, cfg LoadBalancerConfig) (netip.Addr, error)
	// DeleteLoadBalancer stops it and frees its address; an unknown id is
	// not an error.
	DeleteLoadBalancer(ctx context.Context, id string) error
}

// LoadBalancerConfig is what a load balancer does, in neutral terms.
type LoadBalancerConfig struct {
	// Network: layer 4 only (TCP), whatever the rules' protocols say.
	Network bool
	Rules   []LBRule
	Check   LBCheck
	// StickyCookie, when set, pins a client to a target with a cookie of
	// that name, for StickyTTL (0: the browser session).
	StickyCookie        string
	StickyTTL           time.Duration
	RedirectHTTPToHTTPS bool
	// Targets are the hosts traffic goes to, at their private addresses.
	Targets []LBTarget
}

// LBRule forwards EntryPort to TargetPort of every target. Protocols are
// http, https, http2, tcp or udp.
type LBRule struct {
	EntryProtocol  string
	EntryPort      int
	TargetProtocol string
	TargetPort     int
	TLSPassthrough bool
}

// LBCheck is the targets' health check.
type LBCheck struct {
	Protocol  string // http, https or tcp
	Port      int
	Path      string
	Interval  time.Duration
	Timeout   time.Duration
	Healthy   int // consecutive successes that make a target healthy
	Unhealthy int // consecutive failures that take it out
}

// LBTarget is one target host.
type LBTarget struct {
	HostID int
	Addr   netip.Addr
}

// errNoLoadBalancers: the backend runs none.
var errNoLoadBalancers = errors.New("this localcloud backend runs no load balancers")

// ApplyLoadBalancer has the backend create or change load balancer id.
// Hold Serialize; call without the lock.
func (s *Server) ApplyLoadBalancer(id string, cfg LoadBalancerConfig) (netip.Addr, error) {
	lb, ok := s.backend.(LoadBalancerBackend)
	if !ok {
		return netip.Addr{}, errNoLoadBalancers
	}
	addr, err := lb.ApplyLoadBalancer(s.ctx, id, cfg)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("load balancer %s: %w", id, err)
	}
	return addr, nil
}

// DeleteLoadBalancer has the backend remove load balancer id. Hold
// Serialize; call without the lock.
func (s *Server) DeleteLoadBalancer(id string) error {
	lb, ok := s.backend.(LoadBalancerBackend)
	if !ok {
		return nil
	}
	if err := lb.DeleteLoadBalancer(s.ctx, id); err != nil {
		return fmt.Errorf("load balancer %s: %w", id, err)
	}
	return nil
}

// TargetAddr is host id's private address, the one a load balancer sends
// its traffic to; ok false when the host has none (gone, or not
// provisioned yet). Call with the lock held.
func (s *Server) TargetAddr(id int) (netip.Addr, bool) {
	h := s.st.hosts[id]
	if h == nil || !h.Provisioned || !h.DeletedAt.IsZero() {
		return netip.Addr{}, false
	}
	return h.Addrs.PrivateIPv4.Addr(), h.Addrs.PrivateIPv4.IsValid()
}

// ApplyLoadBalancer implements LoadBalancerBackend: the load balancer gets
// a pool address and nothing serves it.
func (b *MemoryBackend) ApplyLoadBalancer(ctx context.Context, id string, _ LoadBalancerConfig) (netip.Addr, error) {
	b.mu.Lock()
	ip, ok := b.lbs[id]
	b.mu.Unlock()
	if ok {
		return ip, nil
	}
	ip, err := b.AllocateIP(ctx, "")
	if err != nil {
		return netip.Addr{}, err
	}
	b.mu.Lock()
	b.lbs[id] = ip
	b.mu.Unlock()
	return ip, nil
}

// DeleteLoadBalancer implements LoadBalancerBackend.
func (b *MemoryBackend) DeleteLoadBalancer(ctx context.Context, id string) error {
	b.mu.Lock()
	ip, ok := b.lbs[id]
	delete(b.lbs, id)
	b.mu.Unlock()
	if ok {
		return b.ReleaseIP(ctx, ip)
	}
	return nil
}

// RestoreLoadBalancer implements LoadBalancerRestorer.
func (b *MemoryBackend) RestoreLoadBalancer(id string, addr netip.Addr) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lbs[id] = addr
	b.reserved[addr] = true
	if n, ok := memIndex(addr, 19); ok {
		b.nextIP = max(b.nextIP, n)
	}
}

// LoadBalancerRestorer is implemented by backends that must be told which
// load balancer owns which address after a restart (MemoryBackend, whose
// addresses are counted). Server.RestoreLoadBalancer calls it.
type LoadBalancerRestorer interface {
	RestoreLoadBalancer(id string, addr netip.Addr)
}

// RestoreLoadBalancer tells the backend, when it needs to know, that load
// balancer id exists with address addr (an API's LoadState).
func (s *Server) RestoreLoadBalancer(id string, addr netip.Addr) {
	if r, ok := s.backend.(LoadBalancerRestorer); ok {
		r.RestoreLoadBalancer(id, addr)
	}
}

// Background runs f in a goroutine Close waits for (and cancels through
// ctx), then saves the state: what an API does after it answered (a load
// balancer being provisioned). Call without the lock.
func (s *Server) Background(f func(ctx context.Context)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f(s.ctx)
		s.persist()
	}()
}
