package digitalocean

import (
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
)

// Cloud firewalls (/v2/firewalls): the API keeps them as DigitalOcean
// spells them and hands the backend each droplet's effective inbound
// rules (localcloud.FirewallBackend): the union of the inbound rules of
// the firewalls naming the droplet or one of its tags, every source
// resolved to addresses as of now (droplets and tagged droplets by their
// public, private and IPv6 addresses, load balancers by theirs). A droplet
// in no firewall is not filtered. The rules follow droplets, tags and load
// balancers as they change. Outbound rules are kept and shown, not
// enforced. A change applies before the API answers, so a firewall is
// always "succeeded" with no pending changes. The API computes the rules
// (effectiveRules); a localcloud.FirewallPusher pushes those that changed.

type firewall struct {
	ID         string
	Name       string
	CreatedAt  time.Time
	Inbound    []inboundRuleJSON
	Outbound   []outboundRuleJSON
	DropletIDs []int
	Tags       []string
}

// fwTargets are a rule's sources (inbound) or destinations (outbound).
type fwTargets struct {
	Addresses        []string `json:"addresses,omitempty"`
	DropletIDs       []int    `json:"droplet_ids,omitempty"`
	LoadBalancerUIDs []string `json:"load_balancer_uids,omitempty"`
	KubernetesIDs    []string `json:"kubernetes_ids,omitempty"`
	Tags             []string `json:"tags,omitempty"`
}

func (t *fwTargets) empty() bool {
	return t == nil || len(t.Addresses)+len(t.DropletIDs)+len(t.LoadBalancerUIDs)+len(t.KubernetesIDs)+len(t.Tags) == 0
}

type inboundRuleJSON struct {
	Protocol string     `json:"protocol"`
	Ports    string     `json:"ports"`
	Sources  *fwTargets `json:"sources"`
	// Action is godo's (allow or deny); requests only.
	Action string `json:"action,omitempty"`
}

type outboundRuleJSON struct {
	Protocol     string     `json:"protocol"`
	Ports        string     `json:"ports"`
	Destinations *fwTargets `json:"destinations"`
	Action       string     `json:"action,omitempty"`
}

type pendingChangeJSON struct {
	DropletID int    `json:"droplet_id"`
	Removing  bool   `json:"removing"`
	Status    string `json:"status"`
}

type firewallJSON struct {
	ID             string              `json:"id"`
	Name           string              `json:"name"`
	Status         string              `json:"status"`
	CreatedAt      string              `json:"created_at"`
	PendingChanges []pendingChangeJSON `json:"pending_changes"`
	InboundRules   []inboundRuleJSON   `json:"inbound_rules"`
	OutboundRules  []outboundRuleJSON  `json:"outbound_rules"`
	DropletIDs     []int               `json:"droplet_ids"`
	Tags           []string            `json:"tags"`
}

// firewallRequest is a create or update body; an update replaces all.
type firewallRequest struct {
	Name          string             `json:"name"`
	InboundRules  []inboundRuleJSON  `json:"inbound_rules"`
	OutboundRules []outboundRuleJSON `json:"outbound_rules"`
	DropletIDs    []int              `json:"droplet_ids"`
	Tags          []string           `json:"tags"`
}

type fwRulesRequest struct {
	InboundRules  []inboundRuleJSON  `json:"inbound_rules"`
	OutboundRules []outboundRuleJSON `json:"outbound_rules"`
}

