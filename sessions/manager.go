package sessions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/events"
	dhost "github.com/dnode-p2p/dnode/host"
	"github.com/dnode-p2p/dnode/internal/lifecycle"
	"github.com/dnode-p2p/dnode/internal/logging"
	"github.com/dnode-p2p/dnode/protocols"
	"github.com/dnode-p2p/dnode/protocols/version"
	"github.com/dnode-p2p/dnode/settings"
)

// Errors returned by the Manager.
var (
	// ErrStopped: the manager is stopped or stopping. It is
	// channel.ErrStopped (one sentinel: errors.Is matches either name), of
	// kind channel.StopLocal as a channel's stop reason.
	ErrStopped = channel.ErrStopped
	// ErrAlreadyConnected: a channel with the peer exists; Connect returns
	// it along with this error.
	ErrAlreadyConnected = errors.New("already connected to peer")
	// ErrDuplicate: a simultaneous handshake initiated by the peer won;
	// the stop reason (channel.StopDuplicate) of the losing channel.
	ErrDuplicate = channel.Because(channel.StopDuplicate, errors.New("duplicate channel: the peer's handshake won"))
	// ErrSelf: the address is our own.
	ErrSelf = errors.New("cannot connect to self")
	// ErrConnect: the peer could not be dialed.
	ErrConnect = errors.New("dial failed")
	// ErrHandshake: the version handshake failed.
	ErrHandshake = errors.New("handshake failed")
)

// Config says how to build a Manager.
type Config struct {
	Host     *dhost.Host
	Network  string
	Settings settings.Settings
	Registry *protocols.Registry
	Book     *addrbook.Book // may be nil for a network without discovery
	Events   *events.Bus    // may be nil
	Observer Observer       // may be nil
	Logs     logging.Factory
}

// Observer sees what the sessions do, for metrics. Its methods must not
// block. It also sees every channel's traffic.
type Observer interface {
	channel.Observer
	// Handshake reports a version handshake of session kind that took d
	// and ended with err (nil on success).
	Handshake(kind channel.Session, d time.Duration, err error)
	// Banned reports a ban and its reason.
	Banned(reason string)
}

// Manager runs one network on a host. It is safe for concurrent use.
type Manager struct {
	cfg    Config
	net    *settings.Net
	host   *dhost.Host
	log    *slog.Logger
	nextID atomic.Uint64

	ctx    context.Context // cancelled by Stop
	cancel context.CancelFunc
	wg     sync.WaitGroup // handshakes in flight

	notifiee     *network.NotifyBundle
	removeSource func()        // leaves the ConnMgr's eviction sources
	evictions    atomic.Uint64 // inbound channels evicted

	seedMu sync.RWMutex
	seeds  []peer.AddrInfo // see seeds.go

	mu        sync.Mutex
	stopping  bool
	channels  map[peer.ID]*channel.Channel        // started channels
	byConn    map[network.Conn][]*channel.Channel // every channel, handshaking or started
	pending   map[peer.ID][]*handshake
	resolved  chan struct{}                         // closed and replaced whenever a handshake starts on a connection or ends
	all       map[*channel.Channel]*channel.Control // every channel not yet Done, with its owner half
	observers []func(*channel.Channel)
}

// handshake is one version handshake in progress.
type handshake struct {
	initiator peer.ID      // who opened the version stream
	conn      network.Conn // its connection, once known; guarded by Manager.mu
}

