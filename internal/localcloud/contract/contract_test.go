package contract_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/contract"
	lcdo "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/digitalocean"
)

const token = "contract-test-token"

// tokenTransport adds a bearer token, as oauth2 would.
type tokenTransport struct{ token string }

func (t tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+t.token)
	return http.DefaultTransport.RoundTrip(r)
}

func newClient(t *testing.T, baseURL, tok string) *godo.Client {
	t.Helper()
	c, err := godo.New(&http.Client{Transport: tokenTransport{tok}, Timeout: 10 * time.Second}, godo.SetBaseURL(baseURL+"/"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sshPublicKey returns a fresh authorized_keys line.
func sshPublicKey(t *testing.T, comment string) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	var blob []byte
	for _, part := range [][]byte{[]byte("ssh-ed25519"), pub} {
		blob = binary.BigEndian.AppendUint32(blob, uint32(len(part)))
		blob = append(blob, part...)
	}
	return "ssh-ed25519 " + base64.StdEncoding.EncodeToString(blob) + " " + comment
}

// fixture carries what earlier steps created to later ones.
type fixture struct {
	c, bad  *godo.Client
	srv     *localcloud.Server
	be      *localcloud.MemoryBackend
	key     *godo.Key
	droplet *godo.Droplet
	batch   []godo.Droplet
	action  *godo.Action
	regIP   *godo.ReservedIP
	dropIP  *godo.ReservedIP
	ipAct   *godo.Action
	lb      *godo.LoadBalancer
	db      *godo.Database
	fw      *godo.Firewall
	project *godo.Project
}

// step is one API call. want is the HTTP status it must get; badRequest
// marks calls that deliberately break the spec's request schema (the
// validator must then report request violations, and nothing else).
type step struct {
	name       string
	want       int
	badRequest bool
	do         func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error)
}

func TestContract(t *testing.T) {
	_, took, err := contract.Spec()
	if err != nil {
		t.Fatalf("loading the spec: %v", err)
	}
	t.Logf("spec loaded in %v", took)

	v, err := contract.New()
	if err != nil {
		t.Fatal(err)
	}
	be := localcloud.NewMemoryBackend()
	run, err := localcloud.Start(t.Context(), localcloud.Config{Token: token, Middleware: v.Middleware, Backend: be, APIs: []localcloud.API{lcdo.New(lcdo.Config{})}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := run.Close(); err != nil {
			t.Errorf("closing localcloud: %v", err)
		}
	}()

	f := &fixture{c: newClient(t, run.URL, token), bad: newClient(t, run.URL, "wrong-token"), srv: run.Server, be: be}
	ctx := t.Context()

	for _, s := range steps() {
		ok := t.Run(s.name, func(t *testing.T) {
			v.Reset()
			resp, err := s.do(ctx, t, f)
			got := 0
			if resp != nil && resp.Response != nil {
				got = resp.StatusCode
			}
			if got != s.want {
				t.Fatalf("status %d, want %d (err: %v)", got, s.want, err)
			}
			if got < 300 && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			vs := v.Violations()
			if !s.badRequest {
				for _, x := range vs {
					t.Errorf("violation: %s", x)
				}
				return
			}
			if len(vs) == 0 {
				t.Errorf("want a request violation, the validator reported none")
			}
			for _, x := range vs {
				if x.Kind != contract.KindRequest {
					t.Errorf("violation: %s", x)
				}
			}
		})
		if !ok && f.droplet == nil {
			t.Fatal("stopping: later steps need the droplet")
		}
		if !ok && (s.name == "load balancer create" || s.name == "database create") {
			t.Fatal("stopping: later steps need the load balancer")
		}
	}
	if n := v.Checked(); n < len(steps()) {
		t.Errorf("the validator checked %d exchanges, fewer than the %d steps", n, len(steps()))
	}
}

func wantErr(resp *godo.Response, err error) (*godo.Response, error) {
	if err == nil {
		return resp, errors.New("expected an error")
	}
	return resp, err
}

func steps() []step {
	return []step{
		// account and catalog
		{name: "account", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			a, resp, err := f.c.Account.Get(ctx)
			if err == nil && (a.DropletLimit == 0 || a.Status != "active") {
				t.Errorf("account = %+v", a)
			}
			return resp, err
		}},
		{name: "401 wrong token", want: 401, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.bad.Droplets.List(ctx, nil)
			var er *godo.ErrorResponse
			if errors.As(err, &er) && (er.Message != "Unable to authenticate you" || er.RequestID == "") {
				t.Errorf("error = %+v", er)
			}
			return resp, err
		}},
		{name: "regions paginated", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			rs, resp, err := f.c.Regions.List(ctx, &godo.ListOptions{Page: 2, PerPage: 3})
			if err != nil {
				return resp, err
			}
			if len(rs) != 3 || resp.Meta.Total != 10 {
				t.Errorf("got %d regions of %d, want 3 of 10", len(rs), resp.Meta.Total)
			}
			p := resp.Links.Pages
			if p == nil || p.First == "" || p.Prev == "" || p.Next == "" || p.Last == "" {
				t.Fatalf("links = %+v, want first, prev, next and last", p)
			}
			if u, _ := url.Parse(p.Last); u.Query().Get("page") != "4" || !u.IsAbs() {
				t.Errorf("last = %s, want an absolute URL to page 4", p.Last)
			}
			if cur, _ := resp.Links.CurrentPage(); cur != 2 {
				t.Errorf("godo thinks this is page %d", cur)
			}
			return resp, err
		}},
		{name: "sizes", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			ss, resp, err := f.c.Sizes.List(ctx, &godo.ListOptions{PerPage: 200})
			if err != nil {
				return resp, err
			}
			if len(ss) != 9 || resp.Links.Pages != nil {
				t.Errorf("got %d sizes, links %+v; want 9 on one page", len(ss), resp.Links.Pages)
			}
			for _, s := range ss {
				if s.Slug == lcdo.RestrictedSize && strings.Contains(strings.Join(s.Regions, ","), lcdo.RestrictedSizeRegion) {
					t.Errorf("%s offered in %s", s.Slug, lcdo.RestrictedSizeRegion)
				}
			}
			return resp, err
		}},
		{name: "images distribution", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			ims, resp, err := f.c.Images.ListDistribution(ctx, nil)
			if err == nil && len(ims) != 3 {
				t.Errorf("got %d images, want 3", len(ims))
			}
			return resp, err
		}},
		{name: "images private", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			ims, resp, err := f.c.Images.ListUser(ctx, nil)
			if err == nil && len(ims) != 0 {
				t.Errorf("got %d private images, want 0", len(ims))
			}
			return resp, err
		}},
		{name: "image by slug", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			im, resp, err := f.c.Images.GetBySlug(ctx, "debian-12-x64")
			if err == nil && im.Distribution != "Debian" {
				t.Errorf("image = %+v", im)
			}
			return resp, err
		}},
		{name: "image by id", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			im, resp, err := f.c.Images.GetBySlug(ctx, "ubuntu-24-04-x64")
			if err != nil {
				return resp, err
			}
			_, resp, err = f.c.Images.GetByID(ctx, im.ID)
			return resp, err
		}},
		{name: "image 404", want: 404, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return wantErr(func() (*godo.Response, error) { _, r, e := f.c.Images.GetBySlug(ctx, "centos-5-x64"); return r, e }())
		}},

		// SSH keys
		{name: "key create", want: 201, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			k, resp, err := f.c.Keys.Create(ctx, &godo.KeyCreateRequest{Name: "laptop", PublicKey: sshPublicKey(t, "me@laptop")})
			f.key = k
			return resp, err
		}},
		{name: "key duplicate 422", want: 422, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.Keys.Create(ctx, &godo.KeyCreateRequest{Name: "again", PublicKey: f.key.PublicKey})
			return wantErr(resp, err)
		}},
		{name: "key invalid 422", want: 422, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.Keys.Create(ctx, &godo.KeyCreateRequest{Name: "junk", PublicKey: "ssh-rsa not-base64!"})
			return wantErr(resp, err)
		}},
		{name: "key by id", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.Keys.GetByID(ctx, f.key.ID)
			return resp, err
		}},
		{name: "key by fingerprint", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			k, resp, err := f.c.Keys.GetByFingerprint(ctx, f.key.Fingerprint)
			if err == nil && k.ID != f.key.ID {
				t.Errorf("got key %d, want %d", k.ID, f.key.ID)
			}
			return resp, err
		}},
		{name: "key update", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			k, resp, err := f.c.Keys.UpdateByID(ctx, f.key.ID, &godo.KeyUpdateRequest{Name: "work laptop"})
			if err == nil && k.Name != "work laptop" {
				t.Errorf("name = %q", k.Name)
			}
			return resp, err
		}},
		{name: "keys list", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			ks, resp, err := f.c.Keys.List(ctx, nil)
			if err == nil && len(ks) != 1 {
				t.Errorf("got %d keys", len(ks))
			}
			return resp, err
		}},
		{name: "key 404", want: 404, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.Keys.GetByID(ctx, 1)
			return wantErr(resp, err)
		}},

		// tags
		{name: "tag create", want: 201, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.Tags.Create(ctx, &godo.TagCreateRequest{Name: "haddock"})
			return resp, err
		}},
		{name: "tag invalid 400", want: 400, badRequest: true, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.Tags.Create(ctx, &godo.TagCreateRequest{Name: "not a tag"})
			return wantErr(resp, err)
		}},
		{name: "tag 404", want: 404, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.Tags.Get(ctx, "nope")
			return wantErr(resp, err)
		}},

		// droplets
		{name: "droplet create", want: 202, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			d, resp, err := f.c.Droplets.Create(ctx, &godo.DropletCreateRequest{
				Name: "web-1", Region: "nyc3", Size: "s-1vcpu-2gb", Image: godo.DropletCreateImage{Slug: "debian-12-x64"},
				SSHKeys: []godo.DropletCreateSSHKey{{ID: f.key.ID}}, Tags: []string{"haddock", "env:test"}, UserData: "#cloud-config\n",
				IPv6: true,
			})
			if err == nil && (d.Status != "new" || len(d.Tags) != 2) {
				t.Errorf("droplet = %+v", d)
			}
			if err == nil && len(resp.Links.Actions) != 1 {
				t.Errorf("links.actions = %+v", resp.Links.Actions)
			}
			f.droplet = d
			return resp, err
		}},
		{name: "droplet create without ssh keys", want: 202, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.Droplets.Create(ctx, &godo.DropletCreateRequest{
				Name: "bare", Region: "fra1", Size: "s-1vcpu-1gb", Image: godo.DropletCreateImage{Slug: "ubuntu-22-04-x64"},
			})
			return resp, err
		}},
		{name: "droplet create batch", want: 202, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			ds, resp, err := f.c.Droplets.CreateMultiple(ctx, &godo.DropletMultiCreateRequest{
				Names: []string{"node-1", "node-2", "node-3"}, Region: "ams3", Size: "s-2vcpu-4gb",
				Image: godo.DropletCreateImage{Slug: "ubuntu-24-04-x64"}, Tags: []string{"haddock", "batch"},
				SSHKeys: []godo.DropletCreateSSHKey{{Fingerprint: f.key.Fingerprint}},
			})
			if err == nil && (len(ds) != 3 || len(resp.Links.Actions) != 3) {
				t.Errorf("got %d droplets, %d action links", len(ds), len(resp.Links.Actions))
			}
			f.batch = ds
			return resp, err
		}},
		{name: "droplet create batch of 11 422", want: 422, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			names := make([]string, 11)
			for i := range names {
				names[i] = "n" + strconv.Itoa(i)
			}
			_, resp, err := f.c.Droplets.CreateMultiple(ctx, &godo.DropletMultiCreateRequest{Names: names, Region: "nyc3", Size: "s-1vcpu-1gb", Image: godo.DropletCreateImage{Slug: "debian-12-x64"}})
			return wantErr(resp, err)
		}},
		{name: "droplet create missing name 422", want: 422, badRequest: true, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.Droplets.Create(ctx, &godo.DropletCreateRequest{Region: "nyc3", Size: "s-1vcpu-1gb", Image: godo.DropletCreateImage{Slug: "debian-12-x64"}})
			return wantErr(resp, err)
		}},
		{name: "droplet create bad hostname 422", want: 422, badRequest: true, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.Droplets.Create(ctx, &godo.DropletCreateRequest{Name: "under_score", Region: "nyc3", Size: "s-1vcpu-1gb", Image: godo.DropletCreateImage{Slug: "debian-12-x64"}})
			return wantErr(resp, err)
		}},
		{name: "droplet create unknown region 422", want: 422, do: createFails("xyz9", "s-1vcpu-1gb", "debian-12-x64")},
		{name: "droplet create unknown size 422", want: 422, do: createFails("nyc3", "s-64vcpu-1tb", "debian-12-x64")},
		{name: "droplet create unknown image 422", want: 422, do: createFails("nyc3", "s-1vcpu-1gb", "windows-95")},
		{name: "droplet create size not in region 422", want: 422, do: createFails(lcdo.RestrictedSizeRegion, lcdo.RestrictedSize, "debian-12-x64")},
		{name: "droplet create region unavailable 422", want: 422, do: createFails(lcdo.UnavailableRegion, "s-1vcpu-1gb", "debian-12-x64")},
		{name: "droplet becomes active", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			for {
				d, resp, err := f.c.Droplets.Get(ctx, f.droplet.ID)
				if err != nil || d.Status == "active" {
					if err == nil {
						ip, _ := d.PublicIPv4()
						ip6, _ := d.PublicIPv6()
						if ip == "" || ip6 == "" {
							t.Errorf("active droplet without public addresses: %+v", d.Networks)
						}
					}
					return resp, err
				}
				time.Sleep(5 * time.Millisecond)
			}
		}},
		{name: "droplets list paginated", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			ds, resp, err := f.c.Droplets.List(ctx, &godo.ListOptions{PerPage: 2})
			if err != nil {
				return resp, err
			}
			if len(ds) != 2 || resp.Meta.Total != 5 || resp.Links.Pages == nil || resp.Links.Pages.Next == "" {
				t.Errorf("got %d of %d droplets, links %+v", len(ds), resp.Meta.Total, resp.Links.Pages)
			}
			return resp, err
		}},
		{name: "droplets list last page", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			ds, resp, err := f.c.Droplets.List(ctx, &godo.ListOptions{Page: 3, PerPage: 2})
			if err != nil {
				return resp, err
			}
			if len(ds) != 1 || !resp.Links.IsLastPage() || resp.Links.Pages.Prev == "" {
				t.Errorf("got %d droplets, links %+v", len(ds), resp.Links.Pages)
			}
			return resp, err
		}},
		{name: "droplets by tag", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			ds, resp, err := f.c.Droplets.ListByTag(ctx, "batch", nil)
			if err == nil && len(ds) != 3 {
				t.Errorf("got %d droplets tagged batch, want 3", len(ds))
			}
			return resp, err
		}},
		{name: "droplets by name", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			ds, resp, err := f.c.Droplets.ListByName(ctx, "web-1", nil)
			if err == nil && len(ds) != 1 {
				t.Errorf("got %d droplets named web-1", len(ds))
			}
			return resp, err
		}},
		{name: "droplet 404", want: 404, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.Droplets.Get(ctx, 12345)
			return wantErr(resp, err)
		}},

		// droplet actions
		{name: "action rename", want: 201, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			a, resp, err := f.c.DropletActions.Rename(ctx, f.droplet.ID, "web-1.example.com")
			f.action = a
			return resp, err
		}},
		{name: "action power_off", want: 201, do: dropletAction(func(c *godo.Client, ctx context.Context, id int) (*godo.Action, *godo.Response, error) {
			return c.DropletActions.PowerOff(ctx, id)
		})},
		{name: "droplet is off", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			d, resp, err := f.c.Droplets.Get(ctx, f.droplet.ID)
			if err == nil && (d.Status != "off" || d.Name != "web-1.example.com") {
				t.Errorf("status %q name %q", d.Status, d.Name)
			}
			return resp, err
		}},
		{name: "action resize", want: 201, do: dropletAction(func(c *godo.Client, ctx context.Context, id int) (*godo.Action, *godo.Response, error) {
			return c.DropletActions.Resize(ctx, id, "s-2vcpu-4gb", false)
		})},
		{name: "droplet is resized", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			d, resp, err := f.c.Droplets.Get(ctx, f.droplet.ID)
			if err == nil && (d.SizeSlug != "s-2vcpu-4gb" || d.Size.Slug != "s-2vcpu-4gb" || d.Memory != 4096 || d.Vcpus != 2 || d.Disk != 50) {
				t.Errorf("size %q/%q memory %d vcpus %d disk %d", d.SizeSlug, d.Size.Slug, d.Memory, d.Vcpus, d.Disk)
			}
			return resp, err
		}},
		{name: "action power_on", want: 201, do: dropletAction(func(c *godo.Client, ctx context.Context, id int) (*godo.Action, *godo.Response, error) {
			return c.DropletActions.PowerOn(ctx, id)
		})},
		{name: "action resize while on", want: 422, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.DropletActions.Resize(ctx, f.droplet.ID, "s-4vcpu-8gb", true)
			if err == nil || !strings.Contains(err.Error(), "Droplet is currently on. Please power it off to run this event.") {
				t.Errorf("resize while on: %v", err)
			}
			return wantErr(resp, err)
		}},
		{name: "action reboot", want: 201, do: dropletAction(func(c *godo.Client, ctx context.Context, id int) (*godo.Action, *godo.Response, error) {
			return c.DropletActions.Reboot(ctx, id)
		})},
		{name: "action shutdown", want: 201, do: dropletAction(func(c *godo.Client, ctx context.Context, id int) (*godo.Action, *godo.Response, error) {
			return c.DropletActions.Shutdown(ctx, id)
		})},
		{name: "action get", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			a, resp, err := f.c.DropletActions.Get(ctx, f.droplet.ID, f.action.ID)
			if err == nil && (a.Status != "completed" || a.CompletedAt == nil) {
				t.Errorf("action = %+v", a)
			}
			return resp, err
		}},
		{name: "droplet actions list", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			as, resp, err := f.c.Droplets.Actions(ctx, f.droplet.ID, nil)
			if err == nil && len(as) != 7 { // create, rename, power_off, resize, power_on, reboot, shutdown
				t.Errorf("got %d actions, want 7", len(as))
			}
			return resp, err
		}},
		{name: "actions list", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.Actions.List(ctx, &godo.ListOptions{PerPage: 3})
			return resp, err
		}},
		{name: "actions get", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.Actions.Get(ctx, f.action.ID)
			return resp, err
		}},
		{name: "action 404", want: 404, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.Actions.Get(ctx, 1)
			return wantErr(resp, err)
		}},
		{name: "action unsupported 422", want: 422, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.DropletActions.PasswordReset(ctx, f.droplet.ID)
			return wantErr(resp, err)
		}},

		{name: "action unknown type 422", want: 422, badRequest: true, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return raw(ctx, f.c, "POST", fmt.Sprintf("v2/droplets/%d/actions", f.droplet.ID), map[string]any{"type": "levitate"})
		}},

		// tagging
		{name: "tag resources", want: 204, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			if _, resp, err := f.c.Tags.Create(ctx, &godo.TagCreateRequest{Name: "frontend"}); err != nil {
				return resp, err
			}
			return f.c.Tags.TagResources(ctx, "frontend", &godo.TagResourcesRequest{Resources: []godo.Resource{{ID: strconv.Itoa(f.droplet.ID), Type: godo.DropletResourceType}}})
		}},
		{name: "tag get", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			tg, resp, err := f.c.Tags.Get(ctx, "frontend")
			if err == nil && (tg.Resources == nil || tg.Resources.Count != 1) {
				t.Errorf("tag = %+v", tg)
			}
			return resp, err
		}},
		{name: "untag resources", want: 204, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return f.c.Tags.UntagResources(ctx, "frontend", &godo.UntagResourcesRequest{Resources: []godo.Resource{{ID: strconv.Itoa(f.droplet.ID), Type: godo.DropletResourceType}}})
		}},
		{name: "tag resources unknown tag 404", want: 404, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return wantErr(f.c.Tags.TagResources(ctx, "nope", &godo.TagResourcesRequest{Resources: []godo.Resource{{ID: strconv.Itoa(f.droplet.ID), Type: godo.DropletResourceType}}}))
		}},
		{name: "tags list", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			tags, resp, err := f.c.Tags.List(ctx, nil)
			if err == nil && len(tags) != 4 { // haddock env:test batch frontend
				t.Errorf("got %d tags, want 4", len(tags))
			}
			return resp, err
		}},

		// reserved IPs
		{name: "reserved ip create in region", want: 202, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			ip, resp, err := f.c.ReservedIPs.Create(ctx, &godo.ReservedIPCreateRequest{Region: "nyc3"})
			if err == nil && ip.Droplet != nil {
				t.Errorf("new reserved IP assigned to %+v", ip.Droplet)
			}
			f.regIP = ip
			return resp, err
		}},
		{name: "reserved ip create on droplet", want: 202, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			ip, resp, err := f.c.ReservedIPs.Create(ctx, &godo.ReservedIPCreateRequest{DropletID: f.droplet.ID})
			if err == nil && (ip.Droplet == nil || ip.Droplet.ID != f.droplet.ID || len(resp.Links.Actions) != 1) {
				t.Errorf("reserved IP = %+v, links %+v", ip, resp.Links)
			}
			f.dropIP = ip
			return resp, err
		}},
		{name: "reserved ips list", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			ips, resp, err := f.c.ReservedIPs.List(ctx, nil)
			if err == nil && len(ips) != 2 {
				t.Errorf("got %d reserved IPs", len(ips))
			}
			return resp, err
		}},
		{name: "reserved ip assign", want: 201, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			a, resp, err := f.c.ReservedIPActions.Assign(ctx, f.regIP.IP, f.droplet.ID)
			f.ipAct = a
			return resp, err
		}},
		{name: "droplet lists reserved ips", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			d, resp, err := f.c.Droplets.Get(ctx, f.droplet.ID)
			if err == nil {
				n := 0
				for _, nw := range d.Networks.V4 {
					if nw.Type == "public" {
						n++
					}
				}
				if n != 3 {
					t.Errorf("droplet has %d public IPv4 addresses, want 3: %+v", n, d.Networks.V4)
				}
			}
			return resp, err
		}},
		{name: "reserved ip get", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			ip, resp, err := f.c.ReservedIPs.Get(ctx, f.regIP.IP)
			if err == nil && (ip.Droplet == nil || ip.Droplet.ID != f.droplet.ID) {
				t.Errorf("reserved IP = %+v", ip)
			}
			return resp, err
		}},
		{name: "reserved ip action get", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.ReservedIPActions.Get(ctx, f.regIP.IP, f.ipAct.ID)
			return resp, err
		}},
		{name: "reserved ip actions list", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.ReservedIPActions.List(ctx, f.regIP.IP, nil)
			return resp, err
		}},
		{name: "reserved ip unassign", want: 201, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.ReservedIPActions.Unassign(ctx, f.regIP.IP)
			return resp, err
		}},
		{name: "reserved ip unassign again 422", want: 422, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.ReservedIPActions.Unassign(ctx, f.regIP.IP)
			return wantErr(resp, err)
		}},
		{name: "reserved ip assign without droplet 422", want: 422, badRequest: true, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return raw(ctx, f.c, "POST", "v2/reserved_ips/"+f.regIP.IP+"/actions", map[string]any{"type": "assign"})
		}},
		{name: "reserved ip 404", want: 404, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.ReservedIPs.Get(ctx, "192.0.2.1")
			return wantErr(resp, err)
		}},
		// projects: what marks a reserved IP or load balancer an apply is
		// still creating (the driver's haddock-unsaved)
		{name: "projects list", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			ps, resp, err := f.c.Projects.List(ctx, nil)
			if err == nil && (len(ps) != 1 || !ps[0].IsDefault) {
				t.Errorf("projects = %+v, want the default one", ps)
			}
			return resp, err
		}},
		{name: "project create", want: 201, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			p, resp, err := f.c.Projects.Create(ctx, &godo.CreateProjectRequest{Name: "haddock-unsaved", Purpose: "Operational / Developer tooling", Environment: "Production"})
			if err == nil {
				f.project = p
			}
			return resp, err
		}},
		{name: "project create, name taken 409", want: 409, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.Projects.Create(ctx, &godo.CreateProjectRequest{Name: "haddock-unsaved", Purpose: "IoT", Environment: "Staging"})
			return wantErr(resp, err)
		}},
		{name: "project get default", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			p, resp, err := f.c.Projects.GetDefault(ctx)
			if err == nil && !p.IsDefault {
				t.Errorf("default project = %+v", p)
			}
			return resp, err
		}},
		{name: "project get", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.Projects.Get(ctx, f.project.ID)
			return resp, err
		}},
		{name: "project assign reserved ip", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			res, resp, err := f.c.Projects.AssignResources(ctx, f.project.ID, "do:floatingip:"+f.regIP.IP, "do:floatingip:192.0.2.1")
			if err == nil && (len(res) != 2 || res[0].Status != "assigned" || res[1].Status != "not_found") {
				t.Errorf("assigned = %+v, want assigned and not_found", res)
			}
			return resp, err
		}},
		{name: "project resources list", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			res, resp, err := f.c.Projects.ListResources(ctx, f.project.ID, nil)
			if err == nil && (len(res) != 1 || res[0].URN != "do:floatingip:"+f.regIP.IP || res[0].AssignedAt == "") {
				t.Errorf("resources = %+v, want the reserved IP", res)
			}
			if ip, _, gerr := f.c.ReservedIPs.Get(ctx, f.regIP.IP); gerr != nil || ip.ProjectID != f.project.ID {
				t.Errorf("reserved IP = %+v, %v; want it in project %s", ip, gerr, f.project.ID)
			}
			return resp, err
		}},
		{name: "project delete, not empty 412", want: 412, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return wantErr(f.c.Projects.Delete(ctx, f.project.ID))
		}},
		{name: "project assign to default", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.Projects.AssignResources(ctx, "default", "do:floatingip:"+f.regIP.IP)
			return resp, err
		}},
		{name: "reserved ip create in project", want: 202, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			ip, resp, err := f.c.ReservedIPs.Create(ctx, &godo.ReservedIPCreateRequest{Region: "nyc3", ProjectID: f.project.ID})
			if err == nil {
				if ip.ProjectID != f.project.ID {
					t.Errorf("reserved IP in project %q, want %s", ip.ProjectID, f.project.ID)
				}
				_, _ = f.c.ReservedIPs.Delete(ctx, ip.IP)
			}
			return resp, err
		}},
		{name: "reserved ip create in no project 422", want: 422, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.ReservedIPs.Create(ctx, &godo.ReservedIPCreateRequest{Region: "nyc3", ProjectID: "0f0f0f0f-0000-4000-8000-000000000000"})
			return wantErr(resp, err)
		}},
		{name: "project delete", want: 204, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return f.c.Projects.Delete(ctx, f.project.ID)
		}},
		{name: "reserved ip delete", want: 204, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return f.c.ReservedIPs.Delete(ctx, f.regIP.IP)
		}},

		// faults
		{name: "429 injected", want: 429, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			if err := f.srv.InjectFault(localcloud.Fault{Method: "GET", PathPrefix: "/v2/droplets", Status: 429, RetryAfterSeconds: 3}); err != nil {
				t.Fatal(err)
			}
			_, resp, err := f.c.Droplets.List(ctx, nil)
			if resp != nil && resp.Response != nil && (resp.Header.Get("Retry-After") != "3" || resp.Remaining != 0) {
				t.Errorf("Retry-After %q, rate %+v", resp.Header.Get("Retry-After"), resp.Rate)
			}
			return wantErr(resp, err)
		}},
		{name: "after the fault", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.Droplets.List(ctx, nil)
			return resp, err
		}},
		{name: "500 injected", want: 500, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_ = f.srv.InjectFault(localcloud.Fault{Status: 500})
			_, resp, err := f.c.Account.Get(ctx)
			return wantErr(resp, err)
		}},
		{name: "503 injected", want: 503, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_ = f.srv.InjectFault(localcloud.Fault{PathPrefix: "/v2/sizes", Status: 503})
			_, resp, err := f.c.Sizes.List(ctx, nil)
			return wantErr(resp, err)
		}},

		// deletion
		// load balancers (in-memory backend: an address, no HAProxy)
		{name: "load balancer create", want: 202, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			lb, resp, err := f.c.LoadBalancers.Create(ctx, lbRequest(f.droplet.ID))
			if err == nil {
				f.lb = lb
				if lb.Status != "new" || lb.ID == "" || lb.HealthCheck == nil || lb.HealthCheck.CheckIntervalSeconds != 3 {
					t.Errorf("created = %+v", lb)
				}
			}
			return resp, err
		}},
		{name: "load balancer active", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			var resp *godo.Response
			for range 100 {
				lb, r, err := f.c.LoadBalancers.Get(ctx, f.lb.ID)
				if err != nil || lb.Status == "active" {
					if err == nil && (lb.IP == "" || len(lb.DropletIDs) != 1) {
						t.Errorf("active = %+v", lb)
					}
					return r, err
				}
				resp = r
				time.Sleep(20 * time.Millisecond)
			}
			t.Error("the load balancer never turned active")
			return resp, nil
		}},
		{name: "load balancers list", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			lbs, resp, err := f.c.LoadBalancers.List(ctx, &godo.ListOptions{PerPage: 200})
			if err == nil && len(lbs) != 1 {
				t.Errorf("%d load balancers", len(lbs))
			}
			return resp, err
		}},
		{name: "load balancer remove droplets", want: 204, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return f.c.LoadBalancers.RemoveDroplets(ctx, f.lb.ID, f.droplet.ID)
		}},
		{name: "load balancer add droplets", want: 204, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return f.c.LoadBalancers.AddDroplets(ctx, f.lb.ID, f.droplet.ID)
		}},
		{name: "load balancer add unknown droplet 422", want: 422, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return wantErr(f.c.LoadBalancers.AddDroplets(ctx, f.lb.ID, 1))
		}},
		{name: "load balancer update", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			req := lbRequest(f.droplet.ID)
			req.HealthCheck.Path = "/healthz"
			lb, resp, err := f.c.LoadBalancers.Update(ctx, f.lb.ID, req)
			if err == nil && (lb.HealthCheck.Path != "/healthz" || len(lb.DropletIDs) != 1) {
				t.Errorf("updated = %+v", lb)
			}
			return resp, err
		}},
		{name: "load balancer udp 422", want: 422, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			req := lbRequest(f.droplet.ID)
			req.ForwardingRules[0].EntryProtocol, req.ForwardingRules[0].TargetProtocol = "udp", "udp"
			_, resp, err := f.c.LoadBalancers.Create(ctx, req)
			return wantErr(resp, err)
		}},
		{name: "load balancer delete", want: 204, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return f.c.LoadBalancers.Delete(ctx, f.lb.ID)
		}},
		{name: "load balancer 404", want: 404, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.LoadBalancers.Get(ctx, f.lb.ID)
			return wantErr(resp, err)
		}},
		// managed databases (in-memory backend: an address, no server)
		{name: "database create", want: 201, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			// godo sends project_id even when empty, which the spec refuses (not a uuid): give one.
			db, resp, err := f.c.Databases.Create(ctx, &godo.DatabaseCreateRequest{Name: "app-db", EngineSlug: "pg", Version: "15", SizeSlug: "db-s-1vcpu-1gb", Region: "nyc3", NumNodes: 1, ProjectID: "4e1bfbc3-dc3e-41f2-a18f-1b4d7ba71679",
				Tags: []string{"app"}, Rules: []*godo.DatabaseCreateFirewallRule{{Type: "ip_addr", Value: "192.0.2.0/24"}}})
			if err == nil {
				f.db = db
				if db.Status != "creating" || len(db.Users) != 1 || db.Users[0].Name != "doadmin" {
					t.Errorf("created = %+v", db)
				}
			}
			return resp, err
		}},
		{name: "database online", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			var resp *godo.Response
			for range 100 {
				db, r, err := f.c.Databases.Get(ctx, f.db.ID)
				if err != nil || db.Status == "online" {
					if err == nil && (db.Connection == nil || db.Connection.Password == "" || !strings.Contains(db.Connection.URI, "sslmode=require") || db.Connection.Port != 25060) {
						t.Errorf("online = %+v", db.Connection)
					}
					return r, err
				}
				resp = r
				time.Sleep(20 * time.Millisecond)
			}
			t.Error("the database never turned online")
			return resp, nil
		}},
		{name: "databases list", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			dbs, resp, err := f.c.Databases.List(ctx, nil)
			if err == nil && len(dbs) != 1 {
				t.Errorf("%d databases", len(dbs))
			}
			return resp, err
		}},
		{name: "database ca", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			ca, resp, err := f.c.Databases.GetCA(ctx, f.db.ID)
			if err == nil && !strings.Contains(string(ca.Certificate), "BEGIN CERTIFICATE") {
				t.Errorf("ca = %q", ca.Certificate)
			}
			return resp, err
		}},
		{name: "database user add", want: 201, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			u, resp, err := f.c.Databases.CreateUser(ctx, f.db.ID, &godo.DatabaseCreateUserRequest{Name: "app"})
			if err == nil && (u.Password == "" || u.Role != "normal") {
				t.Errorf("user = %+v", u)
			}
			return resp, err
		}},
		{name: "database users list", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			us, resp, err := f.c.Databases.ListUsers(ctx, f.db.ID, nil)
			if err == nil && len(us) != 2 {
				t.Errorf("%d users", len(us))
			}
			return resp, err
		}},
		{name: "database user reset auth", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.Databases.ResetUserAuth(ctx, f.db.ID, "app", &godo.DatabaseResetUserAuthRequest{})
			return resp, err
		}},
		{name: "database user get", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.Databases.GetUser(ctx, f.db.ID, "app")
			return resp, err
		}},
		{name: "database user delete", want: 204, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return f.c.Databases.DeleteUser(ctx, f.db.ID, "app")
		}},
		{name: "database db add", want: 201, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.Databases.CreateDB(ctx, f.db.ID, &godo.DatabaseCreateDBRequest{Name: "orders"})
			return resp, err
		}},
		{name: "database dbs list", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			dbs, resp, err := f.c.Databases.ListDBs(ctx, f.db.ID, nil)
			if err == nil && len(dbs) != 2 {
				t.Errorf("%d dbs", len(dbs))
			}
			return resp, err
		}},
		{name: "database db get", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.Databases.GetDB(ctx, f.db.ID, "orders")
			return resp, err
		}},
		{name: "database db delete", want: 204, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return f.c.Databases.DeleteDB(ctx, f.db.ID, "orders")
		}},
		{name: "database firewall update", want: 204, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			// godo sends the rules' read-only fields (cluster_uuid, created_at): the driver sends its own body.
			return send(ctx, f.c, http.MethodPut, "v2/databases/"+f.db.ID+"/firewall", map[string]any{"rules": []map[string]string{
				{"type": "tag", "value": "web"}, {"type": "droplet", "value": strconv.Itoa(f.droplet.ID)}, {"type": "ip_addr", "value": "198.51.100.7"}}})
		}},
		{name: "database firewall get", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			rules, resp, err := f.c.Databases.GetFirewallRules(ctx, f.db.ID)
			if err == nil && len(rules) != 3 {
				t.Errorf("rules = %+v", rules)
			}
			return resp, err
		}},
		{name: "database resize", want: 202, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return f.c.Databases.Resize(ctx, f.db.ID, &godo.DatabaseResizeRequest{SizeSlug: "db-s-2vcpu-4gb", NumNodes: 2})
		}},
		{name: "database mysql 422", want: 422, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			// godo sends "rules": null, which the spec refuses: the driver sends its own body.
			return raw(ctx, f.c, http.MethodPost, "v2/databases", map[string]any{"name": "my-db", "engine": "mysql", "size": "db-s-1vcpu-1gb", "region": "nyc3", "num_nodes": 1})
		}},
		{name: "database delete", want: 204, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return f.c.Databases.Delete(ctx, f.db.ID)
		}},
		{name: "database 404", want: 404, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.Databases.Get(ctx, f.db.ID)
			return wantErr(resp, err)
		}},
		// cloud firewalls (in-memory backend: the rules are recorded)
		{name: "firewall create", want: 202, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			fw, resp, err := f.c.Firewalls.Create(ctx, fwRequest(f.droplet.ID))
			if err == nil {
				f.fw = fw
				if fw.Status != "succeeded" || fw.ID == "" || len(fw.DropletIDs) != 1 || len(fw.InboundRules) != 2 {
					t.Errorf("created = %+v", fw)
				}
				if _, ok := f.be.HostFirewall(f.droplet.ID); !ok {
					t.Errorf("droplet %d has no filter", f.droplet.ID)
				}
			}
			return resp, err
		}},
		{name: "firewall get", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.Firewalls.Get(ctx, f.fw.ID)
			return resp, err
		}},
		{name: "firewalls list", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			fws, resp, err := f.c.Firewalls.List(ctx, &godo.ListOptions{PerPage: 200})
			if err == nil && len(fws) != 1 {
				t.Errorf("%d firewalls", len(fws))
			}
			return resp, err
		}},
		{name: "droplet firewalls list", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			fws, resp, err := f.c.Firewalls.ListByDroplet(ctx, f.droplet.ID, nil)
			if err == nil && len(fws) != 1 {
				t.Errorf("%d firewalls", len(fws))
			}
			return resp, err
		}},
		{name: "firewall update", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			req := fwRequest(f.droplet.ID)
			req.Name, req.Tags = "web-fw-2", []string{"frontend"}
			fw, resp, err := f.c.Firewalls.Update(ctx, f.fw.ID, req)
			if err == nil && (fw.Name != "web-fw-2" || len(fw.Tags) != 1) {
				t.Errorf("updated = %+v", fw)
			}
			return resp, err
		}},
		{name: "firewall remove droplets", want: 204, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return f.c.Firewalls.RemoveDroplets(ctx, f.fw.ID, f.droplet.ID)
		}},
		{name: "firewall add droplets", want: 204, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return f.c.Firewalls.AddDroplets(ctx, f.fw.ID, f.droplet.ID)
		}},
		{name: "firewall add unknown droplet 422", want: 422, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return wantErr(f.c.Firewalls.AddDroplets(ctx, f.fw.ID, 1))
		}},
		{name: "firewall add tags", want: 204, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return f.c.Firewalls.AddTags(ctx, f.fw.ID, "batch")
		}},
		{name: "firewall remove tags", want: 204, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return f.c.Firewalls.RemoveTags(ctx, f.fw.ID, "batch")
		}},
		{name: "firewall add rules", want: 204, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return f.c.Firewalls.AddRules(ctx, f.fw.ID, fwExtraRules())
		}},
		{name: "firewall remove rules", want: 204, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return f.c.Firewalls.RemoveRules(ctx, f.fw.ID, fwExtraRules())
		}},
		{name: "firewall bad ports 422", want: 422, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			req := fwRequest(f.droplet.ID)
			req.InboundRules[0].PortRange = "70000"
			_, resp, err := f.c.Firewalls.Create(ctx, req)
			return wantErr(resp, err)
		}},
		{name: "firewall unknown protocol 422", want: 422, badRequest: true, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			req := fwRequest(f.droplet.ID)
			req.InboundRules[0].Protocol = "sctp"
			_, resp, err := f.c.Firewalls.Create(ctx, req)
			return wantErr(resp, err)
		}},
		{name: "firewall without name 422", want: 422, badRequest: true, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			req := fwRequest(f.droplet.ID)
			req.Name = ""
			_, resp, err := f.c.Firewalls.Create(ctx, req)
			return wantErr(resp, err)
		}},
		{name: "firewall update invalid JSON 400", want: 400, badRequest: true, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return raw(ctx, f.c, http.MethodPut, "v2/firewalls/"+f.fw.ID, json.RawMessage(`{"name": 1}`))
		}},
		{name: "firewall delete", want: 204, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return f.c.Firewalls.Delete(ctx, f.fw.ID)
		}},
		{name: "firewall 404", want: 404, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.Firewalls.Get(ctx, f.fw.ID)
			return wantErr(resp, err)
		}},
		{name: "droplet delete", want: 204, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return f.c.Droplets.Delete(ctx, f.droplet.ID)
		}},
		{name: "deleted droplet 404", want: 404, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			_, resp, err := f.c.Droplets.Get(ctx, f.droplet.ID)
			return wantErr(resp, err)
		}},
		{name: "reserved ip unassigned with its droplet", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			ip, resp, err := f.c.ReservedIPs.Get(ctx, f.dropIP.IP)
			if err == nil && ip.Droplet != nil {
				t.Errorf("still assigned to %d", ip.Droplet.ID)
			}
			return resp, err
		}},
		{name: "droplet delete again 404", want: 404, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return wantErr(f.c.Droplets.Delete(ctx, f.droplet.ID))
		}},
		{name: "droplets delete by tag", want: 204, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return f.c.Droplets.DeleteByTag(ctx, "batch")
		}},
		{name: "droplets by tag gone", want: 200, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			ds, resp, err := f.c.Droplets.ListByTag(ctx, "batch", nil)
			if err == nil && len(ds) != 0 {
				t.Errorf("%d droplets left", len(ds))
			}
			return resp, err
		}},
		{name: "key delete by fingerprint", want: 204, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return f.c.Keys.DeleteByFingerprint(ctx, f.key.Fingerprint)
		}},
		{name: "tag delete", want: 204, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return f.c.Tags.Delete(ctx, "frontend")
		}},
		{name: "tag delete again 404", want: 404, do: func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
			return wantErr(f.c.Tags.Delete(ctx, "frontend"))
		}},
	}
}

