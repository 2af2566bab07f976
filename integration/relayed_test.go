package integration

import (
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/channel"
	dhost "github.com/dnode-p2p/dnode/host"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/sessions"
	"github.com/dnode-p2p/dnode/settings"
)

// natSettings are loopback settings with NAT traversal on (localnet off,
// no UPnP search, no hole punching: the test opens the direct connection
// itself).
func natSettings(t *testing.T, reach settings.Reachability, relay bool) settings.Settings {
	s := testSettings(t)
	s.Net.Localnet = false
	s.Net.NATPortMap = false
	s.Net.HolePunching = false
	s.Net.Reachability = reach
	s.Net.RelayService = relay
	return s
}

// A channel over a relayed connection: A holds a reservation on relay R,
// B reaches A through R; the channel runs on the limited connection (its
// ping streams work there). When a direct connection between them opens,
// B, which opened the channel, moves it there: both end with one channel
// on a direct connection, and the relayed one stopped as moved. A peer
// of no dnode network cannot reserve on R.
func TestRelayedChannelMovesToDirect(t *testing.T) {
	ctx := t.Context()
	r := startNode(t, "relay", natSettings(t, settings.ReachabilityPublic, true))
	a := startNode(t, "a", natSettings(t, settings.ReachabilityPrivate, false))
	b := startNode(t, "b", natSettings(t, settings.ReachabilityAuto, false))
	for _, n := range []*dnode.Node{a, b} {
		if _, err := n.Connect(ctx, addrOf(t, r), channel.Manual); err != nil {
			t.Fatalf("connect to the relay: %v", err)
		}
	}
	relayInfo := peer.AddrInfo{ID: r.ID(), Addrs: nodeinternal.Host(r).Addrs()}
	eventually(t, 10*time.Second, func() error { // the service starts once R is public
		_, err := client.Reserve(ctx, nodeinternal.Host(a), relayInfo)
		return err
	})

	stranger, err := libp2p.New(libp2p.NoListenAddrs)
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	if err := stranger.Connect(ctx, relayInfo); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Reserve(ctx, stranger, relayInfo); err == nil {
		t.Error("a peer of no dnode network got a reservation")
	}

	circuit := addrOf(t, r).Encapsulate(ma.StringCast("/p2p-circuit/p2p/" + a.ID().String()))
	relayed, err := b.Connect(ctx, circuit, channel.Outbound)
	if err != nil {
		t.Fatalf("connect through the relay: %v", err)
	}
	if !relayed.Conn().Stat().Limited || !dhost.IsCircuit(relayed.RemoteAddr()) {
		t.Fatalf("channel on %s (limited %v), want a relayed connection", relayed.RemoteAddr(), relayed.Conn().Stat().Limited)
	}
	eventually(t, 10*time.Second, func() error {
		if relayed.RTT() == 0 {
			return errors.New("no pong over the relayed connection yet")
		}
		return nil
	})

	var direct []ma.Multiaddr
	for _, ad := range nodeinternal.Host(a).Addrs() {
		if !dhost.IsCircuit(ad) {
			direct = append(direct, ad)
		}
	}
	dctx := network.WithForceDirectDial(ctx, "test: the direct connection hole punching would open")
	if err := nodeinternal.Host(b).Connect(dctx, peer.AddrInfo{ID: a.ID(), Addrs: direct}); err != nil {
		t.Fatalf("direct connection: %v", err)
	}
	eventually(t, 15*time.Second, func() error {
		for _, side := range []struct {
			n     *dnode.Node
			other peer.ID
		}{{a, b.ID()}, {b, a.ID()}} {
			ch := nodeinternal.Manager(side.n).Channel(side.other)
			if ch == nil || ch.Conn().Stat().Limited {
				return errors.New("no channel on a direct connection yet")
			}
		}
		return nil
	})
	select {
	case <-relayed.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the relayed channel did not stop")
	}
	// B stops it as moved, unless A, replacing its side by the new
	// channel, closed the relayed connection or reset its streams first
	// (a closed-kind stop).
	if err := relayed.Err(); !errors.Is(err, sessions.ErrMovedDirect) && channel.KindOf(err) != channel.StopClosed {
		t.Errorf("relayed channel stopped with %v, want ErrMovedDirect or a closed-kind stop", err)
	}
}
