package cloudinit

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
)

var testMaterial = func() (m struct{ ca, cert, key []byte }) {
	ca, err := pki.NewCA("haddock-test", time.Hour)
	if err != nil {
		panic(err)
	}
	kp, err := ca.IssueServer(pki.HostIdentity("h1"), nil, nil, time.Hour)
	if err != nil {
		panic(err)
	}
	m.ca, m.cert, m.key = ca.CertPEM(), kp.CertPEM, kp.KeyPEM
	return m
}()

func testParams(userData string) Params {
	return Params{
		Hostname:      "node-1",
		CACertPEM:     testMaterial.ca,
		ServerCertPEM: testMaterial.cert,
		ServerKeyPEM:  testMaterial.key,
		DaemonExtra: map[string]any{
			"insecure-registries": []string{"10.0.0.10:5000"},
			"labels":              []string{"haddock.role=manager"},
		},
		UserData: userData,
	}
}

func mustRender(t *testing.T, p Params) string {
	t.Helper()
	out, err := Render(p)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return out
}

func mustParse(t *testing.T, ud string) *Document {
	t.Helper()
	doc, err := Parse(ud)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return doc
}

// cloudConfig decodes a plain #cloud-config document.
func cloudConfig(t *testing.T, ud string) map[string]any {
	t.Helper()
	if !strings.HasPrefix(ud, "#cloud-config\n") {
		t.Fatalf("not a #cloud-config document:\n%s", ud)
	}
	var m map[string]any
	if err := yaml.Unmarshal([]byte(ud), &m); err != nil {
		t.Fatalf("invalid YAML: %v\n%s", err, ud)
	}
	return m
}

func strList(t *testing.T, v any) []string {
	t.Helper()
	items, ok := v.([]any)
	if !ok {
		t.Fatalf("%v is %T, want a list", v, v)
	}
	var out []string
	for _, it := range items {
		switch x := it.(type) {
		case string:
			out = append(out, x)
		case []any:
			var parts []string
			for _, p := range x {
				s, _ := p.(string)
				parts = append(parts, s)
			}
			out = append(out, strings.Join(parts, " "))
		case map[string]any:
			s, _ := x["path"].(string)
			out = append(out, s)
		default:
			t.Fatalf("unexpected list item %T", it)
		}
	}
	return out
}

