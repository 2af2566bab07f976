package host

import (
	"errors"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	basic "github.com/libp2p/go-libp2p/p2p/net/connmgr"

	"github.com/dnode-p2p/dnode/addrbook"
)

// ErrEvicted is why an inbound channel was stopped by inbound eviction:
// the inbound slots were full and a newcomer took its slot.
var ErrEvicted = errors.New("evicted: inbound slots full, slot given to a newcomer")

// maxUseful bounds the peers ConnMgr remembers a useful delivery for.
const maxUseful = 4096

// EvictionSource is one network's view of its inbound channels, for
// inbound eviction; sessions.Manager is one. Its methods must not block
// and must not call the ConnMgr's MakeRoom.
type EvictionSource interface {
	// InboundCandidates returns one Candidate per started inbound
	// channel, with Peer, Addr, RTT and Connected set, and Protected for
	// a peer that must never be evicted (a seed, a peer with a handshake
	// in progress).
	InboundCandidates() []Candidate
	// Evict stops peer p's inbound channel, if any, with a stop reason
	// wrapping ErrEvicted.
	Evict(p peer.ID)
}

// ConnMgr is the host's libp2p connection manager: libp2p's
// BasicConnMgr (tags, protection, trimming above the high-water mark, a
// safety net beyond dnode's own slots) plus inbound eviction. When the
// inbound cap is reached, the gater calls MakeRoom for a newcomer: it
// gathers the inbound channels of every EvictionSource, marks protected
// those the connection manager protects (Protect: manual peers, seeds,
// outbound channels, anything an application protects), chooses a victim
// with SelectVictim, stops its channel with ErrEvicted, closes its
// connections, and lets the newcomer in.
//
// It is safe for concurrent use. MakeRoom calls are serialised; none of
// its methods wait on the network.
type ConnMgr struct {
	*basic.BasicConnMgr
	log      *slog.Logger
	conns    *ConnTracker
	key      maphash.Seed
	network  atomic.Pointer[network.Network] // set once the host exists
	notifiee *network.NotifyBundle

	evictions atomic.Uint64

	evictMu sync.Mutex // serialises MakeRoom

	mu      sync.Mutex
	sources map[*EvictionSource]struct{}
	useful  map[peer.ID]time.Time // peer → its last useful delivery
	// tags are each peer's protection tags other than ChannelTag: those
	// exempt it from eviction. ChannelTag only keeps a channel from
	// libp2p's trimming (every channel has it), so it does not.
	tags map[peer.ID]map[string]struct{}
}

var _ connmgr.ConnManager = (*ConnMgr)(nil)

func newConnMgr(base *basic.BasicConnMgr, conns *ConnTracker, log *slog.Logger) *ConnMgr {
	m := &ConnMgr{
		BasicConnMgr: base,
		log:          log,
		conns:        conns,
		key:          maphash.MakeSeed(),
		sources:      make(map[*EvictionSource]struct{}),
		useful:       make(map[peer.ID]time.Time),
		tags:         make(map[peer.ID]map[string]struct{}),
	}
	n := base.Notifee()
	m.notifiee = &network.NotifyBundle{
		ListenF:      n.Listen,
		ListenCloseF: n.ListenClose,
		ConnectedF:   n.Connected,
		DisconnectedF: func(nw network.Network, c network.Conn) {
			n.Disconnected(nw, c)
			m.forget(nw, c.RemotePeer())
		},
	}
	return m
}

// setNetwork gives the manager the host's network, for Connected.
// Protect implements connmgr.ConnManager: it protects p under tag from
// trimming and, unless tag is ChannelTag, from eviction.
func (m *ConnMgr) Protect(p peer.ID, tag string) {
	m.BasicConnMgr.Protect(p, tag)
	if tag == ChannelTag {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tags[p]
	if t == nil {
		t = make(map[string]struct{})
		m.tags[p] = t
	}
	t[tag] = struct{}{}
}

// Unprotect implements connmgr.ConnManager; it reports whether p is still
// protected under any tag.
func (m *ConnMgr) Unprotect(p peer.ID, tag string) bool {
	if tag != ChannelTag {
		m.mu.Lock()
		if t := m.tags[p]; t != nil {
			delete(t, tag)
			if len(t) == 0 {
				delete(m.tags, p)
			}
		}
		m.mu.Unlock()
	}
	return m.BasicConnMgr.Unprotect(p, tag)
}

// EvictionProtected reports whether p holds a protection other than
// ChannelTag, which exempts it from eviction. Safe for concurrent use.
func (m *ConnMgr) EvictionProtected(p peer.ID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.tags[p]) > 0
}

func (m *ConnMgr) setNetwork(n network.Network) { m.network.Store(&n) }

// Notifee implements connmgr.ConnManager: BasicConnMgr's notifiee, which
// also forgets the useful deliveries of a peer that disconnected.
func (m *ConnMgr) Notifee() network.Notifiee { return m.notifiee }

