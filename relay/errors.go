package relay

import "errors"

// Errors of the relay's API.
var (
	// ErrConfig wraps a bad Config field; the message names its key.
	ErrConfig = errors.New("relay: bad config")
	// ErrTopic wraps a bad topic name, or a topic this node does not
	// relay (Config.Topics).
	ErrTopic = errors.New("relay: bad topic")
	// ErrTooLarge is returned by Publish for data over MaxMessageSize.
	ErrTooLarge = errors.New("relay: message too large")
	// ErrEmpty is returned by Publish for empty data.
	ErrEmpty = errors.New("relay: empty message")
	// ErrRejected is returned by Publish when the topic's validator
	// rejects or ignores the message.
	ErrRejected = errors.New("relay: message rejected by the validator")
	// ErrClosed is returned after Close, by a cancelled Subscription and
	// by a closed Topic.
	ErrClosed = errors.New("relay: closed")
)
