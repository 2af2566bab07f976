package channel

import (
	"context"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/proto"
)

// DefaultSubscriptionCapacity is the queue length used when Subscribe is
// given a capacity of zero or less.
const DefaultSubscriptionCapacity = 64

// subscriber is the untyped queue behind a Subscription.
type subscriber struct {
	ch      *Channel
	spec    *Spec
	notify  chan struct{} // capacity 1: "the queue may be non-empty"
	dropped atomic.Uint64

	mu     sync.Mutex
	queue  []proto.Message // ring buffer
	head   int
	n      int
	closed bool
}

func newSubscriber(ch *Channel, spec *Spec, capacity int) *subscriber {
	if capacity <= 0 {
		capacity = DefaultSubscriptionCapacity
	}
	return &subscriber{ch: ch, spec: spec, notify: make(chan struct{}, 1), queue: make([]proto.Message, capacity)}
}

// push queues m, dropping the oldest queued message when full.
func (s *subscriber) push(m proto.Message) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if s.n == len(s.queue) {
		s.queue[s.head] = nil
		s.head = (s.head + 1) % len(s.queue)
		s.n--
		s.dropped.Add(1)
		s.ch.dropped.Add(1)
		if o := s.ch.cfg.Observer; o != nil {
			o.Dropped(s.ch, s.spec, "subscriber")
		}
	}
	s.queue[(s.head+s.n)%len(s.queue)] = m
	s.n++
	s.mu.Unlock()
	s.wake()
}

func (s *subscriber) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (s *subscriber) pop() (proto.Message, bool, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		return nil, false, s.closed
	}
	m := s.queue[s.head]
	s.queue[s.head] = nil
	s.head = (s.head + 1) % len(s.queue)
	s.n--
	return m, true, s.closed
}

func (s *subscriber) receive(ctx context.Context) (proto.Message, error) {
	for {
		m, ok, closed := s.pop()
		if ok {
			return m, nil
		}
		if closed {
			return nil, ErrUnsubscribed
		}
		select {
		case <-s.notify:
		case <-s.ch.stopping:
			// Deliver what was queued before the stop, then report it.
			if m, ok, _ := s.pop(); ok {
				return m, nil
			}
			return nil, ErrStopped
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (s *subscriber) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.wake()
	s.ch.unsubscribe(s)
}

// Subscription delivers the messages of one protocol received on one
// channel, in order, through a bounded queue (see the package doc for the
// overflow rule). It is safe for concurrent use.
type Subscription[M proto.Message] struct {
	sub *subscriber
}

// Receive blocks until a message arrives, ctx is done, the channel stops
// (ErrStopped, after queued messages are delivered) or the subscription is
// closed (ErrUnsubscribed).
func (s *Subscription[M]) Receive(ctx context.Context) (M, error) {
	m, err := s.sub.receive(ctx)
	if err != nil {
		var zero M
		return zero, err
	}
	return m.(M), nil
}

// Dropped returns how many messages were dropped because the queue was
// full.
func (s *Subscription[M]) Dropped() uint64 { return s.sub.dropped.Load() }

// Close detaches the subscription; pending and later Receive calls return
// ErrUnsubscribed. It is idempotent.
func (s *Subscription[M]) Close() { s.sub.close() }