// AddSource adds s to the sources of eviction candidates; the returned
// function removes it (idempotent).
func (m *ConnMgr) AddSource(s EvictionSource) (remove func()) {
	key := &s
	m.mu.Lock()
	m.sources[key] = struct{}{}
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		delete(m.sources, key)
		m.mu.Unlock()
	}
}

// sourceList returns the sources.
func (m *ConnMgr) sourceList() []EvictionSource {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]EvictionSource, 0, len(m.sources))
	for s := range m.sources {
		out = append(out, *s)
	}
	return out
}

// TagUseful records that peer p just delivered a relay message new to
// us: the ProtectUseful class of eviction keeps the peers that did so
// most recently. It never blocks.
func (m *ConnMgr) TagUseful(p peer.ID) {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.useful[p]; !ok && len(m.useful) >= maxUseful {
		m.sweepUsefulLocked()
		if len(m.useful) >= maxUseful {
			return
		}
	}
	m.useful[p] = now
}

// sweepUsefulLocked forgets the peers without a connection; m.mu is held.
func (m *ConnMgr) sweepUsefulLocked() {
	n := m.network.Load()
	if n == nil {
		return
	}
	for p := range m.useful {
		if len((*n).ConnsToPeer(p)) == 0 {
			delete(m.useful, p)
		}
	}
}

// forget drops p's useful delivery once p has no connection left.
func (m *ConnMgr) forget(n network.Network, p peer.ID) {
	if len(n.ConnsToPeer(p)) > 0 {
		return
	}
	m.mu.Lock()
	delete(m.useful, p)
	m.mu.Unlock()
}

// Evictions returns how many inbound peers were evicted.
func (m *ConnMgr) Evictions() uint64 { return m.evictions.Load() }

// Connected reports whether p has a connection with us.
func (m *ConnMgr) Connected(p peer.ID) bool {
	n := m.network.Load()
	return n != nil && len((*n).ConnsToPeer(p)) > 0
}

// Candidates returns the eviction candidates as MakeRoom would see them
// now: one per peer that has a started inbound channel and holds a
// counted inbound connection, merged over the sources (protected if any
// source or the connection manager protects it, the lowest RTT, the
// earliest start), with Netgroup and LastUseful filled in.
func (m *ConnMgr) Candidates() []Candidate {
	sources := m.sourceList()
	holders := m.conns.holders()
	byPeer := make(map[peer.ID]*Candidate)
	var order []peer.ID
	for _, s := range sources {
		for _, c := range s.InboundCandidates() {
			if !holders[c.Peer] {
				continue // evicting it would free no slot
			}
			have := byPeer[c.Peer]
			if have == nil {
				c := c
				byPeer[c.Peer] = &c
				order = append(order, c.Peer)
				continue
			}
			have.Protected = have.Protected || c.Protected
			if c.RTT > 0 && (have.RTT == 0 || c.RTT < have.RTT) {
				have.RTT = c.RTT
			}
			if c.Connected.Before(have.Connected) {
				have.Connected = c.Connected
			}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Candidate, 0, len(order))
	for _, p := range order {
		c := byPeer[p]
		c.Netgroup = maphash.String(m.key, addrbook.Netgroup(c.Addr))
		c.LastUseful = m.useful[p]
		c.Protected = c.Protected || len(m.tags[p]) > 0
		out = append(out, *c)
	}
	return out
}

// MakeRoom evicts one inbound peer so that newcomer can take its slot,
// and reports whether it did. The gater calls it for an inbound
// connection that the cap would refuse and that Evictable allows. The
// victim is SelectVictim's choice among Candidates; its channels are
// stopped with ErrEvicted and its inbound connections closed, and its
// slot is reserved for newcomer. Nothing is evicted when no candidate is
// left after the protected classes, or when the cap is no longer exactly
// reached.
func (m *ConnMgr) MakeRoom(newcomer peer.ID) bool {
	m.evictMu.Lock()
	defer m.evictMu.Unlock()
	cands := m.Candidates()
	victim, ok := SelectVictim(cands)
	if !ok {
		m.log.Debug("inbound slots full and no peer to evict: newcomer refused", "newcomer", newcomer, "candidates", len(cands))
		return false
	}
	conns, ok := m.conns.evict(victim, newcomer)
	if !ok {
		return false
	}
	sources := m.sourceList()
	for _, s := range sources {
		s.Evict(victim)
	}
	m.conns.closeAll(conns)
	m.evictions.Add(1)
	for _, c := range cands {
		if c.Peer == victim {
			m.log.Info("inbound peer evicted: slot given to a newcomer", "peer", victim, "addr", c.Addr,
				"netgroup", addrbook.Netgroup(c.Addr), "rtt", c.RTT, "connected_for", time.Since(c.Connected).Round(time.Second),
				"newcomer", newcomer, "candidates", len(cands))
		}
	}
	return true
}
