package localcloudtest

import (
	"net"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// pings counts Ping's requests.
var pings atomic.Int32

// Ping sends one ICMP echo request to addr, in the caller's network
// namespace, and waits a second for its reply (raw sockets: root). Each
// request has an ID of its own: conntrack would take one reusing an
// answered request's for the same exchange, and admit it past a filter.
func Ping(addr string) error {
	conn, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	id := (os.Getpid() + int(pings.Add(1))) & 0xffff
	msg, _ := (&icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: 1, Data: []byte("localcloud")}}).Marshal(nil)
	if _, err := conn.WriteTo(msg, &net.IPAddr{IP: net.ParseIP(addr)}); err != nil {
		return err
	}
	_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			return err
		}
		m, err := icmp.ParseMessage(1, buf[:n])
		if err != nil || m.Type != ipv4.ICMPTypeEchoReply || from.String() != addr {
			continue
		}
		if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id {
			return nil
		}
	}
}
