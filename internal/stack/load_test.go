package stack

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadErrors: every problem is a *LoadError with the line of the entry
// at fault.
func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		opts LoadOptions
		line int
		path string
		msg  string
	}{
		{"yaml syntax", "services:\n  web:\n    image: nginx\n  :bad\n", LoadOptions{}, 4, "", "could not find expected ':'"},
		{"duplicate key", "services:\n  web:\n    image: a\n    image: b\n", LoadOptions{}, 4, "", `mapping key "image" already defined at line 3`},
		{"not a mapping", "- a\n- b\n", LoadOptions{}, 1, "", "top level must be a mapping"},
		{"empty", "", LoadOptions{}, 1, "", "top level must be a mapping"},
		{"non-string key", "services: {}\n1: a\n", LoadOptions{}, 2, "", "keys must be strings"},
		{"unknown key", "services:\n  web:\n    image: nginx\n    foo: bar\n", LoadOptions{}, 4, "services.web.foo", `unknown option "foo"`},
		{"unknown top-level key", "services:\n  web:\n    image: nginx\nvolumez: {}\n", LoadOptions{}, 4, "volumez", `unknown option "volumez"`},
		{"wrong type", "services:\n  web:\n    image: nginx\n    deploy:\n      replicas: two\n", LoadOptions{}, 5, "services.web.deploy.replicas", "must be a integer"},
		{"bad port", "services:\n  web:\n    image: nginx\n    ports:\n      - \"80\"\n      - \"abc\"\n", LoadOptions{}, 6, "services.web.ports.1", "Does not match format 'ports'"},
		{"bad duration", "services:\n  web:\n    image: nginx\n    deploy:\n      update_config:\n        delay: 10x\n", LoadOptions{}, 6, "services.web.deploy.update_config.delay", "duration"},
		{"interpolation", "services:\n  web:\n    image: nginx\n    environment:\n      - A=1\n      - B=${X\n", LoadOptions{}, 6, "services.web.environment", `invalid interpolation format "B=${X"`},
		{"required variable", "services:\n  web:\n    image: ${IMAGE:?set IMAGE}\n", LoadOptions{}, 3, "services.web.image", "set IMAGE"},
		{"old version", "version: '2'\nservices:\n  web:\n    image: nginx\n", LoadOptions{}, 1, "version", "unsupported Compose file version: 2"},
		{"forbidden", "services:\n  web:\n    image: nginx\n    volumes_from: [x]\n", LoadOptions{}, 4, "services.web.volumes_from", "not supported"},
		{"decoding", "services:\n  a:\n    image: nginx\n  web:\n    image: nginx\n    deploy:\n      resources:\n        limits:\n          memory: 1xx\n", LoadOptions{}, 9, "services.web.deploy.resources.limits.memory", "invalid suffix"},
		{"shell quoting", "services:\n  web:\n    image: nginx\n    command: 'a \"b'\n", LoadOptions{}, 4, "services.web.command", "closing quote"},
		{"no image", "services:\n  web:\n    environment: [A=1]\n", LoadOptions{}, 2, "services.web", "no image"},
		{"build without image", "services:\n  web:\n    build: .\n", LoadOptions{}, 3, "services.web.build", "build: is not supported"},
		{"bad image", "services:\n  web:\n    image: Nginx:1\n", LoadOptions{}, 3, "services.web.image", "invalid image reference"},
		{"network_mode host", "services:\n  web:\n    image: nginx\n    network_mode: host\n", LoadOptions{}, 4, "services.web.network_mode", "external network named host"},
		{"relative bind", "services:\n  web:\n    image: nginx\n    volumes:\n      - ./data:/data\n", LoadOptions{}, 5, "services.web.volumes.0", "relative"},
		{"undefined network", "services:\n  web:\n    image: nginx\n    networks:\n      - front\n      - back\nnetworks:\n  front:\n", LoadOptions{}, 6, "services.web.networks", `undefined network "back"`},
		{"undefined network map", "services:\n  web:\n    image: nginx\n    networks:\n      back:\n        aliases: [x]\n", LoadOptions{}, 5, "services.web.networks.back", `undefined network "back"`},
		{"undefined secret", "services:\n  web:\n    image: nginx\n    secrets:\n      - source: s\n        target: x\n", LoadOptions{}, 5, "services.web.secrets", `undefined secret "s"`},
		{"undefined config", "services:\n  web:\n    image: nginx\n    configs: [c]\n", LoadOptions{}, 4, "services.web.configs", `undefined config "c"`},
		{"unknown mode", "services:\n  web:\n    image: nginx\n    deploy:\n      mode: everywhere\n", LoadOptions{}, 5, "services.web.deploy.mode", "Unknown mode: everywhere"},
		{"replicas of a global service", "services:\n  web:\n    image: nginx\n    deploy:\n      mode: global\n      replicas: 2\n", LoadOptions{}, 6, "services.web.deploy.replicas", "replicas can only be used"},
		{"dotted service name", "services:\n  web.app:\n    image: nginx\n", LoadOptions{}, 2, "services.web.app", "not valid"},
		{"config file missing", "services:\n  web:\n    image: nginx\n    configs: [c]\nconfigs:\n  c:\n    file: ./c.conf\n", LoadOptions{}, 7, "configs.c.file", "was not provided"},
		{"config file on disk missing", "services:\n  web:\n    image: nginx\n    configs: [c]\nconfigs:\n  c:\n    file: ./c.conf\n", LoadOptions{WorkingDir: "/nonexistent"}, 7, "configs.c.file", "no such file"},
		{"secret too big", "services:\n  web:\n    image: nginx\n    secrets: [s]\nsecrets:\n  s:\n    file: s\n", LoadOptions{Files: map[string][]byte{"s": make([]byte, MaxSecretSize+1)}}, 7, "secrets.s.file", "more than"},
		{"env_file missing", "services:\n  web:\n    image: nginx\n    env_file:\n      - a.env\n      - b.env\n", LoadOptions{Files: map[string][]byte{"a.env": []byte("A=1")}}, 6, "services.web.env_file", "b.env was not provided"},
		{"env_file bad", "services:\n  web:\n    image: nginx\n    env_file: a.env\n", LoadOptions{Files: map[string][]byte{"a.env": []byte("=x")}}, 4, "services.web.env_file", "no variable name"},
		{"merge keys", "x-base: &base\n  image: nginx\n  deploy:\n    replicas: many\nservices:\n  web:\n    <<: *base\n", LoadOptions{}, 4, "services.web.deploy.replicas", "must be a integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadWithOptions("st", []byte(tt.yaml), tt.opts)
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("Load = %v (%T), want a *LoadError", err, err)
			}
			if le.Line != tt.line || le.Path != tt.path || !strings.Contains(le.Msg, tt.msg) {
				t.Errorf("Load = line %d path %q msg %q, want line %d path %q msg containing %q", le.Line, le.Path, le.Msg, tt.line, tt.path, tt.msg)
			}
			if !strings.Contains(le.Error(), "compose file line ") {
				t.Errorf("Error() = %q", le.Error())
			}
		})
	}
}

