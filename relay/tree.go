package relay

import "time"

// tree is one node's part of the broadcast tree of one (topic, origin):
// its eager links, on which the origin's messages are pushed. Every
// other link is lazy for the tree and gets announcements.
type tree struct {
	eager map[linkID]struct{}
	used  time.Time
}

// maxTrees bounds the trees kept; the least recently used go first, and
// an origin whose tree was forgotten floods its next message once.
const maxTrees = 16384

func treeKey(topic, origin string) string { return topic + "\x00" + origin }

// tree returns the tree of key, creating an empty one when absent
// (created reports it: the caller fills its eager links).
func (e *engine) tree(key string, now time.Time) (t *tree, created bool) {
	t = e.treeMap[key]
	if t == nil {
		if len(e.treeMap) >= maxTrees {
			e.evictTrees()
		}
		t = &tree{eager: make(map[linkID]struct{})}
		e.treeMap[key] = t
		created = true
	}
	t.used = now
	return t, created
}

// evictTrees forgets the least recently used eighth of the trees.
func (e *engine) evictTrees() {
	var oldest []time.Time
	for _, t := range e.treeMap {
		oldest = append(oldest, t.used)
	}
	// The cut is the maxTrees/8-th oldest use time (a partial selection
	// would do; this runs once per maxTrees/8 new trees).
	cut := nthSmallest(oldest, maxTrees/8)
	for k, t := range e.treeMap {
		if !t.used.After(cut) {
			delete(e.treeMap, k)
		}
	}
}

func nthSmallest(ts []time.Time, n int) time.Time {
	// Quickselect.
	lo, hi := 0, len(ts)-1
	n = min(max(n, 0), len(ts)-1)
	for lo < hi {
		p := ts[(lo+hi)/2]
		i, j := lo, hi
		for i <= j {
			for ts[i].Before(p) {
				i++
			}
			for p.Before(ts[j]) {
				j--
			}
			if i <= j {
				ts[i], ts[j] = ts[j], ts[i]
				i++
				j--
			}
		}
		switch {
		case n <= j:
			hi = j
		case n >= i:
			lo = i
		default:
			return ts[n]
		}
	}
	return ts[n]
}