func TestRender(t *testing.T) {
	ud := mustRender(t, testParams(""))
	m := cloudConfig(t, ud)

	if m["hostname"] != "node-1" || m["preserve_hostname"] != false || m["package_update"] != true {
		t.Errorf("hostname/preserve_hostname/package_update = %v/%v/%v", m["hostname"], m["preserve_hostname"], m["package_update"])
	}
	if got := strList(t, m["packages"]); len(got) != 1 || got[0] != "docker.io" {
		t.Errorf("packages = %v", got)
	}
	runcmd := strings.Join(strList(t, m["runcmd"]), "\n")
	for _, want := range []string{"ufw allow 2376/tcp", "ufw allow 2377/tcp", "ufw allow 7946/tcp", "ufw allow 7946/udp", "ufw allow 4789/udp", "systemctl daemon-reload", "systemctl restart docker.service"} {
		if !strings.Contains(runcmd, want) {
			t.Errorf("runcmd lacks %q:\n%s", want, runcmd)
		}
	}
	if strings.Contains(ud, "2375") {
		t.Error("the plain-text port 2375 appears in user data")
	}

	doc := mustParse(t, ud)
	if doc.Hostname != "node-1" {
		t.Errorf("Parse hostname = %q", doc.Hostname)
	}
	wantFiles := []struct {
		path    string
		perm    fs.FileMode
		content []byte
	}{
		{CACertPath, 0o644, testMaterial.ca},
		{ServerCertPath, 0o644, testMaterial.cert},
		{ServerKeyPath, 0o600, testMaterial.key},
	}
	for _, w := range wantFiles {
		f, ok := doc.File(w.path)
		if !ok {
			t.Errorf("%s not written", w.path)
			continue
		}
		if f.Permissions != w.perm || f.Owner != "root:root" {
			t.Errorf("%s: permissions %v owner %q, want %v root:root", w.path, f.Permissions, f.Owner, w.perm)
		}
		if !bytes.Equal(f.Content, w.content) {
			t.Errorf("%s: content differs:\n%s", w.path, f.Content)
		}
	}

	dj, ok := doc.File(DaemonConfigPath)
	if !ok {
		t.Fatal("daemon.json not written")
	}
	var daemon map[string]any
	if err := json.Unmarshal(dj.Content, &daemon); err != nil {
		t.Fatalf("daemon.json: %v", err)
	}
	want := map[string]any{
		"hosts":               []any{"unix:///var/run/docker.sock", "tcp://0.0.0.0:2376"},
		"tls":                 true,
		"tlsverify":           true,
		"tlscacert":           CACertPath,
		"tlscert":             ServerCertPath,
		"tlskey":              ServerKeyPath,
		"insecure-registries": []any{"10.0.0.10:5000"},
		"labels":              []any{"haddock.role=manager"},
	}
	if g, w := mustJSON(t, daemon), mustJSON(t, want); g != w {
		t.Errorf("daemon.json = %s\nwant %s", g, w)
	}

	dropIn, ok := doc.File(DropInPath)
	if !ok {
		t.Fatal("systemd drop-in not written")
	}
	if got := string(dropIn.Content); got != "[Service]\nExecStart=\nExecStart=/usr/bin/env dockerd\n" {
		t.Errorf("drop-in = %q", got)
	}
	if strings.Contains(string(dropIn.Content), "fd://") {
		t.Error("drop-in keeps -H fd://")
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRenderDeterministic(t *testing.T) {
	for _, ud := range []string{"", "#cloud-config\nruncmd: [echo]\n", "#!/bin/sh\necho hi\n"} {
		a, b := mustRender(t, testParams(ud)), mustRender(t, testParams(ud))
		if a != b {
			t.Errorf("user data %q: two renders differ", ud)
		}
	}
}

func TestRenderInvalid(t *testing.T) {
	for _, tt := range []struct {
		name   string
		mutate func(*Params)
		want   string
	}{
		{"empty hostname", func(p *Params) { p.Hostname = "" }, "hostname"},
		{"bad hostname", func(p *Params) { p.Hostname = "node_1" }, "hostname"},
		{"hostname injection", func(p *Params) { p.Hostname = "a\nruncmd: [x]" }, "hostname"},
		{"no CA", func(p *Params) { p.CACertPEM = nil }, "CA certificate"},
		{"key as certificate", func(p *Params) { p.ServerCertPEM = testMaterial.key }, "server certificate"},
		{"certificate as key", func(p *Params) { p.ServerKeyPEM = testMaterial.cert }, "server key"},
		{"not PEM", func(p *Params) { p.CACertPEM = []byte("hello") }, "not PEM"},
		{"reserved daemon key", func(p *Params) { p.DaemonExtra = map[string]any{"hosts": []string{"tcp://0.0.0.0:2375"}} }, "managed by Haddock"},
		{"unencodable daemon extra", func(p *Params) { p.DaemonExtra = map[string]any{"x": make(chan int)} }, "daemon.json"},
		{"unknown user data", func(p *Params) { p.UserData = "just some text" }, "not a format cloud-init understands"},
		{"invalid user YAML", func(p *Params) { p.UserData = "#cloud-config\nruncmd: [\n" }, "cloud-config"},
		{"two YAML documents", func(p *Params) { p.UserData = "#cloud-config\na: 1\n---\nb: 2\n" }, "more than one YAML document"},
		{"top-level list", func(p *Params) { p.UserData = "#cloud-config\n- a\n" }, "not a mapping"},
		{"duplicate key", func(p *Params) { p.UserData = "#cloud-config\nruncmd: [a]\nruncmd: [b]\n" }, "more than once"},
		{"runcmd not a list", func(p *Params) { p.UserData = "#cloud-config\nruncmd: echo\n" }, `"runcmd" must be a list`},
		{"overwrites daemon.json", func(p *Params) {
			p.UserData = "#cloud-config\nwrite_files:\n  - path: /etc/docker/../docker/daemon.json\n    content: '{}'\n"
		}, "Haddock manages it"},
		{"overwrites server key", func(p *Params) {
			p.UserData = "#cloud-config\nwrite_files:\n  - path: /etc/docker/server-key.pem\n    content: x\n"
		}, "Haddock manages it"},
		// Found by FuzzRenderUserData: each was accepted and gave user data
		// that cloud-init (and Parse) would not read, or wrote over ours.
		{"overwrites daemon.json by a relative path", func(p *Params) {
			p.UserData = "#cloud-config\nwrite_files:\n  - path: etc/docker/daemon.json\n    content: '{}'\n"
		}, "Haddock manages it"},
		{"write_files entry not a mapping", func(p *Params) { p.UserData = "#cloud-config\nwrite_files:\n-\n" }, "must be a mapping with a path"},
		{"write_files entry without a path", func(p *Params) { p.UserData = "#cloud-config\nwrite_files:\n  - path:\n" }, "path must be a file path"},
		{"write_files not a list", func(p *Params) { p.UserData = "#cloud-config\nwrite_files: x\n" }, "must be a list"},
		{"malformed MIME header name", func(p *Params) { p.UserData = "MIME-Version: 1.0\nC(x: y\n\nbody" }, "malformed"},
		{"control character in a MIME header", func(p *Params) { p.UserData = "MIME-Version:\f0" }, "control character"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := testParams("")
			tt.mutate(&p)
			_, err := Render(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.want)
			}
			if strings.Contains(err.Error(), string(testMaterial.key[40:70])) {
				t.Fatalf("error leaks key material: %v", err)
			}
		})
	}
}

