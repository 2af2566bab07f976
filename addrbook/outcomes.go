package addrbook

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// outcomeItem turns an entry passed to an outcome method into an item.
// The address may lack the /p2p component if e.Peer is set.
func outcomeItem(e Entry) (*item, error) {
	a := e.Addr
	if len(a) == 0 {
		return nil, ErrInvalidAddr
	}
	if _, id, ok := splitP2P(a); !ok || id == "" {
		if e.Peer == "" || a[len(a)-1].Code() == ma.P_P2P {
			return nil, fmt.Errorf("%w: %s", ErrInvalidAddr, a)
		}
		c, err := ma.NewComponent("p2p", e.Peer.String())
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidAddr, err)
		}
		a = a.AppendComponent(c)
	}
	it, ok := newItem(a, e.Peer)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrInvalidAddr, a)
	}
	return it, nil
}

// Connected records an outbound or direct handshake with e: every entry
// of the peer moves to Gold, e's with LastSeen now, and the peer's state
// becomes Connected (through Move, as in DarkFi). It fails, changing
// nothing, if the peer's state does not allow Move (ErrStateBlocked) or
// the peer is banned (ErrBanned); the caller then releases the host.
func (b *Book) Connected(e Entry) error {
	it, err := outcomeItem(e)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.lists[Black].hasPeer(it.peer) {
		return fmt.Errorf("%w: %s", ErrBanned, it.peer)
	}
	if err := b.transitionLocked(it.peer, Move); err != nil {
		return err
	}
	b.moveLocked(it, []Color{Grey, White, Gold}, Gold, b.nowUnix(), true)
	b.setStateLocked(it.peer, Connected)
	return nil
}

// Failed records a failed dial or handshake: every entry of the peer
// moves to Grey keeping its LastSeen (e is stored if missing) and the peer
// becomes Suspended, so that only the refinery takes it until
// FreeSuspended. It fails, changing nothing, if the peer's state does not
// allow Move; the caller then releases the host.
func (b *Book) Failed(e Entry) error {
	it, err := outcomeItem(e)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.transitionLocked(it.peer, Move); err != nil {
		return err
	}
	if !b.lists[Black].hasPeer(it.peer) {
		b.moveLocked(it, []Color{Gold, White, Grey}, Grey, clampTS(e.LastSeen.Unix(), b.nowUnix()), false)
	}
	b.setStateLocked(it.peer, Suspend)
	return nil
}

// Disconnected records the end of an established outbound or direct
// channel: every entry of the peer moves to Grey keeping its LastSeen
// (as in DarkFi, so it is retried from Grey) and the peer becomes Free.
func (b *Book) Disconnected(e Entry) {
	it, err := outcomeItem(e)
	if err != nil {
		if e.Peer != "" {
			b.Release(e.Peer)
		}
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if allowed(b.stateLocked(it.peer), Move) && !b.lists[Black].hasPeer(it.peer) {
		b.moveLocked(it, []Color{Gold, White, Grey}, Grey, clampTS(e.LastSeen.Unix(), b.nowUnix()), false)
	}
	b.setStateLocked(it.peer, Free)
}

// Release frees p without moving any entry (for example when shutdown
// interrupts a dial).
func (b *Book) Release(p peer.ID) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.setStateLocked(p, Free)
}

// BeginRefine takes a random Grey entry whose address is Dialable and whose
// peer may enter Refine (it is Free or Suspended) and moves the peer to
// Refine. Finish with Refined (or Release). ErrNoHost if none fits.
func (b *Book) BeginRefine() (Entry, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	it := b.randomLocked(Grey, func(it *item) bool {
		return allowed(b.stateLocked(it.peer), Refine) && b.cfg.Dialer.Dialable(it.addr)
	})
	if it == nil {
		return Entry{}, ErrNoHost
	}
	b.setStateLocked(it.peer, Refine)
	return it.entry(), nil
}

// Refined finishes a BeginRefine. ok (the handshake succeeded): the peer's
// Grey entries move to White, e's with LastSeen now (unless the peer is
// in Gold meanwhile). !ok: e is removed from Grey. Then the peer is Free.
// It does nothing unless the peer is in the Refine state.
func (b *Book) Refined(e Entry, ok bool) {
	b.finishRefine(e, ok, false)
}

