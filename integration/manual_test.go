package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
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
	nodes := make([]*dnode.Node, n)
	for i := range n {
		nodes[i] = startNode(t, fmt.Sprintf("n%d", i), testSettings(t))
	}
	// Every node lists the others once all listen (on ports their
	// listeners were given); the slots dial at once, in both directions.
	for i, nd := range nodes {
		for j, other := range nodes {
			if j != i {
				if err := nd.Admin().AddPeer(addrOf(t, other)); err != nil {
					t.Fatalf("n%d: add n%d: %v", i, j, err)
				}
			}
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
