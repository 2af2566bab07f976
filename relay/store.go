package relay

import "time"

// entry is what the engine knows of one message: kept in the seen set
// until it expires, with its data while it is in the history.
type entry struct {
	id     ID
	short  uint64
	key    string // tree key: topic + "\x00" + origin
	topic  string
	time   uint64    // the message's time, unix ns
	size   int       // data bytes
	dist   int       // links between the origin and us: 0 for our own messages
	from   linkID    // the link it first came on (0: published here)
	seen   time.Time // when it arrived
	expire time.Time // when the seen set forgets it
	valid  bool      // accepted by the validator
	// announced is when it was first announced to us, if it was before
	// it arrived (zero otherwise): a late copy along the tree measures
	// the tree's lag.
	announced time.Time

	// head and body are the message encoded as a Frame with hops = dist
	// (encodeMessage: body is the data), while it is in the history (nil
	// otherwise).
	head, body []byte
	// have lists links known to have the message (they sent, announced,
	// offered it or were asked for it), which it is not announced to.
	have []linkID
	// asked lists the links we asked for it: their copies are answers,
	// not pushes to prune.
	asked []linkID

	inHistory bool
}

func (e *entry) has(l linkID) bool {
	for _, h := range e.have {
		if h == l {
			return true
		}
	}
	return false
}

func (e *entry) wasAsked(l linkID) bool {
	for _, h := range e.asked {
		if h == l {
			return true
		}
	}
	return false
}

// fifo is a queue of entries, oldest first.
type fifo struct {
	items []*entry
	head  int
}

func (q *fifo) push(e *entry) {
	if q.head > 0 && q.head*2 >= len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items = q.items[:n]
		q.head = 0
	}
	q.items = append(q.items, e)
}

func (q *fifo) len() int { return len(q.items) - q.head }

func (q *fifo) front() *entry { return q.items[q.head] }

func (q *fifo) pop() *entry {
	e := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	return e
}

// store is the seen set and the history: every message known, by id
// and short id, in arrival order; the newest valid ones with their data.
type store struct {
	seen  map[ID]*entry
	short map[uint64]*entry
	order fifo // every entry of seen, by arrival
	hist  fifo // entries with data, by arrival

	histBytes          int
	histCount, histMax int
	histBytesMax       int
	histAge            time.Duration
	seenTTL            time.Duration
	seenMax            int
	// floor is the newest message time among entries forgotten before
	// their expiry (the seen set was full): a message not newer than it
	// might be one of them replayed, and is refused as expired.
	floor uint64
}

func newStore(cfg Config) *store {
	return &store{
		seen:         make(map[ID]*entry),
		short:        make(map[uint64]*entry),
		histMax:      cfg.HistoryCount,
		histBytesMax: cfg.HistoryBytes,
		histAge:      cfg.HistoryAge,
		// A message older than HistoryAge is refused as expired, so an id
		// needs remembering only that long after the later of its arrival
		// and its time (at most MaxFutureSkew ahead).
		seenTTL: cfg.HistoryAge + MaxFutureSkew,
		seenMax: max(100000, 2*cfg.HistoryCount),
	}
}

// get returns the entry of id, or nil.
func (s *store) get(id ID) *entry { return s.seen[id] }

// byShort returns the entry whose id starts with short, or nil.
func (s *store) byShort(short uint64) *entry { return s.short[short] }

// add records e (not yet known) and, if keep, keeps it (e.head, e.body) in the
// history. It evicts what the bounds require.
func (s *store) add(e *entry, keep bool, now time.Time) {
	e.seen = now
	e.expire = now.Add(s.seenTTL)
	s.seen[e.id] = e
	if _, taken := s.short[e.short]; !taken {
		s.short[e.short] = e
	}
	s.order.push(e)
	if keep {
		e.inHistory = true
		s.hist.push(e)
		s.histCount++
		s.histBytes += e.size
	}
	s.evict(now)
}

// evict drops history data past the count, byte and age bounds, and
// forgets entries past their expiry or the seen bound.
func (s *store) evict(now time.Time) {
	for s.hist.len() > 0 {
		e := s.hist.front()
		if e.inHistory && s.histCount <= s.histMax && s.histBytes <= s.histBytesMax && now.Sub(e.seen) < s.histAge {
			break
		}
		s.hist.pop()
		s.dropData(e)
	}
	for s.order.len() > 0 {
		e := s.order.front()
		if len(s.seen) <= s.seenMax && now.Before(e.expire) {
			break
		}
		if now.Before(e.expire) {
			s.floor = max(s.floor, e.time)
		}
		s.order.pop()
		s.dropData(e)
		delete(s.seen, e.id)
		if s.short[e.short] == e {
			delete(s.short, e.short)
		}
	}
}

func (s *store) dropData(e *entry) {
	if !e.inHistory {
		return
	}
	e.inHistory = false
	e.head, e.body = nil, nil
	s.histCount--
	s.histBytes -= e.size
}

// recent returns the short ids of the valid messages in the history
// that arrived after since, newest first, at most limit.
func (s *store) recent(since time.Time, limit int) []uint64 {
	var out []uint64
	for i := len(s.hist.items) - 1; i >= s.hist.head && len(out) < limit; i-- {
		e := s.hist.items[i]
		if !e.seen.After(since) {
			break
		}
		if e.inHistory && e.valid {
			out = append(out, e.short)
		}
	}
	return out
}
