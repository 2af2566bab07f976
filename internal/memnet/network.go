package memnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// Errors of dials and listens.
var (
	ErrRefused    = fmt.Errorf("memnet: %w", syscall.ECONNREFUSED)
	ErrAddrInUse  = fmt.Errorf("memnet: %w", syscall.EADDRINUSE)
	ErrBadAddress = errors.New("memnet: not an /ip4 or /ip6 …/tcp/PORT address")
)

// backlog is how many dialled connections a listener queues before
// refusing more: Linux's default somaxconn. In a simulation thousands of
// nodes can dial a seed at the same instant, before its accept loop runs.
const backlog = 4096

// Network is an in-process network: listeners and dials of its transports
// meet here. Build it (New) inside the synctest bubble its hosts run in.
type Network struct {
	latency time.Duration

	mu        sync.Mutex
	listeners map[netip.AddrPort]*listener
	ports     map[netip.Addr]uint16 // the last ephemeral port given out, per IP
}

// New returns an empty network whose connections deliver bytes latency
// (one way) after they are written.
func New(latency time.Duration) *Network {
	return &Network{latency: latency, listeners: map[netip.AddrPort]*listener{}, ports: map[netip.Addr]uint16{}}
}

// tcpAddr parses an /ip4|ip6/…/tcp/PORT multiaddr.
func tcpAddr(a ma.Multiaddr) (netip.AddrPort, error) {
	na, err := manet.ToNetAddr(a)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: %s", ErrBadAddress, a)
	}
	t, ok := na.(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("%w: %s", ErrBadAddress, a)
	}
	return t.AddrPort(), nil
}

// listen registers a listener on ap.
func (n *Network) listen(ap netip.AddrPort) (*listener, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.listeners[ap]; ok {
		return nil, fmt.Errorf("%w: %s", ErrAddrInUse, ap)
	}
	l := &listener{net: n, ap: ap, wake: make(chan struct{}), done: make(chan struct{})}
	l.ma, _ = manet.FromNetAddr(net.TCPAddrFromAddrPort(ap))
	n.listeners[ap] = l
	return l, nil
}

// dial connects from the IP from to the listener on to: one round trip
// (unless ctx ends first), then the new conn's dialling end, or
// ErrRefused when nobody listens on to or its backlog is full.
func (n *Network) dial(ctx context.Context, from netip.Addr, to netip.AddrPort) (*Conn, error) {
	t := time.NewTimer(2 * n.latency)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
	}
	n.mu.Lock()
	l := n.listeners[to]
	n.ports[from]++
	if n.ports[from] < 32768 {
		n.ports[from] = 32768
	}
	local := netip.AddrPortFrom(from, n.ports[from])
	n.mu.Unlock()
	if l == nil {
		return nil, fmt.Errorf("%w: %s", ErrRefused, to)
	}
	c, s := pair(n.latency, net.TCPAddrFromAddrPort(local), net.TCPAddrFromAddrPort(to))
	if !l.enqueue(s) {
		return nil, fmt.Errorf("%w: %s", ErrRefused, to)
	}
	return c, nil
}

// listener is a manet.Listener of a Network.
type listener struct {
	net  *Network
	ap   netip.AddrPort
	ma   ma.Multiaddr
	once sync.Once
	done chan struct{}

	mu      sync.Mutex
	pending []*Conn       // dialled, not accepted yet (at most backlog)
	wake    chan struct{} // closed (and replaced) when a conn is queued
	closed  bool
}

// enqueue queues c for Accept; it reports false when the listener is
// closed or its backlog is full.
func (l *listener) enqueue(c *Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || len(l.pending) >= backlog {
		return false
	}
	l.pending = append(l.pending, c)
	close(l.wake)
	l.wake = make(chan struct{})
	return true
}

var _ manet.Listener = (*listener)(nil)

// Accept returns the next dialled conn; it fails with net.ErrClosed once
// the listener is closed.
func (l *listener) Accept() (manet.Conn, error) {
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return nil, net.ErrClosed
		}
		if len(l.pending) > 0 {
			c := l.pending[0]
			l.pending[0] = nil
			l.pending = l.pending[1:]
			if len(l.pending) == 0 {
				l.pending = nil
			}
			l.mu.Unlock()
			return c, nil
		}
		wake := l.wake
		l.mu.Unlock()
		select {
		case <-wake:
		case <-l.done:
		}
	}
}

// Close unregisters the listener and closes the conns it has not handed
// out; it is safe to call more than once.
func (l *listener) Close() error {
	l.once.Do(func() {
		l.net.mu.Lock()
		delete(l.net.listeners, l.ap)
		l.net.mu.Unlock()
		l.mu.Lock()
		l.closed = true
		pending := l.pending
		l.pending = nil
		l.mu.Unlock()
		close(l.done)
		for _, c := range pending {
			c.Close()
		}
	})
	return nil
}

func (l *listener) Addr() net.Addr          { return net.TCPAddrFromAddrPort(l.ap) }
func (l *listener) Multiaddr() ma.Multiaddr { return l.ma }
