package aws

import (
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Key pairs and security groups. Security groups are recorded and checked
// as EC2 checks them, and enforced on the instances' hosts (firewalls.go).

// keyByName is the region's key pair called name, nil when none. Call with
// the lock held.
func (a *API) keyByName(region, name string) *keyPair {
	for _, k := range a.st.KeyPairs {
		if k.Region == region && k.Name == name {
			return k
		}
	}
	return nil
}

func (a *API) importKeyPair(c *call) {
	name, material := c.p.get("KeyName"), c.p.get("PublicKeyMaterial")
	if !c.Valid(c.p.required("KeyName", "PublicKeyMaterial")) {
		return
	}
	// The query protocol carries the blob base64-encoded.
	raw, err := base64.StdEncoding.DecodeString(material)
	if err != nil {
		raw = []byte(material)
	}
	pub, _, _, _, perr := ssh.ParseAuthorizedKey(raw)
	if perr != nil {
		c.Fail(errf(400, "InvalidKey.Format", "Key is not in valid OpenSSH public key format"))
		return
	}
	typ := map[string]string{ssh.KeyAlgoRSA: "rsa", ssh.KeyAlgoED25519: "ed25519"}[pub.Type()]
	if typ == "" {
		c.Fail(errf(400, "InvalidKey.Format", "Key type %s is not supported: use rsa or ed25519", pub.Type()))
		return
	}
	specs, aerr := c.p.tagSpecs("key-pair")
	if aerr != nil {
		c.Fail(aerr)
		return
	}
	sum := md5.Sum(pub.Marshal())
	fp := make([]string, len(sum))
	for i, b := range sum {
		fp[i] = fmt.Sprintf("%02x", b)
	}
	a.s.Lock()
	defer a.s.Unlock()
	if a.keyByName(c.region.Name, name) != nil {
		c.Fail(errf(400, "InvalidKeyPair.Duplicate", "The keypair '%s' already exists.", name))
		return
	}
	k := &keyPair{
		ID: a.st.newID("key"), Region: c.region.Name, Name: name, Fingerprint: strings.Join(fp, ":"),
		PublicKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))), Type: typ, Tags: specs["key-pair"], Created: c.now,
	}
	a.st.KeyPairs[k.ID] = k
	c.OK(func(x *xw) { writeKeyPair(x, *k) })
}

// writeKeyPair writes what ImportKeyPair answers and DescribeKeyPairs
// lists of k.
func writeKeyPair(x *xw, k keyPair) {
	x.Leaf("keyPairId", k.ID)
	x.Leaf("keyName", k.Name)
	x.Leaf("keyFingerprint", k.Fingerprint)
	tagSet(x, k.Tags)
}

func (a *API) describeKeyPairs(c *call) {
	names, ids := c.p.list("KeyName"), c.p.list("KeyPairId")
	withPub, err := c.p.boolean("IncludePublicKey")
	fs, ferr := c.p.filters([]string{"key-name", "key-pair-id", "fingerprint", "key-type"}, true)
	if !c.Valid(err, ferr) {
		return
	}
	a.s.Lock()
	var out []keyPair
	for _, k := range a.st.KeyPairs {
		if k.Region != c.region.Name || len(names) > 0 && !slices.Contains(names, k.Name) || len(ids) > 0 && !slices.Contains(ids, k.ID) {
			continue
		}
		if matchFilters(fs, k.Tags, func(n string) []string {
			return map[string][]string{"key-name": {k.Name}, "key-pair-id": {k.ID}, "fingerprint": {k.Fingerprint}, "key-type": {k.Type}}[n]
		}) {
			kk := *k
			kk.Tags = slices.Clone(k.Tags)
			out = append(out, kk)
		}
	}
	a.s.Unlock()
	for _, n := range names {
		if !slices.ContainsFunc(out, func(k keyPair) bool { return k.Name == n }) {
			c.Fail(errf(400, "InvalidKeyPair.NotFound", "The key pair '%s' does not exist", n))
			return
		}
	}
	for _, id := range ids {
		if !slices.ContainsFunc(out, func(k keyPair) bool { return k.ID == id }) {
			c.Fail(errf(400, "InvalidKeyPair.NotFound", "The key pair '%s' does not exist", id))
			return
		}
	}
	slices.SortFunc(out, func(x, y keyPair) int { return strings.Compare(x.Name, y.Name) })
	c.OK(func(x *xw) {
		set(x, "keySet", out, func(k keyPair) {
			writeKeyPair(x, k)
			x.Leaf("keyType", k.Type)
			if withPub {
				x.Leaf("publicKey", k.PublicKey)
			}
			x.Time("createTime", k.Created)
		})
	})
}

