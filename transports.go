package dnode

import (
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/addrbook"
	dhost "github.com/dnode-p2p/dnode/host"
	"github.com/dnode-p2p/dnode/settings"
)

// The transport-mixing rules (docs/config.md, "Transport mixing"):
// without net.proxy the node dials tcp, quic and ws directly (and, with
// NAT traversal, circuit relay addresses) and cannot reach onions; with it, every dial goes through the proxy, so tcp
// (/ip*, /dns* names sent unresolved) and onion3 are dialable and quic and
// ws are not. Undialable addresses stay on the dark list.

// directTransports are the transports a node without a proxy dials.
var directTransports = []string{settings.ProfileTCP, settings.ProfileQUIC, settings.ProfileWS}

// proxiedTransports are the transports a node dials through its proxy.
var proxiedTransports = []string{settings.ProfileTCP, addrbook.TransportOnion3}

// proxied reports whether the node dials through a proxy.
func (n *Node) proxied() bool { return n.settings.Net.Proxy != "" }

// natTransports are the transports a node with NAT traversal (and no
// proxy) dials: the direct ones and circuit relay addresses.
var natTransports = []string{settings.ProfileTCP, settings.ProfileQUIC, settings.ProfileWS, addrbook.TransportCircuit}

// dialsCircuits reports whether the node dials circuit relay addresses:
// it has NAT traversal (so the relay transport) and no proxy.
func (n *Node) dialsCircuits() bool { return !n.proxied() && n.settings.Net.NATTraversal() }

// dialableTransports names the transports the node asks for in GetAddrs.
func (n *Node) dialableTransports() []string {
	switch {
	case n.proxied():
		return proxiedTransports
	case n.dialsCircuits():
		return natTransports
	}
	return directTransports
}

// dialer is the address book's Dialer: nil (the book's default, the
// direct transports) without a proxy or NAT traversal; with NAT
// traversal also circuit addresses.
func (n *Node) dialer() addrbook.Dialer {
	if n.dialsCircuits() {
		return addrbook.DialableFunc(func(a ma.Multiaddr) bool {
			t := addrbook.Transport(a)
			return t != "" && t != addrbook.TransportOnion3
		})
	}
	if !n.proxied() {
		return nil
	}
	return addrbook.DialableFunc(func(a ma.Multiaddr) bool {
		tr, _ := peer.SplitAddr(a)
		return dhost.ProxyDialable(tr)
	})
}

// onionConfig returns the host's onion service settings, nil without
// net.tor_control.
func (n *Node) onionConfig() *dhost.Onion { return OnionConfig(n.settings) }

// OnionConfig returns the onion service a host built for s publishes (see
// net.tor_control), or nil when s has no tor_control. The key is kept in
// s's datastore (host.OnionKeyFile).
func OnionConfig(s settings.Settings) *dhost.Onion {
	net := &s.Net
	if net.TorControl == "" {
		return nil
	}
	return &dhost.Onion{
		Control:  net.TorControl,
		Password: net.TorControlPassword,
		KeyPath:  filepath.Join(s.Datastore, dhost.OnionKeyFile),
		Listen:   settings.OnionTarget(net.Inbound),
	}
}

// withOnion returns the settings the sessions run with: the node's
// (currentSettings, with the runtime values), with h's onion address added to
// configured external addresses (without any, the sessions advertise h's
// addresses, which include it).
func (n *Node) withOnion(h *dhost.Host) settings.Settings {
	s := n.currentSettings()
	if o := h.OnionAddr(); o != nil && len(s.Net.ExternalAddrs) > 0 {
		s.Net.ExternalAddrs = append([]ma.Multiaddr{o}, s.Net.ExternalAddrs...)
	}
	return s
}
