package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-log/v2"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/gologshim"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnode-p2p/dnode/internal/logging"
)

func init() {
	// go-libp2p logs through slog via gologshim; route it into go-log so
	// that one GOLOG_LOG_LEVEL controls libp2p and dnode alike. It must run
	// before libp2p creates its first logger, hence init.
	gologshim.SetDefaultHandler(log.SlogHandler())
}

// ErrListen wraps the error of a listen address that could not be bound.
var ErrListen = errors.New("cannot listen")

// Config says how to build a Host. Zero values take the defaults noted.
type Config struct {
	Identity crypto.PrivKey // required
	Listen   []ma.Multiaddr // listen addresses; empty means no inbound
	External []ma.Multiaddr // extra addresses advertised through identify

	InboundLimit     int           // hard cap on live inbound connections
	OutboundLimit    int           // outbound plus manual slots, for resource limits
	HandshakeTimeout time.Duration // inbound connections without a channel after this are closed; default 10s
	PerIPLimit       int           // >0 raises libp2p's per-address limits and removes its rate limit (tests)
	Blacklist        []string      // permanent refusals; see ParseBlacklistEntry

	// Proxy, if set, is a socks5:// URL through which every outbound dial
	// goes (see ProxyDialable); names are never resolved locally.
	Proxy *url.URL
	// Onion, if set, publishes the TCP listener Onion.Listen as a Tor
	// onion service and advertises its /onion3 address; New fails
	// (wrapping ErrListen and ErrTorControl) if Tor cannot be reached.
	Onion *Onion

	// NAT, if set, turns on NAT traversal (nat.go, relay.go); nil keeps
	// the relay transport off and runs none of it (localnet, tests,
	// simulations).
	NAT *NAT

	UserAgent       string // identify agent version, e.g. "dnode/0.1.0"
	ProtocolVersion string // identify protocol version

	// Metrics, if set, receives go-libp2p's own metrics (swarm, identify,
	// holepunch, resource manager); otherwise libp2p's metrics are off.
	Metrics prometheus.Registerer

	// Libp2pOptions are applied after dnode's own options, so they can add
	// to or replace parts of the stack; a simulation uses it to put QUIC on
	// a simulated network (go-libp2p's x/simlibp2p QUICSimnet). When set,
	// the listen addresses are not pre-checked against real sockets.
	Libp2pOptions []libp2p.Option

	Logs logging.Factory
}

// Host is a libp2p host with dnode's gater and connection tracker.
type Host struct {
	host.Host
	Gater *Gater
	Conns *ConnTracker
	// ConnMgr is the libp2p connection manager: BasicConnMgr's tags,
	// protection and trimming, and inbound eviction.
	ConnMgr *ConnMgr
	// Proxy counts proxied dials; nil when no proxy is set.
	Proxy *ProxyStats
	log   *slog.Logger
	onion atomic.Pointer[ma.Multiaddr] // the published /onion3 address
	tor   *torControl                  // nil without an onion service
	nat   *NAT                         // nil without NAT traversal
}

