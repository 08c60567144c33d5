package provider_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/haddockhq/terraform-provider-haddock/acctest"
)

// haddock_host keeps no CA key in its private state, and a refresh removes
// the one earlier versions kept there.
func TestAccHost_noCAKeyInPrivateState(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TF_ACC_TEMP_DIR", tmp) // to find the state file; not parallel
	name := acctest.RandomName()
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             testAccCheckHostDestroy,
		Steps: []resource.TestStep{
			{
				Config: testAccHostConfig_basic(name, "eu-central", "small", "null"),
				Check: resource.ComposeTestCheckFunc(
					checkHostPrivate(tmp, false),
					injectLegacyCA(tmp),
					checkHostPrivate(tmp, true),
				),
			},
			{
				// The refresh of the next apply drops the legacy key.
				Config: testAccHostConfig_basic(name, "eu-central", "small", "null"),
				Check:  checkHostPrivate(tmp, false),
			},
		},
	})
}

// hostState reads the working directory's state file: its path, its
// content and the haddock_host instance in it.
func hostState(tmp string) (file string, st, inst map[string]any, err error) {
	files, err := filepath.Glob(filepath.Join(tmp, "plugintest*", "work*", "terraform.tfstate"))
	if err != nil || len(files) != 1 {
		return "", nil, nil, fmt.Errorf("state files under %s: %q (%v)", tmp, files, err)
	}
	b, err := os.ReadFile(files[0])
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil {
		return "", nil, nil, err
	}
	rs, _ := st["resources"].([]any)
	for _, r := range rs {
		rm, _ := r.(map[string]any)
		is, _ := rm["instances"].([]any)
		if rm["type"] == "haddock_host" && len(is) == 1 {
			if im, ok := is[0].(map[string]any); ok {
				return files[0], st, im, nil
			}
		}
	}
	return "", nil, nil, fmt.Errorf("no haddock_host instance in %s", files[0])
}

func checkHostPrivate(tmp string, wantCA bool) resource.TestCheckFunc {
	return func(*terraform.State) error {
		_, _, inst, err := hostState(tmp)
		if err != nil {
			return err
		}
		priv, _ := inst["private"].(string)
		raw, err := base64.StdEncoding.DecodeString(priv)
		if err != nil {
			return fmt.Errorf("private state %q: %w", priv, err)
		}
		if has := strings.Contains(string(raw), "docker_ca"); has != wantCA {
			return fmt.Errorf("private state %s: docker_ca present = %t, want %t", raw, has, wantCA)
		}
		return nil
	}
}

// injectLegacyCA writes a CA key into the host's private state, as earlier
// versions of haddock_host did.
func injectLegacyCA(tmp string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		file, st, inst, err := hostState(tmp)
		if err != nil {
			return err
		}
		legacy, _ := json.Marshal(map[string]string{"cert": "CERT", "key": "-----BEGIN EC PRIVATE KEY-----"})
		priv, _ := json.Marshal(map[string][]byte{"docker_ca": legacy}) // the framework's encoding
		inst["private"] = base64.StdEncoding.EncodeToString(priv)
		b, err := json.MarshalIndent(st, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(file, b, 0o600)
	}
}
