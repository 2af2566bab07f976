package host

import (
	"context"
	"sync/atomic"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/host/autorelay"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/proto"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	ma "github.com/multiformats/go-multiaddr"
)

// memberACL is the relay service's ACL: reservations and circuits for
// members of our network only (NAT.Member), so a dnode relay never
// carries strangers' traffic.
type memberACL struct{ member func(peer.ID) bool }

var _ relayv2.ACLFilter = memberACL{}

func (a memberACL) is(p peer.ID) bool { return a.member != nil && a.member(p) }

// AllowReserve implements relayv2.ACLFilter: the peer must be a member.
func (a memberACL) AllowReserve(p peer.ID, _ ma.Multiaddr) bool { return a.is(p) }

// AllowConnect implements relayv2.ACLFilter: both ends must be members.
func (a memberACL) AllowConnect(src peer.ID, _ ma.Multiaddr, dest peer.ID) bool {
	return a.is(src) && a.is(dest)
}

// relayServiceOption is the member-only limited relay: libp2p's default
// resources and limits, with cfg's reservation cap.
func relayServiceOption(cfg *NAT) libp2p.Option {
	res := relayv2.DefaultResources()
	res.MaxReservations = cfg.RelayMaxReservations
	return libp2p.EnableRelayService(
		relayv2.WithResources(res),
		relayv2.WithACL(memberACL{member: cfg.Member}),
	)
}

// autoRelayOption is AutoRelay fed with the connected members that
// support the relay hop protocol. built holds the libp2p host once New
// has it.
func autoRelayOption(cfg *NAT, built *atomic.Pointer[host.Host]) libp2p.Option {
	return libp2p.EnableAutoRelayWithPeerSource(
		func(_ context.Context, num int) <-chan peer.AddrInfo {
			var peers []peer.AddrInfo
			if hp := built.Load(); hp != nil {
				h := *hp
				ids := relayCandidates(h.Network().Peers(), cfg.Member, func(p peer.ID) bool {
					ps, err := h.Peerstore().SupportsProtocols(p, protocol.ID(proto.ProtoIDv2Hop))
					return err == nil && len(ps) > 0
				}, num)
				for _, p := range ids {
					peers = append(peers, peer.AddrInfo{ID: p, Addrs: h.Peerstore().Addrs(p)})
				}
			}
			out := make(chan peer.AddrInfo, len(peers))
			for _, ai := range peers {
				out <- ai
			}
			close(out)
			return out
		},
		autorelay.WithMinCandidates(1),
		autorelay.WithMinInterval(autoRelayMinInterval),
		autorelay.WithBackoff(autoRelayBackoff),
	)
}

// relayCandidates returns at most num of peers that are members and
// support the hop protocol, in order.
func relayCandidates(peers []peer.ID, member, hop func(peer.ID) bool, num int) []peer.ID {
	var out []peer.ID
	for _, p := range peers {
		if len(out) >= num {
			break
		}
		if member != nil && member(p) && hop(p) {
			out = append(out, p)
		}
	}
	return out
}
