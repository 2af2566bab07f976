package sessions

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/events"
	"github.com/dnode-p2p/dnode/internal/lifecycle"
)

// refineTimeout is the hard cap on one refinery probe (DarkFi's 5 s).
const refineTimeout = 5 * time.Second

// Refine is the refine session, DarkFi's GreylistRefinery: every
// greylist_refinery_interval it probes one random dialable greylist host
// with a version-only handshake (refine channels run no protocol). A host
// that answers moves to white; one that does not is removed. After
// time_with_no_connections without any channel the refinery pauses and
// frees suspended hosts, so that a node coming back online does not throw
// good hosts away.
//
// With a whitelist recheck interval (seed nodes, DarkFi's Lilith) it also
// re-probes the oldest whitelist host: answering refreshes it, silence
// moves it back to grey.
type Refine struct {
	m       *Manager
	book    *addrbook.Book
	log     *slog.Logger
	recheck time.Duration

	lastConn atomic.Int64 // unix nanos of the last time a channel existed
	prompt   chan addrbook.Entry
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	promptMu sync.Mutex
	prompted map[peer.ID]struct{} // peers prompted in this round
}

// promptQueue bounds the self-advertised hosts waiting for a probe, and
// the peers that may be prompted in one round.
const promptQueue = 64

// NewRefine returns the refine session of m; recheck > 0 enables the
// whitelist recheck.
func NewRefine(m *Manager, recheck time.Duration) *Refine {
	r := &Refine{m: m, book: m.cfg.Book, log: m.cfg.Logs.Logger("refine"), recheck: recheck,
		prompt: make(chan addrbook.Entry, promptQueue), prompted: make(map[peer.ID]struct{})}
	r.lastConn.Store(time.Now().UnixNano())
	m.OnChannel(func(*channel.Channel) { r.lastConn.Store(time.Now().UnixNano()) })
	return r
}

// Start starts the refinery loops.
func (r *Refine) Start() {
	ctx, cancel := context.WithCancel(r.m.Context())
	r.cancel = cancel
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.run(ctx)
	}()
	if r.recheck > 0 {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.runRecheck(ctx)
		}()
	}
}

// Stop stops the loops and waits for them, at most until ctx is done; the
// error wraps ctx.Err().
func (r *Refine) Stop(ctx context.Context) error {
	if r.cancel != nil {
		r.cancel()
	}
	return lifecycle.Wait(ctx, &r.wg, "refinery")
}

// Prompt asks the refinery to probe e soon, ahead of its interval: a peer
// that advertised its own address is verified at once, so that a seed can
// share it without waiting for the periodic probe to pick it. It never
// blocks; when the queue is full the host waits for the periodic probe.
//
// A peer is prompted at most once per round (greylist_refinery_interval),
// and at most promptQueue peers per round: a peer that sends many
// addresses under its own peer ID gets one out-of-turn probe, not one per
// address, so it cannot steer our dials; its other addresses wait for the
// periodic probe like any grey entry.
func (r *Refine) Prompt(e addrbook.Entry) {
	r.promptMu.Lock()
	defer r.promptMu.Unlock()
	if _, done := r.prompted[e.Peer]; done || len(r.prompted) >= promptQueue {
		return
	}
	select {
	case r.prompt <- e:
		r.prompted[e.Peer] = struct{}{}
	default:
	}
}

// newRound lets every peer be prompted again.
func (r *Refine) newRound() {
	r.promptMu.Lock()
	clear(r.prompted)
	r.promptMu.Unlock()
}

