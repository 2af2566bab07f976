package sessions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"

	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/events"
	dhost "github.com/dnode-p2p/dnode/host"
	"github.com/dnode-p2p/dnode/protocols/version"
)

// Connect dials ai, runs the version handshake as initiator and returns
// the started channel of session kind kind. If a channel with the peer
// exists it returns that channel and ErrAlreadyConnected. Errors wrap
// ErrConnect (dial), ErrHandshake (version exchange), ErrDuplicate (a
// simultaneous handshake by the peer won), ErrInProgress, ErrSelf or
// ErrStopped.
func (m *Manager) Connect(ctx context.Context, ai peer.AddrInfo, kind channel.Session) (*channel.Channel, error) {
	if ai.ID == m.host.ID() {
		return nil, ErrSelf
	}
	profile := m.net.Profile("")
	if len(ai.Addrs) > 0 {
		profile = m.Profile(ai.Addrs[0])
	}
	ctx, cancel := context.WithTimeout(ctx, profile.OutboundConnectTimeout)
	defer cancel()
	stop := context.AfterFunc(m.ctx, cancel)
	defer stop()
	m.host.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.TempAddrTTL)

	ch, retry, err := m.connectOnce(ctx, ai, kind)
	if retry {
		// libp2p handed us a connection the peer opened, and the peer
		// closed it during our handshake (a refinery probe or seed sync
		// of the peer's that ended): not the peer's fault, dial again.
		ch, _, err = m.connectOnce(ctx, ai, kind)
	}
	return ch, err
}

// connectOnce is one attempt of Connect. retry reports that the handshake
// failed because a connection that already existed before the dial
// closed under it.
func (m *Manager) connectOnce(ctx context.Context, ai peer.AddrInfo, kind channel.Session) (_ *channel.Channel, retry bool, _ error) {
	hs, existing, err := m.begin(ai.ID, m.host.ID(), nil)
	if err != nil {
		return existing, false, err
	}
	defer m.wg.Done()
	// Slots keep their own backoff; libp2p's per-peer dial backoff would
	// only delay a retry they already paced.
	if sw, ok := m.host.Network().(*swarm.Swarm); ok {
		sw.Backoff().Clear(ai.ID)
	}
	reused := len(m.host.Network().ConnsToPeer(ai.ID)) > 0
	conn, err := m.host.Network().DialPeer(ctx, ai.ID)
	if err != nil {
		m.end(ai.ID, hs)
		err = fmt.Errorf("%w: %w", ErrConnect, err)
		m.cfg.Events.Publish(events.Event{Kind: events.ChannelFailed, Addr: addrString(ai), Session: kind.String(), Err: err.Error()})
		return nil, false, err
	}
	closedUnder := func() bool { return reused && conn.IsClosed() && ctx.Err() == nil }
	if !m.host.Conns.Acquire(conn) {
		m.end(ai.ID, hs)
		return nil, closedUnder(), fmt.Errorf("%w: connection closed", ErrConnect)
	}
	// libp2p may hand back a connection the peer opened, on which the
	// peer may be running its own handshake: one handshake per
	// connection, so wait for the peer's instead of starting a second.
	m.mu.Lock()
	hs.conn = conn
	m.mu.Unlock()
	if ch := m.inboundOn(ctx, conn, false); ch != nil {
		m.end(ai.ID, hs)
		m.host.Conns.Release(conn)
		return ch, false, ErrAlreadyConnected
	}
	s, rw, err := channel.OpenStream(ctx, conn, string(version.ID(m.cfg.Network)))
	if err != nil {
		m.end(ai.ID, hs)
		m.host.Conns.Release(conn)
		return nil, closedUnder(), fmt.Errorf("%w: open version stream: %w", ErrConnect, err)
	}
	// A second hold on conn keeps it open if our handshake is refused,
	// for the peer's handshake on it.
	held := m.host.Conns.Acquire(conn)
	ch, err := m.setup(ctx, conn, s, rw, kind, hs)
	if held {
		if errors.Is(err, ErrHandshake) && ai.ID < m.host.ID() && !conn.IsClosed() &&
			!errors.Is(err, version.ErrTimeout) && !errors.Is(err, version.ErrOtherNetwork) {
			// The peer may have refused ours because it started one on
			// this connection at the same moment and its ID is smaller
			// (see acceptHandshake): its handshake makes the channel.
			// Not after our own timeout or a peer of another network:
			// neither is such a refusal, and no handshake of the peer's
			// is coming.
			if in := m.inboundOn(ctx, conn, true); in != nil {
				ch, err = in, ErrAlreadyConnected
			}
		}
		m.host.Conns.Release(conn)
	}
	return ch, errors.Is(err, ErrHandshake) && closedUnder(), err
}

