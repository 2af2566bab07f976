package chaos_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/protocols/pb"
	"github.com/dnode-p2p/dnode/protocols/ping"
	"github.com/dnode-p2p/dnode/protocols/version"
)

// The victim's protocol IDs (network "test").
var (
	versionID = version.ID("test")
	pingID    = protocol.ID("/dnode/test/ping/1.0.0")
	addrID    = protocol.ID("/dnode/test/addr/1.0.0")
	relayID   = protocol.ID("/dnode/test/relay/1.0.0")
)

// plainHost is a go-libp2p host that is not a dnode: the hostile peer,
// or the honest prober. It is closed at cleanup (closing twice is safe).
func plainHost(t testing.TB) host.Host {
	t.Helper()
	h := newPlainHost(t)
	t.Cleanup(func() { h.Close() })
	return h
}

func newPlainHost(t testing.TB) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay(),
		libp2p.DisableMetrics(), libp2p.ResourceManager(&network.NullResourceManager{}))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// crowd owns many attacker hosts. Unlike plainHost it keeps no reference
// once closed, so that closed hosts do not count in the test's heap.
type crowd struct {
	mu sync.Mutex
	hs []host.Host
}

// newCrowd returns a crowd closed at cleanup.
func newCrowd(t testing.TB) *crowd {
	c := &crowd{}
	t.Cleanup(c.close)
	return c
}

func (c *crowd) add(h host.Host) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hs = append(c.hs, h)
}

// close closes every host and forgets them.
func (c *crowd) close() {
	c.mu.Lock()
	hs := c.hs
	c.hs = nil
	c.mu.Unlock()
	for _, h := range hs {
		h.Close()
	}
}

// connect dials the victim from h.
func connect(ctx context.Context, h host.Host, v *dnode.Node) error {
	return h.Connect(ctx, peer.AddrInfo{ID: v.ID(), Addrs: nodeinternal.Host(v).Addrs()})
}

// handshake connects h to the victim and completes the version
// handshake, announcing protos (nil: every protocol).
func handshake(ctx context.Context, h host.Host, v *dnode.Node, protos []string) error {
	if err := connect(ctx, h, v); err != nil {
		return err
	}
	s, err := h.NewStream(ctx, v.ID(), versionID)
	if err != nil {
		return err
	}
	local := version.Local{AppName: "dnode", AppVersion: dnode.Version, Protocols: protos}
	if _, err := version.Exchange(ctx, s, s, local, nil, 5*time.Second, time.Now()); err != nil {
		s.Reset()
		return fmt.Errorf("handshake: %w", err)
	}
	return s.Close()
}

// hasChannel reports whether the victim has a channel with p.
func hasChannel(v *dnode.Node, p peer.ID) bool {
	return slices.ContainsFunc(v.Channels(), func(ch *channel.Channel) bool { return ch.Peer() == p })
}

// rttStats are the round trips of the honest prober's pings.
type rttStats struct {
	samples []time.Duration
	failed  int
}

func (r *rttStats) String() string {
	if r == nil {
		return "-"
	}
	if len(r.samples) == 0 {
		return fmt.Sprintf("no samples, %d failed", r.failed)
	}
	s := slices.Clone(r.samples)
	slices.Sort(s)
	q := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return fmt.Sprintf("%d round trips, p50 %s, p99 %s, max %s, %d failed",
		len(s), q(0.5).Round(10*time.Microsecond), q(0.99).Round(10*time.Microsecond),
		s[len(s)-1].Round(10*time.Microsecond), r.failed)
}

// prober is an honest peer on plain go-libp2p: it holds a channel with
// the victim (version and ping only), answers the victim's pings and
// measures the round trip of its own dnode pings.
type prober struct {
	t     testing.TB
	h     host.Host
	v     *dnode.Node
	out   network.Stream
	outMu sync.Mutex

	mu      sync.Mutex
	pending map[uint64]chan struct{}
}

// proberInterval keeps the prober under the ping metering (8 messages per
// 500 ms heartbeat window, its pongs included).
const proberInterval = 150 * time.Millisecond