// lbRequest is an HTTP load balancer in front of droplet id.
func lbRequest(id int) *godo.LoadBalancerRequest {
	return &godo.LoadBalancerRequest{
		Name: "web-lb", Region: "nyc3",
		ForwardingRules: []godo.ForwardingRule{{EntryProtocol: "http", EntryPort: 80, TargetProtocol: "http", TargetPort: 8080}},
		HealthCheck:     &godo.HealthCheck{Protocol: "http", Port: 8080, Path: "/", CheckIntervalSeconds: 3, ResponseTimeoutSeconds: 3, HealthyThreshold: 2, UnhealthyThreshold: 2},
		StickySessions:  &godo.StickySessions{Type: "cookies", CookieName: "LB", CookieTtlSeconds: 300},
		DropletIDs:      []int{id},
	}
}

// fwRequest is a firewall for droplet id and the web tag: HTTPS from
// anywhere, SSH from the droplet itself and a range, everything out.
func fwRequest(id int) *godo.FirewallRequest {
	return &godo.FirewallRequest{
		Name: "web-fw",
		InboundRules: []godo.InboundRule{
			{Protocol: "tcp", PortRange: "443", Sources: &godo.Sources{Addresses: []string{"0.0.0.0/0", "::/0"}}},
			{Protocol: "tcp", PortRange: "22", Sources: &godo.Sources{DropletIDs: []int{id}, Addresses: []string{"203.0.113.0/24"}, Tags: []string{"frontend"}}},
		},
		OutboundRules: []godo.OutboundRule{{Protocol: "tcp", PortRange: "all", Destinations: &godo.Destinations{Addresses: []string{"0.0.0.0/0", "::/0"}}}},
		DropletIDs:    []int{id},
		Tags:          []string{},
	}
}

