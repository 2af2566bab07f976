package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/internal/testnet"
	"github.com/dnode-p2p/dnode/rpc"
	"github.com/dnode-p2p/dnode/settings"
)

// testNodeSettings are settings for an in-process loopback node.
func testNodeSettings(t *testing.T) settings.Settings {
	s := settings.Default()
	s.Network = "clitest"
	s.Datastore = t.TempDir()
	s.RPCListen = ""
	s.Net.Inbound = []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}
	s.Net.Localnet = true
	s.Net.OutboundConnections = 0
	for name, p := range s.Net.Profiles {
		p.OutboundConnectTimeout = 3 * time.Second
		p.ChannelHandshakeTimeout = 3 * time.Second
		p.ChannelHeartbeatInterval = 300 * time.Millisecond
		s.Net.Profiles[name] = p
	}
	return s
}

// startTestNode starts a node in process; it stops at cleanup.
func startTestNode(t *testing.T) *dnode.Node {
	t.Helper()
	n, err := dnode.New(testNodeSettings(t), dnode.WithLogHandler(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop() })
	return n
}

// serveRPC starts an RPC server for n on a loopback port and returns its
// host:port; it closes at cleanup, before the node stops.
func serveRPC(t *testing.T, n *dnode.Node, chat rpc.Chat, token string) string {
	t.Helper()
	srv, err := rpc.New(rpc.Config{Node: n, Chat: chat, Listen: "127.0.0.1:0", AuthToken: token})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv.Addr()
}

// startCLI runs a streaming command line in process with stdin until stop
// is called; stop cancels it and returns its result.
func startCLI(t *testing.T, stdin io.Reader, args ...string) (stdout *syncBuffer, stop func() result) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	stdout = &syncBuffer{}
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- runIO(ctx, args, stdin, stdout, stderr) }()
	var once sync.Once
	var res result
	stop = func() result {
		once.Do(func() {
			cancel()
			select {
			case code := <-done:
				res = result{code, stdout.String(), stderr.String()}
			case <-time.After(10 * time.Second):
				t.Fatalf("%v did not return within 10 s of cancellation", args)
			}
		})
		return res
	}
	t.Cleanup(func() { stop() })
	return stdout, stop
}

// waitOutput polls buf until it contains want.
func waitOutput(t *testing.T, buf *syncBuffer, want string) {
	t.Helper()
	if !poll(t.Context(), 15*time.Second, func() bool { return strings.Contains(buf.String(), want) }) {
		t.Fatalf("output lacks %q within 15 s:\n%s", want, buf.String())
	}
}

