package sessions

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"

	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/protocols/version"
)

// ErrInProgress: a handshake with the peer in the same direction is
// already running.
var ErrInProgress = errors.New("handshake with peer already in progress")

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
	hs, existing, err := m.begin(ai.ID, m.host.ID())
	if err != nil {
		return existing, err
	}
	defer m.wg.Done()
	profile := m.net.Profile("")
	if len(ai.Addrs) > 0 {
		profile = m.Profile(ai.Addrs[0])
	}
	ctx, cancel := context.WithTimeout(ctx, profile.OutboundConnectTimeout)
	defer cancel()
	stop := context.AfterFunc(m.ctx, cancel)
	defer stop()
	hs.cancel = cancel

	m.host.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.TempAddrTTL)
	// Slots keep their own backoff; libp2p's per-peer dial backoff would
	// only delay a retry they already paced.
	if sw, ok := m.host.Network().(*swarm.Swarm); ok {
		sw.Backoff().Clear(ai.ID)
	}
	conn, err := m.host.Network().DialPeer(ctx, ai.ID)
	if err != nil {
		m.end(ai.ID, hs)
		return nil, fmt.Errorf("%w: %v", ErrConnect, err)
	}
	if !m.host.Conns.Acquire(conn) {
		m.end(ai.ID, hs)
		return nil, fmt.Errorf("%w: connection closed", ErrConnect)
	}
	s, rw, err := channel.OpenStream(ctx, conn, string(version.ID(m.cfg.Network)))
	if err != nil {
		m.end(ai.ID, hs)
		m.host.Conns.Release(conn)
		return nil, fmt.Errorf("%w: open version stream: %v", ErrConnect, err)
	}
	return m.setup(ctx, conn, s, rw, kind, hs)
}

// acceptHandshake is the inbound session: the responder side of the
// version handshake, for a peer that opened the version stream.
func (m *Manager) acceptHandshake(s network.Stream) {
	conn := s.Conn()
	p := conn.RemotePeer()
	hs, _, err := m.begin(p, p)
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
	hs.cancel = cancel
	if _, err := m.setup(ctx, conn, s, s, channel.Inbound, hs); err != nil {
		m.log.Debug("inbound handshake failed", "peer", p, "err", err)
	}
}

// begin admits a handshake with peer p initiated by initiator, applying
// the one-channel-per-peer rule. On success the caller must call
// m.wg.Done when the handshake is over, and m.end unless setup ran.
func (m *Manager) begin(p, initiator peer.ID) (*handshake, *channel.Channel, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopping {
		return nil, nil, ErrStopped
	}
	if ch := m.channels[p]; ch != nil {
		return nil, ch, ErrAlreadyConnected
	}
	for _, o := range m.pending[p] {
		switch {
		case o.initiator == initiator:
			return nil, nil, ErrInProgress
		case initiator < o.initiator:
			// Ours wins over the other direction's handshake.
			o.lost = true
			if o.cancel != nil {
				o.cancel()
			}
		default:
			return nil, nil, ErrDuplicate
		}
	}
	hs := &handshake{initiator: initiator}
	m.pending[p] = append(m.pending[p], hs)
	m.wg.Add(1)
	return hs, nil, nil
}

// end forgets a handshake and reports whether it lost to another one.
func (m *Manager) end(p peer.ID, hs *handshake) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.endLocked(p, hs)
}

func (m *Manager) endLocked(p peer.ID, hs *handshake) bool {
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
	return hs.lost
}

// setup creates the channel on conn (already acquired; the channel takes
// over that acquisition), attaches protocols, runs the handshake through
// s/rw and starts the channel.
func (m *Manager) setup(ctx context.Context, conn network.Conn, s network.Stream, rw io.ReadWriter, kind channel.Session, hs *handshake) (*channel.Channel, error) {
	p := conn.RemotePeer()
	profile := m.Profile(conn.RemoteMultiaddr())
	ch := channel.New(channel.Config{
		ID:           m.nextID.Add(1),
		Conn:         conn,
		Network:      m.cfg.Network,
		Session:      kind,
		FrameTimeout: profile.ChannelHandshakeTimeout,
		WriteTimeout: profile.OutboundConnectTimeout,
		Violation:    m.violation,
		Stopped:      m.stopped,
		Logger:       m.cfg.Logs.Logger("channel"),
		Clock:        m.clock,
	})
	m.mu.Lock()
	m.all[ch] = struct{}{}
	m.byConn[conn] = append(m.byConn[conn], ch)
	m.mu.Unlock()

	fail := func(err error) (*channel.Channel, error) {
		_ = s.Reset()
		lost := m.end(p, hs)
		ch.Stop(err)
		if lost {
			return nil, fmt.Errorf("%w (%w)", ErrDuplicate, err)
		}
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
	theirs, err := version.Exchange(ctx, s, rw, local, conn.RemoteMultiaddr(), profile.ChannelHandshakeTimeout, m.clock.Now())
	if err != nil {
		if errors.Is(err, version.ErrIncompatible) {
			m.log.Warn("version mismatch, closing channel", "peer", p, "session", kind, "err", err)
		}
		if errors.Is(err, version.ErrOtherNetwork) {
			m.log.Info("peer is on another network, disconnecting", "peer", p, "network", m.cfg.Network)
		}
		if (errors.Is(err, version.ErrIncompatible) || errors.Is(err, channel.ErrViolation)) && !hs.lost {
			m.violation(ch, err)
		}
		return fail(fmt.Errorf("%w: %w", ErrHandshake, err))
	}
	_ = s.Close()
	ch.SetVersion(theirs)

	m.mu.Lock()
	lost := m.endLocked(p, hs)
	existing := m.channels[p]
	if !lost && existing == nil && !m.stopping {
		m.channels[p] = ch
	}
	observers := m.observers
	m.mu.Unlock()
	switch {
	case m.Stopping():
		ch.Stop(ErrStopped)
		return nil, ErrStopped
	case lost:
		ch.Stop(ErrDuplicate)
		return nil, ErrDuplicate
	case existing != nil:
		ch.Stop(ErrAlreadyConnected)
		return existing, ErrAlreadyConnected
	}
	ch.Start()
	m.log.Info("channel established", "peer", p, "session", kind, "addr", conn.RemoteMultiaddr(),
		"app", theirs.GetAppName()+"/"+theirs.GetAppVersion())
	for _, f := range observers {
		f(ch)
	}
	if err := attached.Start(ch.Context()); err != nil {
		ch.Stop(err)
		return nil, err
	}
	return ch, nil
}

// stopped is every channel's Stopped hook: it forgets the channel and
// releases its connection.
func (m *Manager) stopped(ch *channel.Channel) {
	m.mu.Lock()
	if m.channels[ch.Peer()] == ch {
		delete(m.channels, ch.Peer())
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
	m.mu.Unlock()
	if !ch.StartTime().IsZero() {
		m.log.Info("channel closed", "peer", ch.Peer(), "session", ch.Session(), "reason", ch.Err())
	}
	m.host.Conns.Release(conn)
}
