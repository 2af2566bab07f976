package channel

import "errors"

// Errors returned by channel operations.
var (
	// ErrStopped is returned by operations on a stopped channel, and is
	// the local stop reason (StopLocal). It is dnode's one "stopped"
	// sentinel: sessions.ErrStopped is the same value.
	ErrStopped = errors.New("stopped")
	// ErrQueueFull is returned by Send when the send queue is full; the
	// message was dropped.
	ErrQueueFull = errors.New("channel send queue full")
	// ErrTooLarge is returned by Send for a message above its Spec's
	// MaxBytes.
	ErrTooLarge = errors.New("message exceeds its protocol's size cap")
	// ErrWrongType is returned when a message's type is not its Spec's.
	ErrWrongType = errors.New("message type does not match protocol")
	// ErrViolation wraps every protocol violation by the peer (oversized,
	// truncated or undecodable frame, metering exceeded).
	ErrViolation = errors.New("protocol violation")
	// ErrUnsupported is returned by Send for a protocol the peer did not
	// announce in its Version; the channel stays up.
	ErrUnsupported = errors.New("peer does not run the protocol")
	// ErrUnsubscribed is returned by Receive on a closed Subscription.
	ErrUnsubscribed = errors.New("subscription closed")
)
