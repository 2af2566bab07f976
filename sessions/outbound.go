package sessions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/events"
	"github.com/dnode-p2p/dnode/internal/lifecycle"
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
//
// The slot count is net.outbound_connections until SetSlots changes it,
// also while the session runs: growing starts new slots at once,
// shrinking removes the highest slots, whose channels stop with
// ErrSlotRemoved. Which slots prefer known hosts follows the current
// count.
//
// Anchors (SetAnchors, the hosts the slots held when the node last
// stopped) are dialed first at Start: each is taken for a slot before any
// slot picks, so they go through the same Connect, Connected and Failed
// transitions and the slots' picks avoid their peers and netgroups.
type Outbound struct {
	m     *Manager
	book  *addrbook.Book
	addr  *addr.Service
	seeds *SeedSync
	log   *slog.Logger

	wake     *notifier     // slots wait on it when the book has nothing for them
	stored   *notifier     // the book stored new hosts
	discover chan struct{} // a slot asks for peer discovery (capacity 1)

	life        sync.Mutex // serialises Start, Stop and SetSlots
	discovering bool       // the discovery task runs; o.life

	mu      sync.Mutex
	want    int              // the slot count (net.outbound_connections, or SetSlots)
	slots   []*outSlot       // the slots, ids 0..want-1
	leaving []*outSlot       // slots SetSlots removed that are still winding down
	anchors []addrbook.Entry // dialed first at the next Start
	ctx     context.Context  // the running session's; nil when not running
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// ErrSlotRemoved is the stop reason of an outbound channel whose slot
// SetSlots removed (of kind channel.StopLocal).
var ErrSlotRemoved = channel.Because(channel.StopLocal, errors.New("outbound slot removed"))

type outSlot struct {
	id     int
	cancel context.CancelCauseFunc // stops the slot's loop
	ch     *channel.Channel        // nil while not connected
	entry  addrbook.Entry          // the connected or connecting host
	group  string                  // netgroup of the connected or connecting host
	peer   peer.ID
}

// KnownSlots returns how many of n outbound slots prefer known hosts
// (gold, then white) for an effective known_peer_percent of percent: the
// first percent·n/100 slots.
func KnownSlots(n, percent int) int { return percent * n / 100 }

// SlotGroup returns the netgroup that outbound diversity counts for a
// host at a, or "" under localnet (no diversity rule).
func SlotGroup(a ma.Multiaddr, localnet bool) string {
	if localnet {
		return ""
	}
	return addrbook.Netgroup(a)
}

// NewOutbound returns the outbound session of m. Start starts it.
func NewOutbound(m *Manager, svc *addr.Service, seeds *SeedSync) *Outbound {
	o := &Outbound{
		m: m, book: m.cfg.Book, addr: svc, seeds: seeds,
		log:      m.cfg.Logs.Logger("outbound"),
		want:     m.net.OutboundConnections,
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

// SetAnchors sets the hosts the next Start dials first, one slot each in
// order (the anchors of the last run; see addrbook.LoadAnchors). Anchors
// past the slot count, anchors the book refuses (addrbook.Book.Take) and
// anchors that break the diversity rule with an earlier one are dropped.
func (o *Outbound) SetAnchors(anchors []addrbook.Entry) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.anchors = slices.Clone(anchors)
}

// Anchors returns the hosts the slots hold a channel with, in slot order:
// what a node saves at Stop as the next start's anchors.
func (o *Outbound) Anchors() []addrbook.Entry {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []addrbook.Entry
	for _, s := range o.slots {
		if s.ch != nil {
			out = append(out, s.entry)
		}
	}
	return out
}

// Start starts the slots and the discovery task. Anchors set before are
// taken for the first slots before any slot runs. An Outbound is started
// once.
func (o *Outbound) Start() {
	o.life.Lock()
	defer o.life.Unlock()
	ctx, cancel := context.WithCancel(o.m.Context())
	o.mu.Lock()
	o.ctx, o.cancel = ctx, cancel
	n := o.want
	o.slots = make([]*outSlot, n)
	for i := range n {
		o.slots[i] = &outSlot{id: i}
	}
	anchors := o.anchors
	o.anchors = nil
	o.mu.Unlock()
	first := o.takeAnchors(anchors)
	for i, s := range o.slots {
		o.startSlot(ctx, s, first[i])
	}
	if n > 0 {
		o.startDiscovery(ctx)
	}
}

// startDiscovery starts the discovery task, once: at Start, or when
// SetSlots first gives a session started without slots some. o.life.
func (o *Outbound) startDiscovery(ctx context.Context) {
	if o.discovering {
		return
	}
	o.discovering = true
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		o.runDiscovery(ctx)
	}()
}

// startSlot runs slot s until the session stops or SetSlots removes it.
func (o *Outbound) startSlot(ctx context.Context, s *outSlot, anchor *addrbook.Lease) {
	sctx, cancel := context.WithCancelCause(ctx)
	o.mu.Lock()
	s.cancel = cancel
	o.mu.Unlock()
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		defer o.retire(s)
		o.runSlot(sctx, s, anchor)
	}()
}