// inboundOn returns the peer's channel on conn if it has one or gets one
// from a handshake the peer is running on conn; it waits for such a
// handshake to end, up to the handshake timeout. With expect, it also
// waits for such a handshake to start.
func (m *Manager) inboundOn(ctx context.Context, conn network.Conn, expect bool) *channel.Channel {
	p := conn.RemotePeer()
	seen := false
	return m.settle(ctx, conn, func() (*channel.Channel, bool) {
		if ch := m.channels[p]; ch != nil && ch.Conn() == conn {
			return ch, true
		}
		for _, o := range m.pending[p] {
			if o.initiator == p && o.conn == conn {
				seen = true
				return nil, false // the peer's handshake on conn runs
			}
		}
		// None runs: done, unless we expect one that has not started.
		return nil, seen || !expect || conn.IsClosed()
	})
}

// acceptHandshake is the inbound session: the responder side of the
// version handshake, for a peer that opened the version stream.
func (m *Manager) acceptHandshake(s network.Stream) {
	conn := s.Conn()
	p := conn.RemotePeer()
	if _, err := channel.ScopeStream(s, 0); err != nil {
		m.log.Debug("refusing handshake", "peer", p, "err", err)
		_ = s.Reset()
		return
	}
	// Both sides may start a handshake on this one connection at once:
	// the one started by the smaller peer ID goes on, the other is
	// refused (its initiator then takes the channel this one makes; see
	// Connect and admit).
	hs, _, err := m.begin(p, p, conn)
	if err != nil {
		m.log.Debug("refusing handshake", "peer", p, "err", err)
		_ = s.Reset()
		return
	}
	defer m.wg.Done()
	if !m.host.Conns.Acquire(conn) {
		m.end(p, hs)
		_ = s.Reset()
		return
	}
	ctx, cancel := context.WithCancel(m.ctx)
	defer cancel()
	if _, err := m.setup(ctx, conn, s, s, channel.Inbound, hs); err != nil {
		m.log.Debug("inbound handshake failed", "peer", p, "err", err)
	}
}

// begin admits a handshake with peer p initiated by initiator on conn
// (nil until dialed), by admit's rule. On success the caller must call
// m.wg.Done when the handshake is over, and m.end unless setup ran. The
// existing channel is returned with ErrAlreadyConnected.
func (m *Manager) begin(p, initiator peer.ID, conn network.Conn) (*handshake, *channel.Channel, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := admission{self: m.host.ID(), peer: p, initiator: initiator, stopping: m.stopping, connected: m.channels[p] != nil}
	for _, o := range m.pending[p] {
		a.running = append(a.running, runningHandshake{initiator: o.initiator, sameConn: conn != nil && o.conn == conn})
	}
	if err := admit(a); err != nil {
		if errors.Is(err, ErrAlreadyConnected) {
			return nil, m.channels[p], err
		}
		return nil, nil, err
	}
	hs := &handshake{initiator: initiator, conn: conn}
	m.pending[p] = append(m.pending[p], hs)
	m.wg.Add(1)
	if conn != nil {
		m.signalLocked() // a handshake started on a connection
	}
	return hs, nil, nil
}

