package cloudinit

import (
	"bytes"
	"path"
	"testing"
)

// FuzzRenderUserData merges arbitrary user data into a host's cloud-config:
// whatever the user writes, Render never panics, and when it accepts the
// user data the result parses and every file Haddock owns (the engine's TLS
// material and daemon.json) is exactly Haddock's — user data cannot swap
// the engine's certificates or open a listener without TLS.
func FuzzRenderUserData(f *testing.F) {
	f.Add("")
	f.Add("#!/bin/sh\necho hi\n")
	f.Add("#cloud-config\npackages: [htop]\nruncmd: [[touch, /x]]\n")
	f.Add("#cloud-config\nwrite_files:\n  - path: /etc/docker/daemon.json\n    content: '{\"hosts\":[\"tcp://0.0.0.0:2375\"]}'\n")
	f.Add("#cloud-config\nwrite_files:\n  - path: /etc/docker/../docker/daemon.json\n    content: x\n")
	f.Add("#cloud-config\nhostname: evil\nbootcmd: [echo]\n")
	f.Add("#cloud-config\na: &x {b: *x}\n")
	f.Add("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/cloud-config\n\n#cloud-config\nwrite_files:\n  - path: /etc/docker/server-key.pem\n    content: k\n--b--\n")
	f.Add("#include\nhttps://example.com/x\n")

	base, err := Render(testParams(""))
	if err != nil {
		f.Fatal(err)
	}
	baseDoc, err := Parse(base)
	if err != nil {
		f.Fatal(err)
	}
	owned := map[string][]byte{}
	for _, p := range []string{CACertPath, ServerCertPath, ServerKeyPath, DaemonConfigPath} {
		for _, fl := range baseDoc.Files {
			if fl.Path == p {
				owned[p] = fl.Content
			}
		}
		if owned[p] == nil {
			f.Fatalf("the base render writes no %s", p)
		}
	}

	f.Fuzz(func(t *testing.T, userData string) {
		out, err := Render(testParams(userData))
		if err != nil {
			return // refused, with an error: fine
		}
		doc, err := Parse(out)
		if err != nil {
			t.Fatalf("Render accepted user data whose result does not parse: %v\nuser data: %q", err, userData)
		}
		seen := map[string]bool{}
		for _, fl := range doc.Files {
			want, ours := owned[cleanPath(fl.Path)]
			if !ours {
				continue
			}
			seen[cleanPath(fl.Path)] = true
			if !bytes.Equal(fl.Content, want) {
				t.Fatalf("user data replaced %s\nuser data: %q", fl.Path, userData)
			}
		}
		for p := range owned {
			if !seen[p] {
				t.Fatalf("the result lost %s\nuser data: %q", p, userData)
			}
		}
	})
}

// cleanPath is the path cloud-init writes to: "/etc/docker/../docker/x"
// is /etc/docker/x.
func cleanPath(p string) string { return path.Clean("/" + p) }
