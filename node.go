package dnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/channel"
	dhost "github.com/dnode-p2p/dnode/host"
	"github.com/dnode-p2p/dnode/internal/logging"
	"github.com/dnode-p2p/dnode/protocols"
	"github.com/dnode-p2p/dnode/protocols/pb"
	"github.com/dnode-p2p/dnode/protocols/ping"
	"github.com/dnode-p2p/dnode/sessions"
	"github.com/dnode-p2p/dnode/settings"
)

// Errors of the node lifecycle.
var (
	ErrRunning    = errors.New("node already running")
	ErrNotRunning = errors.New("node not running")
)

// StopTimeout bounds how long Stop waits for channels to drain.
const StopTimeout = 4 * time.Second

// Node is one dnode network node. Its methods are safe for concurrent
// use. Start and Stop may be called repeatedly: a stopped node can be
// started again.
type Node struct {
	settings settings.Settings
	opts     options
	logs     logging.Factory
	log      *slog.Logger
	clock    clock.Clock
	registry *protocols.Registry
	ping     *channel.Protocol[*pb.PingMessage]
	bcast    broadcaster

	mu      sync.Mutex // serialises Start and Stop; guards the fields below
	running bool
	host    *dhost.Host
	mgr     *sessions.Manager
	manual  *sessions.Manual
	done    chan struct{} // closed by Stop
}

// New validates s and returns a Node that is not started. The built-in
// protocols (ping) are registered; register application protocols on
// Registry before Start.
func New(s settings.Settings, opts ...Option) (*Node, error) {
	s = s.Clone()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.clock == nil {
		o.clock = clock.New()
	}
	logs := logging.New(o.logHandler, o.logAttrs...)
	n := &Node{
		settings: s,
		opts:     o,
		logs:     logs,
		log:      logs.Logger("node"),
		clock:    o.clock,
		registry: protocols.NewRegistry(),
		ping:     ping.NewSpec(s.Net.Profile(settings.ProfileTCP).ChannelHeartbeatInterval),
		done:     make(chan struct{}),
	}
	close(n.done) // not running
	n.bcast.init()
	err := n.registry.Register(ping.Registration(channel.Default|channel.Seed, n.ping, ping.Config{
		Timing: n.pingTiming,
		Clock:  o.clock,
	}))
	if err != nil {
		return nil, err
	}
	return n, nil
}

// pingTiming returns the heartbeat and pong timeout of a channel's
// transport profile.
func (n *Node) pingTiming(ch *channel.Channel) (time.Duration, time.Duration) {
	p := n.settings.Net.Profile(sessions.TransportOf(ch.RemoteAddr()))
	return p.ChannelHeartbeatInterval, p.OutboundConnectTimeout
}

// Settings returns a copy of the node's settings.
func (n *Node) Settings() settings.Settings { return n.settings.Clone() }

// Registry returns the protocol registry. Register before Start.
func (n *Node) Registry() *protocols.Registry { return n.registry }

// Start binds the listeners and starts the sessions. It fails only when a
// listener cannot bind (the error wraps host.ErrListen) or the identity
// key cannot be loaded; then nothing is left running.
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.running {
		return ErrRunning
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	key := n.opts.identity
	if key == nil {
		k, created, err := dhost.LoadOrCreateIdentity(n.settings.Datastore)
		if err != nil {
			return err
		}
		if created {
			n.log.Info("created identity", "datastore", n.settings.Datastore)
		}
		key = k
	}
	net := &n.settings.Net
	n.log.Info("Starting P2P network", "network", n.settings.Network)
	h, err := dhost.New(dhost.Config{
		Identity:         key,
		Listen:           net.Inbound,
		External:         net.ExternalAddrs,
		InboundLimit:     net.InboundConnections,
		OutboundLimit:    net.OutboundConnections + len(net.Peers) + len(net.Seeds),
		HandshakeTimeout: net.Profile(settings.ProfileTCP).ChannelHandshakeTimeout,
		PerIPLimit:       n.opts.perIPLimit,
		Blacklist:        net.Blacklist,
		UserAgent:        UserAgent,
		ProtocolVersion:  "dnode/1.0.0",
		Logs:             n.logs,
		Clock:            n.clock,
	})
	if err != nil {
		return err
	}
	n.registry.Freeze()
	mgr := sessions.NewManager(sessions.Config{
		Host:     h,
		Network:  n.settings.Network,
		Settings: n.settings,
		Registry: n.registry,
		Logs:     n.logs,
		Clock:    n.clock,
	})
	manual := sessions.NewManual(mgr)
	for _, p := range net.Peers {
		if err := manual.Add(p); err != nil {
			n.log.Error("manual peer not used", "peer", p, "err", err)
		}
	}
	n.host, n.mgr, n.manual = h, mgr, manual
	n.done = make(chan struct{})
	n.running = true
	n.bcast.open()
	n.log.Info("P2P network started", "peer_id", h.ID(), "addrs", n.addrsLocked())
	return nil
}

