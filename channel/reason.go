package channel

import (
	"context"
	"errors"
	"os"
)

// StopKind is the class of a channel's stop reason.
type StopKind uint8

// The stop kinds.
const (
	// StopLocal: this node stopped the channel (Stop(nil), a session
	// done with it, shutdown).
	StopLocal StopKind = iota
	// StopDuplicate: the channel lost the one-channel-per-peer rule.
	StopDuplicate
	// StopBanned: its peer was banned.
	StopBanned
	// StopClosed: its connection or one of its streams closed or failed.
	StopClosed
	// StopTimeout: a read or write deadline passed.
	StopTimeout
	// StopViolation: the peer broke the protocol.
	StopViolation
	// StopEvicted: the channel was closed to make room for another
	// (inbound eviction gave its inbound slot to a newcomer).
	StopEvicted
)

var stopKindNames = [...]string{"local", "duplicate", "banned", "closed", "timeout", "violation", "evicted"}

// String returns the kind's name ("local", "duplicate", ...).
func (k StopKind) String() string {
	if int(k) < len(stopKindNames) {
		return stopKindNames[k]
	}
	return "unknown"
}

// StopReason is why a channel stopped, as Channel.Err returns it: its
// Kind and the error given to Stop. Its message is Err's; errors.Is and
// errors.As see through it to Err.
type StopReason struct {
	Kind StopKind
	Err  error
}

// Error returns Err's message.
func (r *StopReason) Error() string { return r.Err.Error() }

// Unwrap returns Err.
func (r *StopReason) Unwrap() error { return r.Err }

// Is reports a local stop as ErrStopped: errors.Is(ch.Err(), ErrStopped)
// holds for every StopLocal reason (Stop(nil), a network's shutdown).
func (r *StopReason) Is(target error) bool { return target == ErrStopped && r.Kind == StopLocal }

// Because returns err as a stop reason of kind k, for Stop, when the kind
// cannot be told from err itself (a duplicate, a ban).
func Because(k StopKind, err error) error { return &StopReason{Kind: k, Err: err} }

// KindOf returns the stop kind of err: that of a StopReason in its chain;
// otherwise StopViolation for ErrViolation, StopTimeout for a deadline
// (os.ErrDeadlineExceeded, context.DeadlineExceeded), StopLocal for nil
// and ErrStopped, and StopClosed for anything else (a failed read or
// write, a closed connection).
func KindOf(err error) StopKind {
	var r *StopReason
	switch {
	case errors.As(err, &r):
		return r.Kind
	case err == nil, errors.Is(err, ErrStopped):
		return StopLocal
	case errors.Is(err, ErrViolation):
		return StopViolation
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return StopTimeout
	}
	return StopClosed
}

// reasonOf returns err as a *StopReason, classified by KindOf unless it
// is one already (nil is ErrStopped).
func reasonOf(err error) *StopReason {
	if err == nil {
		err = ErrStopped
	}
	var r *StopReason
	if errors.As(err, &r) && r == err {
		return r
	}
	return &StopReason{Kind: KindOf(err), Err: err}
}