func (r *Refine) run(ctx context.Context) {
	timer := time.NewTimer(r.m.net.GreylistRefineryInterval)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-r.prompt:
			r.refineNow(ctx, e)
			continue
		case <-timer.C:
			timer.Reset(r.m.net.GreylistRefineryInterval)
		}
		r.newRound()
		r.book.Prune()
		r.m.host.Gater.Sweep()
		r.expireBans()
		now := time.Now()
		if len(r.m.Channels()) > 0 {
			r.lastConn.Store(now.UnixNano())
		} else if now.Sub(time.Unix(0, r.lastConn.Load())) >= r.m.net.TimeWithNoConnections {
			if n := r.book.FreeSuspended(); n > 0 {
				r.log.Info("offline: refinery paused, suspended hosts freed", "freed", n)
			}
			continue
		}
		if e, err := r.book.BeginRefine(); err == nil {
			r.settle(ctx, e, r.book.Refined)
		}
	}
}

// settle probes e, which the caller moved to the Refine state, and hands
// the outcome to done (Refined or Rechecked); on shutdown it frees e.
func (r *Refine) settle(ctx context.Context, e addrbook.Entry, done func(addrbook.Entry, bool)) {
	ok := r.probe(ctx, e)
	if ctx.Err() != nil {
		r.book.Release(e.Peer)
		return
	}
	done(e, ok)
	state := "fail"
	if ok {
		state = "pass"
	}
	r.log.Debug("refinery probe", "addr", e.Addr, "result", state)
	r.m.cfg.Events.Publish(events.Event{Kind: events.RefineProbe, Addr: e.Addr.String(), State: state})
}

// expireBans forgets blacklist entries of peers whose ban has expired, so
// that their addresses can be learned again (bans expire; the config
// blacklist, enforced by the gater, does not).
func (r *Refine) expireBans() {
	for _, e := range r.book.Entries(addrbook.Black) {
		if !r.m.host.Gater.Refused(e.Peer, e.Addr) {
			r.book.Remove(e.Peer)
		}
	}
}

// refineNow probes a self-advertised greylist host out of turn.
func (r *Refine) refineNow(ctx context.Context, e addrbook.Entry) {
	if c, ok := r.book.Contains(e.Peer); !ok || c != addrbook.Grey {
		return // already verified, or filtered out
	}
	if err := r.book.Transition(e.Peer, addrbook.Refine); err != nil {
		return // being dialed or probed already
	}
	r.settle(ctx, e, r.book.Refined)
}

func (r *Refine) runRecheck(ctx context.Context) {
	for sleep(ctx, r.recheck) {
		if e, err := r.book.RecheckWhite(); err == nil {
			r.settle(ctx, e, r.book.Rechecked)
		}
	}
}

// probe reports whether e's host answers at e's address within the cap:
// with a version-only handshake, or, when we already have a channel with
// the peer (which proves it compatible), with a transport-level dial of
// the exact address, since libp2p would otherwise reuse the connection
// and prove nothing about the address.
func (r *Refine) probe(ctx context.Context, e addrbook.Entry) bool {
	ctx, cancel := context.WithTimeout(ctx, refineTimeout)
	defer cancel()
	addr := stripPeer(e.Addr)
	if r.m.Channel(e.Peer) != nil {
		return r.dialAddr(ctx, e.Peer, addr)
	}
	ch, err := r.m.Connect(ctx, peer.AddrInfo{ID: e.Peer, Addrs: []ma.Multiaddr{addr}}, channel.Refine)
	switch connectOutcome(ch != nil, err) {
	case outcomeOwn:
		ch.Stop(nil)
		return true
	case outcomeShared, outcomeBusy:
		return r.dialAddr(ctx, e.Peer, addr)
	}
	return false
}

// dialAddr dials addr with its transport alone (security handshake
// included, which proves the peer ID) and closes the connection.
func (r *Refine) dialAddr(ctx context.Context, p peer.ID, addr ma.Multiaddr) bool {
	sw, ok := r.m.host.Network().(*swarm.Swarm)
	if !ok {
		return false
	}
	tpt := sw.TransportForDialing(addr)
	if tpt == nil {
		return false
	}
	c, err := tpt.Dial(ctx, addr, p)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}