// fwExtraRules adds ICMP and a UDP range. godo leaves out empty ports,
// which the spec requires even for icmp: "0" is what the API shows.
func fwExtraRules() *godo.FirewallRulesRequest {
	return &godo.FirewallRulesRequest{
		InboundRules:  []godo.InboundRule{{Protocol: "icmp", PortRange: "0", Sources: &godo.Sources{Tags: []string{"frontend"}}}},
		OutboundRules: []godo.OutboundRule{{Protocol: "udp", PortRange: "8000-9000", Destinations: &godo.Destinations{Addresses: []string{"192.0.2.1"}}}},
	}
}

// send sends a request with a body of its own, expecting success.
func send(ctx context.Context, c *godo.Client, method, path string, body any) (*godo.Response, error) {
	req, err := c.NewRequest(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	return c.Do(ctx, req, nil)
}

// raw sends a request godo has no method for.
func raw(ctx context.Context, c *godo.Client, method, path string, body any) (*godo.Response, error) {
	req, err := c.NewRequest(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	return wantErr(c.Do(ctx, req, nil))
}

func createFails(region, size, image string) func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
	return func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
		_, resp, err := f.c.Droplets.Create(ctx, &godo.DropletCreateRequest{Name: "nope", Region: region, Size: size, Image: godo.DropletCreateImage{Slug: image}})
		var er *godo.ErrorResponse
		if errors.As(err, &er) && er.Message == "" {
			t.Errorf("422 without a message")
		}
		return wantErr(resp, err)
	}
}

