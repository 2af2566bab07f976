package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/settings"
)

// Two nodes configured as each other's manual peers end with one channel,
// complete the handshake and exchange pings (RTT recorded on both ends).
func TestManualPairHandshakeAndPing(t *testing.T) {
	a := startNode(t, "a", testSettings(t))
	sb := testSettings(t)
	sb.Net.Peers = []ma.Multiaddr{addrOf(t, a)}
	b := startNode(t, "b", sb)

	eventually(t, 10*time.Second, func() error {
		for name, n := range map[string]interface{ Channels() []*channel.Channel }{"a": a, "b": b} {
			chs := n.Channels()
			if len(chs) != 1 {
				return errorf("%s has %d channels", name, len(chs))
			}
			if chs[0].RTT() == 0 {
				return errorf("%s: no ping RTT yet", name)
			}
			if chs[0].Version() == nil || chs[0].Version().AppName != "dnode" {
				return errorf("%s: no version", name)
			}
		}
		return nil
	})
	if got := b.Channels()[0].Session(); got != channel.Manual {
		t.Errorf("b's channel session = %v, want manual", got)
	}
	if got := a.Channels()[0].Session(); got != channel.Inbound {
		t.Errorf("a's channel session = %v, want inbound", got)
	}
	if a.Channels()[0].Peer() != b.ID() {
		t.Errorf("a's channel peer = %s, want %s", a.Channels()[0].Peer(), b.ID())
	}
}

// DarkFi's manual phase: five nodes, each with the other four as manual
// peers. DarkFi ends with 8 channels per node (4 outbound manual + 4
// inbound) because it has no peer identity and keeps both TCP
// connections of every pair; dnode keeps one channel per peer, so each
// node ends with exactly 4 channels, one per peer, every manual slot is
// connected, and each pair's single channel is manual on the side whose
// handshake won and inbound on the other.
func TestManualMesh(t *testing.T) {
	const n = 5
	ss := make([]settings.Settings, n)
	nodes := make([]*dnode.Node, n)
	keys := make([]crypto.PrivKey, n)
	addrs := make([]ma.Multiaddr, n)
	for i := range n {
		ss[i] = testSettings(t)
		// Fixed ports so that every node can list the others before any starts.
		port := freePort(t)
		ss[i].Net.Inbound = []ma.Multiaddr{ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port))}
		k, _, err := crypto.GenerateEd25519Key(nil)
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = k
		id, _ := peer.IDFromPrivateKey(k)
		addrs[i] = ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", port, id))
	}
	for i := range n {
		for j := range n {
			if j != i {
				ss[i].Net.Peers = append(ss[i].Net.Peers, addrs[j])
			}
		}
		nodes[i] = newNodeWith(t, fmt.Sprintf("n%d", i), ss[i], dnode.WithIdentity(keys[i]))
	}
	for i, nd := range nodes {
		if err := nd.Start(context.Background()); err != nil {
			t.Fatalf("start n%d: %v", i, err)
		}
	}
	eventually(t, 20*time.Second, func() error {
		for i, nd := range nodes {
			if c := len(nd.Channels()); c != n-1 {
				return errorf("n%d has %d channels", i, c)
			}
			for p, ch := range nodeinternal.Manual(nd).Peers() {
				if ch == nil {
					return errorf("n%d: manual slot for %s not connected", i, p.ShortString())
				}
			}
		}
		return nil
	})
	manual, inbound := 0, 0
	for i, nd := range nodes {
		seen := map[peer.ID]bool{}
		for _, ch := range nd.Channels() {
			if seen[ch.Peer()] {
				t.Errorf("n%d has two channels with %s", i, ch.Peer())
			}
			seen[ch.Peer()] = true
			switch ch.Session() {
			case channel.Manual:
				manual++
			case channel.Inbound:
				inbound++
			default:
				t.Errorf("n%d: unexpected session %v", i, ch.Session())
			}
		}
	}
	pairs := n * (n - 1) / 2
	if manual != pairs || inbound != pairs {
		t.Errorf("mesh has %d manual and %d inbound channel ends, want %d of each", manual, inbound, pairs)
	}
}
