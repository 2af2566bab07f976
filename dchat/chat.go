package dchat

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/relay"
)

// Topic is the relay topic dchat messages travel on.
const Topic = "dchat"

// Defaults of Config.
const (
	DefaultBufferSize = 1000
	DefaultMaxText    = 4096
)

// Errors returned by Send.
var (
	ErrEmpty    = errors.New("dchat: empty message")
	ErrTooLong  = errors.New("dchat: message too long")
	ErrNotUTF8  = errors.New("dchat: message is not valid UTF-8")
	ErrNotReady = fmt.Errorf("dchat: %w", dnode.ErrNotRunning)
)

// Message is one chat message as delivered.
type Message struct {
	ID     string    // hex of the relay message id
	Sender peer.ID   // the node that wrote it (the relay origin)
	Text   string    // the text
	Time   time.Time // sender's clock
	Hops   int       // relays it took to reach us (0 = from the sender directly, and for our own)
	// Received is this node's clock when the message arrived (when it was
	// written, for our own messages): subscribers may read it later.
	Received time.Time
}

// Config sets a Chat's limits; zero fields take their defaults.
type Config struct {
	BufferSize int // newest messages kept for Recv; default 1000
	MaxText    int // max text bytes; default 4096
	// Relay carries the messages. Nil makes a relay with the default
	// configuration on the node; pass one to share it with other topics
	// or to configure it (the daemon builds it from [relay]).
	Relay *relay.Relay
}

func (c *Config) setDefaults() {
	if c.BufferSize <= 0 {
		c.BufferSize = DefaultBufferSize
	}
	if c.MaxText <= 0 {
		c.MaxText = DefaultMaxText
	}
}

// Stats counts a Chat's messages.
type Stats struct {
	Delivered uint64 // messages of others delivered: buffered and pushed to subscribers
	Sent      uint64 // messages written here
	Rejected  uint64 // messages refused by the validator (too long, not UTF-8, empty)
}

// Chat is the dchat application on one node. See the package doc.
type Chat struct {
	node  *dnode.Node
	relay *relay.Relay
	topic *relay.Topic
	cfg   Config

	mu   sync.Mutex
	buf  []Message // ring of the newest cfg.BufferSize messages
	head int       // index of the oldest message in buf once full
	subs map[*Subscription]struct{}

	delivered, sent, rejected atomic.Uint64
}

// New returns a Chat for n on the relay topic "dchat" of cfg.Relay (a
// new relay registered on n when nil), which must happen before n
// starts. It fails if the relay cannot be made or the topic joined.
func New(n *dnode.Node, cfg Config) (*Chat, error) {
	cfg.setDefaults()
	r := cfg.Relay
	if r == nil {
		var err error
		if r, err = relay.New(n, relay.Config{}, nil); err != nil {
			return nil, fmt.Errorf("dchat: %w", err)
		}
	}
	if cfg.MaxText > r.Config().MaxMessageSize {
		return nil, fmt.Errorf("dchat: max text %d is over the relay's max_message_size %d", cfg.MaxText, r.Config().MaxMessageSize)
	}
	t, err := r.Join(Topic)
	if err != nil {
		return nil, fmt.Errorf("dchat: %w", err)
	}
	c := &Chat{node: n, relay: r, topic: t, cfg: cfg, subs: make(map[*Subscription]struct{})}
	if err := r.SetValidator(Topic, c.validate); err != nil {
		return nil, fmt.Errorf("dchat: %w", err)
	}
	t.Handle(c.deliver)
	return c, nil
}

// Relay returns the relay the chat travels on.
func (c *Chat) Relay() *relay.Relay { return c.relay }

// Config returns the Chat's configuration with defaults applied.
func (c *Chat) Config() Config { return c.cfg }

// checkText applies the message rules to text.
func (c *Chat) checkText(text []byte) error {
	switch {
	case len(text) == 0:
		return ErrEmpty
	case len(text) > c.cfg.MaxText:
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLong, len(text), c.cfg.MaxText)
	case !utf8.Valid(text):
		return ErrNotUTF8
	}
	return nil
}

