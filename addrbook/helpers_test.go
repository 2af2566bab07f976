package addrbook

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// epoch is the virtual time a test book starts at (see toEpoch): a
// realistic time, so that last_seen values below it are in the past.
var epoch = time.Unix(1_700_000_000, 0)

// testPeer returns a deterministic, valid peer ID (a sha2-256 multihash).
func testPeer(i int) peer.ID {
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], uint64(i))
	sum := sha256.Sum256(seed[:])
	return peer.ID(append([]byte{0x12, 0x20}, sum[:]...))
}

// globalIP4 returns a distinct global IPv4 address for i < 2^24, in
// 11.0.0.0/8 (global). Entries with i in one 65536-block share a /16.
func globalIP4(i int) string {
	return fmt.Sprintf("11.%d.%d.%d", (i>>16)&0xff, (i>>8)&0xff, i&0xff)
}

func mustMA(t testing.TB, s string) ma.Multiaddr {
	t.Helper()
	m, err := ma.NewMultiaddr(s)
	if err != nil {
		t.Fatalf("multiaddr %q: %v", s, err)
	}
	return m
}

// tcpEntry is a dialable TCP entry of peer p at ip.
func tcpEntry(t testing.TB, ip string, p peer.ID, ts time.Time) Entry {
	t.Helper()
	proto := "ip4"
	if strings.Contains(ip, ":") {
		proto = "ip6"
	}
	return Entry{Addr: mustMA(t, fmt.Sprintf("/%s/%s/tcp/4000/p2p/%s", proto, ip, p)), Peer: p, LastSeen: ts}
}

// entryN is the i-th distinct global TCP entry, with its own peer.
func entryN(t testing.TB, i int, ts time.Time) Entry {
	return tcpEntry(t, globalIP4(i), testPeer(i), ts)
}

// newTestBook returns a book at virtual time epoch. Call it inside a
// testing/synctest bubble; the returned vclock moves that time.
func newTestBook(t testing.TB, cfg Config) (*Book, vclock) {
	t.Helper()
	toEpoch(t)
	return New(cfg), vclock{}
}

// toEpoch moves a synctest bubble's virtual time to epoch (a bubble starts
// in 2000) unless it is there or later, failing the test when called
// outside a bubble (real time is years past epoch).
func toEpoch(t testing.TB) {
	t.Helper()
	time.Sleep(time.Until(epoch))
	if now := time.Now(); now.Before(epoch) || now.Sub(epoch) > 365*24*time.Hour {
		t.Fatalf("not in a synctest bubble: time is %s, want %s", time.Now(), epoch)
	}
}

// vclock reads and moves a synctest bubble's virtual time.
type vclock struct{}

func (vclock) Now() time.Time      { return time.Now() }
func (vclock) Add(d time.Duration) { time.Sleep(d) }

