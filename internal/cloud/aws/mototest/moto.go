// Package mototest runs moto_server, an independent AWS emulator, for the
// AWS driver's integration tests and the provider's acceptance tests.
//
//	endpoint := mototest.StartMoto(t)
//	d, err := aws.New(ctx, aws.Config{Region: mototest.Region,
//		AccessKey: mototest.AccessKey, SecretKey: mototest.SecretKey,
//		Endpoints: aws.Endpoints{EC2: endpoint, STS: endpoint}})
//
// moto_server is found at $HADDOCK_MOTO_SERVER, on PATH, or under
// ~/.pyenv/shims. When it is missing, tests skip, or fail when CI or
// HADDOCK_REQUIRE_MOTO=1 is set.
package mototest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Settings every moto test can use: moto accepts any credentials and
// answers as this account.
const (
	Region    = "us-east-1"
	AccessKey = "testing"
	SecretKey = "testing"
	AccountID = "123456789012"
)

// AMI is an image seeded into moto (the fields of moto's amis.json). It has
// no creation date: moto 5.2.1 parses the dates of seeded images in place,
// so the second region to load them fails (HTTP 500). moto stamps each
// image with the time it loads it instead, in list order: list older
// builds first.
type AMI struct {
	ID           string `json:"ami_id"`
	OwnerID      string `json:"owner_id"`
	Name         string `json:"name"`
	Description  string `json:"description,omitempty"`
	Architecture string `json:"architecture"`
	State        string `json:"state"`
	Public       bool   `json:"public"`
	Platform     string `json:"platform,omitempty"`
	ImageType    string `json:"image_type"`
	RootDevice   string `json:"root_device_type"`
	RootName     string `json:"root_device_name"`
	Virtual      string `json:"virtualization_type"`
	Hypervisor   string `json:"hypervisor"`
}

func ami(id, owner, name, arch string) AMI {
	return AMI{
		ID: id, OwnerID: owner, Name: name, Description: name,
		Architecture: arch, State: "available", Public: true, ImageType: "machine",
		RootDevice: "ebs", RootName: "/dev/xvda", Virtual: "hvm", Hypervisor: "xen",
	}
}

// Publisher accounts of the portable images, and an account that is
// neither.
const (
	DebianOwner    = "136693071363"
	CanonicalOwner = "099720109477"
	ImpostorOwner  = "111122223333"
)

// The AMIs the portable images should resolve to in PortableAMIs.
const (
	NewestDebian12 = "ami-0deb12a0000000b02"
	NewestUbuntu24 = "ami-0ub2404000000b02"
)

// PortableAMIs is what StartMoto seeds by default, in every region,
// instead of moto's stock images (which hold no Debian 12 or Ubuntu 24.04):
// two builds of each portable image under its publisher's account, older
// first, so the newest must be chosen; a newer "Debian" published by
// another account, which must never be; and an arm64 build the amd64
// filter must not match.
var PortableAMIs = []AMI{
	ami("ami-0deb12a0000000a01", DebianOwner, "debian-12-amd64-20240102-1614", "x86_64"),
	ami(NewestDebian12, DebianOwner, "debian-12-amd64-20250610-2136", "x86_64"),
	ami("ami-0deb12a0000000c03", DebianOwner, "debian-12-arm64-20250701-2200", "arm64"),
	ami("ami-0bad000000000d04", ImpostorOwner, "debian-12-amd64-29990101-0000", "x86_64"),
	ami("ami-0ub2404000000a01", CanonicalOwner, "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250115", "x86_64"),
	ami(NewestUbuntu24, CanonicalOwner, "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250612", "x86_64"),
}

type options struct {
	amis []AMI
	env  []string
}

// Option configures StartMoto.
type Option func(*options)

// WithAMIs seeds these images instead of PortableAMIs.
func WithAMIs(amis ...AMI) Option { return func(o *options) { o.amis = amis } }

// WithEnv adds KEY=VALUE settings to moto_server's environment.
func WithEnv(kv ...string) Option { return func(o *options) { o.env = append(o.env, kv...) } }