func TestMergeCloudConfig(t *testing.T) {
	user := `#cloud-config
hostname: evil
package_update: false
# the user's comment
timezone: Europe/Paris
packages: [htop]
bootcmd:
  - echo boot
ssh_authorized_keys:
  - ssh-ed25519 AAAA user@example
write_files:
  - path: /etc/motd
    content: hello
    permissions: '0640'
runcmd:
  - echo user
apt:
  sources:
    x: {source: "deb http://example/ stable main"}
`
	ud := mustRender(t, testParams(user))
	m := cloudConfig(t, ud)

	if m["hostname"] != "node-1" || m["package_update"] != true {
		t.Errorf("protected keys overridden: hostname=%v package_update=%v", m["hostname"], m["package_update"])
	}
	if m["timezone"] != "Europe/Paris" {
		t.Errorf("timezone = %v, user key lost", m["timezone"])
	}
	if _, ok := m["apt"].(map[string]any); !ok {
		t.Errorf("apt = %v, user mapping lost", m["apt"])
	}
	if got := strings.Join(strList(t, m["packages"]), ","); got != "docker.io,htop" {
		t.Errorf("packages = %s", got)
	}
	if got := strings.Join(strList(t, m["bootcmd"]), ","); got != "echo boot" {
		t.Errorf("bootcmd = %s", got)
	}
	if got := strList(t, m["ssh_authorized_keys"]); len(got) != 1 {
		t.Errorf("ssh_authorized_keys = %v", got)
	}
	runcmd := strList(t, m["runcmd"])
	if runcmd[len(runcmd)-1] != "echo user" || !strings.Contains(runcmd[len(runcmd)-2], "restart docker") {
		t.Errorf("user runcmd not appended after Haddock's: %v", runcmd)
	}
	files := strList(t, m["write_files"])
	if files[0] != CACertPath || files[len(files)-1] != "/etc/motd" {
		t.Errorf("write_files order = %v", files)
	}
	if strings.Count(ud, "#cloud-config") != 1 {
		t.Errorf("header repeated:\n%s", ud)
	}
	if !strings.Contains(ud, "# the user's comment") {
		t.Errorf("user comment lost:\n%s", ud)
	}

	doc := mustParse(t, ud)
	motd, ok := doc.File("/etc/motd")
	if !ok || string(motd.Content) != "hello" || motd.Permissions != 0o640 {
		t.Errorf("/etc/motd = %+v, %v", motd, ok)
	}
	if doc.Hostname != "node-1" {
		t.Errorf("hostname = %q", doc.Hostname)
	}
}