// retire forgets a removed slot once its loop has returned.
func (o *Outbound) retire(s *outSlot) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if i := slices.Index(o.leaving, s); i >= 0 {
		o.leaving = slices.Delete(o.leaving, i, i+1)
	}
	s.cancel(nil)
}

// SetSlots sets the slot count to n (n >= 0; the caller checks the upper
// bound). While the session runs it takes effect at once: new slots start
// picking hosts, and removed slots (the highest ids) stop their channels
// with ErrSlotRemoved and return without waiting; Stop still waits for
// all of them. Before Start it sets the count Start uses. It does not
// block on the network.
func (o *Outbound) SetSlots(n int) {
	n = max(n, 0)
	o.life.Lock()
	defer o.life.Unlock()
	o.mu.Lock()
	old := o.want
	o.want = n
	ctx := o.ctx
	if ctx == nil || ctx.Err() != nil {
		o.mu.Unlock()
		return
	}
	var gone, added []*outSlot
	for len(o.slots) > n {
		s := o.slots[len(o.slots)-1]
		o.slots = o.slots[:len(o.slots)-1]
		o.leaving = append(o.leaving, s)
		gone = append(gone, s)
	}
	for len(o.slots) < n {
		s := &outSlot{id: len(o.slots)}
		o.slots = append(o.slots, s)
		added = append(added, s)
	}
	o.mu.Unlock()
	for _, s := range gone {
		s.cancel(ErrSlotRemoved)
	}
	for _, s := range added {
		o.startSlot(ctx, s, nil)
	}
	if n > 0 {
		o.startDiscovery(ctx)
	}
	if n != old {
		o.log.Info("outbound slots changed", "from", old, "to", n)
	}
}

// Stop stops the slots and discovery and waits for them, at most until
// ctx is done (a slot waits for its channel to finish, which a protocol
// job ignoring its context can delay forever). The error wraps ctx.Err().
func (o *Outbound) Stop(ctx context.Context) error {
	o.life.Lock()
	o.mu.Lock()
	cancel := o.cancel
	o.ctx = nil
	o.mu.Unlock()
	o.life.Unlock()
	if cancel != nil {
		cancel()
	}
	return lifecycle.Wait(ctx, &o.wg, "outbound slots")
}

// known reports whether slot s prefers known hosts: its id is below
// KnownSlots of the current slot count.
func (o *Outbound) known(s *outSlot) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return s.id < KnownSlots(len(o.slots), o.m.net.EffectiveKnownPeerPercent())
}

// stopCause is the stop reason for the channel of a slot whose ctx is
// done: ErrSlotRemoved for a slot SetSlots removed, else ErrStopped.
func stopCause(ctx context.Context) error {
	if errors.Is(context.Cause(ctx), ErrSlotRemoved) {
		return ErrSlotRemoved
	}
	return ErrStopped
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

// takeAnchors takes anchors for the first slots (in order, one each,
// skipping those the book refuses or that conflict with an earlier one)
// and returns, per slot, the lease of the anchor it dials first or nil.
func (o *Outbound) takeAnchors(anchors []addrbook.Entry) []*addrbook.Lease {
	first := make([]*addrbook.Lease, len(o.slots))
	next := 0
	for _, e := range anchors {
		if next == len(o.slots) {
			break
		}
		s := o.slots[next]
		if o.skip(s)(e) {
			o.log.Debug("anchor not used: its peer or netgroup is taken", "addr", e.Addr)
			continue
		}
		l, err := o.book.TakeLease(e)
		if err != nil {
			o.log.Debug("anchor not used", "addr", e.Addr, "err", err)
			continue
		}
		o.setSlot(s, e, nil)
		first[next] = l
		next++
	}
	if next > 0 {
		o.log.Info("dialing anchors first", "anchors", next)
	}
	return first
}

// skip filters candidates for slot s by SlotConflict. It runs under the
// book's lock and must not call into the book.
func (o *Outbound) skip(s *outSlot) func(addrbook.Entry) bool {
	self, localnet := o.m.host.ID(), o.m.net.Localnet
	return func(e addrbook.Entry) bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		return SlotConflict(e, self, localnet, func(yield func(peer.ID, string) bool) {
			for _, list := range [2][]*outSlot{o.slots, o.leaving} {
				for _, other := range list {
					if other != s && !yield(other.peer, other.group) {
						return
					}
				}
			}
		})
	}
}

func (o *Outbound) setSlot(s *outSlot, e addrbook.Entry, ch *channel.Channel) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s.ch, s.entry, s.peer, s.group = ch, e, e.Peer, ""
	if e.Peer != "" {
		s.group = SlotGroup(e.Addr, o.m.net.Localnet)
	}
}