// Path finds moto_server.
func Path() (string, error) {
	if p := os.Getenv("HADDOCK_MOTO_SERVER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("moto_server not found: HADDOCK_MOTO_SERVER=%s: %w", p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("moto_server"); err == nil {
		return p, nil
	}
	var tried []string
	if home, err := os.UserHomeDir(); err == nil {
		tried = append(tried, filepath.Join(home, ".pyenv", "shims", "moto_server"))
	}
	tried = append(tried, "/root/.pyenv/shims/moto_server")
	for _, p := range tried {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("moto_server not found: install it with `pip install 'moto[server]'`, put it on PATH, or set HADDOCK_MOTO_SERVER")
}

// Required reports whether a missing moto_server fails tests rather than
// skipping them: when CI or HADDOCK_REQUIRE_MOTO=1 is set.
func Required() bool {
	return os.Getenv("CI") != "" || os.Getenv("HADDOCK_REQUIRE_MOTO") == "1"
}

// StartMoto starts moto_server on a free loopback port, waits until it
// answers and returns its endpoint (http://127.0.0.1:PORT); the server is
// stopped when the test ends. moto runs with AMI and key pair validation on
// (as AWS does) and the images of PortableAMIs.
func StartMoto(t testing.TB, opts ...Option) string {
	t.Helper()
	o := options{amis: PortableAMIs}
	for _, fn := range opts {
		fn(&o)
	}
	bin, err := Path()
	if err != nil {
		if Required() {
			t.Fatalf("moto is required (CI or HADDOCK_REQUIRE_MOTO=1 is set): %v", err)
		}
		t.Skipf("skipping: %v", err)
	}

	dir := t.TempDir()
	amisPath := filepath.Join(dir, "amis.json")
	data, err := json.Marshal(o.amis)
	if err != nil {
		t.Fatalf("encoding AMIs for moto: %v", err)
	}
	if err := os.WriteFile(amisPath, data, 0o600); err != nil {
		t.Fatalf("writing AMIs for moto: %v", err)
	}
	env := append(os.Environ(),
		"MOTO_AMIS_PATH="+amisPath,
		"MOTO_ENABLE_AMI_VALIDATION=true",
		"MOTO_ENABLE_KEYPAIR_VALIDATION=true",
	)
	env = append(env, o.env...)

	var lastErr error
	for try := 0; try < 3; try++ {
		endpoint, err := start(t, bin, env, filepath.Join(dir, fmt.Sprintf("moto-%d.log", try)))
		if err == nil {
			return endpoint
		}
		lastErr = err
	}
	t.Fatalf("starting moto_server: %v", lastErr)
	return ""
}

func start(t testing.TB, bin string, env []string, logPath string) (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return "", err
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	ownProcessGroup(cmd) // to stop its children with it
	if err := cmd.Start(); err != nil {
		return "", errors.Join(fmt.Errorf("running %s: %w", bin, err), logFile.Close())
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		// The log is read back by path (tail), and nothing waits on this
		// goroutine but stop, so a failed close has no one to report to.
		_ = logFile.Close()
		close(exited)
	}()
	stop := func() {
		terminate(cmd.Process)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			kill(cmd.Process)
			<-exited
		}
	}

	endpoint := "http://127.0.0.1:" + strconv.Itoa(port)
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case <-exited:
			return "", fmt.Errorf("moto_server exited before answering; its log:\n%s", tail(logPath))
		default:
		}
		resp, err := client.Get(endpoint + "/moto-api/data.json")
		if err == nil {
			// Any answer means the server is up; the body is not read.
			_ = resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			stop()
			return "", fmt.Errorf("moto_server did not answer on %s within 90s; its log:\n%s", endpoint, tail(logPath))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("moto_server log (tail):\n%s", tail(logPath))
		}
	})
	return endpoint, nil
}

// Reset drops every resource moto holds (POST /moto-api/reset).
func Reset(t testing.TB, endpoint string) {
	t.Helper()
	resp, err := http.Post(endpoint+"/moto-api/reset", "application/json", bytes.NewReader(nil))
	if err != nil {
		t.Fatalf("resetting moto: %v", err)
	}
	if err := resp.Body.Close(); err != nil {
		t.Fatalf("resetting moto: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("resetting moto: %s", resp.Status)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	addr, ok := l.Addr().(*net.TCPAddr)
	if err := l.Close(); err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("unexpected listener address %v", l.Addr())
	}
	return addr.Port, nil
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	const maxTail = 4096
	if len(b) > maxTail {
		b = b[len(b)-maxTail:]
	}
	return string(b)
}
