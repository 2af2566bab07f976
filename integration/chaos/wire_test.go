package chaos

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"google.golang.org/protobuf/proto"

	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/protocols/pb"
)

// Protocol IDs of the suite's network.
var (
	versionID = protocol.ID("/dnode/" + netID + "/version/1.0.0")
	pingID    = protocol.ID("/dnode/" + netID + "/ping/1.0.0")
	addrID    = protocol.ID("/dnode/" + netID + "/addr/1.0.0")
	relayID   = protocol.ID("/dnode/" + netID + "/relay/1.0.0")
)

// appVersion is the daemon's app name and version (docs/protocol.md).
const appName, appVersion = "dnode", "0.1.0"

// wirePeer is a plain go-libp2p host speaking dnode's wire protocol by
// hand: the honest peer and the base of every hostile one. It is safe for
// concurrent use.
type wirePeer struct {
	h      host.Host
	silent atomic.Bool // pings are not answered

	mu    sync.Mutex
	out   network.Stream // our ping stream
	pongs chan uint64    // nonces of pongs received
}

// newWirePeer returns a peer with a fresh identity and no listener,
// closed at cleanup.
func newWirePeer(t testing.TB) *wirePeer {
	t.Helper()
	w, err := makeWirePeer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.close)
	return w
}

func makeWirePeer() (*wirePeer, error) {
	h, err := libp2p.New(libp2p.NoListenAddrs, libp2p.DisableRelay(), libp2p.DisableMetrics(),
		libp2p.ResourceManager(&network.NullResourceManager{}))
	if err != nil {
		return nil, err
	}
	w := &wirePeer{h: h, pongs: make(chan uint64, 16)}
	h.SetStreamHandler(pingID, w.servePing)
	// The daemon opens these when we list them: read and drop.
	for _, id := range []protocol.ID{addrID, relayID} {
		h.SetStreamHandler(id, func(s network.Stream) {
			_, _ = io.Copy(io.Discard, io.LimitReader(s, 64<<20))
			_ = s.Reset()
		})
	}
	return w, nil
}

func (w *wirePeer) close() { _ = w.h.Close() }

// handshake connects to d and runs the version handshake listing protos
// (dnode protocol IDs), under timeout.
func (w *wirePeer) handshake(ctx context.Context, d peer.AddrInfo, protos ...protocol.ID) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := w.h.Connect(ctx, d); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	s, err := w.h.NewStream(ctx, d.ID, versionID)
	if err != nil {
		return fmt.Errorf("version stream: %w", err)
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	v := &pb.Version{AppName: appName, AppVersion: appVersion, Timestamp: uint64(time.Now().Unix())}
	for _, p := range protos {
		v.Protocols = append(v.Protocols, string(p))
	}
	if err := channel.WriteFrame(s, v, 4096); err != nil {
		return fmt.Errorf("send version: %w", err)
	}
	if err := channel.ReadFrame(s, &pb.Version{}, 4096); err != nil {
		return fmt.Errorf("read version: %w", err)
	}
	if err := channel.WriteFrame(s, &pb.Verack{AppName: appName, AppVersion: appVersion}, 256); err != nil {
		return fmt.Errorf("send verack: %w", err)
	}
	if err := channel.ReadFrame(s, &pb.Verack{}, 256); err != nil {
		return fmt.Errorf("read verack: %w", err)
	}
	return nil
}

// servePing reads the daemon's ping stream: pings are answered on ours,
// pongs are handed to the pinger.
func (w *wirePeer) servePing(s network.Stream) {
	defer s.Reset()
	for {
		var m pb.PingMessage
		if err := channel.ReadFrame(s, &m, 32); err != nil {
			return
		}
		switch b := m.Body.(type) {
		case *pb.PingMessage_Ping:
			if w.silent.Load() {
				continue
			}
			_ = w.send(s.Conn().RemotePeer(), &pb.PingMessage{Body: &pb.PingMessage_Pong{Pong: &pb.Pong{Nonce: b.Ping.GetNonce()}}})
		case *pb.PingMessage_Pong:
			select {
			case w.pongs <- b.Pong.GetNonce():
			default:
			}
		}
	}
}

