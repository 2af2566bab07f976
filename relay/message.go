package relay

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Message is one relayed message as a subscriber or validator sees it.
// Its Data must not be modified: it is shared with the relay's history.
type Message struct {
	ID     ID
	Topic  string
	Origin peer.ID   // the node that published it (not authenticated: sign in Data if it matters)
	Data   []byte    // the payload
	Time   time.Time // the origin's clock when it published, nanosecond precision
	// Hops is how many links it crossed to reach us: 0 for our own.
	Hops int
	// ReceivedFrom is the peer it came from (our own ID for our own).
	ReceivedFrom peer.ID
	// Received is when it arrived here (when it was published, for ours).
	Received time.Time
	// Local reports a message published by this node.
	Local bool
}

// ValidationResult is a validator's verdict, as go-libp2p-pubsub's.
type ValidationResult int

const (
	// ValidationAccept delivers the message and relays it.
	ValidationAccept ValidationResult = iota
	// ValidationIgnore drops it without blame: not delivered, not relayed.
	ValidationIgnore
	// ValidationReject drops it and counts against the peer that sent it:
	// past Config.RejectLimit rejections in a window the peer is in
	// violation (and banned, under the strict ban policy).
	ValidationReject
)

// Validator decides on a message of its topic before it is delivered or
// relayed, for messages received (from is the sending peer) and
// published here (from is our own ID; a non-Accept verdict fails the
// Publish). It runs on the receiving stream's goroutine and must not
// block: a slow validator slows that channel. ctx is done when the
// channel stops.
type Validator func(ctx context.Context, from peer.ID, m *Message) ValidationResult
