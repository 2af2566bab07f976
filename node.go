package dnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/events"
	dhost "github.com/dnode-p2p/dnode/host"
	"github.com/dnode-p2p/dnode/internal/logging"
	"github.com/dnode-p2p/dnode/protocols"
	"github.com/dnode-p2p/dnode/protocols/addr"
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

// Node is one dnode network node: what applications use (the operator's
// controls are on Admin). Its methods are safe for concurrent use. Start
// and Stop may be called repeatedly: a stopped node can be started again.
type Node struct {
	settings settings.Settings
	opts     options
	logs     logging.Factory
	log      *slog.Logger
	registry *protocols.Registry
	ping     *channel.Protocol[*pb.PingMessage]
	addr     *addr.Service
	events   *events.Bus
	bcast    broadcaster
	admin    *Admin // the operator's controls (admin.go)

	live live // settings changed at run time (runtime.go)

	hostlistSaveFailures atomic.Uint64
	hostlistBadLines     atomic.Uint64 // hostlist lines skipped by loads
	pastEvictions        atomic.Uint64 // inbound evictions of earlier runs

	life     sync.Mutex                    // serialises Start and Stop
	cur      atomic.Pointer[run]           // the running instance, nil when stopped
	lastBook atomic.Pointer[addrbook.Book] // the last run's book, kept for reading
	stopped  chan struct{}                 // closed; Done's answer when not running
}

