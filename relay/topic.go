package relay

import (
	"context"
	"fmt"
	"time"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/relay/pb"
)

// Topic is a handle on one topic, from Relay.Join: publish to it and
// subscribe to it. It is safe for concurrent use.
type Topic struct {
	r        *Relay
	name     string
	subs     map[*Subscription]struct{} // under r.mu
	handlers []Handler                  // under r.mu
}

// Handler is called with every message of its topic delivered here
// (received, and published here: Message.Local), after the relay's lock
// is released, on the goroutine that accepted the message (a channel's
// reader, or Publish's caller). It must not block; it may call the
// relay.
type Handler func(m *Message)

// Handle adds h to the topic's handlers: a Subscription without a
// goroutine, for applications that react at once (dchat keeps its
// buffer this way).
func (t *Topic) Handle(h Handler) {
	t.r.mu.Lock()
	t.handlers = append(t.handlers, h)
	t.r.mu.Unlock()
}

// String returns the topic's name.
func (t *Topic) String() string { return t.name }

// SubOpt changes a Subscription.
type SubOpt func(*subOpts)

type subOpts struct{ buffer int }

// WithBufferSize sets the subscription's queue length (default
// Config.SubscriptionBuffer, 256).
func WithBufferSize(n int) SubOpt { return func(o *subOpts) { o.buffer = n } }

// Subscribe returns a feed of the topic's messages, those received and
// those published here (Message.Local). Cancel it when done.
func (t *Topic) Subscribe(opts ...SubOpt) (*Subscription, error) {
	o := subOpts{buffer: t.r.cfg.SubscriptionBuffer}
	for _, opt := range opts {
		opt(&o)
	}
	if o.buffer <= 0 {
		o.buffer = DefaultSubBuffer
	}
	s := &Subscription{
		topic:  t,
		notify: make(chan struct{}, 1),
		done:   make(chan struct{}),
		queue:  make([]*Message, o.buffer),
	}
	t.r.mu.Lock()
	defer t.r.mu.Unlock()
	if t.r.closed {
		return nil, ErrClosed
	}
	t.subs[s] = struct{}{}
	return s, nil
}

// Publish sends data to every node of the network as a new message of
// the topic, and returns its id. data is copied. It fails with
// ErrEmpty, ErrTooLarge (over MaxMessageSize), ErrRejected (the topic's
// validator did not accept it), ErrClosed, or an error wrapping
// dnode.ErrNotRunning. Having no channel is not an error: the message
// waits in the history for catch-up.
func (t *Topic) Publish(ctx context.Context, data []byte) (ID, error) {
	r := t.r
	switch {
	case len(data) == 0:
		return ID{}, ErrEmpty
	case len(data) > r.cfg.MaxMessageSize:
		return ID{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), r.cfg.MaxMessageSize)
	}
	self := r.node.ID()
	if self == "" {
		return ID{}, fmt.Errorf("relay: publish: %w", dnode.ErrNotRunning)
	}
	now := time.Now()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ID{}, ErrClosed
	}
	ts := max(uint64(now.UnixNano()), r.lastTime+1)
	r.lastTime = ts
	r.mu.Unlock()
	m := &pb.Message{Topic: t.name, Origin: []byte(self), Time: ts, Data: append([]byte(nil), data...)}
	in := &incoming{m: m, id: MessageID(m.Topic, m.Origin, m.Time, m.Data)}
	if v := r.validator(t.name); v != nil {
		if res := v(ctx, self, r.message(in, self, now, true)); res != ValidationAccept {
			return ID{}, ErrRejected
		}
	}
	r.mu.Lock()
	acts := r.eng.Publish(in, now)
	post := r.execLocked(acts, now)
	r.mu.Unlock()
	post.run()
	return in.id, nil
}
