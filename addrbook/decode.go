package addrbook

import (
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// RawEntry is an entry as the addr protocol carries it: the address in
// its binary form.
type RawEntry struct {
	Addr     []byte
	LastSeen time.Time
}

// ParseRaw turns r into an Entry: ok is false when the address does not
// parse or does not end in /p2p/<id>.
func ParseRaw(r RawEntry) (e Entry, ok bool) {
	m, err := ma.NewMultiaddrBytes(r.Addr)
	if err != nil {
		return Entry{}, false
	}
	_, id := peer.SplitAddr(m)
	if id == "" {
		return Entry{}, false
	}
	return Entry{Addr: m, Peer: id, LastSeen: r.LastSeen}, true
}

// Decode is ParseRaw for each of raw, in order, leaving out those it
// refuses, with shortcuts that give the same entries: an address the
// book holds, byte for byte, is taken from the book, and an address
// whose /p2p/ component the book holds (in an entry of that peer, or in
// a bounded cache of the p2pCacheMax components Decode parsed last) has
// only its transport part parsed. go-multiaddr's parser formats every
// /p2p/ component in base58 to validate it, which was most of the cost
// of decoding an Addrs reply; a component new to the book is parsed
// once, on its own. The returned addresses may be shared with the book
// and must not be modified. It takes the book's lock twice.
func (b *Book) Decode(raw []RawEntry) []Entry {
	out := make([]Entry, len(raw))
	b.mu.Lock()
	for i, r := range raw {
		if it := b.heldLocked(r.Addr); it != nil {
			out[i] = Entry{Addr: it.addr, Peer: it.peer, LastSeen: r.LastSeen}
			continue
		}
		if split, value := lastComponent(r.Addr); split > 0 {
			if pc, ok := b.p2pLocked(r.Addr[value:]); ok {
				out[i] = withP2P(r, split, pc)
			}
		}
	}
	b.mu.Unlock()
	var parsed []p2pComponent
	n := 0
	for i, r := range raw {
		if out[i].Addr == nil {
			split, _ := lastComponent(r.Addr)
			if split == 0 {
				// Not a transport part then /p2p/ (a bare /p2p/, no
				// /p2p/, bad bytes): the parser decides.
				var ok bool
				if out[i], ok = ParseRaw(r); !ok {
					continue
				}
			} else {
				// The /p2p/ component and the transport part parse (and
				// fail) on their own as in the whole address.
				pc, ok := parseP2P(r.Addr[split:])
				if !ok {
					continue
				}
				parsed = append(parsed, pc)
				if out[i] = withP2P(r, split, pc); out[i].Addr == nil {
					continue
				}
			}
		}
		out[n] = out[i]
		n++
	}
	if len(parsed) > 0 {
		b.mu.Lock()
		b.cacheP2PLocked(parsed)
		b.mu.Unlock()
	}
	return out[:n]
}

// heldLocked returns a stored item whose key is addr, or nil; b.mu must
// be held.
func (b *Book) heldLocked(addr []byte) *item {
	for c := range b.lists {
		if it := b.lists[c].byKey[string(addr)]; it != nil {
			return it
		}
	}
	return nil
}

// p2pCacheMax bounds Book.p2p, the /p2p/ components Decode parsed last
// (about 200 bytes each, so at most about 800 KiB per book): more than a
// full greylist of distinct peers, so that the peers a node hears of
// again and again (its network's) stay parsed.
const p2pCacheMax = 4096

// p2pComponent is a parsed /p2p/ component and its peer.
type p2pComponent struct {
	c  ma.Component
	id peer.ID
}

// p2pLocked returns the parsed /p2p/ component of the peer whose ID is
// value (the value of a /p2p/ component of a binary address, as
// lastComponent found it), from an entry of that peer or from the cache.
// A /p2p/ component is its code, the minimal varint of the value's
// length and the value, so one peer has one component. b.mu must be
// held.
func (b *Book) p2pLocked(value []byte) (p2pComponent, bool) {
	if pc, ok := b.p2p[string(value)]; ok {
		return pc, true
	}
	for c := range b.lists {
		if its := b.lists[c].byPeer[peer.ID(value)]; len(its) > 0 {
			a := its[0].addr // newItem: ends in the /p2p/ of its peer
			return p2pComponent{c: a[len(a)-1], id: its[0].peer}, true
		}
	}
	return p2pComponent{}, false
}

// parseP2P parses b, the bytes of one /p2p/ component.
func parseP2P(b []byte) (p2pComponent, bool) {
	m, err := ma.NewMultiaddrBytes(b)
	if err != nil || len(m) != 1 || m[0].Code() != ma.P_P2P {
		return p2pComponent{}, false
	}
	// As peer.SplitAddr: the value is a multihash go-multiaddr validated.
	return p2pComponent{c: m[0], id: peer.ID(m[0].RawValue())}, true
}

// cacheP2PLocked remembers parsed /p2p/ components; when the cache is
// full, arbitrary entries make room. b.mu must be held.
func (b *Book) cacheP2PLocked(parsed []p2pComponent) {
	if b.p2p == nil {
		b.p2p = make(map[string]p2pComponent)
	}
	for _, pc := range parsed {
		if _, ok := b.p2p[string(pc.id)]; ok {
			continue
		}
		for k := range b.p2p {
			if len(b.p2p) < p2pCacheMax {
				break
			}
			delete(b.p2p, k)
		}
		b.p2p[string(pc.id)] = pc
	}
}

// withP2P is ParseRaw for r whose bytes from split on are pc's: only the
// transport part is parsed. An address that ParseRaw would refuse gives
// the zero Entry.
func withP2P(r RawEntry, split int, pc p2pComponent) Entry {
	tr, err := ma.NewMultiaddrBytes(r.Addr[:split])
	if err != nil || len(tr) == 0 || tr[len(tr)-1].Protocol().Path {
		return Entry{}
	}
	return Entry{Addr: slices.Clip(append(tr, pc.c)), Peer: pc.id, LastSeen: r.LastSeen}
}

// lastComponent returns where the last component of the binary address
// b starts and where its value starts, if it is a /p2p/ component after
// at least one other; 0, 0 if not, or if b does not split into
// components.
func lastComponent(b []byte) (split, value int) {
	start, last := 0, 0
	for start < len(b) {
		code, n, err := ma.ReadVarintCode(b[start:])
		if err != nil {
			return 0, 0
		}
		p := ma.ProtocolWithCode(code)
		if p.Code == 0 {
			return 0, 0
		}
		size := 0
		switch {
		case p.Size > 0:
			size = p.Size / 8
		case p.Size < 0:
			s, m, err := ma.ReadVarintCode(b[start+n:])
			if err != nil {
				return 0, 0
			}
			size, n = s, n+m
		}
		if size < 0 || start+n+size > len(b) {
			return 0, 0
		}
		last, start = start, start+n+size
		if code == ma.P_P2P && start == len(b) {
			if last == 0 {
				return 0, 0
			}
			return last, last + n
		}
	}
	return 0, 0
}
