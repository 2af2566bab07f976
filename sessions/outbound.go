package sessions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/events"
	"github.com/dnode-p2p/dnode/protocols/addr"
)

// Outbound is the outbound session: outbound_connections slots, each
// keeping one channel to a host picked from the address book, and the
// peer-discovery task that refills the book (DarkFi's OutboundSession and
// PeerDiscovery). Since a node keeps one channel per peer, a slot whose
// picked peer is already connected (it dialed us first) holds that
// channel instead of opening a second one; the choice of peer is still
// the slot's own.
//
// Slot i prefers known hosts (gold, then white) when i is below
// known_peer_percent (at most 80 %) of the slots, and greylist hosts
// otherwise (none with disable_greys); either falls back to the other
// kind. Two outbound peers never share an IPv4 /16 or IPv6 /32 unless
// localnet. A handshake moves the host to gold; a failed dial or
// handshake moves it to grey and suspends it; a disconnect moves it back
// to grey; the slot then picks again.
type Outbound struct {
	m     *Manager
	book  *addrbook.Book
	addr  *addr.Service
	seeds *SeedSync
	log   *slog.Logger

	wake     *notifier     // slots wait on it when the book has nothing for them
	stored   *notifier     // the book stored new hosts
	discover chan struct{} // a slot asks for peer discovery (capacity 1)

	mu     sync.Mutex
	slots  []*outSlot
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type outSlot struct {
	id    int
	ch    *channel.Channel // nil while not connected
	group string           // netgroup of the connected or connecting host
	peer  peer.ID
}

// NewOutbound returns the outbound session of m. Start starts it.
func NewOutbound(m *Manager, svc *addr.Service, seeds *SeedSync) *Outbound {
	o := &Outbound{
		m: m, book: m.cfg.Book, addr: svc, seeds: seeds,
		log:      m.cfg.Logs.Logger("outbound"),
		wake:     newNotifier(),
		stored:   newNotifier(),
		discover: make(chan struct{}, 1),
	}
	o.book.OnStore(func(int) {
		o.stored.Notify()
		o.wake.Notify()
	})
	return o
}

// Start starts the slots and the discovery task.
func (o *Outbound) Start() {
	ctx, cancel := context.WithCancel(o.m.Context())
	n := o.m.net.OutboundConnections
	o.mu.Lock()
	o.cancel = cancel
	o.slots = make([]*outSlot, n)
	for i := range n {
		o.slots[i] = &outSlot{id: i}
	}
	o.mu.Unlock()
	if n == 0 {
		return
	}
	known := o.m.net.EffectiveKnownPeerPercent() * n / 100
	for i := range n {
		o.wg.Add(1)
		go func() {
			defer o.wg.Done()
			o.runSlot(ctx, o.slots[i], i < known)
		}()
	}
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		o.runDiscovery(ctx)
	}()
}

// Stop stops the slots and discovery and waits for them.
func (o *Outbound) Stop() {
	o.mu.Lock()
	cancel := o.cancel
	o.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	o.wg.Wait()
}

// Slots returns each slot's channel id (0 when empty), in slot order.
func (o *Outbound) Slots() []uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]uint64, len(o.slots))
	for i, s := range o.slots {
		if s.ch != nil {
			out[i] = s.ch.ID()
		}
	}
	return out
}

// Filled returns how many slots hold a channel.
func (o *Outbound) Filled() int {
	n := 0
	for _, id := range o.Slots() {
		if id != 0 {
			n++
		}
	}
	return n
}

// skip filters candidates for slot s: ourselves, peers another slot
// holds, and (unless localnet) hosts in a netgroup another slot uses. It
// runs under the book's lock and must not call into the book.
func (o *Outbound) skip(s *outSlot) func(addrbook.Entry) bool {
	return func(e addrbook.Entry) bool {
		if e.Peer == o.m.host.ID() {
			return true
		}
		group := ""
		if !o.m.net.Localnet {
			group = addrbook.Netgroup(e.Addr)
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		for _, other := range o.slots {
			if other == s {
				continue
			}
			if other.peer == e.Peer || (group != "" && other.group == group) {
				return true
			}
		}
		return false
	}
}

func (o *Outbound) setSlot(s *outSlot, e addrbook.Entry, ch *channel.Channel) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s.ch, s.peer, s.group = ch, e.Peer, ""
	if e.Peer != "" && !o.m.net.Localnet {
		s.group = addrbook.Netgroup(e.Addr)
	}
}