func TestInfoPeersHosts(t *testing.T) {
	checkLeaks(t)
	isolate(t)
	a := startTestNode(t)
	b := startTestNode(t)
	addr := serveRPC(t, a, nil, "")
	if err := a.Admin().AddPeer(b.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	if !poll(t.Context(), 10*time.Second, func() bool { return len(a.Channels()) == 1 }) {
		t.Fatal("no channel between a and b")
	}
	greyAddr := "/ip4/127.0.0.1/tcp/9/p2p/" + somePeer
	nodeinternal.Book(a).Insert("", []addrbook.Entry{{Addr: ma.StringCast(greyAddr), Peer: mustDecode(t, somePeer), LastSeen: time.Now()}})

	// info
	r := runCLI(t, "info", "--rpc", addr, "--json")
	var info rpc.Info
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &info) != nil || info.PeerID != a.ID().String() {
		t.Fatalf("info --json: %+v", r)
	}
	if len(nonEmptyLines(r.stdout)) != 1 {
		t.Errorf("info --json printed more than one line: %q", r.stdout)
	}
	if info.Reachability != "unknown" || info.ReachableAddrs == nil || info.Relayed {
		t.Errorf("info --json reachability %q, reachable_addrs %v, relayed %v; want unknown, [] and false (localnet)",
			info.Reachability, info.ReachableAddrs, info.Relayed)
	}
	r = runCLI(t, "info", "--rpc", "http://"+addr)
	for _, want := range []string{"Peer ID", a.ID().String(), "Network", "clitest", "App version", "Addresses",
		"/p2p/" + a.ID().String(), "Channels", "1 (1 manual)", "Outbound slots", "0 of 0 filled",
		"Reachability", "unknown", "Reachable addresses"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("info lacks %q: %+v", want, r)
		}
	}

	// peers
	r = runCLI(t, "peers", "--rpc", addr, "--json")
	var chans []rpc.ChannelInfo
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &chans) != nil || len(chans) != 1 ||
		chans[0].PeerID != b.ID().String() || chans[0].Session != "manual" || chans[0].Direction != "outbound" {
		t.Fatalf("peers --json: %+v", r)
	}
	r = runCLI(t, "peers", "--rpc", addr)
	lines := nonEmptyLines(r.stdout)
	if r.code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "ID  ") ||
		!strings.Contains(lines[0], "SESSION") || !strings.Contains(lines[1], b.ID().String()) ||
		!strings.Contains(lines[1], "manual") || !strings.Contains(lines[1], "outbound") {
		t.Errorf("peers table: %+v", r)
	}

	// hosts
	r = runCLI(t, "hosts", "--rpc", addr, "--json")
	var hosts map[string][]rpc.HostEntry
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &hosts) != nil || len(hosts) != 5 ||
		len(hosts["grey"]) != 1 || hosts["grey"][0].Addr != greyAddr {
		t.Fatalf("hosts --json: %+v", r)
	}
	r = runCLI(t, "hosts", "--rpc", addr, "--list", "grey", "--json")
	var grey []rpc.HostEntry
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &grey) != nil || len(grey) != 1 {
		t.Errorf("hosts --list grey --json: %+v", r)
	}
	r = runCLI(t, "hosts", "--rpc", addr)
	lines = nonEmptyLines(r.stdout)
	if r.code != 0 || len(lines) != 2 || !strings.Contains(lines[0], "LAST SEEN") ||
		!strings.HasPrefix(lines[1], "grey") || !strings.Contains(lines[1], "ago") || !strings.Contains(lines[1], greyAddr) {
		t.Errorf("hosts table: %+v", r)
	}
	if r = runCLI(t, "hosts", "--rpc", addr, "--list", "gold"); r.code != 0 || strings.TrimSpace(r.stdout) != "No hosts." {
		t.Errorf("hosts --list gold: %+v", r)
	}
	if r = runCLI(t, "hosts", "--rpc", addr, "--list", "purple"); r.code != exitUsage || !strings.Contains(r.stderr, "--list") {
		t.Errorf("hosts --list purple: %+v", r)
	}
	if r = runCLI(t, "info", "--rpc", "ftp://x"); r.code != exitUsage || !strings.Contains(r.stderr, "--rpc") {
		t.Errorf("info --rpc ftp://x: %+v", r)
	}
}

func mustDecode(t *testing.T, s string) peer.ID {
	t.Helper()
	id, err := peer.Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestClientUnreachable(t *testing.T) {
	checkLeaks(t)
	isolate(t)
	endpoint := fmt.Sprintf("127.0.0.1:%d", testnet.DeadPort(t))
	want := fmt.Sprintf("cannot reach dnode RPC at http://%s: is the node running?", endpoint)
	for _, args := range [][]string{
		{"info"}, {"peers", "--json"}, {"hosts"}, {"events"}, {"chat"},
	} {
		var stderr bytes.Buffer
		code := runIO(t.Context(), append(args, "--rpc", endpoint), strings.NewReader(""), io.Discard, &stderr)
		if code != exitFailure || !strings.Contains(stderr.String(), want) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", args, code, stderr.String(), want)
		}
	}
}

func TestClientToken(t *testing.T) {
	checkLeaks(t)
	isolate(t)
	n := startTestNode(t)
	addr := serveRPC(t, n, nil, "tok")
	t.Setenv(tokenEnv, "")
	if r := runCLI(t, "info", "--rpc", addr); r.code != exitFailure || !strings.Contains(r.stderr, tokenEnv) {
		t.Errorf("info without token: %+v", r)
	}
	if r := runCLI(t, "events", "--rpc", addr); r.code != exitFailure || !strings.Contains(r.stderr, tokenEnv) {
		t.Errorf("events without token: %+v", r)
	}
	t.Setenv(tokenEnv, "tok")
	if r := runCLI(t, "info", "--rpc", addr, "--json"); r.code != 0 || !strings.Contains(r.stdout, n.ID().String()) {
		t.Errorf("info with token: %+v", r)
	}
}

