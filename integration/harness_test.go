package integration

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
// any node.
func goleakOptions() []goleak.Option { return leaktest.Options() }

// testSettings returns settings for a loopback test node: random TCP
// port, its own datastore, localnet, no RPC, and short timers.
func testSettings(t testing.TB) settings.Settings {
	s := testnet.Settings(t)
	return s
}

// newNode builds a node from s; it is stopped at cleanup.
func newNode(t testing.TB, name string, s settings.Settings) *dnode.Node {
	t.Helper()
	return testnet.NewNode(t, name, s)
}

// newNodeWith is newNode with extra options.
func newNodeWith(t testing.TB, name string, s settings.Settings, opts ...dnode.Option) *dnode.Node {
	t.Helper()
	return testnet.NewNode(t, name, s, opts...)
}

// startNode builds and starts a node.
func startNode(t testing.TB, name string, s settings.Settings) *dnode.Node {
	t.Helper()
	return testnet.StartNode(t, name, s)
}

// manualPair starts nodes a and b with a manual channel from a to b.
func manualPair(t testing.TB) (a, b *dnode.Node) {
	t.Helper()
	a = startNode(t, "a", testSettings(t))
	b = startNode(t, "b", testSettings(t))
	if _, err := a.Connect(context.Background(), addrOf(t, b), channel.Manual); err != nil {
		t.Fatal(err)
	}
	return a, b
}

func addrOf(t testing.TB, n *dnode.Node) ma.Multiaddr {
	t.Helper()
	return testnet.AddrOf(t, n)
}

func eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	testnet.Eventually(t, timeout, cond)
}

// sessionsOf counts a node's channels by session kind.
func sessionsOf(n *dnode.Node) map[channel.Session]int {
	out := map[channel.Session]int{}
	for _, ch := range n.Channels() {
		out[ch.Session()]++
	}
	return out
}

func testLogHandler(t testing.TB) slog.Handler { return testnet.LogHandler(t) }

// newIdentity returns a new Ed25519 key and its peer ID.
func newIdentity(t testing.TB) (crypto.PrivKey, peer.ID) {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, id
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