// NewManager returns a Manager for cfg.Network on cfg.Host; Start
// installs its stream handlers.
func NewManager(cfg Config) *Manager {
	if cfg.Events == nil {
		cfg.Events = events.NewBus()
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{
		cfg:      cfg,
		net:      &cfg.Settings.Net,
		host:     cfg.Host,
		log:      cfg.Logs.Logger("sessions"),
		ctx:      ctx,
		cancel:   cancel,
		channels: make(map[peer.ID]*channel.Channel),
		byConn:   make(map[network.Conn][]*channel.Channel),
		pending:  make(map[peer.ID][]*handshake),
		resolved: make(chan struct{}),
		all:      make(map[*channel.Channel]*channel.Control),
	}
	m.initSeeds()
	m.notifiee = &network.NotifyBundle{DisconnectedF: m.disconnected}
	if m.host.NATEnabled() {
		m.notifiee.ConnectedF = m.connected // limited.go
	}
	return m
}

// Start installs the Manager's stream handlers (the version handshake and
// every registered protocol) and its connection notifiee: from then on it
// accepts handshakes. Call it once, before the sessions start; Stop undoes
// it.
func (m *Manager) Start() {
	for _, spec := range m.cfg.Registry.Specs() {
		m.host.SetStreamHandler(spec.ID(m.cfg.Network), func(s network.Stream) { m.serveProtocol(spec, s) })
	}
	m.host.SetStreamHandler(version.ID(m.cfg.Network), m.acceptHandshake)
	m.host.Network().Notify(m.notifiee)
	remove := m.host.ConnMgr.AddSource(m)
	m.mu.Lock()
	m.removeSource = remove
	m.mu.Unlock()
}

// ErrConnClosed is the stop reason of a channel whose connection closed.
var ErrConnClosed = channel.Because(channel.StopClosed, errors.New("connection closed"))

// disconnected stops the channels of a connection that closed, at once
// rather than at their next read or write. It runs in the swarm's
// notification and must not block; Channel.Stop does not.
func (m *Manager) disconnected(_ network.Network, c network.Conn) {
	m.mu.Lock()
	chans := append([]*channel.Channel(nil), m.byConn[c]...)
	m.mu.Unlock()
	for _, ch := range chans {
		ch.Stop(ErrConnClosed)
	}
}

// Book returns the address book (nil if the network has none).
func (m *Manager) Book() *addrbook.Book { return m.cfg.Book }

// Events returns the event bus.
func (m *Manager) Events() *events.Bus { return m.cfg.Events }

// Network returns the network id.
func (m *Manager) Network() string { return m.cfg.Network }

// Host returns the host.
func (m *Manager) Host() *dhost.Host { return m.host }

// Settings returns the settings the manager runs with.
func (m *Manager) Settings() *settings.Settings { return &m.cfg.Settings }

// Logs returns the logger factory.
func (m *Manager) Logs() logging.Factory { return m.cfg.Logs }

// Context returns a context cancelled when the manager stops.
func (m *Manager) Context() context.Context { return m.ctx }

// OnChannel registers f to be called (without locks held, must not block)
// for every channel that completes its handshake, before its protocols
// start.
func (m *Manager) OnChannel(f func(*channel.Channel)) {
	m.mu.Lock()
	m.observers = append(m.observers, f)
	m.mu.Unlock()
}

// Channels returns the started channels.
func (m *Manager) Channels() []*channel.Channel {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*channel.Channel, 0, len(m.channels))
	for _, ch := range m.channels {
		out = append(out, ch)
	}
	return out
}

// Channel returns the channel with peer p, if any.
func (m *Manager) Channel(p peer.ID) *channel.Channel {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.channels[p]
}

// Protocols returns the protocol IDs this network runs, for the Version
// message.
func (m *Manager) Protocols() []string {
	out := []string{string(version.ID(m.cfg.Network))}
	for _, s := range m.cfg.Registry.Specs() {
		out = append(out, string(s.ID(m.cfg.Network)))
	}
	return out
}

// ExternalAddrs returns the addresses we advertise, with our /p2p/
// component: the host's AdvertisedAddrs. Without AutoNAT (localnet among
// others) those are the configured external addresses, or, when none are
// configured, the host's listen addresses (unspecified IPs resolved to the
// interfaces' addresses; receivers drop non-global ones unless localnet).
// With it: the external addresses, those AutoNAT confirmed reachable and,
// while not public, our relay circuit addresses.
func (m *Manager) ExternalAddrs() []ma.Multiaddr {
	p2p, err := ma.NewComponent("p2p", m.host.ID().String())
	if err != nil {
		return nil
	}
	addrs := m.host.AdvertisedAddrs(m.net.ExternalAddrs)
	out := make([]ma.Multiaddr, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, a.Encapsulate(p2p.Multiaddr()))
	}
	if len(out) > version.MaxExternalAddrs {
		out = out[:version.MaxExternalAddrs]
	}
	return out
}

