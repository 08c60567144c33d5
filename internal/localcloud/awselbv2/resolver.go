package awselbv2

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	lcaws "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/aws"
)

// EC2HandlerResolver resolves instance targets through the EC2 API's
// handler (an *aws.API of package localcloud/aws, mounted on the same
// Server), in process: DescribeInstances for the instance's private
// address, then the core's host with that address (Server.TargetAddr). It
// stands in until aws.API implements InstanceResolver itself. The requests
// go to the API's ServeHTTP directly, past the core: they are not
// authenticated, counted or faulted. Pass it as Config.Instances; Mount
// binds it to the Server.
func EC2HandlerResolver(ec2 http.Handler) InstanceResolver {
	return &ec2HandlerResolver{h: ec2}
}

type ec2HandlerResolver struct {
	h http.Handler
	s *localcloud.Server
}

func (r *ec2HandlerResolver) bind(s *localcloud.Server) { r.s = s }

type ec2Instance struct {
	ID        string `xml:"instanceId"`
	PrivateIP string `xml:"privateIpAddress"`
	State     string `xml:"instanceState>name"`
}

// describe asks the EC2 API for the instances of region (ids when given).
func (r *ec2HandlerResolver) describe(region string, ids ...string) []ec2Instance {
	form := url.Values{"Action": {"DescribeInstances"}, "Version": {"2016-11-15"}}
	for i, id := range ids {
		form.Set("InstanceId."+strconv.Itoa(i+1), id)
	}
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	// The EC2 API reads the region from the credential scope (the core
	// checked the signature; this request does not pass the core).
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+lcaws.DevAccessKey+"/20250101/"+region+"/ec2/aws4_request, SignedHeaders=host, Signature=0")
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return nil
	}
	var out struct {
		Reservations []struct {
			Instances []ec2Instance `xml:"instancesSet>item"`
		} `xml:"reservationSet>item"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		return nil
	}
	var all []ec2Instance
	for _, res := range out.Reservations {
		all = append(all, res.Instances...)
	}
	return all
}

// hostWithAddr is the EC2 API's host whose private address is ip.
func (r *ec2HandlerResolver) hostWithAddr(ip string) (int, bool) {
	addr, err := netip.ParseAddr(ip)
	if err != nil || r.s == nil {
		return 0, false
	}
	now := r.s.Now()
	r.s.Lock()
	defer r.s.Unlock()
	for _, h := range r.s.Hosts(lcaws.Name, now) {
		if a, ok := r.s.TargetAddr(h.ID); ok && a == addr {
			return h.ID, true
		}
	}
	return 0, false
}

// HostOfInstance implements InstanceResolver.
func (r *ec2HandlerResolver) HostOfInstance(id string) (int, bool) {
	if !strings.HasPrefix(id, "i-") {
		return 0, false
	}
	for _, reg := range lcaws.Regions {
		for _, in := range r.describe(reg.Name, id) {
			if in.ID == id && in.State != "terminated" && in.State != "shutting-down" && in.PrivateIP != "" {
				return r.hostWithAddr(in.PrivateIP)
			}
		}
	}
	return 0, false
}

// InstanceOfHost implements InstanceResolver.
func (r *ec2HandlerResolver) InstanceOfHost(hostID int) (string, bool) {
	if r.s == nil {
		return "", false
	}
	r.s.Lock()
	addr, ok := r.s.TargetAddr(hostID)
	r.s.Unlock()
	if !ok {
		return "", false
	}
	for _, reg := range lcaws.Regions {
		for _, in := range r.describe(reg.Name) {
			if in.PrivateIP == addr.String() {
				return in.ID, true
			}
		}
	}
	return "", false
}