func dropletAction(call func(*godo.Client, context.Context, int) (*godo.Action, *godo.Response, error)) func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
	return func(ctx context.Context, t *testing.T, f *fixture) (*godo.Response, error) {
		a, resp, err := call(f.c, ctx, f.droplet.ID)
		if err == nil && a.Status != "in-progress" {
			t.Errorf("new action status %q", a.Status)
		}
		return resp, err
	}
}

// The validator must catch a response that breaks the spec; otherwise a
// green TestContract proves nothing.
func TestValidatorCatchesBadResponses(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		body    string
		headers bool
		kind    string
	}{
		{"droplet missing required fields", 200, `{"droplet":{"id":1,"name":"x"}}`, true, contract.KindResponse},
		{"wrong type", 200, `{"droplet":{"id":"one"}}`, true, contract.KindResponse},
		{"undocumented success status", 201, `{"droplet":{}}`, true, contract.KindResponse},
		{"error body without id", 404, `{"message":"gone","request_id":"00000000-0000-4000-8000-000000000000"}`, true, contract.KindResponse},
		{"no rate-limit headers", 404, `{"id":"not_found","message":"gone","request_id":"00000000-0000-4000-8000-000000000000"}`, false, contract.KindConvention},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := contract.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if c.headers {
					w.Header().Set("ratelimit-limit", "5000")
					w.Header().Set("ratelimit-remaining", "4999")
					w.Header().Set("ratelimit-reset", "1700000000")
				}
				w.Header().Set("x-request-id", "00000000-0000-4000-8000-000000000000")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(c.status)
				if _, err := io.WriteString(w, c.body); err != nil {
					t.Errorf("writing the response: %v", err)
				}
			}))
			req := httptest.NewRequest("GET", "/v2/droplets/1", nil)
			req.Header.Set("Authorization", "Bearer x")
			v.ServeHTTP(httptest.NewRecorder(), req)
			vs := v.Violations()
			found := false
			for _, x := range vs {
				t.Logf("%s", x)
				found = found || x.Kind == c.kind
			}
			if !found {
				t.Errorf("no %s violation recorded", c.kind)
			}
			if v.Check() == nil {
				t.Error("Check() = nil")
			}
		})
	}
}

