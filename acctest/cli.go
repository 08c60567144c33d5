package acctest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// CLI runs the Terraform CLI itself against the provider built as a binary
// (a dev_overrides CLI configuration, no terraform init): what a test needs
// when it kills Terraform, which terraform-plugin-testing cannot do.
type CLI struct {
	tf, rc, dir string
}

// builds are the binaries built once per test process, by package.
var builds sync.Map // package -> *build

type build struct {
	once sync.Once
	bin  string
	err  error
}

// buildBinary builds the module's main package pkg ("." or "./cmd/x")
// once per test process into a directory of its own, as name.
func buildBinary(pkg, name string) (string, error) {
	v, _ := builds.LoadOrStore(pkg, &build{})
	b, ok := v.(*build)
	if !ok {
		return "", fmt.Errorf("acctest: build of %s: %T", pkg, v)
	}
	b.once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			b.err = err
			return
		}
		dir, err := os.MkdirTemp("", "haddock-acc-bin-")
		if err != nil {
			b.err = err
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("building %s: %v\n%s", pkg, err, out)
			return
		}
		b.bin = filepath.Join(dir, name)
	})
	return b.bin, b.err
}

// NewCLI builds the provider once per test process and returns a CLI
// working in a directory of t's own.
func NewCLI(t testing.TB) *CLI {
	t.Helper()
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tf == "" {
		var err error
		if tf, err = exec.LookPath("terraform"); err != nil {
			t.Fatal("acctest: no Terraform CLI: set TF_ACC_TERRAFORM_PATH")
		}
	}
	bin, err := buildBinary(".", "terraform-provider-haddock")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rc := filepath.Join(dir, "dev.tfrc")
	if err := os.WriteFile(rc, fmt.Appendf(nil, "provider_installation {\n  dev_overrides {\n    \"haddockhq/haddock\" = %q\n  }\n  direct {}\n}\n", filepath.Dir(bin)), 0o600); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o700); err != nil {
		t.Fatal(err)
	}
	return &CLI{tf: tf, rc: rc, dir: work}
}

// Result is how one Terraform command ended.
type Result struct {
	Output string
	Err    error
	// Killed: the command was killed with SIGKILL (with the provider
	// process) when the kill condition held.
	Killed bool
	Took   time.Duration
}

// KillWhen says when to kill a command: as soon as a line of its output
// (provider logs at INFO included) contains Marker, or Cond returns true
// (polled every 100 ms); "" and nil never.
type KillWhen struct {
	Marker string
	Cond   func() bool
}

// Apply writes config as the working directory's main.tf and runs
// terraform apply, killing it (SIGKILL to Terraform and the provider)
// when kill says.
func (c *CLI) Apply(t testing.TB, config string, kill KillWhen) Result {
	t.Helper()
	main := "terraform {\n  required_providers {\n    haddock = { source = \"haddockhq/haddock\" }\n  }\n}\n" + config
	if err := os.WriteFile(filepath.Join(c.dir, "main.tf"), []byte(main), 0o600); err != nil {
		t.Fatal(err)
	}
	return c.Run(t, kill, "apply", "-auto-approve", "-input=false", "-no-color")
}

// Run runs terraform with args in the working directory.
func (c *CLI) Run(t testing.TB, kill KillWhen, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.tf, append([]string{"-chdir=" + c.dir}, args...)...)
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+c.rc, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", "TF_LOG_PROVIDER=INFO", "TF_LOG=")
	// Its own process group: the kill takes the provider plugin with it,
	// as a machine dying would.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		killed bool
		out    strings.Builder
	)
	doKill := func(why string) {
		mu.Lock()
		defer mu.Unlock()
		if killed {
			return
		}
		killed = true
		t.Logf("acctest: killing terraform %s (SIGKILL to its process group) after %s: %s", args[0], time.Since(start).Round(time.Millisecond), why)
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			out.WriteString(line + "\n")
			mu.Unlock()
			if kill.Marker != "" && strings.Contains(line, kill.Marker) {
				doKill("its output said " + kill.Marker)
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); _ = pw.Close() }()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var err error
wait:
	for {
		select {
		case err = <-done:
			break wait
		case <-tick.C:
			if kill.Cond != nil && kill.Cond() {
				doKill("the kill condition held")
			}
		}
	}
	<-scanned
	// Whatever the group left (a provider that outlived Terraform) goes too.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	mu.Lock()
	defer mu.Unlock()
	return Result{Output: out.String(), Err: err, Killed: killed, Took: time.Since(start)}
}