// proberTimeout is how long a ping may go unanswered before it counts as
// failed: the victim's own pong timeout (connect timeout) in the tests.
const proberTimeout = 3 * time.Second

func newProber(t testing.TB, v *dnode.Node) *prober {
	t.Helper()
	p := &prober{t: t, h: plainHost(t), v: v, pending: map[uint64]chan struct{}{}}
	ready := make(chan struct{})
	p.h.SetStreamHandler(pingID, func(s network.Stream) {
		defer s.Reset()
		<-ready
		br := bufio.NewReader(s)
		for {
			var m pb.PingMessage
			if err := channel.ReadFrame(br, &m, ping.MaxBytes); err != nil {
				return
			}
			switch {
			case m.GetPing() != nil:
				p.write(&pb.PingMessage{Body: &pb.PingMessage_Pong{Pong: &pb.Pong{Nonce: m.GetPing().GetNonce()}}})
			case m.GetPong() != nil:
				p.mu.Lock()
				if c, ok := p.pending[m.GetPong().GetNonce()]; ok {
					close(c)
					delete(p.pending, m.GetPong().GetNonce())
				}
				p.mu.Unlock()
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := handshake(ctx, p.h, v, []string{string(versionID), string(pingID)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() error {
		if !hasChannel(v, p.h.ID()) {
			return errors.New("the prober has no channel yet")
		}
		return nil
	})
	out, err := p.h.NewStream(ctx, v.ID(), pingID)
	if err != nil {
		t.Fatal(err)
	}
	p.out = out
	close(ready)
	return p
}

func (p *prober) write(m *pb.PingMessage) {
	p.outMu.Lock()
	defer p.outMu.Unlock()
	_ = p.out.SetWriteDeadline(time.Now().Add(proberTimeout))
	_ = channel.WriteFrame(p.out, m, ping.MaxBytes)
}

// one sends a ping and waits for its pong; ok is false past proberTimeout.
func (p *prober) one() (time.Duration, bool) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	nonce := binary.LittleEndian.Uint64(b[:])
	c := make(chan struct{})
	p.mu.Lock()
	p.pending[nonce] = c
	p.mu.Unlock()
	began := time.Now()
	p.write(&pb.PingMessage{Body: &pb.PingMessage_Ping{Ping: &pb.Ping{Nonce: nonce}}})
	select {
	case <-c:
		return time.Since(began), true
	case <-time.After(proberTimeout):
		p.mu.Lock()
		delete(p.pending, nonce)
		p.mu.Unlock()
		return 0, false
	}
}

// run pings every proberInterval until stop is closed and returns the
// round trips.
func (p *prober) run(stop <-chan struct{}) *rttStats {
	st := &rttStats{}
	tick := time.NewTicker(proberInterval)
	defer tick.Stop()
	for {
		d, ok := p.one()
		if ok {
			st.samples = append(st.samples, d)
		} else {
			st.failed++
		}
		select {
		case <-stop:
			return st
		case <-tick.C:
		}
	}
}

// during runs attack while the prober pings, and returns the round trips.
func (p *prober) during(attack func()) *rttStats {
	stop := make(chan struct{})
	res := make(chan *rttStats, 1)
	go func() { res <- p.run(stop) }()
	attack()
	close(stop)
	return <-res
}

// check fails the test if the prober lost its channel, was banned or a
// ping went unanswered.
func (p *prober) check(t testing.TB, st *rttStats) {
	t.Helper()
	if st.failed > 0 || len(st.samples) == 0 {
		t.Errorf("honest pings: %v", st)
	}
	if !hasChannel(p.v, p.h.ID()) {
		t.Error("the honest prober lost its channel")
	}
	if nodeinternal.Host(p.v).Gater.Banned(p.h.ID(), nil) {
		t.Error("the honest prober was banned")
	}
}

// close closes the prober's host.
func (p *prober) close() { _ = p.h.Close() }

var _ = io.EOF
