package localcloud

import (
	"net/netip"
	"slices"
)

// Address is one address of the pool the backend allocates (a DigitalOcean
// reserved IP, an AWS Elastic IP): it stays the account's until released,
// and moves between hosts. Fields are read and written with the lock held.
type Address struct {
	IP netip.Addr
	// API is the Name of the API that allocated it.
	API    string
	Region string
	// HostID is the host holding it, 0 when unassigned.
	HostID int
}

// Address returns the pool address ip, nil when there is none. Call with
// the lock held.
func (s *Server) Address(ip netip.Addr) *Address { return s.st.addrs[ip] }

// Addresses lists the addresses API api allocated, by address. Call with
// the lock held.
func (s *Server) Addresses(api string) []*Address {
	out := make([]*Address, 0, len(s.st.addrs))
	for _, a := range s.st.addrs {
		if a.API == api {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b *Address) int { return a.IP.Compare(b.IP) })
	return out
}

// AllocateAddress has the backend allocate an address in region and, when
// hostID is not 0, assign it to that host, then records it. Hold
// Serialize; call without the lock.
func (s *Server) AllocateAddress(api, region string, hostID int) (*Address, error) {
	ip, err := s.backend.AllocateIP(s.ctx, region)
	if err != nil {
		return nil, err
	}
	if hostID != 0 {
		if err := s.backend.AssignIP(s.ctx, ip, hostID); err != nil {
			_ = s.backend.ReleaseIP(s.ctx, ip)
			return nil, err
		}
	}
	a := &Address{IP: ip, API: api, Region: region, HostID: hostID}
	s.mu.Lock()
	s.st.addrs[ip] = a
	s.mu.Unlock()
	return a, nil
}

// ReleaseAddress forgets address ip and has the backend unassign and
// release it; false when there is no such address. Hold Serialize; call
// without the lock.
func (s *Server) ReleaseAddress(ip netip.Addr) bool {
	s.mu.Lock()
	a := s.st.addrs[ip]
	delete(s.st.addrs, ip)
	s.mu.Unlock()
	if a == nil {
		return false
	}
	if a.HostID != 0 {
		if err := s.backend.UnassignIP(s.ctx, ip); err != nil {
			s.Logf("localcloud: unassigning address %s: %v", ip, err)
		}
	}
	if err := s.backend.ReleaseIP(s.ctx, ip); err != nil {
		s.Logf("localcloud: releasing address %s: %v", ip, err)
	}
	return true
}

// MoveAddress has the backend assign address ip to host hostID (from
// wherever it is), or unassign it when hostID is 0, and records the move
// when the backend did it; on error the address stays as it was. Hold
// Serialize; call without the lock.
func (s *Server) MoveAddress(ip netip.Addr, hostID int) error {
	var err error
	if hostID != 0 {
		err = s.backend.AssignIP(s.ctx, ip, hostID)
	} else {
		err = s.backend.UnassignIP(s.ctx, ip)
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	if a := s.st.addrs[ip]; a != nil {
		a.HostID = hostID
	}
	s.mu.Unlock()
	return nil
}
