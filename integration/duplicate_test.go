package integration

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/protocols/pb"
)

// Two nodes that connect to each other at the same moment end with one
// channel, on the same connection on both sides, and it carries messages
// both ways and stays up: with separate connections (TCP simultaneous open
// must not merge them), and with one libp2p connection both dials reuse,
// where two handshakes run on it and the peer's protocol streams must
// reach the channel that won the pair, not the one being closed.
func TestSimultaneousConnectsKeepOneWorkingChannel(t *testing.T) {
	ctx := context.Background()
	a := newNode(t, "a", testSettings(t))
	aGot := registerApp(t, a)
	b := newNode(t, "b", testSettings(t))
	bGot := registerApp(t, b)
	for _, n := range []interface{ Start(context.Context) error }{a, b} {
		if err := n.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	aAddr, bAddr := addrOf(t, a), addrOf(t, b)
	expect := func(got <-chan uint64, want uint64) error {
		deadline := time.After(5 * time.Second)
		for {
			select {
			case n := <-got:
				if n == want {
					return nil
				}
			case <-deadline:
				return errorf("message %d not received", want)
			}
		}
	}
	for round := range 20 {
		if round%2 == 1 {
			// Odd rounds: a libp2p connection exists first, so both
			// dials reuse it and the two handshakes share it.
			if err := nodeinternal.Host(a).Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: nodeinternal.Host(b).Addrs()}); err != nil {
				t.Fatalf("round %d: libp2p connect: %v", round, err)
			}
		}
		var wg sync.WaitGroup
		var errA, errB error
		wg.Go(func() { _, errA = a.Connect(ctx, bAddr, channel.Manual) })
		wg.Go(func() { _, errB = b.Connect(ctx, aAddr, channel.Manual) })
		wg.Wait()
		t.Logf("round %d: a.Connect: %v; b.Connect: %v", round, errA, errB)
		// Both sides settle on the same handshake: exactly one of the two
		// channels is the inbound side of it.
		var cha, chb *channel.Channel
		eventually(t, 5*time.Second, func() error {
			as, bs := a.Channels(), b.Channels()
			if len(as) != 1 || len(bs) != 1 {
				return errorf("round %d: a has %d channels, b has %d", round, len(as), len(bs))
			}
			cha, chb = as[0], bs[0]
			if (cha.Session() == channel.Inbound) == (chb.Session() == channel.Inbound) {
				return errorf("round %d: a kept its %s channel, b its %s channel", round, cha.Session(), chb.Session())
			}
			return nil
		})
		nonce := uint64(round) * 2
		if err := appProto.Send(cha, &pb.Ping{Nonce: nonce}); err != nil {
			t.Fatalf("round %d: send a->b: %v", round, err)
		}
		if err := appProto.Send(chb, &pb.Ping{Nonce: nonce + 1}); err != nil {
			t.Fatalf("round %d: send b->a: %v", round, err)
		}
		if err := expect(bGot, nonce); err != nil {
			t.Fatalf("round %d: a->b: %v (a's channel: %v, b's channel: %v)", round, err, cha.Err(), chb.Err())
		}
		if err := expect(aGot, nonce+1); err != nil {
			t.Fatalf("round %d: b->a: %v (a's channel: %v, b's channel: %v)", round, err, cha.Err(), chb.Err())
		}
		if cha.Err() != nil || chb.Err() != nil {
			t.Fatalf("round %d: channel stopped after the exchange: a: %v, b: %v", round, cha.Err(), chb.Err())
		}
		cha.Stop(errors.New("next round"))
		eventually(t, 5*time.Second, func() error {
			if na, nb := len(a.Channels()), len(b.Channels()); na != 0 || nb != 0 {
				return errorf("round %d: after stop a has %d channels, b has %d", round, na, nb)
			}
			return nil
		})
	}
}