// run is everything one Start creates; Stop tears it down. Readers load it
// without locks, so that nothing a channel calls can block on Stop.
type run struct {
	host     *dhost.Host
	book     *addrbook.Book
	mgr      *sessions.Manager
	manual   *sessions.Manual
	seedsync *sessions.SeedSync
	outbound *sessions.Outbound
	refine   *sessions.Refine
	direct   *sessions.Direct
	saver    *saver
	done     chan struct{} // closed by Stop
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
	logs := logging.New(o.logHandler, o.logAttrs...)
	n := &Node{
		settings: s,
		opts:     o,
		logs:     logs,
		log:      logs.Logger("node"),
		registry: protocols.NewRegistry(),
		ping:     ping.NewSpec(s.Net.Profile(settings.ProfileTCP).ChannelHeartbeatInterval),
		stopped:  make(chan struct{}),
	}
	close(n.stopped)
	n.admin = &Admin{n: n}
	n.live.init(&s.Net)
	n.bcast.init()
	n.events = events.NewBus()
	n.addr = addr.New(addr.Config{Node: addrNode{n}})
	for _, reg := range []protocols.Registration{
		ping.Registration(channel.Default|channel.Seed, n.ping, ping.Config{Timing: n.pingTiming}),
		n.addr.Registration(channel.Default | channel.Seed),
	} {
		if err := n.registry.Register(reg); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// pingTiming returns the heartbeat and pong timeout of a channel's
// transport profile.
func (n *Node) pingTiming(ch *channel.Channel) (time.Duration, time.Duration) {
	p := n.settings.Net.Profile(sessions.ConnTransport(&n.settings.Net, ch.Direction(), ch.RemoteAddr()))
	return p.ChannelHeartbeatInterval, p.OutboundConnectTimeout
}

// currentSettings returns a copy of the node's settings, with the current
// values of those that change at run time (net.outbound_connections,
// net.inbound_connections, net.seeds; see Admin).
func (n *Node) currentSettings() settings.Settings {
	s := n.settings.Clone()
	n.live.apply(&s)
	return s
}

// Registry returns the protocol registry. Register before Start.
func (n *Node) Registry() *protocols.Registry { return n.registry }

// Start binds the listeners and starts the sessions. It fails only when a
// listener cannot bind (the error wraps host.ErrListen) or the identity
// key cannot be loaded; then nothing is left running.
func (n *Node) Start(ctx context.Context) error {
	n.life.Lock()
	defer n.life.Unlock()
	if n.cur.Load() != nil {
		return ErrRunning
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	n.log.Info("Starting P2P network", "network", n.settings.Network)
	h := n.opts.host
	if h == nil {
		var err error
		if h, err = n.newHost(); err != nil {
			return err
		}
	}
	net := &n.settings.Net
	n.registry.Freeze()
	r := &run{host: h, done: make(chan struct{})}
	r.book = n.newBook(h)
	r.book.OnStore(func(count int) { n.events.Publish(events.Event{Kind: events.HostsStored, Count: count}) })
	n.lastBook.Store(r.book)
	if res, err := r.book.Load(n.settings.HostlistPath()); err != nil {
		n.log.Warn("hostlist not loaded, starting from seeds", "path", n.settings.HostlistPath(), "err", err)
	} else if res.MovedAside != "" {
		n.log.Warn("hostlist was corrupt; moved aside, starting from seeds", "path", n.settings.HostlistPath(), "moved_to", res.MovedAside)
	} else if res.Skipped > 0 {
		n.hostlistBadLines.Add(uint64(res.Skipped))
		n.log.Warn("hostlist loaded; bad lines skipped", "path", n.settings.HostlistPath(), "hosts", res.Loaded,
			"skipped", res.Skipped, "copy", res.KeptAside)
	} else {
		n.log.Info("hostlist loaded", "path", n.settings.HostlistPath(), "hosts", res.Loaded, "created", res.Created)
	}
	r.mgr = sessions.NewManager(sessions.Config{
		Host:     h,
		Network:  n.settings.Network,
		Settings: n.withOnion(h),
		Registry: n.registry,
		Book:     r.book,
		Events:   n.events,
		Observer: &observer{bus: n.events, next: n.opts.observer},
		Logs:     n.logs,
	})
	r.mgr.Start()
	r.manual = sessions.NewManual(r.mgr)
	r.seedsync = sessions.NewSeedSync(r.mgr, n.addr)
	r.outbound = sessions.NewOutbound(r.mgr, n.addr, r.seedsync)
	r.refine = sessions.NewRefine(r.mgr, n.opts.whitelistRecheck)
	r.direct = sessions.NewDirect(r.mgr)
	r.outbound.SetAnchors(n.loadAnchors())
	n.cur.Store(r) // protocols reach the book and manager from here on
	for _, p := range net.Peers {
		if err := r.manual.Add(p); err != nil {
			n.log.Error("manual peer not used", "peer", p, "err", err)
		}
	}
	// The hostlist is loaded above, before any outbound slot runs.
	r.outbound.Start()
	r.refine.Start()
	r.saver = startSaver(net.HostlistSaveInterval, func() { n.saveHostlist(r.book) })
	n.bcast.open()
	n.log.Info("P2P network started", "peer_id", h.ID(), "addrs", n.Addrs())
	return nil
}

// newHost loads the identity and builds the node's own host.
func (n *Node) newHost() (*dhost.Host, error) {
	key := n.opts.identity
	if key == nil {
		k, created, err := dhost.LoadOrCreateIdentityLog(n.settings.Datastore, n.log)
		if err != nil {
			return nil, err
		}
		if created {
			n.log.Info("created identity", "datastore", n.settings.Datastore)
		}
		key = k
	}
	net := &n.settings.Net
	px, err := net.ProxyURL() // validated by New
	if err != nil {
		return nil, err
	}
	inbound, outbound := n.hostLimits()
	return dhost.New(dhost.Config{
		Identity:         key,
		Listen:           net.Inbound,
		External:         net.ExternalAddrs,
		InboundLimit:     inbound,
		OutboundLimit:    outbound,
		HandshakeTimeout: net.HandshakeBound(),
		PerIPLimit:       n.opts.perIPLimit,
		Blacklist:        net.Blacklist,
		Proxy:            px,
		Onion:            n.onionConfig(),
		NAT:              NATConfig(n.settings, n.isMember),
		UserAgent:        UserAgent,
		ProtocolVersion:  "dnode/1.0.0",
		Metrics:          n.opts.metricsReg,
		Libp2pOptions:    n.opts.libp2pOpts,
		Logs:             n.logs,
	})
}

// newBook builds the address book of a run on host h.
func (n *Node) newBook(h *dhost.Host) *addrbook.Book {
	var seeds []peer.ID
	for _, a := range n.live.seedList() {
		if ai, err := peer.AddrInfoFromP2pAddr(a); err == nil {
			seeds = append(seeds, ai.ID)
		}
	}
	return addrbook.New(addrbook.Config{
		Localnet: n.settings.Net.Localnet,
		Self:     h.ID(),
		Seeds:    seeds,
		Node:     bookNode{n: n, h: h},
		Dialer:   n.dialer(),
		Logger:   n.logs.Logger("addrbook"),
	})
}

// saveHostlist writes book to the hostlist; failures are logged and
// counted.
func (n *Node) saveHostlist(book *addrbook.Book) {
	if err := book.Save(n.settings.HostlistPath()); err != nil {
		n.hostlistSaveFailures.Add(1)
		n.log.Warn("hostlist not saved", "path", n.settings.HostlistPath(), "err", err)
	}
}

// Stop stops the sessions, drains every channel and closes the host. It
// returns within about StopTimeout even when a protocol job ignores its
// context (the error then names what did not stop and wraps
// context.DeadlineExceeded), is idempotent, and the node can be started
// again afterwards.
func (n *Node) Stop() error {
	n.life.Lock()
	defer n.life.Unlock()
	r := n.cur.Load()
	if r == nil {
		return nil
	}
	n.log.Info("Stopping P2P network")
	n.bcast.close()
	ctx, cancel := context.WithTimeout(context.Background(), StopTimeout)
	defer cancel()
	serr := r.saver.stop(ctx)
	// Save while channels are still up, so that gold peers stay gold and
	// the outbound peers become the next start's anchors; not beside a
	// periodic save that is stuck (serr says so).
	if serr == nil {
		n.saveHostlist(r.book)
	}
	n.saveAnchors(r.outbound.Anchors())
	// Each stop is bounded by ctx: a protocol job that ignores its
	// context delays the stops up to StopTimeout, and the error names
	// what did not stop.
	err := errors.Join(
		serr,
		r.manual.Stop(ctx),
		r.outbound.Stop(ctx),
		r.refine.Stop(ctx),
		r.mgr.Stop(ctx),
		r.seedsync.Stop(ctx),
		r.direct.Stop(ctx),
		n.bcast.drain(ctx),
	)
	if n.opts.host == nil {
		if cerr := r.host.Close(); err == nil {
			err = cerr
		}
	}
	n.registry.Unfreeze()
	n.pastEvictions.Add(r.mgr.Evictions())
	n.cur.Store(nil)
	close(r.done)
	if err != nil {
		n.log.Warn("P2P network stopped with errors", "err", err)
	}
	return err
}

// Done is closed when the node stops (and is closed while it is not
// running).
func (n *Node) Done() <-chan struct{} {
	if r := n.cur.Load(); r != nil {
		return r.done
	}
	return n.stopped
}

// running reports whether the node is started.
func (n *Node) running() bool { return n.cur.Load() != nil }

// ID returns the node's peer ID ("" when not running).
func (n *Node) ID() peer.ID {
	if r := n.cur.Load(); r != nil {
		return r.host.ID()
	}
	return ""
}

// Addrs returns the node's listen addresses with /p2p/<id> (nil when not
// running).
func (n *Node) Addrs() []ma.Multiaddr {
	r := n.cur.Load()
	if r == nil {
		return nil
	}
	addrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: r.host.ID(), Addrs: r.host.Addrs()})
	if err != nil {
		return nil
	}
	return addrs
}

// host returns the running node's host (nil when not running).
func (n *Node) host() *dhost.Host {
	if r := n.cur.Load(); r != nil {
		return r.host
	}
	return nil
}

// manager returns the running node's session manager (nil when not
// running).
func (n *Node) manager() *sessions.Manager {
	if r := n.cur.Load(); r != nil {
		return r.mgr
	}
	return nil
}

// manual returns the running node's manual session (nil when not running).
func (n *Node) manual() *sessions.Manual {
	if r := n.cur.Load(); r != nil {
		return r.manual
	}
	return nil
}

// Channels returns the node's started channels.
func (n *Node) Channels() []*channel.Channel {
	mgr := n.manager()
	if mgr == nil {
		return nil
	}
	return mgr.Channels()
}

// TagUseful records that peer p just delivered an application message
// that was new to this node (the relay calls it): inbound eviction keeps
// the peers that did so most recently (host.ProtectUseful). It does
// nothing while the node is not running, and never blocks.
func (n *Node) TagUseful(p peer.ID) {
	if h := n.host(); h != nil {
		h.ConnMgr.TagUseful(p)
	}
}

// inboundEvictions returns how many inbound channels this node stopped
// to give their slot to a newcomer, over all its runs.
func (n *Node) inboundEvictions() uint64 {
	v := n.pastEvictions.Load()
	if r := n.cur.Load(); r != nil {
		v += r.mgr.Evictions()
	}
	return v
}

// Ban bans peer p for the configured ban duration and closes its
// channels (Admin.BanFor sets the duration and the address). It returns
// ErrNotRunning when the node is not running.
func (n *Node) Ban(p peer.ID, reason string) error { return n.banFor(p, nil, 0, reason) }

// banFor is Admin.BanFor.
func (n *Node) banFor(p peer.ID, addr ma.Multiaddr, d time.Duration, reason string) error {
	mgr := n.manager()
	if mgr == nil {
		return ErrNotRunning
	}
	if addr == nil {
		if ch := mgr.Channel(p); ch != nil {
			addr = ch.RemoteAddr()
		}
	}
	if d <= 0 {
		d = n.settings.Net.BanDuration
	}
	mgr.BanFor(p, addr, d, reason)
	return nil
}

// Connect opens a channel to addr (a multiaddr with /p2p/<id>) in session
// kind, for tests and tools; sessions normally connect on their own.
func (n *Node) Connect(ctx context.Context, addr ma.Multiaddr, kind channel.Session) (*channel.Channel, error) {
	mgr := n.manager()
	if mgr == nil {
		return nil, ErrNotRunning
	}
	ai, err := peer.AddrInfoFromP2pAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return mgr.Connect(ctx, *ai, kind)
}
