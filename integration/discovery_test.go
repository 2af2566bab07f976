package integration

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/events"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/internal/testnet"
	"github.com/dnode-p2p/dnode/seed"
	"github.com/dnode-p2p/dnode/settings"
)

// discoverySettings shortens the discovery timers so that tests measure
// the protocol, not the timers.
func discoverySettings(t testing.TB, seeds ...ma.Multiaddr) settings.Settings {
	s := testSettings(t)
	s.Net.Seeds = seeds
	s.Net.OutboundPeerDiscoveryAttemptTime = 200 * time.Millisecond
	s.Net.GreylistRefineryInterval = 200 * time.Millisecond
	s.Net.TimeWithNoConnections = 5 * time.Second
	s.Net.HostlistSaveInterval = time.Second
	return s
}

// startSeed starts a seed node serving networks (the test network if none).
func startSeed(t testing.TB, networks ...string) (*seed.Seed, ma.Multiaddr) {
	t.Helper()
	s := discoverySettings(t)
	s.Seed.Networks = networks
	s.Seed.WhitelistRefineryInterval = 500 * time.Millisecond
	sd, err := seed.New(s, testLogHandler(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := sd.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sd.Stop() })
	h := sd.Host()
	addrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()})
	if err != nil || len(addrs) == 0 {
		t.Fatal("seed has no address")
	}
	return sd, addrs[0]
}

// peersIn returns the peer IDs in one colour of a book.
func peersIn(b *addrbook.Book, c addrbook.Color) map[peer.ID]bool {
	out := map[peer.ID]bool{}
	for _, e := range b.Entries(c) {
		out[e.Peer] = true
	}
	return out
}

// DarkFi's seed phase: a seed and five nodes with two outbound slots each.
// The seed's greylist learns all five, its refinery whitelists them, and
// every node fills its slots and ends with non-empty, duplicate-free host
// lists.
func TestSeedPhase(t *testing.T) {
	sd, seedAddr := startSeed(t)
	var nodes []*dnode.Node
	for i := range 5 {
		s := discoverySettings(t, seedAddr)
		s.Net.OutboundConnections = 2
		nodes = append(nodes, startNode(t, fmt.Sprintf("n%d", i), s))
	}
	book := nodeinternal.Book(sd.Node("test"))
	eventually(t, 20*time.Second, func() error {
		known := peersIn(book, addrbook.Grey)
		for p := range peersIn(book, addrbook.White) {
			known[p] = true
		}
		for i, n := range nodes {
			if !known[n.ID()] {
				return errorf("the seed does not know n%d", i)
			}
		}
		return nil
	})
	eventually(t, 20*time.Second, func() error {
		white := peersIn(book, addrbook.White)
		for i, n := range nodes {
			if !white[n.ID()] {
				return errorf("the seed's refinery has not whitelisted n%d (white: %d)", i, len(white))
			}
		}
		return nil
	})
	eventually(t, 20*time.Second, func() error {
		for i, n := range nodes {
			if f := filled(n); f != 2 {
				return errorf("n%d has %d of 2 outbound slots filled", i, f)
			}
			b := nodeinternal.Book(n)
			seen := map[string]bool{}
			total := 0
			for _, c := range []addrbook.Color{addrbook.Grey, addrbook.White, addrbook.Gold} {
				for _, e := range b.Entries(c) {
					if seen[e.Addr.String()] {
						return errorf("n%d lists %s twice", i, e.Addr)
					}
					seen[e.Addr.String()] = true
					total++
				}
			}
			if total == 0 {
				return errorf("n%d has empty host lists", i)
			}
		}
		return nil
	})
}

