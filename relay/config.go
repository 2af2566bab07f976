package relay

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/dnode-p2p/dnode/settings"
)

// Defaults of Config, the same as the [relay] table's
// (settings.DefaultRelay).
const (
	DefaultMaxMessageSize = 1 << 20
	DefaultEagerMaxSize   = 16 << 10
	DefaultHistoryCount   = 4096
	DefaultHistoryAge     = 10 * time.Minute
	DefaultHistoryBytes   = 16 << 20
	DefaultLazyInterval   = 500 * time.Millisecond
	DefaultMaxHops        = 16
	DefaultMeterWindow    = 10 * time.Second
	DefaultMeterMessages  = 50000
	DefaultMeterBytes     = 256 << 20
	DefaultRejectLimit    = 5
	DefaultUnknownLimit   = 1000
	DefaultSubBuffer      = 256
)

// Hard limits of the protocol.
const (
	// MaxTopicLen is the longest topic name, in bytes.
	MaxTopicLen = 256
	// MaxDigest is the most short ids a Digest, IWant, Graft or Prune
	// frame may carry.
	MaxDigest = 4096
	// MaxFutureSkew is how far ahead of the local clock a message's time
	// may be.
	MaxFutureSkew = time.Minute
	// frameSlack is what a frame may hold beyond a message's data: the
	// stream's size cap is the largest max_message_size plus this.
	frameSlack = 64 << 10
	// maxAbsoluteMessage bounds max_message_size (256 MiB).
	maxAbsoluteMessage = 256 << 20
)

// Config sets a Relay's limits. Zero fields take their defaults (see
// the Default constants); Topics empty means every topic. The daemon
// fills it from the [relay] table of its settings (FromSettings).
type Config struct {
	// Topics restricts the topics this node relays, delivers and
	// publishes; empty means every topic of the network.
	Topics []string
	// MaxMessageSize is the largest message data accepted, in bytes.
	MaxMessageSize int
	// EagerMaxSize is the largest message data pushed along the tree;
	// larger messages are offered and fetched, never pushed.
	EagerMaxSize int
	// HistoryCount, HistoryAge and HistoryBytes bound the messages kept
	// to answer fetches and catch-up. HistoryAge is also the oldest
	// message time accepted.
	HistoryCount int
	HistoryAge   time.Duration
	HistoryBytes int
	// LazyInterval is how long announcements for a lazy link wait to be
	// batched (they leave earlier with any other frame on the link).
	LazyInterval time.Duration
	// MaxHops is the hop limit: a message that crossed more links is
	// dropped, and one that crossed that many is not relayed further.
	MaxHops int
	// MeterWindow, MeterMessages and MeterBytes bound what a channel may
	// send unasked (every frame but answers to our own fetches) per
	// window; exceeding either is a protocol violation.
	MeterWindow   time.Duration
	MeterMessages int
	MeterBytes    int
	// RejectLimit is how many validator rejections a channel may cause
	// per MeterWindow before it is a violation.
	RejectLimit int
	// UnknownLimit is how many fetches for messages we do not have, and
	// announcements the announcer did not honour, a channel may cause per
	// MeterWindow before it is a violation.
	UnknownLimit int
	// QueueBytes bounds the relay bytes waiting in one channel's send
	// queue; past it relay frames are dropped (counted as queue_full).
	// Default: the larger of 16 MiB and 4 × MaxMessageSize.
	QueueBytes int
	// SubscriptionBuffer is the default queue length of a Subscription.
	SubscriptionBuffer int
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxMessageSize, DefaultMaxMessageSize)
	def(&c.EagerMaxSize, DefaultEagerMaxSize)
	def(&c.HistoryCount, DefaultHistoryCount)
	defDur(&c.HistoryAge, DefaultHistoryAge)
	def(&c.HistoryBytes, DefaultHistoryBytes)
	defDur(&c.LazyInterval, DefaultLazyInterval)
	def(&c.MaxHops, DefaultMaxHops)
	defDur(&c.MeterWindow, DefaultMeterWindow)
	def(&c.MeterMessages, DefaultMeterMessages)
	def(&c.MeterBytes, DefaultMeterBytes)
	def(&c.RejectLimit, DefaultRejectLimit)
	def(&c.UnknownLimit, DefaultUnknownLimit)
	def(&c.QueueBytes, max(16<<20, 4*c.MaxMessageSize))
	def(&c.SubscriptionBuffer, DefaultSubBuffer)
	if c.Topics != nil {
		c.Topics = append([]string(nil), c.Topics...)
	}
	return c
}

// Validate reports the first bad field of c (after defaults), naming its
// [relay] key; the error wraps ErrConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	s := c.Settings()
	if err := s.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if c.SubscriptionBuffer < 0 {
		return fmt.Errorf("%w: subscription buffer must not be negative", ErrConfig)
	}
	return nil
}

// FromSettings returns the Config of a node's [relay] table.
func FromSettings(s settings.Relay) Config {
	return Config{
		Topics:         append([]string(nil), s.Topics...),
		MaxMessageSize: s.MaxMessageSize, EagerMaxSize: s.EagerMaxSize,
		HistoryCount: s.HistoryCount, HistoryAge: s.HistoryAge, HistoryBytes: s.HistoryBytes,
		LazyInterval: s.LazyInterval, MaxHops: s.MaxHops,
		MeterWindow: s.MeterWindow, MeterMessages: s.MeterMessages, MeterBytes: s.MeterBytes,
		RejectLimit: s.RejectLimit, UnknownLimit: s.UnknownLimit, QueueBytes: s.QueueBytes,
	}
}

// Settings returns c as a [relay] table (SubscriptionBuffer has no key).
func (c Config) Settings() settings.Relay {
	return settings.Relay{
		Topics:         append([]string(nil), c.Topics...),
		MaxMessageSize: c.MaxMessageSize, EagerMaxSize: c.EagerMaxSize,
		HistoryCount: c.HistoryCount, HistoryAge: c.HistoryAge, HistoryBytes: c.HistoryBytes,
		LazyInterval: c.LazyInterval, MaxHops: c.MaxHops,
		MeterWindow: c.MeterWindow, MeterMessages: c.MeterMessages, MeterBytes: c.MeterBytes,
		RejectLimit: c.RejectLimit, UnknownLimit: c.UnknownLimit, QueueBytes: c.QueueBytes,
	}
}

// checkTopic reports whether t is a valid topic name: 1..MaxTopicLen
// bytes of UTF-8.
func checkTopic(t string) error {
	switch {
	case t == "":
		return fmt.Errorf("%w: empty topic", ErrTopic)
	case len(t) > MaxTopicLen:
		return fmt.Errorf("%w: topic of %d bytes, limit %d", ErrTopic, len(t), MaxTopicLen)
	case !utf8.ValidString(t):
		return fmt.Errorf("%w: topic is not UTF-8", ErrTopic)
	}
	return nil
}