// events prints the network forming: b connects to a, and with
// --messages a's ping traffic.
func TestEventsCommand(t *testing.T) {
	checkLeaks(t)
	isolate(t)
	a := startTestNode(t)
	b := startTestNode(t)
	addr := serveRPC(t, a, nil, "")

	out, stop := startCLI(t, strings.NewReader(""), "events", "--rpc", addr, "--messages")
	waitSubscribed(t, a, out, " hosts_stored ")
	if !a.Events().Messages() {
		t.Fatal("events --messages did not switch message events on")
	}
	if err := b.Admin().AddPeer(a.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, out, " inbound_connected ")
	waitOutput(t, out, " recv ")
	r := stop()
	if r.code != 0 {
		t.Fatalf("events exit %d: %s", r.code, r.stderr)
	}
	for _, line := range nonEmptyLines(r.stdout) {
		if strings.Contains(line, " inbound_connected ") {
			if !strings.Contains(line, "addr=/ip4/127.0.0.1/tcp/") || !strings.Contains(line, "channel_id=") {
				t.Errorf("inbound_connected line %q", line)
			}
		}
		if strings.Contains(line, " recv ") && !strings.Contains(line, "cmd=") {
			t.Errorf("recv line %q", line)
		}
	}

	out, stop = startCLI(t, strings.NewReader(""), "events", "--rpc", addr, "--json", "--messages=false")
	waitSubscribed(t, a, out, `"event":"hosts_stored"`)
	if a.Events().Messages() {
		t.Fatal("events --messages=false did not switch message events off")
	}
	// Banning b ends its inbound channel on a.
	if err := a.Ban(b.ID(), "manual: test"); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, out, `"event":"inbound_disconnected"`)
	r = stop()
	for _, line := range nonEmptyLines(r.stdout) {
		var e rpc.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.Event == "" {
			t.Errorf("events --json line %q: %v", line, err)
		}
	}
}

// waitSubscribed stores hosts in n's book, one a tick, until the events
// command shows a hosts_stored event (marker): its subscription is live.
func waitSubscribed(t *testing.T, n *dnode.Node, out *syncBuffer, marker string) {
	t.Helper()
	id := mustDecode(t, somePeer)
	port := 1000
	if !poll(t.Context(), 15*time.Second, func() bool {
		port++
		a := ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", port, somePeer))
		nodeinternal.Book(n).Insert("", []addrbook.Entry{{Addr: a, Peer: id, LastSeen: time.Now()}})
		return strings.Contains(out.String(), marker)
	}) {
		t.Fatalf("the events command printed no %s within 15 s:\n%s", marker, out.String())
	}
}

func TestChatCommand(t *testing.T) {
	checkLeaks(t)
	isolate(t)
	n := startTestNode(t)
	chat := &fakeChat{}
	addr := serveRPC(t, n, chat, "")

	// Without a chat, the node's RPC has no dchat: the error says so.
	noChat := serveRPC(t, startTestNode(t), nil, "")
	if r := runCLI(t, "chat", "--rpc", noChat); r.code != exitFailure || !strings.Contains(r.stderr, "without dchat") {
		t.Errorf("chat without dchat: %+v", r)
	}

	in, inW := io.Pipe()
	out, stop := startCLI(t, in, "chat", "--rpc", addr)
	if !poll(t.Context(), 10*time.Second, func() bool { return chat.subscribers() == 1 }) {
		t.Fatal("chat did not subscribe")
	}
	if _, err := io.WriteString(inW, "hello there\n\n"); err != nil {
		t.Fatal(err)
	}
	if !poll(t.Context(), 10*time.Second, func() bool { return len(chat.Recv(0)) == 1 }) {
		t.Fatal("the line was not sent")
	}
	if got := chat.Recv(0)[0].Text; got != "hello there" {
		t.Errorf("sent %q", got)
	}
	chat.deliver(rpc.ChatMessage{ID: "x", Sender: "alice", Text: "hi bob", Time: time.Now().Unix(), Hops: 1})
	waitOutput(t, out, "<alice> hi bob")
	_ = inW.Close() // end of input ends the command
	if r := stop(); r.code != 0 {
		t.Errorf("chat exit %d: %s", r.code, r.stderr)
	}

	if !poll(t.Context(), 10*time.Second, func() bool { return chat.subscribers() == 0 }) {
		t.Fatal("the chat subscription outlived the command")
	}

	// --json: one object per incoming message.
	in, inW = io.Pipe()
	out, stop = startCLI(t, in, "chat", "--rpc", addr, "--json")
	if !poll(t.Context(), 10*time.Second, func() bool { return chat.subscribers() == 1 }) {
		t.Fatal("chat --json did not subscribe")
	}
	chat.deliver(rpc.ChatMessage{ID: "y", Sender: "carol", Text: "json", Time: 1})
	waitOutput(t, out, `"sender":"carol"`)
	_ = inW.Close()
	r := stop()
	var m rpc.ChatMessage
	if r.code != 0 || json.Unmarshal([]byte(strings.TrimSpace(r.stdout)), &m) != nil || m.Text != "json" {
		t.Errorf("chat --json: %+v", r)
	}
}