func (o *Outbound) runSlot(ctx context.Context, s *outSlot, known bool) {
	bus := o.m.cfg.Events
	for ctx.Err() == nil {
		woken := o.wake.Wait()
		e, err := o.book.Pick(known, !o.m.net.DisableGreys, o.skip(s))
		if err != nil {
			bus.Publish(events.Event{Kind: events.OutboundSlotSleeping, Slot: s.id})
			o.requestDiscovery()
			select {
			case <-woken:
			case <-ctx.Done():
				return
			}
			continue
		}
		o.setSlot(s, e, nil)
		if ch := o.m.Channel(e.Peer); ch != nil {
			o.hold(ctx, s, e, ch)
			continue
		}
		bus.Publish(events.Event{Kind: events.OutboundSlotConnecting, Slot: s.id, Addr: e.Addr.String()})
		ch, err := o.m.Connect(ctx, peer.AddrInfo{ID: e.Peer, Addrs: []ma.Multiaddr{stripPeer(e.Addr)}}, channel.Outbound)
		if (errors.Is(err, ErrAlreadyConnected) || errors.Is(err, ErrDuplicate)) && ch != nil {
			o.hold(ctx, s, e, ch)
			continue
		}
		if err != nil {
			o.setSlot(s, addrbook.Entry{}, nil)
			bus.Publish(events.Event{Kind: events.OutboundSlotDisconnected, Slot: s.id, Err: err.Error()})
			switch {
			case ctx.Err() != nil || errors.Is(err, ErrStopped):
				o.book.Release(e.Peer)
				return
			case errors.Is(err, ErrAlreadyConnected), errors.Is(err, ErrDuplicate), errors.Is(err, ErrInProgress), errors.Is(err, ErrSelf):
				// Being connected some other way right now: not the host's fault.
				o.book.Release(e.Peer)
				if !sleep(ctx, o.m.clock, jitter(time.Second)) {
					return
				}
			default:
				o.log.Debug("outbound dial failed", "slot", s.id, "addr", e.Addr, "err", err)
				if ferr := o.book.Failed(e); ferr != nil {
					o.book.Release(e.Peer)
				}
			}
			continue
		}
		if err := o.book.Connected(e); err != nil {
			o.log.Debug("book refused connected host", "addr", e.Addr, "err", err)
		}
		o.setSlot(s, e, ch)
		bus.Publish(events.Event{Kind: events.OutboundSlotConnected, Slot: s.id, Addr: e.Addr.String(), ChannelID: ch.ID()})
		select {
		case <-ch.Done():
		case <-ctx.Done():
			ch.Stop(ErrStopped)
			<-ch.Done()
		}
		o.setSlot(s, addrbook.Entry{}, nil)
		o.book.Disconnected(e)
		bus.Publish(events.Event{Kind: events.OutboundSlotDisconnected, Slot: s.id, Err: errString(ch.Err())})
	}
}

// hold fills slot s with a channel that already exists with the picked
// peer (one channel per peer: the peer dialed us first, or another
// session connected it) until that channel ends. The host is not moved to
// gold, since we did not dial its address.
func (o *Outbound) hold(ctx context.Context, s *outSlot, e addrbook.Entry, ch *channel.Channel) {
	bus := o.m.cfg.Events
	_ = o.book.Transition(e.Peer, addrbook.Connected)
	o.setSlot(s, e, ch)
	bus.Publish(events.Event{Kind: events.OutboundSlotConnected, Slot: s.id, Addr: e.Addr.String(), ChannelID: ch.ID()})
	select {
	case <-ch.Done():
	case <-ctx.Done():
	}
	o.setSlot(s, addrbook.Entry{}, nil)
	o.book.Release(e.Peer)
	bus.Publish(events.Event{Kind: events.OutboundSlotDisconnected, Slot: s.id, Err: errString(ch.Err())})
}

// requestDiscovery wakes the discovery task (without blocking).
func (o *Outbound) requestDiscovery() {
	select {
	case o.discover <- struct{}{}:
	default:
	}
}

// runDiscovery is DarkFi's PeerDiscovery: when a slot finds nothing to
// dial, ask connected peers for addresses; after two rounds that brought
// nothing new, or with no peers at all, ask the seeds. Rounds are at
// least outbound_peer_discovery_attempt_time apart.
func (o *Outbound) runDiscovery(ctx context.Context) {
	bus := o.m.cfg.Events
	attempt := 0
	failures := 0
	warned := false
	pause := o.m.net.OutboundPeerDiscoveryAttemptTime
	for {
		bus.Publish(events.Event{Kind: events.OutboundPeerDiscovery, Attempt: attempt, State: "wait"})
		select {
		case <-o.discover:
		case <-ctx.Done():
			return
		}
		attempt++
		hasSeeds := len(o.seeds.Seeds()) > 0
		waited := false
		switch {
		case failures >= 2:
			if hasSeeds {
				bus.Publish(events.Event{Kind: events.OutboundPeerDiscovery, Attempt: attempt, State: "seed"})
				o.seeds.Sync(ctx)
			}
			failures = 0
		case len(o.m.Channels()) > 0:
			bus.Publish(events.Event{Kind: events.OutboundPeerDiscovery, Attempt: attempt, State: "getaddr"})
			stored := o.stored.Wait()
			if o.addr.RequestAll() == 0 {
				// Every channel was asked moments ago (addr paces its
				// requests): this round cannot bring anything new.
				failures++
				break
			}
			select {
			case <-stored:
				failures = 0
			case <-o.m.clock.After(pause):
				failures++
				waited = true
			case <-ctx.Done():
				return
			}
		case hasSeeds:
			bus.Publish(events.Event{Kind: events.OutboundPeerDiscovery, Attempt: attempt, State: "seed"})
			o.seeds.Sync(ctx)
		}
		if ctx.Err() != nil {
			return
		}
		if len(o.m.Channels()) == 0 {
			if !warned {
				known := o.book.Len(addrbook.Grey) + o.book.Len(addrbook.White) + o.book.Len(addrbook.Gold)
				o.log.Warn(fmt.Sprintf("no peers: none of the %d known hosts is reachable and %s; retrying every %s",
					known, o.seeds.Status(), pause))
				warned = true
			}
		} else {
			warned = false
		}
		o.wake.Notify()
		// Rounds are a discovery attempt time apart: a round that already
		// waited that long for answers goes on at once.
		if !waited && !sleep(ctx, o.m.clock, pause) {
			return
		}
	}
}

// stripPeer removes the trailing /p2p/<id> of an address.
func stripPeer(a ma.Multiaddr) ma.Multiaddr {
	t, _ := peer.SplitAddr(a)
	if t == nil {
		return a
	}
	return t
}
