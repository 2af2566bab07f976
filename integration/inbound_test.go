package integration

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dnode-p2p/dnode/internal/nodeinternal"
)

// inbound_connections is a hard cap on live inbound connections; extra
// connections are refused; inbound connections that never handshake are
// closed after the handshake timeout, which frees their slots.
func TestInboundCap(t *testing.T) {
	s := testSettings(t)
	s.Net.InboundConnections = 2
	for name, p := range s.Net.Profiles {
		p.ChannelHandshakeTimeout = 6 * time.Second // idle inbound connections live this long
		s.Net.Profiles[name] = p
	}
	d := startNode(t, "d", s)
	ai, err := peer.AddrInfoFromP2pAddr(addrOf(t, d))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var hosts []interface {
		Network() network.Network
	}
	for range 4 {
		h := newPlainHost(t)
		_ = h.Connect(ctx, *ai) // a refused dialer may only notice later
		hosts = append(hosts, h)
		if n := nodeinternal.Host(d).Conns.Inbound(); n > 2 {
			t.Fatalf("%d live inbound connections, cap is 2", n)
		}
	}
	eventually(t, 4*time.Second, func() error {
		connected := 0
		for _, h := range hosts {
			if h.Network().Connectedness(d.ID()) == network.Connected {
				connected++
			}
		}
		if connected != 2 {
			return errorf("%d of 4 dialers connected, want 2", connected)
		}
		return nil
	})
	if nodeinternal.Host(d).Gater.RefusedInbound() < 2 {
		t.Errorf("refused inbound = %d, want >= 2", nodeinternal.Host(d).Gater.RefusedInbound())
	}
	// Idle (non-dnode) connections are reaped after the handshake timeout,
	// and the slots accept a dnode peer again.
	eventually(t, 10*time.Second, func() error {
		if n := nodeinternal.Host(d).Conns.Inbound(); n != 0 {
			return errorf("%d idle inbound connections still open", n)
		}
		return nil
	})
	other := testSettings(t)
	other.Net.Peers = append(other.Net.Peers, addrOf(t, d))
	c := startNode(t, "c", other)
	eventually(t, 10*time.Second, func() error {
		if len(c.Channels()) != 1 {
			return errorf("no channel after slots freed")
		}
		return nil
	})
}
