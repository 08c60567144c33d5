package localcloud

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// ErrInterrupted is the error API.HostProvisioned gets for a host that was
// still being provisioned when localcloud stopped.
var ErrInterrupted = errors.New("localcloud stopped while the host was being provisioned")

// HostStatus is where a host is in its life, in neutral terms; each API
// names it its vendor's way (DigitalOcean: new, active, off).
type HostStatus string

// Host statuses.
const (
	// HostPending: being provisioned, or within Config.BootDelay of its
	// creation.
	HostPending HostStatus = "pending"
	// HostRunning: provisioned and booted.
	HostRunning HostStatus = "running"
	// HostOff: powered off.
	HostOff HostStatus = "off"
)

// Host is one machine, in neutral terms: whatever API created it, the core
// keeps its record, hands it to the backend, saves and restores it. Fields
// are read and written with the server's lock held.
type Host struct {
	ID int
	// API is the Name of the API that created the host.
	API string
	// Name, Region, Size and Image are as the API's vendor spells them.
	Name, Region, Size, Image string
	// Tags are the host's tags, in tagging order.
	Tags      []string
	UserData  string
	CreatedAt time.Time
	// Addrs are set when Provision succeeded.
	Addrs HostAddrs
	// Provisioned: Provision returned successfully.
	Provisioned bool
	// Failed: Provision failed (the host is gone from the hosts).
	Failed bool
	Off    bool
	// Faulted: the machine failed (FailHost) and no power action has
	// turned it on or off since. Its API still shows it running.
	Faulted bool
	// Partitioned: cut off from the other hosts (PartitionHost) and not
	// healed since.
	Partitioned bool
	DeletedAt   time.Time

	provisionDone chan struct{} // closed when Provision returned, either way
	powering      bool          // a PowerHost is under way
}

// Powering reports whether a power action on h is under way (PowerHost).
// Call with the lock held.
func (h *Host) Powering() bool { return h.powering }

// Provisioning is closed when the backend's Provision of h returned, either
// way.
func (h *Host) Provisioning() <-chan struct{} { return h.provisionDone }

// HasTag reports whether h has tag name, compared case-insensitively.
func (h *Host) HasTag(name string) bool {
	return slices.ContainsFunc(h.Tags, func(t string) bool { return strings.EqualFold(t, name) })
}

// AddTag tags h with name unless it has the tag already.
func (h *Host) AddTag(name string) {
	if !h.HasTag(name) {
		h.Tags = append(h.Tags, name)
	}
}

// RemoveTag removes tag name from h, compared case-insensitively.
func (h *Host) RemoveTag(name string) {
	h.Tags = slices.DeleteFunc(h.Tags, func(t string) bool { return strings.EqualFold(t, name) })
}

// HostStatus is h's status at now. Call with the lock held.
func (s *Server) HostStatus(h *Host, now time.Time) HostStatus {
	if !h.Provisioned || now.Before(s.ReadyAt(h)) {
		return HostPending
	}
	if h.Off {
		return HostOff
	}
	return HostRunning
}

// ReadyAt is when h's boot delay ends: it is pending until then, and until
// it is provisioned.
func (s *Server) ReadyAt(h *Host) time.Time { return h.CreatedAt.Add(s.cfg.BootDelay) }

func (s *Server) hostVisible(h *Host, now time.Time) bool {
	return h.DeletedAt.IsZero() || now.Before(h.DeletedAt.Add(s.cfg.DeleteDelay))
}

// Host returns host id if clients can see it at now (it is not deleted, or
// within Config.DeleteDelay of its deletion), else nil. Call with the lock
// held.
func (s *Server) Host(id int, now time.Time) *Host {
	h := s.st.hosts[id]
	if h == nil {
		return nil
	}
	if !s.hostVisible(h, now) {
		delete(s.st.hosts, id)
		return nil
	}
	return h
}

// Hosts lists the hosts API api created that clients can see at now, by
// id. Call with the lock held.
func (s *Server) Hosts(api string, now time.Time) []*Host {
	out := make([]*Host, 0, len(s.st.hosts))
	for id, h := range s.st.hosts {
		if !s.hostVisible(h, now) {
			delete(s.st.hosts, id)
			continue
		}
		if h.API == api {
			out = append(out, h)
		}
	}
	slices.SortFunc(out, func(a, b *Host) int { return a.ID - b.ID })
	return out
}