func TestValidatorIgnoresControlPaths(t *testing.T) {
	v := contract.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	v.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("DELETE", "/_localcloud/faults", nil))
	if err := v.Check(); err != nil {
		t.Error(err)
	}
}

func TestValidatorReportsUnknownRoutes(t *testing.T) {
	v := contract.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) }))
	v.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v2/no-such-thing", nil))
	vs := v.Violations()
	if len(vs) == 0 || vs[len(vs)-1].Kind != contract.KindRoute {
		t.Errorf("violations = %v", vs)
	}
}

func TestStartLocalcloud(t *testing.T) {
	run, v := contract.StartLocalcloud(t, localcloud.Config{Token: token})
	c := newClient(t, run.URL, token)
	if _, _, err := c.Regions.List(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if v.Checked() != 1 {
		t.Errorf("checked %d exchanges, want 1", v.Checked())
	}
}

func TestFindSpecEnv(t *testing.T) {
	p, err := contract.FindSpec()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(contract.SpecEnv, strings.TrimSuffix(p, "/DigitalOcean-public.v2.yaml"))
	got, err := contract.FindSpec()
	if err != nil || got != p {
		t.Errorf("FindSpec() with %s=dir = %q, %v; want %q", contract.SpecEnv, got, err, p)
	}
	t.Setenv(contract.SpecEnv, "/nonexistent/spec.yaml")
	if _, err := contract.FindSpec(); err == nil {
		t.Error("FindSpec() with a missing file: no error")
	}
}
