package integration

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/dchat"
)

// jsClientDir holds the js-libp2p client (see jsclient/README.md).
const jsClientDir = "jsclient"

// TestJSInterop runs a dnode peer written with js-libp2p (jsclient/,
// built only from docs/protocol.md and the .proto files) against a dnode:
// libp2p ping and identify, the version handshake, answering dnode's
// pings, and receiving a dchat message.
func TestJSInterop(t *testing.T) {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip("js-libp2p interop test: node/npm not found; the CI script installs them")
		}
	}
	npmCI(t)

	s := testSettings(t)
	s.Network = "test"
	d := newNodeWith(t, "d", s)
	chat, err := dchat.New(d, dchat.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	target := tcpAddrOf(t, d.Addrs())

	c := startJSClient(t, target.String(), "test")
	deadline := time.Now().Add(45 * time.Second)

	self, err := peer.Decode(c.waitFor(t, "SELF ", deadline))
	if err != nil {
		t.Fatalf("client peer ID: %v", err)
	}
	rtt := strings.TrimSuffix(c.waitFor(t, "PING ", deadline), "ms")
	if ms, err := strconv.ParseFloat(rtt, 64); err != nil || ms < 0 {
		t.Errorf("PING line has rtt %q", rtt)
	}
	agent, protos, _ := strings.Cut(c.waitFor(t, "IDENTIFY ", deadline), " ")
	if !strings.HasPrefix(agent, "dnode/") {
		t.Errorf("identify agent = %q, want dnode/...", agent)
	}
	for _, want := range []string{"/dnode/test/version/1.0.0", "/dnode/test/ping/1.0.0", "/dnode/test/dchat/1.0.0", "/ipfs/ping/1.0.0"} {
		if !slices.Contains(strings.Split(protos, ","), want) {
			t.Errorf("identify protocols %s lack %s", protos, want)
		}
	}
	if got := c.waitFor(t, "HANDSHAKE OK ", deadline); !strings.HasPrefix(got, "dnode/") {
		t.Errorf("handshake with %q, want dnode/...", got)
	}
	// The channel's RTT is set once the client answered dnode's ping with
	// a pong on its own ping stream.
	eventually(t, time.Until(deadline), func() error {
		for _, ch := range d.Channels() {
			if ch.Peer() != self || ch.Session() != channel.Inbound {
				continue
			}
			if ch.RTT() <= 0 {
				return errorf("inbound channel for %s has no pong yet", self)
			}
			return nil
		}
		return errorf("no inbound channel for %s: %v", self, sessionsOf(d))
	})

	if _, err := chat.Send("hello from dnode"); err != nil {
		t.Fatal(err)
	}
	if got := c.waitFor(t, "DCHAT ", deadline); got != "hello from dnode" {
		t.Errorf("DCHAT %q, want %q", got, "hello from dnode")
	}
	// The client stops by itself after its first DCHAT line.
	select {
	case <-c.exited:
		if c.err != nil {
			t.Errorf("client: %v\nstderr:\n%s", c.err, c.stderr.String())
		}
	case <-time.After(time.Until(deadline)):
		t.Errorf("client still running after its DCHAT line")
	}
}

// npmCI installs jsclient's packages from its lock file unless
// node_modules is up to date with it.
func npmCI(t *testing.T) {
	t.Helper()
	lock, err := os.Stat(filepath.Join(jsClientDir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	installed, err := os.Stat(filepath.Join(jsClientDir, "node_modules", ".package-lock.json"))
	if err == nil && !lock.ModTime().After(installed.ModTime()) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = jsClientDir
	began := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", jsClientDir, err, out)
	}
	t.Logf("npm ci took %s", time.Since(began).Round(100*time.Millisecond))
}

// tcpAddrOf returns the first TCP address among addrs.
func tcpAddrOf(t *testing.T, addrs []ma.Multiaddr) ma.Multiaddr {
	t.Helper()
	for _, a := range addrs {
		if _, err := a.ValueForProtocol(ma.P_TCP); err == nil {
			return a
		}
	}
	t.Fatalf("no TCP address in %v", addrs)
	return nil
}

// jsClient is a running jsclient/client.mjs.
type jsClient struct {
	lines  chan string   // stdout lines; closed at EOF
	exited chan struct{} // closed once the process exited; then err is set
	err    error
	stderr syncBuffer
}

// startJSClient runs the client against target on network; it is killed
// at cleanup.
func startJSClient(t *testing.T, target, network string) *jsClient {
	t.Helper()
	cmd := exec.Command("node", "--import", "./polyfill-node20.mjs", "client.mjs", target, network)
	cmd.Dir = jsClientDir
	c := &jsClient{lines: make(chan string, 64), exited: make(chan struct{})}
	cmd.Stderr = &c.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	readDone, stop := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(readDone)
		defer close(c.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			t.Logf("client: %s", sc.Text())
			select {
			case c.lines <- sc.Text():
			case <-stop: // nobody reads any more; drain to EOF
			}
		}
	}()
	go func() {
		<-readDone // Wait closes stdout: read it all first
		c.err = cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		close(stop)
		_ = cmd.Process.Kill()
		<-c.exited
		if t.Failed() {
			t.Logf("client stderr:\n%s", c.stderr.String())
		}
	})
	return c
}

// waitFor returns the rest of the next stdout line that starts with
// prefix, failing the test at deadline or if the client ends first.
// Lines before it are skipped.
func (c *jsClient) waitFor(t *testing.T, prefix string, deadline time.Time) string {
	t.Helper()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				<-c.exited
				t.Fatalf("client ended before %q: %v\nstderr:\n%s", prefix, c.err, c.stderr.String())
			}
			if rest, found := strings.CutPrefix(line, prefix); found {
				return rest
			}
		case <-timer.C:
			t.Fatalf("no %q line from the client in time\nstderr:\n%s", prefix, c.stderr.String())
		}
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent Write and String.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
