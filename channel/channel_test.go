package channel

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-msgio/pbio"

	"github.com/dnode-p2p/dnode/protocols/pb"
)

const testNetwork = "test"

// pair returns started channels on both ends of one loopback connection,
// with p attached on both and b's stream handler serving it, and host a;
// violations of b are counted.
func pair(t *testing.T, p *Protocol[*pb.Ping]) (chA, chB *Channel, ha host.Host, violations *atomic.Int32) {
	t.Helper()
	a, b, conn := hostPair(t)
	connB := b.Network().ConnsToPeer(a.ID())
	if len(connB) == 0 {
		t.Fatal("no connection on b")
	}
	violations = new(atomic.Int32)
	chA, ctlA := New(Config{ID: 1, Conn: conn, Network: testNetwork, Session: Outbound})
	chB, ctlB := New(Config{ID: 2, Conn: connB[0], Network: testNetwork, Session: Inbound,
		Violation: func(*Channel, error) { violations.Add(1) }})
	for _, ch := range []*Channel{chA, chB} {
		ch.Attach(p.Spec())
		t.Cleanup(func() {
			ch.Stop(nil)
			<-ch.Done()
		})
	}
	b.SetStreamHandler(p.Spec().ID(testNetwork), func(s network.Stream) { ctlB.ServeStream(p.Spec(), s) })
	ctlA.Start()
	ctlB.Start()
	return chA, chB, a, violations
}

// hostPair returns two connected loopback hosts and a's connection (as
// testnet.Pair, which this package cannot import: testnet imports dnode).
func hostPair(t *testing.T) (a, b host.Host, conn network.Conn) {
	t.Helper()
	for _, h := range []*host.Host{&a, &b} {
		var err error
		*h, err = libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay(), libp2p.DisableMetrics())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { (*h).Close() })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatal(err)
	}
	conns := a.Network().ConnsToPeer(b.ID())
	if len(conns) == 0 {
		t.Fatal("no connection")
	}
	return a, b, conns[0]
}

// eventually polls cond every 20 ms until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", timeout, err)
		}
		tm := time.NewTimer(20 * time.Millisecond)
		<-tm.C
	}
}

func receive(t *testing.T, sub *Subscription[*pb.Ping]) *pb.Ping {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := sub.Receive(ctx)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return m
}

// Messages sent on one end arrive on the other, in order, decoded, and
// both ends count them; a message above the cap is refused at Send.
func TestChannelSendReceive(t *testing.T) {
	p := NewProtocol[*pb.Ping]("sendrecv", "1.0.0", 64, Metering{})
	chA, chB, _, violations := pair(t, p)
	sub := p.Subscribe(chB, 16)
	defer sub.Close()
	for i := range uint64(5) {
		if err := p.Send(chA, &pb.Ping{Nonce: i}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range uint64(5) {
		if m := receive(t, sub); m.GetNonce() != i {
			t.Fatalf("message %d has nonce %d", i, m.GetNonce())
		}
	}
	if got := chB.Stats().MessagesIn; got != 5 {
		t.Errorf("b counted %d messages in, want 5", got)
	}
	eventually(t, 5*time.Second, func() error {
		if chA.Stats().MessagesOut != 5 {
			return errors.New("a has not counted its 5 messages out")
		}
		return nil
	})
	big := &pb.Ping{Nonce: ^uint64(0)}
	tooBig := NewProtocol[*pb.Ping]("sendrecv", "1.0.0", 4, Metering{})
	if err := tooBig.Send(chA, big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Send above the cap: %v, want ErrTooLarge", err)
	}
	if violations.Load() != 0 {
		t.Fatal("violation on well-formed traffic")
	}
}

// A frame above the receiving protocol's cap is a violation: the
// receiving channel stops with kind violation before reading the payload.
func TestChannelReceiveOversizeIsViolation(t *testing.T) {
	p := NewProtocol[*pb.Ping]("oversize", "1.0.0", 8, Metering{})
	chA, chB, ha, violations := pair(t, p)
	s, err := ha.NewStream(context.Background(), chA.Peer(), p.Spec().ID(testNetwork))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Reset()
	// A well-formed message, but longer than the cap once encoded.
	if err := pbio.NewDelimitedWriter(s).WriteMsg(&pb.Ping{Nonce: ^uint64(0)}); err != nil { // 11 bytes
		t.Fatal(err)
	}
	select {
	case <-chB.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("b did not stop on an oversized frame")
	}
	if KindOf(chB.Err()) != StopViolation || !errors.Is(chB.Err(), ErrViolation) {
		t.Fatalf("b stopped with %v (kind %v), want a violation", chB.Err(), KindOf(chB.Err()))
	}
	if violations.Load() != 1 {
		t.Fatalf("%d violation reports, want 1", violations.Load())
	}
}

// After Stop, Send fails with ErrStopped, Done is closed and Err is a
// local stop; the peer's end sees its streams reset.
func TestChannelStop(t *testing.T) {
	p := NewProtocol[*pb.Ping]("stop", "1.0.0", 64, Metering{})
	chA, _, _, _ := pair(t, p)
	if err := p.Send(chA, &pb.Ping{Nonce: 1}); err != nil {
		t.Fatal(err)
	}
	chA.Stop(nil)
	select {
	case <-chA.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after Stop")
	}
	if !errors.Is(chA.Err(), ErrStopped) || KindOf(chA.Err()) != StopLocal {
		t.Fatalf("Err after Stop(nil) = %v (kind %v), want a local stop", chA.Err(), KindOf(chA.Err()))
	}
	if err := p.Send(chA, &pb.Ping{Nonce: 2}); !errors.Is(err, ErrStopped) {
		t.Fatalf("Send after Stop: %v, want ErrStopped", err)
	}
	chA.Stop(errors.New("again")) // idempotent: the first reason stays
	if KindOf(chA.Err()) != StopLocal {
		t.Fatalf("a second Stop changed the reason to %v", chA.Err())
	}
}