// validate is the relay validator of the dchat topic: a text that breaks
// the rules is rejected (it counts against the peer that sent it).
func (c *Chat) validate(_ context.Context, _ peer.ID, m *relay.Message) relay.ValidationResult {
	if c.checkText(m.Data) != nil {
		if !m.Local {
			c.rejected.Add(1)
		}
		return relay.ValidationReject
	}
	return relay.ValidationAccept
}

// Send writes text as a new message from this node to the whole
// network; it is kept in the buffer (Hops 0, not pushed to subscribers).
// It fails if text is empty, longer than MaxText or not UTF-8, or if the
// node is not running (ErrNotReady wraps dnode.ErrNotRunning). Having no
// channel is not an error: the relay keeps it in its history, and nodes
// that connect later catch up on it.
func (c *Chat) Send(text string) (Message, error) {
	if err := c.checkText([]byte(text)); err != nil {
		return Message{}, err
	}
	if c.node.ID() == "" { // not running (a cheap check, as the relay's)
		return Message{}, ErrNotReady
	}
	id, err := c.topic.Publish(context.Background(), []byte(text))
	if err != nil {
		if errors.Is(err, dnode.ErrNotRunning) {
			return Message{}, ErrNotReady
		}
		return Message{}, fmt.Errorf("dchat: %w", err)
	}
	c.sent.Add(1)
	// The relay delivered our message to deliver (Local) already, which
	// buffered it: return that copy.
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.buf) - 1; i >= 0; i-- {
		if m := c.buf[(c.head+i)%len(c.buf)]; m.ID == id.String() {
			return m, nil
		}
	}
	return Message{ID: id.String(), Sender: c.node.ID(), Text: text, Time: time.Now(), Received: time.Now()}, nil
}

// deliver is the topic's handler: every accepted message, ours included.
func (c *Chat) deliver(m *relay.Message) {
	msg := Message{ID: m.ID.String(), Sender: m.Origin, Text: string(m.Data), Time: m.Time, Received: m.Received}
	if !m.Local {
		msg.Hops = max(m.Hops-1, 0)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.appendLocked(msg)
	if m.Local {
		return
	}
	for s := range c.subs {
		s.push(msg)
	}
	c.delivered.Add(1)
}

// Recv returns the newest limit buffered messages (all of them when limit
// is 0 or less), oldest first. The buffer holds messages delivered and
// messages sent.
func (c *Chat) Recv(limit int) []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.buf)
	if limit <= 0 || limit > n {
		limit = n
	}
	out := make([]Message, 0, limit)
	for i := n - limit; i < n; i++ {
		out = append(out, c.buf[(c.head+i)%n])
	}
	return out
}

// Subscribe returns a live feed of delivered messages (not our own sends)
// with a queue of capacity messages (DefaultSubscriptionCapacity when
// capacity is 0 or less). Close it when done.
func (c *Chat) Subscribe(capacity int) *Subscription {
	if capacity <= 0 {
		capacity = DefaultSubscriptionCapacity
	}
	s := &Subscription{chat: c, c: make(chan Message, capacity)}
	c.mu.Lock()
	c.subs[s] = struct{}{}
	c.mu.Unlock()
	return s
}

// Stats returns the chat's counters; the relay's are in Relay().Stats().
func (c *Chat) Stats() Stats {
	return Stats{Delivered: c.delivered.Load(), Sent: c.sent.Load(), Rejected: c.rejected.Load()}
}

// appendLocked adds m to the buffer ring, evicting the oldest message when
// it is full.
func (c *Chat) appendLocked(m Message) {
	if len(c.buf) < c.cfg.BufferSize {
		c.buf = append(c.buf, m)
		return
	}
	c.buf[c.head] = m
	c.head = (c.head + 1) % len(c.buf)
}
