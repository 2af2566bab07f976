package ping_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	"go.uber.org/goleak"

	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/internal/testnet"
	"github.com/dnode-p2p/dnode/protocols"
	"github.com/dnode-p2p/dnode/protocols/pb"
	"github.com/dnode-p2p/dnode/protocols/ping"
)

const (
	interval = 30 * time.Second
	timeout  = 15 * time.Second
)

// fixture is a channel on host a running the ping protocol against a
// scripted peer b, on a simulated network, inside a synctest bubble (virtual time).
type fixture struct {
	t     *testing.T
	a, b  host.Host
	ch    *channel.Channel
	pings chan uint64 // nonces of the pings b received
	id    string
}

func newFixture(t *testing.T) *fixture {
	t.Cleanup(func() { goleak.VerifyNone(t, goleak.IgnoreCurrent()) })
	f := &fixture{t: t, pings: make(chan uint64, 8)}
	a, b, conn := testnet.SimPair(t)
	f.a, f.b = a, b
	proto := ping.NewSpec(interval)
	f.id = string(proto.Spec().ID("t"))
	reg := protocols.NewRegistry()
	err := reg.Register(ping.Registration(channel.All, proto, ping.Config{
		Timing: func(*channel.Channel) (time.Duration, time.Duration) { return interval, timeout },
	}))
	if err != nil {
		t.Fatal(err)
	}
	var ctl *channel.Control
	f.ch, ctl = channel.New(channel.Config{ID: 1, Conn: conn, Network: "t", Session: channel.Manual})
	t.Cleanup(func() {
		f.ch.Stop(nil)
		<-f.ch.Done()
	})
	a.SetStreamHandler(proto.Spec().ID("t"), func(s network.Stream) { ctl.ServeStream(proto.Spec(), s) })
	b.SetStreamHandler(proto.Spec().ID("t"), func(s network.Stream) {
		defer s.Reset()
		for {
			m := &pb.PingMessage{}
			if err := channel.ReadFrame(s, m, ping.MaxBytes); err != nil {
				return
			}
			if p := m.GetPing(); p != nil {
				f.pings <- p.GetNonce()
			}
		}
	})
	attached, err := reg.Attach(f.ch)
	if err != nil {
		t.Fatal(err)
	}
	ctl.Start()
	if err := attached.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return f
}

// nextPing waits for the next ping b receives.
func (f *fixture) nextPing() uint64 {
	f.t.Helper()
	select {
	case n := <-f.pings:
		return n
	case <-time.After(10 * time.Second):
		f.t.Fatal("no ping received")
		return 0
	}
}

// pong makes b answer with nonce on its own stream.
func (f *fixture) pong(nonce uint64) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := f.b.NewStream(ctx, f.a.ID(), protocolID(f.id))
	if err != nil {
		f.t.Fatal(err)
	}
	msg := &pb.PingMessage{Body: &pb.PingMessage_Pong{Pong: &pb.Pong{Nonce: nonce}}}
	if err := channel.WriteFrame(s, msg, ping.MaxBytes); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) waitStopped() error {
	f.t.Helper()
	select {
	case <-f.ch.Done():
		return f.ch.Err()
	case <-time.After(10 * time.Second):
		f.t.Fatal("channel did not stop")
		return nil
	}
}

func TestPingRoundTripAndHeartbeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		n := f.nextPing() // the first ping leaves right after the handshake
		time.Sleep(3 * time.Millisecond)
		f.pong(n)
		deadline := time.Now().Add(5 * time.Second)
		for f.ch.RTT() == 0 && time.Now().Before(deadline) {
			select {
			case <-f.ch.Done():
				t.Fatalf("channel stopped: %v", f.ch.Err())
			case <-time.After(5 * time.Millisecond):
			}
		}
		// QUIC's own timers move virtual time by microseconds on the way.
		if got := f.ch.RTT(); got < 3*time.Millisecond || got > 4*time.Millisecond {
			t.Fatalf("RTT = %s, want 3ms (+ QUIC's microseconds)", got)
		}
		select {
		case <-f.pings:
			t.Fatal("second ping before the heartbeat interval")
		default:
		}
		time.Sleep(interval)
		if n2 := f.nextPing(); n2 == n {
			t.Error("second ping reused the nonce")
		}
		if f.ch.Err() != nil {
			t.Errorf("channel stopped: %v", f.ch.Err())
		}
	})
}

func TestPingTimeoutStopsChannel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		f.nextPing()
		time.Sleep(timeout - time.Millisecond)
		if f.ch.Err() != nil {
			t.Fatalf("stopped before the timeout: %v", f.ch.Err())
		}
		time.Sleep(time.Millisecond)
		if err := f.waitStopped(); !errors.Is(err, ping.ErrTimeout) {
			t.Fatalf("stop reason = %v, want ErrTimeout", err)
		}
	})
}

func TestPingWrongNonceStopsChannel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		n := f.nextPing()
		f.pong(n + 1)
		if err := f.waitStopped(); !errors.Is(err, ping.ErrWrongNonce) {
			t.Fatalf("stop reason = %v, want ErrWrongNonce", err)
		}
	})
}

func protocolID(s string) protocol.ID { return protocol.ID(s) }
