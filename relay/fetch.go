package relay

import (
	"container/heap"
	"time"

	"github.com/dnode-p2p/dnode/relay/pb"
)

// fetchMode says how a missing message is fetched.
type fetchMode uint8

const (
	// fetchLazy: announced in an IHave; it may still come along the tree,
	// so the announcer is grafted (asked and made eager) only after the
	// graft timeout.
	fetchLazy fetchMode = iota
	// fetchNow: offered (a large message): asked at once with IWant.
	fetchNow
	// fetchCatchUp: listed in a Digest: asked at once with IWant; once
	// here it is announced, not pushed.
	fetchCatchUp
)

// source is a link that announced a missing message.
type source struct {
	link linkID
	dist int // its distance from the origin
}

// fetch is a message we know of and lack.
type fetch struct {
	short    uint64
	mode     fetchMode
	size     int      // from an Offer (0 if unknown)
	sources  []source // announcers not asked yet, in arrival order
	asked    []linkID // asked, in order; the last one is being waited for
	askedAt  time.Time
	created  time.Time
	deadline time.Time
}

// maxFetchWait bounds how long one source is waited for while it keeps
// answering other requests (a long catch-up batch).
const maxFetchWait = 2 * time.Minute

func (f *fetch) knows(l linkID) bool {
	for _, s := range f.sources {
		if s.link == l {
			return true
		}
	}
	for _, a := range f.asked {
		if a == l {
			return true
		}
	}
	return false
}

func (f *fetch) wasAsked(l linkID) bool {
	for _, a := range f.asked {
		if a == l {
			return true
		}
	}
	return false
}

// Bounds of the pending fetches.
const (
	maxFetches        = 65536 // in all
	maxFetchesPerLink = 8192  // that one link is a source of
)

// timerKind says what a timer is for.
type timerKind uint8

const (
	timerFlush timerKind = iota // a link's IHave batch
	timerFetch                  // a fetch's deadline
)

// timer is one deadline in the engine's heap. It is stale (and skipped)
// when the thing it names no longer has that deadline.
type timer struct {
	at   time.Time
	kind timerKind
	key  uint64 // link id or short id
}

type timerHeap []timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

func (e *engine) schedule(at time.Time, kind timerKind, key uint64) {
	heap.Push(&e.timers, timer{at: at, kind: kind, key: key})
}

// live reports whether t still names a deadline.
func (e *engine) live(t timer) bool {
	switch t.kind {
	case timerFlush:
		l := e.links[linkID(t.key)]
		return l != nil && l.flushAt.Equal(t.at)
	case timerFetch:
		f := e.fetches[t.key]
		return f != nil && f.deadline.Equal(t.at)
	}
	return false
}

// Deadline returns when Tick must run next; ok is false when nothing
// waits.
func (e *engine) Deadline() (at time.Time, ok bool) {
	for len(e.timers) > 0 {
		if t := e.timers[0]; e.live(t) {
			return t.at, true
		}
		heap.Pop(&e.timers)
	}
	return time.Time{}, false
}

// Tick runs every deadline up to now: IHave batches leave, fetches that
// waited long enough ask their next source.
func (e *engine) Tick(now time.Time) []action {
	for len(e.timers) > 0 && !e.timers[0].at.After(now) {
		t := heap.Pop(&e.timers).(timer)
		if !e.live(t) {
			continue
		}
		switch t.kind {
		case timerFlush:
			e.flush(e.links[linkID(t.key)])
		case timerFetch:
			e.fetchTimeout(e.fetches[t.key], now)
		}
	}
	e.sendAsks()
	e.store.evict(now)
	return e.take()
}

// askBatch is what ask queued for one link: one Graft and one IWant
// frame carry them all.
type askBatch struct{ grafts, iwants []uint64 }

// sendAsks sends the queued asks, one Graft and one IWant per link.
func (e *engine) sendAsks() {
	for id, b := range e.asks {
		delete(e.asks, id)
		l := e.links[id]
		if l == nil {
			continue
		}
		for len(b.grafts) > 0 {
			n := min(len(b.grafts), MaxDigest)
			e.sendFrame(l, &pb.Frame{Body: &pb.Frame_Graft{Graft: &pb.Graft{Fetch: packShorts(b.grafts[:n])}}})
			b.grafts = b.grafts[n:]
		}
		e.sendIWant(l, b.iwants)
	}
}

