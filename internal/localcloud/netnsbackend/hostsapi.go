package netnsbackend

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"
)

// Gateway is the bridge's own address: where the hosts reach the machine
// (localcloud's registry, and its APIs through ServeOnGateway).
func (b *Backend) Gateway() netip.Addr { return b.subnet.Addr().Next() }

// HostsListener serves a handler on the bridge's gateway address.
type HostsListener struct {
	// URL is its base URL, http://<gateway>:<port>.
	URL string
	srv *http.Server
	ln  net.Listener
}

// ServeOnGateway serves h on the gateway address, port port (0: any), so
// that programs on the hosts reach it. On a real cloud a droplet reaches
// the vendor's API; localcloud's APIs listen on loopback, which inside a
// host is the host itself. This is what Haddock's failover agent, running
// on the managers, calls to move a floating IP. It sets up the bridge
// first. The listener is on a bridge only this machine and its hosts are
// on; the API's token is still required.
func (b *Backend) ServeOnGateway(ctx context.Context, h http.Handler, port int) (*HostsListener, error) {
	if err := b.m.EnsureNetwork(ctx); err != nil {
		return nil, fmt.Errorf("setting up the hosts' network: %w", err)
	}
	addr := net.JoinHostPort(b.Gateway().String(), strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s for the hosts: %w", addr, err)
	}
	l := &HostsListener{URL: "http://" + ln.Addr().String(), ln: ln,
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = l.srv.Serve(ln) }()
	return l, nil
}

// Close stops the listener, waiting up to five seconds for requests in
// flight.
func (l *HostsListener) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := l.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = l.srv.Close()
	}
	return err
}