// dnode run serves the RPC and the metrics at rpc_listen behind the
// token of its cookie (mode 0600, in the datastore); a client subcommand
// given the datastore finds it; a clean stop removes it.
func TestRunServesRPC(t *testing.T) {
	checkLeaks(t)
	isolate(t)
	t.Setenv(tokenEnv, "")
	logs := captureLogs(t)
	datastore := t.TempDir()
	stop := startRun(t, logs, "run", "--accept", "/ip4/127.0.0.1/tcp/0", "--rpc-listen", "127.0.0.1:0",
		"--network", "clitest", "--localnet", "--datastore", datastore)
	endpoint := rpcEndpoint(t, "--datastore", datastore)

	var r result
	if !poll(t.Context(), 10*time.Second, func() bool {
		r = runCLI(t, "info", "--rpc", endpoint, "--datastore", datastore, "--json")
		return r.code == 0
	}) {
		t.Fatalf("info against dnode run: %+v", r)
	}
	var info rpc.Info
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil || info.Network != "clitest" || info.PeerID == "" {
		t.Errorf("info = %+v, %v", info, err)
	}
	cookie := filepath.Join(datastore, rpc.CookieFile)
	st, err := os.Stat(cookie)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("cookie %s: %v %v", cookie, st, err)
	}
	token, err := rpc.ReadCookie(cookie)
	if err != nil {
		t.Fatal(err)
	}
	// Without the cookie: refused, naming the file tried.
	if r := runCLI(t, "info", "--rpc", endpoint); r.code != exitFailure || !strings.Contains(r.stderr, "rpc.cookie") ||
		!strings.Contains(r.stderr, "--rpc-cookie") {
		t.Errorf("info without the cookie: %+v", r)
	}
	if r := runCLI(t, "info", "--rpc", endpoint, "--rpc-cookie", cookie); r.code != 0 {
		t.Errorf("info --rpc-cookie: %+v", r)
	}
	if r := runCLI(t, "info", "--rpc", endpoint, "--rpc-cookie", filepath.Join(datastore, "nope")); r.code != exitUsage ||
		!strings.Contains(r.stderr, filepath.Join(datastore, "nope")) {
		t.Errorf("info with a missing --rpc-cookie: %+v", r)
	}
	scrape := func(token string) (int, string) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+endpoint+"/metrics", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if status, _ := scrape(""); status != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d", status)
	}
	status, body := scrape(token)
	for _, want := range []string{"dnode_up 1", `dnode_node_info{network="clitest"`, "go_goroutines"} {
		if status != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("/metrics (%d) lacks %q", status, want)
		}
	}
	if code := stop(); code != 0 {
		t.Errorf("run exit %d", code)
	}
	if r := runCLI(t, "info", "--rpc", endpoint, "--rpc-cookie", cookie); r.code == 0 {
		t.Errorf("RPC still up after run returned: %+v", r)
	}
	if _, err := os.Stat(cookie); !os.IsNotExist(err) {
		t.Errorf("cookie left after a clean stop: %v", err)
	}
}