// RecheckWhite takes the oldest White entry whose peer is Free and moves
// the peer to Refine, for a seed node's whitelist refinery (Lilith's).
// Finish with Rechecked (or Release). ErrNoHost if none fits.
func (b *Book) RecheckWhite() (Entry, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	items := b.lists[White].items
	for i := len(items) - 1; i >= 0; i-- {
		if it := items[i]; b.stateLocked(it.peer) == Free {
			b.setStateLocked(it.peer, Refine)
			return it.entry(), nil
		}
	}
	return Entry{}, ErrNoHost
}

// Rechecked finishes a RecheckWhite. ok: e stays White with LastSeen now.
// !ok: the peer's White entries move to Grey keeping their LastSeen. A
// peer in Gold meanwhile is left there. Then the peer is Free. It does
// nothing unless the peer is in the Refine state.
func (b *Book) Rechecked(e Entry, ok bool) {
	b.finishRefine(e, ok, true)
}

func (b *Book) finishRefine(e Entry, ok, recheck bool) {
	it, err := outcomeItem(e)
	if err != nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	p := it.peer
	if b.stateLocked(p) != Refine {
		b.log.Debug("refine result for a host not being refined", "addr", it.text(), "state", b.stateLocked(p))
		return
	}
	banned, inGold := b.lists[Black].hasPeer(p), b.lists[Gold].hasPeer(p)
	switch {
	case banned || inGold:
	case ok:
		b.setStateLocked(p, Move)
		b.moveLocked(it, []Color{Grey, White}, White, b.nowUnix(), true)
	case recheck:
		if b.lists[White].hasPeer(p) {
			b.setStateLocked(p, Move)
			b.moveLocked(it, []Color{White}, Grey, clampTS(e.LastSeen.Unix(), b.nowUnix()), false)
		}
	default:
		b.removeLocked(Grey, it.key)
	}
	b.setStateLocked(p, Free)
}

// Ban moves every entry of p to Black (removing it from Grey, White, Gold
// and Dark) with LastSeen now, and records addr too if given (a /p2p
// component is added when missing; an addr of another peer is ignored).
// Inserts of p are then refused. Local addresses are not recorded unless
// Localnet (as DarkFi, which never bans a local host), but the peer itself
// is banned by ID. A peer with no entries gets a bare /p2p/<id> entry.
func (b *Book) Ban(p peer.ID, addr ma.Multiaddr) {
	var extra *item
	if len(addr) > 0 {
		if _, id, ok := splitP2P(addr); ok {
			if p == "" {
				p = id
			}
			if id == p {
				extra, _ = newItem(addr, p)
			}
		} else if p != "" && addr[len(addr)-1].Code() != ma.P_P2P {
			extra, _ = outcomeItem(Entry{Addr: addr, Peer: p})
		}
		if extra != nil && !b.cfg.Localnet && isLocal(stripP2P(extra.addr)) {
			extra = nil
		}
	}
	if p == "" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.nowUnix()
	var moved []*item
	for _, c := range [...]Color{Grey, White, Gold, Dark} {
		moved = append(moved, b.removePeerLocked(c, p)...)
	}
	if extra != nil {
		moved = append(moved, extra)
	}
	black := b.lists[Black]
	for _, it := range moved {
		if old := b.removeLocked(Black, it.key); old != nil {
			it = old
		}
		it.ts = now
		b.addLocked(Black, it)
	}
	if !black.hasPeer(p) {
		if c, err := ma.NewComponent("p2p", p.String()); err == nil {
			bare := ma.Multiaddr{*c}
			b.addLocked(Black, &item{addr: bare, peer: p, key: string(bare.Bytes()), ts: now})
		}
	}
}

// Remove deletes every entry of p from every list, Black included (for
// example when p became a manual peer), and returns how many it removed.
func (b *Book) Remove(p peer.ID) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for c := range b.lists {
		n += len(b.removePeerLocked(Color(c), p))
	}
	return n
}
