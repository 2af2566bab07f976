package integration

import (
	"context"
	"fmt"
	"log/slog"
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
// any node.
func goleakOptions() []goleak.Option { return leaktest.Options() }

// testSettings returns settings for a loopback test node: random TCP
// port, its own datastore, localnet, no RPC, and short timers.
func testSettings(t testing.TB) settings.Settings {
	s := testnet.Settings(t)
	return s
}

// newNode builds a node from s; mutate may change s first. The node is
// stopped at cleanup.
func newNode(t testing.TB, name string, s settings.Settings) *dnode.Node {
	t.Helper()
	return newNodeWith(t, name, s)
}

// newNodeWith is newNode with extra options.
func newNodeWith(t testing.TB, name string, s settings.Settings, opts ...dnode.Option) *dnode.Node {
	t.Helper()
	opts = append([]dnode.Option{dnode.WithLogHandler(testLogHandler(t), "node", name)}, opts...)
	n, err := dnode.New(s, opts...)
	if err != nil {
		t.Fatalf("new %s: %v", name, err)
	}
	t.Cleanup(func() { _ = n.Stop() })
	return n
}

// startNode builds and starts a node.
func startNode(t testing.TB, name string, s settings.Settings) *dnode.Node {
	t.Helper()
	n := newNode(t, name, s)
	if err := n.Start(context.Background()); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	return n
}

// addrOf returns a node's first listen multiaddr with /p2p/.
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
	addrs := n.Addrs()
	if len(addrs) == 0 {
		t.Fatal("node has no address")
	}
	return addrs[0]
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

func freePort(t testing.TB) int { return testnet.FreePort(t) }

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