// checkInvariants verifies the book's structural invariants.
func checkInvariants(b *Book) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now().Unix()
	for c, l := range b.lists {
		if l.max > 0 && len(l.items) > l.max {
			return fmt.Errorf("%s holds %d > cap %d", Color(c), len(l.items), l.max)
		}
		if len(l.byKey) != len(l.items) {
			return fmt.Errorf("%s: %d keys for %d items", Color(c), len(l.byKey), len(l.items))
		}
		n := 0
		for p, its := range l.byPeer {
			n += len(its)
			for _, it := range its {
				if it.peer != p || l.byKey[it.key] != it {
					return fmt.Errorf("%s: bad peer index for %s", Color(c), it.key)
				}
			}
		}
		if n != len(l.items) {
			return fmt.Errorf("%s: peer index holds %d of %d", Color(c), n, len(l.items))
		}
		if len(l.byGroup) != len(l.groups) {
			return fmt.Errorf("%s: %d groups indexed, %d listed", Color(c), len(l.byGroup), len(l.groups))
		}
		n = 0
		for i, g := range l.groups {
			if g.pos != i || l.byGroup[g.name] != g || len(g.items) == 0 {
				return fmt.Errorf("%s: group %q at %d records %d, %d items", Color(c), g.name, i, g.pos, len(g.items))
			}
			for _, it := range g.items {
				n++
				if it.netgroup() != g.name || Netgroup(it.addr) != g.name || l.byKey[it.key] != it {
					return fmt.Errorf("%s: %s filed in group %q", Color(c), it.key, g.name)
				}
			}
		}
		if n != len(l.items) {
			return fmt.Errorf("%s: group index holds %d of %d", Color(c), n, len(l.items))
		}
		for i, it := range l.items {
			if i > 0 && !before(l.items[i-1], it) {
				return fmt.Errorf("%s: not sorted at %d", Color(c), i)
			}
			if it.ts > now {
				return fmt.Errorf("%s: %s last seen %d after now %d", Color(c), it.key, it.ts, now)
			}
			if it.ts < 0 {
				return fmt.Errorf("%s: %s negative last seen", Color(c), it.key)
			}
		}
	}
	for _, c := range [...]Color{Grey, White, Gold} {
		for p := range b.lists[c].byPeer {
			for _, o := range [...]Color{Grey, White, Gold} {
				if o != c && b.lists[o].hasPeer(p) {
					return fmt.Errorf("peer %s in %s and %s", p, c, o)
				}
			}
		}
	}
	for p := range b.lists[Black].byPeer {
		for _, o := range [...]Color{Grey, White, Gold, Dark} {
			if b.lists[o].hasPeer(p) {
				return fmt.Errorf("banned peer %s in %s", p, o)
			}
		}
	}
	counts := make(map[peer.ID]int)
	for _, it := range b.lists[Grey].items {
		if it.src != "" {
			counts[it.src]++
		}
	}
	if len(counts) != len(b.srcCount) {
		return fmt.Errorf("source counts: %d sources, recount %d", len(b.srcCount), len(counts))
	}
	for s, n := range counts {
		if b.srcCount[s] != n {
			return fmt.Errorf("source %s counted %d, holds %d", s, b.srcCount[s], n)
		}
		if n > b.cfg.SourceQuota {
			return fmt.Errorf("source %s holds %d > quota %d", s, n, b.cfg.SourceQuota)
		}
	}
	for _, c := range [...]Color{White, Gold, Black, Dark} {
		for _, it := range b.lists[c].items {
			if it.src != "" {
				return fmt.Errorf("%s item %s has a source", c, it.key)
			}
		}
	}
	if err := checkBucketsLocked(b); err != nil {
		return err
	}
	if len(b.reg) > RegistryMax {
		return fmt.Errorf("registry holds %d > %d", len(b.reg), RegistryMax)
	}
	return nil
}

func mustInvariants(t testing.TB, b *Book) {
	t.Helper()
	if err := checkInvariants(b); err != nil {
		t.Fatal(err)
	}
}

// checkBucketsLocked verifies the greylist buckets: every Grey item is in
// the bucket its source group and netgroup give, buckets hold only Grey
// items, none is over capacity; without buckets no item has one.
func checkBucketsLocked(b *Book) error {
	grey := b.lists[Grey]
	if b.buckets == nil {
		for _, it := range grey.items {
			if it.bkt != 0 {
				return fmt.Errorf("flat greylist: %s in bucket %d", it.key, it.bkt-1)
			}
		}
		return nil
	}
	n := 0
	for i, m := range b.buckets.members {
		if len(m) > GreyBucketSize {
			return fmt.Errorf("bucket %d holds %d > %d", i, len(m), GreyBucketSize)
		}
		for _, it := range m {
			n++
			if it.bkt != i+1 {
				return fmt.Errorf("%s in bucket %d records %d", it.key, i, it.bkt-1)
			}
			if grey.get(it.key) != it {
				return fmt.Errorf("bucket %d holds %s, not in grey", i, it.key)
			}
			if want := b.buckets.itemBucket(it); want != i {
				return fmt.Errorf("%s in bucket %d, belongs in %d", it.key, i, want)
			}
		}
	}
	if n != grey.len() {
		return fmt.Errorf("buckets hold %d of %d grey items", n, grey.len())
	}
	for _, c := range [...]Color{White, Gold, Black, Dark} {
		for _, it := range b.lists[c].items {
			if it.bkt != 0 || it.srcGroup != "" {
				return fmt.Errorf("%s item %s has a bucket or source group", c, it.key)
			}
		}
	}
	return nil
}
