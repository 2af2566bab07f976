package dchat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/protocols"
)

// Protocol name and version: the stream protocol is
// /dnode/<network>/dchat/1.0.0.
const (
	Name           = "dchat"
	ProtocolSemver = "1.0.0"
)

// Wire and time limits.
const (
	// IDLen is the length of a message id in bytes.
	IDLen = 16
	// FrameOverhead is what a frame may hold beyond the text: the Spec's
	// MaxBytes is MaxText + FrameOverhead.
	FrameOverhead = 256
	// MaxFutureSkew is how far ahead of the local clock a message's
	// timestamp may be.
	MaxFutureSkew = time.Minute
)

// Defaults of Config.
const (
	DefaultBufferSize = 1000
	DefaultSeenTTL    = 10 * time.Minute
	DefaultSeenMax    = 100000
	DefaultMaxHops    = 16
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
	ID     string    // hex of the 16-byte random message id
	Sender peer.ID   // the node that wrote it
	Text   string    // the text
	Time   time.Time // sender's clock, second precision
	Hops   int       // relays it took to reach us (0 = from the sender directly)
	// Received is this node's clock when the message arrived (when it was
	// written, for our own messages): subscribers may read it later.
	Received time.Time
}

// Config sets a Chat's limits; zero fields take their defaults.
type Config struct {
	BufferSize int           // newest messages kept for Recv; default 1000
	SeenTTL    time.Duration // how long a message id is remembered; default 10m
	SeenMax    int           // seen-cache bound; default 100000 (oldest evicted)
	MaxHops    int           // relay hop limit; default 16
	MaxText    int           // max text bytes; default 4096
}

func (c *Config) setDefaults() {
	if c.BufferSize <= 0 {
		c.BufferSize = DefaultBufferSize
	}
	if c.SeenTTL <= 0 {
		c.SeenTTL = DefaultSeenTTL
	}
	if c.SeenMax <= 0 {
		c.SeenMax = DefaultSeenMax
	}
	if c.MaxHops <= 0 {
		c.MaxHops = DefaultMaxHops
	}
	if c.MaxText <= 0 {
		c.MaxText = DefaultMaxText
	}
}

// Stats counts what happened to received messages.
type Stats struct {
	Delivered  uint64 // delivered: buffered and pushed to subscribers
	Relayed    uint64 // delivered messages relayed to at least one channel
	Sent       uint64 // copies queued on channels: our messages and relays
	Duplicates uint64 // dropped: id already seen, or our own message
	Expired    uint64 // dropped: timestamp older than SeenTTL or over a minute ahead
	Rejected   uint64 // dropped: over the hop limit, or invalid (the peer was disconnected)
}

// Chat is the dchat protocol on one node. See the package doc.
type Chat struct {
	node  *dnode.Node
	cfg   Config
	proto *channel.Protocol[*DchatMessage]
	now   func() time.Time // time.Now; replaced by tests

	mu   sync.Mutex
	seen *seenCache
	buf  []Message // ring of the newest cfg.BufferSize messages
	head int       // index of the oldest message in buf once full
	subs map[*Subscription]struct{}

	delivered, relayed, sent, duplicates, expired, rejected atomic.Uint64
}

