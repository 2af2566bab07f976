package sessions

import "sync"

// notifier is a broadcast wake-up: Wait returns a channel that the next
// Notify closes. Grab the channel before checking the condition, so that
// a Notify in between is not missed.
type notifier struct {
	mu sync.Mutex
	c  chan struct{}
}

func newNotifier() *notifier { return &notifier{c: make(chan struct{})} }

// Wait returns the channel the next Notify closes.
func (n *notifier) Wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.c
}

// Notify wakes every waiter.
func (n *notifier) Notify() {
	n.mu.Lock()
	close(n.c)
	n.c = make(chan struct{})
	n.mu.Unlock()
}
