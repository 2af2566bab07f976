package host

import (
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// ConnTracker follows every connection of the host. It counts live inbound
// connections for the inbound cap, closes inbound connections that do not
// become a channel within the handshake timeout, and closes a connection
// when its last user (a channel or a handshake in progress) releases it.
// When inbound eviction (ConnMgr.MakeRoom) frees a slot, the evicted
// peer's connections stop counting at once and the slot is reserved for
// the newcomer until the swarm reports its connection (at most the
// handshake timeout).
//
// It is safe for concurrent use. Its network.Notifiee methods never block.
type ConnTracker struct {
	log     *slog.Logger
	limit   int
	timeout time.Duration

	wg sync.WaitGroup // reaper callbacks and closes started from notifications

	mu      sync.Mutex
	closed  bool
	inbound map[network.Conn]*time.Timer // live inbound conns → reaper timer (nil once used)
	users   map[network.Conn]int         // conns with users → number of users
	// reserved: newcomers admitted by an eviction → when their slot
	// lapses if their connection is not reported first.
	reserved map[peer.ID]time.Time
	excess   uint64
}

var _ network.Notifiee = (*ConnTracker)(nil)

func newConnTracker(log *slog.Logger, inboundLimit int, handshakeTimeout time.Duration) *ConnTracker {
	return &ConnTracker{
		log:      log,
		limit:    inboundLimit,
		timeout:  handshakeTimeout,
		inbound:  make(map[network.Conn]*time.Timer),
		users:    make(map[network.Conn]int),
		reserved: make(map[peer.ID]time.Time),
	}
}

// InboundFull reports whether live inbound connections and reserved
// slots reached the cap.
func (t *ConnTracker) InboundFull() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.countLocked() >= t.limit
}

// inboundState is the inbound cap as the gater sees it for one newcomer.
type inboundState struct {
	count int  // live inbound connections plus reserved slots
	limit int  // the cap
	known bool // the newcomer holds a counted inbound connection or a reserved slot
}

// state returns the inbound cap's state for newcomer p.
func (t *ConnTracker) state(p peer.ID) inboundState {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, known := t.reserved[p]
	known = known || t.holdsLocked(p)
	return inboundState{count: t.countLocked(), limit: t.limit, known: known}
}

// countLocked returns the live inbound connections plus the reserved
// slots that have not lapsed (it drops the lapsed ones); t.mu is held.
func (t *ConnTracker) countLocked() int {
	now := time.Now()
	for p, until := range t.reserved {
		if !now.Before(until) {
			delete(t.reserved, p)
		}
	}
	return len(t.inbound) + len(t.reserved)
}

// holdsLocked reports whether p holds a counted inbound connection; t.mu
// is held.
func (t *ConnTracker) holdsLocked(p peer.ID) bool {
	for c := range t.inbound {
		if c.RemotePeer() == p {
			return true
		}
	}
	return false
}

// holders returns the peers that hold counted inbound connections:
// evicting one of them frees a slot.
func (t *ConnTracker) holders() map[peer.ID]bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[peer.ID]bool, len(t.inbound))
	for c := range t.inbound {
		out[c.RemotePeer()] = true
	}
	return out
}

// evict frees victim's inbound slots for newcomer: victim's inbound
// connections stop counting and one slot is reserved for newcomer until
// its connection is reported or the handshake timeout passes. It returns
// victim's inbound connections, which the caller closes. It changes
// nothing and returns false unless the cap is exactly reached and victim
// holds a counted connection (the state may have changed since the
// caller looked).
func (t *ConnTracker) evict(victim, newcomer peer.ID) ([]network.Conn, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || t.limit <= 0 || t.countLocked() != t.limit {
		return nil, false
	}
	var conns []network.Conn
	for c, tm := range t.inbound {
		if c.RemotePeer() != victim {
			continue
		}
		if tm != nil {
			t.stopTimer(tm)
		}
		delete(t.inbound, c)
		conns = append(conns, c)
	}
	if len(conns) == 0 {
		return nil, false
	}
	t.reserved[newcomer] = time.Now().Add(t.timeout)
	return conns, true
}