func (a *API) deleteKeyPair(c *call) {
	name, id := c.p.get("KeyName"), c.p.get("KeyPairId")
	if name == "" && id == "" {
		c.Fail(missing("KeyName"))
		return
	}
	a.s.Lock()
	var k *keyPair
	if id != "" {
		if k = a.st.KeyPairs[id]; k == nil || k.Region != c.region.Name {
			a.s.Unlock()
			c.Fail(errf(400, "InvalidKeyPair.NotFound", "The key pair '%s' does not exist", id))
			return
		}
	} else {
		k = a.keyByName(c.region.Name, name)
	}
	if k != nil {
		delete(a.st.KeyPairs, k.ID)
	}
	a.s.Unlock()
	c.OK(func(x *xw) {
		x.Bool("return", true)
		if k != nil {
			x.Leaf("keyPairId", k.ID)
		}
	})
}

// defaultGroup is the default VPC's default security group, made on first
// use. Call with the lock held.
func (a *API) defaultGroup(region string) *securityGroup {
	for _, g := range a.st.Groups {
		if g.Region == region && g.Default {
			return g
		}
	}
	g := &securityGroup{ID: a.st.newID("sg"), Region: region, VpcID: vpcID(region), Name: "default", Description: "default VPC security group", Default: true}
	g.Ingress = []rule{{ID: a.st.newID("sgr"), Proto: "-1", GroupID: g.ID}}
	a.st.Groups[g.ID] = g
	return g
}

// groupByName is the region's default VPC's group called name. Call with
// the lock held.
func (a *API) groupByName(region, name string) *securityGroup {
	if name == "default" {
		return a.defaultGroup(region)
	}
	for _, g := range a.st.Groups {
		if g.Region == region && g.Name == name {
			return g
		}
	}
	return nil
}

// group finds the group GroupId or GroupName names. Call with the lock held.
func (a *API) group(c *call) (*securityGroup, *apiError) {
	id, name := c.p.get("GroupId"), c.p.get("GroupName")
	switch {
	case id != "":
		if g := a.st.Groups[id]; g != nil && g.Region == c.region.Name {
			return g, nil
		}
		return nil, errf(400, "InvalidGroup.NotFound", "The security group '%s' does not exist", id)
	case name != "":
		if g := a.groupByName(c.region.Name, name); g != nil {
			return g, nil
		}
		return nil, errf(400, "InvalidGroup.NotFound", "The security group '%s' does not exist in default VPC '%s'", name, vpcID(c.region.Name))
	}
	return nil, missing("GroupId")
}

func (a *API) createSecurityGroup(c *call) {
	name, desc, vpc := c.p.get("GroupName"), c.p.get("GroupDescription"), c.p.get("VpcId")
	if !c.Valid(c.p.required("GroupName", "GroupDescription")) {
		return
	}
	switch {
	case strings.HasPrefix(name, "sg-"), name == "default":
		c.Fail(errf(400, "InvalidParameterValue", "Value (%s) for parameter GroupName is invalid. Group names may not be in the format sg-* or be 'default'.", name))
		return
	case vpc != "" && vpc != vpcID(c.region.Name):
		c.Fail(errf(400, "InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", vpc))
		return
	}
	specs, err := c.p.tagSpecs("security-group")
	if err != nil {
		c.Fail(err)
		return
	}
	a.s.Lock()
	defer a.s.Unlock()
	if a.groupByName(c.region.Name, name) != nil {
		c.Fail(errf(400, "InvalidGroup.Duplicate", "The security group '%s' already exists for VPC '%s'", name, vpcID(c.region.Name)))
		return
	}
	g := &securityGroup{ID: a.st.newID("sg"), Region: c.region.Name, VpcID: vpcID(c.region.Name), Name: name, Description: desc, Tags: specs["security-group"]}
	a.st.Groups[g.ID] = g
	c.OK(func(x *xw) {
		x.Leaf("groupId", g.ID)
		tagSet(x, g.Tags)
		x.Leaf("securityGroupArn", groupARN(g))
	})
}

func groupARN(g *securityGroup) string {
	return "arn:aws:ec2:" + g.Region + ":" + AccountID + ":security-group/" + g.ID
}

