package digitalocean

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
)

// Load balancers (/v2/load_balancers): each is a real load balancer of the
// backend (netnsbackend: HAProxy in a namespace of its own) with its own
// address. Create answers "new"; the load balancer turns "active" once the
// backend serves it (or "errored"). Adding and removing droplets, and
// updates, apply before the answer, without dropping established
// connections. Traffic goes to the droplets' private addresses; a droplet
// that is deleted leaves its load balancers. localcloud has no
// certificates: an https entry must pass TLS through (tls_passthrough),
// and it has no UDP.

// LoadBalancerLimit is the account's load balancer limit.
const LoadBalancerLimit = 10

type loadBalancer struct {
	ID                  string
	Name                string
	Region              string
	Type                string // REGIONAL or REGIONAL_NETWORK
	SizeUnit            int
	Rules               []fwdRuleJSON
	Check               healthCheckJSON
	Sticky              stickyJSON
	Redirect            bool
	HTTPIdleTimeout     int
	Droplets            []int
	IP                  netip.Addr
	Status              string
	CreatedAt           time.Time
	EnableProxyProtocol bool
	EnableKeepalive     bool
}

type fwdRuleJSON struct {
	EntryProtocol  string `json:"entry_protocol"`
	EntryPort      int    `json:"entry_port"`
	TargetProtocol string `json:"target_protocol"`
	TargetPort     int    `json:"target_port"`
	CertificateID  string `json:"certificate_id"`
	TLSPassthrough bool   `json:"tls_passthrough"`
}

type healthCheckJSON struct {
	Protocol               string `json:"protocol"`
	Port                   int    `json:"port"`
	Path                   string `json:"path"`
	CheckIntervalSeconds   int    `json:"check_interval_seconds"`
	ResponseTimeoutSeconds int    `json:"response_timeout_seconds"`
	UnhealthyThreshold     int    `json:"unhealthy_threshold"`
	HealthyThreshold       int    `json:"healthy_threshold"`
}

type stickyJSON struct {
	Type             string `json:"type"`
	CookieName       string `json:"cookie_name,omitempty"`
	CookieTTLSeconds int    `json:"cookie_ttl_seconds,omitempty"`
}

// lbRequest is a create or update body (POST, PUT).
type lbRequest struct {
	Name                  string           `json:"name"`
	Region                string           `json:"region"`
	Type                  string           `json:"type"`
	SizeUnit              int              `json:"size_unit"`
	Size                  string           `json:"size"`
	ForwardingRules       []fwdRuleJSON    `json:"forwarding_rules"`
	HealthCheck           *healthCheckJSON `json:"health_check"`
	StickySessions        *stickyJSON      `json:"sticky_sessions"`
	RedirectHTTPToHTTPS   bool             `json:"redirect_http_to_https"`
	EnableProxyProtocol   bool             `json:"enable_proxy_protocol"`
	EnableBackendKeepalve bool             `json:"enable_backend_keepalive"`
	HTTPIdleTimeout       int              `json:"http_idle_timeout_seconds"`
	DropletIDs            []int            `json:"droplet_ids"`
	Tag                   string           `json:"tag"`
	VPCUUID               string           `json:"vpc_uuid"`
	ProjectID             string           `json:"project_id"`
	Network               string           `json:"network"`
	Algorithm             string           `json:"algorithm"`
}

type loadBalancerJSON struct {
	ID                     string          `json:"id"`
	Name                   string          `json:"name"`
	IP                     string          `json:"ip"`
	SizeUnit               int             `json:"size_unit"`
	Type                   string          `json:"type"`
	Status                 string          `json:"status"`
	CreatedAt              string          `json:"created_at"`
	ForwardingRules        []fwdRuleJSON   `json:"forwarding_rules"`
	HealthCheck            healthCheckJSON `json:"health_check"`
	StickySessions         stickyJSON      `json:"sticky_sessions"`
	RedirectHTTPToHTTPS    bool            `json:"redirect_http_to_https"`
	EnableProxyProtocol    bool            `json:"enable_proxy_protocol"`
	EnableBackendKeepalive bool            `json:"enable_backend_keepalive"`
	HTTPIdleTimeoutSeconds int             `json:"http_idle_timeout_seconds"`
	VPCUUID                string          `json:"vpc_uuid"`
	Network                string          `json:"network"`
	NetworkStack           string          `json:"network_stack"`
	Region                 regionJSON      `json:"region"`
	DropletIDs             []int           `json:"droplet_ids"`
	ProjectID              string          `json:"project_id"`
}

var lbNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,254}$`)

func (a *API) lbRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /v2/load_balancers", a.listLBs)
	m.HandleFunc("POST /v2/load_balancers", a.createLB)
	m.HandleFunc("GET /v2/load_balancers/{lb_id}", a.getLB)
	m.HandleFunc("PUT /v2/load_balancers/{lb_id}", a.updateLB)
	m.HandleFunc("DELETE /v2/load_balancers/{lb_id}", a.deleteLB)
	m.HandleFunc("POST /v2/load_balancers/{lb_id}/droplets", a.addLBDroplets)
	m.HandleFunc("DELETE /v2/load_balancers/{lb_id}/droplets", a.removeLBDroplets)
}

// liveLBDroplets is lb's droplets that still exist. Call with the lock
// held.
func (a *API) liveLBDroplets(lb *loadBalancer, now time.Time) []int {
	out := []int{}
	for _, id := range lb.Droplets {
		if d, ok := a.getDroplet(id, now); ok && d.DeletedAt.IsZero() {
			out = append(out, id)
		}
	}
	return out
}

func (a *API) renderLB(lb *loadBalancer, now time.Time) loadBalancerJSON {
	ip := ""
	if lb.IP.IsValid() {
		ip = lb.IP.String()
	}
	reg, _ := findRegion(lb.Region)
	rules := slices.Clone(lb.Rules)
	return loadBalancerJSON{
		ID: lb.ID, Name: lb.Name, IP: ip, SizeUnit: lb.SizeUnit, Type: lb.Type, Status: lb.Status,
		CreatedAt: ts(lb.CreatedAt), ForwardingRules: rules, HealthCheck: lb.Check, StickySessions: lb.Sticky,
		RedirectHTTPToHTTPS: lb.Redirect, EnableProxyProtocol: lb.EnableProxyProtocol, EnableBackendKeepalive: lb.EnableKeepalive,
		HTTPIdleTimeoutSeconds: lb.HTTPIdleTimeout, VPCUUID: vpcUUID(lb.Region), Network: "EXTERNAL", NetworkStack: "IPV4",
		Region: renderRegion(reg), DropletIDs: a.liveLBDroplets(lb, now), ProjectID: a.projectOf("do:loadbalancer:" + lb.ID),
	}
}

func (a *API) listLBs(w http.ResponseWriter, r *http.Request) {
	now := a.s.Now()
	a.s.Lock()
	lbs := make([]*loadBalancer, 0, len(a.st.lbs))
	for _, lb := range a.st.lbs {
		lbs = append(lbs, lb)
	}
	slices.SortFunc(lbs, func(x, y *loadBalancer) int {
		if c := x.CreatedAt.Compare(y.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	out := make([]loadBalancerJSON, len(lbs))
	for i, lb := range lbs {
		out[i] = a.renderLB(lb, now)
	}
	a.s.Unlock()
	writeList(w, r, "load_balancers", out)
}

func (a *API) getLB(w http.ResponseWriter, r *http.Request) {
	now := a.s.Now()
	a.s.Lock()
	lb := a.st.lbs[r.PathValue("lb_id")]
	var out loadBalancerJSON
	if lb != nil {
		out = a.renderLB(lb, now)
	}
	a.s.Unlock()
	if lb == nil {
		ew(w).notFound()
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"load_balancer": out})
}

// checkLBRequest validates a create or update body and fills the API's
// defaults into lb; it returns the 422 message, "" when it is valid. Call
// with the lock held.
func (a *API) checkLBRequest(req *lbRequest, lb *loadBalancer, now time.Time) string {
	switch {
	case req.Name == "":
		return "name is required"
	case !lbNameRe.MatchString(req.Name):
		return "name must be 1 to 255 letters, digits, dots and hyphens, starting with a letter or digit"
	case req.Region == "":
		return "region is required"
	case len(req.ForwardingRules) == 0:
		return "At least one forwarding rule is required."
	case req.Tag != "" && len(req.DropletIDs) > 0:
		return "Specify either droplet_ids or tag, not both."
	case req.Tag != "":
		return "localcloud assigns droplets by id only: use droplet_ids"
	}
	reg, ok := findRegion(req.Region)
	if !ok {
		return "You specified an invalid region."
	}
	if !reg.Available {
		return "Region is not available."
	}
	typ := req.Type
	if typ == "" {
		typ = "REGIONAL"
	}
	if typ != "REGIONAL" && typ != "REGIONAL_NETWORK" {
		return fmt.Sprintf("type %q is not offered by localcloud: use REGIONAL or REGIONAL_NETWORK", req.Type)
	}
	ports := map[int]bool{}
	for _, fr := range req.ForwardingRules {
		if msg := checkRule(fr, typ); msg != "" {
			return msg
		}
		if ports[fr.EntryPort] {
			return fmt.Sprintf("Forwarding rules cannot share entry port %d.", fr.EntryPort)
		}
		ports[fr.EntryPort] = true
	}
	hc := healthCheckJSON{Protocol: "http", Port: 80, Path: "/", CheckIntervalSeconds: 10, ResponseTimeoutSeconds: 5, UnhealthyThreshold: 5, HealthyThreshold: 3}
	if c := req.HealthCheck; c != nil {
		hc = mergeHealthCheck(hc, *c)
	}
	if msg := checkHealthCheck(hc); msg != "" {
		return msg
	}
	sticky := stickyJSON{Type: "none"}
	if s := req.StickySessions; s != nil && s.Type != "" && s.Type != "none" {
		if s.Type != "cookies" {
			return "sticky_sessions.type must be cookies or none"
		}
		if s.CookieName == "" || s.CookieTTLSeconds <= 0 {
			return "sticky_sessions with cookies need cookie_name and cookie_ttl_seconds"
		}
		sticky = *s
	}
	idle := req.HTTPIdleTimeout
	if idle == 0 {
		idle = 60
	}
	if idle < 30 || idle > 600 {
		return "http_idle_timeout_seconds must be between 30 and 600"
	}
	unit := req.SizeUnit
	if unit == 0 {
		unit = 1
	}
	if unit < 1 || unit > 100 {
		return "size_unit must be between 1 and 100"
	}
	droplets := []int{}
	for _, id := range req.DropletIDs {
		d, ok := a.getDroplet(id, now)
		if !ok || !d.DeletedAt.IsZero() {
			return fmt.Sprintf("Droplet %d could not be found.", id)
		}
		if d.Region != reg.Slug {
			return fmt.Sprintf("Droplet %d is not in the load balancer's region %s.", id, reg.Slug)
		}
		if !slices.Contains(droplets, id) {
			droplets = append(droplets, id)
		}
	}
	if lb.ID != "" && (typ != lb.Type || reg.Slug != lb.Region) {
		return "The type and region of a load balancer cannot be changed."
	}
	lb.Name, lb.Region, lb.Type, lb.SizeUnit = req.Name, reg.Slug, typ, unit
	lb.Rules, lb.Check, lb.Sticky, lb.Redirect, lb.HTTPIdleTimeout = slices.Clone(req.ForwardingRules), hc, sticky, req.RedirectHTTPToHTTPS, idle
	lb.EnableProxyProtocol, lb.EnableKeepalive = req.EnableProxyProtocol, req.EnableBackendKeepalve
	lb.Droplets = droplets
	return ""
}

func checkRule(fr fwdRuleJSON, typ string) string {
	protos := map[string]bool{"http": true, "https": true, "http2": true, "tcp": true}
	switch {
	case fr.EntryProtocol == "udp" || fr.TargetProtocol == "udp" || fr.EntryProtocol == "http3":
		return "localcloud load balancers carry no UDP (HAProxy): use tcp, http or https"
	case !protos[fr.EntryProtocol] || !protos[fr.TargetProtocol]:
		return fmt.Sprintf("forwarding rule protocols must be http, https, http2 or tcp, not %q → %q", fr.EntryProtocol, fr.TargetProtocol)
	case fr.EntryPort < 1 || fr.EntryPort > 65535 || fr.TargetPort < 1 || fr.TargetPort > 65535:
		return "forwarding rule ports must be between 1 and 65535"
	case fr.CertificateID != "":
		return fmt.Sprintf("Certificate %s could not be found: localcloud has no certificates; pass TLS through with tls_passthrough", fr.CertificateID)
	case (fr.EntryProtocol == "https" || fr.EntryProtocol == "http2") && !fr.TLSPassthrough:
		return "An https entry needs certificate_id or tls_passthrough."
	case fr.TLSPassthrough && (fr.EntryProtocol != "https" || fr.TargetProtocol != "https"):
		return "tls_passthrough needs https on both sides of the rule"
	case typ == "REGIONAL_NETWORK" && (fr.EntryProtocol != "tcp" || fr.TargetProtocol != "tcp"):
		return "A network load balancer forwards tcp only."
	}
	return ""
}

func mergeHealthCheck(def, c healthCheckJSON) healthCheckJSON {
	if c.Protocol != "" {
		def.Protocol = c.Protocol
	}
	if c.Port != 0 {
		def.Port = c.Port
	}
	if c.Path != "" {
		def.Path = c.Path
	}
	if c.CheckIntervalSeconds != 0 {
		def.CheckIntervalSeconds = c.CheckIntervalSeconds
	}
	if c.ResponseTimeoutSeconds != 0 {
		def.ResponseTimeoutSeconds = c.ResponseTimeoutSeconds
	}
	if c.UnhealthyThreshold != 0 {
		def.UnhealthyThreshold = c.UnhealthyThreshold
	}
	if c.HealthyThreshold != 0 {
		def.HealthyThreshold = c.HealthyThreshold
	}
	if def.Protocol == "tcp" {
		def.Path = ""
	}
	return def
}

// checkHealthCheck enforces DigitalOcean's documented ranges.
func checkHealthCheck(hc healthCheckJSON) string {
	switch {
	case hc.Protocol != "http" && hc.Protocol != "https" && hc.Protocol != "tcp":
		return "health_check.protocol must be http, https or tcp"
	case hc.Port < 1 || hc.Port > 65535:
		return "health_check.port must be between 1 and 65535"
	case hc.CheckIntervalSeconds < 3 || hc.CheckIntervalSeconds > 300:
		return "health_check.check_interval_seconds must be between 3 and 300"
	case hc.ResponseTimeoutSeconds < 3 || hc.ResponseTimeoutSeconds > 300:
		return "health_check.response_timeout_seconds must be between 3 and 300"
	case hc.UnhealthyThreshold < 2 || hc.UnhealthyThreshold > 10:
		return "health_check.unhealthy_threshold must be between 2 and 10"
	case hc.HealthyThreshold < 2 || hc.HealthyThreshold > 10:
		return "health_check.healthy_threshold must be between 2 and 10"
	}
	return ""
}

// backendConfig is lb as the backend needs it: targets at their private
// addresses. Call with the lock held.
func (a *API) backendConfig(lb *loadBalancer, now time.Time) localcloud.LoadBalancerConfig {
	cfg := localcloud.LoadBalancerConfig{
		Network:             lb.Type == "REGIONAL_NETWORK",
		RedirectHTTPToHTTPS: lb.Redirect,
		Check: localcloud.LBCheck{
			Protocol: lb.Check.Protocol, Port: lb.Check.Port, Path: lb.Check.Path,
			Interval: time.Duration(lb.Check.CheckIntervalSeconds) * time.Second, Timeout: time.Duration(lb.Check.ResponseTimeoutSeconds) * time.Second,
			Healthy: lb.Check.HealthyThreshold, Unhealthy: lb.Check.UnhealthyThreshold,
		},
	}
	if lb.Sticky.Type == "cookies" {
		cfg.StickyCookie, cfg.StickyTTL = lb.Sticky.CookieName, time.Duration(lb.Sticky.CookieTTLSeconds)*time.Second
	}
	for _, fr := range lb.Rules {
		cfg.Rules = append(cfg.Rules, localcloud.LBRule{EntryProtocol: fr.EntryProtocol, EntryPort: fr.EntryPort, TargetProtocol: fr.TargetProtocol, TargetPort: fr.TargetPort, TLSPassthrough: fr.TLSPassthrough})
	}
	for _, id := range a.liveLBDroplets(lb, now) {
		if addr, ok := a.s.TargetAddr(id); ok {
			cfg.Targets = append(cfg.Targets, localcloud.LBTarget{HostID: id, Addr: addr})
		}
	}
	return cfg
}

func (a *API) createLB(w http.ResponseWriter, r *http.Request) {
	var req lbRequest
	if !decodeBody(w, r, &req) {
		return
	}
	now := a.s.Now()
	lb := &loadBalancer{}
	a.s.Lock()
	msg := a.checkLBRequest(&req, lb, now)
	if msg == "" && len(a.st.lbs) >= LoadBalancerLimit {
		msg = fmt.Sprintf("You have reached your load balancer limit of %d.", LoadBalancerLimit)
	}
	if msg == "" && req.ProjectID != "" && a.findProject(req.ProjectID) == nil {
		// DigitalOcean: "If an invalid project ID is provided, the load
		// balancer will not be created."
		msg = fmt.Sprintf("Project %s could not be found.", req.ProjectID)
	}
	if msg == "" {
		lb.ID, lb.Status, lb.CreatedAt = localcloud.NewUUID(), "new", now
		a.st.lbs[lb.ID] = lb
		a.placeIn("do:loadbalancer:"+lb.ID, req.ProjectID, now)
	}
	out := a.renderLB(lb, now)
	a.s.Unlock()
	if msg != "" {
		ew(w).unprocessable("%s", msg)
		return
	}
	a.s.Background(func(context.Context) {
		_ = a.applyLB(lb.ID, true) // a failure errors the load balancer
		a.fw.Sync(false)           // rules naming it now admit its address
	})
	writeJSON(w, http.StatusAccepted, map[string]any{"load_balancer": out})
}

// applyLB has the backend serve load balancer id as its record says; a
// first apply that fails errors the load balancer. It takes Serialize.
func (a *API) applyLB(id string, first bool) error {
	defer a.s.Serialize()()
	now := a.s.Now()
	a.s.Lock()
	lb := a.st.lbs[id]
	if lb == nil {
		a.s.Unlock()
		return nil // deleted meanwhile
	}
	cfg := a.backendConfig(lb, now)
	a.s.Unlock()
	ip, err := a.s.ApplyLoadBalancer(id, cfg)
	a.s.Lock()
	defer a.s.Unlock()
	if err != nil {
		a.s.Logf("localcloud: %v", err)
		if first {
			lb.Status = "errored"
		}
		return err
	}
	lb.IP, lb.Status = ip, "active"
	return nil
}

// changeLB checks and changes load balancer lb_id with change (under the
// lock; it returns a 422 message or ""), then has the backend apply it
// before answering.
func (a *API) changeLB(w http.ResponseWriter, r *http.Request, change func(lb *loadBalancer, now time.Time) string, answer func(lb *loadBalancer, now time.Time)) {
	id := r.PathValue("lb_id")
	now := a.s.Now()
	a.s.Lock()
	lb := a.st.lbs[id]
	msg := ""
	switch {
	case lb == nil:
	case lb.Status == "new":
		msg = "Load balancer is not active yet: try again when its status is active."
	default:
		msg = change(lb, now)
	}
	a.s.Unlock()
	if lb == nil {
		ew(w).notFound()
		return
	}
	if msg != "" {
		ew(w).unprocessable("%s", msg)
		return
	}
	if err := a.applyLB(id, false); err != nil {
		ew(w).error(http.StatusInternalServerError, "server_error", "applying the load balancer's change: "+err.Error())
		return
	}
	a.s.Lock()
	defer a.s.Unlock()
	answer(lb, a.s.Now())
}

func (a *API) updateLB(w http.ResponseWriter, r *http.Request) {
	var req lbRequest
	if !decodeBody(w, r, &req) {
		return
	}
	a.changeLB(w, r, func(lb *loadBalancer, now time.Time) string {
		next := *lb
		if msg := a.checkLBRequest(&req, &next, now); msg != "" {
			return msg
		}
		*lb = next
		return ""
	}, func(lb *loadBalancer, now time.Time) {
		writeJSON(w, http.StatusOK, map[string]any{"load_balancer": a.renderLB(lb, now)})
	})
}

type lbDropletsRequest struct {
	DropletIDs []int `json:"droplet_ids"`
}

func (a *API) addLBDroplets(w http.ResponseWriter, r *http.Request) {
	var req lbDropletsRequest
	if !decodeBody(w, r, &req) {
		return
	}
	a.changeLB(w, r, func(lb *loadBalancer, now time.Time) string {
		if len(req.DropletIDs) == 0 {
			return "droplet_ids is required"
		}
		for _, id := range req.DropletIDs {
			d, ok := a.getDroplet(id, now)
			if !ok || !d.DeletedAt.IsZero() {
				return fmt.Sprintf("Droplet %d could not be found.", id)
			}
			if d.Region != lb.Region {
				return fmt.Sprintf("Droplet %d is not in the load balancer's region %s.", id, lb.Region)
			}
		}
		lb.Droplets = a.liveLBDroplets(lb, now)
		for _, id := range req.DropletIDs {
			if !slices.Contains(lb.Droplets, id) {
				lb.Droplets = append(lb.Droplets, id)
			}
		}
		return ""
	}, func(*loadBalancer, time.Time) { noContent(w, true) })
}

func (a *API) removeLBDroplets(w http.ResponseWriter, r *http.Request) {
	var req lbDropletsRequest
	if !decodeBody(w, r, &req) {
		return
	}
	a.changeLB(w, r, func(lb *loadBalancer, now time.Time) string {
		if len(req.DropletIDs) == 0 {
			return "droplet_ids is required"
		}
		lb.Droplets = slices.DeleteFunc(a.liveLBDroplets(lb, now), func(id int) bool { return slices.Contains(req.DropletIDs, id) })
		return ""
	}, func(*loadBalancer, time.Time) { noContent(w, true) })
}

func (a *API) deleteLB(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("lb_id")
	defer a.s.Serialize()()
	a.s.Lock()
	lb := a.st.lbs[id]
	delete(a.st.lbs, id)
	delete(a.st.assigned, "do:loadbalancer:"+id)
	a.s.Unlock()
	if lb == nil {
		ew(w).notFound()
		return
	}
	if err := a.s.DeleteLoadBalancer(id); err != nil {
		a.s.Logf("localcloud: deleting load balancer %s: %v", id, err)
	}
	a.fw.SyncLater()
	noContent(w, true)
}

// savedLB is a load balancer in the state file.
type savedLB struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	Region          string          `json:"region"`
	Type            string          `json:"type"`
	SizeUnit        int             `json:"size_unit"`
	Rules           []fwdRuleJSON   `json:"forwarding_rules"`
	Check           healthCheckJSON `json:"health_check"`
	Sticky          stickyJSON      `json:"sticky_sessions"`
	Redirect        bool            `json:"redirect_http_to_https,omitempty"`
	HTTPIdleTimeout int             `json:"http_idle_timeout_seconds"`
	Droplets        []int           `json:"droplet_ids"`
	IP              netip.Addr      `json:"ip,omitzero"`
	Status          string          `json:"status"`
	CreatedAt       time.Time       `json:"created_at"`
}

func (a *API) saveLBs() []savedLB {
	out := []savedLB{}
	for _, lb := range a.st.lbs {
		out = append(out, savedLB{lb.ID, lb.Name, lb.Region, lb.Type, lb.SizeUnit, lb.Rules, lb.Check, lb.Sticky, lb.Redirect, lb.HTTPIdleTimeout, lb.Droplets, lb.IP, lb.Status, lb.CreatedAt})
	}
	slices.SortFunc(out, func(x, y savedLB) int { return strings.Compare(x.ID, y.ID) })
	return out
}

// loadLBs restores the load balancers; one that was still being created
// when localcloud stopped has errored.
func (a *API) loadLBs(in []savedLB) error {
	for _, s := range in {
		if _, ok := findRegion(s.Region); !ok {
			return fmt.Errorf("load balancer %s: unknown region %q", s.ID, s.Region)
		}
		lb := &loadBalancer{ID: s.ID, Name: s.Name, Region: s.Region, Type: s.Type, SizeUnit: s.SizeUnit, Rules: s.Rules, Check: s.Check, Sticky: s.Sticky,
			Redirect: s.Redirect, HTTPIdleTimeout: s.HTTPIdleTimeout, Droplets: s.Droplets, IP: s.IP, Status: s.Status, CreatedAt: s.CreatedAt}
		if lb.Status == "new" {
			lb.Status = "errored"
		}
		if lb.IP.IsValid() {
			a.s.RestoreLoadBalancer(lb.ID, lb.IP)
		}
		a.st.lbs[lb.ID] = lb
	}
	return nil
}
