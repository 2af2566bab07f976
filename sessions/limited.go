package sessions

import (
	"errors"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dnode-p2p/dnode/channel"
)

// Channels over relayed connections. A relayed (circuit v2) connection
// is "limited": libp2p refuses streams on it unless asked
// (channel.OpenStream asks when, and only when, the connection is
// limited), and the relay cuts it after its limits. When hole punching
// (DCUtR) opens a direct connection to the peer, the side that opened the
// channel moves it there: it handshakes again on the direct connection
// (libp2p hands out the direct connection before a limited one), and
// the new channel replaces the relayed one on both sides (the pair rule:
// same initiator, the new channel wins). If that handshake fails the
// relayed channel stays. None of this runs without NAT traversal: a LAN
// host has no limited connections.

// ErrMovedDirect is the stop reason of a channel on a relayed connection
// that was replaced by one on a direct connection to the same peer (on
// the side that moved it; the peer's side stops as a duplicate, and the
// mover's may see ErrConnClosed first when the peer closes the relayed
// connection before the mover stops it).
var ErrMovedDirect = channel.Because(channel.StopDuplicate, errors.New("moved to a direct connection"))

// connected is the network notification of a new connection (installed
// only on a host with NAT traversal): a direct connection to a peer
// whose channel is relayed moves the channel.
func (m *Manager) connected(_ network.Network, c network.Conn) {
	if c.Stat().Limited {
		return
	}
	m.mu.Lock()
	ch := m.channels[c.RemotePeer()]
	m.mu.Unlock()
	if ch != nil && ch.Conn().Stat().Limited {
		m.goMoveToDirect(ch)
	}
}

// hasDirect reports whether a connection to p that is not limited is
// open.
func (m *Manager) hasDirect(p peer.ID) bool {
	for _, c := range m.host.Network().ConnsToPeer(p) {
		if !c.Stat().Limited && !c.IsClosed() {
			return true
		}
	}
	return false
}

// goMoveToDirect runs moveToDirect on its own goroutine, counted in m.wg
// (not after Stop began).
func (m *Manager) goMoveToDirect(ch *channel.Channel) {
	m.mu.Lock()
	if m.stopping {
		m.mu.Unlock()
		return
	}
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		m.moveToDirect(ch)
	}()
}

// moveToDirect re-establishes ch, which runs on a limited connection, on
// a direct connection to its peer, if one is open and we opened ch (the
// peer moves the channels it opened). It takes ch out of the channel
// table for the new handshake, so that admission lets it run, and puts it
// back if the handshake fails.
func (m *Manager) moveToDirect(ch *channel.Channel) {
	p := ch.Peer()
	if ch.Session() == channel.Inbound || !ch.Conn().Stat().Limited || !m.hasDirect(p) {
		return
	}
	m.mu.Lock()
	if m.channels[p] != ch || m.stopping {
		m.mu.Unlock()
		return // already moved, replaced or stopping
	}
	delete(m.channels, p)
	m.mu.Unlock()

	m.log.Debug("moving relayed channel to a direct connection", "peer", p, "session", ch.Session())
	ai := peer.AddrInfo{ID: p, Addrs: m.host.Peerstore().Addrs(p)}
	nch, err := m.Connect(m.ctx, ai, ch.Session())
	if err == nil {
		// The new channel took ch's place in the table.
		m.log.Info("channel moved to a direct connection", "peer", p, "addr", nch.RemoteAddr(),
			"limited", nch.Conn().Stat().Limited)
		ch.Stop(ErrMovedDirect)
		return
	}
	m.mu.Lock()
	restore := m.channels[p] == nil && !m.stopping
	if restore {
		select {
		case <-ch.Stopping():
			restore = false
		default:
			m.channels[p] = ch
		}
	}
	m.mu.Unlock()
	m.log.Debug("relayed channel not moved", "peer", p, "err", err, "restored", restore)
}