// permissions reads IpPermissions.N as rules, one per source.
func (a *API) permissions(c *call) ([]rule, *apiError) {
	var out []rule
	var bad *apiError
	c.p.each("IpPermissions", func(e string) {
		proto := strings.ToLower(c.p.get(e + ".IpProtocol"))
		if named, ok := map[string]string{"6": "tcp", "17": "udp", "1": "icmp", "all": "-1"}[proto]; ok {
			proto = named
		}
		base := rule{Proto: proto}
		switch proto {
		case "tcp", "udp", "icmp", "icmpv6", "58":
			from, err1 := c.p.integer(e+".FromPort", -2)
			to, err2 := c.p.integer(e+".ToPort", -2)
			icmp, v6 := proto == "icmp" || proto == "icmpv6" || proto == "58", proto == "icmpv6" || proto == "58"
			if v6 && err1 == nil && err2 == nil && (from == -2) == (to == -2) && (from == -2 || (from == -1 && to == -1)) {
				// "For icmpv6, the port range is optional; if you omit
				// the port range, traffic for all types and codes is
				// allowed": -1 and -1 say the same, kept as no ports, so
				// that either revokes the other.
				break
			}
			if err1 != nil || err2 != nil || from == -2 || to == -2 || (!icmp && (from < 0 || to > 65535 || from > to)) {
				if bad == nil {
					bad = errf(400, "InvalidParameterValue", "Invalid ports %q-%q for protocol %s", c.p.get(e+".FromPort"), c.p.get(e+".ToPort"), proto)
				}
				return
			}
			// FromPort is the ICMP type, ToPort its code, -1 all; "If the
			// start port is -1 (all ICMP types), then the end port must be
			// -1 (all ICMP codes)."
			if icmp && (from < -1 || from > 255 || to < -1 || to > 255 || (from == -1 && to != -1)) {
				if bad == nil {
					bad = errf(400, "InvalidParameterValue", "Invalid ICMP type %q and code %q for protocol %s: want a type of 0-255 or -1 (all types), a code of 0-255 or -1 (all codes), and code -1 when the type is -1", c.p.get(e+".FromPort"), c.p.get(e+".ToPort"), proto)
				}
				return
			}
			base.From, base.To = &from, &to
		case "":
			if bad == nil {
				bad = missing("IpProtocol")
			}
			return
		}
		n := 0
		c.p.each(e+".IpRanges", func(r string) {
			x := base
			x.CIDR, x.Description = c.p.get(r+".CidrIp"), c.p.get(r+".Description")
			if p, err := netip.ParsePrefix(x.CIDR); (err != nil || !p.Addr().Is4()) && bad == nil {
				bad = errf(400, "InvalidParameterValue", "CIDR block %s is malformed", x.CIDR)
			}
			out, n = append(out, x), n+1
		})
		c.p.each(e+".Ipv6Ranges", func(r string) {
			x := base
			x.CIDRv6, x.Description = c.p.get(r+".CidrIpv6"), c.p.get(r+".Description")
			if p, err := netip.ParsePrefix(x.CIDRv6); (err != nil || !p.Addr().Is6() || p.Addr().Is4In6()) && bad == nil {
				bad = errf(400, "InvalidParameterValue", "CIDR block %s is malformed", x.CIDRv6)
			}
			out, n = append(out, x), n+1
		})
		c.p.each(e+".Groups", func(r string) {
			x := base
			x.GroupID, x.Description = c.p.get(r+".GroupId"), c.p.get(r+".Description")
			out, n = append(out, x), n+1
		})
		if n == 0 && bad == nil {
			bad = errf(400, "MissingParameter", "Either IpRanges, Ipv6Ranges or Groups must be given for each permission")
		}
	})
	if bad == nil && len(out) == 0 {
		bad = missing("IpPermissions")
	}
	return out, bad
}

func (a *API) authorizeIngress(c *call) { a.changeIngress(c, true) }

func (a *API) revokeIngress(c *call) { a.changeIngress(c, false) }