// Ten nodes with the default eight slots, and thirty, that know only one
// seed all fill min(8, n-1) slots (a slot may hold a channel its peer
// opened: one channel per peer).
func TestTenNodesFillSlots(t *testing.T) {
	_, seedAddr := startSeed(t)
	const n = 10
	nodes := make([]*dnode.Node, n)
	for i := range n {
		nodes[i] = startNode(t, fmt.Sprintf("n%d", i), discoverySettings(t, seedAddr))
	}
	eventually(t, 30*time.Second, func() error {
		for i, nd := range nodes {
			if f := filled(nd); f != 8 {
				return errorf("n%d has %d of 8 outbound slots filled", i, f)
			}
		}
		return nil
	})
}

// Thirty nodes that know only one seed all fill their eight outbound slots.
func TestThirtyNodesFillSlots(t *testing.T) {
	if testing.Short() {
		t.Skip("30-node network skipped in -short mode")
	}
	_, seedAddr := startSeed(t)
	const n = 30
	nodes := make([]*dnode.Node, n)
	for i := range n {
		s := discoverySettings(t, seedAddr)
		s.Net.InboundConnections = 16
		nodes[i] = startNode(t, fmt.Sprintf("n%d", i), s)
	}
	start := time.Now()
	eventually(t, 30*time.Second, func() error {
		for i, nd := range nodes {
			if f := filled(nd); f != 8 {
				return errorf("n%d has %d of 8 outbound slots filled", i, f)
			}
		}
		return nil
	})
	t.Logf("30 nodes filled 8 slots each in %s", time.Since(start).Round(time.Millisecond))
}

func filled(n *dnode.Node) int {
	c := 0
	for _, id := range nodeinternal.OutboundSlots(n) {
		if id != 0 {
			c++
		}
	}
	return c
}

// Killing the peer of an outbound slot: the slot refills from the host
// lists, and the dead peer is no longer gold.
func TestKilledPeerSlotRefills(t *testing.T) {
	_, seedAddr := startSeed(t)
	var nodes []*dnode.Node
	for i := range 10 {
		s := discoverySettings(t, seedAddr)
		s.Net.OutboundConnections = 2
		nodes = append(nodes, startNode(t, fmt.Sprintf("n%d", i), s))
	}
	watcher := nodes[0]
	eventually(t, 20*time.Second, func() error {
		for i, nd := range nodes {
			if filled(nd) != 2 {
				return errorf("n%d: %d slots", i, filled(nd))
			}
		}
		return nil
	})
	byID := map[uint64]peer.ID{}
	for _, ch := range watcher.Channels() {
		byID[ch.ID()] = ch.Peer()
	}
	deadID := byID[nodeinternal.OutboundSlots(watcher)[0]]
	var dead *dnode.Node
	for _, nd := range nodes[1:] {
		if nd.ID() == deadID {
			dead = nd
		}
	}
	if dead == nil {
		t.Fatal("slot 0's peer is not one of the nodes")
	}
	if err := dead.Stop(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		if filled(watcher) != 2 {
			return errorf("slot not refilled: %d of 2", filled(watcher))
		}
		if peersIn(nodeinternal.Book(watcher), addrbook.Gold)[deadID] {
			return errorf("dead peer still gold")
		}
		for _, ch := range watcher.Channels() {
			if ch.Peer() == deadID {
				return errorf("still connected to the dead peer")
			}
		}
		return nil
	})
}

// A node restarted with its saved hostlist reaches at least two peers
// while every seed is down.
func TestRestartFromHostlistWithSeedsDown(t *testing.T) {
	sd, seedAddr := startSeed(t)
	var nodes []*dnode.Node
	var settingsOf []settings.Settings
	for i := range 5 {
		s := discoverySettings(t, seedAddr)
		s.Net.OutboundConnections = 3
		nd := startNode(t, fmt.Sprintf("n%d", i), s)
		// The port its listener got, for the restart: the address in the
		// others' hostlists stays valid.
		s.Net.Inbound = []ma.Multiaddr{testnet.Bound(t, nd)}
		settingsOf = append(settingsOf, s)
		nodes = append(nodes, nd)
	}
	eventually(t, 20*time.Second, func() error {
		for i, nd := range nodes {
			if filled(nd) != 3 {
				return errorf("n%d: %d slots", i, filled(nd))
			}
		}
		return nil
	})
	if err := sd.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := nodes[0].Stop(); err != nil {
		t.Fatal(err)
	}
	restarted := newNode(t, "n0-again", settingsOf[0])
	if err := restarted.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		if got := len(restarted.Channels()); got < 2 {
			return errorf("restarted node has %d channels", got)
		}
		return nil
	})
}

