package web

import (
	"context"
	"fmt"
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
// node's peer ID and no channel, and clears the token from the address
// bar; when a second node connects, its channel count becomes 1 without a
// reload, then 3 with two more; it shows the relay traffic they send and
// the live event feed; and the page reports no console error or exception
// throughout.
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

	peerSettings := func() settings.Settings {
		s := testnet.Settings(t)
		s.Net.OutboundConnections = 0
		s.Net.Peers = a.node.Addrs()[:1]
		return s
	}
	if _, err := peer.AddrInfoFromP2pAddr(a.node.Addrs()[0]); err != nil {
		t.Fatalf("node A's address %s: %v", a.node.Addrs()[0], err)
	}
	b := startWebNode(t, peerSettings(), false)
	p.waitText(t, "channel-count", "1")
	c := startWebNode(t, peerSettings(), false)
	d := startWebNode(t, peerSettings(), false)
	p.waitText(t, "channel-count", "3")

	// Relay traffic from the three peers for the flow picture, the rate
	// chart and the relay counters; the page must keep up without errors.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i, w := range []*webNode{b, c, d} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Duration(60+40*i) * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					_, _ = w.relay.Publish(ctx, "web-test", []byte("a message for the web view's picture"))
				}
			}
		}()
	}
	defer func() { cancel(); wg.Wait() }()
	// The relay counters show what A received: a few seconds of it, so
	// that the rate chart has a line (more of it for the screenshot).
	received := 60
	if *screenshots != "" {
		received = 250
	}
	p.poll(t, fmt.Sprintf("the relay counters never showed %d messages received", received), fmt.Sprintf(
		`[...document.querySelectorAll("#relay tr")].some(r => r.cells.length > 1 &&
			r.cells[0].textContent.trim() === "received" && Number(r.cells[1].textContent) >= %d)`, received))
	p.poll(t, "the event feed stayed empty", `document.querySelectorAll("#events li").length > 0`)

	p.screenshot(t, "web-node.png")
	p.checkConsole(t)
}
