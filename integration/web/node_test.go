package web

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/internal/leaktest"
	"github.com/dnode-p2p/dnode/internal/testnet"
	"github.com/dnode-p2p/dnode/relay"
	"github.com/dnode-p2p/dnode/rpc"
	"github.com/dnode-p2p/dnode/settings"
)

func TestMain(m *testing.M) {
	leaktest.Main(m, leaktest.Options()...)
}

// webNode is a running node with its relay and, optionally, its RPC.
type webNode struct {
	node  *dnode.Node
	relay *relay.Relay
	srv   *rpc.Server
	token string
}

// startWebNode starts a loopback node with a relay; with serve, also its
// RPC server on 127.0.0.1 with a fresh token. All is stopped at cleanup.
func startWebNode(t *testing.T, s settings.Settings, serve bool) *webNode {
	t.Helper()
	n, err := dnode.New(s, dnode.WithLogHandler(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	r, err := relay.New(n, relay.FromSettings(s.Relay), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Close()
		_ = n.Stop()
	})
	w := &webNode{node: n, relay: r}
	if !serve {
		return w
	}
	if w.token, err = rpc.NewToken(); err != nil {
		t.Fatal(err)
	}
	w.srv, err = rpc.New(rpc.Config{Node: n, Relay: r, Listen: "127.0.0.1:0", AuthToken: w.token})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.srv.Close() }) // runs before the node stops
	return w
}

// The node's page, opened with the token in the URL's fragment, shows the
// node's peer ID and no channel; when a second node connects, its channel
// count becomes 1 without a reload; and the page reports no console error
// or exception throughout (the WebSocket event feed included).
func TestNodePage(t *testing.T) {
	p := newPage(t)
	s := testnet.Settings(t)
	s.Net.OutboundConnections = 0
	a := startWebNode(t, s, true)

	p.do(t, "open the node page", chromedp.Navigate("http://"+a.srv.Addr()+"/#token="+a.token))
	p.waitText(t, "peer-id", a.node.ID().String())
	p.waitText(t, "channel-count", "0")

	// The token leaves the address bar once the page has it.
	if hash := eval[string](t, p, `location.hash`); hash != "" {
		t.Errorf("location.hash is %q after login, want it cleared", hash)
	}

	sb := testnet.Settings(t)
	sb.Net.OutboundConnections = 0
	sb.Net.Peers = a.node.Addrs()[:1]
	if _, err := peer.AddrInfoFromP2pAddr(sb.Net.Peers[0]); err != nil {
		t.Fatalf("node A's address %s: %v", sb.Net.Peers[0], err)
	}
	b := startWebNode(t, sb, false)
	p.waitText(t, "channel-count", "1")

	// Some relay traffic from B for the flow picture, the rate chart and
	// the relay counters; the page must keep up without errors.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				_, _ = b.relay.Publish(ctx, "web-test", []byte("hello from node B, for the web view's picture"))
			}
		}
	}()
	defer func() { cancel(); wg.Wait() }()
	// The relay counters show what A received.
	p.poll(t, "the relay counters never showed traffic", `/[1-9]/.test((document.getElementById("relay") || {}).textContent || "")`)
	p.poll(t, "the event feed stayed empty", `document.querySelectorAll("#events li").length > 0`)

	p.screenshot(t, "web-node.png")
	p.checkConsole(t)
}
