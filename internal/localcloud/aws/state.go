package aws

import (
	"fmt"
	"time"
)

// state is what EC2 alone has, beside the core's hosts and addresses;
// saved in the API's part of the state file.
type state struct {
	// Next numbers the ids the API hands out (reservations, security
	// groups, key pairs, allocations, associations).
	Next        uint64                    `json:"next"`
	Instances   map[string]*instance      `json:"instances"` // by instance id
	KeyPairs    map[string]*keyPair       `json:"key_pairs"` // by key pair id
	Groups      map[string]*securityGroup `json:"security_groups"`
	Addresses   map[string]*elasticIP     `json:"addresses"`     // by allocation id
	ClientToken map[string]string         `json:"client_tokens"` // RunInstances ClientToken -> reservation id

	byHost map[int]*instance
}

func (st *state) init() {
	*st = state{
		Instances: map[string]*instance{}, KeyPairs: map[string]*keyPair{},
		Groups: map[string]*securityGroup{}, Addresses: map[string]*elasticIP{},
		ClientToken: map[string]string{},
	}
	st.index()
}

func (st *state) index() {
	if st.Instances == nil {
		st.Instances = map[string]*instance{}
	}
	if st.KeyPairs == nil {
		st.KeyPairs = map[string]*keyPair{}
	}
	if st.Groups == nil {
		st.Groups = map[string]*securityGroup{}
	}
	if st.Addresses == nil {
		st.Addresses = map[string]*elasticIP{}
	}
	if st.ClientToken == nil {
		st.ClientToken = map[string]string{}
	}
	st.byHost = map[int]*instance{}
	for _, in := range st.Instances {
		st.byHost[in.HostID] = in
	}
}

// newID is a fresh id with prefix, 17 hex digits as EC2's.
func (st *state) newID(prefix string) string {
	st.Next++
	// An odd multiplier is a bijection on uint64: ids never repeat, and do
	// not look sequential.
	return fmt.Sprintf("%s-0%016x", prefix, st.Next*0x9E3779B97F4A7C15)
}

// instance is EC2's record of an instance; the machine is the core's host
// HostID.
type instance struct {
	ID            string    `json:"id"`
	HostID        int       `json:"host_id"`
	Region        string    `json:"region"`
	Zone          string    `json:"zone"`
	SubnetID      string    `json:"subnet_id"`
	ReservationID string    `json:"reservation_id"`
	ImageID       string    `json:"image_id"`
	Type          string    `json:"type"`
	KeyName       string    `json:"key_name,omitempty"`
	Groups        []string  `json:"groups"`
	Tags          []tag     `json:"tags"`
	LaunchIndex   int       `json:"launch_index"`
	LaunchTime    time.Time `json:"launch_time"`
	PrivateIP     string    `json:"private_ip,omitempty"`
	PublicIP      string    `json:"public_ip,omitempty"`
	// Power is the power action under way: "stop" or "start".
	Power        string    `json:"power,omitempty"`
	TerminatedAt time.Time `json:"terminated_at,omitzero"`
	// StateReason and StateMessage say why it stopped or terminated.
	StateReason  string `json:"state_reason,omitempty"`
	StateMessage string `json:"state_message,omitempty"`
	// Reason is the state transition reason ("User initiated (...)").
	Reason string `json:"reason,omitempty"`
}

type keyPair struct {
	ID          string    `json:"id"`
	Region      string    `json:"region"`
	Name        string    `json:"name"`
	Fingerprint string    `json:"fingerprint"`
	PublicKey   string    `json:"public_key"`
	Type        string    `json:"type"`
	Tags        []tag     `json:"tags"`
	Created     time.Time `json:"created"`
}

type securityGroup struct {
	ID          string `json:"id"`
	Region      string `json:"region"`
	VpcID       string `json:"vpc_id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Tags        []tag  `json:"tags"`
	Ingress     []rule `json:"ingress"`
	Default     bool   `json:"default,omitempty"`
}

// rule is one source of one ingress permission.
type rule struct {
	ID          string `json:"id"`
	Proto       string `json:"proto"`
	From        *int   `json:"from,omitempty"`
	To          *int   `json:"to,omitempty"`
	CIDR        string `json:"cidr,omitempty"`
	CIDRv6      string `json:"cidr_v6,omitempty"`
	GroupID     string `json:"group_id,omitempty"`
	Description string `json:"description,omitempty"`
}

// same reports whether r and o grant the same thing.
func (r rule) same(o rule) bool {
	eq := func(a, b *int) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
	return r.Proto == o.Proto && eq(r.From, o.From) && eq(r.To, o.To) && r.CIDR == o.CIDR && r.CIDRv6 == o.CIDRv6 && r.GroupID == o.GroupID
}

type elasticIP struct {
	AllocationID string `json:"allocation_id"`
	IP           string `json:"ip"`
	Region       string `json:"region"`
	Tags         []tag  `json:"tags"`
	// AssociationID and InstanceID are the association, valid while the
	// core's address is on the instance's host.
	AssociationID string `json:"association_id,omitempty"`
	InstanceID    string `json:"instance_id,omitempty"`
}

// HostOfInstance is the core host of instance id, for the ELBv2 API's
// targets (awselbv2.InstanceResolver); false when there is none or it is
// terminated. Call without the lock.
func (a *API) HostOfInstance(id string) (int, bool) {
	a.s.Lock()
	defer a.s.Unlock()
	in := a.st.Instances[id]
	if in == nil || !in.TerminatedAt.IsZero() {
		return 0, false
	}
	return in.HostID, true
}

// InstanceOfHost is the instance of core host hostID (see
// HostOfInstance). Call without the lock.
func (a *API) InstanceOfHost(hostID int) (string, bool) {
	a.s.Lock()
	defer a.s.Unlock()
	in := a.st.byHost[hostID]
	if in == nil || !in.TerminatedAt.IsZero() {
		return "", false
	}
	return in.ID, true
}
