package stack

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzLoad feeds Load arbitrary content: it must never panic, and its
// errors must be *LoadError (or ErrInvalidName, not reachable here) with a
// line within the file.
//
//	go test -run '^$' -fuzz FuzzLoad -fuzztime 30s ./internal/stack/
func FuzzLoad(f *testing.F) {
	seeds := []string{
		"",
		"services:\n  web:\n    image: nginx\n",
		realCompose,
		"services:\n  web:\n    image: nginx\n    foo: bar\n",
		"services:\n  web:\n    image: ${X\n",
		"services:\n  web:\n    image: nginx\n    ports: ['${X']\n",
		"x-base: &base\n  image: nginx\nservices:\n  web:\n    <<: *base\n    deploy: {replicas: 2}\n",
		"services:\n  web:\n    image: nginx\n    networks: [nope]\n",
		"services:\n  web:\n    image: nginx\n    deploy: {resources: {limits: {memory: 1xx}}}\n",
		"services:\n  web:\n    build: .\n",
		"services:\n  web:\n    image: nginx\n    env_file: a.env\n    secrets: [s]\n    configs: [c]\nsecrets: {s: {file: s}}\nconfigs: {c: {file: c}}\n",
		"services:\n  web:\n    image: nginx\n    healthcheck: {test: [CMD, x], interval: 1s}\n    ulimits: {nofile: {soft: 1, hard: 2}}\n",
		"a: &a [*a]\n",
		"services: {web: {image: nginx, volumes: ['a:b:c:d'], extra_hosts: ['a'], deploy: {mode: global, placement: {constraints: ['x==y']}}}}\n",
		"version: '3.13'\nservices:\n  web:\n    image: nginx\n    logging: {driver: json-file, options: {max-size: 1m}}\n",
		"services:\n  ? [a, b]\n  : image: x\n",
		"services:\n  web: !!binary aGVsbG8=\n",
		"{services: {web: {image: 'nginx', command: [1, 2], environment: {A: 1, B: true, C: null}}}}",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	files := map[string][]byte{"a.env": []byte("A=1\nB\n"), "s": []byte("secret"), "c": []byte("config")}
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		p, err := LoadWithOptions("fz", data, LoadOptions{Env: map[string]string{"X": "1"}, Files: files})
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("Load took %s", d)
		}
		if err != nil {
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("Load = %v (%T), want a *LoadError", err, err)
			}
			if strings.Contains(le.Msg, "internal error") {
				t.Fatalf("Load panicked: %v", err)
			}
			if lines := strings.Count(string(data), "\n") + 1; le.Line < 0 || le.Line > lines+1 {
				t.Fatalf("error line %d of a %d-line file: %v", le.Line, lines, err)
			}
			return
		}
		if p == nil {
			t.Fatal("no project and no error")
		}
		for _, s := range p.Services {
			if s.SpecHash == "" || s.FullName != "fz_"+s.Name {
				t.Fatalf("service %+v", s)
			}
		}
	})
}
