package dnode

import (
	"slices"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/settings"
)

// live holds the settings that change at run time (DarkFi's
// P2p::reload): the outbound slot count, the inbound cap and the seeds.
// They start as the configured values and outlive a Stop: a node started
// again keeps them. Writers (Admin's setters) hold Node.life, so that a change and a Start
// or Stop never interleave; readers take mu.
type live struct {
	mu       sync.Mutex
	outbound int
	inbound  int
	seeds    []ma.Multiaddr
}

func (l *live) init(n *settings.Net) {
	l.outbound, l.inbound, l.seeds = n.OutboundConnections, n.InboundConnections, slices.Clone(n.Seeds)
}

// apply writes the live values into s.
func (l *live) apply(s *settings.Settings) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s.Net.OutboundConnections, s.Net.InboundConnections, s.Net.Seeds = l.outbound, l.inbound, slices.Clone(l.seeds)
}

// outboundSlots, inboundLimit and seedList return the live values.
func (l *live) outboundSlots() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.outbound
}

func (l *live) inboundLimit() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inbound
}

func (l *live) seedList() []ma.Multiaddr {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.seeds)
}

// isSeed reports whether p is one of the live seeds.
func (n *Node) isSeed(p peer.ID) bool {
	n.live.mu.Lock()
	defer n.live.mu.Unlock()
	return slices.ContainsFunc(n.live.seeds, func(a ma.Multiaddr) bool { return seedPeer(a) == p })
}

// isManual reports whether p is a configured manual peer or, in run r
// (nil when stopped), one added at run time.
func (n *Node) isManual(r *run, p peer.ID) bool {
	if slices.ContainsFunc(n.settings.Net.Peers, func(a ma.Multiaddr) bool { return seedPeer(a) == p }) {
		return true
	}
	if r == nil {
		return false
	}
	_, ok := r.manual.Peers()[p]
	return ok
}

// seedPeer returns the peer ID an address ends in ("" if none).
func seedPeer(a ma.Multiaddr) peer.ID {
	ai, err := peer.AddrInfoFromP2pAddr(a)
	if err != nil {
		return ""
	}
	return ai.ID
}

// applyLimits resizes run r's host limits to the live values, when the
// node owns its host.
func (n *Node) applyLimits(r *run) {
	if n.opts.host != nil {
		return
	}
	r.host.SetLimits(n.hostLimits())
}

// hostLimits returns the host's inbound cap and the outbound connections
// its resource limits count: every outbound slot, configured manual peer
// and seed.
func (n *Node) hostLimits() (inbound, outbound int) {
	n.live.mu.Lock()
	defer n.live.mu.Unlock()
	return n.live.inbound, n.live.outbound + len(n.settings.Net.Peers) + len(n.live.seeds)
}
