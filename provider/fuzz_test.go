package provider

import (
	"strings"
	"testing"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

// FuzzParseCloudID reads import ids and host_id values: it never panics,
// and what it accepts names a known cloud, has no empty part, and writes
// back to the same id.
func FuzzParseCloudID(f *testing.F) {
	for _, s := range []string{"digitalocean/3164444", "aws/i-0abc123", "aws/us-west-2/i-0abc123", "aws//x", "/", "", "digitalocean/a/b", "gcp/1", "aws/i-0abc123/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		c, region, vid, err := parseCloudID(id)
		if err != nil {
			if !strings.Contains(err.Error(), "is not a host id") {
				t.Fatalf("parseCloudID(%q): an error that does not say what to do: %v", id, err)
			}
			return
		}
		if !cloud.ValidCloud(c) || vid == "" {
			t.Fatalf("parseCloudID(%q) = %q, %q, %q", id, c, region, vid)
		}
		back := c + "/" + vid
		if region != "" {
			back = c + "/" + region + "/" + vid
		}
		if back != id {
			t.Fatalf("parseCloudID(%q) reads back as %q", id, back)
		}
	})
}