// changeIngress adds or removes ingress rules, all or none, and has the
// backend apply the instances' new rules before it answers.
func (a *API) changeIngress(c *call, add bool) {
	rules, err := a.permissions(c)
	if err != nil {
		c.Fail(err)
		return
	}
	a.s.Lock()
	g, done, err := a.applyIngress(c, rules, add)
	a.s.Unlock()
	if err != nil {
		c.Fail(err)
		return
	}
	a.fw.Sync(false)
	c.OK(func(x *xw) {
		x.Bool("return", true)
		if !add {
			return
		}
		set(x, "securityGroupRuleSet", done, func(r rule) {
			x.Leaf("securityGroupRuleId", r.ID)
			x.Leaf("groupId", g.ID)
			x.Leaf("groupOwnerId", AccountID)
			x.Bool("isEgress", false)
			x.Leaf("ipProtocol", r.Proto)
			if r.From != nil {
				x.Int("fromPort", *r.From)
				x.Int("toPort", *r.To)
			} else {
				x.Int("fromPort", -1)
				x.Int("toPort", -1)
			}
			x.Opt("cidrIpv4", r.CIDR)
			x.Opt("cidrIpv6", r.CIDRv6)
			if r.GroupID != "" {
				x.Open("referencedGroupInfo")
				x.Leaf("groupId", r.GroupID)
				x.Leaf("userId", AccountID)
				x.Close("referencedGroupInfo")
			}
			x.Opt("description", r.Description)
			x.Leaf("securityGroupRuleArn", "arn:aws:ec2:"+g.Region+":"+AccountID+":security-group-rule/"+r.ID)
		})
	})
}

// applyIngress adds or removes rules on the request's group, all or
// none, and returns the group and the rules added or removed. Call with
// the lock held.
func (a *API) applyIngress(c *call, rules []rule, add bool) (*securityGroup, []rule, *apiError) {
	g, err := a.group(c)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range rules {
		if r.GroupID != "" && a.st.Groups[r.GroupID] == nil {
			return nil, nil, errf(400, "InvalidGroup.NotFound", "The security group '%s' does not exist", r.GroupID)
		}
		has := slices.ContainsFunc(g.Ingress, r.same)
		if add && has {
			return nil, nil, errf(400, "InvalidPermission.Duplicate", "the specified rule \"peer: %s, %s, %s\" already exists", r.source(), strings.ToUpper(r.Proto), r.ports())
		}
		if !add && !has {
			return nil, nil, errf(400, "InvalidPermission.NotFound", "The specified rule does not exist in this security group.")
		}
	}
	var done []rule
	for _, r := range rules {
		if add {
			r.ID = a.st.newID("sgr")
			g.Ingress = append(g.Ingress, r)
			done = append(done, r)
		} else {
			i := slices.IndexFunc(g.Ingress, r.same)
			done = append(done, g.Ingress[i])
			g.Ingress = slices.Delete(g.Ingress, i, i+1)
		}
	}
	return g, done, nil
}

func (r rule) source() string {
	return r.CIDR + r.CIDRv6 + r.GroupID
}

func (r rule) ports() string {
	if r.From == nil {
		return "ALL"
	}
	return strconv.Itoa(*r.From) + "-" + strconv.Itoa(*r.To)
}

func (a *API) describeSecurityGroups(c *call) {
	ids, names := c.p.list("GroupId"), c.p.list("GroupName")
	maxR, err := c.p.maxResults(5, 1000)
	fs, ferr := c.p.filters([]string{"group-id", "group-name", "vpc-id", "description", "owner-id"}, true)
	if !c.Valid(err, ferr) {
		return
	}
	a.s.Lock()
	a.defaultGroup(c.region.Name)
	for _, id := range ids {
		if g := a.st.Groups[id]; g == nil || g.Region != c.region.Name {
			a.s.Unlock()
			c.Fail(errf(400, "InvalidGroup.NotFound", "The security group '%s' does not exist", id))
			return
		}
	}
	for _, n := range names {
		if a.groupByName(c.region.Name, n) == nil {
			a.s.Unlock()
			c.Fail(errf(400, "InvalidGroup.NotFound", "The security group '%s' does not exist in default VPC '%s'", n, vpcID(c.region.Name)))
			return
		}
	}
	var match []securityGroup
	for _, g := range a.st.Groups {
		if g.Region != c.region.Name || len(ids) > 0 && !slices.Contains(ids, g.ID) || len(names) > 0 && !slices.Contains(names, g.Name) {
			continue
		}
		if matchFilters(fs, g.Tags, func(n string) []string {
			return map[string][]string{"group-id": {g.ID}, "group-name": {g.Name}, "vpc-id": {g.VpcID}, "description": {g.Description}, "owner-id": {AccountID}}[n]
		}) {
			gg := *g
			gg.Tags, gg.Ingress = slices.Clone(g.Tags), slices.Clone(g.Ingress)
			match = append(match, gg)
		}
	}
	a.s.Unlock()
	slices.SortFunc(match, func(x, y securityGroup) int { return strings.Compare(x.ID, y.ID) })
	pg, next, err := page(match, func(g securityGroup) string { return g.ID }, c.p.get("NextToken"), maxR)
	if err != nil {
		c.Fail(err)
		return
	}
	c.OK(func(x *xw) {
		set(x, "securityGroupInfo", pg, func(g securityGroup) {
			x.Leaf("ownerId", AccountID)
			x.Leaf("groupId", g.ID)
			x.Leaf("groupName", g.Name)
			x.Leaf("groupDescription", g.Description)
			writePermissions(x, "ipPermissions", g.Ingress)
			writePermissions(x, "ipPermissionsEgress", []rule{{Proto: "-1", CIDR: "0.0.0.0/0"}})
			x.Leaf("vpcId", g.VpcID)
			x.Leaf("securityGroupArn", groupARN(&g))
			tagSet(x, g.Tags)
		})
		x.Opt("nextToken", next)
	})
}