// fwNameRE is the spec's name pattern: at least two characters.
var fwNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9.-]+$`)

func (a *API) firewallRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /v2/firewalls", a.listFirewalls)
	m.HandleFunc("POST /v2/firewalls", a.createFirewall)
	m.HandleFunc("GET /v2/firewalls/{firewall_id}", a.getFirewall)
	m.HandleFunc("PUT /v2/firewalls/{firewall_id}", a.updateFirewall)
	m.HandleFunc("DELETE /v2/firewalls/{firewall_id}", a.deleteFirewall)
	m.HandleFunc("POST /v2/firewalls/{firewall_id}/droplets", a.firewallDroplets(true))
	m.HandleFunc("DELETE /v2/firewalls/{firewall_id}/droplets", a.firewallDroplets(false))
	m.HandleFunc("POST /v2/firewalls/{firewall_id}/tags", a.firewallTags(true))
	m.HandleFunc("DELETE /v2/firewalls/{firewall_id}/tags", a.firewallTags(false))
	m.HandleFunc("POST /v2/firewalls/{firewall_id}/rules", a.firewallRules(true))
	m.HandleFunc("DELETE /v2/firewalls/{firewall_id}/rules", a.firewallRules(false))
	m.HandleFunc("GET /v2/droplets/{id}/firewalls", a.listDropletFirewalls)
}

// Validation

// parsePorts reads a rule's ports: "all" or "0" (every port, 0-0), "N"
// or "N-M" within 1-65535; icmp has none ("" or "0"). canon is how the
// API shows them ("0" for every port, and for icmp).
func parsePorts(protocol, ports string) (canon string, from, to int, msg string) {
	if protocol == "icmp" {
		if ports != "" && ports != "0" {
			return "", 0, 0, fmt.Sprintf("icmp rules take no ports, not %q", ports)
		}
		return "0", 0, 0, ""
	}
	switch ports {
	case "":
		return "", 0, 0, "is required for tcp and udp rules (\"all\", a port or a range such as 8000-9000)"
	case "all", "0":
		return "0", 0, 0, ""
	}
	lo, hi, isRange := strings.Cut(ports, "-")
	from, err1 := strconv.Atoi(lo)
	to, err2 := from, error(nil)
	if isRange {
		to, err2 = strconv.Atoi(hi)
	}
	if err1 != nil || err2 != nil || from < 1 || to > 65535 || from > to {
		return "", 0, 0, fmt.Sprintf("%q is not \"all\", a port or a range of ports between 1 and 65535", ports)
	}
	return ports, from, to, ""
}

// checkRule validates one rule (field names it: "inbound_rules[0]") and
// returns its ports as the API shows them. With exist, the droplets and
// load balancers it names must exist (adding a rule; removing one need
// not). Call with the lock held.
func (a *API) checkRule(field, protocol, ports, action string, t *fwTargets, targets string, exist bool, now time.Time) (string, string) {
	switch protocol {
	case "tcp", "udp", "icmp":
	case "":
		return "", field + ".protocol is required (tcp, udp or icmp)."
	default:
		return "", fmt.Sprintf("%s.protocol must be tcp, udp or icmp, not %q.", field, protocol)
	}
	canon, _, _, msg := parsePorts(protocol, ports)
	if msg != "" {
		return "", fmt.Sprintf("%s.ports %s.", field, msg)
	}
	if action != "" && action != "allow" {
		return "", fmt.Sprintf("%s.action %q: localcloud's firewall rules only allow.", field, action)
	}
	if t.empty() {
		return "", fmt.Sprintf("%s.%s must name at least one address, droplet, load balancer or tag.", field, targets)
	}
	for _, s := range t.Addresses {
		if _, err := parsePrefix(s); err != nil {
			return "", fmt.Sprintf("%s.%s.addresses: %q is not an IP address or CIDR range.", field, targets, s)
		}
	}
	for _, s := range t.Tags {
		if !validTagName(s) {
			return "", fmt.Sprintf("%s.%s.tags: %q is not a valid tag name.", field, targets, s)
		}
	}
	if !exist {
		return canon, ""
	}
	for _, id := range t.DropletIDs {
		if !a.dropletAlive(id, now) {
			return "", fmt.Sprintf("%s.%s.droplet_ids: Droplet %d could not be found.", field, targets, id)
		}
	}
	for _, id := range t.LoadBalancerUIDs {
		if a.st.lbs[id] == nil {
			return "", fmt.Sprintf("%s.%s.load_balancer_uids: Load balancer %s could not be found.", field, targets, id)
		}
	}
	if len(t.KubernetesIDs) > 0 {
		return "", fmt.Sprintf("%s.%s.kubernetes_ids: Kubernetes cluster %s could not be found (localcloud has none).", field, targets, t.KubernetesIDs[0])
	}
	return canon, ""
}

// dropletAlive reports whether droplet id exists and is not being
// deleted. Call with the lock held.
func (a *API) dropletAlive(id int, now time.Time) bool {
	d, ok := a.getDroplet(id, now)
	return ok && d.DeletedAt.IsZero()
}

// checkRules validates rules and returns them as the API keeps them
// (ports canonical, no action). Call with the lock held.
func (a *API) checkRules(in []inboundRuleJSON, out []outboundRuleJSON, exist bool, now time.Time) ([]inboundRuleJSON, []outboundRuleJSON, string) {
	ins, outs := []inboundRuleJSON{}, []outboundRuleJSON{}
	for i, r := range in {
		ports, msg := a.checkRule(fmt.Sprintf("inbound_rules[%d]", i), r.Protocol, r.Ports, r.Action, r.Sources, "sources", exist, now)
		if msg != "" {
			return nil, nil, msg
		}
		ins = append(ins, inboundRuleJSON{Protocol: r.Protocol, Ports: ports, Sources: cloneTargets(r.Sources)})
	}
	for i, r := range out {
		ports, msg := a.checkRule(fmt.Sprintf("outbound_rules[%d]", i), r.Protocol, r.Ports, r.Action, r.Destinations, "destinations", exist, now)
		if msg != "" {
			return nil, nil, msg
		}
		outs = append(outs, outboundRuleJSON{Protocol: r.Protocol, Ports: ports, Destinations: cloneTargets(r.Destinations)})
	}
	return ins, outs, ""
}

func cloneTargets(t *fwTargets) *fwTargets {
	return &fwTargets{
		Addresses: slices.Clone(t.Addresses), DropletIDs: slices.Clone(t.DropletIDs), LoadBalancerUIDs: slices.Clone(t.LoadBalancerUIDs),
		KubernetesIDs: slices.Clone(t.KubernetesIDs), Tags: slices.Clone(t.Tags),
	}
}

// checkFirewallDroplets validates a firewall's droplet ids, without
// duplicates. Call with the lock held.
func (a *API) checkFirewallDroplets(ids []int, now time.Time) ([]int, string) {
	out := []int{}
	for _, id := range ids {
		if !a.dropletAlive(id, now) {
			return nil, fmt.Sprintf("droplet_ids: Droplet %d could not be found.", id)
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, ""
}

// checkFirewallTags validates tag names, without duplicates (compared as
// droplets' tags are, case-insensitively). They need not exist yet: a
// firewall may name the tag of droplets to come.
func checkFirewallTags(tags []string) ([]string, string) {
	out := []string{}
	for _, t := range tags {
		if !validTagName(t) {
			return nil, fmt.Sprintf("tags: %q is not a valid tag name (letters, digits, colons, dashes and underscores).", t)
		}
		if !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, t) }) {
			out = append(out, t)
		}
	}
	return out, ""
}

// checkFirewall validates a create or update body into fw (keeping its
// id and creation time). Call with the lock held.
func (a *API) checkFirewall(req *firewallRequest, fw *firewall, now time.Time) string {
	switch {
	case req.Name == "":
		return "name is required."
	case len(req.Name) > 255 || !fwNameRE.MatchString(req.Name):
		return "name must be 2 to 255 letters, digits, '.' and '-', starting with a letter or digit."
	case len(req.InboundRules)+len(req.OutboundRules) == 0:
		return "inbound_rules or outbound_rules: a firewall needs at least one rule."
	}
	in, out, msg := a.checkRules(req.InboundRules, req.OutboundRules, true, now)
	if msg != "" {
		return msg
	}
	ids, msg := a.checkFirewallDroplets(req.DropletIDs, now)
	if msg != "" {
		return msg
	}
	tags, msg := checkFirewallTags(req.Tags)
	if msg != "" {
		return msg
	}
	fw.Name, fw.Inbound, fw.Outbound, fw.DropletIDs, fw.Tags = req.Name, in, out, ids, tags
	return ""
}

// Rendering

// renderTargets is t without the droplets and load balancers that are
// gone: DigitalOcean drops them from its firewalls. Call with the lock
// held.
func (a *API) renderTargets(t *fwTargets, now time.Time) *fwTargets {
	out := cloneTargets(t)
	out.DropletIDs = slices.DeleteFunc(out.DropletIDs, func(id int) bool { return !a.dropletAlive(id, now) })
	out.LoadBalancerUIDs = slices.DeleteFunc(out.LoadBalancerUIDs, func(id string) bool { return a.st.lbs[id] == nil })
	return out
}

// renderFirewall renders fw. Call with the lock held.
func (a *API) renderFirewall(fw *firewall, now time.Time) firewallJSON {
	out := firewallJSON{
		ID: fw.ID, Name: fw.Name, Status: "succeeded", CreatedAt: ts(fw.CreatedAt), PendingChanges: []pendingChangeJSON{},
		InboundRules: []inboundRuleJSON{}, OutboundRules: []outboundRuleJSON{}, DropletIDs: []int{}, Tags: slices.Clone(fw.Tags),
	}
	for _, r := range fw.Inbound {
		out.InboundRules = append(out.InboundRules, inboundRuleJSON{Protocol: r.Protocol, Ports: r.Ports, Sources: a.renderTargets(r.Sources, now)})
	}
	for _, r := range fw.Outbound {
		out.OutboundRules = append(out.OutboundRules, outboundRuleJSON{Protocol: r.Protocol, Ports: r.Ports, Destinations: a.renderTargets(r.Destinations, now)})
	}
	for _, id := range fw.DropletIDs {
		if a.dropletAlive(id, now) {
			out.DropletIDs = append(out.DropletIDs, id)
		}
	}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	return out
}

// sortedFirewalls lists the firewalls oldest first. Call with the lock
// held.
func (a *API) sortedFirewalls() []*firewall {
	out := make([]*firewall, 0, len(a.st.fws))
	for _, fw := range a.st.fws {
		out = append(out, fw)
	}
	slices.SortFunc(out, func(x, y *firewall) int {
		if c := x.CreatedAt.Compare(y.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	return out
}

// appliesTo reports whether fw filters droplet d: by id or by tag.
func (fw *firewall) appliesTo(d *localcloud.Host) bool {
	return slices.Contains(fw.DropletIDs, d.ID) || slices.ContainsFunc(fw.Tags, d.HasTag)
}

// Handlers

func (a *API) listFirewalls(w http.ResponseWriter, r *http.Request) {
	now := a.s.Now()
	a.s.Lock()
	fws := a.sortedFirewalls()
	out := make([]firewallJSON, len(fws))
	for i, fw := range fws {
		out[i] = a.renderFirewall(fw, now)
	}
	a.s.Unlock()
	writeList(w, r, "firewalls", out)
}

func (a *API) listDropletFirewalls(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	now := a.s.Now()
	a.s.Lock()
	d, found := a.getDroplet(id, now)
	out := []firewallJSON{}
	if ok && found {
		for _, fw := range a.sortedFirewalls() {
			if fw.appliesTo(d.Host) {
				out = append(out, a.renderFirewall(fw, now))
			}
		}
	}
	a.s.Unlock()
	if !ok || !found {
		ew(w).notFound()
		return
	}
	writeList(w, r, "firewalls", out)
}

func (a *API) getFirewall(w http.ResponseWriter, r *http.Request) {
	now := a.s.Now()
	a.s.Lock()
	fw := a.st.fws[r.PathValue("firewall_id")]
	var out firewallJSON
	if fw != nil {
		out = a.renderFirewall(fw, now)
	}
	a.s.Unlock()
	if fw == nil {
		ew(w).notFound()
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"firewall": out})
}

func (a *API) createFirewall(w http.ResponseWriter, r *http.Request) {
	var req firewallRequest
	if !decodeBody(w, r, &req) {
		return
	}
	now := a.s.Now()
	fw := &firewall{}
	a.s.Lock()
	msg := a.checkFirewall(&req, fw, now)
	if msg == "" {
		fw.ID, fw.CreatedAt = localcloud.NewUUID(), now
		a.st.fws[fw.ID] = fw
	}
	a.s.Unlock()
	if msg != "" {
		ew(w).unprocessable("%s", msg)
		return
	}
	a.fw.Sync(false)
	a.s.Lock()
	out := a.renderFirewall(fw, a.s.Now())
	a.s.Unlock()
	// The spec answers a create 202, with the firewall.
	writeJSON(w, http.StatusAccepted, map[string]any{"firewall": out})
}

// changeFirewall changes the request's firewall with change (under the
// lock; it returns a 422 message or ""), has the backend apply the
// droplets' new rules, then answers with answer (under the lock).
func (a *API) changeFirewall(w http.ResponseWriter, r *http.Request, change func(fw *firewall, now time.Time) string, answer func(fw *firewall, now time.Time)) {
	now := a.s.Now()
	a.s.Lock()
	fw := a.st.fws[r.PathValue("firewall_id")]
	msg := ""
	if fw != nil {
		msg = change(fw, now)
	}
	a.s.Unlock()
	switch {
	case fw == nil:
		ew(w).notFound()
		return
	case msg != "":
		ew(w).unprocessable("%s", msg)
		return
	}
	a.fw.Sync(false)
	a.s.Lock()
	defer a.s.Unlock()
	answer(fw, a.s.Now())
}

func (a *API) updateFirewall(w http.ResponseWriter, r *http.Request) {
	var req firewallRequest
	if !decodeBody(w, r, &req) {
		return
	}
	a.changeFirewall(w, r, func(fw *firewall, now time.Time) string {
		next := *fw
		if msg := a.checkFirewall(&req, &next, now); msg != "" {
			return msg
		}
		*fw = next
		return ""
	}, func(fw *firewall, now time.Time) {
		writeJSON(w, http.StatusOK, map[string]any{"firewall": a.renderFirewall(fw, now)})
	})
}

func (a *API) deleteFirewall(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("firewall_id")
	a.s.Lock()
	fw := a.st.fws[id]
	delete(a.st.fws, id)
	a.s.Unlock()
	if fw == nil {
		ew(w).notFound()
		return
	}
	a.fw.Sync(false)
	noContent(w, false)
}

func noContentAnswer(w http.ResponseWriter) func(*firewall, time.Time) {
	return func(*firewall, time.Time) { noContent(w, false) }
}

// firewallDroplets adds (POST) or removes (DELETE) droplets by id.
func (a *API) firewallDroplets(add bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			DropletIDs []int `json:"droplet_ids"`
		}
		if !decodeBody(w, r, &req) {
			return
		}
		a.changeFirewall(w, r, func(fw *firewall, now time.Time) string {
			if len(req.DropletIDs) == 0 {
				return "droplet_ids must list at least one droplet."
			}
			if !add {
				fw.DropletIDs = slices.DeleteFunc(fw.DropletIDs, func(id int) bool { return slices.Contains(req.DropletIDs, id) })
				return ""
			}
			ids, msg := a.checkFirewallDroplets(append(slices.Clone(fw.DropletIDs), req.DropletIDs...), now)
			if msg == "" {
				fw.DropletIDs = ids
			}
			return msg
		}, noContentAnswer(w))
	}
}

// firewallTags adds (POST) or removes (DELETE) tags.
func (a *API) firewallTags(add bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Tags []string `json:"tags"`
		}
		if !decodeBody(w, r, &req) {
			return
		}
		a.changeFirewall(w, r, func(fw *firewall, _ time.Time) string {
			if len(req.Tags) == 0 {
				return "tags must list at least one tag."
			}
			if !add {
				fw.Tags = slices.DeleteFunc(fw.Tags, func(t string) bool {
					return slices.ContainsFunc(req.Tags, func(x string) bool { return strings.EqualFold(x, t) })
				})
				return ""
			}
			tags, msg := checkFirewallTags(append(slices.Clone(fw.Tags), req.Tags...))
			if msg == "" {
				fw.Tags = tags
			}
			return msg
		}, noContentAnswer(w))
	}
}

// firewallRules adds (POST) or removes (DELETE) rules. A rule to remove
// matches a rule of the firewall with the same protocol, ports and
// targets, in any order; one that matches none is ignored.
func (a *API) firewallRules(add bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req fwRulesRequest
		if !decodeBody(w, r, &req) {
			return
		}
		a.changeFirewall(w, r, func(fw *firewall, now time.Time) string {
			if len(req.InboundRules)+len(req.OutboundRules) == 0 {
				return "inbound_rules or outbound_rules must list at least one rule."
			}
			in, out, msg := a.checkRules(req.InboundRules, req.OutboundRules, add, now)
			if msg != "" {
				return msg
			}
			if add {
				fw.Inbound, fw.Outbound = append(fw.Inbound, in...), append(fw.Outbound, out...)
				return ""
			}
			gone := map[string]bool{}
			for _, r := range in {
				gone[ruleKey("in", r.Protocol, r.Ports, r.Sources)] = true
			}
			for _, r := range out {
				gone[ruleKey("out", r.Protocol, r.Ports, r.Destinations)] = true
			}
			fw.Inbound = slices.DeleteFunc(fw.Inbound, func(r inboundRuleJSON) bool { return gone[ruleKey("in", r.Protocol, r.Ports, r.Sources)] })
			fw.Outbound = slices.DeleteFunc(fw.Outbound, func(r outboundRuleJSON) bool { return gone[ruleKey("out", r.Protocol, r.Ports, r.Destinations)] })
			return ""
		}, noContentAnswer(w))
	}
}

// ruleKey identifies a rule whatever the order of its targets.
func ruleKey(dir, protocol, ports string, t *fwTargets) string {
	sorted := func(s []string) string {
		s = slices.Clone(s)
		slices.Sort(s)
		return strings.Join(s, ",")
	}
	ids := slices.Clone(t.DropletIDs)
	slices.Sort(ids)
	tags := make([]string, len(t.Tags))
	for i, tg := range t.Tags {
		tags[i] = strings.ToLower(tg)
	}
	return fmt.Sprintf("%s %s %s a=%s d=%v l=%s k=%s t=%s", dir, protocol, ports,
		sorted(t.Addresses), ids, sorted(t.LoadBalancerUIDs), sorted(t.KubernetesIDs), sorted(tags))
}

// Effective rules

// effectiveRules is every droplet's effective inbound rules as of now, by
// droplet id, for the droplets that are not being deleted: nil for a
// droplet in no firewall, else the union of its firewalls' inbound rules
// (sorted, without duplicates; a rule whose sources match nothing admits
// nothing). Call with the lock held.
func (a *API) effectiveRules(now time.Time) map[int][]localcloud.FirewallRule {
	var live []droplet
	for _, d := range a.liveDroplets(now) {
		if d.DeletedAt.IsZero() {
			live = append(live, d)
		}
	}
	fws := a.sortedFirewalls()
	out := make(map[int][]localcloud.FirewallRule, len(live))
	for _, d := range live {
		var rules []localcloud.FirewallRule
		for _, fw := range fws {
			if !fw.appliesTo(d.Host) {
				continue
			}
			if rules == nil {
				rules = []localcloud.FirewallRule{}
			}
			for _, r := range fw.Inbound {
				_, from, to, _ := parsePorts(r.Protocol, r.Ports)
				rules = append(rules, localcloud.FirewallRule{Protocol: r.Protocol, FromPort: from, ToPort: to, Sources: a.resolveSources(r.Sources, live)})
			}
		}
		out[d.ID] = localcloud.CanonicalFirewallRules(rules)
	}
	return out
}

// resolveSources is the address ranges t names: its addresses, and the
// addresses of its droplets, of the droplets carrying its tags and of its
// load balancers. Call with the lock held.
func (a *API) resolveSources(t *fwTargets, live []droplet) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range t.Addresses {
		if p, err := parsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	for _, d := range live {
		if slices.Contains(t.DropletIDs, d.ID) || slices.ContainsFunc(t.Tags, d.HasTag) {
			out = append(out, dropletPrefixes(d.Host)...)
		}
	}
	for _, id := range t.LoadBalancerUIDs {
		if lb := a.st.lbs[id]; lb != nil && lb.IP.IsValid() {
			out = append(out, netip.PrefixFrom(lb.IP, lb.IP.BitLen()))
		}
	}
	return out
}

// dropletPrefixes are the addresses droplet h sends from: public and
// private IPv4, and IPv6 when it has it; none before it is provisioned.
func dropletPrefixes(h *localcloud.Host) []netip.Prefix {
	var out []netip.Prefix
	if !h.Provisioned {
		return nil
	}
	for _, p := range []netip.Prefix{h.Addrs.PublicIPv4, h.Addrs.PrivateIPv4, h.Addrs.PublicIPv6} {
		if p.IsValid() {
			out = append(out, netip.PrefixFrom(p.Addr(), p.Addr().BitLen()))
		}
	}
	return out
}

// firewallProvisioned hears that droplet h was provisioned: its rules are
// pushed again when a firewall names it, or it got rules before, and a
// droplet a firewall names stays "new" until they are, so it never shows
// active unfiltered (localcloud.FirewallPusher.Provisioned). Call with the
// lock held.
func (a *API) firewallProvisioned(h *localcloud.Host) {
	a.fw.Provisioned(h.ID, slices.ContainsFunc(slices.Collect(maps.Values(a.st.fws)), func(fw *firewall) bool { return fw.appliesTo(h) }))
}

// Persistence

// savedFirewall is a firewall in the state file, its rules as the API
// shows them.
type savedFirewall struct {
	ID         string             `json:"id"`
	Name       string             `json:"name"`
	CreatedAt  time.Time          `json:"created_at"`
	Inbound    []inboundRuleJSON  `json:"inbound_rules"`
	Outbound   []outboundRuleJSON `json:"outbound_rules"`
	DropletIDs []int              `json:"droplet_ids"`
	Tags       []string           `json:"tags"`
}

func (a *API) saveFirewalls() []savedFirewall {
	out := []savedFirewall{}
	for _, fw := range a.sortedFirewalls() {
		out = append(out, savedFirewall{fw.ID, fw.Name, fw.CreatedAt, fw.Inbound, fw.Outbound, fw.DropletIDs, fw.Tags})
	}
	return out
}

// loadFirewalls restores the firewalls. Every droplet's rules are pushed
// again once the backend has its hosts back (see SaveState).
func (a *API) loadFirewalls(in []savedFirewall) error {
	for _, s := range in {
		for i, r := range s.Inbound {
			if _, _, _, msg := parsePorts(r.Protocol, r.Ports); msg != "" || r.Sources == nil {
				return fmt.Errorf("firewall %s: inbound rule %d is invalid", s.ID, i)
			}
		}
		for i, r := range s.Outbound {
			if _, _, _, msg := parsePorts(r.Protocol, r.Ports); msg != "" || r.Destinations == nil {
				return fmt.Errorf("firewall %s: outbound rule %d is invalid", s.ID, i)
			}
		}
		a.st.fws[s.ID] = &firewall{ID: s.ID, Name: s.Name, CreatedAt: s.CreatedAt, Inbound: s.Inbound, Outbound: s.Outbound, DropletIDs: s.DropletIDs, Tags: s.Tags}
	}
	a.fw.Loaded()
	return nil
}
