package sessions

import (
	"errors"
	"iter"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dnode-p2p/dnode/addrbook"
)

// The session policies as pure functions: the drivers (Outbound, the
// inbound session, Manager.setup) gather the facts under their locks and
// act on the answer. To change a policy, change its function here and its
// table in decide_test.go.

// Reasons an outbound slot may not take a host (SlotCheck).
var (
	// ErrSlotSelf: the host is this node.
	ErrSlotSelf = errors.New("slot: host is this node")
	// ErrSlotPeer: another slot holds the host's peer.
	ErrSlotPeer = errors.New("slot: another slot holds the peer")
	// ErrSlotNetgroup: another slot holds a host of the host's netgroup.
	ErrSlotNetgroup = errors.New("slot: another slot holds a host of its netgroup")
)

// SlotCheck is the rule an outbound slot picks by: it returns why a host
// at e may not fill the slot (ErrSlotSelf, ErrSlotPeer, ErrSlotNetgroup),
// or nil. others yields the peer and group (SlotGroup) of every other
// slot's host; the netgroup rule does not apply under localnet.
func SlotCheck(e addrbook.Entry, self peer.ID, localnet bool, others iter.Seq2[peer.ID, string]) error {
	if e.Peer == self {
		return ErrSlotSelf
	}
	group := SlotGroup(e.Addr, localnet)
	for p, g := range others {
		if p == e.Peer {
			return ErrSlotPeer
		}
		if group != "" && g == group {
			return ErrSlotNetgroup
		}
	}
	return nil
}

// SlotConflict reports whether SlotCheck refuses e. Simulations of
// outbound selection use it too.
func SlotConflict(e addrbook.Entry, self peer.ID, localnet bool, others iter.Seq2[peer.ID, string]) bool {
	return SlotCheck(e, self, localnet, others) != nil
}

// Reasons a handshake is not admitted (admit), besides ErrStopped and
// ErrAlreadyConnected.
var (
	// ErrInProgress: a handshake with the peer in the same direction is
	// already running.
	ErrInProgress = errors.New("handshake with peer already in progress")
	// errSameConn: the peer's handshake runs on a connection on which our
	// own handshake runs too, and ours wins (our ID is smaller).
	errSameConn = errors.New("our handshake on the same connection wins")
)

// admission is what admit decides on: a handshake with peer, opened by
// initiator (self for Connect, peer for the inbound session).
type admission struct {
	self, peer, initiator peer.ID
	stopping              bool // the Manager is stopping
	connected             bool // a started channel with peer exists
	// running lists the handshakes with peer already in progress.
	running []runningHandshake
}

// runningHandshake is a handshake in progress, as admit sees it.
type runningHandshake struct {
	initiator peer.ID
	sameConn  bool // it runs on the connection of the one being admitted
}

// admit returns why a handshake is refused, or nil:
//   - ErrStopped: the Manager stops;
//   - ErrAlreadyConnected: we would dial a peer we have a channel with
//     (the peer may still dial us: the pair rule resolves that);
//   - ErrInProgress: a handshake in the same direction runs;
//   - errSameConn: the peer's handshake arrives on the connection where
//     ours runs and ours wins (self < peer); the peer then takes the
//     channel ours makes. A connection carries one handshake that makes
//     a channel, so the larger ID yields on both sides.
//
// A handshake in the other direction on another connection is admitted:
// both run to completion and keepNew resolves the pair.
func admit(a admission) error {
	switch {
	case a.stopping:
		return ErrStopped
	case a.connected && a.initiator == a.self:
		return ErrAlreadyConnected
	}
	for _, o := range a.running {
		if o.initiator == a.initiator {
			return ErrInProgress
		}
	}
	if a.initiator == a.peer {
		for _, o := range a.running {
			if o.initiator == a.self && o.sameConn && a.self < a.peer {
				return errSameConn
			}
		}
	}
	return nil
}

// keepNew is the pair rule: for a peer that already has a channel opened
// by oldInit, whether the newly handshaken channel opened by newInit
// replaces it. It depends only on the two initiators, which both peers
// know from the handshakes they admitted, so both keep the same channel
// whatever order the handshakes end in:
//   - same initiator: that side opened the new one because it considers
//     the old one gone, so the new one wins;
//   - otherwise the channel opened by the smaller peer ID wins.
//
// A channel that is stale on the larger side (its connection died
// without the smaller side noticing) thus keeps refusing the larger
// side's dials until the smaller side notices, at its next write (ping)
// at the latest.
func keepNew(oldInit, newInit peer.ID) bool {
	return oldInit == newInit || newInit < oldInit
}

// outcome groups what Connect returned, for the sessions to act on.
type outcome int

const (
	// outcomeOwn: a new channel, the caller's.
	outcomeOwn outcome = iota
	// outcomeShared: a channel with the peer exists (another session's or
	// the one the peer's handshake made), returned with the error; it is
	// not the caller's to stop.
	outcomeShared
	// outcomeBusy: the peer is being connected some other way right now
	// (a handshake in the same direction runs, or the peer's won and its
	// channel is gone already): not the host's fault.
	outcomeBusy
	// outcomeSelf: the address is our own.
	outcomeSelf
	// outcomeStopped: the Manager stops.
	outcomeStopped
	// outcomeFailed: the dial or the handshake failed: the host's fault
	// as far as we can tell.
	outcomeFailed
)

// connectOutcome classifies Connect's result: hasCh reports whether it
// returned a channel, err is its error.
func connectOutcome(hasCh bool, err error) outcome {
	switch {
	case err == nil:
		return outcomeOwn
	case errors.Is(err, ErrStopped):
		return outcomeStopped
	case errors.Is(err, ErrAlreadyConnected), errors.Is(err, ErrDuplicate):
		if hasCh {
			return outcomeShared
		}
		return outcomeBusy
	case errors.Is(err, ErrInProgress):
		return outcomeBusy
	case errors.Is(err, ErrSelf):
		return outcomeSelf
	}
	return outcomeFailed
}