// send writes m on our ping stream to p, opening it the first time.
func (w *wirePeer) send(p peer.ID, m *pb.PingMessage) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.out == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := w.h.NewStream(ctx, p, pingID)
		cancel()
		if err != nil {
			return err
		}
		w.out = s
	}
	_ = w.out.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return channel.WriteFrame(w.out, m, 32)
}

// ping sends one dnode Ping to p and waits for its Pong, at most timeout.
func (w *wirePeer) ping(p peer.ID, timeout time.Duration) (time.Duration, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	nonce := binary.LittleEndian.Uint64(b[:])
	start := time.Now()
	if err := w.send(p, &pb.PingMessage{Body: &pb.PingMessage_Ping{Ping: &pb.Ping{Nonce: nonce}}}); err != nil {
		return 0, err
	}
	tm := time.NewTimer(timeout)
	defer tm.Stop()
	for {
		select {
		case n := <-w.pongs:
			if n == nonce {
				return time.Since(start), nil
			}
		case <-tm.C:
			return 0, fmt.Errorf("no pong within %s: %w", timeout, errTimeout)
		}
	}
}

// pinger is the honest peer pinging the daemon every 300 ms (within the
// daemon's ping metering: 8 messages per heartbeat of 1 s) and recording
// the round trips.
type pinger struct {
	stop chan struct{}
	done chan struct{}

	mu    sync.Mutex
	rtts  []time.Duration
	fails []error
}

// startPinger makes w an honest peer of d and starts pinging it.
func startPinger(t *testing.T, d *daemon) *pinger {
	t.Helper()
	w := newWirePeer(t)
	if err := w.handshake(context.Background(), d.AddrInfo(), pingID); err != nil {
		t.Fatalf("honest peer: %v", err)
	}
	p := &pinger{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(300 * time.Millisecond)
		defer tick.Stop()
		for {
			rtt, err := w.ping(d.ID(), 5*time.Second)
			p.mu.Lock()
			if err != nil {
				p.fails = append(p.fails, err)
			} else {
				p.rtts = append(p.rtts, rtt)
			}
			p.mu.Unlock()
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(p.finish)
	return p
}

// finish stops pinging (idempotent) and returns the round trips and the
// failures.
func (p *pinger) finish() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

// result stops the pinger and checks that every ping was answered; it
// returns the p99 and the number of pings.
func (p *pinger) result(t testing.TB) (p99 time.Duration, n int) {
	t.Helper()
	p.finish()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.fails) > 0 {
		t.Errorf("honest peer: %d of %d pings failed, first: %v", len(p.fails), len(p.fails)+len(p.rtts), p.fails[0])
	}
	if len(p.rtts) < 3 {
		t.Errorf("honest peer: only %d pings answered", len(p.rtts))
	}
	return percentile(p.rtts, 99), len(p.rtts)
}

// banned reports whether d refuses a new channel from identity w (after
// its connection closed): the gater refuses a banned peer's connection.
func (w *wirePeer) banned(ctx context.Context, d peer.AddrInfo) bool {
	for _, c := range w.h.Network().ConnsToPeer(d.ID) {
		_ = c.Close()
	}
	return w.handshake(ctx, d, pingID) != nil
}

// writeRaw writes b on a new stream of protocol id to p and closes its
// write side; it returns the stream for the caller to drain or reset.
func (w *wirePeer) writeRaw(ctx context.Context, p peer.ID, id protocol.ID, b []byte, closeWrite bool) (network.Stream, error) {
	s, err := w.h.NewStream(ctx, p, id)
	if err != nil {
		return nil, err
	}
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.Write(b); err != nil {
		s.Reset()
		return nil, err
	}
	if closeWrite {
		_ = s.CloseWrite()
	}
	return s, nil
}

// frame returns m as one dnode frame.
func frame(m proto.Message) []byte {
	data, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return append(binary.AppendUvarint(nil, uint64(len(data))), data...)
}

// closedWithin waits until w has no connection to p, at most within.
func (w *wirePeer) closedWithin(p peer.ID, within time.Duration) error {
	deadline := time.Now().Add(within)
	for len(w.h.Network().ConnsToPeer(p)) > 0 {
		if time.Now().After(deadline) {
			return errors.New("connection still open")
		}
		poll(nil, 20*time.Millisecond)
	}
	return nil
}
