package dnode

import (
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/addrbook"
	dhost "github.com/dnode-p2p/dnode/host"
	"github.com/dnode-p2p/dnode/settings"
)

// The transport-mixing rules (docs/config.md, "Transport mixing"):
// without net.proxy the node dials tcp, quic and ws directly and cannot
// reach onions; with it, every dial goes through the proxy, so tcp
// (/ip*, /dns* names sent unresolved) and onion3 are dialable and quic and
// ws are not. Undialable addresses stay on the dark list.

// directTransports are the transports a node without a proxy dials.
var directTransports = []string{settings.ProfileTCP, settings.ProfileQUIC, settings.ProfileWS}

// proxiedTransports are the transports a node dials through its proxy.
var proxiedTransports = []string{settings.ProfileTCP, addrbook.TransportOnion3}

// proxied reports whether the node dials through a proxy.
func (n *Node) proxied() bool { return n.settings.Net.Proxy != "" }

// dialableTransports names the transports the node asks for in GetAddrs.
func (n *Node) dialableTransports() []string {
	if n.proxied() {
		return proxiedTransports
	}
	return directTransports
}

// dialable is the address book's Dialable: nil (the book's default, the
// direct transports) without a proxy.
func (n *Node) dialable() func(ma.Multiaddr) bool {
	if !n.proxied() {
		return nil
	}
	return func(a ma.Multiaddr) bool {
		tr, _ := peer.SplitAddr(a)
		return dhost.ProxyDialable(tr)
	}
}