func TestLoadWarnings(t *testing.T) {
	p := mustLoad(t, `
services:
  web:
    image: nginx
    build: .
    restart: always
    container_name: web1
    environment:
      A: $UNSET
      B: ${WITH_DEFAULT:-x}
      C: $$LITERAL
`, LoadOptions{})
	var got []string
	for _, w := range p.Warnings {
		got = append(got, w.String())
	}
	want := []string{
		"line 5: services.web.build is ignored",
		"line 6: services.web.restart is ignored",
		"line 7: services.web.container_name is ignored: Setting the container name is not supported.",
		"line 9: variable UNSET is not set",
	}
	if len(got) != len(want) {
		t.Fatalf("warnings = %q, want %d", got, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("warning %d = %q, want %q...", i, got[i], want[i])
		}
	}
}

func TestLoadName(t *testing.T) {
	for _, name := range []string{"", "a.b", "-a", "a-", "a b", strings.Repeat("a", 41), "a/b"} {
		if _, err := Load(name, []byte("services: {web: {image: nginx}}"), nil); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Load(%q) = %v, want ErrInvalidName", name, err)
		}
	}
	for _, name := range []string{"a", "my-app", "my_app2", strings.Repeat("a", 40)} {
		if _, err := Load(name, []byte("services: {web: {image: nginx}}"), nil); err != nil {
			t.Errorf("Load(%q) = %v", name, err)
		}
	}
}

