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
// refuses, with two shortcuts that give the same entries: an address the
// book holds, byte for byte, is taken from the book, and an address whose
// /p2p/ component the book parsed recently (a bounded cache of
// p2pCacheMax components) has only its transport part parsed.
// go-multiaddr's parser formats every /p2p/ component in base58 to
// validate it, which was most of the cost of decoding an Addrs reply. The
// returned addresses may be shared with the book and must not be
// modified. It takes the book's lock twice.
func (b *Book) Decode(raw []RawEntry) []Entry {
	out := make([]Entry, len(raw))
	b.mu.Lock()
	for i, r := range raw {
		for c := range b.lists {
			if it := b.lists[c].byKey[string(r.Addr)]; it != nil {
				out[i] = Entry{Addr: it.addr, Peer: it.peer, LastSeen: r.LastSeen}
				break
			}
		}
		if out[i].Addr == nil {
			if split := lastComponent(r.Addr); split > 0 {
				if pc, ok := b.p2p[string(r.Addr[split:])]; ok {
					out[i] = withP2P(r, split, pc)
				}
			}
		}
	}
	b.mu.Unlock()
	var parsed []ma.Component
	n := 0
	for i, r := range raw {
		if out[i].Addr == nil {
			var ok bool
			if out[i], ok = ParseRaw(r); !ok {
				continue
			}
			parsed = append(parsed, out[i].Addr[len(out[i].Addr)-1])
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

// p2pCacheMax bounds Book.p2p, the /p2p/ components Decode parsed last
// (about 150 bytes each, so at most about 150 KiB per book).
const p2pCacheMax = 1024

// p2pComponent is a parsed /p2p/ component and its peer.
type p2pComponent struct {
	c  ma.Component
	id peer.ID
}

// cacheP2PLocked remembers the /p2p/ components of parsed addresses
// (their last components, as ParseRaw accepted them); when the cache is
// full, arbitrary entries make room. b.mu must be held.
func (b *Book) cacheP2PLocked(last []ma.Component) {
	if b.p2p == nil {
		b.p2p = make(map[string]p2pComponent)
	}
	for _, c := range last {
		key := string(c.Bytes())
		if _, ok := b.p2p[key]; ok {
			continue
		}
		id, err := peer.IDFromBytes(c.RawValue())
		if err != nil {
			continue
		}
		for k := range b.p2p {
			if len(b.p2p) < p2pCacheMax {
				break
			}
			delete(b.p2p, k)
		}
		b.p2p[key] = p2pComponent{c: c, id: id}
	}
}

// withP2P is ParseRaw for r whose bytes from split on are pc's: only the
// transport part is parsed. An address that ParseRaw would refuse gives
// the zero Entry (and is then parsed in full, and refused).
func withP2P(r RawEntry, split int, pc p2pComponent) Entry {
	tr, err := ma.NewMultiaddrBytes(r.Addr[:split])
	if err != nil || len(tr) == 0 || tr[len(tr)-1].Protocol().Path {
		return Entry{}
	}
	return Entry{Addr: slices.Clip(append(tr, pc.c)), Peer: pc.id, LastSeen: r.LastSeen}
}

// lastComponent returns where the last component of the binary address
// b starts, if it is a /p2p/ component after at least one other; 0 if
// not, or if b does not split into components.
func lastComponent(b []byte) int {
	start, last := 0, 0
	for start < len(b) {
		code, n, err := ma.ReadVarintCode(b[start:])
		if err != nil {
			return 0
		}
		p := ma.ProtocolWithCode(code)
		if p.Code == 0 {
			return 0
		}
		size := 0
		switch {
		case p.Size > 0:
			size = p.Size / 8
		case p.Size < 0:
			s, m, err := ma.ReadVarintCode(b[start+n:])
			if err != nil {
				return 0
			}
			size, n = s, n+m
		}
		if size < 0 || start+n+size > len(b) {
			return 0
		}
		last, start = start, start+n+size
		if code == ma.P_P2P && start == len(b) {
			return last
		}
	}
	return 0
}
