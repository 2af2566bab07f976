package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/events"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/settings"
)

// A full node (inbound cap 6) admits a newcomer by evicting exactly one
// inbound peer, the one Bitcoin Core's classes leave: never its manual
// peer, its seed or its outbound channel, nor a low-RTT peer.
//
// Its inbound channels, in the order they start: three plain libp2p
// hosts P1-P3 that complete the handshake but never answer pings (no
// RTT), a full node F (an RTT), then a plain host with the identity of
// its manual peer M and one with that of its seed S (both protected,
// and the youngest). All share the loopback netgroup: the netgroup
// class keeps P1 (the oldest), the ping class F, the uptime class P2
// (half of P2, P3); P3 is left and goes. Without the ping class F would
// go; without the protection of manual peers or seeds, M or S (the
// youngest) would.
func TestInboundEvictionKeepsProtectedPeers(t *testing.T) {
	keyM, idM := newIdentity(t)
	keyS, idS := newIdentity(t)
	s := testSettings(t)
	s.Net.InboundConnections = 6
	s.Net.OutboundConnections = 0
	for name, p := range s.Net.Profiles {
		p.OutboundConnectTimeout = time.Minute // the plain hosts' pong timeout: they stay
		s.Net.Profiles[name] = p
	}
	// M's and S's addresses are dead: they reach d inbound.
	s.Net.Peers = []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/1/p2p/" + idM.String())}
	s.Net.Seeds = []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/1/p2p/" + idS.String())}
	d := startNode(t, "d", s)
	sub := d.Events().Subscribe(4096)
	defer sub.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	plainPeer := func(key crypto.PrivKey) host.Host {
		h := newPlainHostWith(t, key)
		handshakeAsPlainHost(t, ctx, h, addrOf(t, d))
		waitInbound(t, d, h.ID())
		return h
	}
	toD := func() settings.Settings {
		o := testSettings(t)
		o.Net.OutboundConnections = 0
		o.Net.Peers = []ma.Multiaddr{addrOf(t, d)}
		return o
	}
	var plain []host.Host
	for range 3 {
		k, _ := newIdentity(t)
		plain = append(plain, plainPeer(k))
	}
	f := startNode(t, "f", toD())
	waitInbound(t, d, f.ID())
	eventually(t, 10*time.Second, func() error {
		if ch := nodeinternal.Manager(d).Channel(f.ID()); ch == nil || ch.RTT() == 0 {
			return errorf("no RTT for f yet")
		}
		return nil
	})
	plainPeer(keyM)
	plainPeer(keyS)
	o := startNode(t, "o", testSettings(t))
	if _, err := d.Connect(ctx, addrOf(t, o), channel.Outbound); err != nil {
		t.Fatalf("outbound channel: %v", err)
	}
	if n := nodeinternal.Host(d).Conns.Inbound(); n != 6 {
		t.Fatalf("%d inbound connections before the newcomer, want 6", n)
	}

	if !nodeinternal.Host(d).ConnMgr.EvictionProtected(o.ID()) {
		t.Error("the outbound channel's peer is not protected in the connection manager")
	}
	kept := map[string]peer.ID{"manual peer": idM, "seed": idS, "low-RTT peer": f.ID(),
		"P1": plain[0].ID(), "P2": plain[1].ID(), "outbound peer": o.ID()}
	lost := func() []string {
		var out []string
		for name, p := range kept {
			if nodeinternal.Manager(d).Channel(p) == nil {
				out = append(out, name)
			}
		}
		return out
	}

	newcomer := startNode(t, "n", toD())
	eventually(t, 15*time.Second, func() error {
		if l := lost(); len(l) > 0 {
			return errorf("evicted instead of P3: %v", l)
		}
		if ch := nodeinternal.Manager(d).Channel(newcomer.ID()); ch == nil || ch.Session() != channel.Inbound {
			return errorf("the newcomer has no inbound channel")
		}
		if len(newcomer.Channels()) != 1 {
			return errorf("the newcomer has %d channels, want 1", len(newcomer.Channels()))
		}
		if nodeinternal.Manager(d).Channel(plain[2].ID()) != nil || plain[2].Network().Connectedness(d.ID()) == network.Connected {
			return errorf("P3 is still connected")
		}
		return nil
	})
	if l := lost(); len(l) > 0 {
		t.Errorf("lost their channels: %v", l)
	}
	if got := nodeinternal.InboundEvictions(d); got != 1 {
		t.Errorf("%d evictions, want 1", got)
	}
	if n := nodeinternal.Host(d).Conns.Inbound(); n != 6 {
		t.Errorf("%d inbound connections after the eviction, want 6", n)
	}
	// The evicted channel's events: inbound_evicted and channel_stopped
	// with the reason.
	var evicted, stopped bool
	eventually(t, 5*time.Second, func() error {
		for drained := false; !drained; {
			select {
			case e := <-sub.C():
				switch {
				case e.Kind == events.InboundEvicted:
					evicted = true
				case e.Kind == events.ChannelStopped && strings.Contains(e.Err, "evicted"):
					stopped = true
				}
			default:
				drained = true
			}
		}
		if !evicted || !stopped {
			return errorf("events: inbound_evicted %v, channel_stopped with reason %v", evicted, stopped)
		}
		return nil
	})
}

// waitInbound waits until d has an inbound channel with p.
func waitInbound(t testing.TB, d *dnode.Node, p peer.ID) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		if ch := nodeinternal.Manager(d).Channel(p); ch == nil || ch.Session() != channel.Inbound {
			return fmt.Errorf("no inbound channel with %s", p.ShortString())
		}
		return nil
	})
}

// An outbound slot that picks a peer already connected inbound holds that
// inbound channel as its outbound peer: it is protected from eviction
// while the slot holds it.
func TestOutboundSlotProtectsHeldInboundChannel(t *testing.T) {
	s := testSettings(t)
	s.Net.OutboundConnections = 1
	s.Net.KnownPeerPercent = 0 // the slot picks from the greylist
	d := startNode(t, "d", s)
	xs := testSettings(t)
	xs.Net.OutboundConnections = 0
	xs.Net.Peers = []ma.Multiaddr{addrOf(t, d)}
	x := startNode(t, "x", xs)
	waitInbound(t, d, x.ID())
	if nodeinternal.Host(d).ConnMgr.EvictionProtected(x.ID()) {
		t.Fatal("an inbound peer is protected before any slot holds it")
	}
	nodeinternal.Book(d).Insert("", []addrbook.Entry{{Addr: addrOf(t, x), Peer: x.ID(), LastSeen: time.Now()}})
	eventually(t, 10*time.Second, func() error {
		if filled(d) != 1 {
			return errorf("the slot holds no channel")
		}
		if !nodeinternal.Host(d).ConnMgr.EvictionProtected(x.ID()) {
			return errorf("the slot's inbound channel is not protected")
		}
		return nil
	})
	if ch := nodeinternal.Manager(d).Channel(x.ID()); ch == nil || ch.Session() != channel.Inbound {
		t.Fatalf("the slot holds %v, want x's inbound channel", ch)
	}
}
