package sessions

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/events"
	"github.com/dnode-p2p/dnode/internal/lifecycle"
	"github.com/dnode-p2p/dnode/protocols/addr"
)

// Seed dial pacing. A seed that answers is asked again at most once per
// discovery attempt (outbound_peer_discovery_attempt_time, DarkFi's pause
// between discovery rounds, which is also how often DarkFi's outbound
// session falls back to the seeds), never more often than seedFloor. A
// seed that fails is not dialed again for seedFailPause, doubling up to
// seedMaxBackoff while it keeps failing: when nothing is reachable a node
// dials each seed at most 12 times a minute, whatever its timers.
const (
	seedFloor      = 100 * time.Millisecond
	seedFailPause  = 5 * time.Second
	seedMaxBackoff = 60 * time.Second
)

// minInterval is the least time between two dials of a seed that answers.
func (s *SeedSync) minInterval() time.Duration {
	return max(s.m.net.OutboundPeerDiscoveryAttemptTime, seedFloor)
}

// SeedSync is the seed-sync session: on Sync it connects to each seed,
// runs the handshake and the seed exchange (our addresses out, GetAddrs,
// one Addrs back into the greylist) and disconnects. Seeds never enter any
// host list. It is safe for concurrent use; concurrent Syncs share one
// round.
type SeedSync struct {
	m    *Manager
	addr *addr.Service
	log  *slog.Logger

	wg sync.WaitGroup // the exchanges Add starts

	mu      sync.Mutex
	state   map[peer.ID]*seedState
	running *syncRound
	closed  bool // Stop was called
}

type seedState struct {
	next    time.Time     // not dialed before this
	backoff time.Duration // pause after the next failure
	lastErr error
}

type syncRound struct {
	done   chan struct{}
	result SyncResult
}

// SyncResult reports one seed-sync round.
type SyncResult struct {
	Seeds    int   // configured seeds
	Tried    int   // seeds dialed this round (others were pacing)
	Answered int   // seeds that sent addresses
	Stored   int   // addresses that entered the greylist
	LastErr  error // the last failure, if any
}

// NewSeedSync returns the seed-sync session of m. Its seeds are m's live
// seed list (Manager.Seeds).
func NewSeedSync(m *Manager, svc *addr.Service) *SeedSync {
	return &SeedSync{m: m, addr: svc, log: m.cfg.Logs.Logger("seedsync"), state: make(map[peer.ID]*seedState)}
}

// Seeds returns the seeds' peer IDs.
func (s *SeedSync) Seeds() []peer.ID {
	seeds := s.m.Seeds()
	out := make([]peer.ID, len(seeds))
	for i, ai := range seeds {
		out[i] = ai.ID
	}
	return out
}

// Add adds a seed at run time and asks it for addresses at once, in the
// background (its pacing then applies, as after any exchange); later
// rounds ask it as any seed. It fails with ErrSelf or ErrSeedExists.
func (s *SeedSync) Add(ai peer.AddrInfo) error {
	if err := s.m.addSeed(ai); err != nil {
		return err
	}
	s.log.Info("seed added", "seed", addrString(ai))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.stateLocked(ai.ID).next = time.Now().Add(s.minInterval())
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_, _ = s.syncOne(s.m.Context(), ai) // logged and published as an event
	}()
	return nil
}

// Stop waits for the exchanges Add started, at most until ctx is done
// (the error wraps ctx.Err()); the Manager's Stop cancels them. Later
// Adds start none. It is idempotent.
func (s *SeedSync) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return lifecycle.Wait(ctx, &s.wg, "seed exchanges")
}

// Remove removes seed p and forgets its pacing; a round already dialing
// it finishes that exchange. It reports whether p was a seed.
func (s *SeedSync) Remove(p peer.ID) bool {
	if !s.m.removeSeed(p) {
		return false
	}
	s.mu.Lock()
	delete(s.state, p)
	s.mu.Unlock()
	s.log.Info("seed removed", "seed", p)
	return true
}

