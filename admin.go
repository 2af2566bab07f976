package dnode

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/sessions"
	"github.com/dnode-p2p/dnode/settings"
)

// Errors of the run-time settings (Admin's SetOutboundSlots,
// SetInboundLimit, AddSeed, RemoveSeed).
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

// Admin is the operator's half of a Node (p2p.* RPC methods, dnode's CLI):
// run-time changes of the slot counts and the seeds (DarkFi's
// P2p::reload), manual peers added and removed while running, and timed
// bans. Node.Admin returns it; a Node has exactly one, built by New.
//
// Its methods are safe for concurrent use, with each other and with the
// Node's. The settings setters (SetOutboundSlots, SetInboundLimit,
// AddSeed, RemoveSeed) and Seeds are valid before Start and after Stop
// (a stopped node keeps the values for its next Start); AddPeer,
// RemovePeer and BanFor need a running node and return ErrNotRunning
// otherwise. None of them blocks on the network.
type Admin struct {
	n *Node
}

// Admin returns the node's operator controls; every call returns the same
// handle.
func (n *Node) Admin() *Admin { return n.admin }

// Seeds returns the seeds: net.seeds with the changes of AddSeed and
// RemoveSeed, in order.
func (a *Admin) Seeds() []ma.Multiaddr { return a.n.live.seedList() }

// SetOutboundSlots sets the number of outbound slots (0..1024, the bounds
// of net.outbound_connections; otherwise the error wraps ErrOutOfRange).
// A running node applies it at once: new slots start dialing, removed
// slots (the highest) stop their channels; the GetAddrs size that
// follows the slot count (net.getaddrs_max 0) follows it too. A stopped
// node uses it at its next Start. It does not wait for channels to
// close.
func (a *Admin) SetOutboundSlots(slots int) error {
	if slots < 0 || slots > settings.MaxOutboundConnections {
		return fmt.Errorf("%w: net.outbound_connections must be 0..%d, got %d", ErrOutOfRange, settings.MaxOutboundConnections, slots)
	}
	n := a.n
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
// shared host (WithHost) refuses it with ErrSharedHost.
func (a *Admin) SetInboundLimit(limit int) error {
	if limit < 0 || limit > settings.MaxInboundConnections {
		return fmt.Errorf("%w: net.inbound_connections must be 0..%d, got %d", ErrOutOfRange, settings.MaxInboundConnections, limit)
	}
	n := a.n
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
func (a *Admin) AddSeed(addr ma.Multiaddr) error {
	if err := settings.CheckSeedAddr(addr); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSeed, err)
	}
	ai, err := peer.AddrInfoFromP2pAddr(addr)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadSeed, err)
	}
	n := a.n
	n.life.Lock()
	defer n.life.Unlock()
	r := n.cur.Load()
	if r != nil && ai.ID == r.host.ID() {
		return fmt.Errorf("%w: it is our own peer ID", ErrBadSeed)
	}
	if len(n.live.seedList()) >= MaxSeeds {
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
// addresses may enter the host lists from then on.
func (a *Admin) RemoveSeed(addr ma.Multiaddr) error {
	ai, err := peer.AddrInfoFromP2pAddr(addr)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadSeed, err)
	}
	n := a.n
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

// AddPeer adds a manual peer (a multiaddr ending in /p2p/<id>) to the
// running node; it keeps a channel to it until RemovePeer or Stop.
func (a *Admin) AddPeer(addr ma.Multiaddr) error {
	m := a.n.manual()
	if m == nil {
		return ErrNotRunning
	}
	return m.Add(addr)
}

// RemovePeer removes the manual peer named by addr (its /p2p/ part
// counts) and closes the channel its slot opened. It reports whether the
// peer was a manual peer.
func (a *Admin) RemovePeer(addr ma.Multiaddr) (bool, error) {
	m := a.n.manual()
	if m == nil {
		return false, ErrNotRunning
	}
	ai, err := peer.AddrInfoFromP2pAddr(addr)
	if err != nil {
		return false, err
	}
	return m.Remove(ai.ID), nil
}

// BanFor bans peer p (and addr's IP if it is public; addr may be nil, then
// the address of p's channel is used) for d, or for the configured
// ban_duration when d is 0, and closes p's channels. Node.Ban is BanFor
// with neither.
func (a *Admin) BanFor(p peer.ID, addr ma.Multiaddr, d time.Duration, reason string) error {
	return a.n.banFor(p, addr, d, reason)
}
