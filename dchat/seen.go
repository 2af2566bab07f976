package dchat

import "time"

// msgID is a message id.
type msgID [16]byte

// seenCache remembers message ids until their expiry, holding at most max
// of them. Ids sit in a map (id → expiry and insertion number) and in an
// insertion-ordered queue; the queue's front is evicted when the queue
// exceeds max or the front has expired. Expired entries elsewhere are
// removed lazily, when looked up. It is not safe for concurrent use: the
// Chat's mutex guards it.
type seenCache struct {
	max     int
	entries map[msgID]seenEntry
	queue   []seenItem // insertion order; live part is queue[head:]
	head    int
	seq     uint64
}

type seenEntry struct {
	expiry time.Time
	seq    uint64
}

type seenItem struct {
	id  msgID
	seq uint64
}

func newSeenCache(max int) *seenCache {
	return &seenCache{max: max, entries: make(map[msgID]seenEntry)}
}

// contains reports whether id is remembered and not expired at now.
func (c *seenCache) contains(id msgID, now time.Time) bool {
	e, ok := c.entries[id]
	if !ok {
		return false
	}
	if !now.Before(e.expiry) {
		delete(c.entries, id) // its queue item is discarded when it reaches the front
		return false
	}
	return true
}

// add remembers id until expiry, evicting expired entries at the front of
// the queue and the oldest entries beyond max.
func (c *seenCache) add(id msgID, expiry, now time.Time) {
	c.seq++
	c.entries[id] = seenEntry{expiry: expiry, seq: c.seq}
	c.queue = append(c.queue, seenItem{id: id, seq: c.seq})
	for c.len() > c.max || (c.len() > 0 && c.frontExpired(now)) {
		c.pop()
	}
	// Reclaim the popped prefix once it is half the slice.
	if c.head > 0 && c.head >= len(c.queue)/2 {
		n := copy(c.queue, c.queue[c.head:])
		clear(c.queue[n:])
		c.queue = c.queue[:n]
		c.head = 0
	}
}

// len returns the number of queued ids (an upper bound of live entries).
func (c *seenCache) len() int { return len(c.queue) - c.head }

// size returns the number of entries in the map, for tests.
func (c *seenCache) size() int { return len(c.entries) }

func (c *seenCache) frontExpired(now time.Time) bool {
	it := c.queue[c.head]
	e, ok := c.entries[it.id]
	return !ok || e.seq != it.seq || !now.Before(e.expiry)
}

// pop removes the front of the queue and its map entry, unless the id was
// added again since (a newer insertion number).
func (c *seenCache) pop() {
	it := c.queue[c.head]
	c.queue[c.head] = seenItem{}
	c.head++
	if e, ok := c.entries[it.id]; ok && e.seq == it.seq {
		delete(c.entries, it.id)
	}
}
