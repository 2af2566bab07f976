package dnode

import (
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	dhost "github.com/dnode-p2p/dnode/host"
	"github.com/dnode-p2p/dnode/protocols/version"
	"github.com/dnode-p2p/dnode/settings"
)

// NATConfig returns the NAT traversal a host built for s runs, or nil
// when s.Net.NATTraversal is false (localnet, or every NAT key off).
// member says which peers belong to the node's network (relay ACL,
// AutoRelay candidates).
func NATConfig(s settings.Settings, member func(peer.ID) bool) *dhost.NAT {
	net := &s.Net
	if !net.NATTraversal() {
		return nil
	}
	r := network.ReachabilityUnknown
	switch net.Reachability {
	case settings.ReachabilityPublic:
		r = network.ReachabilityPublic
	case settings.ReachabilityPrivate:
		r = network.ReachabilityPrivate
	}
	return &dhost.NAT{
		AutoNAT:              net.AutoNAT,
		Reachability:         r,
		HolePunching:         net.HolePunching,
		PortMap:              net.NATPortMap,
		RelayService:         net.RelayService,
		RelayMaxReservations: net.RelayMaxReservations,
		Member:               member,
	}
}

// isMember reports whether p belongs to the running node's network: it
// has a channel with us, or identify told us it serves our network's
// version protocol (a seed's refinery probe, a peer between channels).
// These are the relay service's members and AutoRelay's candidates.
func (n *Node) isMember(p peer.ID) bool {
	r := n.cur.Load()
	if r == nil {
		return false
	}
	if r.mgr.Channel(p) != nil {
		return true
	}
	ps, err := r.host.Peerstore().SupportsProtocols(p, version.ID(n.settings.Network))
	return err == nil && len(ps) > 0
}

// Reachability is what the node knows about being reachable from the
// internet (Info.Reachability; p2p.get_info, dnode info).
type Reachability struct {
	// Status is "public", "private" or "unknown" (also while stopped and
	// without NAT traversal).
	Status string
	// Reachable are the addresses AutoNAT confirmed reachable.
	Reachable []ma.Multiaddr
	// Relayed reports that we hold a relay reservation: our circuit
	// addresses are among the host's addresses.
	Relayed bool
}

// reachability returns the running node's reachability.
func (n *Node) reachability() Reachability {
	r := Reachability{Status: "unknown"}
	h := n.host()
	if h == nil {
		return r
	}
	switch h.Reachability() {
	case network.ReachabilityPublic:
		r.Status = "public"
	case network.ReachabilityPrivate:
		r.Status = "private"
	}
	r.Reachable = h.ReachableAddrs()
	r.Relayed = len(h.RelayAddrs()) > 0
	return r
}
