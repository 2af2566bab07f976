package dchat

import "sync/atomic"

// DefaultSubscriptionCapacity is the queue length of a Subscription made
// with a capacity of zero or less.
const DefaultSubscriptionCapacity = 64

// Subscription is a live feed of the messages a Chat delivers (not the
// ones it sends), in delivery order, through a bounded queue: when the
// queue is full the oldest queued message is dropped and counted, so a
// slow reader never holds up the network.
type Subscription struct {
	chat    *Chat
	c       chan Message // closed by Close, under chat.mu
	dropped atomic.Uint64
	closed  bool // guarded by chat.mu
}

// C returns the channel the messages arrive on. It is closed by Close.
func (s *Subscription) C() <-chan Message { return s.c }

// Dropped returns how many messages were dropped because the queue was
// full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close ends the subscription and closes C (messages still queued can be
// read from it). It is idempotent.
func (s *Subscription) Close() {
	s.chat.mu.Lock()
	defer s.chat.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	delete(s.chat.subs, s)
	close(s.c)
}

// push queues m without blocking, dropping the oldest queued message when
// the queue is full. The caller holds chat.mu, so pushes never race with
// each other or with Close; only the reader competes for the queue.
func (s *Subscription) push(m Message) {
	for {
		select {
		case s.c <- m:
			return
		default:
		}
		select {
		case <-s.c:
			s.dropped.Add(1)
		default: // the reader emptied a slot meanwhile
		}
	}
}