// Profile returns the transport profile for dialing addr: that of an
// outbound connection to it (ConnTransport), so the tor profile when the
// node dials through net.proxy or addr is an onion.
func (m *Manager) Profile(addr ma.Multiaddr) settings.Profile {
	return m.net.Profile(ConnTransport(m.net, network.DirOutbound, addr))
}

// ConnProfile returns the transport profile of a live connection:
// ConnTransport's profile.
func (m *Manager) ConnProfile(c network.Conn) settings.Profile {
	return m.net.Profile(ConnTransport(m.net, c.Stat().Direction, c.RemoteMultiaddr()))
}

// ConnTransport names the transport profile of a connection in direction
// dir from remote: "tor" for an outbound connection through net.proxy and
// for an inbound one from a loopback address while net.tor_control is set
// (Tor forwards onion-service connections from loopback), else
// TransportOf(remote). It fixes DarkFi's quirk of timing mixed (Tor)
// channels with the clearnet profile.
func ConnTransport(n *settings.Net, dir network.Direction, remote ma.Multiaddr) string {
	switch {
	case dir == network.DirOutbound && n.Proxy != "":
		return settings.ProfileTor
	case dir == network.DirInbound && n.TorControl != "" && manet.IsIPLoopback(remote):
		return settings.ProfileTor
	}
	return TransportOf(remote)
}

// TransportOf names the transport of a multiaddr: "tor" (onion3), "quic",
// "ws" or "tcp" ("" if none of them).
func TransportOf(addr ma.Multiaddr) string {
	var name string
	ma.ForEach(addr, func(c ma.Component) bool {
		switch c.Code() {
		case ma.P_ONION3:
			name = settings.ProfileTor
			return false
		case ma.P_QUIC_V1:
			name = settings.ProfileQUIC
			return false
		case ma.P_WS, ma.P_WSS:
			name = settings.ProfileWS
			return false
		case ma.P_TCP:
			name = settings.ProfileTCP
		}
		return true
	})
	return name
}

// Ban refuses peer p for the configured ban duration, closes its channels
// and connections, and logs why. An address is banned with it when it is
// a public IP (banning a loopback or private address would refuse every
// node on it).
func (m *Manager) Ban(p peer.ID, addr ma.Multiaddr, reason string) {
	m.BanFor(p, addr, m.net.BanDuration, reason)
}

// BanFor is Ban for duration d.
func (m *Manager) BanFor(p peer.ID, addr ma.Multiaddr, d time.Duration, reason string) {
	var ip netip.Addr
	if addr != nil && !manet.IsPrivateAddr(addr) && !manet.IsIPLoopback(addr) {
		if a, err := manet.ToIP(addr); err == nil {
			ip, _ = netip.AddrFromSlice(a)
		}
	}
	m.host.Gater.Ban(p, ip, d, reason)
	if o := m.cfg.Observer; o != nil {
		o.Banned(reason)
	}
	if m.cfg.Book != nil {
		m.cfg.Book.Ban(p, addr)
	}
	m.log.Warn("banned peer", "peer", p, "for", d, "reason", reason)
	if ch := m.Channel(p); ch != nil {
		ch.Stop(channel.Because(channel.StopBanned, fmt.Errorf("banned: %s", reason)))
	}
	_ = m.host.Network().ClosePeer(p)
}

// violation applies the ban policy to misbehaviour by ch's peer.
func (m *Manager) violation(ch *channel.Channel, err error) {
	if m.net.BanPolicy == settings.BanRelaxed || ch.Session() == channel.Refine {
		return
	}
	if errors.Is(err, version.ErrIncompatible) && ch.Session() != channel.Outbound {
		return // DarkFi bans only outbound peers for a version mismatch
	}
	m.Ban(ch.Peer(), ch.RemoteAddr(), err.Error())
}