// TestMergeMapping covers the rules no key of Haddock's template exercises
// today: a user scalar wins an unprotected conflict, mappings merge.
func TestMergeMapping(t *testing.T) {
	ours, err := parseCloudConfig([]byte("a: 1\nhostname: h\nm: {x: 1, l: [1]}\nl: [1]\n"))
	if err != nil {
		t.Fatal(err)
	}
	user, err := parseCloudConfig([]byte("#cloud-config\na: 2\nhostname: evil\nm: {y: 2, l: [2], x: 3}\nl: ~\nz: 9\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := mergeMapping(ours, user, true); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := ours.Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := `{"a":2,"hostname":"h","l":[1],"m":{"l":[1,2],"x":3,"y":2},"z":9}`
	if g := mustJSON(t, got); g != want {
		t.Errorf("merged = %s\nwant   %s", g, want)
	}
}

func TestEmptyUserData(t *testing.T) {
	base := mustRender(t, testParams(""))
	for _, ud := range []string{"  \n\t", "#cloud-config\n", "#cloud-config\n# only comments\n", "#cloud-config\n---\n"} {
		got := mustRender(t, testParams(ud))
		if ud == "#cloud-config\n# only comments\n" {
			// A comment alone may survive; the data must be identical.
			got = strings.Replace(got, "# only comments\n", "", 1)
		}
		if got != base {
			t.Errorf("user data %q changed the document:\n%s", ud, got)
		}
	}
}

type mimePart struct {
	ctype, filename, mergeType string
	body                       []byte
}

// readMIME parses a multipart document the way a mail reader would.
func readMIME(t *testing.T, ud string) []mimePart {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(ud))
	if err != nil {
		t.Fatalf("not a MIME message: %v\n%s", err, ud)
	}
	if msg.Header.Get("MIME-Version") != "1.0" {
		t.Errorf("MIME-Version = %q", msg.Header.Get("MIME-Version"))
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("Content-Type = %q (%v)", msg.Header.Get("Content-Type"), err)
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	var parts []mimePart
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			return parts
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(p)
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if p.Header.Get("Content-Transfer-Encoding") == "base64" {
			body, _ = base64.StdEncoding.DecodeString(strings.ReplaceAll(string(body), "\r\n", ""))
		}
		parts = append(parts, mimePart{ctype: ct, filename: p.FileName(), mergeType: p.Header.Get("Merge-Type"), body: body})
	}
}

func TestRenderMultipart(t *testing.T) {
	script := "#!/bin/bash\nset -e\necho \"hello\" > /tmp/x\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(script))
	_ = zw.Close()

	for _, tt := range []struct {
		name, userData, wantType, wantBody string
	}{
		{"shell script", script, "text/x-shellscript", script},
		{"gzipped shell script", gz.String(), "text/x-shellscript", script},
		{"include", "#include\nhttps://example.com/cfg\n", "text/x-include-url", "#include\nhttps://example.com/cfg\n"},
		{"boothook", "#cloud-boothook\necho early\n", "text/cloud-boothook", "#cloud-boothook\necho early\n"},
		{"cloud-config archive", "#cloud-config-archive\n- type: text/x-shellscript\n  content: echo\n", "text/cloud-config-archive", ""},
		{"jinja", "## template: jinja\n#cloud-config\nruncmd: [echo {{ v1.instance_id }}]\n", "text/jinja2", ""},
		{"non-ASCII script", "#!/bin/sh\necho héllo\n", "text/x-shellscript", "#!/bin/sh\necho héllo\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ud := mustRender(t, testParams(tt.userData))
			parts := readMIME(t, ud)
			if len(parts) != 2 {
				t.Fatalf("%d parts, want 2", len(parts))
			}
			if parts[0].ctype != "text/cloud-config" || !strings.HasPrefix(string(parts[0].body), "#cloud-config\n") {
				t.Errorf("first part is %s:\n%s", parts[0].ctype, parts[0].body)
			}
			cloudConfig(t, string(parts[0].body))
			if parts[1].ctype != tt.wantType {
				t.Errorf("second part type = %s, want %s", parts[1].ctype, tt.wantType)
			}
			if tt.wantBody != "" && string(parts[1].body) != tt.wantBody {
				t.Errorf("second part body = %q, want %q", parts[1].body, tt.wantBody)
			}
			if parts[0].filename == parts[1].filename {
				t.Errorf("parts share filename %q", parts[0].filename)
			}
			if tt.wantType == "text/jinja2" && parts[1].mergeType != jinjaMergeType {
				t.Errorf("jinja part Merge-Type = %q", parts[1].mergeType)
			}

			doc := mustParse(t, ud)
			if doc.Hostname != "node-1" {
				t.Errorf("Parse hostname = %q", doc.Hostname)
			}
			if f, ok := doc.File(ServerKeyPath); !ok || !bytes.Equal(f.Content, testMaterial.key) || f.Permissions != 0o600 {
				t.Errorf("Parse lost the server key: %+v %v", f.Permissions, ok)
			}
		})
	}
}