// TestLoadReadsNoDisk: without a working directory nothing is read from
// disk, not even an absolute path; with one, relative paths are below it.
func TestLoadReadsNoDisk(t *testing.T) {
	dir := t.TempDir()
	abs := filepath.Join(dir, "secret.txt")
	if err := os.WriteFile(abs, []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := "services: {web: {image: nginx, secrets: [s]}}\nsecrets: {s: {file: " + abs + "}}\n"
	if _, err := Load("st", []byte(src), nil); err == nil || !strings.Contains(err.Error(), "was not provided") {
		t.Errorf("Load with an absolute path and no working directory = %v", err)
	}
	p := mustLoad(t, "services: {web: {image: nginx, secrets: [s], env_file: e.env}}\nsecrets: {s: {file: secret.txt}}\n",
		LoadOptions{WorkingDir: dir, Files: map[string][]byte{"e.env": []byte("E=1")}})
	if p.Secrets[0].Size != 1 || spec(t, p, "web").TaskTemplate.ContainerSpec.Env[0] != "E=1" {
		t.Errorf("secret %+v, env %v", p.Secrets[0], spec(t, p, "web").TaskTemplate.ContainerSpec.Env)
	}
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadWithOptions("st", []byte("services: {web: {image: nginx, secrets: [s]}}\nsecrets: {s: {file: d}}\n"), LoadOptions{WorkingDir: dir}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Load of a directory = %v", err)
	}
}

// TestLoadInterpolation: variables come from the given environment only.
func TestLoadInterpolation(t *testing.T) {
	t.Setenv("HADDOCK_STACK_TEST_VAR", "from-process")
	p := mustLoad(t, `
services:
  web:
    image: nginx:${TAG}
    environment:
      - FROM_ENV
      - PROCESS=${HADDOCK_STACK_TEST_VAR:-unset}
    deploy:
      replicas: ${N}
`, LoadOptions{Env: map[string]string{"TAG": "1.25", "N": "3", "FROM_ENV": "x"}})
	s := spec(t, p, "web")
	eq(t, "image", s.TaskTemplate.ContainerSpec.Image, "nginx:1.25")
	eq(t, "replicas", *s.Mode.Replicated.Replicas, uint64(3))
	eq(t, "env", s.TaskTemplate.ContainerSpec.Env, []string{"FROM_ENV=x", "PROCESS=unset"})
}

// Errors never quote a sensitive input: an image interpolated from env
// names the variable, an env_file line is not shown.
func TestLoadErrorsRedactSecrets(t *testing.T) {
	const secret = "s3cr3t-Passw0rd"
	_, err := Load("app", []byte("services:\n  web:\n    image: \"registry.example/${TOKEN}/x y\"\n"), map[string]string{"TOKEN": secret})
	if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "${TOKEN}") {
		t.Errorf("image error: %v", err)
	}
	for _, line := range []string{"=" + secret, secret + " more", "\xff" + secret} {
		_, err := LoadWithOptions("app", []byte("services:\n  web:\n    image: nginx\n    env_file: [app.env]\n"),
			LoadOptions{Files: map[string][]byte{"app.env": []byte("A=1\n" + line + "\n")}})
		if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "env_file app.env") {
			t.Errorf("env_file line %q: %v", line, err)
		}
	}
}
