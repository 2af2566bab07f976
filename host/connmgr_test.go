package host

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	basic "github.com/libp2p/go-libp2p/p2p/net/connmgr"
	ma "github.com/multiformats/go-multiaddr"
)

// evictConn is the part of a network.Conn the tracker and the manager use.
type evictConn struct {
	network.Conn
	p      peer.ID
	n      int
	closed atomic.Bool
}

func (c *evictConn) RemotePeer() peer.ID           { return c.p }
func (c *evictConn) ID() string                    { return fmt.Sprintf("%s-%d", c.p, c.n) }
func (c *evictConn) IsClosed() bool                { return c.closed.Load() }
func (c *evictConn) Close() error                  { c.closed.Store(true); return nil }
func (c *evictConn) RemoteMultiaddr() ma.Multiaddr { return ma.StringCast("/ip4/10.0.0.1/tcp/1") }
func (c *evictConn) Stat() network.ConnStats {
	return network.ConnStats{Stats: network.Stats{Direction: network.DirInbound}}
}

// fakeSource lists a fixed set of inbound channels and records evictions.
type fakeSource struct {
	mu      sync.Mutex
	cands   []Candidate
	evicted []peer.ID
}

func (s *fakeSource) InboundCandidates() []Candidate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.cands)
}

func (s *fakeSource) Evict(p peer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evicted = append(s.evicted, p)
}

func (s *fakeSource) add(p peer.ID, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cands = append(s.cands, Candidate{Peer: p, Addr: ma.StringCast("/ip4/10.0.0.1/tcp/1"), Connected: at})
}

func (s *fakeSource) evictions() []peer.ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.evicted)
}

type evictRig struct {
	now     time.Time // the next channel's start: a minute after the last
	tracker *ConnTracker
	cm      *ConnMgr
	src     *fakeSource
}

func newEvictRig(t *testing.T, limit int) *evictRig {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	tracker := newConnTracker(log, limit, 10*time.Second)
	base, err := basic.NewConnManager(10, 20)
	if err != nil {
		t.Fatal(err)
	}
	cm := newConnMgr(base, tracker, log)
	src := &fakeSource{}
	cm.AddSource(src)
	t.Cleanup(func() {
		tracker.close()
		tracker.wait()
		_ = cm.Close()
	})
	return &evictRig{now: time.Now(), tracker: tracker, cm: cm, src: src}
}

// connect reports an inbound connection from p that became a channel.
func (r *evictRig) connect(p peer.ID) *evictConn {
	c := &evictConn{p: p}
	r.tracker.Connected(nil, c)
	r.tracker.Acquire(c)
	r.src.add(p, r.now)
	r.now = r.now.Add(time.Minute)
	return c
}