// New builds and starts a Host listening on cfg.Listen. It returns an
// error wrapping ErrListen if a listen address cannot be bound.
func New(cfg Config) (*Host, error) {
	if cfg.Identity == nil {
		return nil, errors.New("host: no identity key")
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	if len(cfg.Libp2pOptions) == 0 {
		if err := checkListen(cfg.Listen); err != nil {
			return nil, err
		}
	}
	logger := cfg.Logs.Logger("host")
	tracker := newConnTracker(logger, cfg.InboundLimit, cfg.HandshakeTimeout)
	gater, err := newGater(logger, cfg.Blacklist, tracker)
	if err != nil {
		return nil, err
	}
	rm, err := newResourceManager(cfg.InboundLimit, cfg.OutboundLimit, cfg.PerIPLimit, cfg.Metrics != nil)
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	// The connection manager's trimming is only a safety net above
	// dnode's own slot accounting: it trims when connections exceed every
	// slot plus slack, and never a channel (protected with ChannelTag), so
	// caps raised at run time (SetLimits) need no new watermarks. Its
	// inbound eviction makes room for newcomers.
	high := cfg.InboundLimit + cfg.OutboundLimit + 2*handshakeSlack
	base, err := connmgr.NewConnManager(high-handshakeSlack, high, connmgr.WithGracePeriod(time.Minute))
	if err != nil {
		rm.Close()
		return nil, fmt.Errorf("connection manager: %w", err)
	}
	cm := newConnMgr(base, tracker, logger)
	gater.evictor = cm
	// yamux keepalive is off: dnode's ping protocol keeps channels alive,
	// and each keepalive costs a goroutine per connection.
	mux := *yamux.DefaultTransport
	mux.EnableKeepAlive = false

	var pstats *ProxyStats
	if cfg.Proxy != nil {
		pstats = new(ProxyStats)
	}
	tpts, err := transportOptions(cfg.Proxy, logger, pstats)
	if err != nil {
		cm.Close()
		rm.Close()
		return nil, err
	}
	external := cfg.External
	hst := &Host{Gater: gater, Conns: tracker, ConnMgr: cm, Proxy: pstats, log: logger, nat: cfg.NAT}
	var built atomic.Pointer[host.Host]
	opts := []libp2p.Option{
		libp2p.Identity(cfg.Identity),
		libp2p.ListenAddrs(cfg.Listen...),
		libp2p.NoTransports,
	}
	opts = append(opts, tpts...)
	opts = append(opts,
		libp2p.Security(noise.ID, noise.New),
		libp2p.Security(libp2ptls.ID, libp2ptls.New),
		libp2p.Muxer(yamux.ID, &mux),
		libp2p.ConnectionGater(gater),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.UserAgent(cfg.UserAgent),
		libp2p.ProtocolVersion(cfg.ProtocolVersion),
		libp2p.Ping(true),
	)
	opts = append(opts, natOptions(cfg.NAT, &built)...)
	opts = append(opts,
		libp2p.AddrsFactory(func(addrs []ma.Multiaddr) []ma.Multiaddr {
			addrs = append(addrs, external...)
			if o := hst.onion.Load(); o != nil {
				// First, so that caps on advertised addresses keep it.
				addrs = append([]ma.Multiaddr{*o}, addrs...)
			}
			return addrs
		}),
	)
	if len(cfg.Listen) == 0 {
		opts = append(opts, libp2p.NoListenAddrs)
	}
	if cfg.Metrics != nil {
		opts = append(opts, libp2p.PrometheusRegisterer(cfg.Metrics))
	} else {
		opts = append(opts, libp2p.DisableMetrics())
	}
	opts = append(opts, cfg.Libp2pOptions...)
	h, err := libp2p.New(opts...)
	if err != nil {
		cm.Close()
		rm.Close()
		if len(cfg.Listen) > 0 {
			return nil, fmt.Errorf("%w: %w", ErrListen, err)
		}
		return nil, err
	}
	hst.Host = h
	built.Store(&h)
	cm.setNetwork(h.Network())
	if o := cfg.Onion; o != nil {
		ctx, cancel := context.WithTimeout(context.Background(), torCommandTimeout)
		addr, ctl, err := publishOnion(ctx, *o, h, o.Listen)
		cancel()
		if err != nil {
			h.Close()
			return nil, fmt.Errorf("%w: %w", ErrListen, err)
		}
		hst.tor = ctl
		hst.onion.Store(&addr)
		logger.Info("onion service published", "addr", addr, "listener", o.Listen)
	}
	h.Network().Notify(tracker)
	return hst, nil
}

// OnionAddr returns the published /onion3 address, or nil.
func (h *Host) OnionAddr() ma.Multiaddr {
	if o := h.onion.Load(); o != nil {
		return *o
	}
	return nil
}

// Close closes every connection and listener and waits for the goroutines
// the Host started. It is safe to call more than once.
func (h *Host) Close() error {
	if h.tor != nil {
		h.tor.Close() // Tor removes the onion service
	}
	h.Network().StopNotify(h.Conns)
	h.Conns.close()
	err := h.Host.Close()
	h.Conns.wait()
	return err
}
