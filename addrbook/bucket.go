package addrbook

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	mrand "math/rand/v2"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Greylist buckets: Bitcoin Core's new table (addrman), scaled to GreyMax.
// An entry's bucket is chosen by a per-book secret, the netgroup of the
// source it came from and its own netgroup, so that the sources of one
// netgroup reach at most SourceBuckets of the GreyBuckets buckets. An
// insert into a full bucket evicts within that bucket only.
const (
	// GreyBuckets is the number of greylist buckets.
	GreyBuckets = 80
	// GreyBucketSize is the capacity of one bucket. GreyBuckets ×
	// GreyBucketSize is GreyMax, so the greylist's own cap never evicts
	// across buckets.
	GreyBucketSize = GreyMax / GreyBuckets
	// SourceBuckets is how many buckets the sources of one netgroup can
	// reach (Bitcoin Core: 64 of 1024; here 4 of 80, so 100 entries, 5 %
	// of the greylist).
	SourceBuckets = 4
)

// Source groups that are not netgroups.
const (
	srcGroupPeer    = "peer:"   // prefix: Config.Node is nil, each source peer is its own group
	srcGroupUnknown = "unknown" // Config.Node knows no address for the source
)

// secretSize is the length of the bucket secret.
const secretSize = 32

// greyBuckets is the bucket layer over the Grey list: every Grey item is
// in exactly one bucket. The Book's mutex guards it.
type greyBuckets struct {
	secret  [secretSize]byte
	members [GreyBuckets][]*item
	// memo holds bucketIndex results by (source group, address group):
	// two SHA-256 sums were a third of an insert's cost, and the entries
	// of one reply share few groups. Cleared when it reaches memoMax.
	memo map[groupPair]int
}

// groupPair keys greyBuckets.memo.
type groupPair struct{ src, addr string }

// memoMax bounds greyBuckets.memo (about 100 bytes an entry).
const memoMax = 1024

// newGreyBuckets draws the secret from rng when it is set (tests and
// simulations: the layout is then as predictable as rng), from
// crypto/rand otherwise. The secret lives only in memory: every Book,
// and so every run of a node, has a new one.
func newGreyBuckets(rng *mrand.Rand) *greyBuckets {
	g := &greyBuckets{}
	if rng != nil {
		for i := 0; i < secretSize; i += 8 {
			binary.LittleEndian.PutUint64(g.secret[i:], rng.Uint64())
		}
	} else {
		rand.Read(g.secret[:]) // never fails (crypto/rand panics rather)
	}
	return g
}

// bucketIndex is the bucket of an entry of netgroup addrGroup received
// from a source of netgroup srcGroup:
//
//	inner  = H(secret, "i", addrGroup, srcGroup) mod SourceBuckets
//	bucket = H(secret, "b", srcGroup, inner) mod GreyBuckets
//
// with H the first 8 bytes of SHA-256 over length-prefixed fields (Bitcoin
// Core's GetNewBucket has the same shape). A source group therefore
// reaches at most SourceBuckets buckets whatever addresses it sends, and
// one address group from one source group lands in one bucket.
func bucketIndex(secret *[secretSize]byte, srcGroup, addrGroup string) int {
	inner := keyedHash(secret, 'i', addrGroup, srcGroup) % SourceBuckets
	var ib [8]byte
	binary.BigEndian.PutUint64(ib[:], inner)
	return int(keyedHash(secret, 'b', srcGroup, string(ib[:])) % GreyBuckets)
}

func keyedHash(secret *[secretSize]byte, tag byte, a, b string) uint64 {
	var stack [128]byte
	buf := append(stack[:0], secret[:]...)
	buf = append(buf, tag)
	buf = binary.AppendUvarint(buf, uint64(len(a)))
	buf = append(buf, a...)
	buf = binary.AppendUvarint(buf, uint64(len(b)))
	buf = append(buf, b...)
	sum := sha256.Sum256(buf)
	return binary.BigEndian.Uint64(sum[:8])
}

// itemBucket is the bucket of it: keyed by its source group, or, for an
// entry without one (loaded from the hostlist file, inserted by a local
// source, or moved back to Grey after we dialed it), by its own netgroup
// as its source, so that such entries of one netgroup share one bucket.
func (g *greyBuckets) itemBucket(it *item) int {
	ag := it.netgroup()
	sg := it.srcGroup
	if sg == "" {
		sg = ag
	}
	k := groupPair{sg, ag}
	if i, ok := g.memo[k]; ok {
		return i
	}
	if g.memo == nil || len(g.memo) >= memoMax {
		g.memo = make(map[groupPair]int)
	}
	i := bucketIndex(&g.secret, sg, ag)
	g.memo[k] = i
	return i
}

// oldest returns the member of bucket i that the list order puts last.
func (g *greyBuckets) oldest(i int) *item {
	var last *item
	for _, it := range g.members[i] {
		if last == nil || before(last, it) {
			last = it
		}
	}
	return last
}

func (g *greyBuckets) add(i int, it *item) {
	it.bkt = i + 1
	g.members[i] = append(g.members[i], it)
}

// remove takes it out of its bucket, if it is in one.
func (g *greyBuckets) remove(it *item) {
	if it.bkt == 0 {
		return
	}
	i := it.bkt - 1
	m := g.members[i]
	for j, o := range m {
		if o == it {
			m[j] = m[len(m)-1]
			m[len(m)-1] = nil
			g.members[i] = m[:len(m)-1]
			break
		}
	}
	it.bkt = 0
}

// admitGreyLocked makes room for it in its bucket: when the bucket is
// full, its oldest member is evicted if it is older than it; otherwise
// it is refused. It reports whether it may be stored, and files it in
// its bucket if so.
func (b *Book) admitGreyLocked(it *item) bool {
	g := b.buckets
	i := g.itemBucket(it)
	if len(g.members[i]) >= GreyBucketSize {
		old := g.oldest(i)
		if !before(it, old) {
			b.stats.BucketDropped++
			return false
		}
		b.removeLocked(Grey, old.key)
		b.stats.BucketEvicted++
	}
	g.add(i, it)
	return true
}

// randomBucketedLocked picks like Bitcoin Core's Select: a random
// non-empty bucket, then a random member of it, so that a source group
// that filled its buckets is picked about as often as one bucket per
// bucket it holds, not once per entry. Buckets whose members all fail ok
// are passed over.
func (b *Book) randomBucketedLocked(ok func(*item) bool) *item {
	g := b.buckets
	for _, i := range b.rng.Perm(GreyBuckets) {
		m := g.members[i]
		if len(m) == 0 {
			continue
		}
		if it := m[b.randN(len(m))]; ok(it) {
			return it
		}
		for _, j := range b.rng.Perm(len(m)) {
			if ok(m[j]) {
				return m[j]
			}
		}
	}
	return nil
}

// sourceGroup returns the group that entries from source count against
// in the bucket layer: "" for a local source (the entries' own netgroups
// are used), the netgroup of the source's address from Config.Node.SourceAddr,
// "unknown" when it has none, or the peer itself when Config.Node is nil.
// It calls SourceAddr, so it must run without the book's lock.
func (b *Book) sourceGroup(source peer.ID) string {
	switch {
	case source == "" || b.buckets == nil:
		return ""
	case b.cfg.Node == nil:
		return srcGroupPeer + string(source)
	}
	a := b.cfg.Node.SourceAddr(source)
	if a == nil {
		return srcGroupUnknown
	}
	if g := Netgroup(a); g != "" {
		return g
	}
	return srcGroupUnknown
}
