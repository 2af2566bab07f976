package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/goleak"

	dhost "github.com/dnode-p2p/dnode/host"
	"github.com/dnode-p2p/dnode/internal/leaktest"
	"github.com/dnode-p2p/dnode/internal/testnet"
)

func TestMain(m *testing.M) {
	leaktest.Main(m,
		goleak.IgnoreTopFunction("github.com/ipfs/go-log/v2/writer.(*MirrorWriter).logRoutine"),
		goleak.IgnoreAnyFunction("github.com/libp2p/go-libp2p/p2p/transport/quicreuse.(*reuse).gc"),
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
	)
}

// testConfig is a configuration file for loopback instances: only manual
// peers, no RPC, short timers.
const testConfig = `
rpc_listen = ""
[net]
outbound_connections = 0
localnet = true
[net.profiles.tcp]
outbound_connect_timeout = 3
channel_handshake_timeout = 3
channel_heartbeat_interval = "500ms"
`

func writeConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dchat.toml")
	if err := os.WriteFile(path, []byte(testConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer = testnet.Buffer

// instance is one in-process dchat with its terminal.
type instance struct {
	d     *Dchat
	in    *io.PipeWriter // what the user types
	out   *syncBuffer    // what is printed
	ended chan struct{}  // closed when run returns
}

// launch builds, starts and runs a dchat with args, as main does, and
// stops it at cleanup.
func launch(t *testing.T, args ...string) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	d, err := newDchat(args, out)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := d.start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	inst := &instance{d: d, in: pw, out: out, ended: make(chan struct{})}
	go func() {
		defer close(inst.ended)
		d.run(ctx, pr)
	}()
	t.Cleanup(func() {
		cancel() // as the signal does in main
		<-inst.ended
		d.stop()
		pw.Close() // ends the input reader
	})
	return inst
}

// Two instances on loopback, the second with the first as manual peer:
// a line typed into either appears on the other, with its sender.
func TestTwoInstancesChat(t *testing.T) {
	config := writeConfig(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	// The first instance's identity is made up front, to check that it
	// runs as the identity of its datastore; the second names the address
	// its listener got (port 0) in --peers.
	key, _, err := dhost.LoadOrCreateIdentity(dirA)
	if err != nil {
		t.Fatal(err)
	}
	idA, err := peer.IDFromPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	a := launch(t, "--config", config, "--network", "test", "--datastore", dirA,
		"--accept", "/ip4/127.0.0.1/tcp/0")
	b := launch(t, "--config", config, "--network", "test", "--datastore", dirB,
		"--accept", "/ip4/127.0.0.1/tcp/0",
		"--peers", testnet.AddrOf(t, a.d.node).String())
	if a.d.node.ID() != idA {
		t.Fatalf("a runs as %s, want %s from its datastore", a.d.node.ID(), idA)
	}
	if info := a.d.node.Info(); info.Network != "test" || info.OutboundConnections != 0 {
		t.Fatalf("flags and config not applied: network %q, outbound %d", info.Network, info.OutboundConnections)
	}
	eventually(t, 10*time.Second, func() error {
		if len(a.d.node.Channels()) != 1 || len(b.d.node.Channels()) != 1 {
			return fmt.Errorf("not connected yet")
		}
		return nil
	})

	if _, err := io.WriteString(a.in, "hello from a\n\n"); err != nil {
		t.Fatal(err)
	}
	want := short(idA.String()) + ": hello from a\n"
	eventually(t, 10*time.Second, func() error {
		if !strings.Contains(b.out.String(), want) {
			return fmt.Errorf("b printed %q, want a line ending in %q", b.out.String(), want)
		}
		return nil
	})
	if _, err := io.WriteString(b.in, "hi a\n"); err != nil {
		t.Fatal(err)
	}
	want = short(b.d.node.ID().String()) + ": hi a\n"
	eventually(t, 10*time.Second, func() error {
		if !strings.Contains(a.out.String(), want) {
			return fmt.Errorf("a printed %q, want a line ending in %q", a.out.String(), want)
		}
		return nil
	})
	// Each printed one line: the other's message, never its own.
	for name, inst := range map[string]*instance{"a": a, "b": b} {
		lines := strings.Split(strings.TrimSpace(inst.out.String()), "\n")
		if len(lines) != 1 {
			t.Errorf("%s printed %q", name, inst.out.String())
		}
		// <time> <sender>: <text>
		if _, err := time.Parse("15:04:05", strings.Fields(lines[0])[0]); err != nil {
			t.Errorf("%s printed no time: %q", name, lines[0])
		}
	}
	if got := a.d.chat.Recv(0); len(got) != 2 || got[0].Text != "hello from a" || got[1].Text != "hi a" {
		t.Errorf("a's buffer: %+v", got)
	}
}

// Bad flags and a missing config file are reported.
func TestBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{"--peers", "not-a-multiaddr"},
		{"--config", filepath.Join(t.TempDir(), "missing.toml")},
		{"--no-such-flag"},
	} {
		if _, err := newDchat(args, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

// The program builds, runs, and on SIGTERM logs the tutorial's lines and
// exits cleanly.
func TestBinarySignal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool")
	}
	bin := filepath.Join(t.TempDir(), "dchat")
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--config", writeConfig(t), "--datastore", t.TempDir(),
		"--accept", "/ip4/127.0.0.1/tcp/0")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "Type a line") {
			break
		}
	}
	io.WriteString(stdin, "nobody hears this\n")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(stderr)
	log.Write(rest)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, log.String())
	}
	for _, line := range []string{"Starting P2P network", "Listening on /ip4/127.0.0.1/tcp/",
		"Caught termination signal, cleaning up and exiting...", "Stopping P2P network"} {
		if !strings.Contains(log.String(), line) {
			t.Errorf("log lacks %q:\n%s", line, log.String())
		}
	}
}

func eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	testnet.Eventually(t, timeout, cond)
}
