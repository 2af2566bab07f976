package integration

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/dchat"
	"github.com/dnode-p2p/dnode/internal/testnet"
	"github.com/dnode-p2p/dnode/relay"
)

// jsClientDir holds the js-libp2p client (see jsclient/README.md).
const jsClientDir = "jsclient"

// TestJSInterop runs a dnode peer written with js-libp2p (jsclient/,
// built only from docs/protocol.md and the .proto files) against d, one
// node of a triangle of dnodes (d, b, c) running dchat on the relay:
// libp2p ping and identify, the version handshake, answering dnode's
// pings, catch-up (a message b wrote before the client came reaches it
// through d's Digest), a message c writes reaching it through d, a large
// message offered to it (Offer, IWant), and its own message reaching every node's chat exactly once with the id the
// client computed.
func TestJSInterop(t *testing.T) {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip("js-libp2p interop test: node/npm not found; the CI script installs them")
		}
	}
	npmCI(t)

	var (
		nodes []*dnode.Node
		chats []*dchat.Chat
	)
	for _, name := range []string{"d", "b", "c"} {
		s := testSettings(t)
		s.Network = "test"
		s.Net.OutboundConnections = 0 // the triangle's channels are made below
		n := newNodeWith(t, name, s)
		chat, err := dchat.New(n, dchat.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		nodes, chats = append(nodes, n), append(chats, chat)
	}
	d, b, c := nodes[0], nodes[1], nodes[2]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, e := range [][2]*dnode.Node{{b, d}, {c, d}, {c, b}} {
		if _, err := e[0].Connect(ctx, addrOf(t, e[1]), channel.Manual); err != nil {
			t.Fatalf("connect: %v", err)
		}
	}
	eventually(t, 10*time.Second, func() error {
		for i, chat := range chats {
			if n := chat.Relay().Stats().Links; n != 2 {
				return errorf("node %d has %d relay links, want 2", i, n)
			}
		}
		return nil
	})

	// b writes before the client comes: d keeps it in its history.
	const early = "written before you came"
	earlyMsg, err := chats[1].Send(early)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if countID(chats[0], earlyMsg.ID) == 0 {
			return errorf("d does not have b's message yet")
		}
		return nil
	})

	const text = "hello from js-libp2p, ünïcödé"
	cl := startJSClient(t, tcpAddrOf(t, d.Addrs()).String(), "test", "--text", text)
	deadline := time.Now().Add(45 * time.Second)

	self, err := peer.Decode(cl.waitFor(t, "SELF ", deadline))
	if err != nil {
		t.Fatalf("client peer ID: %v", err)
	}
	rtt := strings.TrimSuffix(cl.waitFor(t, "PING ", deadline), "ms")
	if ms, err := strconv.ParseFloat(rtt, 64); err != nil || ms < 0 {
		t.Errorf("PING line has rtt %q", rtt)
	}
	agent, protos, _ := strings.Cut(cl.waitFor(t, "IDENTIFY ", deadline), " ")
	if !strings.HasPrefix(agent, "dnode/") {
		t.Errorf("identify agent = %q, want dnode/...", agent)
	}
	list := strings.Split(protos, ",")
	for _, want := range []string{"/dnode/test/version/1.0.0", "/dnode/test/ping/1.0.0", "/dnode/test/relay/1.0.0", "/ipfs/ping/1.0.0"} {
		if !slices.Contains(list, want) {
			t.Errorf("identify protocols %s lack %s", protos, want)
		}
	}
	if slices.Contains(list, "/dnode/test/dchat/1.0.0") {
		t.Errorf("identify protocols %s still list the dchat stream", protos)
	}
	if got := cl.waitFor(t, "HANDSHAKE OK ", deadline); !strings.HasPrefix(got, "dnode/") {
		t.Errorf("handshake with %q, want dnode/...", got)
	}
	// The channel's RTT is set once the client answered dnode's ping with
	// a pong on its own ping stream.
	var ch *channel.Channel
	eventually(t, time.Until(deadline), func() error {
		ch = nil
		for _, x := range d.Channels() {
			if x.Peer() == self && x.Session() == channel.Inbound {
				ch = x
			}
		}
		switch {
		case ch == nil:
			return errorf("no inbound channel for %s: %v", self, sessionsOf(d))
		case ch.RTT() <= 0:
			return errorf("inbound channel for %s has no pong yet", self)
		}
		return nil
	})

	// Catch-up: d's Digest lists b's message, the client asks for it.
	if got := cl.waitFor(t, "RELAY ", deadline); got != "dchat "+early {
		t.Errorf("first RELAY %q, want %q", got, "dchat "+early)
	}
	// After its first RELAY line the client publishes on dchat.
	pubID := cl.waitFor(t, "PUBLISHED ", deadline)
	if _, err := relay.ParseID(pubID); err != nil {
		t.Errorf("PUBLISHED %q: %v", pubID, err)
	}
	// Live: c's message reaches the client through d (c has no channel
	// with it).
	if _, err := chats[2].Send("hello from c"); err != nil {
		t.Fatal(err)
	}
	if got := cl.waitFor(t, "RELAY ", deadline); got != "dchat hello from c" {
		t.Errorf("second RELAY %q, want %q", got, "dchat hello from c")
	}
	// A large message (over eager_max_size, 16 KiB) on another topic is
	// never pushed: d offers it, the client fetches it with IWant.
	bulk := strings.Repeat("large message, ", 40<<10/len("large message, "))
	if _, err := chats[2].Relay().Publish(t.Context(), "bulk", []byte(bulk)); err != nil {
		t.Fatal(err)
	}
	if got := cl.waitFor(t, "RELAY ", deadline); got != "bulk "+bulk {
		t.Errorf("third RELAY has %d bytes, want %q and %d bytes of data", len(got), "bulk ", len(bulk))
	}

	// The client's message reaches every node, relayed by d to b and c,
	// with the id the client computed and the client as its sender.
	eventually(t, time.Until(deadline), func() error {
		for i, chat := range chats {
			var got []dchat.Message
			for _, m := range chat.Recv(0) {
				if m.Sender == self {
					got = append(got, m)
				}
			}
			switch {
			case len(got) == 0:
				return errorf("node %d has no message from the client yet", i)
			case len(got) > 1:
				t.Fatalf("node %d has %d messages from the client: %+v", i, len(got), got)
			case got[0].ID != pubID || got[0].Text != text:
				t.Fatalf("node %d has the client's message as id %s text %q, want id %s (PUBLISHED) text %q",
					i, got[0].ID, got[0].Text, pubID, text)
			}
		}
		return nil
	})

	// Nothing the client sent broke a rule: its channel is up and d
	// dropped nothing.
	if err := ch.Err(); err != nil {
		t.Errorf("d's channel for the client stopped: %v", err)
	}
	for reason, n := range chats[0].Relay().Stats().Dropped {
		if n != 0 {
			t.Errorf("d dropped %d relay frames or messages (%s)", n, reason)
		}
	}

	// d closes the channel: the client says so and exits 0.
	ch.Stop(nil)
	if got := cl.waitFor(t, "BYE ", deadline); got != "closed" {
		t.Errorf("BYE %q, want closed", got)
	}
	select {
	case <-cl.exited:
		if cl.err != nil {
			t.Errorf("client: %v\nstderr:\n%s", cl.err, cl.stderr.String())
		}
	case <-time.After(time.Until(deadline)):
		t.Errorf("client still running after d closed its channel")
	}

	// Exactly once, still, now that every copy had time to arrive: each
	// node delivered each message once.
	for i, chat := range chats {
		for _, id := range []string{earlyMsg.ID, pubID} {
			if n := countID(chat, id); n != 1 {
				t.Errorf("node %d has message %s %d times, want once", i, id, n)
			}
		}
	}
}

// countID counts the messages with id in chat's buffer.
func countID(chat *dchat.Chat, id string) int {
	n := 0
	for _, m := range chat.Recv(0) {
		if m.ID == id {
			n++
		}
	}
	return n
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

// startJSClient runs the client against target on network, with extra
// arguments; it is killed at cleanup.
func startJSClient(t *testing.T, target, network string, args ...string) *jsClient {
	t.Helper()
	cmd := exec.Command("node", append([]string{"--import", "./polyfill-node20.mjs", "client.mjs", target, network}, args...)...)
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

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer = testnet.Buffer
