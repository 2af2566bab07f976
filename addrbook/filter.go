package addrbook

import (
	"maps"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Reasons counted in InsertStats.Filtered.
const (
	ReasonInvalid = "invalid"  // no trailing /p2p/<id>, peer mismatch, or not canonical
	ReasonSelf    = "self"     // our own peer ID
	ReasonSeed    = "seed"     // a configured seed
	ReasonManual  = "manual"   // a manual peer
	ReasonOwnAddr = "own_addr" // host, port and transport of one of our addresses
	ReasonLocal   = "local"    // non-global IP or localhost name (not Localnet)
	ReasonRefused = "refused"  // Config.Node.Refused said so
	ReasonBlack   = "black"    // the peer is in the Black list
	ReasonKnown   = "known"    // already in Grey, White or Gold, or the peer is in White or Gold
	ReasonBusy    = "busy"     // the peer is held in the Insert or Move state
)

// InsertStats are Insert's counters since New.
type InsertStats struct {
	Inserted     uint64            // entries stored in Grey
	Dark         uint64            // entries stored or refreshed in Dark (undialable)
	Filtered     map[string]uint64 // dropped entries by reason
	QuotaDropped uint64            // dropped because their source was over its quota
	Clamped      uint64            // last_seen in the future, clamped to now

	// Greylist buckets (also counted for entries loaded or moved to Grey).
	BucketEvicted uint64 // evicted from a full bucket by a newer entry
	BucketDropped uint64 // not stored: their bucket was full of newer entries
}

// Stats returns a copy of the insert counters.
func (b *Book) Stats() InsertStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.stats
	s.Filtered = maps.Clone(b.stats.Filtered)
	return s
}

// OnStore registers f, called with the number of entries an Insert stored
// in Grey whenever that is positive. Hooks run after Insert has released
// the book's lock, on the inserting goroutine; they may call the Book.
func (b *Book) OnStore(f func(n int)) {
	if f == nil {
		return
	}
	b.hookMu.Lock()
	b.hooks = append(b.hooks, f)
	b.hookMu.Unlock()
}

// candidate is an entry after the lock-free part of the filter.
type candidate struct {
	it       *item
	reason   string
	dialable bool
}

// Insert files entries received from source (a peer, or "" for a local
// source, which has no quota) and returns how many it stored in Grey. The
// filter, in order: invalid address, our peer ID, seeds, manual peers, our
// own addresses, non-global hosts (unless Localnet), Refused, banned
// peers. Undialable survivors are stored in Dark (refreshed: entries
// older than DarkMaxAge are dropped); dialable ones are removed from Dark
// and then dropped if already known (no last_seen update), if the peer is
// in White or Gold, if the peer is held in Insert or Move, or if source
// has SourceQuota entries in Grey already. The rest are stored in Grey
// under the peer's Insert state, as DarkFi does, in the bucket of the
// source's netgroup and their own (unless the greylist is flat): an entry
// whose bucket is full evicts the bucket's oldest entry, or is dropped if
// it is older than all of them. A last_seen in the future is clamped to
// now.
func (b *Book) Insert(source peer.ID, entries []Entry) int {
	if len(entries) == 0 {
		return 0
	}
	now := b.nowUnix()
	// Callbacks run outside the lock.
	own, manual := b.filterSets()
	srcGroup := b.sourceGroup(source)
	cands := make([]candidate, 0, len(entries))
	clamped := 0
	for _, e := range entries {
		c := b.classify(e, now, own, manual)
		if c.it != nil && c.it.ts < e.LastSeen.Unix() {
			clamped++
		}
		cands = append(cands, c)
	}

	b.mu.Lock()
	b.stats.Clamped += uint64(clamped)
	stored, darkStored := 0, false
	for _, c := range cands {
		if c.reason == "" && b.lists[Black].hasPeer(c.it.peer) {
			c.reason = ReasonBlack
		}
		if c.reason != "" {
			b.stats.Filtered[c.reason]++
			continue
		}
		it := c.it
		if !c.dialable {
			if old := b.removeLocked(Dark, it.key); old != nil && old.ts > it.ts {
				it.ts = old.ts
			}
			b.addLocked(Dark, it)
			b.stats.Dark++
			darkStored = true
			continue
		}
		b.removeLocked(Dark, it.key)
		if b.insertGreyLocked(source, srcGroup, it) {
			stored++
		}
	}
	if darkStored {
		b.refreshDarkLocked(now)
	}
	b.stats.Inserted += uint64(stored)
	b.mu.Unlock()

	if stored > 0 {
		b.hookMu.Lock()
		hooks := slices.Clone(b.hooks)
		b.hookMu.Unlock()
		for _, f := range hooks {
			f(stored)
		}
	}
	return stored
}