// Stop stops every channel and handshake and removes the stream handlers.
// It waits for all of them, at most until ctx is done; then its error
// names the channels still running and wraps ctx.Err(). It is idempotent.
func (m *Manager) Stop(ctx context.Context) error {
	m.mu.Lock()
	first := !m.stopping
	m.stopping = true
	removeSource := m.removeSource
	var chans []*channel.Channel
	for ch := range m.all {
		chans = append(chans, ch)
	}
	m.mu.Unlock()
	if first {
		if removeSource != nil {
			removeSource()
		}
		m.host.Network().StopNotify(m.notifiee)
		m.host.RemoveStreamHandler(version.ID(m.cfg.Network))
		for _, spec := range m.cfg.Registry.Specs() {
			m.host.RemoveStreamHandler(spec.ID(m.cfg.Network))
		}
	}
	m.cancel()
	for _, ch := range chans {
		ch.Stop(ErrStopped)
	}
	done := make(chan struct{})
	go func() {
		m.wg.Wait()
		// Handshakes that were in flight may have created channels after
		// the first snapshot; they are stopping on their own by now.
		m.mu.Lock()
		for ch := range m.all {
			chans = append(chans, ch)
		}
		m.mu.Unlock()
		for _, ch := range chans {
			ch.Stop(ErrStopped)
			<-ch.Done()
		}
		close(done)
	}()
	if lifecycle.Awaited(ctx, done) {
		return nil
	}
	// The stragglers: channels whose goroutines (a protocol job ignoring
	// its context) have not returned.
	m.mu.Lock()
	var left []string
	for ch := range m.all {
		left = append(left, ch.String())
	}
	m.mu.Unlock()
	slices.Sort(left)
	return fmt.Errorf("stop %s: channels still running (%d): [%s]: %w", m.cfg.Network, len(left), strings.Join(left, ", "), ctx.Err())
}

// Stopping reports whether Stop was called.
func (m *Manager) Stopping() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stopping
}

// serveProtocol serves the peer's stream for spec on the channel of its
// connection.
func (m *Manager) serveProtocol(spec *channel.Spec, s network.Stream) {
	ch := m.channelFor(s.Conn())
	m.mu.Lock()
	ctl := m.all[ch]
	m.mu.Unlock()
	if ctl == nil {
		_ = s.Reset()
		return
	}
	ctl.ServeStream(spec, s)
}

// channelFor returns the channel that serves the peer's protocol streams
// on conn: the peer's registered channel, if it runs on conn. Two
// handshakes with one peer can share a connection (both sides dialed at
// once and libp2p reused the first connection); only the channel that
// wins the pair (see keepNew) runs protocols, and the peer may open its
// streams before this side has resolved the pair. So while a handshake
// with the peer is still running, channelFor waits for it to end (up to
// the handshake timeout) instead of guessing: a stream given to the
// losing channel would die with it and take the peer's channel down.
func (m *Manager) channelFor(conn network.Conn) *channel.Channel {
	p := conn.RemotePeer()
	return m.settle(m.ctx, conn, func() (*channel.Channel, bool) {
		if ch := m.channels[p]; ch != nil && ch.Conn() == conn {
			return ch, true
		}
		return nil, len(m.pending[p]) == 0 || m.stopping
	})
}

// settle calls check under m.mu, and again each time a handshake starts
// on a connection or ends, until check reports done; it gives up (nil)
// when the handshake timeout for conn has passed or ctx is done.
func (m *Manager) settle(ctx context.Context, conn network.Conn, check func() (*channel.Channel, bool)) *channel.Channel {
	var expired <-chan time.Time
	for {
		m.mu.Lock()
		ch, done := check()
		resolved := m.resolved
		m.mu.Unlock()
		if done {
			return ch
		}
		if expired == nil {
			t := time.NewTimer(m.ConnProfile(conn).ChannelHandshakeTimeout)
			defer t.Stop()
			expired = t.C
		}
		select {
		case <-resolved:
		case <-expired:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}