// logCapture collects log lines of one node.
type logCapture struct {
	mu    sync.Mutex
	lines []string
}

func (c *logCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.lines = append(c.lines, string(p))
	c.mu.Unlock()
	return len(p), nil
}

func (c *logCapture) contains(s string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.ContainsFunc(c.lines, func(l string) bool { return strings.Contains(l, s) })
}

// A node whose only seed is unreachable does not spin: it dials the seed
// at most 12 times a minute (here: at most 3 times in 11 s, since the
// pause starts at 5 s and doubles), and logs one line saying why it has
// no peers.
func TestUnreachableSeedIsPaced(t *testing.T) {
	deadSeed := testnet.DeadAddr(t)
	s := discoverySettings(t, deadSeed)
	s.Net.OutboundPeerDiscoveryAttemptTime = 50 * time.Millisecond
	logs := &logCapture{}
	n, err := dnode.New(s, dnode.WithLogHandler(slog.NewTextHandler(logs, nil), "node", "lonely"))
	if err != nil {
		t.Fatal(err)
	}
	sub := n.Events().Subscribe(4096)
	defer sub.Close()
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop() })
	attempts := 0
	deadline := time.After(11 * time.Second)
	for done := false; !done; {
		select {
		case e := <-sub.C():
			if e.Kind == events.SeedSync {
				attempts++
				if e.Err == "" {
					t.Fatalf("an unreachable seed was reported as answering: %+v", e)
				}
			}
		case <-deadline:
			done = true
		}
	}
	if attempts < 1 || attempts > 3 {
		t.Errorf("%d seed dial attempts in 11 s, want 1..3", attempts)
	}
	if !logs.contains("no peers:") || !logs.contains("seeds unreachable") {
		t.Errorf("no log line saying why the node has no peers")
	}
}

// One seed serves two networks on one port; the nodes of each network
// only ever learn hosts of their own network.
func TestSeedServesTwoNetworks(t *testing.T) {
	sd, seedAddr := startSeed(t, "alpha", "beta")
	members := map[string][]*dnode.Node{}
	for _, nw := range []string{"alpha", "beta"} {
		for i := range 3 {
			s := discoverySettings(t, seedAddr)
			s.Network = nw
			s.Net.OutboundConnections = 2
			members[nw] = append(members[nw], startNode(t, fmt.Sprintf("%s%d", nw, i), s))
		}
	}
	eventually(t, 20*time.Second, func() error {
		for nw, ns := range members {
			for i, nd := range ns {
				if filled(nd) != 2 {
					return errorf("%s%d: %d slots", nw, i, filled(nd))
				}
			}
		}
		return nil
	})
	for nw, ns := range members {
		own := map[peer.ID]bool{sd.Host().ID(): true}
		for _, nd := range ns {
			own[nd.ID()] = true
		}
		for i, nd := range ns {
			for _, c := range []addrbook.Color{addrbook.Grey, addrbook.White, addrbook.Gold, addrbook.Dark} {
				for _, e := range nodeinternal.Book(nd).Entries(c) {
					if !own[e.Peer] {
						t.Errorf("%s%d learned %s (%s), a host of another network", nw, i, e.Addr, c)
					}
				}
			}
		}
		seedBook := nodeinternal.Book(sd.Node(nw))
		for _, c := range []addrbook.Color{addrbook.Grey, addrbook.White} {
			for _, e := range seedBook.Entries(c) {
				if !own[e.Peer] {
					t.Errorf("the seed's %s book holds %s of another network", nw, e.Addr)
				}
			}
		}
	}
}
