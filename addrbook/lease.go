package addrbook

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Lease is a host taken from the book for a connection attempt
// (PickLease, TakeLease, ConnectLease): its peer stays in the Connect
// state, so that no other session dials it, until the lease records an
// outcome and ends. Every path ends it, whatever order its methods are
// called in:
//   - Connected: the handshake succeeded (Book.Connected: the host's
//     entries move to Gold, the peer to Connected); Done later records
//     the disconnect (Book.Disconnected: Grey, Free);
//   - Held: a channel with the peer exists that we did not dial (the peer
//     dialed us first, or another session did): the peer becomes
//     Connected without moving entries; Done frees it;
//   - Failed: the dial or handshake failed (Book.Failed: Grey,
//     Suspended, or Free if the book refuses); it ends the lease;
//   - Done: ends the lease: after Connected it is a disconnect,
//     otherwise it frees the peer (an interrupted dial, a duplicate).
//
// Each outcome is recorded once: the first of Connected, Held and Failed
// counts, and Done after Failed does nothing. Done is meant to be
// deferred right after the lease is taken. A Lease is safe for
// concurrent use; its methods call the Book and must not be called with
// the book's lock held (not from a Pick skip function).
type Lease struct {
	b *Book
	e Entry

	mu    sync.Mutex
	state leaseState
}

type leaseState uint8

const (
	leaseTaken leaseState = iota
	leaseConnected
	leaseHeld
	leaseEnded
)

// PickLease is Pick, returning the picked host as a lease.
func (b *Book) PickLease(known, allowGrey bool, skip func(Entry) bool) (*Lease, error) {
	e, err := b.Pick(known, allowGrey, skip)
	if err != nil {
		return nil, err
	}
	return &Lease{b: b, e: e}, nil
}

// TakeLease is Take, returning the taken host as a lease.
func (b *Book) TakeLease(e Entry) (*Lease, error) {
	if err := b.Take(e); err != nil {
		return nil, err
	}
	return &Lease{b: b, e: e}, nil
}

// ConnectLease moves e's peer to Connect (Transition) for a dial of an
// address chosen outside the book, such as a direct session's, and
// returns the lease; it fails, wrapping ErrStateBlocked, if the peer is
// not Free.
func (b *Book) ConnectLease(e Entry) (*Lease, error) {
	if err := b.Transition(e.Peer, Connect); err != nil {
		return nil, err
	}
	return &Lease{b: b, e: e}, nil
}

// Entry returns the leased host.
func (l *Lease) Entry() Entry { return l.e }

// Peer returns the leased host's peer.
func (l *Lease) Peer() peer.ID { return l.e.Peer }

// begin moves a taken lease to next and reports whether it was taken.
func (l *Lease) begin(next leaseState) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state != leaseTaken {
		return false
	}
	l.state = next
	return true
}

// Connected records a successful handshake with the host (Book.Connected)
// and returns the book's error, if any: then (banned meanwhile, say) the
// entries stay where they are and Done still records the disconnect. It
// does nothing once another outcome was recorded.
func (l *Lease) Connected() error {
	if !l.begin(leaseConnected) {
		return nil
	}
	return l.b.Connected(l.e)
}

// Held records that a channel with the peer exists that we did not dial:
// the peer becomes Connected (Transition) and Done frees it. It returns
// the book's error, if any; the peer then stays in Connect until Done. It
// does nothing once another outcome was recorded.
func (l *Lease) Held() error {
	if !l.begin(leaseHeld) {
		return nil
	}
	return l.b.Transition(l.e.Peer, Connected)
}

// Failed records a failed dial or handshake (Book.Failed) and ends the
// lease; if the book refuses the move, the peer is freed instead and the
// book's error returned. It does nothing once another outcome was
// recorded.
func (l *Lease) Failed() error {
	if !l.begin(leaseEnded) {
		return nil
	}
	err := l.b.Failed(l.e)
	if err != nil {
		l.b.Release(l.e.Peer)
	}
	return err
}

// Done ends the lease: after Connected it records the disconnect
// (Book.Disconnected), otherwise it frees the peer (Book.Release). It is
// idempotent.
func (l *Lease) Done() {
	l.mu.Lock()
	prev := l.state
	l.state = leaseEnded
	l.mu.Unlock()
	switch prev {
	case leaseConnected:
		l.b.Disconnected(l.e)
	case leaseTaken, leaseHeld:
		l.b.Release(l.e.Peer)
	}
}
