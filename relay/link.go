package relay

import (
	"fmt"
	"time"

	"github.com/dnode-p2p/dnode/channel"
)

// linkID names a link: the id of its channel.
type linkID uint64

// link is the engine's state for one channel running the relay.
type link struct {
	id    linkID
	rtt   time.Duration // last ping RTT, 0 if unknown
	ready bool          // our Hello went out: frames may be sent

	// From the peer's Hello (hello: it arrived): the topics it relays
	// (nil: every topic) and the largest message it accepts. Until it
	// arrives no full message is pushed to the peer (its limit is not
	// known); it gets announcements instead.
	hello   bool
	topics  map[string]bool
	maxSize int

	// pending is the IHave batch: short id → our distance.
	pending map[uint64]uint8
	flushAt time.Time // when pending leaves at the latest (zero: empty)

	// Counters of the current metering window.
	windowStart     time.Time
	msgs, bytes     int
	rejects, misses int

	fetches    int       // pending fetches this link is a source of
	answeredAt time.Time // when it last sent a message we asked for
}

// accepts reports whether the peer takes messages of topic with size
// bytes of data.
func (l *link) accepts(topic string, size int) bool {
	return l.relays(topic) && (l.maxSize == 0 || size <= l.maxSize)
}

// relays reports whether the peer relays topic.
func (l *link) relays(topic string) bool { return l.topics == nil || l.topics[topic] }

// window starts a new metering window when the current one is over.
func (l *link) window(now time.Time, w time.Duration) {
	if now.Sub(l.windowStart) >= w || now.Before(l.windowStart) {
		l.windowStart = now
		l.msgs, l.bytes, l.rejects, l.misses = 0, 0, 0, 0
	}
}

// meter counts one unsolicited frame of size bytes and reports a
// violation when the window's limits are passed.
func (l *link) meter(cfg *Config, size int, now time.Time) error {
	l.window(now, cfg.MeterWindow)
	l.msgs++
	l.bytes += size
	if l.msgs > cfg.MeterMessages {
		return fmt.Errorf("%w: relay: more than %d frames in %s", channel.ErrViolation, cfg.MeterMessages, cfg.MeterWindow)
	}
	if l.bytes > cfg.MeterBytes {
		return fmt.Errorf("%w: relay: more than %d bytes in %s", channel.ErrViolation, cfg.MeterBytes, cfg.MeterWindow)
	}
	return nil
}

// reject counts one message the validator rejected.
func (l *link) reject(cfg *Config, now time.Time) error {
	l.window(now, cfg.MeterWindow)
	l.rejects++
	if l.rejects > cfg.RejectLimit {
		return fmt.Errorf("%w: relay: more than %d messages rejected by the validator in %s", channel.ErrViolation, cfg.RejectLimit, cfg.MeterWindow)
	}
	return nil
}

// miss counts one fetch for a message we lack, or one announcement the
// link did not honour.
func (l *link) miss(cfg *Config, now time.Time) error {
	l.window(now, cfg.MeterWindow)
	l.misses++
	if l.misses > cfg.UnknownLimit {
		return fmt.Errorf("%w: relay: more than %d fetches or announcements of unknown messages in %s", channel.ErrViolation, cfg.UnknownLimit, cfg.MeterWindow)
	}
	return nil
}

// graftTimeout is how long a message announced on l may take to arrive
// along the tree before it is fetched from l: 4 RTTs and 50 ms, within
// 150 ms and 2 s (250 ms while the RTT is unknown). A timeout too short
// for a loaded path grafts a link whose copy then arrives twice.
func (l *link) graftTimeout() time.Duration {
	if l == nil || l.rtt <= 0 {
		return 250 * time.Millisecond
	}
	return min(max(4*l.rtt+50*time.Millisecond, 150*time.Millisecond), maxGraftTimeout)
}

// maxGraftTimeout bounds the graft timeout.
const maxGraftTimeout = 2 * time.Second

// fetchTimeout is how long a fetch of size bytes from l may take before
// the next source is asked: the graft timeout plus a second per MiB.
func (l *link) fetchTimeout(size int) time.Duration {
	return l.graftTimeout() + time.Duration(size)*time.Second/(1<<20)
}