// initiator returns who opened ch's version stream.
func (m *Manager) initiator(ch *channel.Channel) peer.ID {
	if ch.Session() == channel.Inbound {
		return ch.Peer()
	}
	return m.host.ID()
}

// end forgets a handshake.
func (m *Manager) end(p peer.ID, hs *handshake) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.endLocked(p, hs)
}

func (m *Manager) endLocked(p peer.ID, hs *handshake) {
	m.signalLocked()
	list := m.pending[p]
	for i, o := range list {
		if o == hs {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(m.pending, p)
	} else {
		m.pending[p] = list
	}
}

// signalLocked wakes everything waiting for a handshake to change state
// (channelFor, awaitRival); m.mu must be held.
func (m *Manager) signalLocked() {
	close(m.resolved)
	m.resolved = make(chan struct{})
}

// setup creates the channel on conn (already acquired; the channel takes
// over that acquisition), attaches protocols, runs the handshake through
// s/rw and starts the channel.
func (m *Manager) setup(ctx context.Context, conn network.Conn, s network.Stream, rw io.ReadWriter, kind channel.Session, hs *handshake) (*channel.Channel, error) {
	p := conn.RemotePeer()
	profile := m.ConnProfile(conn)
	ch, ctl := channel.New(channel.Config{
		ID:           m.nextID.Add(1),
		Conn:         conn,
		Network:      m.cfg.Network,
		Session:      kind,
		FrameTimeout: profile.ChannelHandshakeTimeout,
		WriteTimeout: profile.OutboundConnectTimeout,
		Violation:    m.violation,
		Stopped:      m.stopped,
		Observer:     m.cfg.Observer,
		Logger:       m.cfg.Logs.Logger("channel"),
	})
	if kind != channel.Inbound {
		m.host.ConnMgr.Protect(p, m.protectTag(ch)) // until stopped
	}
	m.mu.Lock()
	m.all[ch] = ctl
	m.byConn[conn] = append(m.byConn[conn], ch)
	m.mu.Unlock()

	fail := func(err error) (*channel.Channel, error) {
		_ = s.Reset()
		m.end(p, hs)
		ch.Stop(err)
		return nil, err
	}
	attached, err := m.cfg.Registry.Attach(ch)
	if err != nil {
		return fail(err)
	}
	local := version.Local{
		AppName:    m.cfg.Settings.AppName,
		AppVersion: m.cfg.Settings.AppVersion,
		External:   m.ExternalAddrs(),
		Protocols:  m.Protocols(),
	}
	began := time.Now()
	theirs, err := version.Exchange(ctx, s, rw, local, conn.RemoteMultiaddr(), profile.ChannelHandshakeTimeout, began)
	if o := m.cfg.Observer; o != nil {
		o.Handshake(kind, time.Since(began), err)
	}
	if err != nil {
		if errors.Is(err, version.ErrIncompatible) {
			m.log.Warn("version mismatch, closing channel", "peer", p, "session", kind, "err", err)
		}
		if errors.Is(err, version.ErrOtherNetwork) {
			m.log.Info("peer is on another network, disconnecting", "peer", p, "network", m.cfg.Network)
		}
		if errors.Is(err, version.ErrIncompatible) || errors.Is(err, channel.ErrViolation) {
			m.violation(ch, err)
		}
		m.cfg.Events.Publish(events.Event{Kind: events.ChannelFailed, Addr: conn.RemoteMultiaddr().String(),
			Session: kind.String(), Err: err.Error()})
		return fail(fmt.Errorf("%w: %w", ErrHandshake, err))
	}
	_ = s.Close()
	ctl.SetVersion(theirs)

	ctl.Start() // before it enters the table, so its start time is set
	m.mu.Lock()
	m.endLocked(p, hs)
	stopping := m.stopping
	existing := m.channels[p]
	keep := existing == nil || keepNew(m.initiator(existing), hs.initiator)
	dead := false
	select {
	case <-ch.Stopping():
		// Its connection closed between the handshake and here: its
		// Stopped hook may already have run and found nothing to remove.
		dead = true
	default:
	}
	if keep && !stopping && !dead {
		m.channels[p] = ch
		// Under m.mu, so that a replaced channel's stopped cannot undo it.
		m.host.ConnMgr.Protect(p, dhost.ChannelTag)
	}
	observers := m.observers
	m.mu.Unlock()
	if dead {
		// %v, not %w: the channel's stop reason (ErrStopped, say) must
		// not read as the outcome of this Connect.
		return nil, fmt.Errorf("%w: %v", ErrHandshake, ch.Err())
	}
	switch {
	case stopping:
		ch.Stop(ErrStopped)
		return nil, ErrStopped
	case !keep:
		m.log.Debug("duplicate channel closed", "peer", p, "session", kind)
		ch.Stop(ErrDuplicate)
		return existing, ErrDuplicate
	case existing != nil:
		m.log.Debug("channel replaced by a newer one", "peer", p, "old", existing.Session(), "new", kind)
		existing.Stop(ErrDuplicate)
	}
	m.log.Info("channel established", "peer", p, "session", kind, "addr", conn.RemoteMultiaddr(), "conn", conn.ID(),
		"app", theirs.GetAppName()+"/"+theirs.GetAppVersion())
	m.cfg.Events.Publish(events.Event{Kind: events.ChannelCreated, ChannelID: ch.ID(),
		Addr: conn.RemoteMultiaddr().String(), Session: kind.String()})
	if kind == channel.Inbound {
		m.cfg.Events.Publish(events.Event{Kind: events.InboundConnected, ChannelID: ch.ID(), Addr: conn.RemoteMultiaddr().String()})
	}
	for _, f := range observers {
		f(ch)
	}
	if err := attached.Start(ch.Context()); err != nil {
		ch.Stop(err)
		return nil, err
	}
	if conn.Stat().Limited && m.host.NATEnabled() {
		// A direct connection may have opened during the handshake.
		m.goMoveToDirect(ch)
	}
	return ch, nil
}

// stopped is every channel's Stopped hook: it forgets the channel and
// releases its connection.
func (m *Manager) stopped(ch *channel.Channel) {
	m.mu.Lock()
	if m.channels[ch.Peer()] == ch {
		delete(m.channels, ch.Peer())
		m.host.ConnMgr.Unprotect(ch.Peer(), dhost.ChannelTag)
	}
	conn := ch.Conn()
	list := m.byConn[conn]
	for i, c := range list {
		if c == ch {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(m.byConn, conn)
	} else {
		m.byConn[conn] = list
	}
	delete(m.all, ch)
	left := len(m.channels)
	m.mu.Unlock()
	if ch.Session() != channel.Inbound {
		m.host.ConnMgr.Unprotect(ch.Peer(), m.protectTag(ch))
	}
	if !ch.StartTime().IsZero() {
		m.log.Info("channel closed", "peer", ch.Peer(), "session", ch.Session(), "conn", conn.ID(), "reason", ch.Err(), "kind", channel.KindOf(ch.Err()))
		addr := ch.RemoteAddr().String()
		m.cfg.Events.Publish(events.Event{Kind: events.ChannelStopped, ChannelID: ch.ID(), Addr: addr,
			Session: ch.Session().String(), Err: errString(ch.Err())})
		if ch.Session() == channel.Inbound {
			m.cfg.Events.Publish(events.Event{Kind: events.InboundDisconnected, ChannelID: ch.ID(), Addr: addr})
		}
		if left == 0 && !m.Stopping() {
			m.cfg.Events.Publish(events.Event{Kind: events.NoPeers})
		}
	}
	m.host.Conns.Release(conn)
}

func addrString(ai peer.AddrInfo) string {
	if len(ai.Addrs) == 0 {
		return ai.ID.String()
	}
	return ai.Addrs[0].String() + "/p2p/" + ai.ID.String()
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