// want records that link l announced short (at distance dist from the
// origin) in mode, and asks for it at once in the fetchNow and
// fetchCatchUp modes. It returns false when the fetch bounds refuse it.
func (e *engine) want(l *link, short uint64, dist int, mode fetchMode, size int, now time.Time) bool {
	if f := e.fetches[short]; f != nil {
		if !f.knows(l.id) {
			f.sources = append(f.sources, source{link: l.id, dist: dist})
			l.fetches++
		}
		if mode != fetchLazy && f.mode == fetchLazy && len(f.asked) == 0 {
			// Offered or listed after an IHave: no tree will bring it.
			f.mode, f.size = mode, size
			e.ask(f, now)
		}
		return true
	}
	if len(e.fetches) >= maxFetches || l.fetches >= maxFetchesPerLink {
		e.stats.drop(dropUnknown)
		return false
	}
	f := &fetch{short: short, mode: mode, size: size, sources: []source{{link: l.id, dist: dist}}, created: now}
	l.fetches++
	e.fetches[short] = f
	if mode == fetchLazy {
		f.deadline = now.Add(e.graftTimeout(l))
		e.schedule(f.deadline, timerFetch, short)
		return true
	}
	if mode == fetchNow {
		e.ask(f, now)
	}
	// fetchCatchUp: the caller asks for the whole digest in one IWant.
	return true
}

// ask asks f's next source for it: Graft (lazy mode) or IWant, queued
// for sendAsks. With no source left the fetch is given up.
func (e *engine) ask(f *fetch, now time.Time) {
	for len(f.sources) > 0 {
		s := f.sources[0]
		f.sources = f.sources[1:]
		l := e.links[s.link]
		if l == nil {
			continue
		}
		l.fetches--
		f.asked = append(f.asked, s.link)
		b := e.asks[l.id]
		if b == nil {
			b = &askBatch{}
			e.asks[l.id] = b
		}
		if f.mode == fetchLazy {
			b.grafts = append(b.grafts, f.short)
			e.stats.grafts++
		} else {
			b.iwants = append(b.iwants, f.short)
		}
		e.stats.fetches++
		f.askedAt = now
		f.deadline = now.Add(l.fetchTimeout(f.size))
		e.schedule(f.deadline, timerFetch, f.short)
		return
	}
	e.dropFetch(f)
	e.dropped(dropUnknown, nil)
}

// fetchTimeout handles a fetch whose deadline passed. A source that
// answered other requests within the last graft timeout is still busy
// answering (a catch-up batch): it gets more time, up to maxFetchWait.
// Otherwise the link asked last did not answer (a miss), and the next
// source is asked.
func (e *engine) fetchTimeout(f *fetch, now time.Time) {
	if n := len(f.asked); n > 0 {
		if l := e.links[f.asked[n-1]]; l != nil {
			if wait := l.graftTimeout(); now.Sub(l.answeredAt) < wait && now.Sub(f.askedAt) < maxFetchWait {
				f.deadline = now.Add(wait)
				e.schedule(f.deadline, timerFetch, f.short)
				return
			}
			if err := l.miss(&e.cfg, now); err != nil {
				e.violation(l, err)
			}
		}
	}
	e.ask(f, now)
}

// dropFetch forgets f.
func (e *engine) dropFetch(f *fetch) {
	for _, s := range f.sources {
		if l := e.links[s.link]; l != nil {
			l.fetches--
		}
	}
	f.sources = nil
	delete(e.fetches, f.short)
}

// graftTimeout is how long an announced message may take to come along
// the tree: the link's RTT-based timeout, or twice the recent tree lag
// (how much later than an announcement messages have been arriving along
// the tree) when that is longer, at most maxGraftTimeout. Under load the
// tree's paths queue, and a timeout that does not follow grafts links
// whose copies then arrive twice.
func (e *engine) graftTimeout(l *link) time.Duration {
	return min(max(l.graftTimeout(), 2*e.lag), maxGraftTimeout)
}

// sampleLag records that a message arrived along the tree lag after its
// first announcement (an exponentially weighted mean, weight 1/8).
func (e *engine) sampleLag(lag time.Duration) {
	e.lag += (lag - e.lag) / 8
}
