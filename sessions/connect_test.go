package sessions

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dnode-p2p/dnode/channel"
)

// Connect refuses what admit refuses, through the real code path: our
// own address (ErrSelf), a peer we have a channel with (ErrAlreadyConnected,
// with that channel), a second handshake with a peer while one in the
// same direction runs (ErrInProgress, at once), and anything once the
// Manager stopped (ErrStopped).
func TestConnectRefusals(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		n := newSimNet(t)
		a, b := n.node("11.0.0.1", nil), n.node("11.1.0.1", nil)
		slow := n.wirePeer("11.2.0.1", testNetwork, wireNever)
		ctx := context.Background()

		if ch, err := a.m.Connect(ctx, a.info(), channel.Outbound); !errors.Is(err, ErrSelf) || ch != nil {
			t.Fatalf("Connect to self = %v, %v; want ErrSelf", ch, err)
		}

		ch, err := a.m.Connect(ctx, b.info(), channel.Outbound)
		if err != nil {
			t.Fatalf("Connect: %v", err)
		}
		again, err := a.m.Connect(ctx, b.info(), channel.Manual)
		if !errors.Is(err, ErrAlreadyConnected) || again != ch {
			t.Fatalf("second Connect = %v, %v; want the first channel %v and ErrAlreadyConnected", again, err, ch)
		}
		if n := len(a.m.Channels()); n != 1 {
			t.Fatalf("%d channels after the refused Connect, want 1", n)
		}
		if _, in := connected(t, a, b); in.Session() != channel.Inbound {
			t.Fatalf("peer's channel %v, want an inbound channel", in)
		}

		// A handshake with slow runs (it never answers): a second one in
		// the same direction is refused at once, whatever session asks.
		first := make(chan error, 1)
		go func() {
			_, err := a.m.Connect(ctx, slow.info(), channel.Outbound)
			first <- err
		}()
		waitFor(t, time.Second, func() error {
			a.m.mu.Lock()
			defer a.m.mu.Unlock()
			if len(a.m.pending[slow.h.ID()]) == 0 {
				return errors.New("no handshake with the slow peer in progress")
			}
			return nil
		})
		began := time.Now()
		if ch, err := a.m.Connect(ctx, slow.info(), channel.Direct); !errors.Is(err, ErrInProgress) || ch != nil {
			t.Fatalf("Connect during a handshake = %v, %v; want ErrInProgress", ch, err)
		}
		if took := time.Since(began); took != 0 {
			t.Errorf("the refusal took %s, want none", took)
		}
		if err := <-first; !errors.Is(err, ErrHandshake) {
			t.Fatalf("handshake with the slow peer: %v, want ErrHandshake", err)
		}

		stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := a.m.Stop(stopCtx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if ch, err := a.m.Connect(ctx, b.info(), channel.Outbound); !errors.Is(err, ErrStopped) || ch != nil {
			t.Fatalf("Connect after Stop = %v, %v; want ErrStopped", ch, err)
		}
		select {
		case <-ch.Done():
		default:
			t.Errorf("channel not stopped by Stop")
		}
	})
}

// When two peers dial each other at the same moment, both handshakes run
// to completion on their own connections and both sides keep the same
// one channel: the one the smaller peer ID opened (the pair rule).
func TestConnectPairRule(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		n := newSimNet(t)
		for i := range 4 {
			a, b := n.node(simIP(20, i, 1), nil), n.node(simIP(21, i, 1), nil)
			ctx := context.Background()
			type result struct {
				ch  *channel.Channel
				err error
			}
			res := make(chan result, 2)
			for _, pair := range [2][2]*testNode{{a, b}, {b, a}} {
				go func() {
					ch, err := pair[0].m.Connect(ctx, pair[1].info(), channel.Outbound)
					res <- result{ch, err}
				}()
			}
			for range 2 {
				if r := <-res; r.err != nil && !errors.Is(r.err, ErrDuplicate) && !errors.Is(r.err, ErrAlreadyConnected) {
					t.Fatalf("round %d: simultaneous Connect: %v", i, r.err)
				}
			}
			small, large := a, b
			if b.id() < a.id() {
				small, large = b, a
			}
			// The handshakes end in either order on each side; once both
			// ended, each side holds one channel: the smaller's dial.
			var smallCh, largeCh *channel.Channel
			waitFor(t, 2*time.Second, func() error {
				smallCh, largeCh = small.m.Channel(large.id()), large.m.Channel(small.id())
				if smallCh == nil || largeCh == nil {
					return fmt.Errorf("channels %v and %v", smallCh, largeCh)
				}
				if smallCh.Session() != channel.Outbound || largeCh.Session() != channel.Inbound {
					return fmt.Errorf("the smaller ID keeps a %v channel, the larger an %v one; want the smaller's dial on both sides",
						smallCh.Session(), largeCh.Session())
				}
				for _, tn := range []*testNode{small, large} {
					tn.m.mu.Lock()
					all, pending := len(tn.m.all), len(tn.m.pending)
					tn.m.mu.Unlock()
					if all != 1 || pending != 0 {
						return fmt.Errorf("%d channels and %d handshakes on one side, want 1 channel", all, pending)
					}
				}
				return nil
			})
			if smallCh.Conn().IsClosed() || largeCh.Conn().IsClosed() {
				t.Fatalf("round %d: the kept channel's connection is closed", i)
			}
			waitFor(t, 2*time.Second, func() error {
				if got := len(small.h.Network().ConnsToPeer(large.id())); got != 1 {
					return fmt.Errorf("round %d: %d connections left, want the kept channel's only", i, got)
				}
				return nil
			})
		}
	})
}

// simIP is the address a.b.c.1.
func simIP(a, b, c int) string { return fmt.Sprintf("%d.%d.%d.1", a, b, c) }
