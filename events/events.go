// Package events is dnode's event bus: DarkFi's dnet debug events (with
// DarkFi's names) and its host publishers (hosts stored, channel created
// or failed, no peers left), delivered to any number of subscribers.
//
// Publishing never blocks: each subscriber has a bounded queue, and when
// it is full the oldest event is dropped and counted (Subscription.Dropped),
// as DarkFi's Publisher does. Per-message events (send, recv, relay_tree) are published
// only while message events are switched on (SetMessages, DarkFi's
// dnet.switch); every other event is always published.
package events

import (
	"sync"
	"sync/atomic"
	"time"
)

// Kind names an event; the values are DarkFi's dnet names plus dnode's.
type Kind string

// DarkFi's dnet events.
const (
	Send                     Kind = "send"
	Recv                     Kind = "recv"
	InboundConnected         Kind = "inbound_connected"
	InboundDisconnected      Kind = "inbound_disconnected"
	OutboundSlotSleeping     Kind = "outbound_slot_sleeping"
	OutboundSlotConnecting   Kind = "outbound_slot_connecting"
	OutboundSlotConnected    Kind = "outbound_slot_connected"
	OutboundSlotDisconnected Kind = "outbound_slot_disconnected"
	OutboundPeerDiscovery    Kind = "outbound_peer_discovery"
	DirectConnecting         Kind = "direct_connecting"
	DirectConnected          Kind = "direct_connected"
	DirectDisconnected       Kind = "direct_disconnected"
	DirectPeerDiscovery      Kind = "direct_peer_discovery"
)

// dnode's events (DarkFi's host publishers and more).
const (
	HostsStored     Kind = "hosts_stored"     // Count hosts entered the greylist
	ChannelCreated  Kind = "channel_created"  // a channel completed its handshake
	ChannelStopped  Kind = "channel_stopped"  // a channel ended (Err says why)
	ChannelFailed   Kind = "channel_failed"   // a dial or handshake failed (Err)
	NoPeers         Kind = "no_peers"         // the last channel went away
	SeedSync        Kind = "seed_sync"        // a seed answered (Count) or failed (Err)
	RefineProbe     Kind = "refine_probe"     // a greylist host passed (State "pass") or failed ("fail")
	ManualConnected Kind = "manual_connected" // a manual slot's peer is connected
	InboundEvicted  Kind = "inbound_evicted"  // an inbound channel was stopped to give its slot to a newcomer (Addr, ChannelID: the evicted one)
	RelayDrop       Kind = "relay_drop"       // the relay dropped a message or frame (State: the reason)
	RelayTree       Kind = "relay_tree"       // a channel joined (State "graft") or left ("prune") a relay tree; a per-message event
)

// Event is one event. Fields that do not apply to a Kind are zero.
type Event struct {
	Kind      Kind      `json:"event"`
	Time      time.Time `json:"time"`
	Slot      int       `json:"slot,omitempty"`
	Addr      string    `json:"addr,omitempty"`
	ChannelID uint64    `json:"channel_id,omitempty"`
	Session   string    `json:"session,omitempty"`
	Cmd       string    `json:"cmd,omitempty"`
	Attempt   int       `json:"attempt,omitempty"`
	State     string    `json:"state,omitempty"`
	Count     int       `json:"count,omitempty"`
	Err       string    `json:"err,omitempty"`
}

// Bus fans events out to subscribers. The zero value is not usable; use
// NewBus. A Bus is safe for concurrent use.
type Bus struct {
	messages atomic.Bool

	mu   sync.RWMutex
	subs map[*Subscription]struct{}
}

// NewBus returns a bus stamping events with the current time.
func NewBus() *Bus {
	return &Bus{subs: make(map[*Subscription]struct{})}
}

// SetMessages switches per-message events (send, recv, relay_tree) on
// or off.
func (b *Bus) SetMessages(on bool) { b.messages.Store(on) }

// Messages reports whether per-message events are on.
func (b *Bus) Messages() bool { return b.messages.Load() }

// Publish delivers e (stamped with the current time if e.Time is zero) to
// every subscriber without blocking.
func (b *Bus) Publish(e Event) {
	if (e.Kind == Send || e.Kind == Recv || e.Kind == RelayTree) && !b.messages.Load() {
		return
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if len(b.subs) == 0 {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	for s := range b.subs {
		s.push(e)
	}
}

// Subscribe returns a subscription with a queue of capacity events
// (default 1024 when capacity <= 0). Close it when done.
func (b *Bus) Subscribe(capacity int) *Subscription {
	if capacity <= 0 {
		capacity = 1024
	}
	s := &Subscription{bus: b, c: make(chan Event, capacity)}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Subscription receives events from a Bus.
type Subscription struct {
	bus     *Bus
	c       chan Event
	mu      sync.Mutex // serialises pushes so drop-oldest is exact
	dropped atomic.Uint64
	once    sync.Once
}

// C returns the channel events arrive on; it is closed by Close.
func (s *Subscription) C() <-chan Event { return s.c }

// Dropped returns how many events were dropped because the queue was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close unsubscribes and closes C. It is idempotent.
func (s *Subscription) Close() {
	s.once.Do(func() {
		s.bus.mu.Lock()
		delete(s.bus.subs, s)
		s.bus.mu.Unlock()
		s.mu.Lock()
		close(s.c)
		s.mu.Unlock()
	})
}

func (s *Subscription) push(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		select {
		case s.c <- e:
			return
		default:
		}
		select {
		case <-s.c:
			s.dropped.Add(1)
		default:
		}
	}
}