// New returns a Chat for n and registers its protocol on n.Registry(),
// which must happen before n starts. It fails if the registration fails
// (the node is running, or a dchat protocol is already registered).
func New(n *dnode.Node, cfg Config) (*Chat, error) {
	cfg.setDefaults()
	c := &Chat{
		node:  n,
		cfg:   cfg,
		proto: channel.NewProtocol[*DchatMessage](Name, ProtocolSemver, cfg.MaxText+FrameOverhead, channel.Metering{}),
		now:   time.Now,
		seen:  newSeenCache(cfg.SeenMax),
		subs:  make(map[*Subscription]struct{}),
	}
	err := n.Registry().Register(protocols.Registration{
		Name:     Name,
		Sessions: channel.Default,
		Specs:    []*channel.Spec{c.proto.Spec()},
		New: func(ch *channel.Channel) (protocols.Protocol, error) {
			c.proto.Filter(ch, c.fresh)
			c.proto.Handle(ch, func(m *DchatMessage) error { return c.receive(m, ch) })
			return started{}, nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("dchat: %w", err)
	}
	return c, nil
}

// started is the per-channel protocol: everything happens in the handler
// installed by the constructor, so Start has nothing to do.
type started struct{}

func (started) Start(context.Context) error { return nil }

// Spec returns the dchat stream's Spec.
func (c *Chat) Spec() *channel.Spec { return c.proto.Spec() }

// Config returns the Chat's configuration with defaults applied.
func (c *Chat) Config() Config { return c.cfg }

// Send writes text as a new message from this node: it gets a fresh id,
// is kept in the buffer (Hops 0, not pushed to subscribers) and is
// broadcast to every channel. It fails if text is empty, longer than
// MaxText or not UTF-8, or if the node is not running (ErrNotReady wraps
// dnode.ErrNotRunning). Having no channel is not an error.
func (c *Chat) Send(text string) (Message, error) {
	switch {
	case text == "":
		return Message{}, ErrEmpty
	case len(text) > c.cfg.MaxText:
		return Message{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLong, len(text), c.cfg.MaxText)
	case !utf8.ValidString(text):
		return Message{}, ErrNotUTF8
	}
	self := c.node.ID()
	if self == "" {
		return Message{}, ErrNotReady
	}
	var id msgID
	_, _ = rand.Read(id[:])
	now := c.now()
	ts := now.Unix()
	wire := &DchatMessage{Id: id[:], Sender: []byte(self), Text: text, Timestamp: uint64(ts)}
	m := Message{ID: hex.EncodeToString(id[:]), Sender: self, Text: text, Time: time.Unix(ts, 0), Received: now}

	// Record the id before broadcasting: in a cycle the message comes
	// back, possibly before Broadcast returns.
	c.mu.Lock()
	c.seen.add(id, now.Add(c.cfg.SeenTTL), now)
	c.mu.Unlock()
	sent, err := c.node.Broadcast(c.proto.Spec(), wire)
	if err != nil {
		if errors.Is(err, dnode.ErrNotRunning) {
			err = ErrNotReady
		}
		return Message{}, err
	}
	c.sent.Add(uint64(sent))
	c.mu.Lock()
	c.appendLocked(m)
	c.mu.Unlock()
	return m, nil
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

// Stats returns the counters of received messages.
func (c *Chat) Stats() Stats {
	return Stats{
		Delivered:  c.delivered.Load(),
		Relayed:    c.relayed.Load(),
		Sent:       c.sent.Load(),
		Duplicates: c.duplicates.Load(),
		Expired:    c.expired.Load(),
		Rejected:   c.rejected.Load(),
	}
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

// validate checks a received message against the protocol rules; an
// error is a violation by the peer.
func (c *Chat) validate(m *DchatMessage) (peer.ID, error) {
	if len(m.GetId()) != IDLen {
		return "", fmt.Errorf("%w: dchat: id of %d bytes, want %d", channel.ErrViolation, len(m.GetId()), IDLen)
	}
	sender, err := peer.IDFromBytes(m.GetSender())
	if err != nil {
		return "", fmt.Errorf("%w: dchat: bad sender: %v", channel.ErrViolation, err)
	}
	if len(m.GetText()) > c.cfg.MaxText {
		return "", fmt.Errorf("%w: dchat: text of %d bytes, limit %d", channel.ErrViolation, len(m.GetText()), c.cfg.MaxText)
	}
	if !utf8.ValidString(m.GetText()) {
		return "", fmt.Errorf("%w: dchat: text is not UTF-8", channel.ErrViolation)
	}
	return sender, nil
}

// fresh reports whether an encoded message may be new: a message whose id
// is in the seen cache is dropped before it is decoded and validated
// (counted as a duplicate). In a flood most frames a node receives are
// such copies, one per neighbour, so this keeps their cost to a lookup.
func (c *Chat) fresh(raw []byte) bool {
	idb := rawID(raw)
	if len(idb) != IDLen {
		return true // receive decides
	}
	var id msgID
	copy(id[:], idb)
	now := c.now()
	c.mu.Lock()
	dup := c.seen.contains(id, now)
	c.mu.Unlock()
	if dup {
		c.duplicates.Add(1)
	}
	return !dup
}

// rawID returns the id field of an encoded DchatMessage (nil if absent or
// if the encoding is broken before it).
func rawID(b []byte) []byte {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return nil
			}
			return v
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return nil
		}
		b = b[m:]
	}
	return nil
}

// receive handles a message received on from (nil in unit tests). It runs
// in the stream's reader goroutine and never blocks; an error stops the
// channel.
func (c *Chat) receive(m *DchatMessage, from *channel.Channel) error {
	sender, err := c.validate(m)
	if err != nil {
		c.rejected.Add(1)
		return err
	}
	if int64(m.GetHops()) > int64(c.cfg.MaxHops) {
		c.rejected.Add(1)
		return nil
	}
	var id msgID
	copy(id[:], m.GetId())
	now := c.now()
	ts := time.Unix(clampUnix(m.GetTimestamp()), 0)

	c.mu.Lock()
	if c.seen.contains(id, now) || sender == c.node.ID() {
		c.mu.Unlock()
		c.duplicates.Add(1)
		return nil
	}
	if ts.Before(now.Add(-c.cfg.SeenTTL)) || ts.After(now.Add(MaxFutureSkew)) {
		c.mu.Unlock()
		c.expired.Add(1)
		return nil
	}
	// Remember the id until SeenTTL after the later of now and the
	// timestamp: a replay after that is older than SeenTTL.
	c.seen.add(id, later(now, ts).Add(c.cfg.SeenTTL), now)
	c.mu.Unlock()
	msg := Message{ID: hex.EncodeToString(id[:]), Sender: sender, Text: m.GetText(), Time: ts, Hops: int(m.GetHops()), Received: now}

	// Relay first, then deliver: the relay is what the rest of the
	// network waits for, and a subscriber woken before it would be queued
	// behind the writers the relay starts.
	if hops := m.GetHops() + 1; int64(hops) < int64(c.cfg.MaxHops) {
		relay := &DchatMessage{Id: m.GetId(), Sender: m.GetSender(), Text: m.GetText(), Timestamp: m.GetTimestamp(), Hops: hops}
		sent, err := c.node.BroadcastExcept(c.proto.Spec(), relay, from)
		if err == nil && sent > 0 {
			c.relayed.Add(1)
			c.sent.Add(uint64(sent))
		} else if err != nil && from != nil {
			from.Logger().Debug("dchat relay not sent", "id", msg.ID, "err", err)
		}
	}

	c.mu.Lock()
	c.appendLocked(msg)
	for s := range c.subs {
		s.push(msg)
	}
	c.mu.Unlock()
	c.delivered.Add(1)
	return nil
}

// clampUnix converts a wire timestamp to int64 seconds, saturating values
// that do not fit (they are far in the future and get dropped).
func clampUnix(ts uint64) int64 {
	const maxUnix = 1 << 62
	if ts > maxUnix {
		return maxUnix
	}
	return int64(ts)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