// With DNODE_RPC_TOKEN set, it is the token: no cookie is written (a stale
// one is removed), and clients with the variable work.
func TestRunTokenFromEnv(t *testing.T) {
	checkLeaks(t)
	isolate(t)
	logs := captureLogs(t)
	datastore := t.TempDir()
	cookie := filepath.Join(datastore, rpc.CookieFile)
	if err := os.WriteFile(cookie, []byte("stale\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(tokenEnv, "from-env")
	stop := startRun(t, logs, "run", "--accept", "/ip4/127.0.0.1/tcp/0", "--rpc-listen", "127.0.0.1:0",
		"--network", "clitest", "--localnet", "--datastore", datastore)
	endpoint := rpcEndpoint(t)
	var r result
	if !poll(t.Context(), 10*time.Second, func() bool {
		r = runCLI(t, "info", "--rpc", endpoint)
		return r.code == 0
	}) {
		t.Fatalf("info with %s: %+v", tokenEnv, r)
	}
	if _, err := os.Stat(cookie); !os.IsNotExist(err) {
		t.Errorf("cookie present with the token from the environment: %v", err)
	}
	if code := stop(); code != 0 {
		t.Errorf("run exit %d", code)
	}
}

// The RPC binds before any P2P listener: with both rpc_listen and the P2P
// port taken, run fails on rpc_listen, before trying the P2P port.
func TestRunBindsRPCFirst(t *testing.T) {
	checkLeaks(t)
	isolate(t)
	t.Setenv(tokenEnv, "")
	logs := captureLogs(t)
	rpcLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer rpcLn.Close()
	p2pLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer p2pLn.Close()
	p2pPort := p2pLn.Addr().(*net.TCPAddr).Port
	r := runCLI(t, "run", "--accept", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", p2pPort), "--rpc-listen", rpcLn.Addr().String(),
		"--network", "clitest", "--localnet", "--datastore", t.TempDir())
	if r.code != exitFailure || !strings.Contains(r.stderr, "rpc_listen "+rpcLn.Addr().String()) {
		t.Fatalf("run with rpc_listen taken: %+v", r)
	}
	if strings.Contains(logs.String(), "Starting P2P network") {
		t.Errorf("the P2P network was started before the RPC bind failed:\n%s", logs.String())
	}
}

// A non-loopback rpc_listen without a token is a configuration error.
func TestRunRefusesOpenRPC(t *testing.T) {
	checkLeaks(t)
	isolate(t)
	t.Setenv(tokenEnv, "")
	r := runCLI(t, "run", "--accept", "/ip4/127.0.0.1/tcp/0", "--rpc-listen", "0.0.0.0:0", "--datastore", t.TempDir())
	if r.code != exitUsage || !strings.Contains(r.stderr, "without an auth token") || !strings.Contains(r.stderr, tokenEnv) {
		t.Errorf("run with an open rpc_listen: %+v", r)
	}
}

// fakeChat is an in-memory rpc.Chat.
type fakeChat struct {
	mu   sync.Mutex
	msgs []rpc.ChatMessage
	subs map[chan rpc.ChatMessage]struct{}
}

func (c *fakeChat) Send(text string) (rpc.ChatMessage, error) {
	m := rpc.ChatMessage{ID: fmt.Sprint(time.Now().UnixNano()), Sender: "me", Text: text, Time: time.Now().Unix()}
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
	return m, nil
}

func (c *fakeChat) Recv(limit int) []rpc.ChatMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	if limit <= 0 || limit > len(c.msgs) {
		limit = len(c.msgs)
	}
	return append([]rpc.ChatMessage(nil), c.msgs[len(c.msgs)-limit:]...)
}

func (c *fakeChat) Subscribe() (<-chan rpc.ChatMessage, func()) {
	ch := make(chan rpc.ChatMessage, 16)
	c.mu.Lock()
	if c.subs == nil {
		c.subs = map[chan rpc.ChatMessage]struct{}{}
	}
	c.subs[ch] = struct{}{}
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		delete(c.subs, ch)
		c.mu.Unlock()
	}
}

// deliver hands m to every subscriber, as a message from the network.
func (c *fakeChat) deliver(m rpc.ChatMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ch := range c.subs {
		ch <- m
	}
}

func (c *fakeChat) subscribers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.subs)
}