// MakeRoom evicts SelectVictim's choice among the peers that hold a
// counted inbound connection, closes its connection, reserves its slot
// for the newcomer, and respects Protect; it evicts nothing when the cap
// is no longer exactly reached.
func TestMakeRoom(t *testing.T) {
	r := newEvictRig(t, 3)
	a, b, c, n1, n2 := peer.ID("a"), peer.ID("b"), peer.ID("c"), peer.ID("n1"), peer.ID("n2")
	r.connect(a)
	r.connect(b)
	cc := r.connect(c)
	if !r.tracker.InboundFull() {
		t.Fatal("cap not reached with 3 of 3")
	}
	// One netgroup: a is its oldest (kept), b the older half of b, c.
	if !r.cm.MakeRoom(n1) {
		t.Fatal("no eviction for a newcomer at the cap")
	}
	if got := r.src.evictions(); !slices.Equal(got, []peer.ID{c}) {
		t.Fatalf("evicted %v, want [c]", got)
	}
	eventually(t, 5*time.Second, func() error {
		if !cc.IsClosed() {
			return fmt.Errorf("the victim's connection is open")
		}
		return nil
	})
	if n := r.tracker.Inbound(); n != 2 {
		t.Fatalf("%d counted inbound connections after the eviction, want 2", n)
	}
	if st := r.tracker.state(n1); !st.known || st.count != 3 {
		t.Fatalf("newcomer's slot not reserved: %+v", st)
	}
	// Another peer's connection that raced past the gater does not take
	// the newcomer's slot.
	xc := &evictConn{p: "x"}
	r.tracker.Connected(nil, xc)
	eventually(t, 5*time.Second, func() error {
		if !xc.IsClosed() {
			return fmt.Errorf("a connection took the slot reserved for the newcomer")
		}
		return nil
	})
	// The newcomer's connection takes the reserved slot: not closed as
	// excess.
	nc := &evictConn{p: n1}
	r.tracker.Connected(nil, nc)
	if nc.IsClosed() || r.tracker.Inbound() != 3 {
		t.Fatalf("newcomer's connection refused (closed %v, inbound %d)", nc.IsClosed(), r.tracker.Inbound())
	}
	r.tracker.Acquire(nc)
	if got := r.cm.Evictions(); got != 1 {
		t.Fatalf("Evictions = %d, want 1", got)
	}

	// c no longer holds a counted connection: though the source still
	// lists it, it is no candidate. Protect b: a (netgroup) and b kept,
	// n1 has no channel yet in the source: nothing to evict.
	r.cm.Protect(b, "manual")
	if r.cm.MakeRoom(n2) {
		t.Fatalf("evicted %v though every candidate is protected", r.src.evictions())
	}
	for _, cand := range r.cm.Candidates() {
		if cand.Peer == c {
			t.Fatal("a peer without a counted inbound connection is a candidate")
		}
		if cand.Peer == b && !cand.Protected {
			t.Fatal("Protect does not protect from eviction")
		}
	}
	r.cm.Unprotect(b, "manual")

	// Above the cap (it was lowered): no eviction.
	r.tracker.mu.Lock()
	r.tracker.limit = 2
	r.tracker.mu.Unlock()
	if r.cm.MakeRoom(n2) {
		t.Fatal("evicted while live inbound exceeds the cap")
	}
	if got := len(r.src.evictions()); got != 1 {
		t.Fatalf("%d evictions, want 1", got)
	}
}

// A reserved slot lapses after the handshake timeout if the newcomer's
// connection never arrives; the cap 0 never evicts.
func TestEvictReservationLapses(t *testing.T) {
	synctest.Test(t, testEvictReservationLapses)
}

func testEvictReservationLapses(t *testing.T) {
	r := newEvictRig(t, 2)
	r.connect("a")
	r.connect("b")
	if !r.cm.MakeRoom("n") {
		t.Fatal("no eviction")
	}
	if !r.tracker.InboundFull() {
		t.Fatal("reserved slot not counted")
	}
	time.Sleep(10 * time.Second) // virtual time: the handshake timeout
	if r.tracker.InboundFull() {
		t.Fatal("reserved slot did not lapse")
	}

	zero := newEvictRig(t, 0)
	zero.src.add("x", zero.now)
	if zero.cm.MakeRoom("n") {
		t.Fatal("evicted with inbound_connections = 0")
	}
}

func TestEvictable(t *testing.T) {
	in, out := network.DirInbound, network.DirOutbound
	full := Admission{Dir: in, InboundFull: true, Inbound: 3, Limit: 3}
	for _, tc := range []struct {
		name string
		a    Admission
		want bool
	}{
		{"full: evict", full, true},
		{"not full: admitted without eviction", Admission{Dir: in, Inbound: 2, Limit: 3}, false},
		{"cap 0", Admission{Dir: in, InboundFull: true, Inbound: 0, Limit: 0}, false},
		{"live inbound above the cap", Admission{Dir: in, InboundFull: true, Inbound: 4, Limit: 3}, false},
		{"a connected peer's second connection", Admission{Dir: in, InboundFull: true, Inbound: 3, Limit: 3, Connected: true}, false},
		{"banned", Admission{Dir: in, Banned: true, InboundFull: true, Inbound: 3, Limit: 3}, false},
		{"blacklisted", Admission{Dir: in, Blacklisted: true, InboundFull: true, Inbound: 3, Limit: 3}, false},
		{"outbound", Admission{Dir: out, InboundFull: true, Inbound: 3, Limit: 3}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Evictable(tc.a); got != tc.want {
				t.Fatalf("Evictable = %v, want %v", got, tc.want)
			}
		})
	}
}