func TestRenderUserMultipart(t *testing.T) {
	userCC := "#cloud-config\nruncmd:\n  - echo from-mime\nwrite_files:\n  - path: /etc/user\n    content: u\n"
	user := "Content-Type: multipart/mixed; boundary=\"XYZ\"\nMIME-Version: 1.0\n\n" +
		"--XYZ\nContent-Type: text/cloud-config\nContent-Transfer-Encoding: base64\n\n" +
		base64.StdEncoding.EncodeToString([]byte(userCC)) + "\n" +
		"--XYZ\nContent-Type: text/x-shellscript\nContent-Disposition: attachment; filename=\"mine.sh\"\n\n#!/bin/sh\necho script\n" +
		"--XYZ\nContent-Type: text/plain\n\n#!/bin/sh\necho sniffed\n" +
		"--XYZ--\n"
	ud := mustRender(t, testParams(user))
	parts := readMIME(t, ud)
	if len(parts) != 3 {
		t.Fatalf("%d parts, want 3 (merged cloud-config and two scripts)", len(parts))
	}
	cc := cloudConfig(t, string(parts[0].body))
	runcmd := strList(t, cc["runcmd"])
	if runcmd[len(runcmd)-1] != "echo from-mime" {
		t.Errorf("MIME cloud-config not merged: runcmd %v", runcmd)
	}
	if parts[1].filename != "mine.sh" || string(parts[1].body) != "#!/bin/sh\necho script" {
		t.Errorf("script part = %q %q", parts[1].filename, parts[1].body)
	}
	if parts[2].ctype != "text/plain" {
		t.Errorf("third part type rewritten to %s", parts[2].ctype)
	}
	doc := mustParse(t, ud)
	if f, ok := doc.File("/etc/user"); !ok || string(f.Content) != "u" {
		t.Errorf("/etc/user = %q %v", f.Content, ok)
	}
	if _, ok := doc.File(DaemonConfigPath); !ok {
		t.Error("daemon.json lost")
	}
}

