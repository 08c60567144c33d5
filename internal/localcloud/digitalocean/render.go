package digitalocean

import (
	"fmt"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// Wire shapes, following the DigitalOcean OpenAPI models (resources/*/models).

type regionJSON struct {
	Name      string   `json:"name"`
	Slug      string   `json:"slug"`
	Features  []string `json:"features"`
	Available bool     `json:"available"`
	Sizes     []string `json:"sizes"`
}

type diskInfoJSON struct {
	Type string `json:"type"`
	Size struct {
		Amount int    `json:"amount"`
		Unit   string `json:"unit"`
	} `json:"size"`
}

type sizeJSON struct {
	Slug         string         `json:"slug"`
	Memory       int            `json:"memory"`
	VCPUs        int            `json:"vcpus"`
	Disk         int            `json:"disk"`
	Transfer     float64        `json:"transfer"`
	PriceMonthly float64        `json:"price_monthly"`
	PriceHourly  float64        `json:"price_hourly"`
	Regions      []string       `json:"regions"`
	Available    bool           `json:"available"`
	Description  string         `json:"description"`
	DiskInfo     []diskInfoJSON `json:"disk_info"`
}

type imageJSON struct {
	ID            int      `json:"id"`
	Name          string   `json:"name"`
	Type          string   `json:"type"`
	Distribution  string   `json:"distribution"`
	Slug          string   `json:"slug"`
	Public        bool     `json:"public"`
	Regions       []string `json:"regions"`
	CreatedAt     string   `json:"created_at"`
	MinDiskSize   int      `json:"min_disk_size"`
	SizeGigabytes float64  `json:"size_gigabytes"`
	Description   string   `json:"description"`
	Tags          []string `json:"tags"`
	Status        string   `json:"status"`
	ErrorMessage  string   `json:"error_message"`
}

type networkV4JSON struct {
	IPAddress string `json:"ip_address"`
	Netmask   string `json:"netmask"`
	Gateway   string `json:"gateway,omitempty"`
	Type      string `json:"type"`
}

type networkV6JSON struct {
	IPAddress string `json:"ip_address"`
	Netmask   int    `json:"netmask"`
	Gateway   string `json:"gateway"`
	Type      string `json:"type"`
}

type backupWindowJSON struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type dropletJSON struct {
	ID               int               `json:"id"`
	Name             string            `json:"name"`
	Memory           int               `json:"memory"`
	VCPUs            int               `json:"vcpus"`
	Disk             int               `json:"disk"`
	DiskInfo         []diskInfoJSON    `json:"disk_info"`
	Locked           bool              `json:"locked"`
	Status           string            `json:"status"`
	Kernel           *struct{}         `json:"kernel"`
	CreatedAt        string            `json:"created_at"`
	Features         []string          `json:"features"`
	BackupIDs        []int             `json:"backup_ids"`
	NextBackupWindow *backupWindowJSON `json:"next_backup_window"`
	SnapshotIDs      []int             `json:"snapshot_ids"`
	Image            imageJSON         `json:"image"`
	VolumeIDs        []string          `json:"volume_ids"`
	Size             sizeJSON          `json:"size"`
	SizeSlug         string            `json:"size_slug"`
	Networks         struct {
		V4 []networkV4JSON `json:"v4"`
		V6 []networkV6JSON `json:"v6"`
	} `json:"networks"`
	Region  regionJSON `json:"region"`
	Tags    []string   `json:"tags"`
	VPCUUID string     `json:"vpc_uuid"`
}

type actionJSON struct {
	ID           int         `json:"id"`
	Status       string      `json:"status"`
	Type         string      `json:"type"`
	StartedAt    string      `json:"started_at"`
	CompletedAt  *string     `json:"completed_at"`
	ResourceID   int         `json:"resource_id"`
	ResourceType string      `json:"resource_type"`
	Region       *regionJSON `json:"region,omitempty"`
	RegionSlug   *string     `json:"region_slug"`
	ProjectID    string      `json:"project_id,omitempty"`
}

type actionLinkJSON struct {
	ID   int    `json:"id"`
	Rel  string `json:"rel"`
	Href string `json:"href"`
}

type sshKeyJSON struct {
	ID          int    `json:"id"`
	Fingerprint string `json:"fingerprint"`
	PublicKey   string `json:"public_key"`
	Name        string `json:"name"`
}

type tagStatsJSON struct {
	Count         int    `json:"count"`
	LastTaggedURI string `json:"last_tagged_uri,omitempty"`
}

type tagJSON struct {
	Name      string `json:"name"`
	Resources struct {
		tagStatsJSON
		Droplets        tagStatsJSON `json:"droplets"`
		Images          tagStatsJSON `json:"images"`
		Volumes         tagStatsJSON `json:"volumes"`
		VolumeSnapshots tagStatsJSON `json:"volume_snapshots"`
		Databases       tagStatsJSON `json:"databases"`
	} `json:"resources"`
}

type reservedIPJSON struct {
	IP        string       `json:"ip"`
	Region    regionJSON   `json:"region"`
	Droplet   *dropletJSON `json:"droplet"`
	Locked    bool         `json:"locked"`
	ProjectID string       `json:"project_id"`
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func renderRegion(r region) regionJSON {
	return regionJSON{Name: r.Name, Slug: r.Slug, Features: regionFeatures, Available: r.Available, Sizes: r.sizeSlugs()}
}

func renderDiskInfo(gb int) []diskInfoJSON {
	d := diskInfoJSON{Type: "local"}
	d.Size.Amount, d.Size.Unit = gb, "gib"
	return []diskInfoJSON{d}
}

func renderSize(sz size) sizeJSON {
	return sizeJSON{
		Slug: sz.Slug, Memory: sz.MemoryMB, VCPUs: sz.VCPUs, Disk: sz.DiskGB, Transfer: sz.TransferTB,
		PriceMonthly: sz.PriceMonthly, PriceHourly: sz.PriceHourly, Regions: sz.regionSlugs(),
		Available: true, Description: sz.Description, DiskInfo: renderDiskInfo(sz.DiskGB),
	}
}

func renderImage(im image) imageJSON {
	regs := make([]string, 0, len(regions))
	for _, r := range regions {
		regs = append(regs, r.Slug)
	}
	return imageJSON{
		ID: im.ID, Name: im.Name, Type: "base", Distribution: im.Distribution, Slug: im.Slug, Public: true,
		Regions: regs, CreatedAt: ts(im.CreatedAt), MinDiskSize: im.MinDiskGB, SizeGigabytes: im.SizeGB,
		Description: im.Description, Tags: []string{}, Status: "available", ErrorMessage: "",
	}
}

// vpcUUID is the fixed id of a region's default VPC.
func vpcUUID(regionSlug string) string {
	h := uint32(2166136261)
	for _, c := range []byte(regionSlug) {
		h = (h ^ uint32(c)) * 16777619
	}
	return fmt.Sprintf("%08x-0000-4000-8000-0000%08x", h, h)
}

// projectUUID is the account's default project.
const projectUUID = "5c2e9d10-6f1a-4b7e-9a0c-1c0ca1c1c0de"

func netmask(p netip.Prefix) string {
	return net.IP(net.CIDRMask(p.Bits(), 32)).String()
}

// renderDroplet renders d as clients see it now. Call with the lock held.
func (a *API) renderDroplet(d droplet, now time.Time) dropletJSON {
	sz := d.size()
	out := dropletJSON{
		ID: d.ID, Name: d.Name, Memory: sz.MemoryMB, VCPUs: sz.VCPUs, Disk: d.diskGB(),
		DiskInfo: renderDiskInfo(d.diskGB()), Status: a.dropletStatus(d, now), CreatedAt: ts(d.CreatedAt),
		Features: []string{"private_networking"}, BackupIDs: []int{}, SnapshotIDs: []int{},
		Image: renderImage(d.image()), VolumeIDs: []string{}, Size: renderSize(sz), SizeSlug: sz.Slug,
		Region: renderRegion(d.region()), Tags: append([]string{}, d.Tags...), VPCUUID: vpcUUID(d.Region),
	}
	if d.ipv6 {
		out.Features = append(out.Features, "ipv6")
	}
	if d.monitoring {
		out.Features = append(out.Features, "monitoring")
	}
	if d.backups {
		out.Features = append(out.Features, "backups")
		day := now.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
		out.NextBackupWindow = &backupWindowJSON{Start: ts(day), End: ts(day.Add(23 * time.Hour))}
	}
	out.Networks.V4 = []networkV4JSON{}
	out.Networks.V6 = []networkV6JSON{}
	if out.Status != "new" {
		ad := d.Addrs
		if ad.PrivateIPv4.IsValid() {
			out.Networks.V4 = append(out.Networks.V4, networkV4JSON{IPAddress: ad.PrivateIPv4.Addr().String(), Netmask: netmask(ad.PrivateIPv4), Type: "private"})
		}
		if ad.PublicIPv4.IsValid() {
			pub := networkV4JSON{IPAddress: ad.PublicIPv4.Addr().String(), Netmask: netmask(ad.PublicIPv4), Type: "public"}
			if ad.PublicGateway.IsValid() {
				pub.Gateway = ad.PublicGateway.String()
			}
			out.Networks.V4 = append(out.Networks.V4, pub)
			// An assigned reserved IP shows as a second public address,
			// after the droplet's own (godo's PublicIPv4 takes the first).
			for _, ip := range a.s.Addresses(Name) {
				if ip.HostID == d.ID {
					extra := pub
					extra.IPAddress = ip.IP.String()
					out.Networks.V4 = append(out.Networks.V4, extra)
				}
			}
		}
		if ad.PublicIPv6.IsValid() {
			v6 := networkV6JSON{IPAddress: ad.PublicIPv6.Addr().String(), Netmask: ad.PublicIPv6.Bits(), Type: "public"}
			if ad.IPv6Gateway.IsValid() {
				v6.Gateway = ad.IPv6Gateway.String()
			}
			out.Networks.V6 = append(out.Networks.V6, v6)
		}
	}
	return out
}

// renderAction renders a as clients see it now.
func renderAction(ac *action, now time.Time) actionJSON {
	st := ac.status(now)
	out := actionJSON{ID: ac.id, Status: st, Type: ac.typ, StartedAt: ts(ac.startedAt), ResourceID: ac.resourceID, ResourceType: ac.resourceType}
	if st != "in-progress" {
		c := ts(ac.completedAt)
		if ac.completedAt.IsZero() {
			c = ts(ac.startedAt)
		}
		out.CompletedAt = &c
	}
	if ac.region.Slug != "" {
		r := renderRegion(ac.region)
		out.Region = &r
		slug := ac.region.Slug
		out.RegionSlug = &slug
	}
	if ac.resourceType == "reserved_ip" {
		out.ProjectID = projectUUID
	}
	return out
}

func actionLink(base string, ac *action, rel string) actionLinkJSON {
	return actionLinkJSON{ID: ac.id, Rel: rel, Href: base + "/v2/actions/" + strconv.Itoa(ac.id)}
}

// renderTag renders t with its droplet count. Call with the lock held.
func (a *API) renderTag(t *tag, base string, now time.Time) tagJSON {
	var out tagJSON
	out.Name = t.name
	n := 0
	for _, d := range a.liveDroplets(now) {
		if d.HasTag(t.name) {
			n++
		}
	}
	out.Resources.Count = n
	out.Resources.Droplets.Count = n
	if t.lastTagged != 0 {
		uri := base + "/v2/droplets/" + strconv.Itoa(t.lastTagged)
		out.Resources.LastTaggedURI = uri
		out.Resources.Droplets.LastTaggedURI = uri
	}
	return out
}

// renderRIP renders a reserved IP. Call with the lock held.
func (a *API) renderRIP(ip *localcloud.Address, now time.Time) reservedIPJSON {
	reg, _ := findRegion(ip.Region)
	out := reservedIPJSON{IP: ip.IP.String(), Region: renderRegion(reg), ProjectID: a.projectOf(ipURN(ip.IP))}
	if ip.HostID != 0 {
		if d, ok := a.getDroplet(ip.HostID, now); ok {
			dj := a.renderDroplet(d, now)
			out.Droplet = &dj
		}
	}
	return out
}