// hostSource lists every peer with an inbound connection to h as a
// channel, connected at seen[p] (now if unset).
type hostSource struct {
	h *Host
	fakeSource
	seen map[peer.ID]time.Time
}

func (s *hostSource) InboundCandidates() []Candidate {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Candidate
	for _, c := range s.h.Network().Conns() {
		if c.Stat().Direction != network.DirInbound {
			continue
		}
		p := c.RemotePeer()
		at, ok := s.seen[p]
		if !ok {
			at = time.Now()
		}
		out = append(out, Candidate{Peer: p, Addr: c.RemoteMultiaddr(), Connected: at})
	}
	return out
}

// Through the gater on real connections: at the cap a newcomer evicts
// one inbound peer and is admitted; a second connection of a connected
// peer is refused without evicting anyone.
func TestGaterEvictsForNewcomer(t *testing.T) {
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{Identity: key, Listen: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")},
		InboundLimit: 2, OutboundLimit: 2, HandshakeTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	src := &hostSource{h: h, seen: make(map[peer.ID]time.Time)}
	h.ConnMgr.AddSource(src)
	ai := peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// dialAs connects a new host with identity k, returning its error.
	dialAs := func(k crypto.PrivKey) (network.Network, error) {
		c, err := libp2p.New(libp2p.Identity(k), libp2p.NoListenAddrs, libp2p.DisableRelay(), libp2p.DisableMetrics())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c.Network(), c.Connect(ctx, ai)
	}
	newKey := func() crypto.PrivKey {
		k, _, err := crypto.GenerateEd25519Key(nil)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	dial := func(k crypto.PrivKey) network.Network {
		n, err := dialAs(k)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		return n
	}
	inboundFrom := func(p peer.ID) int {
		n := 0
		for _, c := range h.Network().ConnsToPeer(p) {
			if c.Stat().Direction == network.DirInbound {
				n++
			}
		}
		return n
	}
	first, second := dial(newKey()), dial(newKey())
	eventually(t, 5*time.Second, func() error {
		if n := h.Conns.Inbound(); n != 2 {
			return fmt.Errorf("%d inbound, want 2", n)
		}
		return nil
	})
	src.mu.Lock()
	src.seen[first.LocalPeer()] = time.Now().Add(-time.Hour)
	src.seen[second.LocalPeer()] = time.Now().Add(-time.Minute)
	src.mu.Unlock()
	newcomerKey := newKey()
	newcomer := dial(newcomerKey)
	// first is its netgroup's oldest (kept), second the one left.
	eventually(t, 5*time.Second, func() error {
		if inboundFrom(second.LocalPeer()) != 0 {
			return fmt.Errorf("the victim is still connected")
		}
		if inboundFrom(newcomer.LocalPeer()) != 1 {
			return fmt.Errorf("the newcomer is not connected")
		}
		return nil
	})
	if inboundFrom(first.LocalPeer()) != 1 {
		t.Fatal("the protected (oldest) peer was disconnected")
	}
	if got := h.ConnMgr.Evictions(); got != 1 {
		t.Fatalf("Evictions = %d, want 1", got)
	}
	// A second connection of the connected newcomer (a second host with
	// its identity).
	refused := h.Gater.RefusedInbound()
	_, _ = dialAs(newcomerKey) // the dialer may only notice later
	eventually(t, 5*time.Second, func() error {
		if h.Gater.RefusedInbound() == refused {
			return fmt.Errorf("second connection not refused")
		}
		return nil
	})
	if got := h.ConnMgr.Evictions(); got != 1 || inboundFrom(first.LocalPeer()) != 1 {
		t.Fatalf("a second connection evicted someone: %d evictions", got)
	}
}

// eventually polls cond until it returns nil or timeout passes
// (testnet.Eventually, which this package cannot import: testnet imports
// dnode, which imports host).
func eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
