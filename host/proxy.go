package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/core/transport"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/quicreuse"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/libp2p/go-libp2p/p2p/transport/tcpreuse"
	ws "github.com/libp2p/go-libp2p/p2p/transport/websocket"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"golang.org/x/net/proxy"
)

// Errors of proxied dialing.
var (
	// ErrNoLocalDNS is what the host's multiaddr resolver answers when a
	// proxy is set: names are the proxy's to resolve, never ours.
	ErrNoLocalDNS = errors.New("no local DNS resolution with a proxy (names go to the proxy)")
	// ErrDirectDial is returned by a listen-only transport asked to dial.
	ErrDirectDial = errors.New("direct dial refused: a proxy is set")
)

// ProxyDialable reports whether a transport address (without /p2p) can be
// dialed through a SOCKS5 proxy: /ip4, /ip6, /dns, /dns4 or /dns6 with a
// plain /tcp port, or /onion3. QUIC (UDP) cannot go through SOCKS5's
// CONNECT, and WebSocket is not routed through the proxy.
func ProxyDialable(a ma.Multiaddr) bool {
	_, err := socksTarget(a)
	return err == nil
}

// socksTarget returns the host:port a SOCKS5 CONNECT for a names: an IP,
// a DNS name (sent unresolved, as SOCKS5's domain-name address type), or
// "<56 chars>.onion".
func socksTarget(a ma.Multiaddr) (string, error) {
	switch {
	case len(a) == 1 && a[0].Code() == ma.P_ONION3:
		// go-multiaddr's string form is "<base32 id>:<port>".
		id, port, ok := strings.Cut(a[0].Value(), ":")
		if !ok || len(id) != 56 {
			return "", fmt.Errorf("bad onion3 address %s", a)
		}
		return net.JoinHostPort(id+".onion", port), nil
	case len(a) == 2 && a[1].Code() == ma.P_TCP:
		switch a[0].Code() {
		case ma.P_IP4, ma.P_IP6, ma.P_DNS, ma.P_DNS4, ma.P_DNS6:
			host := a[0].Value()
			if host == "" {
				break
			}
			return net.JoinHostPort(host, a[1].Value()), nil
		}
	}
	return "", fmt.Errorf("%s cannot be dialed through a SOCKS5 proxy", a)
}

// newSOCKSDialer returns a dialer through the SOCKS5 proxy at u
// (socks5://[user[:password]@]host:port). The proxy's own address is the
// only name it may resolve locally.
func newSOCKSDialer(u *url.URL) (proxy.ContextDialer, error) {
	var auth *proxy.Auth
	if u.User != nil {
		pw, _ := u.User.Password()
		auth = &proxy.Auth{User: u.User.Username(), Password: pw}
	}
	d, err := proxy.SOCKS5("tcp", u.Host, auth, &net.Dialer{})
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", u.Redacted(), err)
	}
	cd, ok := d.(proxy.ContextDialer)
	if !ok {
		return nil, fmt.Errorf("proxy %s: dialer has no DialContext", u.Redacted())
	}
	return cd, nil
}

// socksTransport is a libp2p transport that dials every address it
// accepts (see ProxyDialable) through a SOCKS5 proxy and never resolves
// names: it implements transport.SkipResolver, so the swarm hands it /dns
// addresses as they are. It does not listen. Connections report the
// dialed address, not the proxy's, as their remote multiaddr.
type socksTransport struct {
	upgrader transport.Upgrader
	rcmgr    network.ResourceManager
	dialer   proxy.ContextDialer
	log      *slog.Logger
	dials    *atomic.Uint64
}

var (
	_ transport.Transport    = (*socksTransport)(nil)
	_ transport.SkipResolver = (*socksTransport)(nil)
)

func (t *socksTransport) CanDial(a ma.Multiaddr) bool { return ProxyDialable(a) }

// SkipResolve keeps every address unresolved: the proxy resolves names.
func (t *socksTransport) SkipResolve(context.Context, ma.Multiaddr) bool { return true }

// Protocols names /onion3, the one protocol no other transport claims;
// the swarm finds this transport for /ip*, /dns* TCP addresses by
// CanDial, since the TCP transport is listen-only with a proxy.
func (t *socksTransport) Protocols() []int { return []int{ma.P_ONION3} }

func (t *socksTransport) Proxy() bool { return false }

func (t *socksTransport) Listen(a ma.Multiaddr) (transport.Listener, error) {
	return nil, fmt.Errorf("cannot listen on %s: publish an onion service with net.tor_control", a)
}

// Dial opens a connection to raddr through the proxy and upgrades it
// (security, muxer). ctx bounds the SOCKS5 exchange too.
func (t *socksTransport) Dial(ctx context.Context, raddr ma.Multiaddr, p peer.ID) (transport.CapableConn, error) {
	target, err := socksTarget(raddr)
	if err != nil {
		return nil, err
	}
	scope, err := t.rcmgr.OpenConnection(network.DirOutbound, true, raddr)
	if err != nil {
		return nil, err
	}
	c, err := t.dial(ctx, raddr, target, p, scope)
	if err != nil {
		scope.Done()
		return nil, err
	}
	return c, nil
}

