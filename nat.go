package dnode

import (
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	dhost "github.com/dnode-p2p/dnode/host"
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

// isMember reports whether p has a channel with the running node: the
// relay service's members and AutoRelay's candidates.
func (n *Node) isMember(p peer.ID) bool {
	mgr := n.Manager()
	return mgr != nil && mgr.Channel(p) != nil
}