// Stop stops the sessions, drains every channel and closes the host. It
// returns within about StopTimeout, is idempotent, and the node can be
// started again afterwards.
func (n *Node) Stop() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.running {
		return nil
	}
	n.log.Info("Stopping P2P network")
	n.bcast.close()
	ctx, cancel := context.WithTimeout(context.Background(), StopTimeout)
	defer cancel()
	n.manual.Stop()
	err := n.mgr.Stop(ctx)
	n.bcast.drain(ctx)
	if cerr := n.host.Close(); err == nil {
		err = cerr
	}
	n.registry.Unfreeze()
	n.running = false
	n.host, n.mgr, n.manual = nil, nil, nil
	close(n.done)
	if err != nil {
		n.log.Warn("P2P network stopped with errors", "err", err)
	}
	return err
}

// Done is closed when the node stops (and is closed while it is not
// running).
func (n *Node) Done() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.done
}

// Running reports whether the node is started.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.running
}

// ID returns the node's peer ID ("" before the first Start).
func (n *Node) ID() peer.ID {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.host == nil {
		return ""
	}
	return n.host.ID()
}

// Addrs returns the node's listen addresses with /p2p/<id> (nil when not
// running).
func (n *Node) Addrs() []ma.Multiaddr {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.addrsLocked()
}

func (n *Node) addrsLocked() []ma.Multiaddr {
	if n.host == nil {
		return nil
	}
	addrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: n.host.ID(), Addrs: n.host.Addrs()})
	if err != nil {
		return nil
	}
	return addrs
}

// Host returns the running node's host (nil when not running).
func (n *Node) Host() *dhost.Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.host
}

// Manager returns the running node's session manager (nil when not
// running).
func (n *Node) Manager() *sessions.Manager {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mgr
}

// Manual returns the running node's manual session (nil when not running).
func (n *Node) Manual() *sessions.Manual {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.manual
}

// Channels returns the node's started channels.
func (n *Node) Channels() []*channel.Channel {
	mgr := n.Manager()
	if mgr == nil {
		return nil
	}
	return mgr.Channels()
}

// Ban bans peer p for the configured ban duration and closes its
// channels.
func (n *Node) Ban(p peer.ID, reason string) error {
	mgr := n.Manager()
	if mgr == nil {
		return ErrNotRunning
	}
	var addr ma.Multiaddr
	if ch := mgr.Channel(p); ch != nil {
		addr = ch.RemoteAddr()
	}
	mgr.Ban(p, addr, reason)
	return nil
}

// Connect opens a channel to addr (a multiaddr with /p2p/<id>) in session
// kind, for tests and tools; sessions normally connect on their own.
func (n *Node) Connect(ctx context.Context, addr ma.Multiaddr, kind channel.Session) (*channel.Channel, error) {
	mgr := n.Manager()
	if mgr == nil {
		return nil, ErrNotRunning
	}
	ai, err := peer.AddrInfoFromP2pAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return mgr.Connect(ctx, *ai, kind)
}