func (t *socksTransport) dial(ctx context.Context, raddr ma.Multiaddr, target string, p peer.ID, scope network.ConnManagementScope) (transport.CapableConn, error) {
	if err := scope.SetPeer(p); err != nil {
		return nil, err
	}
	t.dials.Add(1)
	nc, err := t.dialer.DialContext(ctx, "tcp", target)
	if err != nil {
		return nil, fmt.Errorf("via proxy: %w", err)
	}
	laddr, err := manet.FromNetAddr(nc.LocalAddr())
	if err != nil {
		nc.Close()
		return nil, err
	}
	t.log.Debug("dialed through proxy", "addr", raddr, "peer", p)
	return t.upgrader.Upgrade(ctx, t, &proxiedConn{Conn: nc, laddr: laddr, raddr: raddr}, network.DirOutbound, p, scope)
}

// proxiedConn is a connection to the proxy that names the dialed peer
// address as its remote end.
type proxiedConn struct {
	net.Conn
	laddr, raddr ma.Multiaddr
}

func (c *proxiedConn) LocalMultiaddr() ma.Multiaddr  { return c.laddr }
func (c *proxiedConn) RemoteMultiaddr() ma.Multiaddr { return c.raddr }

// listenOnly is a transport that listens but never dials: with a proxy,
// libp2p's own TCP, QUIC and WebSocket transports keep their listeners
// and the SOCKS5 transport does every dial.
type listenOnly struct{ transport.Transport }

func (listenOnly) CanDial(ma.Multiaddr) bool { return false }

func (listenOnly) Dial(context.Context, ma.Multiaddr, peer.ID) (transport.CapableConn, error) {
	return nil, ErrDirectDial
}

// Close closes the wrapped transport if it has a Close.
func (l listenOnly) Close() error {
	if c, ok := l.Transport.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// noDNS is the swarm's multiaddr resolver when a proxy is set: it refuses
// every lookup (and counts it), so no code path in the swarm can resolve
// a peer's name locally.
type noDNS struct {
	log   *slog.Logger
	calls *atomic.Uint64
}

func (r noDNS) ResolveDNSAddr(_ context.Context, _ peer.ID, a ma.Multiaddr, _, _ int) ([]ma.Multiaddr, error) {
	r.calls.Add(1)
	r.log.Warn("local DNS lookup refused (proxy set)", "addr", a)
	return nil, ErrNoLocalDNS
}

func (r noDNS) ResolveDNSComponent(_ context.Context, a ma.Multiaddr, _ int) ([]ma.Multiaddr, error) {
	r.calls.Add(1)
	r.log.Warn("local DNS lookup refused (proxy set)", "addr", a)
	return nil, ErrNoLocalDNS
}

// transportOptions returns the libp2p transport options: TCP, QUIC and
// WebSocket dialing directly without a proxy; with one, the same three
// listen-only and the SOCKS5 transport for every dial, and a resolver
// that refuses all lookups.
func transportOptions(px *url.URL, log *slog.Logger, st *ProxyStats) ([]libp2p.Option, error) {
	// No SO_REUSEPORT: with it a dial leaves from the listen port, so
	// two nodes dialing each other at once open one TCP connection
	// (simultaneous open) on which both run the security handshake as
	// initiator, and both dials fail. Hole punching, the one thing reuse
	// is for, goes over QUIC (its dials leave from the listen socket): a
	// TCP connection's observed address names an ephemeral port.
	if px == nil {
		return []libp2p.Option{
			libp2p.Transport(tcp.NewTCPTransport, tcp.DisableReuseport()),
			libp2p.Transport(quic.NewTransport),
			libp2p.Transport(ws.New),
		}, nil
	}
	d, err := newSOCKSDialer(px)
	if err != nil {
		return nil, err
	}
	return []libp2p.Option{
		libp2p.Transport(func(u transport.Upgrader, rcmgr network.ResourceManager, shared *tcpreuse.ConnMgr) (transport.Transport, error) {
			t, err := tcp.NewTCPTransport(u, rcmgr, shared, tcp.DisableReuseport())
			if err != nil {
				return nil, err
			}
			return listenOnly{t}, nil
		}),
		libp2p.Transport(func(key crypto.PrivKey, cm *quicreuse.ConnManager, psk pnet.PSK, g connmgr.ConnectionGater, rcmgr network.ResourceManager) (transport.Transport, error) {
			t, err := quic.NewTransport(key, cm, psk, g, rcmgr)
			if err != nil {
				return nil, err
			}
			return listenOnly{t}, nil
		}),
		libp2p.Transport(func(u transport.Upgrader, rcmgr network.ResourceManager, shared *tcpreuse.ConnMgr) (transport.Transport, error) {
			t, err := ws.New(u, rcmgr, shared)
			if err != nil {
				return nil, err
			}
			return listenOnly{t}, nil
		}),
		libp2p.Transport(func(u transport.Upgrader, rcmgr network.ResourceManager) (transport.Transport, error) {
			return &socksTransport{upgrader: u, rcmgr: rcmgr, dialer: d, log: log, dials: &st.Dials}, nil
		}),
		libp2p.MultiaddrResolver(noDNS{log: log, calls: &st.RefusedLookups}),
	}, nil
}

// ProxyStats count what the proxied transport did. Safe for concurrent
// use.
type ProxyStats struct {
	Dials          atomic.Uint64 // dials handed to the proxy
	RefusedLookups atomic.Uint64 // local DNS lookups the swarm asked for and was refused
}