// insertGreyLocked applies the list and registry part of the filter to a
// dialable entry and stores it in Grey, in the bucket of srcGroup. It
// reports whether the entry is in Grey afterwards.
func (b *Book) insertGreyLocked(source peer.ID, srcGroup string, it *item) bool {
	p := it.peer
	if b.lists[Grey].get(it.key) != nil || b.lists[White].hasPeer(p) || b.lists[Gold].hasPeer(p) {
		b.stats.Filtered[ReasonKnown]++
		return false
	}
	prev := b.reg[p]
	st := b.stateLocked(p)
	if st == Insert || st == Move {
		b.stats.Filtered[ReasonBusy]++
		return false
	}
	if source != "" && b.srcCount[source] >= b.cfg.SourceQuota {
		b.stats.QuotaDropped++
		return false
	}
	// DarkFi holds the Insert state while storing. Only a Free host takes
	// it; a host in another state (an inbound Connected peer advertising
	// its listen address, a Suspended grey host) keeps its state, since
	// the registry is keyed by peer rather than by URL as in DarkFi. The
	// previous record is restored afterwards, so inserts do not grow the
	// registry.
	if st == Free {
		b.setStateLocked(p, Insert)
	}
	it.src, it.srcGroup = source, srcGroup
	b.addLocked(Grey, it)
	if st == Free {
		if prev != nil {
			b.reg[p] = prev
		} else {
			delete(b.reg, p)
		}
	}
	return b.lists[Grey].get(it.key) == it
}

// filterSets calls the Node's OwnAddrs and ManualPeers (without the lock) and returns
// our own endpoints and the manual peers, for classify.
func (b *Book) filterSets() (own map[endpoint]struct{}, manual map[peer.ID]struct{}) {
	own = make(map[endpoint]struct{})
	if b.cfg.Node != nil {
		for _, a := range b.cfg.Node.OwnAddrs() {
			if a != nil && Transport(a) != TransportCircuit {
				own[endpointKey(stripP2P(a))] = struct{}{}
			}
		}
	}
	manual = make(map[peer.ID]struct{})
	if b.cfg.Node != nil {
		for _, p := range b.cfg.Node.ManualPeers() {
			manual[p] = struct{}{}
		}
	}
	return own, manual
}

// classify runs the part of the filter that needs no lock (and calls the
// Refused and Dialable callbacks). It returns the item to store (with
// its LastSeen clamped) or a reason to drop it.
func (b *Book) classify(e Entry, now int64, own map[endpoint]struct{}, manual map[peer.ID]struct{}) candidate {
	it, ok := newItem(e.Addr, e.Peer)
	if !ok {
		return candidate{reason: ReasonInvalid}
	}
	it.ts = clampTS(e.LastSeen.Unix(), now)
	tr := stripP2P(it.addr)
	p := it.peer
	c := candidate{it: it}
	switch {
	case p == b.cfg.Self:
		c.reason = ReasonSelf
	case b.isSeed(p):
		c.reason = ReasonSeed
	case has(manual, p):
		c.reason = ReasonManual
	case len(own) > 0 && Transport(tr) != TransportCircuit && has(own, endpointKey(tr)):
		// (A circuit's endpoint is its relay's, shared by every peer the
		// relay serves; our own circuit addresses carry our ID: ReasonSelf.)
		c.reason = ReasonOwnAddr
	case !b.cfg.Localnet && isLocal(tr):
		c.reason = ReasonLocal
	case b.cfg.Node != nil && b.cfg.Node.Refused(p, it.addr):
		c.reason = ReasonRefused
	default:
		c.dialable = b.cfg.Dialer.Dialable(it.addr)
	}
	return c
}

func (b *Book) isSeed(p peer.ID) bool {
	b.seedMu.RLock()
	defer b.seedMu.RUnlock()
	return has(b.seeds, p)
}

func has[K comparable](m map[K]struct{}, k K) bool {
	_, ok := m[k]
	return ok
}

// clampTS clamps a unix time to [0, now].
func clampTS(ts, now int64) int64 {
	return max(0, min(ts, now))
}