func TestParse(t *testing.T) {
	gzB64 := func(s string) string {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write([]byte(s))
		_ = zw.Close()
		return base64.StdEncoding.EncodeToString(b.Bytes())
	}
	b64 := base64.StdEncoding.EncodeToString
	cc := `#cloud-config
hostname: web-1
write_files:
  - path: /plain
    content: |
      line
  - path: /b64
    encoding: b64
    content: ` + b64([]byte("decoded")) + `
  - path: /base64
    encoding: BASE64
    content: ` + b64([]byte("decoded2")) + `
  - path: /gz
    encoding: gzip+base64
    content: ` + gzB64("unzipped") + `
  - path: /gzb64
    encoding: gz+b64
    content: ` + gzB64("unzipped2") + `
  - path: /binary
    content: !!binary ` + b64([]byte{0, 1, 2}) + `
  - path: /unknown-encoding
    encoding: rot13
    content: as-is
  - path: /p-octal
    permissions: 0600
  - path: /p-quoted
    permissions: "0750"
  - path: /p-decimal
    permissions: 384
  - path: /p-0o
    permissions: 0o700
  - path: /p-setuid
    permissions: "4755"
  - path: /p-bad
    permissions: rwx
  - content: no path, skipped
  - path: /owned
    owner: www-data:www-data
    defer: true
  - path: /app
    content: "a"
  - path: /app
    content: "b"
    append: true
`
	doc := mustParse(t, cc)
	if doc.Hostname != "web-1" {
		t.Errorf("hostname = %q", doc.Hostname)
	}
	for _, tt := range []struct {
		path    string
		content string
		perm    fs.FileMode
	}{
		{"/plain", "line\n", 0o644},
		{"/b64", "decoded", 0o644},
		{"/base64", "decoded2", 0o644},
		{"/gz", "unzipped", 0o644},
		{"/gzb64", "unzipped2", 0o644},
		{"/binary", "\x00\x01\x02", 0o644},
		{"/unknown-encoding", "as-is", 0o644},
		{"/p-octal", "", 0o600},
		{"/p-quoted", "", 0o750},
		{"/p-decimal", "", 0o600},
		{"/p-0o", "", 0o700},
		{"/p-setuid", "", 0o755 | fs.ModeSetuid},
		{"/p-bad", "", 0o644},
		{"/app", "ab", 0o644},
	} {
		f, ok := doc.File(tt.path)
		if !ok {
			t.Errorf("%s missing", tt.path)
			continue
		}
		if string(f.Content) != tt.content || f.Permissions != tt.perm {
			t.Errorf("%s = %q %v, want %q %v", tt.path, f.Content, f.Permissions, tt.content, tt.perm)
		}
	}
	if len(doc.Files) != 16 {
		t.Errorf("%d files, want 16 (entry without path skipped)", len(doc.Files))
	}
	owned, _ := doc.File("/owned")
	if owned.Owner != "www-data:www-data" || !owned.Defer {
		t.Errorf("/owned = %+v", owned)
	}
	if p, _ := doc.File("/plain"); p.Owner != "root:root" {
		t.Errorf("default owner = %q", p.Owner)
	}
	if _, ok := doc.File("/nope"); ok {
		t.Error("File found a path never written")
	}
}

func TestParseMultipart(t *testing.T) {
	var gzPart bytes.Buffer
	zw := gzip.NewWriter(&gzPart)
	_, _ = zw.Write([]byte("#cloud-config\nwrite_files:\n  - path: /late\n    content: z\n"))
	_ = zw.Close()

	// Nested multipart; cloud-config parts as text/cloud-config, as
	// text/plain (sniffed), and gzip-compressed. A later part's key replaces
	// an earlier one's, as with cloud-init's default merge.
	ud := "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=outer\n\n" +
		"--outer\nContent-Type: text/cloud-config\n\n#cloud-config\nhostname: first\nwrite_files:\n  - path: /early\n    content: e\n" +
		"--outer\nContent-Type: multipart/mixed; boundary=inner\n\n" +
		"--inner\nContent-Type: text/plain\n\n#cloud-config\nhostname: second\n" +
		"--inner\nContent-Type: text/x-shellscript\n\n#!/bin/sh\nwrite_files: not yaml\n" +
		"--inner--\n" +
		"--outer\nContent-Type: application/x-gzip\nContent-Transfer-Encoding: base64\n\n" +
		base64.StdEncoding.EncodeToString(gzPart.Bytes()) + "\n" +
		"--outer--\n"
	doc := mustParse(t, ud)
	if doc.Hostname != "second" {
		t.Errorf("hostname = %q, want second", doc.Hostname)
	}
	if _, ok := doc.File("/early"); ok {
		t.Error("/early should be replaced by the later part's write_files")
	}
	if f, ok := doc.File("/late"); !ok || string(f.Content) != "z" {
		t.Errorf("/late = %q %v", f.Content, ok)
	}

	// Round trip through gzip of the whole document.
	rendered := mustRender(t, testParams("#!/bin/sh\necho hi\n"))
	var whole bytes.Buffer
	zw = gzip.NewWriter(&whole)
	_, _ = zw.Write([]byte(rendered))
	_ = zw.Close()
	doc = mustParse(t, whole.String())
	if _, ok := doc.File(ServerCertPath); !ok || doc.Hostname != "node-1" {
		t.Errorf("gzip round trip lost data: %+v", doc)
	}
}