// Sync asks every seed that is not pacing for addresses, concurrently,
// and returns when all have answered, failed or ctx is done. A Sync while
// another runs waits for that one and returns its result.
func (s *SeedSync) Sync(ctx context.Context) SyncResult {
	s.mu.Lock()
	if r := s.running; r != nil {
		s.mu.Unlock()
		select {
		case <-r.done:
			return r.result
		case <-ctx.Done():
			return SyncResult{Seeds: len(s.m.Seeds()), LastErr: ctx.Err()}
		}
	}
	r := &syncRound{done: make(chan struct{})}
	s.running = r
	now := time.Now()
	seeds := s.m.Seeds()
	var due []peer.AddrInfo
	for _, ai := range seeds {
		st := s.stateLocked(ai.ID)
		if !now.Before(st.next) {
			due = append(due, ai)
			st.next = now.Add(s.minInterval())
		}
	}
	s.mu.Unlock()

	res := SyncResult{Seeds: len(seeds), Tried: len(due)}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, ai := range due {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := s.syncOne(ctx, ai)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.LastErr = err
				return
			}
			res.Answered++
			res.Stored += n
		}()
	}
	wg.Wait()
	s.mu.Lock()
	r.result = res
	s.running = nil
	s.mu.Unlock()
	close(r.done)
	return res
}

func (s *SeedSync) stateLocked(p peer.ID) *seedState {
	st := s.state[p]
	if st == nil {
		st = &seedState{backoff: seedFailPause}
		s.state[p] = st
	}
	return st
}

// syncOne runs the exchange with one seed and updates its pacing.
func (s *SeedSync) syncOne(ctx context.Context, ai peer.AddrInfo) (int, error) {
	n, err := s.exchange(ctx, ai)
	s.mu.Lock()
	switch st := s.state[ai.ID]; {
	case st == nil:
		// Removed while dialing: Remove forgot it.
	case err != nil:
		st.next = time.Now().Add(st.backoff)
		st.backoff = min(2*st.backoff, seedMaxBackoff)
		st.lastErr = err
	default:
		st.backoff = seedFailPause
		st.lastErr = nil
	}
	s.mu.Unlock()
	ev := events.Event{Kind: events.SeedSync, Addr: addrString(ai), Count: n}
	if err != nil {
		ev.Err = err.Error()
		s.log.Info("seed did not answer", "seed", ai.ID, "err", err)
	} else {
		s.log.Info("seed answered", "seed", ai.ID, "stored", n)
	}
	s.m.cfg.Events.Publish(ev)
	return n, err
}

func (s *SeedSync) exchange(ctx context.Context, ai peer.AddrInfo) (int, error) {
	profile := s.m.net.Profile("")
	if len(ai.Addrs) > 0 {
		profile = s.m.Profile(ai.Addrs[0])
	}
	s.m.host.ConnMgr.Protect(ai.ID, "seed")
	defer s.m.host.ConnMgr.Unprotect(ai.ID, "seed")
	ch, err := s.m.Connect(ctx, ai, channel.Seed)
	out := connectOutcome(ch != nil, err)
	own := out == outcomeOwn
	if out == outcomeShared {
		// Reuse the channel we have with the seed, also the one its own
		// simultaneous handshake made (ErrDuplicate): not a failure.
		err = nil
	}
	if err != nil {
		return 0, fmt.Errorf("connect seed: %w", err)
	}
	if own {
		defer ch.Stop(nil)
	}
	ctx, cancel := context.WithTimeout(ctx, profile.ChannelHandshakeTimeout)
	defer cancel()
	return s.addr.SeedExchange(ctx, ch)
}

// Status describes why seeds are failing, for the "no peers" log line.
func (s *SeedSync) Status() string {
	seeds := s.m.Seeds()
	if len(seeds) == 0 {
		return "no seeds are configured"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	failing := 0
	var last error
	for _, ai := range seeds {
		if st := s.state[ai.ID]; st != nil && st.lastErr != nil {
			failing++
			last = st.lastErr
		}
	}
	if failing == 0 {
		return fmt.Sprintf("%d seeds answered but gave no reachable host", len(seeds))
	}
	return fmt.Sprintf("%d of %d seeds unreachable (last error: %v)", failing, len(seeds), last)
}
