package integration

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/rpc"
	"github.com/dnode-p2p/dnode/sessions"
)

// rpcOf serves n's RPC on loopback and returns a client; both close at
// cleanup, before the node stops.
func rpcOf(t *testing.T, n *dnode.Node) *rpc.Client {
	t.Helper()
	srv, err := rpc.New(rpc.Config{Node: n, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	c, err := rpc.NewClient(srv.Addr(), "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// setSlots calls p2p.set_outbound_slots and checks that p2p.get_info shows
// the new count at once, before any channel moved.
func setSlots(t *testing.T, c *rpc.Client, n int) {
	t.Helper()
	ctx := t.Context()
	if err := c.Call(ctx, "p2p.set_outbound_slots", nil, n); err != nil {
		t.Fatalf("set_outbound_slots %d: %v", n, err)
	}
	var info rpc.Info
	if err := c.Call(ctx, "p2p.get_info", &info); err != nil {
		t.Fatal(err)
	}
	if info.OutboundConnections != n || len(info.OutboundSlots) != n {
		t.Fatalf("get_info right after set_outbound_slots %d: outbound_connections %d, %d slots",
			n, info.OutboundConnections, len(info.OutboundSlots))
	}
}

// A node with two outbound slots in a network of six peers, set to four
// at run time, fills four slots; set to one, it keeps one and closes the
// outbound channels of the removed slots.
func TestRuntimeOutboundSlots(t *testing.T) {
	_, seedAddr := startSeed(t)
	for i := range 6 {
		s := discoverySettings(t, seedAddr)
		s.Net.OutboundConnections = 2
		startNode(t, fmt.Sprintf("p%d", i), s)
	}
	s := discoverySettings(t, seedAddr)
	s.Net.OutboundConnections = 2
	x := startNode(t, "x", s)
	c := rpcOf(t, x)
	eventually(t, 20*time.Second, func() error {
		if f := filled(x); f != 2 {
			return errorf("x has %d of 2 outbound slots filled", f)
		}
		return nil
	})

	setSlots(t, c, 4)
	eventually(t, 20*time.Second, func() error {
		if f := filled(x); f != 4 {
			return errorf("x has %d of 4 outbound slots filled", f)
		}
		return nil
	})

	var before []*channel.Channel
	for _, ch := range x.Channels() {
		if ch.Session() == channel.Outbound {
			before = append(before, ch)
		}
	}
	setSlots(t, c, 1)
	eventually(t, 10*time.Second, func() error {
		if f, out := filled(x), sessionsOf(x)[channel.Outbound]; f != 1 || out > 1 {
			return errorf("x has %d slots filled and %d outbound channels, want 1 and at most 1", f, out)
		}
		return nil
	})
	// The outbound channels that closed were those of removed slots.
	removed := 0
	for _, ch := range before {
		select {
		case <-ch.Stopping():
			if !errors.Is(ch.Err(), sessions.ErrSlotRemoved) {
				t.Errorf("outbound channel %v closed with %v, want ErrSlotRemoved", ch, ch.Err())
			}
			removed++
		default:
		}
	}
	if removed < len(before)-1 {
		t.Errorf("%d of %d outbound channels closed, want at least %d", removed, len(before), len(before)-1)
	}
}

// Lowering the inbound limit below the live count keeps the live peers and
// refuses the next newcomer.
func TestRuntimeInboundLimit(t *testing.T) {
	s := testSettings(t)
	s.Net.OutboundConnections = 0
	x := startNode(t, "x", s)
	c := rpcOf(t, x)
	var peers []*dnode.Node
	for i := range 2 {
		ps := testSettings(t)
		ps.Net.OutboundConnections = 0
		ps.Net.Peers = append(ps.Net.Peers, addrOf(t, x))
		peers = append(peers, startNode(t, fmt.Sprintf("p%d", i), ps))
	}
	eventually(t, 10*time.Second, func() error {
		if in := sessionsOf(x)[channel.Inbound]; in != 2 {
			return errorf("x has %d inbound channels, want 2", in)
		}
		return nil
	})

	if err := c.Call(t.Context(), "p2p.set_inbound_limit", nil, 1); err != nil {
		t.Fatal(err)
	}
	var info rpc.Info
	if err := c.Call(t.Context(), "p2p.get_info", &info); err != nil || info.InboundConnections != 1 {
		t.Fatalf("get_info inbound_connections = %d, %v; want 1 at once", info.InboundConnections, err)
	}
	refused := nodeinternal.Host(x).Gater.RefusedInbound()
	ns := testSettings(t)
	ns.Net.OutboundConnections = 0
	newcomer := startNode(t, "newcomer", ns)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if ch, err := newcomer.Connect(ctx, addrOf(t, x), channel.Outbound); err == nil {
		t.Fatalf("a newcomer got channel %v past the lowered inbound limit", ch)
	}
	if got := nodeinternal.Host(x).Gater.RefusedInbound(); got <= refused {
		t.Errorf("refused inbound = %d, want more than %d", got, refused)
	}
	// The refusal is over; the two live peers are still there.
	if in := sessionsOf(x)[channel.Inbound]; in != 2 {
		t.Errorf("x has %d inbound channels after lowering its limit, want the 2 it had", in)
	}
	for i, p := range peers {
		if len(p.Channels()) != 1 {
			t.Errorf("p%d lost its channel to x", i)
		}
	}
}

// A seed added at run time is asked for addresses at once: the node learns
// the hosts the seed knows.
func TestRuntimeAddSeed(t *testing.T) {
	sd, seedAddr := startSeed(t)
	ps := discoverySettings(t, seedAddr)
	ps.Net.OutboundConnections = 1
	p := startNode(t, "p", ps)
	// The seed learns p from p's own seed sync.
	eventually(t, 20*time.Second, func() error {
		if _, ok := nodeinternal.Book(sd.Node("test")).Contains(p.ID()); !ok {
			return errorf("the seed does not know p yet")
		}
		return nil
	})

	xs := discoverySettings(t) // no seeds, no peers
	xs.Net.OutboundConnections = 0
	x := startNode(t, "x", xs)
	c := rpcOf(t, x)
	if err := c.Call(t.Context(), "p2p.add_seed", nil, seedAddr.String()); err != nil {
		t.Fatal(err)
	}
	var info rpc.Info
	if err := c.Call(t.Context(), "p2p.get_info", &info); err != nil || len(info.Seeds) != 1 || info.Seeds[0] != seedAddr.String() {
		t.Fatalf("get_info seeds = %v, %v; want [%s] at once", info.Seeds, err, seedAddr)
	}
	eventually(t, 20*time.Second, func() error {
		if _, ok := nodeinternal.Book(x).Contains(p.ID()); !ok {
			return errorf("x has not learnt p from the added seed")
		}
		return nil
	})
	if _, ok := nodeinternal.Book(x).Contains(sd.Host().ID()); ok {
		t.Error("x stored the seed in a host list")
	}
}
