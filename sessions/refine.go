package sessions

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/events"
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
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// NewRefine returns the refine session of m; recheck > 0 enables the
// whitelist recheck.
func NewRefine(m *Manager, recheck time.Duration) *Refine {
	r := &Refine{m: m, book: m.cfg.Book, log: m.cfg.Logs.Logger("refine"), recheck: recheck}
	r.lastConn.Store(m.clock.Now().UnixNano())
	m.OnChannel(func(*channel.Channel) { r.lastConn.Store(m.clock.Now().UnixNano()) })
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

// Stop stops the loops and waits for them.
func (r *Refine) Stop() {
	if r.cancel != nil {
		r.cancel()
	}
	r.wg.Wait()
}

func (r *Refine) run(ctx context.Context) {
	for sleep(ctx, r.m.clock, r.m.net.GreylistRefineryInterval) {
		r.book.Prune()
		now := r.m.clock.Now()
		if len(r.m.Channels()) > 0 {
			r.lastConn.Store(now.UnixNano())
		} else if now.Sub(time.Unix(0, r.lastConn.Load())) >= r.m.net.TimeWithNoConnections {
			if n := r.book.FreeSuspended(); n > 0 {
				r.log.Info("offline: refinery paused, suspended hosts freed", "freed", n)
			}
			continue
		}
		e, err := r.book.BeginRefine()
		if err != nil {
			continue
		}
		ok := r.probe(ctx, e)
		if ctx.Err() != nil {
			r.book.Release(e.Peer)
			return
		}
		r.book.Refined(e, ok)
		r.publish(e, ok)
	}
}

func (r *Refine) runRecheck(ctx context.Context) {
	for sleep(ctx, r.m.clock, r.recheck) {
		e, err := r.book.RecheckWhite()
		if err != nil {
			continue
		}
		ok := r.probe(ctx, e)
		if ctx.Err() != nil {
			r.book.Release(e.Peer)
			return
		}
		r.book.Rechecked(e, ok)
		r.publish(e, ok)
	}
}

func (r *Refine) publish(e addrbook.Entry, ok bool) {
	state := "fail"
	if ok {
		state = "pass"
	}
	r.log.Debug("refinery probe", "addr", e.Addr, "result", state)
	r.m.cfg.Events.Publish(events.Event{Kind: events.RefineProbe, Addr: e.Addr.String(), State: state})
}

// probe reports whether e's host completes a handshake within the cap.
func (r *Refine) probe(ctx context.Context, e addrbook.Entry) bool {
	ctx, cancel := context.WithTimeout(ctx, refineTimeout)
	defer cancel()
	ch, err := r.m.Connect(ctx, peer.AddrInfo{ID: e.Peer, Addrs: []ma.Multiaddr{stripPeer(e.Addr)}}, channel.Refine)
	switch {
	case err == nil:
		ch.Stop(nil)
		return true
	case errors.Is(err, ErrAlreadyConnected), errors.Is(err, ErrDuplicate), errors.Is(err, ErrInProgress):
		return true // we are talking to it right now
	}
	return false
}
