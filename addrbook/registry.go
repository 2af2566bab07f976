package addrbook

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// State is a host's registry state (DarkFi's HostState).
type State int

// Host states. A peer without a registry record is Free.
const (
	Free      State = iota // available (DarkFi's Free(ts))
	Insert                 // being inserted
	Refine                 // being probed by the refinery
	Connect                // being dialled
	Suspend                // dial or handshake failed; only the refinery may take it
	Connected              // has an established channel
	Move                   // being moved between lists
)

var stateNames = [...]string{"free", "insert", "refine", "connect", "suspend", "connected", "move"}

// String returns the state's lower-case name.
func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// Errors.
var (
	// ErrStateBlocked is returned, wrapped with the peer and the from and
	// to states, for a transition the table does not allow.
	ErrStateBlocked = errors.New("host state transition not allowed")
	// ErrNoHost is returned when no host fits a selection.
	ErrNoHost = errors.New("no suitable host")
	// ErrNotFound is returned when a host is not in the book.
	ErrNotFound = errors.New("host not found")
	// ErrBanned is returned by Connected for a peer in the Black list.
	ErrBanned = errors.New("host is banned")
	// ErrInvalidAddr is returned for an entry whose address has no peer.
	ErrInvalidAddr = errors.New("address does not end in /p2p/<peer-id>")
)

// allowed is DarkFi's transition table (target ← allowed from).
func allowed(from, to State) bool {
	switch to {
	case Free:
		return true
	case Insert, Connect:
		return from == Free
	case Refine:
		return from == Free || from == Suspend
	case Connected:
		return from == Free || from == Connect || from == Refine || from == Move
	case Move:
		return from == Free || from == Connect || from == Refine || from == Connected
	case Suspend:
		return from == Move
	}
	return false
}

// regRecord is one registry record. freed is set for Free records.
type regRecord struct {
	state State
	freed time.Time
}

// Registry bounds (DarkFi's).
const (
	RegistryPruneAge    = 24 * time.Hour // Free records older than this are pruned
	RegistryMax         = 20000          // above this, the oldest Free records are pruned...
	RegistryPruneTarget = 18000          // ...down to this
)

// State returns p's registry state; Free if it has no record.
func (b *Book) State(p peer.ID) State {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stateLocked(p)
}

// Transition moves p to state to, if DarkFi's table allows it:
//
//	Insert    ← Free
//	Refine    ← Free, Suspend
//	Connect   ← Free
//	Connected ← Free, Connect, Refine, Move
//	Move      ← Free, Connect, Refine, Connected
//	Suspend   ← Move
//	Free      ← any
//
// A blocked transition returns an error wrapping ErrStateBlocked and
// changes nothing. Moving to Free releases the host and records when.
func (b *Book) Transition(p peer.ID, to State) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.transitionLocked(p, to)
}

// Prune drops Free records older than RegistryPruneAge and, while the
// registry holds more than RegistryMax records, the oldest Free ones down
// to RegistryPruneTarget. Records in an active state are never dropped.
func (b *Book) Prune() {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	for p, r := range b.reg {
		if r.state == Free && now.Sub(r.freed) > RegistryPruneAge {
			delete(b.reg, p)
		}
	}
	b.pruneOverflowLocked()
}

// FreeSuspended frees every Suspended host (the refinery's offline pause,
// so that outbound can retry them once connectivity returns) and returns
// how many it freed.
func (b *Book) FreeSuspended() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	now := time.Now()
	for _, r := range b.reg {
		if r.state == Suspend {
			r.state, r.freed = Free, now
			n++
		}
	}
	return n
}

func (b *Book) stateLocked(p peer.ID) State {
	if r := b.reg[p]; r != nil {
		return r.state
	}
	return Free
}

func (b *Book) transitionLocked(p peer.ID, to State) error {
	from := b.stateLocked(p)
	if !allowed(from, to) {
		return fmt.Errorf("%w: %s: %s -> %s", ErrStateBlocked, p, from, to)
	}
	b.setStateLocked(p, to)
	return nil
}

// setStateLocked sets p's state without checking the table.
func (b *Book) setStateLocked(p peer.ID, to State) {
	r := b.reg[p]
	if r == nil {
		r = &regRecord{}
		b.reg[p] = r
	}
	r.state, r.freed = to, time.Time{}
	if to == Free {
		r.freed = time.Now()
	}
	if len(b.reg) > RegistryMax {
		b.pruneOverflowLocked()
	}
}

// pruneOverflowLocked drops the oldest Free records down to
// RegistryPruneTarget when the registry holds more than RegistryMax.
func (b *Book) pruneOverflowLocked() {
	if len(b.reg) <= RegistryMax {
		return
	}
	type freeRec struct {
		p     peer.ID
		freed time.Time
	}
	var free []freeRec
	for p, r := range b.reg {
		if r.state == Free {
			free = append(free, freeRec{p, r.freed})
		}
	}
	slices.SortFunc(free, func(x, y freeRec) int {
		if c := x.freed.Compare(y.freed); c != 0 {
			return c
		}
		return cmp.Compare(x.p, y.p)
	})
	for _, f := range free {
		if len(b.reg) <= RegistryPruneTarget {
			break
		}
		delete(b.reg, f.p)
	}
}
