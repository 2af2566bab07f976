package dnode

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/sessions"
	"github.com/dnode-p2p/dnode/settings"
)

// Errors of the runtime settings (SetOutboundSlots, SetInboundLimit,
// AddSeed, RemoveSeed).
var (
	// ErrOutOfRange: a slot count outside the bounds of its setting
	// (net.outbound_connections 0..1024, net.inbound_connections
	// 0..65536).
	ErrOutOfRange = errors.New("out of range")
	// ErrBadSeed: a seed address that net.seeds would refuse (it must end
	// in /p2p/<peer-id> after a transport address), or our own.
	ErrBadSeed = errors.New("invalid seed address")
	// ErrSeedExists: the peer is a seed already.
	ErrSeedExists = errors.New("seed already configured")
	// ErrSeedIsPeer: the peer is a manual peer; seeds are only used for
	// seeding.
	ErrSeedIsPeer = errors.New("the seed is a manual peer")
	// ErrTooManySeeds: AddSeed while MaxSeeds seeds are configured.
	ErrTooManySeeds = errors.New("too many seeds")
	// ErrNotSeed: RemoveSeed of a peer that is not a seed.
	ErrNotSeed = errors.New("not a seed")
	// ErrSharedHost: the node runs on a host given with WithHost, whose
	// inbound cap belongs to its owner (a seed serving many networks).
	ErrSharedHost = errors.New("the host is shared (WithHost): its inbound cap belongs to its owner")
)

// MaxSeeds bounds the seed list AddSeed grows (configured seeds count).
const MaxSeeds = 1024

// live holds the settings that change at run time (DarkFi's
// P2p::reload): the outbound slot count, the inbound cap and the seeds.
// They start as the configured values and outlive a Stop: a node started
// again keeps them. Writers hold Node.life, so that a change and a Start
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

func (l *live) outboundSlots() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.outbound
}

// OutboundConnections returns the outbound slot count: net.outbound_connections,
// or the last SetOutboundSlots.
func (n *Node) OutboundConnections() int { return n.live.outboundSlots() }

// InboundConnections returns the inbound cap: net.inbound_connections, or
// the last SetInboundLimit.
func (n *Node) InboundConnections() int {
	n.live.mu.Lock()
	defer n.live.mu.Unlock()
	return n.live.inbound
}

// Seeds returns the seeds: net.seeds with the changes of AddSeed and
// RemoveSeed, in order.
func (n *Node) Seeds() []ma.Multiaddr {
	n.live.mu.Lock()
	defer n.live.mu.Unlock()
	return slices.Clone(n.live.seeds)
}

// SetOutboundSlots sets the number of outbound slots (0..1024, the bounds
// of net.outbound_connections; otherwise the error wraps ErrOutOfRange).
// A running node applies it at once: new slots start dialing, removed
// slots (the highest) stop their channels; the GetAddrs size that
// follows the slot count (net.getaddrs_max 0) follows it too. A stopped
// node uses it at its next Start. Safe for concurrent use; it does not
// wait for channels to close.
func (n *Node) SetOutboundSlots(slots int) error {
	if slots < 0 || slots > settings.MaxOutboundConnections {
		return fmt.Errorf("%w: net.outbound_connections must be 0..%d, got %d", ErrOutOfRange, settings.MaxOutboundConnections, slots)
	}
	n.life.Lock()
	defer n.life.Unlock()
	n.live.mu.Lock()
	n.live.outbound = slots
	n.live.mu.Unlock()
	if r := n.cur.Load(); r != nil {
		r.outbound.SetSlots(slots)
		n.applyLimits(r)
	}
	return nil
}

// SetInboundLimit sets the inbound cap (0..65536, the bounds of
// net.inbound_connections; otherwise the error wraps ErrOutOfRange). A
// running node applies it at once to its connection gater and libp2p's
// resource manager; lowering it below the live inbound count drops no
// peer, newcomers are refused until the count is under it. A node on a
// shared host (WithHost) refuses it with ErrSharedHost. Safe for
// concurrent use.
func (n *Node) SetInboundLimit(limit int) error {
	if limit < 0 || limit > settings.MaxInboundConnections {
		return fmt.Errorf("%w: net.inbound_connections must be 0..%d, got %d", ErrOutOfRange, settings.MaxInboundConnections, limit)
	}
	if n.opts.host != nil {
		return ErrSharedHost
	}
	n.life.Lock()
	defer n.life.Unlock()
	n.live.mu.Lock()
	n.live.inbound = limit
	n.live.mu.Unlock()
	if r := n.cur.Load(); r != nil {
		n.applyLimits(r)
	}
	return nil
}

// AddSeed adds a seed (a multiaddr ending in /p2p/<id>, checked as
// net.seeds; otherwise the error wraps ErrBadSeed). On a running node it
// is at once a seed for every session, as a configured one: the address
// book drops and never stores its addresses, no manual or direct channel
// goes to it, and the seed-sync session asks it for addresses right away
// (in the background) and at every later round. A peer that is a seed
// already (ErrSeedExists) or a manual peer (ErrSeedIsPeer) is refused, and
// so is a seed past MaxSeeds (ErrTooManySeeds).
// Safe for concurrent use.
func (n *Node) AddSeed(addr ma.Multiaddr) error {
	if err := settings.CheckSeedAddr(addr); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSeed, err)
	}
	ai, err := peer.AddrInfoFromP2pAddr(addr)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadSeed, err)
	}
	n.life.Lock()
	defer n.life.Unlock()
	r := n.cur.Load()
	if r != nil && ai.ID == r.host.ID() {
		return fmt.Errorf("%w: it is our own peer ID", ErrBadSeed)
	}
	if len(n.Seeds()) >= MaxSeeds {
		return fmt.Errorf("%w: at most %d", ErrTooManySeeds, MaxSeeds)
	}
	if n.isSeed(ai.ID) {
		return fmt.Errorf("%w: %s", ErrSeedExists, ai.ID)
	}
	if n.isManual(r, ai.ID) {
		return fmt.Errorf("%w: %s", ErrSeedIsPeer, ai.ID)
	}
	if r != nil {
		if err := r.seedsync.Add(*ai); err != nil && !errors.Is(err, sessions.ErrSeedExists) {
			return fmt.Errorf("%w: %w", ErrBadSeed, err)
		}
	}
	n.live.mu.Lock()
	n.live.seeds = append(n.live.seeds, addr)
	n.live.mu.Unlock()
	if r != nil {
		n.applyLimits(r)
	}
	return nil
}

// RemoveSeed removes the seed whose peer ID ends addr (the transport
// part does not matter); ErrNotSeed if there is none. A running node
// stops asking it at once (an exchange in progress finishes) and its
// addresses may enter the host lists from then on. Safe for concurrent
// use.
func (n *Node) RemoveSeed(addr ma.Multiaddr) error {
	ai, err := peer.AddrInfoFromP2pAddr(addr)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadSeed, err)
	}
	n.life.Lock()
	defer n.life.Unlock()
	n.live.mu.Lock()
	i := slices.IndexFunc(n.live.seeds, func(a ma.Multiaddr) bool { return seedPeer(a) == ai.ID })
	if i >= 0 {
		n.live.seeds = slices.Delete(n.live.seeds, i, i+1)
	}
	n.live.mu.Unlock()
	if i < 0 {
		return fmt.Errorf("%w: %s", ErrNotSeed, ai.ID)
	}
	if r := n.cur.Load(); r != nil {
		r.seedsync.Remove(ai.ID)
		n.applyLimits(r)
	}
	return nil
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
