package cluster

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
)

// Vendor tags recorded on every host of a cluster (see the package
// documentation). They use only letters, digits, ':', '-' and '_', the
// characters DigitalOcean allows; the AWS driver maps each neutral tag to
// the EC2 tag key "haddock:tag:<tag>".
const (
	// TagClusterPrefix + cluster uid is on every host of the cluster,
	// managers and node groups alike.
	TagClusterPrefix = "haddock-cluster:"
	// TagGroupPrefix + cluster uid + ":" + group name is on every host of
	// one group; the managers are the group named ManagersGroup. Refresh
	// lists a group by this tag alone.
	TagGroupPrefix = "haddock-group:"
	// TagRolePrefix + "manager" or "worker": the role the host joined with.
	TagRolePrefix = "haddock-role:"
	// TagUIDPrefix + host uid: the host's identity is pki.HostIdentity(uid).
	TagUIDPrefix = "haddock-uid:"
)

// Engine labels (daemon.json "labels") every host's Docker Engine carries.
// Swarm reports them with the node (Node.EngineLabels), which is how a
// swarm node is matched to its host from the node list alone, and services
// can use them in placement constraints, e.g.
// "engine.labels.haddock.group == web".
const (
	EngineLabelCluster = "haddock.cluster"
	EngineLabelGroup   = "haddock.group"
	EngineLabelUID     = "haddock.uid"
)

// ManagersGroup is the group name of a cluster's managers. Node groups may
// not use it.
const ManagersGroup = "manager"

// Roles recorded in the role tag.
const (
	roleManager = "manager"
	roleWorker  = "worker"
)

// ClusterTag is the tag on every host of cluster uid.
func ClusterTag(clusterUID string) string { return TagClusterPrefix + clusterUID }

// GroupTag is the tag on every host of one group of cluster uid.
func GroupTag(clusterUID, group string) string {
	return TagGroupPrefix + clusterUID + ":" + group
}

// RoleTag is the tag recording the role a host joined with.
func RoleTag(role string) string { return TagRolePrefix + role }

// UIDTag is the tag recording a host's uid.
func UIDTag(hostUID string) string { return TagUIDPrefix + hostUID }

// HostTags are the tags a host of a group is created with, user tags
// (if any) last. cloud.ManagedTag is added by the drivers.
func HostTags(clusterUID, group, role, hostUID string, extra []string) []string {
	tags := []string{ClusterTag(clusterUID), GroupTag(clusterUID, group), RoleTag(role), UIDTag(hostUID)}
	for _, t := range extra {
		if !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	return tags
}

// HostUID returns the uid recorded in a host's tags, "" when there is none.
func HostUID(h cloud.Host) string {
	for _, t := range h.Tags {
		if uid, ok := strings.CutPrefix(t, TagUIDPrefix); ok {
			return uid
		}
	}
	return ""
}

// HostCluster returns the uid of the cluster a host's tags name, "" when
// the host is no cluster's.
func HostCluster(h cloud.Host) string {
	for _, t := range h.Tags {
		if uid, ok := strings.CutPrefix(t, TagClusterPrefix); ok {
			return uid
		}
	}
	return ""
}

// HostRole returns the role recorded in a host's tags, "" when there is
// none.
func HostRole(h cloud.Host) string {
	for _, t := range h.Tags {
		if r, ok := strings.CutPrefix(t, TagRolePrefix); ok {
			return r
		}
	}
	return ""
}

// HostGroup returns the group recorded in a host's tags for cluster uid,
// "" when the host belongs to no group of that cluster.
func HostGroup(h cloud.Host, clusterUID string) string {
	p := TagGroupPrefix + clusterUID + ":"
	for _, t := range h.Tags {
		if g, ok := strings.CutPrefix(t, p); ok {
			return g
		}
	}
	return ""
}

// Identity is the TLS identity of the host with this uid: the DNS SAN its
// engine's certificate carries and that every connection verifies.
func Identity(hostUID string) string { return pki.HostIdentity(hostUID) }

var (
	uidRE  = regexp.MustCompile(`^[a-z0-9]{8,32}$`)
	nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
)

// maxNameLen bounds group names and host name prefixes so that
// "<prefix>-<n>" stays a host name (a DNS label of at most 63 characters).
const maxNameLen = 50

// ValidateClusterUID checks a cluster uid read back from state.
func ValidateClusterUID(uid string) error {
	if !uidRE.MatchString(uid) {
		return fmt.Errorf("cluster uid %q is not 8 to 32 lower-case letters and digits", uid)
	}
	return nil
}

// ValidateGroupName checks a node group's name: it goes into tags, engine
// labels and (by default) host names, so it must be lower-case letters,
// digits and hyphens, at most 50 characters, and not ManagersGroup.
func ValidateGroupName(name string) error {
	if err := validateName("node group name", name); err != nil {
		return err
	}
	if name == ManagersGroup {
		return fmt.Errorf("node group name %q is reserved for the cluster's managers; choose another", name)
	}
	return nil
}

func validateName(what, name string) error {
	if len(name) == 0 || len(name) > maxNameLen || !nameRE.MatchString(name) {
		return fmt.Errorf("%s %q must be 1 to %d lower-case letters, digits and hyphens, starting and ending with a letter or digit", what, name, maxNameLen)
	}
	return nil
}

// hostIndex returns n when name is "<prefix>-<n>".
func hostIndex(prefix, name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, prefix+"-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 1 || strconv.Itoa(n) != rest {
		return 0, false
	}
	return n, true
}

