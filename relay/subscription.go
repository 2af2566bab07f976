package relay

import (
	"context"
	"sync"
	"sync/atomic"
)

// Subscription is a live feed of one topic's messages, in delivery
// order, through a bounded queue: when it is full the oldest queued
// message is dropped and counted (Dropped, and the relay's "subscriber"
// drops), so a slow reader never holds up the network. It is safe for
// concurrent use.
type Subscription struct {
	topic  *Topic
	notify chan struct{} // capacity 1: "the queue may be non-empty"
	done   chan struct{} // closed by Cancel
	once   sync.Once

	dropped atomic.Uint64

	mu    sync.Mutex
	queue []*Message // ring
	head  int
	n     int
}

// Topic returns the subscription's topic name.
func (s *Subscription) Topic() string { return s.topic.name }

// Next blocks until a message arrives and returns it, or returns
// ctx.Err(), or ErrClosed once the subscription is cancelled (messages
// queued before Cancel are still returned first).
func (s *Subscription) Next(ctx context.Context) (*Message, error) {
	for {
		if m := s.pop(); m != nil {
			return m, nil
		}
		select {
		case <-s.notify:
		case <-s.done:
			if m := s.pop(); m != nil {
				return m, nil
			}
			return nil, ErrClosed
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Dropped returns how many messages were dropped because the queue was
// full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Cancel ends the subscription: Next returns what is queued, then
// ErrClosed. It is idempotent.
func (s *Subscription) Cancel() {
	s.once.Do(func() {
		s.topic.r.unsubscribe(s)
		close(s.done)
	})
}

// push queues m, dropping the oldest queued message when full; it
// reports whether one was dropped.
func (s *Subscription) push(m *Message) bool {
	s.mu.Lock()
	drop := s.n == len(s.queue)
	if drop {
		s.queue[s.head] = nil
		s.head = (s.head + 1) % len(s.queue)
		s.n--
		s.dropped.Add(1)
	}
	s.queue[(s.head+s.n)%len(s.queue)] = m
	s.n++
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return drop
}

func (s *Subscription) pop() *Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		return nil
	}
	m := s.queue[s.head]
	s.queue[s.head] = nil
	s.head = (s.head + 1) % len(s.queue)
	s.n--
	return m
}
