package localcloud

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// HostReport is a host as the /_localcloud/hosts controls show it.
type HostReport struct {
	ID   int    `json:"id"`
	API  string `json:"api"`
	Name string `json:"name"`
	// Status is the core's: pending, running or off (a failed host is
	// still running as its API shows it).
	Status HostStatus `json:"status"`
	// Address is the host's public IPv4, once provisioned.
	Address     string `json:"address,omitempty"`
	Faulted     bool   `json:"faulted"`
	Partitioned bool   `json:"partitioned"`
	Powering    bool   `json:"powering"`
}

// ControlError is why a /_localcloud/hosts control was refused: Status is
// the HTTP status it answers with.
type ControlError struct {
	Status int
	ID     string
	Msg    string
}

func (e *ControlError) Error() string { return e.Msg }

// report is h as HostReport shows it. Call with the lock held.
func (s *Server) report(h *Host, now time.Time) HostReport {
	r := HostReport{
		ID: h.ID, API: h.API, Name: h.Name, Status: s.HostStatus(h, now),
		Faulted: h.Faulted, Partitioned: h.Partitioned, Powering: h.powering,
	}
	if h.Addrs.PublicIPv4.IsValid() {
		r.Address = h.Addrs.PublicIPv4.Addr().String()
	}
	return r
}

// HostReports lists every visible host of every API, by id.
func (s *Server) HostReports() []HostReport {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []HostReport{}
	for _, a := range s.apis {
		for _, h := range s.Hosts(a.Name(), now) {
			out = append(out, s.report(h, now))
		}
	}
	return out
}

// FailHost breaks host id as a hardware fault would (FaultInjector.Fail):
// processes killed, no clean shutdown, addresses silent. Its API keeps
// showing it running, as a vendor does until its own checks notice; a power
// action that turns it on brings it back. The backend must be a
// FaultInjector (else a ControlError with status 501).
func (s *Server) FailHost(id int) (HostReport, error) {
	return s.hostControl(id, true, FaultInjector.Fail, func(h *Host) { h.Faulted = true })
}

// PartitionHost cuts host id off from the other hosts
// (FaultInjector.Partition) until HealHost.
func (s *Server) PartitionHost(id int) (HostReport, error) {
	return s.hostControl(id, false, FaultInjector.Partition, func(h *Host) { h.Partitioned = true })
}

// HealHost undoes PartitionHost; a host not partitioned is left as it is.
func (s *Server) HealHost(id int) (HostReport, error) {
	return s.hostControl(id, false, FaultInjector.Heal, func(h *Host) { h.Partitioned = false })
}

// hostControl checks that host id can take act (running when mustRun),
// has the backend carry it out and records it with mark.
func (s *Server) hostControl(id int, mustRun bool, act func(FaultInjector, context.Context, int) error, mark func(*Host)) (HostReport, error) {
	fi, ok := s.backend.(FaultInjector)
	if !ok {
		return HostReport{}, &ControlError{http.StatusNotImplemented, "not_implemented",
			"this backend has no machines to fail: run localcloud with real hosts (localcloud serve -backend netns)"}
	}
	defer s.Serialize()()
	now := s.now()
	s.mu.Lock()
	h := s.Host(id, now)
	var cerr *ControlError
	switch {
	case h == nil || !h.DeletedAt.IsZero():
		cerr = &ControlError{http.StatusNotFound, "not_found", fmt.Sprintf("host %d could not be found", id)}
	case s.HostStatus(h, now) == HostPending:
		cerr = &ControlError{http.StatusUnprocessableEntity, "unprocessable_entity", fmt.Sprintf("host %d is still being created", id)}
	case h.powering:
		cerr = &ControlError{http.StatusUnprocessableEntity, "unprocessable_entity", fmt.Sprintf("host %d has a power action under way", id)}
	case mustRun && h.Off:
		cerr = &ControlError{http.StatusUnprocessableEntity, "unprocessable_entity", fmt.Sprintf("host %d is off", id)}
	}
	s.mu.Unlock()
	if cerr != nil {
		return HostReport{}, cerr
	}
	if err := act(fi, s.ctx, id); err != nil {
		return HostReport{}, &ControlError{http.StatusInternalServerError, "server_error", fmt.Sprintf("host %d: %v", id, err)}
	}
	s.mu.Lock()
	mark(h)
	rep := s.report(h, s.now())
	s.mu.Unlock()
	s.persist()
	return rep, nil
}

// hostControlHandler serves POST /_localcloud/hosts/{id}/<control>.
func hostControlHandler(control func(int) (HostReport, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil || id <= 0 {
			writeError(w, http.StatusNotFound, "not_found", "The resource you were accessing could not be found.")
			return
		}
		rep, err := control(id)
		if err != nil {
			var ce *ControlError
			if !errors.As(err, &ce) {
				ce = &ControlError{http.StatusInternalServerError, "server_error", err.Error()}
			}
			writeError(w, ce.Status, ce.ID, ce.Msg)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"host": rep})
	}
}
