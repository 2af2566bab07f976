package dchat

import (
	"context"
	"fmt"
	"testing"
	"time"

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
	node *dnode.Node
	chat *Chat
}

// newTestNode builds a node listening on a port of its listener's choice,
// with manual peers, and attaches a Chat. The node is stopped at cleanup.
func newTestNode(t testing.TB, name string, cfg Config, peers ...ma.Multiaddr) *testNode {
	t.Helper()
	s := testSettings(t)
	s.Net.Peers = peers
	n := testnet.NewNode(t, name, s)
	c, err := New(n, cfg)
	if err != nil {
		t.Fatalf("dchat on %s: %v", name, err)
	}
	return &testNode{name: name, node: n, chat: c}
}

// start starts the node.
func (tn *testNode) start(t testing.TB) {
	t.Helper()
	if err := tn.node.Start(context.Background()); err != nil {
		t.Fatalf("start %s: %v", tn.name, err)
	}
}

// addr is the started node's listen address with /p2p/.
func (tn *testNode) addr(t testing.TB) ma.Multiaddr { return testnet.AddrOf(t, tn.node) }

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

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