// runSlot keeps slot s filled: first with anchor, if any (already taken),
// then with the hosts it picks.
func (o *Outbound) runSlot(ctx context.Context, s *outSlot, anchor *addrbook.Lease) {
	bus := o.m.cfg.Events
	if anchor != nil && !o.fill(ctx, s, anchor, "anchor") {
		return
	}
	for ctx.Err() == nil {
		woken := o.wake.Wait()
		l, err := o.book.PickLease(o.known(s), !o.m.net.DisableGreys, o.skip(s))
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
		o.setSlot(s, l.Entry(), nil)
		if !o.fill(ctx, s, l, "") {
			return
		}
	}
}

// fill runs the leased host through slot s: dial, hold the channel until
// it ends, and record the outcome on the lease, which it ends. why is the
// Connecting event's State ("anchor" for an anchor). It reports false
// when the slot must stop.
func (o *Outbound) fill(ctx context.Context, s *outSlot, l *addrbook.Lease, why string) bool {
	defer l.Done()
	bus := o.m.cfg.Events
	e := l.Entry()
	if ch := o.m.Channel(e.Peer); ch != nil {
		o.hold(ctx, s, l, ch)
		return true
	}
	bus.Publish(events.Event{Kind: events.OutboundSlotConnecting, Slot: s.id, Addr: e.Addr.String(), State: why})
	ch, err := o.m.Connect(ctx, peer.AddrInfo{ID: e.Peer, Addrs: []ma.Multiaddr{stripPeer(e.Addr)}}, channel.Outbound)
	out := connectOutcome(ch != nil, err)
	if out == outcomeShared {
		o.hold(ctx, s, l, ch)
		return true
	}
	if err != nil {
		o.setSlot(s, addrbook.Entry{}, nil)
		bus.Publish(events.Event{Kind: events.OutboundSlotDisconnected, Slot: s.id, Err: err.Error()})
		switch {
		case ctx.Err() != nil || out == outcomeStopped:
			return false // Done frees the host
		case out == outcomeBusy, out == outcomeSelf:
			// Being connected some other way right now: not the host's fault.
			l.Done()
			if !sleep(ctx, jitter(time.Second)) {
				return false
			}
		default:
			o.log.Debug("outbound dial failed", "slot", s.id, "addr", e.Addr, "err", err)
			if ferr := l.Failed(); ferr != nil {
				o.log.Debug("book refused failed host; freed it", "addr", e.Addr, "err", ferr)
			}
		}
		return true
	}
	if err := l.Connected(); err != nil {
		// Banned meanwhile, or blocked: the entries stay; the lease's
		// Done still records the disconnect.
		o.log.Debug("book refused connected host", "addr", e.Addr, "err", err)
	}
	o.setSlot(s, e, ch)
	bus.Publish(events.Event{Kind: events.OutboundSlotConnected, Slot: s.id, Addr: e.Addr.String(), ChannelID: ch.ID()})
	select {
	case <-ch.Done():
	case <-ctx.Done():
		ch.Stop(stopCause(ctx))
		<-ch.Done()
	}
	o.setSlot(s, addrbook.Entry{}, nil)
	l.Done() // the disconnect
	bus.Publish(events.Event{Kind: events.OutboundSlotDisconnected, Slot: s.id, Err: errString(ch.Err())})
	return true
}

// hold fills slot s with a channel that already exists with the picked
// peer (one channel per peer: the peer dialed us first, or another
// session connected it) until that channel ends. The host is not moved to
// gold, since we did not dial its address.
func (o *Outbound) hold(ctx context.Context, s *outSlot, l *addrbook.Lease, ch *channel.Channel) {
	bus := o.m.cfg.Events
	e := l.Entry()
	if err := l.Held(); err != nil {
		// The host stays in its Connect state until Done below.
		o.log.Debug("book refused held host", "addr", e.Addr, "err", err)
	}
	// The held channel may be one the peer opened (an inbound channel):
	// as this slot's peer it is an outbound peer, never evicted.
	tag := fmt.Sprintf("dnode/%s/outbound-slot/%d", o.m.cfg.Network, s.id)
	o.m.host.ConnMgr.Protect(ch.Peer(), tag)
	defer o.m.host.ConnMgr.Unprotect(ch.Peer(), tag)
	o.setSlot(s, e, ch)
	bus.Publish(events.Event{Kind: events.OutboundSlotConnected, Slot: s.id, Addr: e.Addr.String(), ChannelID: ch.ID()})
	select {
	case <-ch.Done():
	case <-ctx.Done():
	}
	o.setSlot(s, addrbook.Entry{}, nil)
	l.Done()
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
			case <-time.After(pause):
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
		if !waited && !sleep(ctx, pause) {
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