// nextNames returns count host names "<prefix>-<n>", taking the lowest
// indexes no name in taken uses.
func nextNames(prefix string, taken []string, count int) []string {
	used := map[int]bool{}
	for _, n := range taken {
		if i, ok := hostIndex(prefix, n); ok {
			used[i] = true
		}
	}
	var out []string
	for i := 1; len(out) < count; i++ {
		if !used[i] {
			out = append(out, fmt.Sprintf("%s-%d", prefix, i))
		}
	}
	return out
}

// TagSpecPrefix + SpecHash(spec) records what a host was built from: a
// host whose tag differs from the desired spec's hash is out of date and
// a rolling replacement replaces it. An interrupted rollout resumes from
// these tags.
const TagSpecPrefix = "haddock-spec:"

// specDiffAt is SpecDiff for a host on vendor at: a host on another vendor
// than want.Cloud (a migration) is out of date whatever else it has.
func specDiffAt(at cloud.Name, h cloud.Host, want HostsSpec) []string {
	out := SpecDiff(h, want)
	if want.Cloud != "" && at != "" && at != want.Cloud {
		out = append([]string{fmt.Sprintf("cloud %s → %s", at, want.Cloud)}, out...)
	}
	return out
}

// SpecHash is the hash of what a host is built from and cannot change in
// place: region, size, image, SSH keys and user data (vendor-native
// values). Count, labels and extra tags are not in it: they change in
// place.
func SpecHash(s HostsSpec) string {
	keys := slices.Clone(s.SSHKeys)
	slices.Sort(keys)
	h := sha256.New()
	for _, f := range []string{"region", s.Region, "size", s.Size, "image", s.Image, "ssh_keys", strings.Join(keys, ","), "user_data", s.UserData} {
		_, _ = fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// SpecTag is the tag recording spec hash.
func SpecTag(hash string) string { return TagSpecPrefix + hash }

// HostSpecHash returns the spec hash recorded in a host's tags, "" for a
// host created before Haddock recorded it.
func HostSpecHash(h cloud.Host) string {
	for _, t := range h.Tags {
		if s, ok := strings.CutPrefix(t, TagSpecPrefix); ok {
			return s
		}
	}
	return ""
}

// SpecDiff says what differs between a host and the spec it should have
// been built from, nil when it is up to date. Region, size and image are
// compared as the vendor reports them; SSH keys and user data are known
// only through the spec tag. A host without the tag (created before
// Haddock recorded it) is judged on region, size and image alone.
func SpecDiff(h cloud.Host, want HostsSpec) []string {
	var out []string
	if h.Region != "" && h.Region != want.Region {
		out = append(out, fmt.Sprintf("region %s → %s", h.Region, want.Region))
	}
	if h.Size != "" && h.Size != want.Size {
		out = append(out, fmt.Sprintf("size %s → %s", h.Size, want.Size))
	}
	if h.Image != "" && h.Image != want.Image {
		out = append(out, fmt.Sprintf("image %s → %s", h.Image, want.Image))
	}
	if have := HostSpecHash(h); have != "" && have != SpecHash(want) && len(out) == 0 {
		out = append(out, "ssh_keys or user_data")
	}
	return out
}
