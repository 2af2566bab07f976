package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dnode-p2p/dnode/internal/testnet"
)

// buildBinary builds the dnode command into a temporary directory, with
// -race when the test itself is built with it (so the build reuses the
// test's compiled packages).
func buildBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found:", err)
	}
	bin := filepath.Join(t.TempDir(), "dnode")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	out, err := exec.Command(goTool, append(args, ".")...).CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// childEnv is the environment of the dnode processes: HOME and the XDG
// directories in a temporary directory, no go-log settings.
func childEnv(t *testing.T) []string {
	dir := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "GOLOG_"), strings.HasPrefix(k, "IPFS_"),
			k == "HOME", strings.HasPrefix(k, "XDG_"):
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+filepath.Join(dir, "home"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"),
	)
}

// proc is a dnode process whose output is collected.
type proc struct {
	name           string
	cmd            *exec.Cmd
	stdout, stderr syncBuffer
	done           chan struct{} // closed when the process has exited
}

func startProc(t *testing.T, name, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = env
	p.cmd.Stdout = &p.stdout
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
			t.Logf("%s killed; stderr:\n%s", name, p.stderr.String())
		}
	})
	return p
}

// wait waits up to timeout for the process to exit and returns its exit
// status.
func (p *proc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("%s did not exit within %v; stderr:\n%s", p.name, timeout, p.stderr.String())
		return -1
	}
}

// waitLog polls the process's stderr until it contains s.
func (p *proc) waitLog(t *testing.T, s string, timeout time.Duration) {
	t.Helper()
	exited := false
	ok := poll(t.Context(), timeout, func() bool {
		select {
		case <-p.done:
			exited = true
		default:
		}
		return exited || strings.Contains(p.stderr.String(), s)
	})
	if !ok || !strings.Contains(p.stderr.String(), s) {
		t.Fatalf("%s: no %q in stderr (exited: %v):\n%s", p.name, s, exited, p.stderr.String())
	}
}

// runBin runs the binary to completion (at most 30 s).
func runBin(t *testing.T, bin string, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	p := startProc(t, filepath.Base(bin)+" "+strings.Join(args, " "), bin, env, args...)
	code = p.wait(t, 30*time.Second)
	return code, p.stdout.String(), p.stderr.String()
}

// p2pAddr returns the running node's P2P address: the one TCP port its
// listener on port 0 was given (its RPC is off), read back from /proc.
func (p *proc) p2pAddr(t *testing.T, id string) string {
	t.Helper()
	ports, err := testnet.ListenPorts(p.cmd.Process.Pid)
	if err != nil || len(ports) != 1 {
		t.Fatalf("%s listens on TCP ports %v (%v), want one", p.name, ports, err)
	}
	return fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", ports[0], id)
}

func nodeConfig(datastore string, port int, peers ...string) string {
	var quoted []string
	for _, p := range peers {
		quoted = append(quoted, fmt.Sprintf("%q", p))
	}
	return fmt.Sprintf(`network = "clitest"
datastore = %q
rpc_listen = ""

[net]
inbound = ["/ip4/127.0.0.1/tcp/%d"]
peers = [%s]
localnet = true
`, datastore, port, strings.Join(quoted, ", "))
}

func TestBinary(t *testing.T) {
	bin := buildBinary(t)
	env := childEnv(t)

	t.Run("two nodes", func(t *testing.T) {
		// dnode id prints the configured address (it binds nothing):
		// any port will do, here one nobody else gets.
		dirA := t.TempDir()
		port := testnet.DeadPort(t)
		code, out, errOut := runBin(t, bin, env, "id", "--config", writeTemp(t, "a-id.toml", nodeConfig(dirA, port)))
		lines := nonEmptyLines(out)
		if code != 0 || len(lines) != 2 {
			t.Fatalf("dnode id: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if want := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", port, lines[0]); lines[1] != want {
			t.Fatalf("dnode id printed %q, want %q", lines[1], want)
		}
		cfgA := writeTemp(t, "a.toml", nodeConfig(dirA, 0))
		a := startProc(t, "A", bin, env, "run", "--config", cfgA)
		a.waitLog(t, "P2P network started", 20*time.Second)
		cfgB := writeTemp(t, "b.toml", nodeConfig(t.TempDir(), 0, a.p2pAddr(t, lines[0])))
		b := startProc(t, "B", bin, env, "run", "--config", cfgB)
		b.waitLog(t, "channel established", 20*time.Second)
		a.waitLog(t, "channel established", 20*time.Second)

		for _, p := range []*proc{a, b} {
			if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatalf("signal %s: %v", p.name, err)
			}
		}
		for _, p := range []*proc{a, b} {
			if code := p.wait(t, 5*time.Second); code != 0 {
				t.Errorf("%s: exit %d after SIGINT, want 0; stderr:\n%s", p.name, code, p.stderr.String())
			}
			for _, want := range []string{termLine, "Stopping P2P network"} {
				if !strings.Contains(p.stderr.String(), want) {
					t.Errorf("%s: stderr lacks %q:\n%s", p.name, want, p.stderr.String())
				}
			}
			if p.stdout.String() != "" {
				t.Errorf("%s: stdout %q", p.name, p.stdout.String())
			}
		}
	})

	t.Run("sigterm", func(t *testing.T) {
		cfg := writeTemp(t, "dnode.toml", nodeConfig(t.TempDir(), 0))
		p := startProc(t, "node", bin, env, "run", "--config", cfg)
		p.waitLog(t, "P2P network started", 20*time.Second)
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := p.wait(t, 5*time.Second); code != 0 {
			t.Errorf("exit %d after SIGTERM, want 0; stderr:\n%s", code, p.stderr.String())
		}
		for _, want := range []string{termLine, "Stopping P2P network"} {
			if !strings.Contains(p.stderr.String(), want) {
				t.Errorf("stderr lacks %q:\n%s", want, p.stderr.String())
			}
		}
	})

	t.Run("bad config", func(t *testing.T) {
		// The configured port is held (bound, not listening): a run that
		// bound before validating would fail with a bind error, not the
		// config error.
		good := nodeConfig(t.TempDir(), testnet.DeadPort(t))
		cases := []struct {
			name string
			cfg  string
			args []string
			want string
		}{
			{"unknown key", good + "bogus = 1\n", nil, "dnode: config: net.bogus: unknown key\n"},
			{"out-of-range flag", good, []string{"--outbound-slots", "100000"}, "dnode: config: net.outbound_connections: 100000 is out of range 0..1024\n"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				cfg := writeTemp(t, "dnode.toml", c.cfg)
				code, out, errOut := runBin(t, bin, env, append([]string{"run", "--config", cfg}, c.args...)...)
				if code != 2 {
					t.Errorf("exit %d, want 2", code)
				}
				if errOut != c.want || out != "" {
					t.Errorf("stdout %q, stderr %q; want only stderr %q", out, errOut, c.want)
				}
			})
		}
	})

	t.Run("bind failure", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		cfg := writeTemp(t, "dnode.toml", nodeConfig(t.TempDir(), l.Addr().(*net.TCPAddr).Port))
		code, _, errOut := runBin(t, bin, env, "run", "--config", cfg)
		if code != 1 || !strings.Contains(errOut, "dnode: start: ") {
			t.Errorf("exit %d, stderr %q; want 1 and \"dnode: start: ...\"", code, errOut)
		}
	})
}