func TestParseEmptyAndErrors(t *testing.T) {
	for _, ud := range []string{"", "  \n", "#!/bin/sh\necho\n", "#cloud-config\n", "hello"} {
		doc, err := Parse(ud)
		if err != nil || doc.Hostname != "" || len(doc.Files) != 0 {
			t.Errorf("Parse(%q) = %+v, %v; want empty", ud, doc, err)
		}
	}
	for _, ud := range []string{
		"#cloud-config\nwrite_files: [\n",
		"#cloud-config\nwrite_files: nope\n",
		"#cloud-config\nwrite_files: [3]\n",
		"#cloud-config\nwrite_files:\n  - path: /x\n    encoding: b64\n    content: '!!!'\n",
		"#cloud-config\nwrite_files:\n  - path: /x\n    encoding: gzip\n    content: notgzip\n",
		"#cloud-config\nhostname: [a]\n",
		"MIME-Version: 1.0\nContent-Type: multipart/mixed\n\nx",
	} {
		if _, err := Parse(ud); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", ud)
		}
	}
}

func TestSniff(t *testing.T) {
	for in, want := range map[string]string{
		"#cloud-config\n":          "text/cloud-config",
		"  #Cloud-Config\n":        "text/cloud-config",
		"#cloud-config-archive\n":  "text/cloud-config-archive",
		"#cloud-config-jsonp\n":    "text/cloud-config-jsonp",
		"#include-once\n":          "text/x-include-once-url",
		"#include\n":               "text/x-include-url",
		"#!/usr/bin/env python3\n": "text/x-shellscript",
		"## template: jinja\n":     "text/jinja2",
		"#part-handler\n":          "text/part-handler",
		"echo hi\n":                "",
	} {
		if got := sniff([]byte(in)); got != want {
			t.Errorf("sniff(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("")
	f.Add("#cloud-config\nhostname: x\nwrite_files:\n  - path: /a\n    content: b\n    permissions: 0600\n")
	f.Add("#cloud-config\nwrite_files:\n  - path: /a\n    encoding: gz+b64\n    content: H4sIAAAAAAAA/0tMSgYAw4k1sQIAAAA=\n")
	f.Add("#cloud-config\na: &x [1, *x]\n")
	f.Add("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/cloud-config\n\n#cloud-config\nhostname: y\n--b--\n")
	f.Add("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/mixed; boundary=c\n\n--c\nContent-Type: application/x-gzip\nContent-Transfer-Encoding: base64\n\nH4sI\n--c--\n--b--\n")
	f.Add(mustRenderForFuzz())
	f.Fuzz(func(t *testing.T, ud string) {
		doc, err := Parse(ud)
		if err == nil && doc == nil {
			t.Fatal("nil document without error")
		}
	})
}

func mustRenderForFuzz() string {
	out, err := Render(testParams("#!/bin/sh\necho hi\n"))
	if err != nil {
		panic(err)
	}
	return out
}