// closeAll closes conns from a goroutine the tracker waits for.
func (t *ConnTracker) closeAll(conns []network.Conn) {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		for _, c := range conns {
			_ = c.Close()
		}
	}()
}

// Limit returns the inbound cap.
func (t *ConnTracker) Limit() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.limit
}

// setLimit changes the inbound cap. Live connections above a lowered cap
// stay; newcomers are refused until the count is under it.
func (t *ConnTracker) setLimit(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.limit = n
}

// Inbound returns the number of live inbound connections.
func (t *ConnTracker) Inbound() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.inbound)
}

// Acquire registers one more user of c (a handshake or a channel). It
// returns false if c is already closed; the caller must then not use it.
// Every successful Acquire must be paired with one Release.
func (t *ConnTracker) Acquire(c network.Conn) bool {
	if c.IsClosed() {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.users[c]++
	if tm := t.inbound[c]; tm != nil {
		t.stopTimer(tm)
		t.inbound[c] = nil
	}
	return true
}

// Release drops one user of c and closes c when it was the last one.
// Closing may block briefly; call it from a goroutine that may block.
func (t *ConnTracker) Release(c network.Conn) {
	t.mu.Lock()
	n := t.users[c] - 1
	if n > 0 {
		t.users[c] = n
		t.mu.Unlock()
		return
	}
	delete(t.users, c)
	t.mu.Unlock()
	err := c.Close()
	t.log.Debug("connection closed: last user released it", "conn", c.ID(), "peer", c.RemotePeer(), "err", err)
}

// Users returns the number of users of c.
func (t *ConnTracker) Users(c network.Conn) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.users[c]
}

// close stops every reaper timer; later connections are not tracked.
func (t *ConnTracker) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for c, tm := range t.inbound {
		if tm != nil {
			t.stopTimer(tm)
		}
		delete(t.inbound, c)
	}
	clear(t.reserved)
}

// wait blocks until every goroutine the tracker started has returned.
func (t *ConnTracker) wait() { t.wg.Wait() }

// stopTimer stops a reaper timer; t.mu must be held.
func (t *ConnTracker) stopTimer(tm *time.Timer) {
	if tm.Stop() {
		t.wg.Done()
	}
}

// Connected implements network.Notifiee.
func (t *ConnTracker) Connected(_ network.Network, c network.Conn) {
	if c.Stat().Direction != network.DirInbound {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	p := c.RemotePeer()
	_, reserved := t.reserved[p]
	delete(t.reserved, p)
	if !reserved && t.countLocked() >= t.limit {
		// Raced past the gater: the cap is hard, close it at once.
		t.excess++
		t.log.Debug("inbound connection closed: inbound slots full", "peer", c.RemotePeer())
		t.closeAll([]network.Conn{c})
		return
	}
	var tm *time.Timer
	if t.users[c] == 0 {
		t.wg.Add(1)
		tm = time.AfterFunc(t.timeout, func() {
			defer t.wg.Done()
			t.reap(c)
		})
	}
	t.inbound[c] = tm
}

// reap closes an inbound connection that never got a user.
func (t *ConnTracker) reap(c network.Conn) {
	t.mu.Lock()
	tm, live := t.inbound[c]
	idle := live && tm != nil && t.users[c] == 0
	t.mu.Unlock()
	if idle {
		t.log.Debug("closing inbound connection that did not become a channel", "peer", c.RemotePeer())
		_ = c.Close()
	}
}

// Disconnected implements network.Notifiee.
func (t *ConnTracker) Disconnected(_ network.Network, c network.Conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tm, ok := t.inbound[c]; ok {
		if tm != nil {
			t.stopTimer(tm)
		}
		delete(t.inbound, c)
	}
}

// Listen implements network.Notifiee.
func (t *ConnTracker) Listen(network.Network, ma.Multiaddr) {}

// ListenClose implements network.Notifiee.
func (t *ConnTracker) ListenClose(network.Network, ma.Multiaddr) {}
