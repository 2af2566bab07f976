package addrbook

import (
	"slices"
	"sort"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// item is one stored entry.
type item struct {
	addr ma.Multiaddr
	peer peer.ID
	key  string  // addr.Bytes(), as a string
	ts   int64   // last seen, unix seconds
	src  peer.ID // the source it counts against (Grey only; "" for none)

	srcGroup string // the source's group for the buckets (Grey only; "" for none)
	bkt      int    // greylist bucket index + 1; 0: in no bucket

	group   string // Netgroup(addr), set when first stored
	grouped bool
	tport   string // Transport(addr), set when first asked
	tported bool

	sel uint64 // the mark of the last Select that chose it (Book.selMark)
}

// transport returns Transport(it.addr), computed once.
func (it *item) transport() string {
	if !it.tported {
		it.tport, it.tported = Transport(it.addr), true
	}
	return it.tport
}

// netgroup returns Netgroup(it.addr), computed once.
func (it *item) netgroup() string {
	if !it.grouped {
		it.group, it.grouped = Netgroup(it.addr), true
	}
	return it.group
}

func (it *item) entry() Entry {
	return Entry{Addr: it.addr, Peer: it.peer, LastSeen: time.Unix(it.ts, 0)}
}

// before is the list order: newest first, then by key, so that the order
// (and which entry a cap evicts) is total and deterministic.
func before(a, b *item) bool {
	if a.ts != b.ts {
		return a.ts > b.ts
	}
	return a.key < b.key
}

// hostList is one coloured list: a slice sorted by before, with indexes by
// key, by peer and by netgroup. It is not safe for concurrent use; the
// Book's mutex guards it.
type hostList struct {
	max     int // 0: unbounded
	items   []*item
	byKey   map[string]*item
	byPeer  map[peer.ID][]*item
	byGroup map[string]*groupItems
	groups  []*groupItems // the non-empty groups, in no particular order
}

// groupItems are the items of one netgroup and the group's index in
// hostList.groups.
type groupItems struct {
	name  string
	items []*item
	pos   int
}

func newHostList(max int) *hostList {
	return &hostList{max: max, byKey: make(map[string]*item), byPeer: make(map[peer.ID][]*item),
		byGroup: make(map[string]*groupItems)}
}

func (l *hostList) len() int                    { return len(l.items) }
func (l *hostList) get(key string) *item        { return l.byKey[key] }
func (l *hostList) hasPeer(p peer.ID) bool      { return len(l.byPeer[p]) > 0 }
func (l *hostList) peerItems(p peer.ID) []*item { return slices.Clone(l.byPeer[p]) }

// pos returns the index it has, or would have, in the list.
func (l *hostList) pos(it *item) int {
	return sort.Search(len(l.items), func(i int) bool { return !before(l.items[i], it) })
}

// add stores it, whose key must be absent, and trims the list to its cap.
// It returns the evicted items, which may include it.
func (l *hostList) add(it *item) (evicted []*item) {
	i := l.pos(it)
	if l.max > 0 && i >= l.max {
		return []*item{it} // full, and older than every entry: evicted at once
	}
	l.items = slices.Insert(l.items, i, it)
	l.byKey[it.key] = it
	l.byPeer[it.peer] = append(l.byPeer[it.peer], it)
	g := l.byGroup[it.netgroup()]
	if g == nil {
		g = &groupItems{name: it.netgroup(), pos: len(l.groups)}
		l.byGroup[g.name] = g
		l.groups = append(l.groups, g)
	}
	g.items = append(g.items, it)
	for l.max > 0 && len(l.items) > l.max {
		last := l.items[len(l.items)-1]
		l.items[len(l.items)-1] = nil
		l.items = l.items[:len(l.items)-1]
		l.unindex(last)
		evicted = append(evicted, last)
	}
	return evicted
}

// remove deletes the item with key and returns it, or nil.
func (l *hostList) remove(key string) *item {
	it := l.byKey[key]
	if it == nil {
		return nil
	}
	i := l.pos(it)
	if i >= len(l.items) || l.items[i] != it {
		// Unreachable while the order invariant holds; fall back to a scan.
		i = slices.Index(l.items, it)
	}
	l.items = slices.Delete(l.items, i, i+1)
	l.unindex(it)
	return it
}

func (l *hostList) unindex(it *item) {
	delete(l.byKey, it.key)
	ps := l.byPeer[it.peer]
	if j := slices.Index(ps, it); j >= 0 {
		ps = slices.Delete(ps, j, j+1)
	}
	if len(ps) == 0 {
		delete(l.byPeer, it.peer)
	} else {
		l.byPeer[it.peer] = ps
	}
	g := l.byGroup[it.netgroup()]
	if g == nil {
		return
	}
	if j := slices.Index(g.items, it); j >= 0 {
		g.items = slices.Delete(g.items, j, j+1)
	}
	if len(g.items) == 0 {
		last := l.groups[len(l.groups)-1]
		l.groups[g.pos], last.pos = last, g.pos
		l.groups[len(l.groups)-1] = nil
		l.groups = l.groups[:len(l.groups)-1]
		delete(l.byGroup, g.name)
	}
}

// removePeer deletes and returns every item of p.
func (l *hostList) removePeer(p peer.ID) []*item {
	its := l.peerItems(p)
	for _, it := range its {
		l.remove(it.key)
	}
	return its
}

// trimOlder deletes the items older than cutoff (unix seconds) and
// returns them.
func (l *hostList) trimOlder(cutoff int64) []*item {
	i := sort.Search(len(l.items), func(i int) bool { return l.items[i].ts < cutoff })
	old := slices.Clone(l.items[i:])
	for _, it := range old {
		l.remove(it.key)
	}
	return old
}

// entries returns the list as entries, newest first.
func (l *hostList) entries() []Entry {
	out := make([]Entry, len(l.items))
	for i, it := range l.items {
		out[i] = it.entry()
	}
	return out
}
