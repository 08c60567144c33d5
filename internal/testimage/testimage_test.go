package testimage

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"testing"
)

func TestArchiveLayout(t *testing.T) {
	a, err := Archive("x:1", "app", []byte("binary"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(a))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[h.Name] = b
	}
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest) != 1 || manifest[0].RepoTags[0] != "x:1" || files[manifest[0].Config] == nil || files[manifest[0].Layers[0]] == nil {
		t.Fatalf("manifest %+v does not point at the archive's files %v", manifest, len(files))
	}
}

func TestBuildCompilesStatically(t *testing.T) {
	if a := Build(t, "sleeper:test", Sleeper); len(a) < 100_000 {
		t.Fatalf("archive of %d bytes is too small to hold a Go binary", len(a))
	}
}
