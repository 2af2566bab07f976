package memnet

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/transport"
	ma "github.com/multiformats/go-multiaddr"
)

// Transport is a go-libp2p transport.Transport on a Network, for one
// host: it dials from its IP and listens on /ip4|ip6/…/tcp/PORT addresses.
type Transport struct {
	net      *Network
	ip       netip.Addr
	upgrader transport.Upgrader
	rcmgr    network.ResourceManager
}

var _ transport.Transport = (*Transport)(nil)

// Constructor returns a transport constructor for libp2p.Transport: the
// host's transport dials from ip (its connections' local address, what
// the listening side sees as the remote IP). Use one constructor per
// host.
func (n *Network) Constructor(ip netip.Addr) func(transport.Upgrader, network.ResourceManager) (transport.Transport, error) {
	return func(u transport.Upgrader, rcmgr network.ResourceManager) (transport.Transport, error) {
		if rcmgr == nil {
			rcmgr = &network.NullResourceManager{}
		}
		return &Transport{net: n, ip: ip, upgrader: u, rcmgr: rcmgr}, nil
	}
}

// Dial connects to raddr, expecting peer p, and upgrades the conn.
func (t *Transport) Dial(ctx context.Context, raddr ma.Multiaddr, p peer.ID) (transport.CapableConn, error) {
	to, err := tcpAddr(raddr)
	if err != nil {
		return nil, err
	}
	scope, err := t.rcmgr.OpenConnection(network.DirOutbound, true, raddr)
	if err != nil {
		return nil, err
	}
	if err := scope.SetPeer(p); err != nil {
		scope.Done()
		return nil, err
	}
	c, err := t.net.dial(ctx, t.ip, to)
	if err != nil {
		scope.Done()
		return nil, err
	}
	dir := network.DirOutbound
	if ok, isClient, _ := network.GetSimultaneousConnect(ctx); ok && !isClient {
		dir = network.DirInbound
	}
	cc, err := t.upgrader.Upgrade(ctx, t, c, dir, p, scope)
	if err != nil {
		// The upgrader has closed the conn and released the scope.
		return nil, err
	}
	return cc, nil
}

// CanDial reports whether addr is exactly an IP and a TCP port.
func (t *Transport) CanDial(addr ma.Multiaddr) bool {
	if len(addr) != 2 || addr[1].Code() != ma.P_TCP {
		return false
	}
	c := addr[0].Code()
	return c == ma.P_IP4 || c == ma.P_IP6
}

// Listen listens on laddr, which must name an IP and a port (no port 0).
func (t *Transport) Listen(laddr ma.Multiaddr) (transport.Listener, error) {
	ap, err := tcpAddr(laddr)
	if err != nil {
		return nil, err
	}
	if ap.Port() == 0 {
		return nil, fmt.Errorf("%w: port 0 is not supported: %s", ErrBadAddress, laddr)
	}
	l, err := t.net.listen(ap)
	if err != nil {
		return nil, err
	}
	return t.upgrader.UpgradeGatedMaListener(t, t.upgrader.GateMaListener(l)), nil
}

// Protocols returns TCP's protocol code.
func (t *Transport) Protocols() []int { return []int{ma.P_TCP} }

// Proxy reports false.
func (t *Transport) Proxy() bool { return false }

func (t *Transport) String() string { return "memnet" }
