package sessions

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/internal/lifecycle"
)

// Manual backoff bounds. The delay before a retry starts at
// manualBackoffMin, doubles after each failure up to the larger of
// manualBackoffMax and the connect timeout, and is jittered by ±20 %. A
// channel that lived longer than manualStableAfter resets it.
const (
	manualBackoffMin  = 500 * time.Millisecond
	manualBackoffMax  = 30 * time.Second
	manualStableAfter = time.Minute
)

// Manual is the manual session: one slot per configured peer, each
// keeping a channel to its peer forever. Manual peers are protected from
// the connection manager and never enter any host list.
type Manual struct {
	m   *Manager
	log *slog.Logger

	mu     sync.Mutex
	slots  map[peer.ID]*manualSlot
	closed bool
	wg     sync.WaitGroup
}

type manualSlot struct {
	ai     peer.AddrInfo
	cancel context.CancelFunc
	ch     *channel.Channel // current channel, nil if none
}

// NewManual returns the manual session of m. Slots are added with Add.
func NewManual(m *Manager) *Manual {
	return &Manual{m: m, log: m.cfg.Logs.Logger("manual"), slots: make(map[peer.ID]*manualSlot)}
}

// Add starts a slot for addr (a multiaddr ending in /p2p/<id>). Adding a
// peer twice, a seed, or ourselves is refused with an error.
func (s *Manual) Add(addr ma.Multiaddr) error {
	ai, err := peer.AddrInfoFromP2pAddr(addr)
	if err != nil {
		return err
	}
	if s.m.IsSeed(ai.ID) {
		return errors.New("manual peer " + ai.ID.String() + " is also a seed; seeds are only used for seeding")
	}
	if ai.ID == s.m.host.ID() {
		return ErrSelf
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrStopped
	}
	if _, dup := s.slots[ai.ID]; dup {
		return errors.New("manual peer " + ai.ID.String() + " already configured")
	}
	ctx, cancel := context.WithCancel(s.m.Context())
	slot := &manualSlot{ai: *ai, cancel: cancel}
	s.slots[ai.ID] = slot
	s.m.host.ConnMgr.Protect(ai.ID, "manual")
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.run(ctx, slot)
	}()
	return nil
}

// Remove stops the slot of peer p and closes its channel if the slot
// opened it. It reports whether the peer had a slot.
func (s *Manual) Remove(p peer.ID) bool {
	s.mu.Lock()
	slot, ok := s.slots[p]
	delete(s.slots, p)
	s.mu.Unlock()
	if !ok {
		return false
	}
	slot.cancel()
	s.m.host.ConnMgr.Unprotect(p, "manual")
	return true
}

// Peers returns the configured manual peers and their current channel
// (nil while disconnected).
func (s *Manual) Peers() map[peer.ID]*channel.Channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[peer.ID]*channel.Channel, len(s.slots))
	for p, slot := range s.slots {
		out[p] = slot.ch
	}
	return out
}

// Stop stops every slot and waits for them, at most until ctx is done
// (the error wraps ctx.Err()). Channels are stopped by the Manager. It is
// idempotent.
func (s *Manual) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for p, slot := range s.slots {
		slot.cancel()
		delete(s.slots, p)
	}
	s.mu.Unlock()
	return lifecycle.Wait(ctx, &s.wg, "manual slots")
}

// run keeps a channel to the slot's peer until ctx is done.
func (s *Manual) run(ctx context.Context, slot *manualSlot) {
	backoff := manualBackoffMin
	maxBackoff := max(manualBackoffMax, s.m.net.Profile("").OutboundConnectTimeout)
	for ctx.Err() == nil {
		ch, err := s.m.Connect(ctx, slot.ai, channel.Manual)
		switch connectOutcome(ch != nil, err) {
		case outcomeOwn, outcomeShared:
			// Ours, or one the peer opened: either way the peer is
			// connected; wait until that channel ends.
			s.setChannel(slot, ch)
			started := time.Now()
			select {
			case <-ch.Done():
			case <-ctx.Done():
				if err == nil {
					ch.Stop(ErrStopped)
				}
			}
			s.setChannel(slot, nil)
			if time.Since(started) > manualStableAfter {
				backoff = manualBackoffMin
			}
		case outcomeStopped:
			return
		case outcomeBusy:
			// The peer is connecting to us right now; look again soon.
			backoff = manualBackoffMin
		default:
			s.log.Info("manual peer unreachable", "peer", slot.ai.ID, "retry_in", backoff, "err", err)
		}
		if !sleep(ctx, jitter(backoff)) {
			return
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (s *Manual) setChannel(slot *manualSlot, ch *channel.Channel) {
	s.mu.Lock()
	slot.ch = ch
	s.mu.Unlock()
}

// jitter returns d ± 20 %.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// sleep waits for d, returning false if ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
