package cluster

import (
	"errors"
	"fmt"
	"strings"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

// HostError is a failure on one host or node: which one, what was being
// done, why, and what to do about it. Operations return them joined
// (errors.Join) inside their own error; find them with errors.As or
// HostErrors.
type HostError struct {
	Group string
	// Host is the host's name; HostID its vendor id ("" when the host was
	// never created, or is gone); NodeID its swarm node ("" when none).
	Host   string
	Cloud  cloud.Name
	HostID string
	NodeID string
	// Op is what was being done, e.g. "joining the swarm as a worker".
	Op  string
	Err error
	// Fix says what to do.
	Fix string
}

func (e *HostError) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteString(": ")
	switch {
	case e.Host != "":
		b.WriteString("host " + e.Host)
	case e.NodeID != "":
		b.WriteString("node " + e.NodeID)
	}
	var ids []string
	if e.HostID != "" {
		ids = append(ids, fmt.Sprintf("%s %s", e.Cloud, e.HostID))
	}
	if e.NodeID != "" && e.Host != "" {
		ids = append(ids, "node "+e.NodeID)
	}
	if len(ids) > 0 {
		b.WriteString(" (" + strings.Join(ids, ", ") + ")")
	}
	if e.Group != "" && e.Group != ManagersGroup {
		b.WriteString(" of node group " + e.Group)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	if e.Fix != "" {
		b.WriteString(". " + e.Fix)
	}
	return b.String()
}

func (e *HostError) Unwrap() error { return e.Err }

// HostErrors returns every HostError inside err.
func HostErrors(err error) []*HostError {
	var out []*HostError
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if he, ok := err.(*HostError); ok {
			out = append(out, he)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// Fixes for common failures.
const (
	fixRetry       = "Run apply again: it picks up from what exists"
	fixBoot        = "Check that the host booted and that Docker started (cloud-init log: /var/log/cloud-init-output.log); the engine must answer on tcp 2376 from where Terraform runs. Run apply again to retry, or taint the resource"
	fixQuota       = "Raise the vendor account's host limit or lower the count, then run apply again"
	fixSwarmPorts  = "Check that the hosts reach each other on 2377/tcp, 7946/tcp+udp and 4789/udp (firewalls, security groups), then run apply again"
	fixManagerDown = "Bring a manager back (check its host at the vendor and that its engine answers on tcp 2376), recover the swarm with \"docker swarm init --force-new-cluster\" on a surviving manager, or replace the cluster (terraform apply -replace)"
)

// createFix returns the fix for a failed CreateHosts.
func createFix(err error) string {
	switch {
	case errors.Is(err, cloud.ErrQuota):
		return fixQuota
	case errors.Is(err, cloud.ErrUnauthorized):
		return "Check the vendor credentials of the provider"
	case errors.Is(err, cloud.ErrInvalid):
		return "Check region, size, image and ssh_keys against the vendor's catalog (data source haddock_catalog)"
	}
	return fixRetry
}

// drainFix explains a failed drain.
func drainFix(err error) string {
	var de *swarm.DrainError
	if errors.As(err, &de) {
		return "Nothing was removed and the nodes were set back to their former availability. Add capacity elsewhere (scale another group first), relax the services' placement constraints or resource reservations, or raise drain_timeout, then run apply again"
	}
	return fixRetry
}

// opError wraps the host errors of one operation, naming it.
func opError(op string, errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %w", op, errors.Join(errs...))
}

// ErrNoCAKey: the cluster was opened with client credentials (no CA key),
// which reach the engines but cannot sign a new host's certificate.
var ErrNoCAKey = errors.New("these cluster credentials hold no CA key (client credentials): creating hosts needs the cluster's full credentials")

// ErrUnsavedHosts: Create found managers of another cluster of the same
// name (see Create).
var ErrUnsavedHosts = errors.New("hosts of another cluster of this name exist")