// removeGroup deletes the request's group unless something depends on
// it. Call with the lock held.
func (a *API) removeGroup(c *call) (*securityGroup, *apiError) {
	g, err := a.group(c)
	if err != nil {
		return nil, err
	}
	if g.Default {
		return nil, errf(400, "CannotDelete", "the specified group: \"%s\" name: \"default\" cannot be deleted by a user", g.ID)
	}
	for _, in := range a.instances(c.region.Name, c.now) {
		if _, st := a.instanceState(in, c.now); st != "terminated" && slices.Contains(in.Groups, g.ID) {
			return nil, errf(400, "DependencyViolation", "resource %s has a dependent object", g.ID)
		}
	}
	for _, o := range a.st.Groups {
		if o != g && slices.ContainsFunc(o.Ingress, func(r rule) bool { return r.GroupID == g.ID }) {
			return nil, errf(400, "DependencyViolation", "resource %s has a dependent object", g.ID)
		}
	}
	delete(a.st.Groups, g.ID)
	return g, nil
}

// writePermissions groups rules by protocol and ports, as EC2 lists them.
func writePermissions(x *xw, name string, rules []rule) {
	type perm struct {
		head  rule
		rules []rule
	}
	var perms []*perm
	for _, r := range rules {
		i := slices.IndexFunc(perms, func(p *perm) bool {
			h := p.head
			h.CIDR, h.CIDRv6, h.GroupID = r.CIDR, r.CIDRv6, r.GroupID
			return h.same(r)
		})
		if i < 0 {
			perms = append(perms, &perm{head: r})
			i = len(perms) - 1
		}
		perms[i].rules = append(perms[i].rules, r)
	}
	set(x, name, perms, func(p *perm) {
		x.Leaf("ipProtocol", p.head.Proto)
		if p.head.From != nil {
			x.Int("fromPort", *p.head.From)
			x.Int("toPort", *p.head.To)
		}
		sources := func(el string, pick func(rule) bool, f func(rule)) {
			var rs []rule
			for _, r := range p.rules {
				if pick(r) {
					rs = append(rs, r)
				}
			}
			set(x, el, rs, f)
		}
		sources("groups", func(r rule) bool { return r.GroupID != "" }, func(r rule) {
			x.Opt("description", r.Description)
			x.Leaf("userId", AccountID)
			x.Leaf("groupId", r.GroupID)
		})
		sources("ipRanges", func(r rule) bool { return r.CIDR != "" }, func(r rule) {
			x.Opt("description", r.Description)
			x.Leaf("cidrIp", r.CIDR)
		})
		sources("ipv6Ranges", func(r rule) bool { return r.CIDRv6 != "" }, func(r rule) {
			x.Opt("description", r.Description)
			x.Leaf("cidrIpv6", r.CIDRv6)
		})
		x.Raw("<prefixListIds/>")
	})
}

func (a *API) deleteSecurityGroup(c *call) {
	a.s.Lock()
	g, err := a.removeGroup(c)
	a.s.Unlock()
	if err != nil {
		c.Fail(err)
		return
	}
	// No live instance is in it, and no other group admits it: the rules
	// stay as they are, unless a terminated instance that was in it is
	// still being destroyed.
	a.fw.Sync(false)
	c.OK(func(x *xw) {
		x.Bool("return", true)
		x.Leaf("groupId", g.ID)
	})
}