// AddHost records h as a new host, pending, and gives it the next id. Then
// Provision it. Call with the lock held.
func (s *Server) AddHost(h *Host) {
	s.st.nextHost++
	h.ID = s.st.nextHost
	h.Provisioned, h.Failed, h.provisionDone = false, false, make(chan struct{})
	s.st.hosts[h.ID] = h
}

// CheckHostRequest asks the backend whether it would provision req (see
// HostRequestChecker); nil when it does not check.
func (s *Server) CheckHostRequest(req HostRequest) error {
	if c, ok := s.backend.(HostRequestChecker); ok {
		return c.CheckHostRequest(req)
	}
	return nil
}

// Provision has the backend provision h (AddHost first) in the background,
// with req (req.ID is set to h's id). When it returns, h gets its
// addresses, or is removed when it failed, and h's API hears of it
// (API.HostProvisioned). Call without the lock.
func (s *Server) Provision(h *Host, req HostRequest) {
	req.ID, req.API = h.ID, h.API
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		addrs, err := s.backend.Provision(s.ctx, req)
		s.provisioned(h, addrs, err)
		s.persist()
	}()
}

// provisioned records the outcome of h's Provision.
func (s *Server) provisioned(h *Host, addrs HostAddrs, err error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	defer close(h.provisionDone)
	if err != nil {
		s.Logf("localcloud: provisioning host %d (%s): %v", h.ID, h.Name, err)
		h.Failed = true
		if s.st.hosts[h.ID] == h {
			delete(s.st.hosts, h.ID)
		}
	} else {
		h.Provisioned, h.Addrs = true, addrs
	}
	if a := s.apiNamed(h.API); a != nil {
		a.HostProvisioned(h, err, now)
	}
}

// DestroyHosts deletes the hosts pick returns (pick is called with the
// lock held; nil means not found, and DestroyHosts reports false): they
// are marked deleted, their addresses unassigned, and the backend destroys
// them in the background once their Provision returned. It takes the
// operation lock (Serialize); call it without.
func (s *Server) DestroyHosts(pick func(now time.Time) []*Host) bool {
	defer s.Serialize()()
	now := s.now()
	s.mu.Lock()
	hs := pick(now)
	if hs == nil {
		s.mu.Unlock()
		return false
	}
	var unassign []netip.Addr
	var doomed []*Host
	for _, h := range hs {
		if !h.DeletedAt.IsZero() {
			continue // already being deleted
		}
		h.DeletedAt = now
		doomed = append(doomed, h)
		for _, a := range s.st.addrs {
			if a.HostID == h.ID {
				a.HostID = 0
				unassign = append(unassign, a.IP)
			}
		}
	}
	s.mu.Unlock()
	for _, ip := range unassign {
		if err := s.backend.UnassignIP(s.ctx, ip); err != nil {
			s.Logf("localcloud: unassigning address %s: %v", ip, err)
		}
	}
	for _, h := range doomed {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			select {
			case <-h.provisionDone:
			case <-s.ctx.Done():
				return
			}
			s.mu.Lock()
			failed := h.Failed
			s.mu.Unlock()
			if failed {
				return
			}
			if err := s.backend.Destroy(s.ctx, h.ID); err != nil {
				s.Logf("localcloud: destroying host %d (%s): %v", h.ID, h.Name, err)
			}
		}()
	}
	return true
}

// PowerHost has the backend carry out power action (PowerOff, Shutdown,
// PowerOn, Reboot, PowerCycle) on h, in the background when the backend is
// a PowerController: h is Powering until it is done. Then h is off or on
// as the action leaves it, no longer Faulted, and done is called with the
// lock held and the time it finished (err from the backend: h is as it
// was). Without a PowerController only the record changes, and done is
// called before PowerHost returns. Call it without the lock, holding
// Serialize, for a provisioned host that is not Powering.
func (s *Server) PowerHost(h *Host, action string, done func(err error, now time.Time)) {
	off, ok := PowerLeavesOff(action)
	pc, powers := s.backend.(PowerController)
	finish := func(err error) {
		now := s.now()
		s.mu.Lock()
		defer s.mu.Unlock()
		h.powering = false
		switch {
		case err != nil:
			s.Logf("localcloud: %s host %d (%s): %v", action, h.ID, h.Name, err)
		case ok:
			h.Off, h.Faulted = off, false
		}
		done(err, now)
	}
	if !ok || !powers {
		var err error
		if !ok {
			err = fmt.Errorf("%q is not a power action", action)
		}
		finish(err)
		return
	}
	s.mu.Lock()
	h.powering = true
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		finish(pc.Power(s.ctx, h.ID, action))
		s.persist()
	}()
}
