package dchat

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/goleak"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/internal/leaktest"
	"github.com/dnode-p2p/dnode/internal/testnet"
	"github.com/dnode-p2p/dnode/settings"
)

func TestMain(m *testing.M) {
	leaktest.Main(m, goleakOptions()...)
}

// goleakOptions ignores long-lived goroutines owned by the process, not by
// any node (as integration/harness_test.go).
func goleakOptions() []goleak.Option { return leaktest.Options() }

// testSettings returns settings for a loopback test node: its own
// datastore, localnet, no RPC, no outbound slots (only manual peers make
// channels) and short timers.
func testSettings(t testing.TB) settings.Settings {
	s := testnet.Settings(t)
	s.Net.OutboundConnections = 0
	return s
}

// testNode is one node with its chat.
type testNode struct {
	name string
	cfg  Config
	key  crypto.PrivKey
	port int
	addr ma.Multiaddr // listen address with /p2p/, known before the node is built
	node *dnode.Node
	chat *Chat
}

// newTestNode prepares and builds a node (see prepareNode and build).
func newTestNode(t testing.TB, name string, cfg Config, peers ...ma.Multiaddr) *testNode {
	t.Helper()
	tn := prepareNode(t, name, cfg)
	tn.build(t, peers...)
	return tn
}

// prepareNode picks a fixed loopback port and an identity, so that the
// node's address can be given to others before it is built.
func prepareNode(t testing.TB, name string, cfg Config) *testNode {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	return &testNode{
		name: name,
		cfg:  cfg,
		key:  key,
		port: port,
		addr: ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", port, id)),
	}
}

// build creates the node with manual peers and attaches a Chat. The node
// is stopped at cleanup.
func (tn *testNode) build(t testing.TB, peers ...ma.Multiaddr) {
	t.Helper()
	s := testSettings(t)
	s.Net.Inbound = []ma.Multiaddr{ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", tn.port))}
	s.Net.Peers = peers
	n, err := dnode.New(s, dnode.WithIdentity(tn.key), dnode.WithLogHandler(testLogHandler(t), "node", tn.name))
	if err != nil {
		t.Fatalf("new %s: %v", tn.name, err)
	}
	t.Cleanup(func() { _ = n.Stop() })
	c, err := New(n, tn.cfg)
	if err != nil {
		t.Fatalf("dchat on %s: %v", tn.name, err)
	}
	tn.node, tn.chat = n, c
}

// start starts the node.
func (tn *testNode) start(t testing.TB) {
	t.Helper()
	if err := tn.node.Start(context.Background()); err != nil {
		t.Fatalf("start %s: %v", tn.name, err)
	}
}

// chatChannels counts the node's channels that carry dchat.
func chatChannels(n *dnode.Node) int {
	c := 0
	for _, ch := range n.Channels() {
		if ch.Session()&channel.Default != 0 {
			c++
		}
	}
	return c
}

func eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	testnet.Eventually(t, timeout, cond)
}

func testLogHandler(t testing.TB) slog.Handler { return testnet.LogHandler(t) }

func freePort(t testing.TB) int { return testnet.FreePort(t) }

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
